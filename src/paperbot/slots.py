"""When a channel's digests are due: pure calendar rules, shared by the scheduler, the catch-up
after downtime and `paperbot status`, so all three agree (DST included)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from paperbot.models import WEEKDAYS, ChannelSettings

__all__ = ["next_digest_at", "next_slot", "previous_slot", "slot_on"]


def slot_on(day: date, settings: ChannelSettings) -> datetime:
    """The digest time of a local date, in UTC. In an hour that happens twice (clocks going
    back) it is the first; in an hour that does not happen (clocks going forward) the wall time
    is read with the offset before the change, i.e. it falls just after the gap."""
    local = datetime.combine(day, time(settings.digest_hour), tzinfo=ZoneInfo(settings.timezone))
    return local.astimezone(UTC)


def next_slot(settings: ChannelSettings, start: datetime) -> datetime | None:
    """The first digest time at or after `start`, whether or not the channel is paused."""
    today = start.astimezone(ZoneInfo(settings.timezone)).date()
    for ahead in range(8):
        day = today + timedelta(days=ahead)
        if WEEKDAYS[day.weekday()] in settings.digest_days:
            slot = slot_on(day, settings)
            if slot >= start:
                return slot
    return None


def previous_slot(settings: ChannelSettings, now: datetime) -> datetime | None:
    """When the channel's most recent digest was due (UTC), at or before `now`."""
    today = now.astimezone(ZoneInfo(settings.timezone)).date()
    for back in range(8):
        day = today - timedelta(days=back)
        if WEEKDAYS[day.weekday()] in settings.digest_days:
            slot = slot_on(day, settings)
            if slot <= now:
                return slot
    return None


def next_digest_at(settings: ChannelSettings, now: datetime) -> datetime | None:
    """When the channel's next digest is due (UTC); None when paused or on no day."""
    return None if settings.paused else next_slot(settings, now)
