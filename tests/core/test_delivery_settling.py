"""Posts that may have arrived are settled by asking the platform: a crash's leftovers, answers
lost on the way back, platforms that cannot tell (then nothing is sent again)."""

from __future__ import annotations

from delivery_helpers import KEY, LosesTheAnswer, Sleeps, crash_leftovers, matched, states

from paperbot.errors import CannotTell, PostError, PostOutcomeUnknown
from paperbot.models import ChannelKey
from paperbot.service import Paperbot
from paperbot.testing import Posted, RecordingPoster


async def test_reconcile_completes_what_the_platform_has_and_retries_what_it_has_not(
    bot: Paperbot, poster: RecordingPoster
) -> None:
    ids = await matched(bot, count=3)
    await crash_leftovers(bot, ids)
    # The first post reached the platform just before the crash.
    poster.posts.append(Posted(KEY, "item", "m-before-crash", ids[0]))
    report = await bot.delivery.reconcile_channel(KEY, poster)
    assert report.confirmed == [ids[0]] and sorted(report.retry) == ids[1:]
    ledger = {e.paper_id: e for e in bot.store.ledger(KEY)}
    assert ledger[ids[0]].state == "posted" and ledger[ids[0]].message_id == "m-before-crash"
    digest = await bot.deliver_digest(KEY)
    assert sorted(digest.posted) == ids[1:]
    assert sorted(poster.items()) == ids  # nothing doubled, nothing lost


class BlindPoster(RecordingPoster):
    """A platform that cannot list its history."""

    async def find_posted(
        self, channel: ChannelKey, paper_id: str, since: object, thread: str | None = None
    ) -> str | None:
        raise CannotTell("no history access")


async def test_when_the_platform_cannot_tell_nothing_is_resent(bot: Paperbot) -> None:
    blind = BlindPoster()
    bot.posters["console"] = blind
    ids = await matched(bot, count=3)
    await crash_leftovers(bot, ids)
    report = await bot.deliver_digest(KEY)  # reconciles under the lease first
    assert report.posted == [] and blind.items() == []
    assert set(states(bot).values()) == {"uncertain"}
    await bot.deliver_digest(KEY)
    assert blind.items() == []  # uncertain is final until a person looks


class DownPoster(RecordingPoster):
    async def find_posted(
        self, channel: ChannelKey, paper_id: str, since: object, thread: str | None = None
    ) -> str | None:
        raise PostError("HTTP 503")


async def test_an_unanswered_question_leaves_the_intent_pending(bot: Paperbot) -> None:
    down = DownPoster()
    bot.posters["console"] = down
    ids = await matched(bot, count=2)
    await crash_leftovers(bot, ids)
    report = await bot.delivery.reconcile_channel(KEY, down)
    assert sorted(report.unresolved) == ids
    assert set(states(bot).values()) == {"pending"}
    assert await bot.delivery.reconcile_all() != []  # asked again on the next sweep


async def test_a_post_whose_answer_was_lost_is_found_not_resent(bot: Paperbot) -> None:
    ids = await matched(bot)
    poster = LosesTheAnswer(lose=ids[1], can_tell=True)
    bot.posters["console"] = poster
    report = await bot.deliver_digest(KEY)
    assert sorted(report.posted) == sorted(ids)
    assert sorted(poster.items()) == sorted(ids)  # each paper reached the platform once
    entry = next(e for e in bot.store.ledger(KEY) if e.paper_id == ids[1])
    posted_id = next(p.message_id for p in poster.posts if p.paper_id == ids[1])
    assert (entry.state, entry.message_id) == ("posted", posted_id)


async def test_when_the_platform_cannot_tell_the_paper_is_uncertain_not_resent(
    bot: Paperbot,
) -> None:
    ids = await matched(bot)
    poster = LosesTheAnswer(lose=ids[1], can_tell=False)
    bot.posters["console"] = poster
    report = await bot.deliver_digest(KEY)
    assert report.uncertain == [ids[1]] and report.failed == []
    assert states(bot)[ids[1]] == "uncertain"
    await bot.deliver_digest(KEY, force_post=True)
    assert sorted(poster.items()) == sorted(ids)  # the uncertain one was never sent again


async def test_a_post_that_may_have_arrived_is_asked_about_and_sent_again_only_if_absent(
    bot: Paperbot, poster: RecordingPoster
) -> None:
    ids = await matched(bot, count=2)
    sent: list[str] = []

    def lost_answer(posted: Posted) -> Exception | None:
        if posted.kind == "item" and posted.paper_id not in sent:
            sent.append(posted.paper_id or "")
            if posted.paper_id == ids[0]:
                poster.posts.append(posted)  # it did arrive; the answer was lost
            return PostOutcomeUnknown("read timeout")
        return None

    poster.fail = lost_answer
    bot.delivery.sleep = Sleeps()
    report = await bot.deliver_digest(KEY)
    assert sorted(report.posted) == ids
    assert sorted(poster.items()) == ids  # the first found, the second sent again: once each
