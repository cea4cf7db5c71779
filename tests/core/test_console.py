"""The console channel end to end: the same core and commands a chat channel gets."""

import io
import re
from pathlib import Path

import pytest
from console_sessions import session
from rich.console import Console

from paperbot.adapters.console import ConsoleChannel, ConsolePoster
from paperbot.runner import ingest_sample
from paperbot.settings import load_settings
from paperbot.testing import FixedClock
from paperbot.wiring import build_core


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.delenv("PAPERBOT_CONFIG", raising=False)
    return load_settings(data_dir=tmp_path / "data")


async def test_subscribe_ingest_digest_vote_top_search(settings) -> None:  # type: ignore[no-untyped-def]
    out = io.StringIO()
    console = Console(file=out, width=120, color_system=None, force_terminal=False)
    core = build_core(settings, clock=FixedClock())
    try:
        core.bot.add_poster(ConsolePoster(console))
        assert await ingest_sample(core) > 100
        channel = ConsoleChannel(core.bot, console)

        async def say(line: str) -> str:
            start = out.tell()
            assert await channel.handle_line(line)
            return out.getvalue()[start:]

        assert "subscribed this channel to diffusion" in await say("/papers subscribe diffusion")
        assert "subscribed this channel to" in await say('/papers subscribe "language model"')
        listing = await say("/papers list")
        assert "#1  diffusion" in listing and '#2  "language model"' in listing

        digest = await say("/papers digest")
        assert "Sample paper digest for" in digest
        message_ids = re.findall(r"\[(m\d+)\]", digest)
        assert len(message_ids) == 10  # the default size cap
        assert "matched: diffusion" in digest or 'matched: "language model"' in digest

        assert "voted up" in await say(f"+{message_ids[0]}")
        assert "voted up" in await say(f"+{message_ids[1]}")
        assert "voted down" in await say(f"-{message_ids[2]}")
        assert "not a paper post" in await say("+m999")
        top = await say("/papers top week")
        assert "Team favourites" in top and top.count("team +1") == 2

        found = await say("/papers search diffusion")
        assert "Search results" in found and "1. " in found
        assert "✗" in await say("/papers subscribe (broken")
        # Issue 11 item 2: what did not fit waits; /papers more posts it, the next batch each
        # time, until nothing is left; only then is there nothing new.
        waiting = int(re.findall(r"(\d+) more papers matched", digest)[0])
        assert waiting > 10
        posted = list(message_ids)
        while (more := await say("/papers more")) and "No more matched" not in more:
            batch = re.findall(r"\[(m\d+)\]", more)
            assert f"Posted {len(batch)} paper" in more and 0 < len(batch) <= 10
            posted += batch
        assert len(posted) == len(set(posted)) == 10 + waiting
        assert "Nothing new" in await say("/papers digest")
        assert not await channel.handle_line("quit")
    finally:
        await core.aclose()


async def test_console_keeps_routine_log_lines_out_of_the_channel(settings) -> None:  # type: ignore[no-untyped-def]
    import logging

    from paperbot.runner import run_console

    root = logging.getLogger()
    before = root.level
    root.setLevel(logging.INFO)
    out = io.StringIO()
    console = Console(file=out, width=120, color_system=None, force_terminal=False)
    lines = iter(["/papers help", "quit"])

    async def read_line() -> str | None:
        return next(lines, None)

    try:
        await run_console(settings, sample=False, console=console, read_line=read_line)
        assert root.level == logging.WARNING
    finally:
        root.setLevel(before)
    assert "paperbot commands" in out.getvalue()


async def test_a_second_session_on_the_same_data_numbers_on_and_votes_the_paper_shown(
    settings,  # type: ignore[no-untyped-def]
) -> None:
    # Found in use: every session numbered its messages from m1 again, so after a restart
    # `+m4` or `/papers like m4` named two posts and the console died with a traceback.
    first = await session(
        settings, ["/papers subscribe diffusion", "/papers settings size 3", "/papers digest"]
    )
    first_ids = re.findall(r"\[(m\d+)\]", first)
    assert len(first_ids) == 3

    second = await session(settings, ["/papers more", f"+{first_ids[0]}"])
    second_ids = re.findall(r"\[(m\d+)\]", second)
    assert len(second_ids) == 3 and not set(second_ids) & set(first_ids)
    assert "voted up" in second and "Traceback" not in second

    third = await session(settings, [f"+{second_ids[0]}", f"/papers like {second_ids[0]}"])
    assert "voted up" in third and "Traceback" not in third
