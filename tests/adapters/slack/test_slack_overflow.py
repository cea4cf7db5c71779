"""Issue 11 items 2, 3, 4, 7 and 9 at the protocol: signed commands into the Slack app, the fake
Web API recording what the channel shows."""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from typing import Any

import pytest
from fake_slack import FakeSlack
from slack_requests import SlackSender

from paperbot.adapters.slack import SlackAdapter
from paperbot.models import ChannelKey, Digest, DigestItem, Paper
from paperbot.service import Paperbot
from paperbot.testing import FixedClock, make_paper

KEY = ChannelKey("slack", "T0PAPERS1", "C0RESEARCH")
ABS = re.compile(r"arxiv\.org/abs/([\w.]+)")


def papers(count: int, start: int = 1) -> list[Paper]:
    return [
        make_paper(f"Diffusion overflow {n}", "Diffusion.", arxiv_id=f"2611.{n:05d}")
        for n in range(start, start + count)
    ]


def text(response: dict[str, Any]) -> str:
    return "\n".join(
        b["text"]["text"] for b in response["blocks"] if b["type"] in ("section", "header")
    )


def headers(fake: FakeSlack, channel: str = "C0RESEARCH") -> list[dict[str, Any]]:
    return [
        m
        for m in fake.messages.get(channel, [])
        if (m.get("metadata") or {}).get("event_type") == "paperbot_digest"
    ]


def listed(header: dict[str, Any]) -> list[str]:
    """The papers a header's list links to, as the channel shows it (after any edit)."""
    body = "\n".join(b["text"]["text"] for b in header["blocks"] if b["type"] == "section")
    return ABS.findall(body)


def thread(header: dict[str, Any]) -> list[str]:
    return [r["metadata"]["event_payload"]["paper_id"] for r in header.get("replies", [])]


def notes(header: dict[str, Any]) -> str:
    return "\n".join(
        e.get("text", "") for b in header["blocks"] if b["type"] == "context" for e in b["elements"]
    )


async def test_overflow_waits_and_more_posts_it_into_the_same_thread(
    slack: SlackSender, bot: Paperbot, fake_slack: FakeSlack
) -> None:
    await slack.ask("subscribe diffusion")
    await slack.ask("settings size 5")
    ids = [p.arxiv_id for p in papers(12)]
    bot.ingest_papers(papers(12))
    first = text(await slack.ask("digest"))
    assert first.startswith("Posted 5 papers.") and "7 more papers matched" in first
    [header] = headers(fake_slack)
    assert "+7 more matched: `/papers more` posts the next ones here" in notes(header)
    assert "raise the size" not in notes(header)

    assert text(await slack.ask("more")).startswith("Posted 5 papers.")
    assert text(await slack.ask("more")).startswith("Posted 2 papers.")
    assert "No more matched papers waiting" in text(await slack.ask("more"))
    assert text(await slack.ask("digest")) == "Nothing new since the last digest."

    [header] = headers(fake_slack)  # one header for the day, its list edited to its thread
    assert Counter(thread(header)) == Counter(ids)
    assert listed(header) == thread(header)
    assert fake_slack.api("chat.update")


async def test_the_reported_case_raising_the_size_posts_what_did_not_fit(
    slack: SlackSender, bot: Paperbot, fake_slack: FakeSlack
) -> None:
    # Issue 11 item 2 as reported: size 10, 20 matched; size 30; /papers digest said "Nothing new".
    await slack.ask("subscribe diffusion")
    bot.ingest_papers(papers(20))
    assert text(await slack.ask("digest")).startswith("Posted 10 papers.")
    await slack.ask("settings size 30")
    assert text(await slack.ask("digest")).startswith("Posted 10 papers.")
    assert Counter(fake_slack.posted_papers()) == Counter(p.arxiv_id for p in papers(20))


