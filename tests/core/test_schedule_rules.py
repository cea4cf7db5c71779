"""The schedule's rules, without a bot: digest times in each channel's zone across DST changes
(checked against APScheduler's own CronTrigger all year), the latest due slot, and the ingest's
crontab."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta

import pytest
from apscheduler.triggers.cron import CronTrigger

from paperbot.errors import ConfigError
from paperbot.models import WEEKDAYS, ChannelSettings
from paperbot.scheduler import crontab_trigger, digest_trigger, fire_times
from paperbot.slots import next_digest_at, previous_slot

BERLIN = ChannelSettings(timezone="Europe/Berlin", digest_hour=9)
SLOT = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)  # 09:00 in Berlin


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def test_digest_times_follow_each_channel_zone_across_dst_changes() -> None:
    berlin = ChannelSettings(timezone="Europe/Berlin", digest_hour=9)
    # Fri 26 Mar 2027 (CET) -> the weekend is skipped -> Mon 29 Mar (CEST since the 28th).
    assert next_digest_at(berlin, utc(2027, 3, 25, 12)) == utc(2027, 3, 26, 8)
    assert next_digest_at(berlin, utc(2027, 3, 26, 12)) == utc(2027, 3, 29, 7)
    new_york = ChannelSettings(timezone="America/New_York", digest_hour=9)
    assert next_digest_at(new_york, utc(2027, 3, 11, 15)) == utc(2027, 3, 12, 14)  # EST
    assert next_digest_at(new_york, utc(2027, 3, 12, 15)) == utc(2027, 3, 15, 13)  # EDT
    weekend = ChannelSettings(digest_days=("sat",), digest_hour=7)
    assert next_digest_at(weekend, utc(2027, 3, 26, 12)) == utc(2027, 3, 27, 7)
    assert next_digest_at(ChannelSettings(paused=True), utc(2027, 3, 26)) is None
    assert digest_trigger(ChannelSettings(digest_days=())) is None


def test_the_hour_repeated_when_clocks_go_back_gives_one_digest() -> None:
    trigger = digest_trigger(
        ChannelSettings(timezone="Europe/Berlin", digest_hour=2, digest_days=("sat", "sun"))
    )
    assert trigger is not None
    fires = []
    for fire in fire_times(trigger, utc(2027, 10, 29)):
        if fire > utc(2027, 11, 1):
            break
        fires.append(fire)
    # 02:00 happens twice on Sun 31 Oct 2027 in Berlin; the team gets one digest, at the first.
    assert fires == [utc(2027, 10, 30, 0), utc(2027, 10, 31, 0)]


def cron_fires(settings: ChannelSettings, start: datetime, end: datetime) -> list[datetime]:
    """APScheduler's own CronTrigger, once per local date: the reference for ordinary hours."""
    cron = CronTrigger(hour=settings.digest_hour, minute=0, timezone=settings.timezone)
    fires: list[datetime] = []
    fire = cron.get_next_fire_time(None, start)
    while fire <= end:
        if (
            not fires
            or fire.astimezone(cron.timezone).date() != fires[-1].astimezone(cron.timezone).date()
        ):
            fires.append(fire.astimezone(UTC))
        fire = cron.get_next_fire_time(fire, fire)
    return fires


@pytest.mark.parametrize(
    "zone", ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata"]
)
def test_slots_agree_with_apscheduler_all_year_and_step_without_gaps(zone: str) -> None:
    start, end = utc(2026, 1, 1), utc(2027, 1, 2)
    tick = timedelta(microseconds=1)
    for hour in (1, 2, 3, 9, 23):
        settings = ChannelSettings(timezone=zone, digest_hour=hour, digest_days=WEEKDAYS)
        trigger = digest_trigger(settings)
        assert trigger is not None
        fires = []
        for fire in fire_times(trigger, start):
            if fire > end:
                break
            fires.append(fire)
        assert fires == cron_fires(settings, start, end)
        for before, fire, after in zip(fires, fires[1:], fires[2:], strict=False):
            assert previous_slot(settings, fire) == fire
            assert previous_slot(settings, fire - tick) == before
            assert next_digest_at(settings, fire + tick) == after


def test_midnight_digests_survive_the_day_clocks_go_forward() -> None:
    # APScheduler 3.11's CronTrigger skips these (the day after the change); ours does not.
    for zone, day in (("Europe/Berlin", 30), ("America/New_York", 9)):
        settings = ChannelSettings(timezone=zone, digest_hour=0, digest_days=WEEKDAYS)
        trigger = digest_trigger(settings)
        assert trigger is not None
        fires = zip(fire_times(trigger, utc(2026, 3, day - 3)), range(5), strict=False)
        local_days = [fire.astimezone(trigger.timezone).date() for fire, _ in fires]
        assert [(b - a).days for a, b in itertools.pairwise(local_days)] == [1, 1, 1, 1]
        assert date(2026, 3, day) in local_days


def test_previous_slot_is_the_latest_due_digest() -> None:
    assert previous_slot(BERLIN, utc(2026, 11, 20, 7, 59)) == utc(2026, 11, 19, 8)
    assert previous_slot(BERLIN, SLOT) == SLOT
    # Monday morning before the hour: the last one was Friday.
    assert previous_slot(BERLIN, utc(2026, 11, 23, 6)) == SLOT


def test_ingest_crontab_weekdays_mean_what_crontab_means() -> None:
    weekdays = crontab_trigger("0 9 * * 1-5", "UTC")
    fires = [
        f.strftime("%a")
        for f, _ in zip(fire_times(weekdays, utc(2026, 11, 20)), range(5), strict=False)
    ]
    assert fires == ["Fri", "Mon", "Tue", "Wed", "Thu"]
    sunday = crontab_trigger("0 9 * * 0", "UTC")
    assert next(fire_times(sunday, utc(2026, 11, 20))).strftime("%a") == "Sun"
    assert next(fire_times(crontab_trigger("0 9 * * 7", "UTC"), utc(2026, 11, 20))).weekday() == 6
    named = crontab_trigger("0 9 * * sat", "UTC")
    assert next(fire_times(named, utc(2026, 11, 20))).strftime("%a") == "Sat"
    for bad in ("0 9 * *", "0 9 * * 1-9", "0 9 * * mon-3", "61 9 * * *"):
        with pytest.raises(ConfigError):
            crontab_trigger(bad, "UTC")
