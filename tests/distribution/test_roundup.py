"""The weekly roundup: off by default, set per channel (day and hour, channel time), one
message with the week's most voted and most matched papers, posted once per week however many
processes run, retried after a certain failure and never resent after an uncertain one."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from paperbot import commands
from paperbot.errors import PostError, PostOutcomeUnknown
from paperbot.models import ChannelKey, CommandContext, Reply
from paperbot.roundup import WeeklyRoundups, latest_slot
from paperbot.scheduler import DigestScheduler
from paperbot.service import Paperbot
from paperbot.settings import ScheduleSettings
from paperbot.testing import FixedClock, Posted, RecordingPoster, make_paper

KEY = ChannelKey("console", "local", "terminal")
OTHER = ChannelKey("console", "local", "quiet")


class KeepingPoster(RecordingPoster):
    """Keeps each Reply whole, to read the roundup's items back."""

    def __init__(self) -> None:
        super().__init__()
        self.sent_replies: list[Reply] = []

    async def post_reply(self, channel: ChannelKey, reply: Reply) -> str:
        message_id = await super().post_reply(channel, reply)
        self.sent_replies.append(reply)
        return message_id


@pytest.fixture
def poster() -> KeepingPoster:
    return KeepingPoster()


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


async def say(bot: Paperbot, text: str, key: ChannelKey = KEY) -> Reply:
    return await commands.handle(bot, CommandContext(key, "U1"), text)


def roundups(poster: RecordingPoster) -> list[Posted]:
    return [p for p in poster.posts if p.kind == "reply"]


def test_the_latest_slot_is_in_the_channels_own_time() -> None:
    friday_evening = utc(2026, 11, 20, 17, 30)  # a Friday
    assert latest_slot("fri", 16, "UTC", friday_evening) == utc(2026, 11, 20, 16)
    assert latest_slot("fri", 18, "UTC", friday_evening) == utc(2026, 11, 13, 18)
    assert latest_slot("mon", 9, "UTC", friday_evening) == utc(2026, 11, 16, 9)
    # 16:00 in Berlin is 15:00 UTC in winter; in Tokyo (UTC+9) Saturday has begun already.
    assert latest_slot("fri", 16, "Europe/Berlin", friday_evening) == utc(2026, 11, 20, 15)
    assert latest_slot("sat", 1, "Asia/Tokyo", friday_evening) == utc(2026, 11, 20, 16)


async def test_the_setting_is_off_by_default_and_typed_as_a_day_and_hour(bot: Paperbot) -> None:
    assert "roundup off" in (await say(bot, "settings")).text
    set_reply = await say(bot, "settings roundup Friday 16")
    assert not set_reply.is_error
    assert "weekly roundup to fri 16:00 (UTC)" in set_reply.text
    assert "roundup fri 16:00" in (await say(bot, "settings")).text
    for bad in ("roundup someday", "roundup fri 25", "roundup fri at 4pm", "roundup"):
        refused = await say(bot, f"settings {bad}")
        assert refused.is_error and "\n" not in refused.text, bad
    assert "roundup fri 16:00" in (await say(bot, "settings")).text  # refusals changed nothing
    assert "turned the weekly roundup off" in (await say(bot, "settings roundup off")).text
    assert "roundup off" in (await say(bot, "settings")).text
    member = await commands.handle(
        bot, CommandContext(KEY, "U2", can_manage=False), "settings roundup fri 9"
    )
    assert member.is_error


async def the_week(bot: Paperbot, poster: KeepingPoster, clock: FixedClock) -> dict[str, str]:
    """A week in the channel: three subscriptions, papers matching one to three of them, and
    votes on two; returns paper ids by name."""
    for query in ("diffusion", "robot", "cat:cs.RO"):
        await say(bot, f"subscribe {query}")
    papers = {
        "triple": make_paper("Diffusion policies for robot arms", "x", categories=("cs.RO",)),
        "double": make_paper("Robot hands", "x", categories=("cs.RO",)),
        "single": make_paper("Diffusion in pixels", "x"),
        "liked": make_paper("Diffusion of taste", "x"),
    }
    await bot.blocking(bot.ingest_papers, list(papers.values()))
    await bot.deliver_digest(KEY)
    ids = {name: p.arxiv_id for name, p in papers.items()}
    message = {p.paper_id: p.message_id for p in poster.posts if p.kind == "item"}
    for user in ("U1", "U2"):
        await bot.record_vote(KEY, message[ids["liked"]], user, 1)
    await bot.record_vote(KEY, message[ids["single"]], "U3", 1)
    return ids


