"""Kill a real bot process in the middle of a digest, restart it, and count what the channel got.

The platform is a file the worker appends each accepted message to. The worker hangs right after
the third paper reached the platform and before the ledger recorded it, the worst moment, and is
SIGKILLed there. The restarted bot must settle every leftover intent and finish the digest:
nothing lost (each matched paper ends posted, or explicitly 'uncertain' when the platform cannot
tell), nothing posted twice.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from paperbot.models import ChannelKey
from paperbot.search import SearchIndex
from paperbot.service import Paperbot
from paperbot.store.store import Store
from paperbot.testing import FakeSource, FixedClock, make_paper

WORKER = Path(__file__).with_name("crash_worker.py")
KEY = ChannelKey("file", "team", "papers")
SLOT = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)  # Friday 09:00 in Berlin
PAPERS = [f"2611.{n:05d}" for n in range(1, 7)]


async def prepare(db_url: str) -> None:
    """A channel subscribed yesterday, with six matching papers waiting for today's digest."""
    clock = FixedClock(SLOT - timedelta(hours=20))
    store = Store.open(db_url, clock=clock)
    search = SearchIndex.open(None)
    try:
        bot = Paperbot(store, search, clock=clock)
        await bot.subscribe(KEY, "diffusion", "U1")
        await bot.update_settings(KEY, timezone="Europe/Berlin", digest_hour=9)
        papers = [
            make_paper(f"Diffusion {n}", "Diffusion.", arxiv_id=i) for n, i in enumerate(PAPERS)
        ]
        bot.sources = [FakeSource("arxiv", {date(2026, 11, 20): papers})]
        clock.now = SLOT - timedelta(hours=1)
        report = await bot.ingest_day(date(2026, 11, 20))
        assert report.matched == len(PAPERS)
    finally:
        search.close()
        store.close()


def worker(*args: str) -> list[str]:
    return [sys.executable, str(WORKER), *args]


def platform_lines(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line]


def kill_after_items(proc: subprocess.Popen[bytes], platform: Path, items: int) -> None:
    deadline = time.monotonic() + 90
    while sum(1 for line in platform_lines(platform) if line["kind"] == "item") < items:
        if proc.poll() is not None:
            raise AssertionError(
                f"worker exited early: {proc.stderr.read() if proc.stderr else ''}"
            )
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError("worker never reached the third paper")
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL


def ledger(db_url: str) -> dict[str, tuple[str, str | None]]:
    store = Store.open(db_url)
    try:
        return {e.paper_id: (e.state, e.message_id) for e in store.ledger(KEY)}
    finally:
        store.close()


@pytest.mark.parametrize("platform_can_tell", [True, False], ids=["history", "blind"])
async def test_a_bot_killed_mid_digest_loses_and_doubles_nothing(
    db_url: str, tmp_path: Path, platform_can_tell: bool
) -> None:
    await prepare(db_url)
    platform = tmp_path / "channel.jsonl"
    started = SLOT + timedelta(minutes=1)
    proc = subprocess.Popen(
        worker("deliver", db_url, str(platform), started.isoformat(), "3"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    kill_after_items(proc, platform, 3)

    # What the crash left: two papers recorded, the third sent but unrecorded, three unsent.
    crashed = ledger(db_url)
    assert sorted(state for state, _ in crashed.values()) == ["pending"] * 4 + ["posted"] * 2
    sent_before_crash = [
        line["paper"] for line in platform_lines(platform) if line["kind"] == "item"
    ]
    assert len(sent_before_crash) == 3

    # Restart a minute later: the dead process's lease has not lapsed yet, but it is gone.
    restarted = SLOT + timedelta(minutes=2)
    args = ["restart", db_url, str(platform), restarted.isoformat()]
    result = subprocess.run(
        worker(*args, *([] if platform_can_tell else ["blind"])),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr

    lines = platform_lines(platform)
    items = [line["paper"] for line in lines if line["kind"] == "item"]
    assert len(items) == len(set(items)), f"a paper was posted twice: {items}"
    final = ledger(db_url)
    assert set(final) == set(PAPERS)
    if platform_can_tell:
        assert sorted(items) == PAPERS  # nothing lost
        assert {state for state, _ in final.values()} == {"posted"}
        by_paper = {line["paper"]: line["id"] for line in lines if line["kind"] == "item"}
        assert {paper: message for paper, (_, message) in final.items()} == by_paper
        # Issue 11 item 3: the rest went under the same header and into its thread, and the
        # header's list was edited to what the thread holds; the channel was told it resumed.
        [header] = [line for line in lines if line["kind"] == "header"]
        assert {line["thread"] for line in lines if line["kind"] == "item"} == {header["id"]}
        edits = [line for line in lines if line["kind"] == "edit"]
        assert edits and edits[-1]["header"] == header["id"]
        assert edits[-1]["papers"].split(",") == items
        assert any("Resumed" in line.get("text", "") for line in lines if line["kind"] == "reply")
    else:
        # Nothing is resent blindly: what might have gone out is marked for a person to check.
        assert items == sent_before_crash
        assert {p for p, (s, _) in final.items() if s == "posted"} == set(sent_before_crash[:2])
        assert {p for p, (s, _) in final.items() if s == "uncertain"} == (
            set(PAPERS) - set(sent_before_crash[:2])
        )
