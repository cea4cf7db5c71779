"""The ingest at scale: chunked, crash-safe, synced by the change counter, and its stored query
rows fanned out to exactly what evaluating every (subscription, paper) pair finds."""

from __future__ import annotations

import asyncio
import tempfile
import threading
import time
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ingest_helpers import EPOCH, KEY, OTHER, candidates, paper
from sqlalchemy import event

from paperbot.errors import InvalidInput
from paperbot.ingest import LiveSubscriptions, ingest_in_chunks
from paperbot.models import ChannelKey, ChannelSettings, MatchField, Paper
from paperbot.query import evaluate, parse
from paperbot.search import parse_search
from paperbot.service import Paperbot, analyze_paper
from paperbot.store.store import Store
from paperbot.testing import FixedClock

WORDS = ["diffusion", "model", "robot", "graph", "video", "sparse", "agent", "reward"]


def naive(papers: list[Paper], query: str) -> set[tuple[str, str, MatchField]]:
    found = set()
    for p in papers:
        verdict = evaluate(parse(query), analyze_paper(p))
        if verdict.matched:
            found.add((p.arxiv_id, query, verdict.field or MatchField.ABSTRACT))
    return found


# Chunks of 1, 2, 4, ... whatever the machine's speed: a write slower than its budget (a loaded
# machine's fsync) would otherwise keep the next chunk small, and the chunk counts below move.
DOUBLING: dict[str, Any] = {"first_chunk": 1, "target_write_seconds": 3600.0}


def test_a_failure_mid_ingest_leaves_marked_papers_that_the_next_ingest_matches(
    store: Store,
) -> None:
    store.ensure_channel(KEY, ChannelSettings())
    store.add_subscription(KEY, "diffusion", "U1")
    day = [paper(n, f"Diffusion {n}") for n in range(1, 13)]
    live = LiveSubscriptions()
    live.sync(store)

    def crash(*args: object, **kwargs: object) -> None:
        raise MemoryError("killed mid-ingest")

    live.match_chunk = crash  # type: ignore[method-assign,assignment]
    with pytest.raises(MemoryError):  # the papers were stored in chunks; matching failed
        ingest_in_chunks(store, live, day[:10], analyze_paper, **DOUBLING)
    del live.match_chunk
    assert all(store.get_paper(p.arxiv_id) is not None for p in day[:10])
    assert len(store.pending_matches()) == 4  # chunks of 1, 2, 4 and 3, each marked
    assert candidates(store, KEY) == set()
    result, matched, stats = ingest_in_chunks(store, live, day, analyze_paper, first_chunk=1)
    assert (len(result.inserted), stats.recovered, matched) == (2, 10, 12)
    assert candidates(store, KEY) == naive(day, "diffusion")
    assert store.pending_matches() == []
    again, matched, _ = ingest_in_chunks(store, live, day, analyze_paper)
    assert (again.changed, matched) == ([], 0)  # the same day twice writes nothing


def test_a_failure_analysing_a_chunk_stores_none_of_it_and_the_next_ingest_does(
    store: Store,
) -> None:
    store.ensure_channel(KEY, ChannelSettings())
    store.add_subscription(KEY, "diffusion", "U1")
    day = [paper(n, f"Diffusion {n}") for n in range(1, 11)]
    live = LiveSubscriptions()
    live.sync(store)

    def analyze_until_crash(p: Paper):  # type: ignore[no-untyped-def]
        if p.arxiv_id == "2611.00008":
            raise MemoryError("killed mid-ingest")
        return analyze_paper(p)

    with pytest.raises(MemoryError):  # papers are analysed before their chunk is written
        ingest_in_chunks(store, live, day, analyze_until_crash, **DOUBLING)
    stored = [p.arxiv_id for p in day if store.get_paper(p.arxiv_id) is not None]
    assert stored == [p.arxiv_id for p in day[:7]]  # chunks of 1, 2 and 4; not the fourth
    assert len(store.pending_matches()) == 3
    result, matched, stats = ingest_in_chunks(store, live, day, analyze_paper, first_chunk=1)
    assert (len(result.inserted), stats.recovered, matched) == (3, 7, 10)
    assert candidates(store, KEY) == naive(day, "diffusion")
    assert store.pending_matches() == []


