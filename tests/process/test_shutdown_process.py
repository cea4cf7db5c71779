"""SIGTERM to the real `paperbot run` process shortly before a digest hour (issue 17): it exits
at once, posts nothing, says in one INFO line per digest what is left and who finishes it, and
logs no ERROR; the next process posts the digest once. Slack HTTP mode against the fake Slack."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fake_gateway import unused_port
from fake_slack import BOT_TOKEN, SIGNING_SECRET, TEAM, FakeSlack
from process_harness import Child, child_env

from paperbot.models import ChannelKey
from paperbot.search import SearchIndex
from paperbot.service import Paperbot
from paperbot.store.store import Store
from paperbot.testing import FixedClock, make_paper

WORKER = Path(__file__).with_name("digest_round_bot.py")
SLOT = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)  # Friday 09:00 in Berlin
CHANNELS = [ChannelKey("slack", TEAM, f"C0PAPERS{n}") for n in range(3)]


@pytest.fixture
async def fake_slack() -> AsyncIterator[FakeSlack]:
    fake = await FakeSlack().start()
    yield fake
    await fake.close()


async def channels_waiting_for_nine(db_url: str, papers: int = 3) -> None:
    """Three channels subscribed yesterday, each with `papers` matches for today's digest."""
    clock = FixedClock(SLOT - timedelta(hours=20))
    store = Store.open(db_url, clock=clock)
    search = SearchIndex.open(None)
    try:
        bot = Paperbot(store, search, clock=clock)
        for key in CHANNELS:
            await bot.subscribe(key, "diffusion", "U0ALICE01")
            await bot.update_settings(key, timezone="Europe/Berlin", digest_hour=9)
        clock.now = SLOT - timedelta(hours=1)
        found = [
            make_paper(f"Diffusion {n}", "Diffusion.", arxiv_id=f"2611.{n:05d}")
            for n in range(1, papers + 1)
        ]
        bot.ingest_papers(found)
    finally:
        search.close()
        store.close()


def bot_env(fake: FakeSlack, db_url: str, data_dir: Path) -> dict[str, str]:
    return child_env(
        PAPERBOT_DATA_DIR=str(data_dir),
        PAPERBOT_DATABASE__URL=db_url,
        PAPERBOT_SLACK__BOT_TOKEN=BOT_TOKEN,
        PAPERBOT_SLACK__SIGNING_SECRET=SIGNING_SECRET,
        PAPERBOT_SLACK__API_BASE_URL=fake.base_url,
        PAPERBOT_HTTP__HOST="127.0.0.1",
        PAPERBOT_HTTP__PORT=str(unused_port()),
        PAPERBOT_SOURCES__HF__ENABLED="false",
        PAPERBOT_SOURCES__ARXIV__ENABLED="false",
    )


async def test_sigterm_before_the_digest_hour(
    fake_slack: FakeSlack, db_url: str, tmp_path: Path
) -> None:
    await channels_waiting_for_nine(db_url)
    env = bot_env(fake_slack, db_url, tmp_path / "data")
    before = [sys.executable, str(WORKER), SLOT.isoformat(), "before"]
    child = await Child.start(before, env, tmp_path)
    try:
        await child.wait_for_line("digest jobs fired")
        await child.wait_for_line("paperbot running")
        await asyncio.sleep(1)  # prepared, waiting for 09:00
        code, seconds = await child.terminate(timeout=45)  # 08:59:31 on the bot's clock
    finally:
        await child.kill()
    posted = f"\n[the fake Slack holds {len(fake_slack.posts())} messages]\n"
    (tmp_path / "sigterm.log").write_text(child.log + posted)  # for a person reading the run
    assert code == 0, child.log
    # Within the 10 s SIGTERM budget, where it used to hold 30 s and post at the hour; the
    # figure itself is printed for the note, not asserted.
    print(f"SIGTERM 29 s before the digest hour: {seconds:.2f}s")
    assert seconds < 10, f"SIGTERM took {seconds:.1f}s:\n{child.log}"
    assert fake_slack.posts() == [], "a stopping process posted at the hour"
    interrupted = child.matching("interrupted by shutdown before its hour")
    assert len(interrupted) == len(CHANNELS), child.log
    for line in interrupted:
        assert " INFO " in line and "0 of 3 papers posted, 3 left for the next holder" in line
    assert not [line for line in child.lines if " ERROR " in line or "Traceback" in line]
    assert child.matching("paperbot stopped")

    # The next process, started a minute after the hour, catches the three digests up: once.
    after = [sys.executable, str(WORKER), SLOT.isoformat(), "after"]
    restarted = await Child.start(after, env, tmp_path)
    try:
        for key in CHANNELS:
            await restarted.wait_for_line(f"digest {key}: posted 3")
        code, _ = await restarted.terminate()
    finally:
        await restarted.kill()
    assert code == 0, restarted.log
    for key in CHANNELS:
        papers = fake_slack.posted_papers(key.channel)
        assert sorted(papers) == ["2611.00001", "2611.00002", "2611.00003"]


async def test_sigterm_in_the_middle_of_a_catch_up(
    fake_slack: FakeSlack, db_url: str, tmp_path: Path
) -> None:
    """Catch-up digests cut short used to stop without a word; now each says how far it got,
    and the next process finishes them, every paper once."""
    await channels_waiting_for_nine(db_url, papers=5)
    env = bot_env(fake_slack, db_url, tmp_path / "data")
    after = [sys.executable, str(WORKER), SLOT.isoformat(), "after"]
    child = await Child.start(after, env, tmp_path)
    try:
        await child.wait_for_line("catching up 3 missed digest(s)")
        # Slack takes about one post per second per channel: stop while all three post.
        deadline = time.monotonic() + 60
        while not all(fake_slack.posted_papers(key.channel) for key in CHANNELS):
            assert time.monotonic() < deadline, f"never posted:\n{child.log}"
            await asyncio.sleep(0.05)
        code, seconds = await child.terminate(timeout=45)
    finally:
        await child.kill()
    print(f"SIGTERM in the middle of a catch-up: {seconds:.2f}s")
    assert code == 0 and seconds < 10, child.log
    lines = child.matching("interrupted by shutdown")
    assert len(lines) == len(CHANNELS), child.log
    for key in CHANNELS:
        posted = len(fake_slack.posted_papers(key.channel))
        [line] = [line for line in lines if str(key) in line]
        assert f"{posted} of 5 papers posted, {5 - posted} left" in line, line
    assert not [line for line in child.lines if " ERROR " in line or "Traceback" in line]

    restarted = await Child.start(after, env, tmp_path)
    try:
        deadline = time.monotonic() + 60
        for key in CHANNELS:
            while len(fake_slack.posted_papers(key.channel)) < 5:
                assert restarted.proc.returncode is None, restarted.log
                assert time.monotonic() < deadline, f"never finished:\n{restarted.log}"
                await asyncio.sleep(0.05)
        code, _ = await restarted.terminate()
    finally:
        await restarted.kill()
    assert code == 0, restarted.log
    for key in CHANNELS:
        papers = fake_slack.posted_papers(key.channel)
        assert sorted(papers) == [f"2611.{n:05d}" for n in range(1, 6)], papers  # each once
