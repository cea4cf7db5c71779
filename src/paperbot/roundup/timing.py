"""When a weekly roundup is due: the latest weekday-and-hour slot, in the channel's zone."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from paperbot.models import WEEKDAYS


def latest_slot(weekday: str, hour: int, timezone: str, now: datetime) -> datetime:
    """The most recent `weekday` at `hour:00` (channel time) at or before `now`, in UTC."""
    zone = ZoneInfo(timezone)
    local = now.astimezone(zone)
    back = (local.weekday() - WEEKDAYS.index(weekday)) % 7
    day = local.date() - timedelta(days=back)
    slot = datetime.combine(day, time(hour), tzinfo=zone)
    if slot > local:
        slot = datetime.combine(day - timedelta(days=7), time(hour), tzinfo=zone)
    return slot.astimezone(UTC)
