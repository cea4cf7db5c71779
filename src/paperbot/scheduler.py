"""The bot's clock: one ingest job, one digest job per channel at its own local hour, and a sweep.

The only module that imports APScheduler. Jobs live in memory: what must survive a restart (which
digest went out when, which posts are settled) lives in the database, and on start the scheduler
settles crash leftovers, posts a digest missed while the bot was down (once, within the grace) and
catches up a missed ingest. The sweep repeats that every few minutes, which also picks up channels
created or changed by another bot process sharing the database.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, time, timedelta, tzinfo
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from paperbot.errors import ConfigError
from paperbot.models import Channel, ChannelKey, ChannelSettings, DeliveryReport
from paperbot.roundup import WeeklyRoundups
from paperbot.slots import next_slot, previous_slot

if TYPE_CHECKING:
    from paperbot.service import IngestReport, Paperbot
    from paperbot.settings import ScheduleSettings

log = logging.getLogger(__name__)

INGEST_LOOKBACK = timedelta(days=2)
_INGEST_JOB, _INGEST_RETRY_JOB, _SWEEP_JOB = "ingest", "ingest-retry", "sweep"
# Papers another process stores (`paperbot ingest`, a second instance) become searchable within
# this long even when nobody searches (a search itself catches up first).
_SEARCH_REFRESH_JOB, SEARCH_REFRESH_SECONDS = "search-refresh", 30
ROUNDUP_INTERVAL = timedelta(minutes=5)


class DailyTrigger(BaseTrigger):  # type: ignore[misc]
    """Fires at a channel's local hour on its days: at most once per local date, DST included.

    Computed from the calendar instead of with a CronTrigger, whose 3.x version fires twice in
    an hour that happens twice and skips hour 0 on the day after clocks go forward (a test pins
    both). The same functions answer `paperbot status` and the catch-up, so all three agree.
    """

    def __init__(self, settings: ChannelSettings, lead: timedelta = timedelta(0)) -> None:
        self.settings = settings
        self.lead = lead  # fire this much before the hour, to prepare the digest
        self.timezone: tzinfo = ZoneInfo(settings.timezone)

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        # As CronTrigger: from the earlier of `now` and just after the previous fire, so that
        # APScheduler can see the fires it missed (and coalesce them).
        start = now
        if previous_fire_time is not None:
            start = min(now, previous_fire_time + _TICK)
            if start <= previous_fire_time:
                start = previous_fire_time + _TICK
        fire = next_slot(self.settings, start + self.lead)
        return None if fire is None else (fire - self.lead).astimezone(self.timezone)

    def __str__(self) -> str:
        days = ",".join(self.settings.digest_days)
        return f"daily {self.settings.digest_hour:02d}:00 {self.settings.timezone} on {days}"


_TICK = timedelta(microseconds=1)


def digest_trigger(
    settings: ChannelSettings, lead: timedelta = timedelta(0)
) -> DailyTrigger | None:
    """The channel's digest rule, or None when it chose no days."""
    return DailyTrigger(settings, lead) if settings.digest_days else None


def fire_times(trigger: BaseTrigger, start: datetime) -> Iterator[datetime]:
    fire = trigger.get_next_fire_time(None, start)
    while fire is not None:
        yield fire.astimezone(UTC)
        fire = trigger.get_next_fire_time(fire, fire)


def previous_fire(trigger: BaseTrigger, now: datetime, lookback: timedelta) -> datetime | None:
    """The latest fire time at or before `now`, looking back at most `lookback`."""
    tz = trigger.timezone
    # Start at a local midnight, so the first day's fire is never the second of a repeated hour.
    local_start = (now - lookback).astimezone(tz)
    start = datetime.combine(local_start.date(), time(0), tzinfo=tz)
    latest: datetime | None = None
    for fire in fire_times(trigger, start):
        if fire > now:
            break
        latest = fire
    return latest


def crontab_trigger(expr: str, timezone: str) -> CronTrigger:
    """A 5-field crontab in `timezone`; day-of-week numbers mean what crontab means by them."""
    fields = expr.split()
    if len(fields) != 5:
        raise ConfigError(f"setting schedule.ingest_cron: need 5 crontab fields, got {expr!r}")
    minute, hour, day, month, weekday = fields
    try:
        return CronTrigger(
            minute=minute,
            hour=hour,
            day=day,
            month=month,
            day_of_week=_crontab_weekdays(weekday),
            timezone=ZoneInfo(timezone),
        )
    except ValueError as exc:
        raise ConfigError(f"setting schedule.ingest_cron: {exc}") from None