def test_an_updated_paper_records_only_its_new_matches(store: Store, clock: FixedClock) -> None:
    store.ensure_channel(KEY, ChannelSettings())
    for query in ("diffusion", "upvotes:20"):
        store.add_subscription(KEY, query, "U1")
    live = LiveSubscriptions()
    live.sync(store)
    ingest_in_chunks(store, live, [paper(1, "Diffusion", upvotes=3)], analyze_paper)
    clock.advance(hours=1)
    since = clock()
    clock.advance(hours=1)
    _, matched, _ = ingest_in_chunks(
        store, live, [paper(1, "Diffusion", upvotes=25)], analyze_paper
    )
    assert matched == 1  # the upvote filter is new; the diffusion match was recorded already
    fresh = store.digest_candidates(KEY, since)
    assert [(m.paper_id, m.subscription) for m in fresh] == [("2611.00001", "upvotes:20")]


def test_instances_sync_each_others_subscriptions_by_the_change_counter(db_url: str) -> None:
    clock = FixedClock()
    first, second = Store.open(db_url, clock=clock), Store.open(db_url, clock=clock)
    try:
        for key in (KEY, OTHER):
            first.ensure_channel(key, ChannelSettings())
        first.add_subscription(KEY, "diffusion", "U1")
        live = LiveSubscriptions()
        assert live.sync(first).full
        nothing = live.sync(first)
        assert (nothing.full, nothing.channels) == (False, 0)
        # Another instance changes the other channel's subscriptions.
        second.add_subscription(OTHER, "robot", "U2")
        second.add_subscription(OTHER, "graph", "U2")
        assert second.remove_subscription(OTHER, "graph")
        synced = live.sync(first)
        assert (synced.full, synced.channels) == (False, 1)
        assert sorted(s.query for s in live.index._members) == ["diffusion", "robot"]
        day = [paper(1, "Robot Diffusion"), paper(2, "Graph Robots")]
        ingest_in_chunks(first, live, day, analyze_paper)
        assert candidates(second, OTHER) == naive(day, "robot")
        assert candidates(second, KEY) == naive(day, "diffusion")
    finally:
        first.close()
        second.close()


@pytest.mark.parametrize("when", ["after the first chunk", "after the last chunk", "at matching"])
def test_a_subscription_added_mid_ingest_gets_every_matching_paper_of_the_day_once(
    bot: Paperbot, monkeypatch: pytest.MonkeyPatch, when: str
) -> None:
    """The ingest synced before the subscribe, whose look back reads only the chunks
    committed by then: the rest of the day is the ingest's to match for it."""
    bot.store.ensure_channel(KEY, ChannelSettings())
    bot.store.add_subscription(KEY, "diffusion", "U1")
    day = [paper(n, f"{'Sparse' if n % 3 == 0 else 'Dense'} Diffusion {n}") for n in range(1, 16)]
    live = bot.live_subscriptions
    live.sync(bot.store)
    answers: list[object] = []

    def subscribe_now() -> None:  # from another thread, as a command during the ingest is
        thread = threading.Thread(
            target=lambda: answers.append(asyncio.run(bot.subscribe(OTHER, "sparse", "U2")))
        )
        thread.start()
        thread.join()

    if when == "after the first chunk":
        real = bot.store.store_chunk

        def store_chunk(chunk: Any, prepare: Any) -> Any:
            done = real(chunk, prepare)
            if not answers:
                subscribe_now()
            return done

        monkeypatch.setattr(bot.store, "store_chunk", store_chunk)
    elif when == "at matching":
        real_match = live.match_chunk

        def match_chunk(*args: Any, **kwargs: Any) -> Any:
            subscribe_now()  # after the ingest synced again: its look back reads every chunk
            return real_match(*args, **kwargs)

        monkeypatch.setattr(live, "match_chunk", match_chunk)
    stored = subscribe_now if when == "after the last chunk" else None
    ingest_in_chunks(bot.store, live, day, bot.analyze, stored=stored, **DOUBLING)
    assert len(answers) == 1
    found = bot.store.digest_candidates(OTHER, EPOCH)
    assert {(m.paper_id, m.subscription, m.field) for m in found} == naive(day, "sparse")
    assert len(found) == len(naive(day, "sparse")) == 5  # each paper once
    assert candidates(bot.store, KEY) == naive(day, "diffusion")


async def test_the_service_ingests_in_chunks_and_digests_from_query_rows(bot: Paperbot) -> None:
    await bot.subscribe(KEY, "diffusion", "alice")
    await bot.subscribe(OTHER, "Diffusion", "bob")  # the same query: one row for both
    day = [paper(n, f"Diffusion {n}" if n % 2 else f"Graphs {n}") for n in range(1, 9)]
    inserted, _, matched = bot.ingest_papers(day)
    assert (inserted, matched) == (8, 4)
    assert bot.last_sync is not None and bot.last_ingest is not None
    assert bot.last_ingest.max_write_seconds > 0
    for key in (KEY, OTHER):
        digest = await bot.build_digest(key)
        assert sorted(i.paper.arxiv_id for i in digest.items) == [
            f"2611.{n:05d}" for n in (1, 3, 5, 7)
        ]


