"""The schedule on a controllable clock: rescheduling, ingest before digests,
downtime catch-up, two processes on one database, and `paperbot status`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from paperbot import commands
from paperbot.models import (
    ChannelKey,
    ChannelSettings,
    CommandContext,
    Digest,
    DigestItem,
)
from paperbot.ports import FetchResult
from paperbot.scheduler import DigestScheduler
from paperbot.search import SearchIndex
from paperbot.service import Paperbot
from paperbot.settings import ScheduleSettings
from paperbot.status import collect_status, render_status
from paperbot.store.coordination import Coordination
from paperbot.store.store import Store
from paperbot.testing import FakeSource, FixedClock, RecordingPoster, make_paper

KEY = ChannelKey("console", "local", "general")
BERLIN = ChannelSettings(timezone="Europe/Berlin", digest_hour=9)
TODAY = date(2026, 11, 20)  # a Friday; Berlin is on CET (UTC+1)
SLOT = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)  # 09:00 in Berlin


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


class Sleeps:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        await asyncio.sleep(0)


class DigestPoster(RecordingPoster):
    """Keeps the digests it was handed, so a test can read their missing-source line."""

    def __init__(self, delay: float = 0.0) -> None:
        super().__init__()
        self.digests: list[Digest] = []
        self.delay = delay

    async def post_header(self, channel: ChannelKey, digest: Digest) -> str:
        self.digests.append(digest)
        await asyncio.sleep(self.delay)
        return await super().post_header(channel, digest)

    async def post_item(
        self, channel: ChannelKey, digest: Digest, item: DigestItem, thread: str | None
    ) -> str:
        await asyncio.sleep(self.delay)
        return await super().post_item(channel, digest, item, thread)

    def headers(self, channel: ChannelKey | None = None) -> int:
        return sum(1 for p in self.posts if p.kind == "header" and channel in (None, p.channel))


def todays_papers(count: int = 3, prefix: str = "2611") -> list:  # type: ignore[type-arg]
    return [
        make_paper(f"Diffusion paper {n}", "Diffusion again.", arxiv_id=f"{prefix}.{n:05d}")
        for n in range(1, count + 1)
    ]


async def berlin_channel(bot: Paperbot, key: ChannelKey = KEY) -> None:
    await bot.subscribe(key, "diffusion", "U1")
    await bot.update_settings(key, timezone="Europe/Berlin", digest_hour=9)


LEAD = timedelta(seconds=30)  # digests are prepared this long before the hour


def fires_at(job: Any, after: datetime = datetime(2026, 11, 20, 9, tzinfo=UTC)) -> datetime:
    """When an APScheduler job fires next after `after` (not after the real clock's now)."""
    fire: datetime = job.trigger.get_next_fire_time(None, after)
    return fire.astimezone(UTC)


def make_scheduler(bot: Paperbot, **kwargs: object) -> DigestScheduler:
    options: dict[str, object] = {
        "ingest_wait": timedelta(seconds=2),
        "poll_seconds": 0.5,
        "sleep": Sleeps(),
    }
    options.update(kwargs)
    return DigestScheduler(bot, ScheduleSettings(), **options)  # type: ignore[arg-type]


@pytest.fixture
async def digests(bot: Paperbot) -> AsyncIterator[DigestPoster]:
    poster = DigestPoster()
    bot.posters["console"] = poster
    yield poster


# --- jobs follow the channels ---------------------------------------------------------------


async def test_a_settings_command_reschedules_the_digest_at_once(bot: Paperbot) -> None:
    await berlin_channel(bot)
    scheduler = make_scheduler(bot)
    await scheduler.start(paused=True)
    try:
        job = scheduler.aps.get_job(scheduler.job_id(KEY))
        assert job is not None
        assert fires_at(job) == utc(2026, 11, 23, 8) - LEAD
        ctx = CommandContext(KEY, "U1")
        reply = await commands.handle(bot, ctx, "settings timezone Asia/Tokyo")
        assert not reply.is_error
        await commands.handle(bot, ctx, "settings hour 7")
        job = scheduler.aps.get_job(scheduler.job_id(KEY))
        # 07:00 in Tokyo (UTC+9, no DST) is 22:00 UTC the day before.
        assert fires_at(job) == utc(2026, 11, 22, 22) - LEAD
        assert (job.next_run_time + LEAD).astimezone(job.trigger.timezone).hour == 7
        await commands.handle(bot, ctx, "settings days sat")
        job = scheduler.aps.get_job(scheduler.job_id(KEY))
        assert fires_at(job) == utc(2026, 11, 20, 22) - LEAD
        await commands.handle(bot, ctx, "settings pause")
        assert scheduler.aps.get_job(scheduler.job_id(KEY)) is None
        await commands.handle(bot, ctx, "settings resume")
        assert scheduler.aps.get_job(scheduler.job_id(KEY)) is not None
    finally:
        await scheduler.stop()
    assert scheduler.on_channel_changed not in bot.channel_listeners


async def test_the_sweep_picks_up_changes_made_by_another_process(
    bot: Paperbot, db_url: str, clock: FixedClock, search_index: SearchIndex
) -> None:
    await berlin_channel(bot)
    scheduler = make_scheduler(bot)
    await scheduler.start(paused=True)
    other_store = Store.open(db_url, clock=clock)
    try:
        other = Paperbot(other_store, search_index, clock=clock)
        new_key = ChannelKey("console", "local", "newcomer")
        await other.subscribe(new_key, "robots", "U2")
        await other.update_settings(KEY, digest_hour=11)
        await scheduler.sweep()
        job = scheduler.aps.get_job(scheduler.job_id(KEY))
        assert fires_at(job) == utc(2026, 11, 20, 10) - LEAD
        assert scheduler.aps.get_job(scheduler.job_id(new_key)) is not None
        # A Slack channel waits for this process to have a Slack connection.
        slack_key = ChannelKey("slack", "T1", "C1")
        await other.subscribe(slack_key, "robots", "U2")
        await scheduler.sweep()
        assert scheduler.aps.get_job(scheduler.job_id(slack_key)) is None
        bot.add_poster(RecordingPoster(platform="slack"))
        await scheduler.sweep()
        assert scheduler.aps.get_job(scheduler.job_id(slack_key)) is not None
    finally:
        other_store.close()
        await scheduler.stop()


# --- ingest ---------------------------------------------------------------------------------


async def test_a_failing_source_is_retried_with_backoff_then_left_to_the_next_run(
    bot: Paperbot,
) -> None:
    source = FakeSource("arxiv", {TODAY: todays_papers()}).failing("HTTP 429")
    bot.sources = [source]
    scheduler = make_scheduler(bot)
    await scheduler.start(paused=True)
    try:
        delays = []
        for attempt in range(5):
            report = await scheduler.run_ingest(attempt)
            assert report is not None and report.failed == {"arxiv": "HTTP 429"}
            retry = scheduler.aps.get_job("ingest-retry")
            if retry is None:
                break
            assert retry.kwargs == {"attempt": attempt + 1}
            delays.append(retry.trigger.run_date - bot.clock())
            retry.remove()  # as APScheduler does once a one-off job has run
        assert delays == [timedelta(minutes=m) for m in (10, 20, 40, 80)]
        assert scheduler.aps.get_job("ingest-retry") is None  # bounded: the cron tries tomorrow
        assert await bot.missing_sources() == ["arxiv"]
        source.fail_with = None
        await scheduler.run_ingest(1)
        assert await bot.missing_sources() == [] and bot.store.count_papers() == 3
        assert source.calls == [TODAY] * 6
    finally:
        await scheduler.stop()


async def test_a_digest_runs_the_due_ingest_first(
    bot: Paperbot, digests: DigestPoster, clock: FixedClock
) -> None:
    await berlin_channel(bot)
    source = FakeSource("arxiv", {TODAY: todays_papers()})
    bot.sources = [source]
    clock.now = SLOT + timedelta(seconds=5)
    report = await make_scheduler(bot).run_digest(KEY)
    assert source.calls == [TODAY]  # the 01:15 New York ingest had not run yet
    assert sorted(report.posted) == [p.arxiv_id for p in todays_papers()]
    # Fresh now: the next channel's digest does not fetch again.
    other = ChannelKey("console", "local", "second")
    await berlin_channel(bot, other)
    await make_scheduler(bot).run_digest(other)
    assert source.calls == [TODAY]


async def test_digests_are_prepared_ahead_and_posted_on_the_hour(
    bot: Paperbot, digests: DigestPoster, clock: FixedClock
) -> None:
    await berlin_channel(bot)
    bot.ingest_papers(todays_papers())
    seen: list[tuple[float, int, set[str]]] = []

    async def on_the_hour(seconds: float) -> None:  # what the delivery waits out
        ledger = {entry.state for entry in bot.store.ledger(KEY)}
        seen.append((seconds, len(digests.posts), ledger))
        clock.now += timedelta(seconds=seconds)

    bot.delivery.sleep = on_the_hour
    scheduler = make_scheduler(bot)
    clock.now = SLOT - LEAD  # when the job fires
    report = await scheduler.run_digest(KEY)
    # Built and reserved before the hour, nothing posted until it.
    assert seen == [(30.0, 0, {"pending"})]
    assert len(report.posted) == 3 and digests.headers() == 1
    assert (await bot.channel(KEY)).last_digest_at == SLOT - LEAD  # when it was built
    clock.now = SLOT + timedelta(minutes=1)
    assert await scheduler.catch_up() == []  # the slot counts as served
    again = await scheduler.run_digest(KEY)
    assert again.skipped_reason == "digest already delivered"


async def test_a_digest_names_the_source_that_failed(
    bot: Paperbot, digests: DigestPoster, clock: FixedClock
) -> None:
    await berlin_channel(bot)
    bot.sources = [
        FakeSource("arxiv", {TODAY: todays_papers()}),
        FakeSource("hf").failing("invalid JSON"),
    ]
    clock.now = SLOT
    report = await make_scheduler(bot).run_digest(KEY)
    assert len(report.posted) == 3
    assert digests.digests[0].missing_sources == ("hf",)


class HungSource:
    name = "hf"

    def __init__(self) -> None:
        self.release = asyncio.Event()

    async def fetch_day(self, day: date) -> FetchResult:
        await self.release.wait()
        return FetchResult(self.name, [])


async def test_a_hung_ingest_delays_the_digest_only_so_long(
    bot: Paperbot, digests: DigestPoster, clock: FixedClock
) -> None:
    await berlin_channel(bot)
    bot.ingest_papers(todays_papers())
    hung = HungSource()
    bot.sources = [hung]
    clock.now = SLOT
    scheduler = make_scheduler(bot, ingest_wait=timedelta(seconds=0.2))
    await scheduler.start(paused=True)
    try:
        report = await scheduler.run_digest(KEY)
        assert len(report.posted) == 3
        assert digests.digests[0].missing_sources == ("hf",)
    finally:
        hung.release.set()
        await scheduler.stop()


async def test_a_digest_waits_for_the_ingest_of_another_process(
    bot: Paperbot, digests: DigestPoster, clock: FixedClock
) -> None:
    await berlin_channel(bot)
    source = FakeSource("arxiv", {TODAY: todays_papers()})
    bot.sources = [source]
    clock.now = SLOT
    assert Coordination(bot.store).acquire("ingest", "otherhost/7/abc", timedelta(minutes=2))

    class OtherProcessFinishes(Sleeps):
        async def __call__(self, seconds: float) -> None:
            await super().__call__(seconds)
            if len(self.delays) == 2:  # the other process stores its papers and status
                bot.ingest_papers(todays_papers())
                bot.store.record_source_result("arxiv", 3, None)

    sleeps = OtherProcessFinishes()
    report = await make_scheduler(bot, sleep=sleeps).run_digest(KEY)
    assert source.calls == []  # not fetched twice
    assert len(sleeps.delays) == 2 and len(report.posted) == 3
    assert digests.digests[0].missing_sources == ()


# --- downtime -------------------------------------------------------------------------------


async def down_for_days(bot: Paperbot, clock: FixedClock, down_days: int) -> None:
    """A channel that had its last digest `down_days` ago, with papers matched since."""
    clock.now = SLOT - timedelta(days=down_days + 2)
    await berlin_channel(bot)
    clock.now = SLOT - timedelta(days=down_days)
    await bot.blocking(bot.store.set_last_digest, KEY, clock.now)
    for offset in range(down_days):
        clock.now = SLOT - timedelta(days=down_days - offset, hours=-1)
        bot.ingest_papers(todays_papers(prefix=f"26{11 + offset:02d}"))
        bot.store.record_source_result("arxiv", 3, None)


async def test_a_digest_missed_while_down_is_posted_once_on_start(
    bot: Paperbot, digests: DigestPoster, clock: FixedClock
) -> None:
    await down_for_days(bot, clock, 3)
    bot.sources = [FakeSource("arxiv", {TODAY: []})]
    clock.now = SLOT + timedelta(hours=2)  # back up two hours after today's digest hour
    scheduler = make_scheduler(bot)
    await scheduler.start()
    try:
        assert scheduler.startup is not None
        reports = await scheduler.startup
        assert len(reports) == 1 and len(reports[0].posted) == 9  # all three days' papers
        assert digests.headers() == 1  # one digest, not one per missed day
        assert await scheduler.catch_up() == []
        await scheduler.sweep()
        again = await scheduler.run_digest(KEY)  # the job firing late changes nothing either
        assert again.skipped_reason == "digest already delivered"
        assert digests.headers() == 1
    finally:
        await scheduler.stop()


async def test_a_digest_missed_beyond_the_grace_waits_for_the_next_slot(
    bot: Paperbot, digests: DigestPoster, clock: FixedClock
) -> None:
    await down_for_days(bot, clock, 1)
    bot.sources = [FakeSource("arxiv")]
    clock.now = SLOT + timedelta(hours=7)  # grace is 6 hours
    scheduler = make_scheduler(bot)
    assert await scheduler.catch_up() == []
    assert digests.posts == []
    clock.now = SLOT + timedelta(days=3, seconds=1)  # Monday's digest takes the papers
    report = await scheduler.run_digest(KEY)
    assert len(report.posted) == 3 and digests.headers() == 1


async def test_a_channel_created_after_its_hour_is_not_caught_up(
    bot: Paperbot, digests: DigestPoster, clock: FixedClock
) -> None:
    clock.now = SLOT + timedelta(minutes=30)
    await berlin_channel(bot)
    bot.ingest_papers(todays_papers())
    assert await make_scheduler(bot).catch_up() == []
    assert digests.posts == []


# --- more than one process ------------------------------------------------------------------


async def test_two_bot_processes_on_one_database_post_each_digest_once(
    db_url: str, clock: FixedClock, search_index: SearchIndex
) -> None:
    platform = DigestPoster(delay=0.005)
    stores = [Store.open(db_url, clock=clock), Store.open(db_url, clock=clock)]
    bots = [
        Paperbot(store, search_index, posters={"console": platform}, clock=clock)
        for store in stores
    ]
    keys = [ChannelKey("console", "local", f"c{n}") for n in range(4)]
    try:
        for key in keys:
            await berlin_channel(bots[0], key)
        schedulers = [make_scheduler(bot) for bot in bots]
        expected: set[str] = set()
        for round_ in range(3):  # three days, each racing again
            clock.now = SLOT + timedelta(days=round_ * 7, seconds=1)
            fresh = todays_papers(count=3, prefix=f"27{round_:02d}")
            bots[0].ingest_papers(fresh)
            expected |= {p.arxiv_id for p in fresh}
            runs = [s.run_digest(key) for key in keys for s in schedulers]
            reports = await asyncio.gather(*runs)
            for key in keys:
                assert sorted(platform.items(key)) == sorted(expected)  # nothing doubled
                assert platform.headers(key) == round_ + 1
                posted = [r for r in reports if r.channel == key and r.posted]
                assert len(posted) == 1
            assert await asyncio.gather(*(s.catch_up() for s in schedulers)) == [[], []]
    finally:
        for store in stores:
            store.close()


# Stopping: tests/core/test_shutdown.py.


# --- status ---------------------------------------------------------------------------------


async def test_status_shows_next_and_last_digest_pauses_and_sources(
    bot: Paperbot, clock: FixedClock
) -> None:
    await berlin_channel(bot)
    await bot.blocking(bot.store.set_last_digest, KEY, SLOT)
    gone = ChannelKey("console", "local", "gone")
    await bot.channel(gone)
    bot.store.pause_channel(gone, "channel_not_found")
    bot.store.record_source_result("arxiv", 42, None)
    bot.store.record_source_result("hf", None, "HTTP 503")
    bot.ingest_papers(todays_papers(count=1))
    bot.store.reserve_posts(KEY, ["2611.00001"], TODAY)
    bot.store.mark_post_uncertain(KEY, "2611.00001")
    status = collect_status(bot.store, ScheduleSettings(), SLOT + timedelta(minutes=30), ["hf"])
    by_key = {c.key: c for c in status.channels}
    assert by_key[KEY].next_digest_at == utc(2026, 11, 23, 8)  # Monday 09:00 Berlin
    assert by_key[KEY].last_digest_at == SLOT and not by_key[KEY].paused
    assert by_key[KEY].ledger == {"uncertain": 1} and by_key[KEY].needs_attention == 1
    assert by_key[gone].paused and by_key[gone].next_digest_at is None
    health = {s.name: s for s in status.sources}
    assert health["arxiv"].ok and health["arxiv"].last_count == 42
    assert not health["hf"].ok and health["hf"].last_success_at is None
    assert status.next_ingest_at == utc(2026, 11, 20, 11, 15)  # 06:15 New York
    text = render_status(status)
    assert "next digest Mon 2026-11-23 09:00 CET" in text
    assert "PAUSED (channel_not_found)" in text
    assert "1 uncertain, 0 pending post(s)" in text
    assert "hf       FAILING; last successful fetch never; last error: HTTP 503" in text
    assert "arxiv    ok; last successful fetch Fri 2026-11-20 08:00 UTC (42 papers)" in text
