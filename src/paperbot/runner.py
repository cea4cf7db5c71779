"""Long-running entry points: the bot with its platforms, or the console channel.

The wiring is explicit: each platform that has a token is built here, registers its poster with
the core, and runs in this one process beside the scheduler and the health endpoint.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable, Iterator
from datetime import timedelta
from typing import TYPE_CHECKING

from rich.console import Console

from paperbot.adapters.console import (
    CONSOLE_CHANNEL,
    ConsoleChannel,
    ConsolePoster,
    numbering_after,
    read_stdin_line,
)
from paperbot.errors import ConfigError
from paperbot.health import HealthServer, start_health
from paperbot.logs import OneLineRetries
from paperbot.metrics import Health
from paperbot.scheduler import DigestScheduler, running_schedule
from paperbot.settings import Settings
from paperbot.sources.sample import SampleSource
from paperbot.wiring import Core, build_core

if TYPE_CHECKING:
    from paperbot.adapters.discord import DiscordAdapter
    from paperbot.adapters.slack import SlackAdapter

log = logging.getLogger(__name__)
SAMPLE_DAYS = 3
LOGIN_WAIT = 5.0  # seconds start-up waits for a Discord login before going on without it
SLACK_START_WAIT = 5.0  # and for Slack's Socket Mode connection
SLACK_LIBRARY_LOG = "paperbot.adapters.slack.bolt"  # the logger the Slack adapter gives bolt
STOP_BUDGET = 8.0  # seconds a shutdown may take, under the 10 s a supervisor allows


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
        try:
            ledger = core.store.ledger(CONSOLE_CHANNEL)
        except LookupError:  # the channel's first session
            ledger = []
        core.bot.add_poster(ConsolePoster(console, first_number=numbering_after(ledger)))
        if sample:
            added = await ingest_sample(core)
            console.print(
                f"[dim]{core.store.count_papers()} papers in {settings.database_url} "
                f"({added} new from the bundled sample)[/dim]"
            )
        # No scheduler here to catch up at start-up: the votes of a previous session that no
        # retrain stored yet are learned now, in the background.
        core.bot.taste.retrain_stale_soon()
        exports = settings.data_dir / "exports"
        channel = asyncio.ensure_future(
            ConsoleChannel(core.bot, console, export_dir=exports).run(read_line)
        )
        with _stop_on_signals() as stop:
            stopped = asyncio.ensure_future(stop.wait())
            await asyncio.wait({channel, stopped}, return_when=asyncio.FIRST_COMPLETED)
            stopped.cancel()
            if not channel.done():
                channel.cancel()  # SIGTERM or SIGINT: leave the prompt
            with contextlib.suppress(asyncio.CancelledError):
                await channel
    finally:
        await core.aclose()


def _report_late_start(task: asyncio.Task[None]) -> None:
    if task.cancelled():
        return
    error = task.exception()
    if error is None:
        log.info("slack: connected")
    else:
        log.error("slack: could not start: %s; Slack stays down, the others go on", error)


@contextlib.contextmanager
def _stop_on_signals() -> Iterator[asyncio.Event]:
    """An event set by SIGTERM or SIGINT while inside; the default handlers are back after."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def stopping(signum: signal.Signals) -> None:
        if not stop.is_set():
            log.info("%s received: stopping", signum.name)
        stop.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopping, signum)
    try:
        yield stop
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)


