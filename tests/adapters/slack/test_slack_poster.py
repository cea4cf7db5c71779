"""SlackPoster against the fake Web API: threads, metadata, rate limits, errors, history."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime

import pytest
from fake_slack import BOT_TOKEN, FIRST_TS, FakeSlack
from slack_sdk.web.async_client import AsyncWebClient

from paperbot.adapters.slack.poster import ChannelPacer, SlackPoster, retry_handlers
from paperbot.errors import CannotTell, ChannelUnavailable, PostError, PostNotSent
from paperbot.models import ChannelKey, Digest, DigestItem, Reply
from paperbot.testing import make_paper

KEY = ChannelKey("slack", "T0PAPERS1", "C0RESEARCH")
DAY = date(2026, 11, 20)
LONG_AGO = datetime(2024, 1, 1, tzinfo=UTC)


def poster_for(fake: FakeSlack, retries: int = 3, base_url: str | None = None) -> SlackPoster:
    client = AsyncWebClient(
        token=BOT_TOKEN,
        base_url=base_url or fake.base_url,
        retry_handlers=retry_handlers(retries),
    )
    return SlackPoster(client, ChannelPacer(0))


@pytest.fixture
async def poster(fake_slack: FakeSlack) -> AsyncIterator[SlackPoster]:
    yield poster_for(fake_slack)


def digest_of(*ids: str) -> Digest:
    items = tuple(DigestItem(make_paper(f"Paper {i}", arxiv_id=i)) for i in ids)
    return Digest(KEY, DAY, items)


async def post_digest(poster: SlackPoster, digest: Digest, threaded: bool = True) -> list[str]:
    header = await poster.post_header(KEY, digest)
    thread = header if threaded else None
    return [header] + [await poster.post_item(KEY, digest, i, thread) for i in digest.items]


async def test_items_go_in_the_headers_thread_tagged_with_their_paper(
    poster: SlackPoster, fake_slack: FakeSlack
) -> None:
    digest = digest_of("2611.00001", "2611.00002")
    ids = await post_digest(poster, digest)
    assert ids == [f"{FIRST_TS}.000100", f"{FIRST_TS}.000200", f"{FIRST_TS}.000300"]
    header, *items = fake_slack.posts()
    assert header["channel"] == "C0RESEARCH" and "thread_ts" not in header
    assert header["metadata"] == {
        "event_type": "paperbot_digest",
        "event_payload": {"day": "2026-11-20", "digest": ""},
    }
    assert [i["thread_ts"] for i in items] == [ids[0], ids[0]]
    assert [i["metadata"]["event_payload"]["paper_id"] for i in items] == [
        "2611.00001",
        "2611.00002",
    ]
    assert all(i["unfurl_links"] is False for i in items)
    assert all(c.token == BOT_TOKEN for c in fake_slack.calls)


async def test_a_reply_is_posted_to_the_channel(poster: SlackPoster, fake_slack: FakeSlack) -> None:
    ts = await poster.post_reply(KEY, Reply(text="No new matching papers for Fri 20 Nov."))
    assert ts == f"{FIRST_TS}.000100"
    assert fake_slack.posts()[0]["text"] == "No new matching papers for Fri 20 Nov."


async def test_a_429_is_waited_out_and_retried(poster: SlackPoster, fake_slack: FakeSlack) -> None:
    fake_slack.rate_limited_attempts = {1, 2}
    ts = await poster.post_reply(KEY, Reply(text="hello"))
    attempts = fake_slack.api("chat.postMessage")
    assert [c.status for c in attempts] == [429, 429, 200]
    assert ts == f"{FIRST_TS}.000100" and len(fake_slack.posts()) == 1


async def test_rate_limit_retries_spent_is_a_post_error(fake_slack: FakeSlack) -> None:
    poster = poster_for(fake_slack, retries=1)
    fake_slack.rate_limited_attempts = {1, 2}
    with pytest.raises(PostError, match="rate limited") as raised:
        await poster.post_reply(KEY, Reply(text="hello"))
    assert not isinstance(raised.value, ChannelUnavailable)
    assert len(fake_slack.api("chat.postMessage")) == 2


@pytest.mark.parametrize(
    "error",
    [
        "not_in_channel",
        "channel_not_found",
        "is_archived",
        "channel_is_archived",
        "access_denied",
        "account_inactive",
    ],
)
async def test_a_lost_channel_is_channel_unavailable(
    poster: SlackPoster, fake_slack: FakeSlack, error: str
) -> None:
    fake_slack.channel_errors["C0RESEARCH"] = error
    with pytest.raises(ChannelUnavailable) as raised:
        await poster.post_header(KEY, digest_of("2611.00001"))
    assert str(raised.value) == error  # the core stores it as the pause reason
    assert len(fake_slack.api("chat.postMessage")) == 1  # not retried


@pytest.mark.parametrize("error", ["msg_blocks_too_long", "internal_error", "fatal_error"])
async def test_other_errors_are_post_errors(
    poster: SlackPoster, fake_slack: FakeSlack, error: str
) -> None:
    fake_slack.channel_errors["C0RESEARCH"] = error
    with pytest.raises(PostError, match=error) as raised:
        await poster.post_reply(KEY, Reply(text="hello"))
    assert not isinstance(raised.value, ChannelUnavailable)


async def test_an_unreachable_slack_was_certainly_not_posted_to_and_can_be_asked_later(
    fake_slack: FakeSlack,
) -> None:
    # Issue 11 item 1: a refused connection never delivered anything (retry it like a 429);
    # and a history that cannot be read right now is "ask again", not "cannot ever tell".
    poster = poster_for(fake_slack, base_url="http://127.0.0.1:9/api/")
    with pytest.raises(PostNotSent, match="unreachable"):
        await poster.post_reply(KEY, Reply(text="hello"))
    with pytest.raises(PostError) as asked:
        await poster.find_posted(KEY, "2611.00001", LONG_AGO)
    assert not isinstance(asked.value, CannotTell)


async def test_a_server_error_page_is_a_post_error(fake_slack: FakeSlack) -> None:
    poster = poster_for(fake_slack, base_url=fake_slack.base_url.replace("/api/", "/nowhere/"))
    with pytest.raises(PostError, match="HTTP 404"):
        await poster.post_reply(KEY, Reply(text="hello"))


async def test_find_posted_reads_threads_and_top_level_posts(
    poster: SlackPoster, fake_slack: FakeSlack
) -> None:
    threaded = await post_digest(poster, digest_of("2611.00001", "2611.00002"))
    flat = await post_digest(poster, digest_of("2611.00003"), threaded=False)
    await poster.post_reply(KEY, Reply(text="chatter"))
    assert await poster.find_posted(KEY, "2611.00002", LONG_AGO) == threaded[2]
    assert await poster.find_posted(KEY, "2611.00003", LONG_AGO) == flat[1]
    assert await poster.find_posted(KEY, "2611.09999", LONG_AGO) is None
    # Only messages since the given time count.
    later = datetime.fromtimestamp(FIRST_TS + 1, UTC)
    assert await poster.find_posted(KEY, "2611.00002", later) is None
    history = fake_slack.api("conversations.history")[0].body
    assert history["include_all_metadata"] in ("1", "true", "True")


async def test_find_posted_follows_pages(poster: SlackPoster, fake_slack: FakeSlack) -> None:
    fake_slack.history_page_size = 2
    ids = await post_digest(poster, digest_of("2611.00001", "2611.00002", "2611.00003"), False)
    for n in range(5):
        await poster.post_reply(KEY, Reply(text=f"chatter {n}"))
    assert await poster.find_posted(KEY, "2611.00001", LONG_AGO) == ids[1]
    assert len(fake_slack.api("conversations.history")) >= 4


async def test_find_posted_cannot_tell_when_history_is_closed(
    poster: SlackPoster, fake_slack: FakeSlack
) -> None:
    await post_digest(poster, digest_of("2611.00001"))
    fake_slack.history_error = "missing_scope"
    with pytest.raises(CannotTell, match="missing_scope"):
        await poster.find_posted(KEY, "2611.00001", LONG_AGO)


async def test_find_posted_cannot_tell_past_its_page_budget(fake_slack: FakeSlack) -> None:
    poster = poster_for(fake_slack)
    poster.history_pages = 2
    fake_slack.history_page_size = 1
    for n in range(4):
        await poster.post_reply(KEY, Reply(text=f"chatter {n}"))
    with pytest.raises(CannotTell, match="pages"):
        await poster.find_posted(KEY, "2611.00001", LONG_AGO)


async def test_the_pacer_spaces_one_channel_and_leaves_others_alone() -> None:
    now = [100.0]
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    pacer = ChannelPacer(1.0, clock=lambda: now[0], sleep=sleep)
    await pacer.wait("C1")
    await pacer.wait("C2")
    await pacer.wait("C1")
    await pacer.wait("C1")
    assert slept == [1.0, 1.0]
    now[0] += 5
    await pacer.wait("C1")
    assert slept == [1.0, 1.0]


async def test_a_header_is_found_by_its_digest_ref_and_its_list_edited(
    poster: SlackPoster, fake_slack: FakeSlack
) -> None:
    from dataclasses import replace

    first = replace(digest_of("2611.00001", "2611.00002"), ref="7")
    second = replace(digest_of("2611.00003"), ref="8")
    header = await poster.post_header(KEY, first)
    other = await poster.post_header(KEY, second)
    assert await poster.find_header(KEY, replace(first, items=()), LONG_AGO) == header
    assert await poster.find_header(KEY, replace(second, items=()), LONG_AGO) == other
    assert await poster.find_header(KEY, replace(first, ref="9"), LONG_AGO) is None
    # The list becomes what the thread holds (here: only the first paper made it).
    await poster.update_header(KEY, header, replace(first, items=first.items[:1]))
    [call] = fake_slack.api("chat.update")
    assert call.body["ts"] == header
    shown = next(m for m in fake_slack.messages["C0RESEARCH"] if m["ts"] == header)
    text = "\n".join(b["text"]["text"] for b in shown["blocks"] if b["type"] == "section")
    assert "2611.00001" in text and "2611.00002" not in text
    assert shown["metadata"]["event_payload"]["digest"] == "7"  # still found after the edit


async def test_slack_sdk_never_resends_a_post_whose_connection_broke_mid_answer(
    poster: SlackPoster, fake_slack: FakeSlack
) -> None:
    # slack_sdk's default connection retry resends on a reset after the body went out, which
    # can post twice; ours only retries connections that never opened.
    from fake_slack import Fault

    from paperbot.errors import PostOutcomeUnknown

    fake_slack.faults = [Fault({1}, "reset", applied=True)]
    with pytest.raises(PostOutcomeUnknown):
        await poster.post_item(KEY, digest_of("2611.00001"), digest_of("2611.00001").items[0], None)
    assert len(fake_slack.api("chat.postMessage")) == 1
    assert fake_slack.posted_papers("C0RESEARCH") == ["2611.00001"]  # it did arrive, once