async def test_a_matched_paper_expires_after_the_channels_keep_window(
    slack: SlackSender, bot: Paperbot, fake_slack: FakeSlack, clock: FixedClock
) -> None:
    await slack.ask("subscribe diffusion")
    await slack.ask("settings size 2")
    answer = await slack.ask("settings keep 3")
    assert "set keep 3" in text(answer)
    bot.ingest_papers(papers(4))
    await slack.ask("digest")
    clock.advance(days=2)
    assert text(await slack.ask("digest")).startswith("Posted 2 papers.")  # still eligible
    bot.ingest_papers(papers(2, start=10))
    clock.advance(days=2, hours=1)
    bot.ingest_papers(papers(1, start=20))
    # The two from the second batch are 2 days old and stay; nothing else is left to expire.
    assert text(await slack.ask("digest")).startswith("Posted 2 papers.")
    bot.ingest_papers(papers(3, start=30))
    await slack.ask("settings size 1")
    await slack.ask("digest")  # one of the three; two wait
    clock.advance(days=4)
    assert text(await slack.ask("digest")) == "Nothing new since the last digest."  # expired
    assert len(fake_slack.posted_papers()) == 2 + 2 + 2 + 1 + 1 - 1  # no paper twice
    assert len(set(fake_slack.posted_papers())) == len(fake_slack.posted_papers())


async def test_an_empty_digest_is_answered_to_the_requester_only(
    slack: SlackSender, bot: Paperbot, fake_slack: FakeSlack
) -> None:
    # Issue 11 item 4: no public "No new matching papers…", with empty off or on.
    await slack.ask("subscribe diffusion")
    for empty in ("off", "on"):
        await slack.ask(f"settings empty {empty}")
        answer = await slack.ask("digest")
        assert answer["response_type"] == "ephemeral"
        assert text(answer) == "Nothing new since the last digest."
    assert fake_slack.api("chat.postMessage") == []


async def test_a_post_that_works_lifts_a_pause_for_lost_access(
    slack: SlackSender, bot: Paperbot, fake_slack: FakeSlack, clock: FixedClock
) -> None:
    # Issue 11 item 7: paused after a 403, fixed, a forced digest worked, scheduled ones stayed
    # paused and nothing said `resume`.
    await slack.ask("subscribe diffusion")
    bot.ingest_papers(papers(3))
    fake_slack.channel_errors["C0RESEARCH"] = "not_in_channel"
    [report] = await bot.delivery.deliver_many([KEY])
    assert report.paused and (await bot.channel(KEY)).settings.paused
    refused = text(await slack.ask("digest"))
    assert "no access to this channel" in refused and "resumes the schedule" in refused

    del fake_slack.channel_errors["C0RESEARCH"]  # someone invited the bot back
    answer = text(await slack.ask("digest"))
    assert answer.startswith("Posted 3 papers.")
    assert "scheduled digests are back on" in answer
    channel = await bot.channel(KEY)
    assert not channel.settings.paused and channel.pause_reason is None
    clock.advance(minutes=5)  # (what matched while it was paused is not the channel's)
    bot.ingest_papers(papers(2, start=50))
    [scheduled] = await bot.delivery.deliver_many([KEY])
    assert sorted(scheduled.posted) == ["2611.00050", "2611.00051"]


