"""Delivery when posts fail: retries with backoff, outages waited out, stopping mid-wait,
channels paused or broken without stopping the others, and what a digest holds."""

from __future__ import annotations

import asyncio
import logging

import pytest
from delivery_helpers import KEY, Sleeps, matched, states

from paperbot.errors import ChannelUnavailable, PostError, PostNotSent
from paperbot.models import ChannelKey, Digest, DigestItem
from paperbot.service import Paperbot
from paperbot.testing import FixedClock, Posted, RecordingPoster, make_paper


async def test_a_failed_post_is_retried_with_backoff_within_the_digest(
    bot: Paperbot, poster: RecordingPoster
) -> None:
    ids = await matched(bot)
    attempts: list[str] = []

    def fail_twice(posted: Posted) -> Exception | None:
        if posted.paper_id == ids[1]:
            attempts.append(posted.paper_id)
            return PostError("HTTP 503") if len(attempts) <= 2 else None
        return None

    poster.fail = fail_twice
    bot.delivery.sleep = sleeps = Sleeps()
    report = await bot.deliver_digest(KEY)
    assert sorted(report.posted) == ids and report.failed == []
    assert len(attempts) == 3 and sleeps.delays == [2.0, 4.0]
    assert sorted(poster.items()) == ids
    assert set(states(bot).values()) == {"posted"}


async def test_a_post_that_keeps_failing_is_left_for_the_next_digest(
    bot: Paperbot, poster: RecordingPoster
) -> None:
    ids = await matched(bot)
    tries: list[str] = []

    def always(posted: Posted) -> Exception | None:
        if posted.paper_id == ids[0]:
            tries.append(posted.paper_id)
            return PostError("HTTP 500")
        return None

    poster.fail = always
    bot.delivery.sleep = Sleeps()
    first = await bot.deliver_digest(KEY)
    assert first.failed == [ids[0]] and sorted(first.posted) == ids[1:]
    assert len(tries) == bot.delivery.retry_attempts == 3
    assert states(bot)[ids[0]] == "retry"
    poster.fail = None
    second = await bot.deliver_digest(KEY)
    assert second.posted == [ids[0]]
    assert sorted(poster.items()) == ids  # each exactly once


async def test_a_header_that_keeps_failing_leaves_the_slot_open(
    bot: Paperbot, poster: RecordingPoster
) -> None:
    ids = await matched(bot)
    poster.fail = lambda posted: PostError("HTTP 502") if posted.kind == "header" else None
    bot.delivery.sleep = Sleeps()
    report = await bot.deliver_digest(KEY)
    assert sorted(report.failed) == ids and poster.posts == []
    assert set(states(bot).values()) == {"retry"}
    # No digest went out, so the channel's last digest stays where it was: catch-up retries it.
    assert (await bot.channel(KEY)).last_digest_at is None


async def test_a_platform_that_refuses_connections_is_waited_out_like_a_rate_limit(
    bot: Paperbot, poster: RecordingPoster
) -> None:
    ids = await matched(bot)
    refused: list[str] = []

    def outage(posted: Posted) -> Exception | None:
        if posted.kind == "item" and len(refused) < 6:
            refused.append(posted.paper_id or "")
            return PostNotSent("connection refused")
        return None

    poster.fail = outage
    bot.delivery.sleep = sleeps = Sleeps()
    report = await bot.deliver_digest(KEY)
    assert sorted(report.posted) == ids and report.failed == [] and report.uncertain == []
    assert len(refused) == 6 > bot.delivery.retry_attempts  # not limited to the 3 attempts
    assert sleeps.delays == [2.0, 4.0, 8.0, 16.0, 30.0, 30.0]  # capped exponential backoff
    assert sorted(poster.items()) == ids


async def test_shutting_down_ends_an_outage_wait_and_queues_the_paper_again(
    bot: Paperbot, poster: RecordingPoster
) -> None:
    ids = await matched(bot, count=2)
    poster.fail = lambda posted: PostNotSent("refused") if posted.kind == "item" else None
    forever = asyncio.get_running_loop().create_future()

    async def never_wakes(seconds: float) -> None:
        await forever  # only stop_waiting can end this wait

    bot.delivery.sleep = never_wakes
    task = asyncio.create_task(bot.deliver_digest(KEY))
    await asyncio.sleep(0.2)
    assert not task.done()
    bot.delivery.stop_waiting()
    report = await asyncio.wait_for(task, 30)
    assert report.failed == [ids[0]] and report.posted == []
    assert report.skipped_reason == "interrupted by shutdown"  # the second was never tried
    assert set(states(bot).values()) == {"retry"}  # certainly not posted: queued again