async def test_one_message_voted_first_then_matched_once_a_week(
    bot: Paperbot, poster: KeepingPoster, clock: FixedClock
) -> None:
    ids = await the_week(bot, poster, clock)
    await say(bot, "settings roundup fri 16")
    weekly = WeeklyRoundups(bot)
    assert await weekly.post_due() == []  # Friday 08:00: not yet
    posted_before = len(poster.posts)
    clock.now = utc(2026, 11, 20, 16, 3)
    [result] = await weekly.post_due()
    assert result.outcome == "posted"
    assert len(poster.posts) == posted_before + 1  # one message
    reply = poster.sent_replies[-1]
    assert reply.title == "Weekly roundup, 13 Nov–20 Nov 2026"
    assert [item.paper.arxiv_id for item in reply.items] == [
        ids["liked"],  # +2
        ids["single"],  # +1
        ids["triple"],  # 3 subscriptions
        ids["double"],  # 2 subscriptions
    ]
    assert (
        reply.text == "1–2: voted up most; 3–4: matched the most of this channel's subscriptions."
    )
    assert await weekly.post_due() == []  # this week's is done
    clock.now = utc(2026, 11, 27, 16, 1)
    [next_week] = await weekly.post_due()
    assert next_week.outcome == "empty"  # nothing new voted or matched in that week


async def test_two_processes_post_it_once(
    bot: Paperbot, poster: KeepingPoster, clock: FixedClock
) -> None:
    await the_week(bot, poster, clock)
    await say(bot, "settings roundup fri 16")
    clock.now = utc(2026, 11, 20, 16, 3)
    first, second = WeeklyRoundups(bot), WeeklyRoundups(bot)
    results = [*await first.post_due(), *await second.post_due()]
    assert [r.outcome for r in results] == ["posted"]
    assert len(roundups(poster)) == 1


async def test_a_failed_post_is_tried_again_and_an_uncertain_one_is_not(
    bot: Paperbot, poster: KeepingPoster, clock: FixedClock
) -> None:
    await the_week(bot, poster, clock)
    await say(bot, "settings roundup fri 16")
    clock.now = utc(2026, 11, 20, 16, 3)
    weekly = WeeklyRoundups(bot)
    poster.fail = lambda posted: (
        PostError("Slack said internal_error") if posted.kind == "reply" else None
    )
    assert [r.outcome for r in await weekly.post_due()] == ["failed"]
    poster.fail = None
    assert [r.outcome for r in await weekly.post_due()] == ["posted"]
    clock.now = utc(2026, 11, 27, 16, 3)
    await bot.record_vote(KEY, poster.posts[1].message_id, "U9", 1)  # a vote this week
    poster.fail = lambda posted: PostOutcomeUnknown("timeout") if posted.kind == "reply" else None
    assert [r.outcome for r in await weekly.post_due()] == ["uncertain"]
    poster.fail = None
    assert await weekly.post_due() == []  # it may be in the channel: never twice


async def test_a_roundup_missed_for_long_waits_for_next_week(
    bot: Paperbot, poster: KeepingPoster, clock: FixedClock
) -> None:
    await the_week(bot, poster, clock)
    await say(bot, "settings roundup fri 16")
    clock.now = utc(2026, 11, 21, 12)  # the bot was down from Friday afternoon to Saturday noon
    assert [r.outcome for r in await WeeklyRoundups(bot).post_due()] == ["stale"]
    assert roundups(poster) == []


async def test_the_scheduler_runs_the_roundup_pass(bot: Paperbot) -> None:
    scheduler = DigestScheduler(bot, ScheduleSettings())
    await scheduler.start(paused=True)
    try:
        assert scheduler.aps.get_job("roundups") is not None
    finally:
        await scheduler.stop()
