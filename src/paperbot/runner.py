"""Long-running entry points: the bot with its platforms, or the console channel."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from rich.console import Console

from paperbot.adapters.console import ConsoleChannel, ConsolePoster, read_stdin_line
from paperbot.settings import Settings
from paperbot.sources.sample import SampleSource
from paperbot.wiring import Core, build_core

log = logging.getLogger(__name__)
SAMPLE_DAYS = 3


async def ingest_sample(core: Core, days: int = SAMPLE_DAYS) -> int:
    """Load a few days of the bundled sample so a fresh console has papers at once, offline."""
    source = SampleSource()
    today = core.bot.clock().date()
    total = 0
    for offset in range(days - 1, -1, -1):
        result = await source.fetch_day(today - timedelta(days=offset))
        inserted, _, _ = await asyncio.to_thread(core.bot.ingest_papers, result.papers)
        total += inserted
    return total


async def run_console(
    settings: Settings, sample: bool = True, console: Console | None = None
) -> None:
    console = console or Console()
    core = build_core(settings)
    try:
        core.bot.add_poster(ConsolePoster(console))
        if sample:
            added = await ingest_sample(core)
            console.print(
                f"[dim]{core.store.count_papers()} papers in {settings.database_url} "
                f"({added} new from the bundled sample)[/dim]"
            )
        await ConsoleChannel(core.bot, console).run(read_stdin_line)
    finally:
        await core.aclose()


async def run_bot(settings: Settings) -> None:
    if not settings.platforms:
        log.info("no chat token configured: running the local console channel")
        await run_console(settings, sample=True)
        return
    raise NotImplementedError("chat platforms are wired in by the Slack and Discord adapters")