async def test_one_channel_failing_never_stops_the_others(
    bot: Paperbot, poster: RecordingPoster, caplog: pytest.LogCaptureFixture
) -> None:
    gone_key = ChannelKey("console", "local", "gone")
    broken_key = ChannelKey("console", "local", "broken")
    ids = await matched(bot)
    for key in (gone_key, broken_key):
        await bot.subscribe(key, "diffusion", "U1")  # also matches the papers already stored

    def per_channel(posted: Posted) -> Exception | None:
        if posted.channel == gone_key:
            return ChannelUnavailable("channel_not_found")
        if posted.channel == broken_key and posted.kind == "item":
            return RuntimeError("bug in an adapter")
        return None

    poster.fail = per_channel
    caplog.set_level(logging.WARNING, logger="paperbot.delivery")
    reports = {r.channel: r for r in await bot.delivery.deliver_many([gone_key, broken_key, KEY])}
    assert sorted(reports[KEY].posted) == ids
    assert reports[gone_key].paused and (await bot.channel(gone_key)).settings.paused
    assert (reports[broken_key].skipped_reason or "").startswith("failed")
    # The broken channel's intents stayed pending; the next run settles them (the platform
    # says they never arrived) and posts them, once.
    assert set(states(bot, broken_key).values()) == {"pending"}

    def only_gone(posted: Posted) -> Exception | None:
        return ChannelUnavailable("channel_not_found") if posted.channel == gone_key else None

    poster.fail = only_gone
    again = {r.channel: r for r in await bot.delivery.deliver_many([gone_key, broken_key, KEY])}
    assert sorted(again[broken_key].posted) == ids
    assert sorted(poster.items(broken_key)) == ids and sorted(poster.items(KEY)) == ids
    assert "paused" in (again[gone_key].skipped_reason or "")
    paused_lines = [r for r in caplog.records if "paused digests" in r.getMessage()]
    assert len(paused_lines) == 1  # reported once, not on every digest


class IngestingPoster(RecordingPoster):
    """A new matching paper arrives (an ingest runs) while the digest is being posted."""

    def __init__(self, bot: Paperbot, clock: FixedClock) -> None:
        super().__init__()
        self.bot, self.clock = bot, clock

    async def post_item(
        self, channel: ChannelKey, digest: Digest, item: DigestItem, thread: str | None
    ) -> str:
        if not self.items():
            self.clock.advance(minutes=1)
            self.bot.ingest_papers([make_paper("Late diffusion", "x", arxiv_id="2611.09999")])
            self.clock.advance(minutes=1)
        return await super().post_item(channel, digest, item, thread)


async def test_a_paper_matched_during_a_digest_goes_in_the_next_one(
    bot: Paperbot, clock: FixedClock
) -> None:
    poster = IngestingPoster(bot, clock)
    bot.posters["console"] = poster
    ids = await matched(bot, count=2)
    built_at = clock.now
    first = await bot.deliver_digest(KEY)
    assert sorted(first.posted) == ids
    assert (await bot.channel(KEY)).last_digest_at == built_at
    second = await bot.deliver_digest(KEY)
    assert second.posted == ["2611.09999"]


class BrokenBuilder:
    """Building the digest fails (a bug), in the process that asked for it."""

    async def build(self, *args: object, **kwargs: object) -> Digest:
        raise RuntimeError("bug in building")


async def test_a_requested_digest_that_fails_while_built_is_answered_once(
    bot: Paperbot, poster: RecordingPoster
) -> None:
    # The request's record opens before building (so a crash there still answers it later);
    # a failure the caller sees and answers itself must not leave it open for a second answer.
    await matched(bot)
    builder = bot.delivery.builder
    bot.delivery.builder = BrokenBuilder()  # type: ignore[assignment]
    with pytest.raises(RuntimeError):
        await bot.deliver_digest(KEY, force_post=True, reply_to="https://answers.invalid/1")
    assert bot.store.open_digests(KEY) == []
    bot.delivery.builder = builder
    assert await bot.delivery.resume_interrupted() == []
    assert poster.answers == [] and poster.posts == []
