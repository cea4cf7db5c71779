"""Digests through the real core into the fake Slack: limits, 429s mid-way, channels lost."""

from __future__ import annotations

import logging
from collections import Counter

import pytest
from fake_slack import FIRST_TS, FakeSlack
from slack_limits import assert_within_limits
from slack_requests import SlackSender

from paperbot.adapters.slack import SlackAdapter
from paperbot.models import ChannelKey, Digest, DigestItem, Paper
from paperbot.service import Paperbot
from paperbot.testing import FixedClock, make_paper

KEY = ChannelKey("slack", "T0PAPERS1", "C0RESEARCH")
GONE = ChannelKey("slack", "T0PAPERS1", "C0GONE")


def extreme_papers(count: int = 30) -> list[Paper]:
    """Diffusion papers with everything a feed can throw at a renderer."""
    return [
        make_paper(
            title=f"Diffusion {n} <&> " + "🚀 Scaling Laws & <Emergent> Abilities " * (n * 10 + 1),
            abstract="Diffusion & <denoising>. " * (n * 100 + 1) + "😀" * 500,
            authors=tuple(f"Author {i} & <Lab> {'Y' * (n * 10)}" for i in range(n * 70 + 1)),
            categories=("cs.LG", "cs.CV"),
            upvotes=n * 7,
            github_repo=f"https://github.com/lab/diffusion-{n}?x=<1>&y=|2|",
            ai_keywords=("diffusion",),
            sources=("hf", "arxiv"),
        )
        for n in range(count)
    ]


async def setup_channel(slack: SlackSender, bot: Paperbot, channel: str = "C0RESEARCH") -> None:
    for command in ("subscribe diffusion", "settings size 30"):
        response = await slack.ask(command, channel_id=channel)
        assert response["response_type"] == "in_channel", response


async def test_a_30_paper_digest_of_extreme_papers_stays_inside_every_limit(
    slack: SlackSender, bot: Paperbot, fake_slack: FakeSlack
) -> None:
    await setup_channel(slack, bot)
    papers = extreme_papers()
    bot.ingest_papers(papers)
    response = await slack.ask("digest")
    assert response["blocks"][0]["text"]["text"] == "Posted 30 papers."
    posts = fake_slack.posts("C0RESEARCH")
    assert len(posts) == 31
    for payload in posts:
        assert_within_limits(payload)
    header, *items = posts
    assert header["blocks"][0]["text"]["text"].endswith("30 new papers")
    assert {item["thread_ts"] for item in items} == {f"{FIRST_TS}.000100"}
    assert sorted(fake_slack.posted_papers()) == sorted(p.arxiv_id for p in papers)
    # Every item is one paper; its message id in the ledger is the ts Slack returned.
    ledger = {e.paper_id: e.message_id for e in bot.store.ledger(KEY)}
    assert len(set(ledger.values())) == 30


async def test_top_level_posts_when_the_channel_is_not_threaded(
    slack: SlackSender, bot: Paperbot, fake_slack: FakeSlack
) -> None:
    await setup_channel(slack, bot)
    await slack.ask("settings threaded off")
    bot.ingest_papers(extreme_papers(3))
    await slack.ask("digest")
    assert all("thread_ts" not in p for p in fake_slack.posts())


async def test_a_429_mid_digest_loses_nothing_and_doubles_nothing(
    slack: SlackSender, bot: Paperbot, fake_slack: FakeSlack
) -> None:
    await setup_channel(slack, bot)
    papers = extreme_papers()
    bot.ingest_papers(papers)
    fake_slack.rate_limited_attempts = {6, 17, 18}
    response = await slack.ask("digest", channel_id="C0RESEARCH")
    assert response["blocks"][0]["text"]["text"] == "Posted 30 papers."
    attempts = fake_slack.api("chat.postMessage")
    assert [n for n, c in enumerate(attempts, 1) if c.status == 429] == [6, 17, 18]
    posted = fake_slack.posted_papers()
    assert Counter(posted) == Counter(p.arxiv_id for p in papers)  # each exactly once
    assert {e.state for e in bot.store.ledger(KEY)} == {"posted"}


