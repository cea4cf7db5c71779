"""A digest header's list matches its thread: edits that failed for now are done later, ones
that cannot be done are left alone, and posts settled after the digest was finished get in."""

from __future__ import annotations

from delivery_helpers import KEY, LosesTheAnswer, Sleeps, matched, states

from paperbot.errors import PostError, PostNotSent
from paperbot.models import ChannelKey
from paperbot.service import Paperbot
from paperbot.testing import Posted, RecordingPoster


async def test_a_header_edit_that_fails_for_now_is_done_by_the_next_delivery(
    bot: Paperbot, poster: RecordingPoster
) -> None:
    ids = await matched(bot, count=3)
    bot.delivery.sleep = Sleeps()
    bot.delivery.retry_attempts = 1

    def second_fails_and_edits_are_refused(posted: Posted) -> Exception | None:
        if posted.kind == "item" and posted.paper_id == ids[1]:
            return PostError("HTTP 400")  # certainly not posted: queued again
        if posted.kind == "edit":
            return PostNotSent("connection refused")
        return None

    poster.fail = second_fails_and_edits_are_refused
    bot.delivery.policy.outage_budget = 0
    first = await bot.deliver_digest(KEY)
    assert sorted(first.posted) == [ids[0], ids[2]] and first.failed == [ids[1]]
    assert poster.edits == [] and len(bot.store.open_digests(KEY)) == 1  # list still wrong

    poster.fail = None
    [resumed] = await bot.delivery.resume_interrupted()
    assert resumed.posted == [ids[1]]  # into the same thread
    [header] = [p for p in poster.posts if p.kind == "header"]
    assert {p.thread for p in poster.posts if p.kind == "item"} == {header.message_id}
    assert poster.edits == [(header.message_id, [ids[0], ids[2], ids[1]])]
    assert bot.store.open_digests(KEY) == []
    assert any("Resumed" in p.text for p in poster.posts if p.kind == "reply")


async def test_a_header_that_cannot_be_edited_for_good_is_left_alone(
    bot: Paperbot, poster: RecordingPoster
) -> None:
    ids = await matched(bot, count=2)
    bot.delivery.sleep = Sleeps()
    bot.delivery.retry_attempts = 1

    def refused(posted: Posted) -> Exception | None:
        if posted.kind == "item" and posted.paper_id == ids[1]:
            return PostError("HTTP 400")
        if posted.kind == "edit":
            return PostError("Slack said message_not_found")  # someone deleted the header
        return None

    poster.fail = refused
    await bot.deliver_digest(KEY)
    assert bot.store.open_digests(KEY) == []  # not retried every sweep
    assert await bot.delivery.resume_interrupted() == []


class HistoryDownForNow(LosesTheAnswer):
    """Loses the answer of one post, and its history is unreadable for now (an outage)."""

    def __init__(self, lose: str) -> None:
        super().__init__(lose=lose, can_tell=True)
        self.history_down = True

    async def find_posted(
        self, channel: ChannelKey, paper_id: str, since: object, thread: str | None = None
    ) -> str | None:
        if self.history_down:
            raise PostError("cannot read history now: HTTP 503")
        return await super().find_posted(channel, paper_id, since, thread)


async def test_a_post_settled_after_its_digest_was_finished_gets_into_the_headers_list(
    bot: Paperbot,
) -> None:
    # Found by the chaos run: a header listed 0 papers while its thread held 6. The digest was
    # finished while posts of it were still pending (answers lost, history unreadable for
    # now), so its list left them out; the sweep later found them in the thread, but nothing
    # edited the finished digest's header again.
    ids = await matched(bot, count=3)
    bot.delivery.sleep = Sleeps()
    bot.delivery.policy.outage_budget = 0
    poster = HistoryDownForNow(lose=ids[1])
    bot.posters["console"] = poster
    first = await bot.deliver_digest(KEY)
    assert ids[1] not in first.posted and states(bot)[ids[1]] == "pending"
    [header] = [p for p in poster.posts if p.kind == "header"]
    assert poster.edits == [(header.message_id, [ids[0], ids[2]])]  # what is known so far

    poster.history_down = False  # the outage is over: the next sweep settles and corrects
    await bot.delivery.reconcile_all()
    await bot.delivery.resume_interrupted()
    assert states(bot) == dict.fromkeys(ids, "posted")
    assert sorted(poster.items()) == sorted(ids)  # nothing sent twice
    assert poster.edits[-1][0] == header.message_id
    assert sorted(poster.edits[-1][1]) == sorted(ids)
    assert bot.store.open_digests(KEY) == []
    # Nothing was posted by the correction, so the channel hears nothing about it.
    assert not any("Resumed" in p.text for p in poster.posts if p.kind == "reply")
