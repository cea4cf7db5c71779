"""When things fire: a channel's daily digest rule, and crontab for the ingest.

Part of the scheduler (with `scheduler.py`, the only modules that import APScheduler): the rules
are pure calendar arithmetic, shared by the running jobs, `paperbot status` and the catch-up.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger

from paperbot.errors import ConfigError
from paperbot.models import ChannelSettings
from paperbot.slots import next_slot


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