async def test_a_digest_cut_off_by_lost_access_and_finished_later_lifts_the_pause(
    slack: SlackSender, bot: Paperbot, fake_slack: FakeSlack, clock: FixedClock
) -> None:
    # Found running `paperbot run` against a fake Slack: the bot lost the channel after the
    # header and two papers; once it was back, `/papers digest` finished the interrupted digest
    # (its remaining papers into its own thread) but the channel stayed paused, so scheduled
    # digests never came back.
    await slack.ask("subscribe diffusion")
    bot.ingest_papers(papers(4))
    post = fake_slack._chat_postMessage
    lost = []

    def lost_after_two_papers(call: Any) -> Any:
        if len(fake_slack.posted_papers()) == 2 and not lost:
            lost.append(True)
            fake_slack.channel_errors["C0RESEARCH"] = "channel_not_found"
        return post(call)

    fake_slack._chat_postMessage = lost_after_two_papers  # type: ignore[method-assign]
    [report] = await bot.delivery.deliver_many([KEY])
    assert report.paused and len(report.posted) == 2
    assert (await bot.channel(KEY)).settings.paused

    del fake_slack.channel_errors["C0RESEARCH"]  # the bot is invited back
    answer = text(await slack.ask("digest"))
    assert answer.startswith("Finished an interrupted digest: posted 2 papers.")
    assert "scheduled digests are back on" in answer
    [header] = headers(fake_slack)
    assert sorted(thread(header)) == [f"2611.{n:05d}" for n in range(1, 5)]
    channel = await bot.channel(KEY)
    assert not channel.settings.paused and channel.pause_reason is None
    clock.advance(days=1)
    bot.ingest_papers(papers(1, start=50))
    [scheduled] = await bot.delivery.deliver_many([KEY])
    assert scheduled.posted == ["2611.00050"]


async def test_papers_waiting_for_room_survive_a_pause_and_resume(
    slack: SlackSender, bot: Paperbot, fake_slack: FakeSlack, clock: FixedClock
) -> None:
    # Found running `paperbot run` against a fake Slack: "5 more papers matched: /papers more
    # posts the next ones", then `settings pause` and `settings resume`, and `/papers more`
    # said nothing was waiting: the resume had dropped the whole backlog.
    await slack.ask("subscribe diffusion")
    await slack.ask("settings size 3")
    bot.ingest_papers(papers(8))
    assert text(await slack.ask("digest")).startswith("Posted 3 papers. 5 more papers matched")
    clock.advance(minutes=5)
    await slack.ask("settings pause")
    clock.advance(minutes=5)
    bot.ingest_papers(papers(1, start=50))  # matched while paused: not the channel's
    clock.advance(minutes=5)
    await slack.ask("settings resume")
    assert text(await slack.ask("more")).startswith("Posted 3 papers. 2 more papers matched")
    assert text(await slack.ask("more")).startswith("Posted 2 papers.")
    assert sorted(fake_slack.posted_papers()) == [f"2611.{n:05d}" for n in range(1, 9)]


async def test_the_list_notification_text_has_one_colon(
    slack: SlackSender, bot: Paperbot, fake_slack: FakeSlack
) -> None:
    # Issue 11 item 9: "This channel follows 5:: #1 …".
    await slack.ask("subscribe diffusion")
    await slack.ask("subscribe robots")
    answer = await slack.ask("list")
    assert answer["text"].startswith("This channel follows 2: #1")
    assert "::" not in answer["text"]


