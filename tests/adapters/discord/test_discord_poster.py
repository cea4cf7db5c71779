"""Digests through the real core and discord.py against the fake Discord REST API."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from discord_limits import violations
from fake_discord import CHANNEL_ID, GUILD_ID, Failure, FakeDiscord

from conftest import KEY_ARGS, VirtualTime
from paperbot.adapters.discord import DiscordAdapter
from paperbot.errors import CannotTell, ChannelUnavailable
from paperbot.models import ChannelKey, Paper
from paperbot.service import Paperbot
from paperbot.testing import FixedClock, make_paper

KEY = ChannelKey(*KEY_ARGS)
OTHER_CHANNEL = "1161092365244223520"
OTHER = ChannelKey("discord", GUILD_ID, OTHER_CHANNEL)


def diffusion_papers(count: int) -> list[Paper]:
    return [
        make_paper(f"Diffusion paper {n}", f"Abstract {n}. More.", authors=("A. Author",))
        for n in range(count)
    ]


def extreme_papers(count: int) -> list[Paper]:
    return [
        make_paper(
            f"Diffusion {n}: **bold** _it_ `code` ||spoiler|| [x](y) @everyone 🚀 " * 30,
            "word " * 1_500,  # 7,500 characters, no sentence end
            authors=tuple("Ünïcødé Author Name " * 10 + str(i) for i in range(300)),
            categories=("cs.LG", "cs.CV", "stat.ML"),
            github_repo="https://github.com/" + "r" * 250,  # the store keeps 300
            upvotes=10**9,
            sources=("arxiv", "hf"),
        )
        for n in range(count)
    ]


async def ready(bot: Paperbot, key: ChannelKey, papers: list[Paper], **settings: object) -> None:
    await bot.subscribe(key, "diffusion", "283704385210257409")
    for n in range(12):  # many matching subscriptions make a long "why it's here"
        await bot.subscribe(key, f'diffusion AND "{"long query words " * 4}{n}"', "u")
    if settings:
        await bot.update_settings(key, **settings)
    await bot.blocking(bot.ingest_papers, papers)


async def test_threaded_digest_opens_the_days_thread_and_posts_one_message_per_paper(
    adapter: DiscordAdapter, bot: Paperbot, fake: FakeDiscord, virtual_time: VirtualTime
) -> None:
    papers = diffusion_papers(3)
    await ready(bot, KEY, papers)
    report = await bot.deliver_digest(KEY)
    assert sorted(report.posted) == sorted(p.arxiv_id for p in papers) and not report.failed
    [header] = fake.posted(CHANNEL_ID)
    assert header["content"] == "Paper digest for Fri 20 Nov 2026: 3 new papers"
    thread = fake.threads[header["id"]]
    assert thread["parent_id"] == CHANNEL_ID and thread["name"] == "Papers · Fri 20 Nov 2026"
    items = fake.posted(header["id"])  # a thread's id is its starting message's
    assert sorted(m["embeds"][0]["url"] for m in items) == sorted(p.abs_url for p in papers)
    ledger = {e.paper_id: e.message_id for e in bot.store.ledger(KEY)}
    assert sorted(ledger.values()) == sorted(m["id"] for m in items)
    assert all(body["allowed_mentions"] == {"parse": []} for body in fake.sent[header["id"]])
    # Paced: the three papers in one channel went out a second apart (virtual time).
    assert sum(virtual_time.sleeps) >= 2.0


async def test_unthreaded_digest_posts_in_the_channel(
    adapter: DiscordAdapter, bot: Paperbot, fake: FakeDiscord
) -> None:
    await ready(bot, KEY, diffusion_papers(2), threaded=False)
    await bot.deliver_digest(KEY)
    header, *items = (m["embeds"][0]["title"] for m in fake.posted(CHANNEL_ID))
    assert header == "📄 Papers for Fri 20 Nov 2026"
    assert sorted(items) == ["Diffusion paper 0", "Diffusion paper 1"]
    assert not fake.threads


async def test_thirty_extreme_papers_all_arrive_within_discords_limits(
    adapter: DiscordAdapter, bot: Paperbot, fake: FakeDiscord
) -> None:
    papers = extreme_papers(30)
    await ready(bot, KEY, papers, max_items=30, threaded=False)
    report = await bot.deliver_digest(KEY)
    assert len(report.posted) == 30 and not report.failed
    bodies = fake.sent[CHANNEL_ID]  # exactly what discord.py sent
    assert len(bodies) == 31
    for body in bodies:
        assert violations(body) == [], body["embeds"][0].get("title")
        assert body["allowed_mentions"] == {"parse": []}
    urls = [body["embeds"][0].get("url") for body in bodies[1:]]
    assert sorted(urls) == sorted(p.abs_url for p in papers)  # each exactly once


async def test_a_429_mid_digest_is_waited_out_and_nothing_is_lost_or_doubled(
    adapter: DiscordAdapter, bot: Paperbot, fake: FakeDiscord
) -> None:
    papers = diffusion_papers(12)
    await ready(bot, KEY, papers, max_items=30)
    fake.rate_limit("/messages", skip=5, count=2, retry_after=0.05)
    report = await bot.deliver_digest(KEY)
    assert len(fake.rate_limited) == 2
    assert sorted(report.posted) == sorted(p.arxiv_id for p in papers) and not report.failed
    [header] = fake.posted(CHANNEL_ID)
    urls = [m["embeds"][0]["url"] for m in fake.posted(header["id"])]
    assert sorted(urls) == sorted(p.abs_url for p in papers)
    assert {e.state for e in bot.store.ledger(KEY)} == {"posted"}


@pytest.mark.parametrize("status", [403, 404])
async def test_a_lost_channel_is_paused_and_reported_once_while_others_go_on(
    adapter: DiscordAdapter,
    bot: Paperbot,
    fake: FakeDiscord,
    caplog: pytest.LogCaptureFixture,
    status: int,
) -> None:
    papers = diffusion_papers(2)
    await ready(bot, KEY, [])
    await ready(bot, OTHER, papers)
    fake.fail_channel(CHANNEL_ID, status)
    caplog.set_level(logging.WARNING, logger="paperbot")
    lost, fine = await bot.delivery.deliver_many([KEY, OTHER])
    assert lost.paused and not lost.posted
    assert sorted(fine.posted) == sorted(p.arxiv_id for p in papers)
    asked = len(fake.requests)
    again = await bot.deliver_digest(KEY)
    assert again.skipped_reason is not None and "paused" in again.skipped_reason
    assert len(fake.requests) == asked  # a paused channel is not even tried
    reports = [r for r in caplog.records if "paused digests for" in r.getMessage()]
    assert len(reports) == 1 and str(KEY) in reports[0].getMessage()
    channel = await bot.channel(KEY)
    assert channel.settings.paused and f"{status}" in (channel.pause_reason or "")
    assert {e.state for e in bot.store.ledger(KEY)} == {"retry"}  # waiting, not lost


async def test_a_server_error_is_a_failure_for_now_not_a_pause(
    adapter: DiscordAdapter, bot: Paperbot, fake: FakeDiscord
) -> None:
    papers = diffusion_papers(2)
    await ready(bot, KEY, papers)
    fake.fail_channel(CHANNEL_ID, 503)
    report = await bot.deliver_digest(KEY)
    assert sorted(report.failed) == sorted(p.arxiv_id for p in papers) and not report.paused
    fake.failures.clear()
    retried = await bot.deliver_digest(KEY)
    assert sorted(retried.posted) == sorted(p.arxiv_id for p in papers)


async def test_no_permission_for_threads_posts_in_the_channel_instead(
    adapter: DiscordAdapter, bot: Paperbot, fake: FakeDiscord
) -> None:
    await ready(bot, KEY, diffusion_papers(2))
    fake.thread_failure = Failure(403, 50013, "Missing Permissions")
    report = await bot.deliver_digest(KEY)
    assert len(report.posted) == 2 and not report.paused
    assert len(fake.posted(CHANNEL_ID)) == 3


async def test_vote_reactions_are_added_to_each_paper(
    adapter: DiscordAdapter, bot: Paperbot, fake: FakeDiscord
) -> None:
    adapter.poster.seed_reactions = True
    await ready(bot, KEY, diffusion_papers(2), threaded=False)
    await bot.deliver_digest(KEY)
    items = fake.posted(CHANNEL_ID)[1:]
    assert sorted(fake.reactions) == sorted(
        (CHANNEL_ID, m["id"], emoji) for m in items for emoji in ("👍", "👎")
    )


async def test_find_posted_looks_in_the_channel_and_in_the_days_thread(
    adapter: DiscordAdapter, bot: Paperbot, fake: FakeDiscord, clock: FixedClock
) -> None:
    papers = diffusion_papers(2)
    await ready(bot, KEY, papers)
    since = clock() - timedelta(minutes=10)
    await bot.deliver_digest(KEY)
    ledger = {e.paper_id: e.message_id for e in bot.store.ledger(KEY)}
    poster = adapter.poster
    assert await poster.find_posted(KEY, papers[0].arxiv_id, since) == ledger[papers[0].arxiv_id]
    assert await poster.find_posted(KEY, "2401.99999", since) is None
    assert await poster.find_posted(KEY, papers[0].arxiv_id, clock() + timedelta(days=1)) is None
    fake.fail_channel(CHANNEL_ID, 403)
    with pytest.raises(CannotTell):
        await poster.find_posted(KEY, papers[0].arxiv_id, since)
    fake.fail_channel(CHANNEL_ID, 404)
    with pytest.raises(ChannelUnavailable):
        await poster.find_posted(KEY, papers[0].arxiv_id, since)


async def test_find_posted_cannot_tell_when_history_is_longer_than_it_reads(
    adapter: DiscordAdapter, bot: Paperbot, fake: FakeDiscord, clock: FixedClock
) -> None:
    await ready(bot, KEY, diffusion_papers(3), threaded=False)
    await bot.deliver_digest(KEY)
    adapter.poster.history_limit = 2
    with pytest.raises(CannotTell):
        await adapter.poster.find_posted(KEY, "2401.99999", clock() - timedelta(hours=1))


async def test_an_empty_digest_asked_for_posts_nothing_in_the_channel(
    adapter: DiscordAdapter, bot: Paperbot, fake: FakeDiscord
) -> None:
    # Issue 11 item 4: the requester's own (ephemeral) answer says so; the channel stays quiet.
    await ready(bot, KEY, [])
    await bot.update_settings(KEY, post_when_empty=False)
    report = await bot.deliver_digest(KEY, force_post=True)
    assert report.posted == [] and fake.posted(CHANNEL_ID) == []
    await bot.update_settings(KEY, post_when_empty=True)
    await bot.deliver_digest(KEY, force_post=True)
    assert fake.posted(CHANNEL_ID) == []