def test_the_search_index_catches_up_beside_the_matching(bot: Paperbot) -> None:
    bot.store.ensure_channel(KEY, ChannelSettings())
    bot.store.add_subscription(KEY, "diffusion", "U1")
    day = [paper(n, f"Diffusion {n}") for n in range(1, 7)]
    indexing = threading.Event()
    catch_up, match_chunk = bot.search_index.catch_up, bot.live_subscriptions.match_chunk

    def catching_up(*args: Any, **kwargs: Any) -> int:
        indexing.set()
        return catch_up(*args, **kwargs)

    def matching(*args: Any, **kwargs: Any) -> Any:
        # Matching goes on only once the index is catching up: with the index after the
        # matching, as before, this would wait in vain.
        assert indexing.wait(timeout=30), "the index did not start before the matching ended"
        return match_chunk(*args, **kwargs)

    bot.search_index.catch_up = catching_up  # type: ignore[method-assign]
    bot.live_subscriptions.match_chunk = matching  # type: ignore[method-assign]
    assert bot.ingest_papers(day) == (6, 0, 6)
    # Caught up when the ingest returns: every paper of the day is searchable.
    hits = bot.search_index.search(parse_search("diffusion"), limit=20)
    assert sorted(h.arxiv_id for h in hits) == [p.arxiv_id for p in day]
    assert bot.last_ingest is not None and bot.last_ingest.index_seconds > 0


def test_an_index_failure_fails_the_ingest_after_its_matches_are_recorded(bot: Paperbot) -> None:
    bot.store.ensure_channel(KEY, ChannelSettings())
    bot.store.add_subscription(KEY, "diffusion", "U1")

    def broken(*args: object, **kwargs: object) -> int:
        raise OSError("index directory unwritable")

    bot.search_index.catch_up = broken  # type: ignore[method-assign,assignment]
    with pytest.raises(OSError, match="unwritable"):
        bot.ingest_papers([paper(1, "Diffusion 1")])
    assert candidates(bot.store, KEY) == {("2611.00001", "diffusion", MatchField.TITLE)}
    assert bot.store.pending_matches() == []  # nothing left for the next ingest to redo


def test_an_ingest_failure_is_the_error_raised_even_when_the_index_fails_too(
    bot: Paperbot,
) -> None:
    bot.store.ensure_channel(KEY, ChannelSettings())
    bot.store.add_subscription(KEY, "diffusion", "U1")
    finished = threading.Event()

    def broken(*args: object, **kwargs: object) -> int:
        time.sleep(0.05)
        finished.set()
        raise OSError("index directory unwritable")

    def crash(*args: object, **kwargs: object) -> None:
        raise MemoryError("killed mid-ingest")

    bot.search_index.catch_up = broken  # type: ignore[method-assign,assignment]
    bot.live_subscriptions.match_chunk = crash  # type: ignore[method-assign,assignment]
    with pytest.raises(MemoryError):
        bot.ingest_papers([paper(1, "Diffusion 1")])
    assert finished.is_set()  # the index's thread was waited for, not left running
    assert bot.store.pending_matches() != []  # the next ingest matches the stored paper


async def test_a_digest_is_built_in_one_database_session_with_its_channel(
    bot: Paperbot,
) -> None:
    await bot.subscribe(KEY, "diffusion", "alice")
    await bot.subscribe(KEY, "graphs", "alice")
    bot.ingest_papers([paper(n, f"Diffusion graphs {n}") for n in range(1, 6)])
    bot.store.reserve_posts(KEY, ["2611.00001"], date(2026, 1, 1), "w")
    bot.store.complete_post(KEY, "2611.00001", "m1")
    await bot.record_vote(KEY, "m1", "U1", 1)
    bot.store.record_source_result("arxiv", None, "down")
    sessions = []
    event.listen(bot.store.engine, "checkout", lambda *args: sessions.append(1))
    digest = await bot.build_digest(KEY)
    # One for everything the build reads (the channel's record, candidates, papers, votes,
    # failing sources, taste): on PostgreSQL each session costs a pre-ping and a rollback.
    assert len(sessions) == 1
    assert [i.paper.arxiv_id for i in digest.items] == [f"2611.{n:05d}" for n in range(2, 6)]
    assert len(digest.items[0].reasons) == 2
    # A channel never seen is created (in a transaction of its own), then built.
    new = await bot.build_digest(ChannelKey("slack", "T1", "C-new"))
    assert new.is_empty and bot.store.get_channel(ChannelKey("slack", "T1", "C-new")) is not None


# --- the property: stored query rows, fanned out, equal the naive evaluation -----------------