class Stalls:
    """Wraps the Slack poster: the fourth paper never returns (a process about to die)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.items = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def post_item(
        self, channel: ChannelKey, digest: Digest, item: DigestItem, thread: str | None
    ) -> str:
        self.items += 1
        if self.items == 4:
            await asyncio.sleep(3600)
        return await self.inner.post_item(channel, digest, item, thread)  # type: ignore[no-any-return]


async def die_during(
    slack: SlackSender,
    fake_slack: FakeSlack,
    adapter: SlackAdapter,
    command: str,
    response_url: str,
    posted: int,
) -> None:
    """Send the command, and let the process die once the channel shows `posted` papers."""
    status, _ = await slack.command(command, response_url=response_url)
    assert status == 200
    await fake_slack.wait_for(lambda: len(fake_slack.posted_papers()) == posted)
    await asyncio.sleep(0.05)
    for task in list(adapter._tasks):
        task.cancel()
    await adapter.drain()


async def test_an_interrupted_digest_resumes_under_its_header_and_answers_its_requester(
    slack: SlackSender,
    bot: Paperbot,
    fake_slack: FakeSlack,
    adapter: SlackAdapter,
    clock: FixedClock,
) -> None:
    # Issue 11 item 3: the rerun posted a second header, the first header listed 30 titles and
    # its thread held 11, and the requester never heard back.
    await slack.ask("subscribe diffusion")
    await slack.ask("settings size 8")
    fake_slack.first_ts = int(clock.now.timestamp())
    bot.ingest_papers(papers(8))
    bot.posters["slack"] = Stalls(adapter.poster)  # type: ignore[assignment]
    first_url = fake_slack.response_url()
    before = len(fake_slack.responses)
    await die_during(slack, fake_slack, adapter, "digest", first_url, posted=3)
    assert len(fake_slack.responses) == before  # the requester got nothing yet

    bot.posters["slack"] = adapter.poster  # restarted
    resumed = await bot.delivery.resume_interrupted()
    assert [sorted(r.posted) for r in resumed] == [sorted(p.arxiv_id for p in papers(8)[3:])]
    [header] = headers(fake_slack)
    assert Counter(thread(header)) == Counter(p.arxiv_id for p in papers(8))
    assert listed(header) == thread(header)
    [answer] = [r for r in fake_slack.responses if r["_url"] == first_url]
    assert "Finished an interrupted digest" in text(answer)


class StopsOnThird(Stalls):
    """Wraps the Slack poster: SIGTERM arrives while the third paper is being posted."""

    def __init__(self, inner: Any, bot: Paperbot) -> None:
        super().__init__(inner)
        self.bot = bot

    async def post_item(
        self, channel: ChannelKey, digest: Digest, item: DigestItem, thread: str | None
    ) -> str:
        self.items += 1
        if self.items == 3:
            self.bot.delivery.stop_waiting()
        return await self.inner.post_item(channel, digest, item, thread)  # type: ignore[no-any-return]


async def test_a_digest_cut_short_by_a_shutdown_tells_its_requester_what_was_posted(
    slack: SlackSender, bot: Paperbot, fake_slack: FakeSlack, adapter: SlackAdapter
) -> None:
    # Found running `paperbot run` against a fake Slack: SIGTERM during `/papers digest`, after
    # the header and 4 papers had gone out, answered "no digest posted: interrupted by shutdown";
    # on restart the same requester heard "Finished an interrupted digest: posted 6 papers".
    await slack.ask("subscribe diffusion")
    bot.ingest_papers(papers(6))
    bot.posters["slack"] = StopsOnThird(adapter.poster, bot)  # type: ignore[assignment]
    answer = text(await slack.ask("digest"))
    assert len(fake_slack.posted_papers()) == 3
    assert answer == (
        "⚠️ posted 3 papers, then stopped (interrupted by shutdown); the rest follow in the "
        "digest's thread once the bot is back"
    )


async def test_an_unanswered_post_into_an_old_thread_is_found_there_not_sent_twice(
    slack: SlackSender, bot: Paperbot, fake_slack: FakeSlack, clock: FixedClock
) -> None:
    # Found by the chaos run: /papers more posts into the morning's thread; a header older than
    # the look-back window hid its thread from the history search, and a lost answer doubled.
    from fake_slack import Fault

    bot.delivery.retry_backoff = 0
    await slack.ask("subscribe diffusion")
    await slack.ask("settings size 2")
    bot.ingest_papers(papers(4))
    fake_slack.first_ts = int(clock.now.timestamp())
    await slack.ask("digest")
    clock.advance(hours=3)
    fake_slack.first_ts = int(clock.now.timestamp())
    attempts = len(fake_slack.api("chat.postMessage"))
    fake_slack.faults = [Fault({attempts + 1}, "reset", applied=True)]
    assert text(await slack.ask("more")).startswith("Posted 2 papers.")
    [header] = headers(fake_slack)
    assert Counter(thread(header)) == Counter(p.arxiv_id for p in papers(4))  # once each
    assert listed(header) == thread(header)


async def test_an_interrupted_more_hours_after_the_digest_answers_its_own_requester(
    slack: SlackSender,
    bot: Paperbot,
    fake_slack: FakeSlack,
    adapter: SlackAdapter,
    clock: FixedClock,
) -> None:
    # `/papers more` reopens the morning's digest: a crash in it is resumed like a digest,
    # and the answer goes to the response_url of `more`, whose 30 minutes start when it is
    # typed, not when the morning's digest was.
    await slack.ask("subscribe diffusion")
    await slack.ask("settings size 2")
    bot.ingest_papers(papers(8))
    fake_slack.first_ts = int(clock.now.timestamp())
    await slack.ask("digest")
    clock.advance(hours=3)
    fake_slack.first_ts = int(clock.now.timestamp())
    stalls = Stalls(adapter.poster)
    stalls.items = 2  # the second paper of `more` (its fourth call) never returns
    bot.posters["slack"] = stalls  # type: ignore[assignment]
    more_url = fake_slack.response_url()
    await die_during(slack, fake_slack, adapter, "more", more_url, posted=3)
    assert [r for r in fake_slack.responses if r["_url"] == more_url] == []

    clock.advance(minutes=5)
    bot.posters["slack"] = adapter.poster  # restarted
    resumed = await bot.delivery.resume_interrupted()
    assert [len(r.posted) for r in resumed] == [1]
    [header] = headers(fake_slack)
    assert Counter(thread(header)) == Counter(p.arxiv_id for p in papers(4))
    assert listed(header) == thread(header)
    [answer] = [r for r in fake_slack.responses if r["_url"] == more_url]
    assert "Finished an interrupted digest" in text(answer)


class HangsBeforeTheHeader:
    """Stands in for the digest builder or the poster: building the digest, or posting its
    header, never returns (a process about to die there, before anything reached the channel)."""

    def __init__(self, inner: Any, method: str) -> None:
        self.inner = inner
        self.method = method
        self.reached = asyncio.Event()

    def __getattr__(self, name: str) -> Any:
        if name != self.method:
            return getattr(self.inner, name)

        async def hang(*args: Any, **kwargs: Any) -> Any:
            self.reached.set()
            await asyncio.sleep(3600)

        return hang


@pytest.mark.parametrize("stage", ["building", "header"])
async def test_a_digest_cut_off_before_its_header_tells_its_requester_after_a_restart(
    slack: SlackSender,
    bot: Paperbot,
    fake_slack: FakeSlack,
    adapter: SlackAdapter,
    clock: FixedClock,
    stage: str,
) -> None:
    # A /papers digest acknowledged, then the process died while the digest was being built
    # (no record of it existed yet) or before its header went out (its record was dropped
    # without a word): the requester never heard back.
    await slack.ask("subscribe diffusion")
    bot.ingest_papers(papers(3))
    builder, poster = bot.delivery.builder, bot.posters["slack"]
    if stage == "building":
        hangs = HangsBeforeTheHeader(builder, "build")
        bot.delivery.builder = hangs  # type: ignore[assignment]
    else:
        hangs = HangsBeforeTheHeader(poster, "post_header")
        bot.posters["slack"] = hangs  # type: ignore[assignment]
    url = fake_slack.response_url()
    status, _ = await slack.command("digest", response_url=url)
    assert status == 200
    await asyncio.wait_for(hangs.reached.wait(), 10)
    for task in list(adapter._tasks):  # the process dies
        task.cancel()
    await adapter.drain()
    assert [r for r in fake_slack.responses if r["_url"] == url] == []

    bot.delivery.builder, bot.posters["slack"] = builder, poster  # restarted
    clock.advance(minutes=2)
    assert await bot.delivery.resume_interrupted() == []  # nothing to finish...
    [answer] = [r for r in fake_slack.responses if r["_url"] == url]  # ...but an answer
    assert "cut off by a restart before its papers were posted" in text(answer)
    assert "run /papers digest again" in text(answer)
    assert fake_slack.posted_papers() == [] and headers(fake_slack) == []
    assert text(await slack.ask("digest")).startswith("Posted 3 papers.")  # as it says
