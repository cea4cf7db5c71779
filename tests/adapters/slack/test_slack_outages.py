"""Issue 11 item 1 at the protocol: outages and unanswered posts against the fake Web API.

A request that never connected is retried like a 429; one that may have arrived is settled by
reading the channel's history (the metadata every paper post carries); only what Slack cannot
tell is left uncertain, named by title, and never resent.
"""

from __future__ import annotations

import asyncio
from collections import Counter

import aiohttp
from fake_slack import FakeSlack, Fault
from slack_requests import SlackSender

from paperbot.adapters.slack import SlackAdapter
from paperbot.models import ChannelKey, Paper
from paperbot.service import Paperbot
from paperbot.settings import ScheduleSettings
from paperbot.status import collect_status, render_status
from paperbot.testing import FixedClock, make_paper

KEY = ChannelKey("slack", "T0PAPERS1", "C0RESEARCH")


def papers(count: int) -> list[Paper]:
    return [
        make_paper(f"Diffusion outage study {n}", "Diffusion.", arxiv_id=f"2611.{n:05d}")
        for n in range(1, count + 1)
    ]


async def ready(slack: SlackSender, bot: Paperbot, clock: FixedClock, count: int) -> list[str]:
    await slack.ask("subscribe diffusion")
    await slack.ask("settings size 30")
    found = papers(count)
    bot.ingest_papers(found)
    return [p.arxiv_id for p in found]


def real_backoff(bot: Paperbot) -> None:
    """Wait out an outage in real (short) time: the fake's outage is real time too."""
    bot.delivery.sleep = asyncio.sleep
    bot.delivery.retry_backoff = 0.1
    bot.delivery.policy.max_backoff = 0.4
    bot.delivery.policy.outage_budget = 10.0


async def test_a_short_outage_mid_digest_loses_nothing_and_doubles_nothing(
    slack: SlackSender, bot: Paperbot, fake_slack: FakeSlack, clock: FixedClock
) -> None:
    ids = await ready(slack, bot, clock, 20)
    real_backoff(bot)
    fake_slack.first_ts = int(clock.now.timestamp())

    async def outage_after_eight_posts() -> None:
        await fake_slack.wait_for(lambda: len(fake_slack.posts("C0RESEARCH")) >= 9, 20)
        await fake_slack.refuse_connections(1.5)

    outage = asyncio.create_task(outage_after_eight_posts())
    answer = await slack.ask("digest")
    await outage
    assert fake_slack.refused_windows, "the outage never happened"
    assert answer["blocks"][0]["text"]["text"] == "Posted 20 papers."
    assert Counter(fake_slack.posted_papers("C0RESEARCH")) == Counter(ids)
    assert {e.state for e in bot.store.ledger(KEY)} == {"posted"}
    # Refused connections are certainly not posts: no history read was needed to settle them.
    assert fake_slack.api("conversations.history") == []


async def test_unanswered_posts_are_settled_by_asking_slack(
    slack: SlackSender,
    bot: Paperbot,
    fake_slack: FakeSlack,
    adapter: SlackAdapter,
    clock: FixedClock,
) -> None:
    ids = await ready(slack, bot, clock, 12)
    real_backoff(bot)
    fake_slack.first_ts = int(clock.now.timestamp())
    adapter.client.timeout = 1  # slack_sdk's per-request timeout, for the slow answer
    assert adapter.client.session is not None
    await adapter.client.session.close()
    adapter.client.session = aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=1.0, sock_connect=1.0)
    )
    # Attempt 1 is the header. Posted but unanswered: a reset (3), a 500 (6), a slow answer
    # (9). Not posted and unanswered: a reset (4), a 500 (11).
    fake_slack.faults = [
        Fault({3}, "reset", applied=True),
        Fault({6}, "5xx", applied=True),
        Fault({9}, "slow", applied=True, delay=1.5),
        Fault({4}, "reset"),
        Fault({11}, "5xx"),
    ]
    try:
        answer = await slack.ask("digest")
    finally:
        await adapter.client.session.close()
    assert answer["blocks"][0]["text"]["text"] == "Posted 12 papers."
    assert Counter(fake_slack.posted_papers("C0RESEARCH")) == Counter(ids)  # each once
    assert {e.state for e in bot.store.ledger(KEY)} == {"posted"}
    asked = fake_slack.api("conversations.history") + fake_slack.api("conversations.replies")
    assert len(asked) >= 5  # each one was asked about (in the digest's thread first)


async def test_what_slack_cannot_tell_is_named_by_title_and_never_resent(
    slack: SlackSender, bot: Paperbot, fake_slack: FakeSlack, clock: FixedClock
) -> None:
    ids = await ready(slack, bot, clock, 4)
    real_backoff(bot)
    fake_slack.first_ts = int(clock.now.timestamp())
    fake_slack.history_error = "missing_scope"  # history can never be read
    fake_slack.faults = [Fault({3}, "5xx", applied=False)]  # the second paper
    answer = await slack.ask("digest")
    text = answer["blocks"][0]["text"]["text"]
    second = "Diffusion outage study 2"
    assert text.startswith("Posted 3 papers.")
    assert "will not be sent again" in text and second in text
    assert "retried" not in text  # no promise of a retry that will not happen
    assert sorted(fake_slack.posted_papers("C0RESEARCH")) == sorted(set(ids) - {ids[1]})
    assert {e.paper_id: e.state for e in bot.store.ledger(KEY)}[ids[1]] == "uncertain"
    shown = render_status(collect_status(bot.store, ScheduleSettings(), clock.now))
    assert f"uncertain: “{second}”" in shown
    await slack.ask("digest")
    assert ids[1] not in fake_slack.posted_papers("C0RESEARCH")