async def test_a_lost_channel_is_paused_and_reported_once_while_others_go_on(
    slack: SlackSender,
    bot: Paperbot,
    fake_slack: FakeSlack,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await setup_channel(slack, bot)
    await setup_channel(slack, bot, "C0GONE")
    papers = extreme_papers(5)
    bot.ingest_papers(papers)
    fake_slack.channel_errors["C0GONE"] = "channel_not_found"
    caplog.set_level(logging.WARNING)

    reports = await bot.delivery.deliver_many([GONE, KEY])
    assert [r.paused for r in reports] == [True, False]
    assert sorted(reports[1].posted) == sorted(p.arxiv_id for p in papers)
    gone = await bot.channel(GONE)
    assert gone.settings.paused and gone.pause_reason == "channel_not_found"
    assert len(fake_slack.api("chat.postMessage")) == 6 + 1  # 6 posts, one refused header

    again = await bot.delivery.deliver_many([GONE, KEY])
    assert "paused" in str(again[0].skipped_reason)
    assert len(fake_slack.api("chat.postMessage")) == 7  # not retried, nothing new elsewhere
    assert sum("paused digests for" in r.getMessage() for r in caplog.records) == 1

    # Asked for in the channel, the digest says why it cannot post.
    answer = await slack.ask("digest", channel_id="C0GONE")
    assert answer["response_type"] == "ephemeral"
    assert "no access to this channel" in answer["blocks"][0]["text"]["text"]
    assert sum("paused digests for" in r.getMessage() for r in caplog.records) == 1
    # Nothing half-posted: every paper waits for the channel to come back.
    assert [e.state for e in bot.store.ledger(GONE)] == ["retry"] * 5


async def test_posts_a_crash_hid_are_found_in_slack_and_never_sent_twice(
    slack: SlackSender,
    bot: Paperbot,
    fake_slack: FakeSlack,
    adapter: SlackAdapter,
    clock: FixedClock,
) -> None:
    await setup_channel(slack, bot)
    papers = extreme_papers(3)
    bot.ingest_papers(papers)
    ids = [p.arxiv_id for p in papers]
    fake_slack.first_ts = int(clock.now.timestamp())  # Slack's clock and ours agree
    # A worker recorded its intents, got the header and the first paper out, and died.
    bot.store.reserve_posts(KEY, ids, clock.now.date(), "crashed-worker")
    digest = Digest(KEY, clock.now.date(), tuple(DigestItem(p) for p in papers))
    header = await adapter.poster.post_header(KEY, digest)
    sent = await adapter.poster.post_item(KEY, digest, digest.items[0], header)

    report = await bot.delivery.reconcile_channel(KEY, adapter.poster)
    assert (report.confirmed, sorted(report.retry)) == ([ids[0]], sorted(ids[1:]))
    assert {e.paper_id: e.message_id for e in bot.store.ledger(KEY)}[ids[0]] == sent
    await slack.ask("digest")
    assert Counter(fake_slack.posted_papers()) == Counter(ids)


async def test_when_slack_cannot_tell_the_paper_is_not_sent_again(
    slack: SlackSender,
    bot: Paperbot,
    fake_slack: FakeSlack,
    adapter: SlackAdapter,
    clock: FixedClock,
) -> None:
    await setup_channel(slack, bot)
    papers = extreme_papers(2)
    bot.ingest_papers(papers)
    bot.store.reserve_posts(KEY, [papers[0].arxiv_id], clock.now.date(), "crashed-worker")
    fake_slack.history_error = "missing_scope"
    report = await bot.delivery.reconcile_channel(KEY, adapter.poster)
    assert report.uncertain == [papers[0].arxiv_id]
    await slack.ask("digest")
    assert fake_slack.posted_papers() == [papers[1].arxiv_id]
