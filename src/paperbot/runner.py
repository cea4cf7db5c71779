"""Long-running entry points: the bot with its platforms, or the console channel.

The wiring is explicit: each platform that has a token is built here, registers its poster with
the core, and runs in this one process beside the scheduler and the health endpoint.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TYPE_CHECKING

from rich.console import Console

from paperbot.adapters.console import ConsoleChannel, ConsolePoster, read_stdin_line
from paperbot.health import HealthServer, start_health
from paperbot.metrics import Health
from paperbot.scheduler import running_schedule
from paperbot.settings import Settings
from paperbot.sources.sample import SampleSource
from paperbot.wiring import Core, build_core

if TYPE_CHECKING:
    from paperbot.adapters.discord import DiscordAdapter
    from paperbot.adapters.slack import SlackAdapter

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
    settings: Settings,
    sample: bool = True,
    console: Console | None = None,
    read_line: Callable[[], Awaitable[str | None]] = read_stdin_line,
) -> None:
    console = console or Console()
    if settings.log.level != "DEBUG":
        # The terminal is the channel here: routine INFO lines would land between the replies.
        logging.getLogger().setLevel(logging.WARNING)
    core = build_core(settings)
    try:
        core.bot.add_poster(ConsolePoster(console))
        if sample:
            added = await ingest_sample(core)
            console.print(
                f"[dim]{core.store.count_papers()} papers in {settings.database_url} "
                f"({added} new from the bundled sample)[/dim]"
            )
        exports = settings.data_dir / "exports"
        await ConsoleChannel(core.bot, console, export_dir=exports).run(read_line)
    finally:
        await core.aclose()


class BotProcess:
    """Everything `paperbot run` runs with a platform configured, startable and stoppable as one."""

    def __init__(self, settings: Settings, core: Core | None = None) -> None:
        self.settings = settings
        self.core = core or build_core(settings)
        self.health = Health(self.core.store, sources=[s.name for s in self.core.bot.sources])
        self.slack: SlackAdapter | None = None
        self.discord: DiscordAdapter | None = None
        self._discord_task: asyncio.Task[None] | None = None
        self._health_server: HealthServer | None = None
        self._schedule: contextlib.AsyncExitStack | None = None

    async def start(self) -> None:
        settings, bot = self.settings, self.core.bot
        if settings.slack.configured:
            from paperbot.adapters.slack import SlackAdapter

            self.slack = SlackAdapter.build(settings, bot)
            self.health.add_platform("slack", self.slack.connected)
        if settings.discord.configured:
            from paperbot.adapters.discord import DiscordAdapter

            self.discord = DiscordAdapter.build(settings.discord, bot)
            client = self.discord.client
            self.health.add_platform(
                "discord", lambda: client.is_ready() and not client.is_closed()
            )
        # Health routes go on Slack's HTTP-mode app before it starts (aiohttp freezes routes).
        shared_app = self.slack.web_app if self.slack and not self.slack.socket_mode else None
        self._health_server = await start_health(settings.http, self.health, shared_app)
        if self.slack is not None:
            await self.slack.start()
        if self.discord is not None:
            await self.discord.login()  # posting works from here; the gateway brings votes
            self._discord_task = asyncio.create_task(
                self.discord.client.connect(reconnect=True), name="discord-gateway"
            )
        # The schedule starts last: settling crash leftovers asks the platforms.
        self._schedule = contextlib.AsyncExitStack()
        await self._schedule.enter_async_context(running_schedule(bot, settings.schedule))
        log.info("paperbot running: %s", ", ".join(settings.platforms))

    async def wait(self, stop: asyncio.Event) -> None:
        """Until asked to stop, or until the Discord gateway gives up."""
        waiters: list[asyncio.Future[object]] = [asyncio.ensure_future(stop.wait())]
        if self._discord_task is not None:
            waiters.append(self._discord_task)  # type: ignore[arg-type]
        done, _ = await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            if task is self._discord_task and task.exception() is not None:
                log.error("discord gateway stopped: %s", task.exception())
        for task in waiters:
            if task is not self._discord_task:
                task.cancel()

    async def stop(self) -> None:
        self.core.bot.delivery.stop_waiting()  # no digest waits out an outage past SIGTERM
        if self._schedule is not None:
            await self._schedule.aclose()
        if self.discord is not None:
            await self.discord.stop()
        if self._discord_task is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._discord_task
        if self.slack is not None:
            await self.slack.stop()
        if self._health_server is not None:
            await self._health_server.stop()
        await self.core.aclose()
        log.info("paperbot stopped")


async def run_bot(settings: Settings) -> None:
    if not settings.platforms:
        log.info("no chat token configured: running the local console channel")
        await run_console(settings, sample=True)
        return
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    process = BotProcess(settings)
    try:
        await process.start()
        await process.wait(stop)
    finally:
        await process.stop()
