"""A channel's taste through the service, on real databases: learning from votes, ranking the
next day's digest, "also worth a look" through the ledger, persistence, `/papers like` and
`/papers taste`, cold start and failure."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import numpy as np
import pytest

from paperbot import commands
from paperbot.models import ChannelKey, CommandContext, Digest, Paper
from paperbot.ranking import RANKED_UP
from paperbot.scheduler import DigestScheduler
from paperbot.search import SearchIndex
from paperbot.service import Paperbot
from paperbot.settings import ScheduleSettings
from paperbot.sources.sample import sample_papers
from paperbot.store.store import Store
from paperbot.store.taste import TrainedModel
from paperbot.testing import FakeSource, FixedClock, RecordingPoster

KEY = ChannelKey("console", "local", "rl-lab")
OTHER = ChannelKey("console", "local", "nlp-lab")
SUBSCRIPTIONS = ("reinforcement", "graph", "image", '"language model"')


def liked(paper: Paper) -> bool:
    """The simulated team likes reinforcement learning and nothing else."""
    return "reinforcement" in f"{paper.title} {paper.abstract}".lower()


def halves() -> tuple[list[Paper], list[Paper]]:
    papers = sorted(sample_papers(), key=lambda p: p.arxiv_id)
    return papers[::2], papers[1::2]


async def first_day_with_votes(
    bot: Paperbot, clock: FixedClock, poster: RecordingPoster, settle: bool = True
) -> None:
    """Day one: subscribe, ingest, post the digest, vote 👍 on RL papers and 👎 on the others;
    then wait for the background retrain (`settle`) or leave it pending."""
    day_one, _ = halves()
    for key in (KEY, OTHER):
        for query in SUBSCRIPTIONS:
            await bot.subscribe(key, query, "U1")
        await bot.update_settings(key, max_items=30)
    await bot.blocking(bot.ingest_papers, day_one)
    clock.advance(hours=1)
    await bot.deliver_digest(KEY)
    await bot.deliver_digest(OTHER)
    posted = [p for p in poster.posts if p.kind == "item" and p.channel == KEY]
    papers = bot.store.get_papers([p.paper_id for p in posted if p.paper_id])
    ups = 0
    for post in posted:
        assert post.paper_id is not None
        value = 1 if liked(papers[post.paper_id]) else -1
        ups += value > 0
        assert await bot.record_vote(KEY, post.message_id, "U1", value) == post.paper_id
    assert ups >= 5  # the scenario needs enough votes up to learn from
    if settle:
        await bot.taste.settle()


async def next_day(bot: Paperbot, clock: FixedClock) -> None:
    _, day_two = halves()
    clock.advance(days=1)
    await bot.blocking(bot.ingest_papers, day_two)
    clock.advance(hours=1)


def matched(digest: Digest) -> list[Paper]:
    return [item.paper for item in digest.items if not item.suggested]


def mean_position(papers: Sequence[Paper], want: bool) -> float:
    spots = [n for n, paper in enumerate(papers) if liked(paper) is want]
    return sum(spots) / len(spots)


@pytest.fixture
def quick_bot(bot: Paperbot) -> Paperbot:
    bot.taste.retrain_delay = 0.0
    return bot


async def test_votes_teach_the_next_days_digest(
    quick_bot: Paperbot, clock: FixedClock, poster: RecordingPoster
) -> None:
    bot = quick_bot
    await first_day_with_votes(bot, clock, poster)
    await next_day(bot, clock)
    tasted = await bot.build_digest(KEY)
    plain = await bot.build_digest(OTHER)  # same subscription, no votes: no taste
    assert not any(item.note or item.suggested for item in plain.items)
    # Taste moves the RL papers up, ahead of where keyword evidence alone puts them.
    order, before = matched(tasted), matched(plain)
    assert sum(map(liked, order[:10])) > sum(map(liked, before[:10]))
    assert mean_position(order, True) < mean_position(order, False)
    assert any(item.note == RANKED_UP for item in tasted.items)
    # Also worth a look: unmatched papers, each close to a paper this channel voted up.
    suggestions = [item for item in tasted.items if item.suggested]
    assert 1 <= len(suggestions) <= 3
    voted_up = {p.title for p in sample_papers() if liked(p)}
    for item in suggestions:
        assert not item.reasons
        assert item.note.removeprefix("close to: ") in voted_up
    assert tasted.items[-len(suggestions) :] == tuple(suggestions)


async def test_suggestions_go_through_the_ledger_once_and_are_votable(
    quick_bot: Paperbot, clock: FixedClock, poster: RecordingPoster
) -> None:
    bot = quick_bot
    await first_day_with_votes(bot, clock, poster)
    await next_day(bot, clock)
    before = len(poster.posts)
    planned = await bot.build_digest(KEY)
    suggested_ids = {item.paper.arxiv_id for item in planned.items if item.suggested}
    assert suggested_ids
    report = await bot.deliver_digest(KEY)
    assert suggested_ids <= set(report.posted)
    offered_next = {item.paper.arxiv_id for item in (await bot.build_digest(KEY)).items}
    assert not offered_next & set(report.posted)  # nothing is offered twice
    new_posts = [p for p in poster.posts[before:] if p.kind == "item"]
    assert sorted(report.posted) == sorted(p.paper_id for p in new_posts if p.paper_id)
    ledger = {e.paper_id: e.state for e in bot.store.ledger(KEY)}
    assert all(ledger[p.paper_id] == "posted" for p in new_posts if p.paper_id)
    last = new_posts[-1]  # the last item posted is a suggestion
    assert await bot.record_vote(KEY, last.message_id, "U2", 1) == last.paper_id
    await bot.taste.settle()
    again = await bot.deliver_digest(KEY)
    assert not set(again.posted) & set(report.posted)
    assert sorted(poster.items(KEY)) == sorted(set(poster.items(KEY)))  # never posted twice


async def test_the_model_survives_a_restart_and_is_retrained_after_a_vote(
    quick_bot: Paperbot,
    clock: FixedClock,
    poster: RecordingPoster,
    store: Store,
    search_index: SearchIndex,
) -> None:
    bot = quick_bot
    await first_day_with_votes(bot, clock, poster)
    stored = bot.taste.store.load(KEY)
    assert stored is not None and stored.model and stored.up_votes >= 5
    assert stored.fingerprint == bot.taste.store.vote_fingerprint(KEY)  # retrained in background
    # A new process on the same database uses the stored model as it is (no retrain).
    clock.advance(hours=5)
    restarted = Paperbot(store, search_index, posters={"console": poster}, clock=clock)
    model = await restarted.blocking(restarted.taste.refresh, KEY)
    assert model is not None and model.ups == stored.up_votes
    reread = restarted.taste.store.load(KEY)
    assert reread is not None and reread.trained_at == stored.trained_at
    # A vote taken back changes the votes: the background retrain follows.
    first = next(p for p in poster.posts if p.kind == "item" and p.channel == KEY)
    restarted.taste.retrain_delay = 0.0
    await restarted.record_vote(KEY, first.message_id, "U1", 1, added=False)
    await restarted.record_vote(KEY, first.message_id, "U1", -1, added=False)
    await restarted.taste.settle()
    after = restarted.taste.store.load(KEY)
    assert after is not None and after.trained_at is not None
    assert after.trained_at > (stored.trained_at or clock())
    assert after.fingerprint == restarted.taste.store.vote_fingerprint(KEY)
    # Never shared: the other channel has no model of its own.
    assert await restarted.blocking(restarted.taste.refresh, OTHER) is None


async def test_a_failing_model_leaves_the_digest_as_it_was(
    quick_bot: Paperbot, clock: FixedClock, poster: RecordingPoster
) -> None:
    bot = quick_bot
    await first_day_with_votes(bot, clock, poster)
    await next_day(bot, clock)
    expected = await bot.build_digest(OTHER)
    stored = bot.taste.store.load(KEY)
    assert stored is not None and stored.fingerprint and stored.trained_at
    # The stored model is unreadable (a bad write, a format from another version).
    bot.taste.store.save_model(
        KEY,
        TrainedModel(
            b"not a model", stored.fingerprint, stored.up_votes, stored.down_votes, 0, clock()
        ),
    )
    digest = await bot.build_digest(KEY)
    assert [i.paper.arxiv_id for i in digest.items] == [i.paper.arxiv_id for i in expected.items]
    reply = await commands.handle(bot, CommandContext(KEY, "U1"), "taste")
    assert not reply.is_error and "its model is not trained yet" in reply.text


async def test_a_digest_reads_the_stored_model_and_never_trains(
    bot: Paperbot, clock: FixedClock, poster: RecordingPoster
) -> None:
    bot.taste.retrain_delay = 0.0
    await first_day_with_votes(bot, clock, poster)
    trained = bot.taste.store.load(KEY)
    assert trained is not None and trained.model
    # Votes come in and their retrain is still waiting: the digest uses the model it has.
    bot.taste.retrain_delay = 3600.0
    for post in [p for p in poster.posts if p.kind == "item" and p.channel == KEY][:3]:
        await bot.record_vote(KEY, post.message_id, "U7", -1)
    await next_day(bot, clock)
    digest = await bot.build_digest(KEY)
    assert any(item.note == RANKED_UP for item in digest.items)
    assert any(item.suggested for item in digest.items)
    after = bot.taste.store.load(KEY)
    assert after == trained  # nothing was retrained or written by building the digest
    assert after.fingerprint != bot.taste.store.vote_fingerprint(KEY)
    await bot.taste.aclose()


async def test_without_a_stored_model_the_digest_goes_on_without_taste(
    bot: Paperbot, clock: FixedClock, poster: RecordingPoster
) -> None:
    bot.taste.retrain_delay = 3600.0
    await first_day_with_votes(bot, clock, poster, settle=False)
    await bot.taste.aclose()  # the process stops before the retrain the votes asked for
    assert bot.taste.store.load(KEY) is None
    await next_day(bot, clock)
    tasted, plain = await bot.build_digest(KEY), await bot.build_digest(OTHER)
    assert [i.paper.arxiv_id for i in tasted.items] == [i.paper.arxiv_id for i in plain.items]
    assert not any(item.note or item.suggested for item in tasted.items)
    assert bot.taste.store.load(KEY) is None  # and it did not train one either


async def test_stale_models_are_retrained_after_an_ingest_and_at_start_up(
    bot: Paperbot,
    clock: FixedClock,
    poster: RecordingPoster,
    store: Store,
    search_index: SearchIndex,
) -> None:
    bot.taste.retrain_delay = 3600.0
    await first_day_with_votes(bot, clock, poster, settle=False)
    await bot.taste.aclose()  # stopped before the retrain its votes asked for
    assert bot.taste.store.stale() == [KEY]  # OTHER has no votes: nothing to learn
    # The next process's ingest retrains it, in the background.
    _, day_two = halves()
    clock.advance(days=1)
    source = FakeSource(by_day={clock().date(): day_two})
    restarted = Paperbot(store, search_index, [source], posters={"console": poster}, clock=clock)
    report = await restarted.ingest_day(clock().date())
    assert report.inserted == len(day_two)
    await restarted.taste.settle()
    stored = restarted.taste.store.load(KEY)
    assert stored is not None and stored.model and stored.up_votes >= 5
    assert stored.fingerprint == restarted.taste.store.vote_fingerprint(KEY)
    assert restarted.taste.store.stale() == []
    # More votes, and again no retrain before the process stops: start-up catches up.
    restarted.taste.retrain_delay = 3600.0
    post = next(p for p in poster.posts if p.kind == "item" and p.channel == OTHER)
    await restarted.record_vote(OTHER, post.message_id, "U3", 1)
    await restarted.taste.aclose()
    assert restarted.taste.store.stale() == [OTHER]
    again = Paperbot(store, search_index, posters={"console": poster}, clock=clock)
    scheduler = DigestScheduler(again, ScheduleSettings())
    await scheduler.start()
    try:
        await again.taste.settle()
    finally:
        await scheduler.stop()
    other = again.taste.store.load(OTHER)
    assert other is not None and other.up_votes == 1 and other.model
    assert other.fingerprint == again.taste.store.vote_fingerprint(OTHER)
    assert again.taste.store.stale() == []
    assert await again.blocking(again.taste.stored_model, OTHER) is None  # 1 vote up: too few


async def ask(bot: Paperbot, text: str, key: ChannelKey = KEY) -> str:
    reply = await commands.handle(bot, CommandContext(key, "U1"), text)
    assert "\n" not in reply.text or not reply.is_error  # refusals are one line
    return ("✗ " if reply.is_error else "") + reply.text


async def test_taste_and_like_commands_with_cold_start_and_bad_input(
    quick_bot: Paperbot, clock: FixedClock, poster: RecordingPoster
) -> None:
    bot = quick_bot
    assert (await ask(bot, "taste")).startswith("No votes yet")
    assert (await ask(bot, "like")).startswith("✗ say which paper")
    assert (await ask(bot, "like 2401.99999")).startswith("✗ I have not seen arXiv:2401.99999")
    assert (await ask(bot, "like <@U1> everyone")).startswith("✗ give an arXiv id")
    assert (await ask(bot, "like 3")).startswith("✗ no paper #3 in this channel's latest digest")
    await first_day_with_votes(bot, clock, poster)
    text = await ask(bot, "taste")
    assert text.startswith("Learned from") and "Pulls papers up:" in text
    assert "reinforcement" in text.split("Pulls papers up:")[1].split("\n")[0]
    posted = [p.paper_id for p in poster.posts if p.kind == "item" and p.channel == KEY]
    # By digest number, arXiv link and message id: the same paper, and papers like it.
    by_number = await commands.handle(bot, CommandContext(KEY, "U1"), "like 1")
    target = bot.store.get_paper(bot.taste.store.latest_digest(KEY)[0])
    assert target is not None and target.arxiv_id in posted
    assert by_number.items and target.arxiv_id not in {i.paper.arxiv_id for i in by_number.items}
    by_link = await commands.handle(
        bot, CommandContext(KEY, "U1"), f"like https://arxiv.org/abs/{target.arxiv_id}v2"
    )
    assert [i.paper.arxiv_id for i in by_link.items] == [i.paper.arxiv_id for i in by_number.items]
    assert (await ask(bot, "like 99")).startswith("✗ no paper #99")
    # The other channel, which never voted, learned nothing from this one.
    assert (await ask(bot, "taste", OTHER)).startswith("No votes yet")


async def test_also_worth_a_look_setting(
    quick_bot: Paperbot, clock: FixedClock, poster: RecordingPoster
) -> None:
    bot = quick_bot
    assert "also 3" in await ask(bot, "settings")
    assert (await ask(bot, "settings also 11")).startswith("✗ also is a whole number from 0 to 10")
    assert "also worth a look off" in await ask(bot, "settings also 0")
    assert "also 0" in await ask(bot, "settings")
    await first_day_with_votes(bot, clock, poster)
    await next_day(bot, clock)
    digest = await bot.build_digest(KEY)
    assert not any(item.suggested for item in digest.items)
    assert any(item.note == RANKED_UP for item in digest.items)  # ranking still learns
    await ask(bot, "settings also 1")
    digest = await bot.build_digest(KEY)
    assert sum(item.suggested for item in digest.items) == 1
    refused = await commands.handle(
        bot, CommandContext(KEY, "U9", can_manage=False), "settings also 2"
    )
    assert refused.is_error


async def test_a_vote_storm_costs_a_retrain_or_two(
    bot: Paperbot, clock: FixedClock, poster: RecordingPoster, monkeypatch: pytest.MonkeyPatch
) -> None:
    bot.taste.retrain_delay = 0.0
    await first_day_with_votes(bot, clock, poster)  # settles the retrain its votes asked for
    calls: list[ChannelKey] = []
    original = bot.taste.refresh

    def counting(key: ChannelKey) -> object:
        calls.append(key)
        return original(key)

    monkeypatch.setattr(bot.taste, "refresh", counting)
    bot.taste.retrain_delay = 1.0  # far longer than the storm takes
    posted = [p for p in poster.posts if p.kind == "item" and p.channel == KEY]
    for n, post in enumerate(posted):
        await bot.record_vote(KEY, post.message_id, f"storm{n}", 1)
    await bot.taste.settle()
    assert len(posted) >= 20 and 1 <= len(calls) <= 2
    stored = bot.taste.store.load(KEY)
    assert stored is not None and stored.fingerprint == bot.taste.store.vote_fingerprint(KEY)


async def test_a_resumed_digest_keeps_the_suggestions_it_reserved(
    quick_bot: Paperbot, clock: FixedClock, poster: RecordingPoster
) -> None:
    bot = quick_bot
    await first_day_with_votes(bot, clock, poster)
    await next_day(bot, clock)
    planned = await bot.build_digest(KEY)
    suggested = [item.paper.arxiv_id for item in planned.items if item.suggested]
    matched_ids = [item.paper.arxiv_id for item in planned.items if not item.suggested]
    waiting = [matched_ids[0], *suggested]
    channel = await bot.channel(KEY)
    # What delivery does after a crash: rebuild the digest from exactly the ids still waiting.
    resumed = await bot.digests.build(channel, clock(), only=waiting, limit=len(waiting))
    assert [i.paper.arxiv_id for i in resumed.items] == waiting
    assert [i.suggested for i in resumed.items] == [False] + [True] * len(suggested)
    assert all(i.note.startswith("close to: ") for i in resumed.items[1:])


async def test_taste_counts_a_vote_at_once_before_any_retrain(
    bot: Paperbot, clock: FixedClock, poster: RecordingPoster
) -> None:
    # Found in use: one vote, then `/papers taste` said "No votes yet" until the background
    # retrain (a few seconds later) had stored its counts.
    bot.taste.retrain_delay = 3600.0  # the retrain has not run yet
    await bot.subscribe(KEY, "reinforcement", "U1")
    await bot.blocking(bot.ingest_papers, halves()[0])
    clock.advance(hours=1)
    await bot.deliver_digest(KEY)
    first = next(p for p in poster.posts if p.kind == "item" and p.channel == KEY)
    assert await bot.record_vote(KEY, first.message_id, "U1", 1) == first.paper_id
    text = await ask(bot, "taste")
    assert text.startswith("Learning needs 5 papers voted 👍; this channel has 1 👍 and 0 👎")
    assert text.endswith("4 more 👍 to go.")
    # Found in use: with enough votes and the retrain still to come it said "Learning needs 5
    # papers voted 👍; this channel has 6 👍", as if 6 were fewer than 5.
    items = [p for p in poster.posts if p.kind == "item" and p.channel == KEY]
    assert len(items) >= 5
    for post in items[1:5]:
        await bot.record_vote(KEY, post.message_id, "U1", 1)
    text = await ask(bot, "taste")
    assert text.startswith("Learning from this channel's 5 👍 and 0 👎: its model is not trained")
    await bot.taste.aclose()


async def test_also_worth_a_look_shows_the_best_scored_papers_in_order(
    quick_bot: Paperbot, clock: FixedClock, poster: RecordingPoster
) -> None:
    """The suggestions are the day's unmatched papers the model scores highest, best first,
    not whichever come first among those whose (clipped) z-score ties at the top."""
    bot = quick_bot
    await first_day_with_votes(bot, clock, poster)
    await next_day(bot, clock)
    await ask(bot, "settings also 10")
    digest = await bot.build_digest(KEY)
    shown = [item.paper.arxiv_id for item in digest.items if item.suggested]
    model = bot.taste.stored_model(KEY)
    assert model is not None and len(shown) >= 2
    _, day_two = halves()
    pool = set(bot.taste.store.candidate_ids(KEY, clock.now - timedelta(days=2), 3000))
    unmatched = [p for p in day_two if p.arxiv_id in pool]
    scores = model.decision(bot.taste.vectors.rows(unmatched))
    best = [unmatched[int(i)].arxiv_id for i in np.argsort(-scores, kind="stable")]
    assert shown == best[: len(shown)]
