"""`/papers export` on the core and the console, and `paperbot export` on the command line."""

from __future__ import annotations

import asyncio
import io
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from paperbot import commands
from paperbot.adapters.console import ConsoleChannel, ConsolePoster
from paperbot.cli import app
from paperbot.models import ChannelKey, CommandContext, Reply, Visibility
from paperbot.service import Paperbot
from paperbot.settings import load_settings
from paperbot.testing import FixedClock, RecordingPoster, make_paper
from paperbot.wiring import build_core

KEY = ChannelKey("console", "local", "terminal")


async def run(bot: Paperbot, text: str) -> Reply:
    return await commands.handle(bot, CommandContext(KEY, "U1"), text)


def keys(bib: bytes) -> list[str]:
    return re.findall(r"^@misc\{([^,]+),", bib.decode(), re.MULTILINE)


def eprints(bib: bytes) -> list[str]:
    return re.findall(r"^  eprint\s+= \{(.+)\},$", bib.decode(), re.MULTILINE)


async def test_export_week_month_top_and_a_subscription(
    bot: Paperbot, clock: FixedClock, poster: RecordingPoster
) -> None:
    old = make_paper("Diffusion of old", "x", arxiv_id="2610.00001", authors=("Ada Old",))
    await run(bot, "subscribe diffusion")
    await run(bot, "subscribe cat:cs.RO")
    await bot.blocking(bot.ingest_papers, [old])
    await bot.deliver_digest(KEY)
    clock.advance(days=20)
    fresh = [
        make_paper(
            f"Diffusion step {n}",
            "x",
            arxiv_id=f"2611.0010{n}",
            authors=("Grace Hopper",),
            categories=("cs.LG",),
            published_at=datetime(2026, 11, 1, tzinfo=UTC),
        )
        for n in range(2)
    ]
    robot = make_paper("Robots", "x", arxiv_id="2611.00200", categories=("cs.RO",))
    await bot.blocking(bot.ingest_papers, [*fresh, robot])
    await bot.deliver_digest(KEY)

    week = await run(bot, "export")  # week is the default
    assert not week.is_error and week.visibility is Visibility.IN_CHANNEL
    assert week.attachment is not None
    assert week.attachment.filename == "paperbot-week-2026-12-10.bib"
    assert week.attachment.mime_type == "application/x-bibtex"
    assert sorted(eprints(week.attachment.content)) == ["2611.00100", "2611.00101", "2611.00200"]
    assert week.text == (
        "BibTeX for 3 papers posted here in the last 7 days: paperbot-week-2026-12-10.bib"
    )
    month = await run(bot, "export month")
    assert month.attachment is not None and len(eprints(month.attachment.content)) == 4

    assert (await run(bot, "export top")).text == "No papers voted up here to export yet."
    message = next(p.message_id for p in poster.posts if p.paper_id == "2611.00101")
    await bot.record_vote(KEY, message, "U2", 1)
    top = await run(bot, "export top")
    assert top.attachment is not None and eprints(top.attachment.content) == ["2611.00101"]

    robots = await run(bot, "export #2")
    assert robots.attachment is not None and eprints(robots.attachment.content) == ["2611.00200"]
    assert "matched by cat:cs.ro" in robots.text


@pytest.mark.parametrize(
    ("argument", "expected"),
    [
        ("#7", "there is no subscription #7; see /papers list"),
        ("yesterday", "export takes week, month, top or #N"),
        ("#x", "export takes week, month, top or #N"),
    ],
)
async def test_bad_export_arguments_are_refused_in_one_line(
    bot: Paperbot, argument: str, expected: str
) -> None:
    reply = await run(bot, f"export {argument}")
    assert reply.is_error and reply.text.startswith(expected) and "\n" not in reply.text
    assert reply.attachment is None


async def test_nothing_to_export_says_so(bot: Paperbot) -> None:
    reply = await run(bot, "export week")
    assert reply.text == "No papers posted here in the last 7 days to export yet."
    assert reply.attachment is None


def _settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.delenv("PAPERBOT_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    return load_settings(data_dir=tmp_path / "data", sources={"hf": {"enabled": False}})


async def _console_session(settings, exports: Path, out: io.StringIO) -> None:  # type: ignore[no-untyped-def]
    console = Console(file=out, width=200, color_system=None, force_terminal=False)
    core = build_core(settings, clock=FixedClock())
    try:
        core.bot.add_poster(ConsolePoster(console))
        channel = ConsoleChannel(core.bot, console, export_dir=exports)
        await core.bot.blocking(
            core.bot.ingest_papers,
            [make_paper("Diffusion for all", "x", arxiv_id="2611.00300", authors=("Al Kh",))],
        )
        await channel.handle_line("/papers subscribe diffusion")
        await channel.handle_line("/papers digest")
        await channel.handle_line("/papers export week")
    finally:
        await core.aclose()


def test_the_console_saves_the_file_and_the_cli_writes_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _settings(tmp_path, monkeypatch)
    out = io.StringIO()
    exports = tmp_path / "exports"
    asyncio.run(_console_session(settings, exports, out))
    saved = exports / "paperbot-week-2026-11-20.bib"
    assert f"✓ saved {saved}" in out.getvalue()
    assert keys(saved.read_bytes()) == ["kh2026diffusion"]

    runner = CliRunner()
    monkeypatch.setenv("PAPERBOT_DATA_DIR", str(tmp_path / "data"))
    result = runner.invoke(app, ["export", "--channel", str(KEY), "#1", "-o", "-"])
    assert result.exit_code == 0, result.output
    assert keys(result.stdout.encode()) == ["kh2026diffusion"]
    result = runner.invoke(app, ["export", "--channel", str(KEY), "#1", "-o", "out.bib"])
    assert result.exit_code == 0, result.output
    assert keys((tmp_path / "out.bib").read_bytes()) == ["kh2026diffusion"]
    assert "1 paper matched by diffusion -> out.bib" in result.output
    bad = runner.invoke(app, ["export", "--channel", "console:local:nowhere"])
    assert bad.exit_code == 2 and "no channel console:local:nowhere" in bad.output
    wrong = runner.invoke(app, ["export", "--channel", str(KEY), "lately"])
    assert wrong.exit_code == 2 and "export takes week, month, top or #N" in wrong.output