class BotProcess:
    """Everything `paperbot run` runs with a platform configured, startable and stoppable as one.

    One platform failing never stops the others: the Discord gateway reconnects in the background
    (see adapters/discord/gateway.py) while Slack and the scheduler go on, and `/healthz` names
    the platform that is down. `stop()` is bounded so a SIGTERM ends the process within 10 s.
    """

    def __init__(self, settings: Settings, core: Core | None = None) -> None:
        self.settings = settings
        self.core = core or build_core(settings)
        self.health = Health(self.core.store, sources=[s.name for s in self.core.bot.sources])
        self.slack: SlackAdapter | None = None
        self.discord: DiscordAdapter | None = None
        self.scheduler: DigestScheduler | None = None
        self._discord_task: asyncio.Task[None] | None = None
        self._slack_task: asyncio.Task[None] | None = None
        self._health_server: HealthServer | None = None
        self._schedule: contextlib.AsyncExitStack | None = None
        self._warm_up: asyncio.Task[None] | None = None

    async def start(self) -> None:
        settings, bot = self.settings, self.core.bot
        if settings.slack.configured:
            from paperbot.adapters.slack import SlackAdapter

            self.slack = SlackAdapter.build(settings, bot)
            self.health.add_platform("slack", self.slack.connected)
        if settings.discord.configured:
            from paperbot.adapters.discord import DiscordAdapter

            self.discord = DiscordAdapter.build(settings.discord, bot)
            link = self.discord.link
            self.health.add_platform("discord", lambda: link.connected, link.describe)
        # Health routes go on Slack's HTTP-mode app before it starts (aiohttp freezes routes).
        shared_app = self.slack.web_app if self.slack and not self.slack.socket_mode else None
        self._health_server = await start_health(settings.http, self.health, shared_app)
        if self.slack is not None:
            await self._start_slack(self.slack)
        if self.discord is not None:
            await self._login_discord(self.discord)
            # Posting works from the login on; the gateway brings commands and votes.
            self._discord_task = asyncio.create_task(self.discord.hold(), name="discord-gateway")
        # The schedule starts last: settling crash leftovers asks the platforms.
        self._schedule = contextlib.AsyncExitStack()
        self.scheduler = await self._schedule.enter_async_context(
            running_schedule(bot, settings.schedule)
        )
        # Meanwhile, what the first subscribe would otherwise wait for (a second under load).
        self._warm_up = asyncio.create_task(asyncio.to_thread(bot.warm_up), name="warm-up")
        log.info("paperbot running: %s", ", ".join(settings.platforms))

    async def _start_slack(self, slack: SlackAdapter) -> None:
        """Start Slack without letting an outage hold the rest: Socket Mode keeps retrying its
        connection by itself (slack_sdk) while Slack is unreachable, so after a few seconds it
        goes on in the background and the other platforms and the schedule start. A refused
        token, or an HTTP port already taken, still fails the start (it raises here)."""
        # slack_sdk logs each Socket Mode reconnect with a traceback: one line each instead.
        OneLineRetries.install(SLACK_LIBRARY_LOG, "Failed to connect", prefix="slack: ")
        starting = asyncio.create_task(slack.start(), name="slack-start")
        done, _ = await asyncio.wait({starting}, timeout=SLACK_START_WAIT)
        if starting in done:
            starting.result()
            return
        log.warning(
            "slack: not connected after %.0fs; connecting on in the background", SLACK_START_WAIT
        )
        starting.add_done_callback(_report_late_start)
        self._slack_task = starting

    @staticmethod
    async def _login_discord(discord: DiscordAdapter) -> None:
        """Log in now if Discord answers; a refused token is fatal (ConfigError), an outage is
        not: the gateway task keeps trying to log in, and the other platforms start meanwhile."""
        try:
            await asyncio.wait_for(discord.login(), LOGIN_WAIT)
        except ConfigError:
            raise
        except Exception as exc:
            log.warning("discord: cannot log in yet (%s); retrying in the background", exc)

    async def wait(self, stop: asyncio.Event) -> None:
        """Until asked to stop. The Discord task ends only when Discord refused the bot for good
        (said once in its log line), and then the rest goes on."""
        await stop.wait()

    async def stop(self) -> None:
        self.core.bot.delivery.stop_waiting()  # no digest waits out an outage past SIGTERM
        """Stop everything within STOP_BUDGET seconds: the schedule first (no digest starts,
        running ones say what they left), then the platforms, the health endpoint, the core."""
        deadline = asyncio.get_running_loop().time() + STOP_BUDGET
        await self._bounded("schedule", self._stop_schedule(), deadline)
        if self._warm_up is not None:
            await self._bounded("warm-up", self._warm_up, deadline)
        if self.discord is not None:
            await self._bounded("discord", self.discord.stop(), deadline)
        if self._discord_task is not None:
            self._discord_task.cancel()
            await self._bounded("discord gateway", self._discord_task, deadline)
        if self._slack_task is not None:
            self._slack_task.cancel()
            await self._bounded("slack reconnect", self._slack_task, deadline)
        if self.slack is not None:
            await self._bounded("slack", self.slack.stop(), deadline)
        if self._health_server is not None:
            await self._bounded("health endpoint", self._health_server.stop(), deadline)
        await self.core.aclose()
        log.info("paperbot stopped")

    async def _stop_schedule(self) -> None:
        if self._schedule is not None:
            await self._schedule.aclose()

    @staticmethod
    async def _bounded(what: str, step: Awaitable[object], deadline: float) -> None:
        """One step of the shutdown, cut off when the shutdown's time is up."""
        remaining = max(0.1, deadline - asyncio.get_running_loop().time())
        try:
            await asyncio.wait_for(step, remaining)
        except TimeoutError:
            log.warning("stopping %s took too long; going on without it", what)
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise  # the shutdown itself is cancelled; else it was the step (a task we cancel)
        except Exception as exc:
            log.warning("stopping %s failed: %s", what, exc)


async def run_bot(settings: Settings, core: Core | None = None) -> int:
    """`paperbot run`: until SIGTERM or SIGINT; returns the exit code (0 after a clean stop)."""
    if not settings.platforms:
        log.info("no chat token configured: running the local console channel")
        await run_console(settings, sample=True)
        return 0
    process = BotProcess(settings, core)
    with _stop_on_signals() as stop:
        try:
            # A signal during start-up stops it too (a platform may be slow to answer).
            starting = asyncio.create_task(process.start())
            stopped = asyncio.create_task(stop.wait())
            await asyncio.wait({starting, stopped}, return_when=asyncio.FIRST_COMPLETED)
            if starting.done():
                starting.result()  # a fatal error at start raises here
                await process.wait(stop)
            else:
                starting.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await starting
            stopped.cancel()
        finally:
            await process.stop()
    return 0
