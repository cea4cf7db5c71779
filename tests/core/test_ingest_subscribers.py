"""What channels get from an ingest beside its matches: nothing matched while a channel was
paused, the backlog kept across a pause, a new query's look back over the papers as their
ingest read them, and a digest saying how its papers matched through an expansion."""

from __future__ import annotations

import pytest
from ingest_helpers import KEY, OTHER, candidates, paper

from paperbot.models import ChannelKey
from paperbot.service import Paperbot
from paperbot.testing import FixedClock


async def test_a_resumed_channel_gets_nothing_matched_while_it_was_paused(
    bot: Paperbot, clock: FixedClock
) -> None:
    for key in (KEY, OTHER):
        await bot.subscribe(key, "diffusion", "U1")  # one shared query row
    bot.store.pause_channel(KEY, "channel_not_found")
    clock.advance(minutes=5)
    bot.ingest_papers([paper(1, "Diffusion While Paused")])
    clock.advance(minutes=5)
    bot.store.resume_channel(KEY)
    clock.advance(minutes=5)
    bot.ingest_papers([paper(2, "Diffusion After")])
    assert {m[0] for m in candidates(bot.store, OTHER)} == {"2611.00001", "2611.00002"}
    assert {m[0] for m in candidates(bot.store, KEY)} == {"2611.00002"}
    await bot.update_settings(OTHER, paused=True)
    clock.advance(minutes=5)
    bot.ingest_papers([paper(3, "Diffusion While OTHER Paused")])
    clock.advance(minutes=5)
    await bot.update_settings(OTHER, paused=False)  # resumed from settings: the same
    assert {m[0] for m in candidates(bot.store, OTHER)} == {"2611.00001", "2611.00002"}
    assert {m[0] for m in candidates(bot.store, KEY)} == {"2611.00002", "2611.00003"}


async def test_a_pause_and_resume_keeps_the_papers_that_were_waiting_for_a_digest(
    bot: Paperbot, clock: FixedClock
) -> None:
    # Found running `paperbot run` against a fake Slack: a digest said "17 more papers matched:
    # /papers more posts the next ones"; after `/papers settings pause` and `resume`, `/papers
    # more` said nothing was waiting. Only what matched while paused is not the channel's.
    await bot.subscribe(KEY, "diffusion", "U1")
    bot.ingest_papers([paper(1, "Diffusion Before")])
    for n, reason in enumerate(("by command", "channel_not_found"), start=2):
        clock.advance(minutes=5)
        if reason == "by command":
            await bot.update_settings(KEY, paused=True)
        else:
            bot.store.pause_channel(KEY, reason)
        clock.advance(minutes=5)
        bot.ingest_papers([paper(n, "Diffusion While Paused")])
        clock.advance(minutes=5)
        if reason == "by command":
            await bot.update_settings(KEY, paused=False)
        else:
            bot.store.resume_channel(KEY)
        waiting = {m[0] for m in candidates(bot.store, KEY)}
        assert "2611.00001" in waiting and f"2611.{n:05d}" not in waiting
    clock.advance(minutes=5)
    bot.ingest_papers([paper(9, "Diffusion After")])
    waiting = {m[0] for m in candidates(bot.store, KEY)}
    assert {"2611.00001", "2611.00009"} <= waiting and "2611.00003" not in waiting


async def test_a_new_query_looks_back_over_the_ingests_analysed_papers(
    bot: Paperbot, monkeypatch: pytest.MonkeyPatch
) -> None:
    bot.ingest_papers([paper(1, "Sparse Graphs"), paper(2, "Dense Graphs")])
    reads: list[list[str]] = []
    real = bot.store.get_papers
    monkeypatch.setattr(bot.store, "get_papers", lambda ids: reads.append(list(ids)) or real(ids))
    first = await bot.subscribe(KEY, "sparse", "U1")
    assert (first.recent_matches, reads) == (1, [[]])  # nothing read or analysed again
    # A paper changed since (a new revision) is read and analysed as it is now, then kept.
    bot.store.upsert_papers([paper(2, "Dense Graphs", ai_keywords=("sparse",))])
    second = await bot.subscribe(OTHER, "sparse", "U2")
    assert (second.recent_matches, reads[-1]) == (2, ["2611.00002"])
    third = await bot.subscribe(ChannelKey("slack", "T1", "C3"), "sparse", "U3")
    assert (third.recent_matches, reads[-1]) == (2, [])


async def test_a_look_back_takes_papers_as_their_ingest_read_them_after_acronyms_are_learned(
    bot: Paperbot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An ingest mining a pair makes a new vocabulary; the papers of the ingests before it are
    kept as analysed then (as their subscribers were matched), not analysed again."""
    bot.ingest_papers([paper(1, "Sparse Graphs"), paper(2, "Dense Graphs")])
    before = bot.vocabulary
    bot.ingest_papers([paper(3, "Spins", "We extend dynamical mean field theory (DMFT).")])
    assert bot.vocabulary is not before  # DMFT learned
    reads: list[list[str]] = []
    real = bot.store.get_papers
    monkeypatch.setattr(bot.store, "get_papers", lambda ids: reads.append(list(ids)) or real(ids))
    assert (await bot.subscribe(KEY, "sparse", "U1")).recent_matches == 1
    assert (await bot.subscribe(OTHER, "DMFT", "U1")).recent_matches == 1
    assert reads == [[], []]  # nothing read or analysed again


async def test_a_restarted_process_warms_up_the_look_back_before_its_first_subscribe(
    bot: Paperbot, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    bot.ingest_papers(
        [paper(n, f"{'Sparse' if n % 4 == 0 else 'Dense'} Graphs") for n in range(1, 121)]
    )
    restarted = Paperbot(bot.store, bot.search_index, clock=clock)
    restarted.warm_up()  # paperbot run does this in the background at its start
    analysed: list[str] = []
    analyze = restarted.analyze
    monkeypatch.setattr(restarted, "analyze", lambda p: analysed.append(p.arxiv_id) or analyze(p))
    assert (await restarted.subscribe(KEY, "sparse", "U1")).recent_matches == 30
    assert analysed == []  # neither the guard's sample nor the look back analysed anything


async def test_a_digest_says_how_its_shown_papers_matched_through_an_expansion(
    bot: Paperbot, monkeypatch: pytest.MonkeyPatch
) -> None:
    await bot.update_settings(KEY, max_items=2)
    for query in ("MoE", "graphs"):
        await bot.subscribe(KEY, query, "U1")
    bot.ingest_papers(
        [
            paper(1, "Sparse Mixture of Experts", upvotes=50),
            paper(2, "Graphs Everywhere", upvotes=40),
            paper(3, "A Mixture of Experts Too"),  # matched, but no room for it
        ]
    )
    analysed: list[str] = []
    real = bot.analyze
    monkeypatch.setattr(bot, "analyze", lambda p: analysed.append(p.arxiv_id) or real(p))
    digest = await bot.build_digest(KEY)
    shown = {item.paper.arxiv_id: item.reasons for item in digest.items}
    assert list(shown) == ["2611.00001", "2611.00002"] and digest.remaining == 1
    assert [r.detail for r in shown["2611.00001"]] == ["MoE as 'mixture of experts'"]
    assert [r.detail for r in shown["2611.00002"]] == [""]
    # Only the shown paper matched by a query holding an acronym is read again.
    assert analysed == ["2611.00001"]
