"""Issue 11 item 1 on Discord, at the protocol: every post carries a nonce with enforce_nonce,
an unreachable Discord is waited out like a 429, and a post that may have arrived is settled
by Discord's history (and refused as a duplicate by its nonce) instead of being sent twice."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import date, timedelta

import pytest
from fake_discord import FakeDiscord, Fault

from conftest import KEY_ARGS
from paperbot.adapters.discord import DiscordAdapter
from paperbot.errors import CannotTell
from paperbot.models import ChannelKey, Digest, DigestItem, Paper
from paperbot.service import Paperbot
from paperbot.testing import make_paper

KEY = ChannelKey(*KEY_ARGS)


def papers(count: int) -> list[Paper]:
    return [
        make_paper(f"Diffusion outage {n}", "Diffusion.", arxiv_id=f"2611.{n:05d}")
        for n in range(1, count + 1)
    ]


async def ready(bot: Paperbot, count: int) -> list[str]:
    await bot.subscribe(KEY, "diffusion", "283704385210257409")
    await bot.update_settings(KEY, max_items=30)
    found = papers(count)
    await bot.blocking(bot.ingest_papers, found)
    return [p.arxiv_id for p in found]


def real_backoff(bot: Paperbot) -> None:
    bot.delivery.sleep = asyncio.sleep
    bot.delivery.retry_backoff = 0.1
    bot.delivery.policy.max_backoff = 0.4
    bot.delivery.policy.outage_budget = 10.0


async def test_every_post_carries_a_short_deterministic_nonce_and_enforces_it(
    adapter: DiscordAdapter, bot: Paperbot, fake: FakeDiscord
) -> None:
    ids = await ready(bot, 3)
    await bot.deliver_digest(KEY)
    creates = fake.requests_to("POST", "/messages")
    bodies = [r.body for r in creates if r.path.endswith("/messages")]
    assert len(bodies) == 4
    nonces = [body["nonce"] for body in bodies]
    assert all(body["enforce_nonce"] is True for body in bodies)
    assert all(0 < len(n) <= 25 for n in nonces) and len(set(nonces)) == 4
    # The same paper of the same digest in the same channel gets the same nonce, so a resend
    # (after a crash, or an unanswered request) is answered with the message already there.
    paper = make_paper("Diffusion outage 1", "Diffusion.", arxiv_id=ids[0])
    digest = Digest(KEY, date(2026, 11, 20), (), ref="42")
    first = await adapter.poster.post_item(KEY, digest, DigestItem(paper), None)
    again = await adapter.poster.post_item(KEY, digest, DigestItem(paper), None)
    assert first == again and fake.duplicates_refused == 1


async def test_a_short_outage_mid_digest_loses_nothing_and_doubles_nothing(
    adapter: DiscordAdapter, bot: Paperbot, fake: FakeDiscord
) -> None:
    ids = await ready(bot, 12)
    real_backoff(bot)

    async def outage_after_five_posts() -> None:
        while len(fake.all_posted()) < 6:
            await asyncio.sleep(0.01)
        await fake.refuse_connections(1.0)

    outage = asyncio.create_task(outage_after_five_posts())
    report = await bot.deliver_digest(KEY)
    await outage
    assert fake.refused_windows, "the outage never happened"
    assert sorted(report.posted) == sorted(ids) and report.failed == []
    assert Counter(fake.posted_papers()) == Counter(ids)
    assert {e.state for e in bot.store.ledger(KEY)} == {"posted"}


async def test_unanswered_posts_are_settled_without_doubles(
    adapter: DiscordAdapter, bot: Paperbot, fake: FakeDiscord
) -> None:
    ids = await ready(bot, 10)
    real_backoff(bot)
    # Attempt 1 is the header. Created but unanswered: a reset (3), a 503 (5). Not created: a
    # reset (7), a 503 (9).
    fake.faults = [
        Fault({3}, "reset", applied=True),
        Fault({5}, "5xx", applied=True),
        Fault({7}, "reset"),
        Fault({9}, "5xx"),
    ]
    report = await bot.deliver_digest(KEY)
    assert sorted(report.posted) == sorted(ids)
    assert Counter(fake.posted_papers()) == Counter(ids)  # each exactly once
    assert {e.state for e in bot.store.ledger(KEY)} == {"posted"}
    history_reads = [r for r in fake.requests if r.method == "GET" and r.path.endswith("/messages")]
    assert history_reads, "the ambiguous posts were settled by asking Discord"


async def test_more_posts_the_overflow_into_the_days_thread_and_edits_the_header(
    adapter: DiscordAdapter, bot: Paperbot, fake: FakeDiscord
) -> None:
    # Issue 11 item 2 on Discord: what did not fit waits; /papers more posts it in the thread.
    ids = await ready(bot, 5)
    await bot.update_settings(KEY, max_items=3)
    first = await bot.deliver_digest(KEY)
    assert len(first.posted) == 3 and first.remaining == 2
    [header] = fake.messages[KEY.channel]  # the items went into its thread
    assert "+2 more matched: /papers more posts the next ones" in str(header["embeds"])
    more = await bot.deliver_more(KEY)
    assert len(more.posted) == 2
    assert Counter(fake.posted_papers()) == Counter(ids)
    assert set(fake.messages) == {KEY.channel, header["id"]}  # the channel and its thread
    assert len(fake.messages[header["id"]]) == 5
    [(_, _, body)] = [e for e in fake.edits if e[1] == header["id"]]
    listed = [line for line in body["embeds"][0]["description"].splitlines() if "/abs/" in line]
    assert len(listed) == 5
    assert (await bot.deliver_more(KEY)).posted == []


async def test_a_header_that_arrived_unanswered_is_found_in_history_after_the_nonce_window(
    adapter: DiscordAdapter, bot: Paperbot, fake: FakeDiscord
) -> None:
    # The header is created but its answer is lost, and the resend comes after Discord forgot
    # the nonce: the header's footer names its digest, so the history settles it.
    ids = await ready(bot, 4)
    real_backoff(bot)
    fake.keep_nonces = False
    fake.faults = [Fault({1}, "reset", applied=True)]
    report = await bot.deliver_digest(KEY)
    assert sorted(report.posted) == sorted(ids)
    headers = [m for m in fake.messages[KEY.channel] if "Papers for" in str(m["embeds"])]
    assert len(headers) == 1, "the header was posted twice"
    assert headers[0]["embeds"][0]["footer"]["text"].endswith(" · digest 1")
    assert Counter(fake.posted_papers()) == Counter(ids)


async def test_find_header_reads_only_our_own_tagged_header_and_admits_a_long_history(
    adapter: DiscordAdapter, bot: Paperbot, fake: FakeDiscord
) -> None:
    await ready(bot, 2)
    await bot.deliver_digest(KEY)
    [header] = [m for m in fake.messages[KEY.channel] if "Papers for" in str(m["embeds"])]
    since = bot.clock() - timedelta(minutes=5)
    poster = adapter.poster
    assert (
        await poster.find_header(KEY, Digest(KEY, date.today(), (), ref="1"), since)
        == (header["id"])
    )
    # Another digest's ref, or a digest with no ref, is not this header.
    assert await poster.find_header(KEY, Digest(KEY, date.today(), (), ref="2"), since) is None
    assert await poster.find_header(KEY, Digest(KEY, date.today(), ()), since) is None
    # Someone else's message quoting the footer is not ours.
    fake.post_as_user(KEY.channel, footer="react to vote · digest 3")
    assert await poster.find_header(KEY, Digest(KEY, date.today(), (), ref="3"), since) is None
    # More messages than it reads: it cannot say "not posted".
    poster.history_limit = 1
    with pytest.raises(CannotTell):
        await poster.find_header(KEY, Digest(KEY, date.today(), (), ref="4"), since)