leaf = st.one_of(
    st.sampled_from(WORDS),
    st.tuples(st.sampled_from(WORDS), st.sampled_from(WORDS)).map(lambda p: f'"{p[0]} {p[1]}"'),
    st.sampled_from(["cs.LG", "cs.RO"]).map(lambda c: f"cat:{c}"),
    st.sampled_from(WORDS).map(lambda w: f"title:{w}"),
    st.integers(0, 30).map(lambda n: f"upvotes:{n}"),
)


def _parses(text: str) -> bool:
    try:
        parse(text)
    except InvalidInput:  # "upvotes:0" alone would match anything: refused as a subscription
        return False
    return True


query = st.one_of(
    leaf,
    st.tuples(leaf, leaf).map(lambda p: f"{p[0]} OR {p[1]}"),
    st.tuples(leaf, leaf).map(lambda p: f"{p[0]} {p[1]}"),
    st.tuples(leaf, leaf).map(lambda p: f"{p[0]} -{p[1]}"),
).filter(_parses)
channel = st.sampled_from([ChannelKey("slack", "T", f"C{i}") for i in range(3)])
text = st.lists(st.sampled_from([*WORDS, "the", "of", "models", "robots"]), max_size=8).map(
    " ".join
)
papers = st.lists(
    st.tuples(
        text, text, st.sampled_from([(), ("cs.LG",), ("cs.RO", "cs.LG")]), st.integers(0, 30)
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.tuples(query, channel), min_size=1, max_size=10),
    st.lists(st.tuples(query, channel), max_size=5),
    papers,
    papers,
    st.integers(1, 5),
)
def test_stored_query_rows_fan_out_to_what_every_pair_would_match(
    before: list[tuple[str, ChannelKey]],
    added: list[tuple[str, ChannelKey]],
    first_day: list[tuple[str, str, tuple[str, ...], int]],
    second_day: list[tuple[str, str, tuple[str, ...], int]],
    first_chunk: int,
) -> None:
    day1 = [
        paper(n, t or "Untitled", a or "Empty.", categories=c, upvotes=u)
        for n, (t, a, c, u) in enumerate(first_day, start=1)
    ]
    day2 = [
        paper(100 + n, t or "Untitled", a or "Empty.", categories=c, upvotes=u)
        for n, (t, a, c, u) in enumerate(second_day, start=1)
    ]
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(f"sqlite:///{Path(tmp) / 'p.sqlite'}", clock=FixedClock())
        try:
            for key in {ch for _, ch in before + added}:
                store.ensure_channel(key, ChannelSettings())
            for q, ch in before:
                store.add_subscription(ch, str(parse(q)), "U")
            live = LiveSubscriptions()
            live.sync(store)
            ingest_in_chunks(store, live, day1, analyze_paper, first_chunk=first_chunk)
            texts_day1 = {s.query for s in live.index._members}
            # Between the days: every other channel drops its first subscription, others join.
            for key in sorted({ch for _, ch in before}, key=str)[::2]:
                subs = store.list_subscriptions(key)
                store.remove_subscription(key, subs[0].query)
            for q, ch in added:
                store.add_subscription(ch, str(parse(q)), "U")
            live.sync(store)
            ingest_in_chunks(store, live, day2, analyze_paper, first_chunk=first_chunk)
            for key in {ch for _, ch in before + added}:
                expected: set[tuple[str, str, MatchField]] = set()
                for sub in store.list_subscriptions(key):
                    expected |= naive(day2, sub.query)
                    if sub.query in texts_day1:  # the query's day-one rows are shared
                        expected |= naive(day1, sub.query)
                assert candidates(store, key) == expected
        finally:
            store.close()


async def test_a_subscriber_joining_a_followed_query_sees_its_recent_matches(
    bot: Paperbot, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    await bot.subscribe(KEY, "diffusion", "U1")
    bot.ingest_papers([paper(1, "Diffusion Old")])
    clock.advance(days=5)
    bot.ingest_papers([paper(2, "Diffusion New"), paper(3, "Graphs")])
    clock.advance(hours=1)

    def no_matching(since: object) -> list[Paper]:
        raise AssertionError("the query's matches are stored: nothing to match again")

    monkeypatch.setattr(bot.store, "papers_seen_since", no_matching)
    joined = await bot.subscribe(OTHER, "Diffusion", "U2")
    assert joined.recent_matches == 1
    found = bot.store.digest_candidates(OTHER, EPOCH)
    assert [m.paper_id for m in found] == ["2611.00002"]  # in the look back; the old one is not
    monkeypatch.undo()
    novel = await bot.subscribe(OTHER, "graphs", "U2")  # nobody followed it: matched now
    assert novel.recent_matches == 1