_CRON_DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _crontab_weekdays(field: str) -> str:
    """Crontab counts from Sunday = 0 (or 7), APScheduler 3 from Monday = 0: translate numbers to
    names so `1-5` still means Monday to Friday."""
    if not any(ch.isdigit() for ch in field):
        return field  # `*` and day names mean the same to both
    refused = ConfigError(f"setting schedule.ingest_cron: cannot read weekdays {field!r}")
    days: list[int] = []
    for part in field.split(","):
        body, _, step = part.partition("/")
        if body == "*":
            low, high = 0, 6
        else:
            low_text, _, high_text = body.partition("-")
            if not low_text.isdigit() or (high_text and not high_text.isdigit()):
                raise refused
            low = int(low_text)
            high = int(high_text) if high_text else (6 if step else low)
        if (step and not step.isdigit()) or not 0 <= low <= high <= 7:
            raise refused
        days.extend(range(low, high + 1, int(step) if step else 1))
    return ",".join(dict.fromkeys(_CRON_DAY_NAMES[day] for day in days))


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
        self._signatures: dict[ChannelKey, tuple[Any, ...]] = {}
        self._fresh_for: datetime | None = None
        self._due_cache: tuple[datetime, datetime | None] | None = None
        self._ingest_task: asyncio.Task[IngestReport | None] | None = None
        self._running: set[asyncio.Task[Any]] = set()
        self._beyond_grace: set[tuple[ChannelKey, datetime]] = set()
        self.startup: asyncio.Task[Any] | None = None  # the catch-up run by `start`
        self.roundups = WeeklyRoundups(bot)

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
            self.startup = self._spawn(self.catch_up())

    async def stop(self, grace_seconds: float = 30.0) -> None:
        """Stop taking new jobs, give running digests `grace_seconds` to finish, cancel the rest
        (their unsent papers go back to 'retry'; a post in flight is settled on next start)."""
        if self.on_channel_changed in self.bot.channel_listeners:
            self.bot.channel_listeners.remove(self.on_channel_changed)
        if not self.aps.running:
            return
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
                await asyncio.wait(late, timeout=5)
        self.aps.shutdown(wait=False)
        await asyncio.sleep(0)  # AsyncIOScheduler shuts down on the next loop turn

    def _spawn(self, work: Awaitable[Any]) -> asyncio.Task[Any]:
        task: asyncio.Task[Any] = asyncio.ensure_future(work)
        self._running.add(task)
        task.add_done_callback(self._running.discard)
        return task

    # APScheduler runs these; each registers its task so `stop` can let it finish.

    async def _digest_job(self, key: ChannelKey) -> None:
        await self._spawn(self.run_digest(key))

    async def _ingest_job(self, attempt: int = 0) -> None:
        await self._spawn(self.run_ingest(attempt))

    async def _sweep_job(self) -> None:
        await self._spawn(self.sweep())

    async def _search_refresh_job(self) -> None:
        await self._spawn(self.bot.refresh_search())

    async def _roundup_job(self) -> None:
        await self._spawn(self.roundups.post_due())

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

    def ingest_due(self, now: datetime) -> datetime | None:
        """When the latest scheduled ingest was due: a digest after it wants its papers."""
        cached = self._due_cache
        if cached is not None and cached[0] <= now and (cached[1] is None or now < cached[1]):
            return cached[0]  # every digest of a fan-out asks; stepping a cron trigger is slow
        due = previous_fire(self.ingest_trigger, now, INGEST_LOOKBACK)
        if due is not None:
            self._due_cache = (due, self.ingest_trigger.get_next_fire_time(due, due))
        return due

    async def ingest_is_fresh(self, now: datetime) -> bool:
        """Whether every source was tried (successfully or not) since the last due ingest."""
        due = self.ingest_due(now)
        if due is None or not self.bot.sources:
            return True
        if self._fresh_for is not None and self._fresh_for >= due:
            return True
        stale = await self._stale_sources(due)
        if stale:
            return False
        self._fresh_for = due
        return True

    async def _stale_sources(self, due: datetime) -> list[str]:
        statuses = {s.source: s for s in await self.bot.blocking(self.bot.store.source_statuses)}
        stale = []
        for source in self.bot.sources:
            status = statuses.get(source.name)
            tried = (
                [t for t in (status.last_success_at, status.last_error_at) if t] if status else []
            )
            if not tried or max(tried) < due:
                stale.append(source.name)
        return stale

    async def wait_for_ingest(self, now: datetime) -> None:
        """Make sure the due ingest ran before a digest: run it, or wait (bounded) for the process
        that runs it. A source still untried after that is recorded as failed, so the digest
        names it as missing instead of silently leaving its papers out."""
        if await self.ingest_is_fresh(now):
            return
        try:
            report = await asyncio.wait_for(
                asyncio.shield(self._ingest_task_for(attempt=0)), self.ingest_wait.total_seconds()
            )
        except TimeoutError:
            log.warning("ingest still running after %s; the digest goes on", self.ingest_wait)
        except Exception:
            log.exception("ingest failed before a digest")
        else:
            if report is None:  # another process holds the ingest lease: wait for it, bounded
                for _ in range(max(1, int(self.ingest_wait.total_seconds() / self.poll_seconds))):
                    if await self.ingest_is_fresh(now):
                        return
                    await self.sleep(self.poll_seconds)
        due = self.ingest_due(now)
        if due is None or await self.ingest_is_fresh(now):
            return
        for name in await self._stale_sources(due):
            log.warning("source %s not fetched before the digest", name)
            await self.bot.blocking(
                self.bot.store.record_source_result, name, None, "not fetched before the digest"
            )

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
