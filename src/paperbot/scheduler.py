"""The bot's clock: one ingest job, one digest job per channel at its own local hour, and a sweep.

With `triggers.py` (the rules), the only modules that import APScheduler. Jobs live in memory:
what must survive a restart (which digest went out when, which posts are settled) lives in the
database, and on start the scheduler settles crash leftovers, posts a digest missed while the bot
was down (once, within the grace) and catches up a missed ingest. The sweep repeats that every few
minutes, which also picks up channels created or changed by another bot process sharing the
database. Stopping starts nothing new and stops what runs within seconds (see `stop`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from paperbot.ingest_gate import INGEST_LOOKBACK, IngestGate
from paperbot.models import Channel, ChannelKey, DeliveryReport
from paperbot.roundup import WeeklyRoundups
from paperbot.slots import previous_slot
from paperbot.triggers import (
    DailyTrigger,
    crontab_trigger,
    digest_trigger,
    fire_times,
    previous_fire,
)

if TYPE_CHECKING:
    from paperbot.ingest.report import IngestReport
    from paperbot.service import Paperbot
    from paperbot.settings import ScheduleSettings

log = logging.getLogger(__name__)

_INGEST_JOB, _INGEST_RETRY_JOB, _SWEEP_JOB = "ingest", "ingest-retry", "sweep"
# Papers another process stores (`paperbot ingest`, a second instance) become searchable within
# this long even when nobody searches (a search itself catches up first).
_SEARCH_REFRESH_JOB, SEARCH_REFRESH_SECONDS = "search-refresh", 30
ROUNDUP_INTERVAL = timedelta(minutes=5)
__all__ = [
    "DailyTrigger",
    "DigestScheduler",
    "crontab_trigger",
    "digest_trigger",
    "fire_times",
    "previous_fire",
    "running_schedule",
]


# --- the running scheduler -----------------------------------------------------------------


class DigestScheduler:
    """Runs the jobs of one bot process; any number of processes may share one database."""

    def __init__(
        self,
        bot: Paperbot,
        schedule: ScheduleSettings,
        *,
        ingest_wait: timedelta = timedelta(minutes=10),
        ingest_retries: int = 4,
        ingest_retry_delay: timedelta = timedelta(minutes=10),
        sweep_interval: timedelta = timedelta(minutes=5),
        prepare_ahead: timedelta = timedelta(seconds=30),
        poll_seconds: float = 10.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.bot = bot
        self.schedule = schedule
        self.ingest_trigger = crontab_trigger(schedule.ingest_cron, schedule.ingest_timezone)
        self.grace = timedelta(hours=schedule.missed_digest_grace_hours)
        self.ingest_wait = ingest_wait
        self.ingest_retries = ingest_retries
        self.ingest_retry_delay = ingest_retry_delay
        self.sweep_interval = sweep_interval
        self.prepare_ahead = prepare_ahead
        self.poll_seconds = poll_seconds
        self.sleep = sleep
        self.aps = AsyncIOScheduler(timezone=UTC)
        self.gate = IngestGate(
            bot,
            self.ingest_trigger,
            lambda now: previous_fire(self.ingest_trigger, now, INGEST_LOOKBACK),
            lambda: asyncio.shield(self._ingest_task_for(attempt=0)),
            wait=ingest_wait,
            poll_seconds=poll_seconds,
            sleep=sleep,
        )
        self.ingest_is_fresh = self.gate.ingest_is_fresh
        self.wait_for_ingest = self.gate.wait_for_ingest
        self._signatures: dict[ChannelKey, tuple[Any, ...]] = {}
        self._ingest_task: asyncio.Task[IngestReport | None] | None = None
        self._running: set[asyncio.Task[Any]] = set()
        self._beyond_grace: set[tuple[ChannelKey, datetime]] = set()
        self.startup: asyncio.Task[Any] | None = None  # the catch-up run by `start`
        self.roundups = WeeklyRoundups(bot)
        self.stopping = False

    # --- lifecycle ------------------------------------------------------------------------

    async def start(self, paused: bool = False) -> None:
        """Settle crash leftovers, schedule every channel, then catch up in the background.

        Call it once the platform posters are in `bot.posters`: settling asks the platforms.
        `paused` schedules without running anything (tests look at the jobs).
        """
        self.aps.start(paused=paused)
        self.bot.channel_listeners.append(self.on_channel_changed)
        self.aps.add_job(
            self._ingest_job, self.ingest_trigger, id=_INGEST_JOB, coalesce=True, max_instances=1
        )
        self.aps.add_job(
            self._sweep_job,
            IntervalTrigger(seconds=self.sweep_interval.total_seconds()),
            id=_SWEEP_JOB,
            coalesce=True,
            max_instances=1,
        )
        self.aps.add_job(
            self._search_refresh_job,
            IntervalTrigger(seconds=SEARCH_REFRESH_SECONDS),
            id=_SEARCH_REFRESH_JOB,
            coalesce=True,
            max_instances=1,
        )
        # Weekly roundups: a pass every few minutes posts those due (each claimed once).
        self.aps.add_job(
            self._roundup_job,
            IntervalTrigger(seconds=ROUNDUP_INTERVAL.total_seconds()),
            id="roundups",
            coalesce=True,
            max_instances=1,
        )
        await self.bot.delivery.reconcile_all()
        await self.sync_channels()
        if not paused:
            self.bot.taste.retrain_stale_soon()  # votes that came while no process retrained
            self.startup = self._spawn(self.catch_up())

    async def stop(self, grace_seconds: float = 4.0) -> None:
        """Start nothing new and stop what runs: a digest waiting for its hour stops at once, one
        posting stops after its post in flight (each logs one line, see shutdown.py); whatever
        is still running after `grace_seconds` is cancelled (a post in flight then stays
        pending, settled by asking the platform). Well inside a 10 s SIGTERM budget."""
        if self.on_channel_changed in self.bot.channel_listeners:
            self.bot.channel_listeners.remove(self.on_channel_changed)
        if not self.aps.running:
            return
        self.stopping = True
        self.bot.delivery.stopping.set()
        self.aps.pause()
        running = {task for task in self._running if not task.done()}
        current = asyncio.current_task()
        if current is not None:
            running.discard(current)
        if self._ingest_task is not None and not self._ingest_task.done():
            running.add(self._ingest_task)
        if running:
            _, late = await asyncio.wait(running, timeout=grace_seconds)
            for task in late:
                task.cancel()
            if late:
                await asyncio.wait(late, timeout=2)
        self.aps.shutdown(wait=False)
        await asyncio.sleep(0)  # AsyncIOScheduler shuts down on the next loop turn

    def _spawn(self, work: Awaitable[Any]) -> asyncio.Task[Any]:
        task: asyncio.Task[Any] = asyncio.ensure_future(work)
        self._running.add(task)
        task.add_done_callback(self._running.discard)
        return task

    # APScheduler runs these; each registers its task so `stop` can stop it.

    async def _digest_job(self, key: ChannelKey) -> None:
        await self._run_job(self.run_digest(key))

    async def _ingest_job(self, attempt: int = 0) -> None:
        await self._run_job(self.run_ingest(attempt))

    async def _sweep_job(self) -> None:
        await self._run_job(self.sweep())

    async def _search_refresh_job(self) -> None:
        await self._run_job(self.bot.refresh_search())

    async def _roundup_job(self) -> None:
        await self._run_job(self.roundups.post_due())

    async def _run_job(self, work: Awaitable[Any]) -> None:
        """Run a job's work as a task of ours. Cancelled by `stop`, it ends quietly: APScheduler
        would log a CancelledError traceback per job, and the digest already said what is left."""
        try:
            await self._spawn(work)
        except asyncio.CancelledError:
            if not self.stopping:
                raise

    # --- channels -------------------------------------------------------------------------

    @staticmethod
    def job_id(key: ChannelKey) -> str:
        return f"digest:{key}"

    def on_channel_changed(self, channel: Channel) -> None:
        """Paperbot calls this after a settings change: the new hour or zone applies at once."""
        self.schedule_channel(channel)

    def schedule_channel(self, channel: Channel) -> None:
        key, settings = channel.key, channel.settings
        here = key.platform in self.bot.posters  # a poster may be added after start
        signature: tuple[Any, ...] = (settings.timezone, settings.digest_hour)
        signature += (settings.digest_days, settings.paused, here)
        if self._signatures.get(key) == signature:
            return  # unchanged: replacing the job could skip a run due this very second
        self._signatures[key] = signature
        trigger = None if settings.paused else digest_trigger(settings, self.prepare_ahead)
        if trigger is None or not here:
            if self.aps.get_job(self.job_id(key)) is not None:
                self.aps.remove_job(self.job_id(key))
            return
        self.aps.add_job(
            self._digest_job,
            trigger,
            args=[key],
            id=self.job_id(key),
            name=f"digest {key}",
            replace_existing=True,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=max(1, int(self.grace.total_seconds())),
        )
        log.info("digest for %s: %s", key, trigger)

    async def sync_channels(self) -> None:
        """Match the jobs to the channels in the database (another process may have changed
        them)."""
        channels = await self.bot.blocking(self.bot.store.list_channels)
        for channel in channels:
            self.schedule_channel(channel)
        known = {channel.key for channel in channels}
        for key in [key for key in self._signatures if key not in known]:
            del self._signatures[key]
            if self.aps.get_job(self.job_id(key)) is not None:
                self.aps.remove_job(self.job_id(key))

    # --- digests --------------------------------------------------------------------------

    async def run_digest(self, key: ChannelKey, slot: datetime | None = None) -> DeliveryReport:
        """The digest job: the due slot's digest, once across every process, after the ingest.

        It fires `prepare_ahead` before the hour: the database work is done by the hour and the
        posts start on it, however many channels share that hour.
        """
        now = self.bot.clock()
        channel = await self.bot.blocking(self.bot.store.get_channel, key)
        if channel is None:
            return DeliveryReport(key, skipped_reason="channel is gone from the database")
        slot = slot or previous_slot(channel.settings, now + self.prepare_ahead)
        if slot is None:
            return DeliveryReport(key, skipped_reason="no digest days")
        due = slot - self.prepare_ahead
        if channel.last_digest_at is not None and channel.last_digest_at >= due:
            return DeliveryReport(key, skipped_reason="digest already delivered")
        await self.wait_for_ingest(now)
        report = await self.bot.delivery.deliver_safely(key, due, post_at=slot)
        if not self.stopping:  # else the digest said what it left undone
            log.info("scheduled digest %s", report.summary)
        return report

    async def catch_up(self) -> list[DeliveryReport]:
        """Finish interrupted digests; then post each channel's latest missed digest once, if it
        is no older than the grace.

        Only the most recent slot counts: a bot down for three days posts one digest, not three
        (its papers are all in it; matches wait in the store until a digest takes them).
        """
        resumed = await self.bot.delivery.resume_interrupted()
        now = self.bot.clock()
        channels = await self.bot.blocking(self.bot.store.list_channels)
        created = await self.bot.blocking(self.bot.delivery.coordination.channel_created_at)
        due: dict[ChannelKey, datetime] = {}
        for channel in channels:
            key = channel.key
            if channel.settings.paused or key.platform not in self.bot.posters:
                continue
            slot = previous_slot(channel.settings, now)
            last = channel.last_digest_at
            if slot is None or (last is not None and last >= slot - self.prepare_ahead):
                continue
            if key in created and created[key] > slot:
                continue  # the channel did not exist yet
            if now - slot > self.grace:
                if (key, slot) not in self._beyond_grace:
                    self._beyond_grace.add((key, slot))
                    log.info(
                        "%s missed its %s digest, beyond the grace: the next one has it", key, slot
                    )
                continue
            due[key] = slot - self.prepare_ahead
        if not due:
            return resumed
        log.info("catching up %d missed digest(s)", len(due))
        await self.wait_for_ingest(now)
        return resumed + await self.bot.delivery.deliver_many(list(due), due)

    async def sweep(self) -> None:
        """Every few minutes: settle orphaned intents, pick up channel changes, catch up."""
        await self.bot.delivery.reconcile_all()
        await self.sync_channels()
        await self.catch_up()

    # --- ingest ---------------------------------------------------------------------------

    def _ingest_task_for(self, attempt: int) -> asyncio.Task[IngestReport | None]:
        """One ingest at a time in this process; digests waiting on it share it."""
        if self._ingest_task is None or self._ingest_task.done():
            self._ingest_task = asyncio.create_task(self._ingest(attempt))
        return self._ingest_task

    async def run_ingest(self, attempt: int = 0) -> IngestReport | None:
        """The ingest job (and its retries)."""
        return await asyncio.shield(self._ingest_task_for(attempt))

    async def _ingest(self, attempt: int) -> IngestReport | None:
        if attempt == 0 and self.aps.get_job(_INGEST_RETRY_JOB) is not None:
            self.aps.remove_job(_INGEST_RETRY_JOB)  # a scheduled run supersedes pending retries
        now = self.bot.clock()
        day = now.astimezone(ZoneInfo(self.schedule.ingest_timezone)).date()
        async with self.bot.delivery.leases.hold("ingest") as lease:
            if lease is None:
                log.info("another process is ingesting; not ingesting here")
                return None
            try:
                report = await self.bot.ingest_day(day)
            except Exception:  # not a source (those are recorded): the store, say; try again
                log.exception("ingest for %s failed", day)
                self._schedule_ingest_retry(attempt + 1, now, ["ingest"])
                raise
        if report.failed:
            self._schedule_ingest_retry(attempt + 1, now, sorted(report.failed))
        return report

    def _schedule_ingest_retry(self, attempt: int, now: datetime, failed: list[str]) -> None:
        if attempt > self.ingest_retries:
            log.error(
                "ingest: %s still failing after %d retries; next try at the scheduled time",
                ", ".join(failed),
                self.ingest_retries,
            )
            return
        delay = min(self.ingest_retry_delay * 2 ** (attempt - 1), timedelta(hours=3))
        self.aps.add_job(
            self._ingest_job,
            DateTrigger(run_date=now + delay),
            kwargs={"attempt": attempt},
            id=_INGEST_RETRY_JOB,
            replace_existing=True,
            misfire_grace_time=None,
        )
        log.info("ingest: %s failed; retry %d in %s", ", ".join(failed), attempt, delay)


@asynccontextmanager
async def running_schedule(
    bot: Paperbot, schedule: ScheduleSettings
) -> AsyncIterator[DigestScheduler | None]:
    """The scheduler for the lifetime of the bot: enter once the posters are in `bot.posters`
    (starting settles crash leftovers by asking the platforms), leave to stop it. Nothing runs
    when `schedule.enabled` is off."""
    if not schedule.enabled:
        log.info("schedule disabled: no ingest or digest jobs in this process")
        yield None
        return
    scheduler = DigestScheduler(bot, schedule)
    await scheduler.start()
    try:
        yield scheduler
    finally:
        await scheduler.stop()
