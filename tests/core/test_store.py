"""The store on real databases: a SQLite file, and PostgreSQL when a server is configured."""

import threading
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import inspect

from paperbot.models import ChannelKey, ChannelSettings, MatchField
from paperbot.store.database import current_revision, head_revision
from paperbot.store.matches import pack
from paperbot.store.store import PostState, Store, StoredMatch
from paperbot.testing import FixedClock, make_paper

EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
KEY = ChannelKey("slack", "T1", "C1")


def test_migrations_run_on_open_and_again_harmlessly(store: Store, db_url: str) -> None:
    assert current_revision(store.engine) == head_revision()
    tables = set(inspect(store.engine).get_table_names())
    assert {"papers", "channels", "subscriptions", "query_matches", "posts", "votes"} <= tables
    again = Store.open(db_url)
    assert current_revision(again.engine) == head_revision()
    again.close()


def test_papers_read_again_are_current_whichever_process_changed_them(
    store: Store, db_url: str
) -> None:
    a = make_paper("Attention", "Abstract", arxiv_id="2401.00001")
    b = make_paper("Other", "Abstract", arxiv_id="2401.00002")
    store.upsert_papers([a, b])
    assert store.get_papers([a.arxiv_id, b.arxiv_id])[a.arxiv_id].upvotes == 0  # now cached
    other = Store.open(db_url)  # another process, with a cache of its own
    try:
        other.upsert_papers([make_paper("Attention", "Abstract", arxiv_id=a.arxiv_id, upvotes=7)])
        fresh = store.get_papers([a.arxiv_id, b.arxiv_id])
        assert (fresh[a.arxiv_id].upvotes, fresh[b.arxiv_id].title) == (7, "Other")
        other.upsert_papers([make_paper("Other", "Abstract", arxiv_id=b.arxiv_id, upvotes=3)])
        assert store.get_paper(b.arxiv_id).upvotes == 3  # type: ignore[union-attr]
        assert store.get_paper(a.arxiv_id).upvotes == 7  # type: ignore[union-attr]
    finally:
        other.close()


def test_upsert_is_idempotent_and_merges_sources(store: Store) -> None:
    a = make_paper("Attention", "Abstract", arxiv_id="2401.00001", categories=("cs.LG",))
    b = make_paper("Other", "Abstract", arxiv_id="2401.00002")
    first = store.upsert_papers([a, b])
    assert [p.arxiv_id for p in first.inserted] == ["2401.00001", "2401.00002"]
    second = store.upsert_papers([a, b])
    assert second.inserted == [] and second.updated == []
    assert store.count_papers() == 2
    hf = make_paper("Attention", "Abstract", arxiv_id="2401.00001", upvotes=9, sources=("hf",))
    third = store.upsert_papers([hf])
    assert [p.arxiv_id for p in third.updated] == ["2401.00001"]
    stored = store.get_paper("2401.00001")
    assert stored is not None
    assert (stored.upvotes, stored.sources, stored.categories) == (9, ("arxiv", "hf"), ("cs.LG",))


def test_duplicates_within_one_batch_become_one_paper(store: Store) -> None:
    a = make_paper("T", "A", arxiv_id="2401.00003", upvotes=1)
    b = make_paper("T", "A", arxiv_id="2401.00003", upvotes=5, sources=("hf",))
    result = store.upsert_papers([a, b])
    assert len(result.inserted) == 1
    assert store.get_paper("2401.00003").upvotes == 5  # type: ignore[union-attr]


def test_revisions_let_an_index_catch_up(store: Store) -> None:
    store.upsert_papers([make_paper(arxiv_id="2401.00010"), make_paper(arxiv_id="2401.00011")])
    changed = store.papers_changed_since(0)
    assert [p.arxiv_id for _, p in changed] == ["2401.00010", "2401.00011"]
    last = changed[-1][0]
    store.upsert_papers([make_paper(arxiv_id="2401.00010", upvotes=3)])
    assert [p.arxiv_id for _, p in store.papers_changed_since(last)] == ["2401.00010"]


def test_channels_subscriptions_and_settings(store: Store) -> None:
    channel = store.ensure_channel(KEY, ChannelSettings(timezone="Europe/Berlin"))
    assert channel.settings.timezone == "Europe/Berlin"
    assert store.ensure_channel(KEY, ChannelSettings()).settings.timezone == "Europe/Berlin"
    assert store.add_subscription(KEY, "diffusion", "U1") is not None
    assert store.add_subscription(KEY, "diffusion", "U2") is None  # same query twice
    assert [s.query for s in store.list_subscriptions(KEY)] == ["diffusion"]
    updated = store.update_channel(KEY, ChannelSettings(digest_hour=7, max_items=3))
    assert (updated.settings.digest_hour, updated.settings.max_items) == (7, 3)
    assert store.remove_subscription(KEY, "diffusion")
    assert not store.remove_subscription(KEY, "diffusion")


def test_pause_is_reported_once(store: Store) -> None:
    store.ensure_channel(KEY, ChannelSettings())
    assert store.pause_channel(KEY, "channel_not_found") is True
    assert store.pause_channel(KEY, "channel_not_found") is False
    assert store.get_channel(KEY).settings.paused  # type: ignore[union-attr]
    store.resume_channel(KEY)
    assert not store.get_channel(KEY).settings.paused  # type: ignore[union-attr]


def test_paused_channels_subscriptions_are_not_matched(store: Store) -> None:
    other = ChannelKey("slack", "T1", "C2")
    for key in (KEY, other):
        store.ensure_channel(key, ChannelSettings())
        store.add_subscription(key, "diffusion", "U1")
    both = [(s.channel, s.query) for s in store.all_subscriptions()]
    assert both == [(KEY, "diffusion"), (other, "diffusion")]
    store.pause_channel(KEY, "channel_not_found")
    assert [s.channel for s in store.all_subscriptions()] == [other]
    store.update_channel(other, ChannelSettings(paused=True))  # paused from settings
    assert store.all_subscriptions() == []
    store.resume_channel(KEY)
    assert [s.channel for s in store.all_subscriptions()] == [KEY]


def test_ledger_reserves_each_paper_once_per_channel(store: Store) -> None:
    store.ensure_channel(KEY, ChannelSettings())
    other = ChannelKey("slack", "T1", "C2")
    store.ensure_channel(other, ChannelSettings())
    store.upsert_papers([make_paper(arxiv_id="2401.00020"), make_paper(arxiv_id="2401.00021")])
    day = date(2026, 11, 20)
    assert store.reserve_posts(KEY, ["2401.00020", "2401.00021"], day, "w1") == [
        "2401.00020",
        "2401.00021",
    ]
    assert store.reserve_posts(KEY, ["2401.00020"], day, "w2") == []
    assert store.reserve_posts(other, ["2401.00020"], day, "w2") == ["2401.00020"]
    store.complete_post(KEY, "2401.00020", "1700000000.000100")
    store.release_post(KEY, "2401.00021")
    assert [e.state for e in store.ledger(KEY) if e.paper_id == "2401.00021"] == [PostState.RETRY]
    assert store.reserve_posts(KEY, ["2401.00021"], day, "w1") == ["2401.00021"]
    states = {e.paper_id: e.state for e in store.ledger(KEY)}
    assert states == {"2401.00020": PostState.POSTED, "2401.00021": PostState.PENDING}
    store.release_post(KEY, "2401.00021")
    assert store.reserve_posts(KEY, ["2401.00021"], day, "w1") == ["2401.00021"]
    assert store.paper_for_message(KEY, "1700000000.000100") == "2401.00020"
    assert store.paper_for_message(KEY, "nope") is None
    store.mark_post_uncertain(KEY, "2401.00021")
    store.release_post(KEY, "2401.00021")  # an uncertain post is never released
    assert store.reserve_posts(KEY, ["2401.00021"], day, "w1") == []


def test_votes_count_once_and_retract(store: Store, clock: FixedClock) -> None:
    store.ensure_channel(KEY, ChannelSettings())
    store.upsert_papers([make_paper(arxiv_id="2401.00030"), make_paper(arxiv_id="2401.00031")])
    assert store.set_vote(KEY, "2401.00030", "U1", 1)
    assert not store.set_vote(KEY, "2401.00030", "U1", 1)  # the same reaction twice
    assert store.set_vote(KEY, "2401.00030", "U2", 1)
    assert store.set_vote(KEY, "2401.00031", "U1", -1)
    assert store.vote_totals(KEY, ["2401.00030", "2401.00031"]) == {
        "2401.00030": 2,
        "2401.00031": -1,
    }
    assert store.top_voted(KEY, None, 10) == [("2401.00030", 2)]
    assert not store.retract_vote(KEY, "2401.00030", "U1", -1)  # not the vote they cast
    assert store.retract_vote(KEY, "2401.00030", "U1", 1)
    assert store.vote_totals(KEY, ["2401.00030"]) == {"2401.00030": 1}
    clock.advance(days=10)
    assert store.top_voted(KEY, clock() - timedelta(days=7), 10) == []


def test_digest_candidates_fan_query_rows_out_and_exclude_posted_papers(
    store: Store, clock: FixedClock
) -> None:
    other = ChannelKey("slack", "T1", "C2")
    for key in (KEY, other):
        store.ensure_channel(key, ChannelSettings())
        store.add_subscription(key, "diffusion", "U1")
    store.add_subscription(KEY, "robots", "U1")
    store.upsert_papers([make_paper(arxiv_id=f"2401.0004{n}") for n in range(3)])
    ids = store.query_ids(["diffusion", "robots"])
    packed = {
        ids["diffusion"]: [
            pack("2401.00040", MatchField.TITLE),
            pack("2401.00041", MatchField.ABSTRACT),
        ],
        ids["robots"]: [pack("2401.00041", MatchField.TITLE)],
    }
    assert store.record_query_matches(packed, clock()) == 3
    store.reserve_posts(KEY, ["2401.00040"], date(2026, 11, 20))
    assert store.digest_candidates(KEY, EPOCH) == [
        StoredMatch("2401.00041", "diffusion", MatchField.ABSTRACT),
        StoredMatch("2401.00041", "robots", MatchField.TITLE),
    ]
    # The other channel shares the diffusion row; nothing was posted there.
    assert [m.paper_id for m in store.digest_candidates(other, EPOCH)] == [
        "2401.00040",
        "2401.00041",
    ]
    clock.advance(hours=1)
    assert store.digest_candidates(other, clock()) == []  # all before its keep window
    store.release_post(KEY, "2401.00040")  # a failed post: eligible again within the window
    assert {m.paper_id for m in store.digest_candidates(KEY, EPOCH)} == {"2401.00040", "2401.00041"}
    assert store.remove_subscription(other, "diffusion")
    assert store.digest_candidates(other, EPOCH) == []


def test_source_status(store: Store, clock: FixedClock) -> None:
    store.record_source_result("hf", 12, None)
    clock.advance(hours=1)
    store.record_source_result("hf", None, "HTTP 503")
    (status,) = store.source_statuses()
    assert status.last_count == 12 and status.last_error == "HTTP 503"
    assert status.last_error_at > status.last_success_at  # type: ignore[operator]


def test_source_statuses_read_recently_may_do_and_this_stores_writes_always_show(
    store: Store, db_url: str
) -> None:
    other = Store.open(db_url)  # another instance
    try:
        store.record_source_result("hf", 12, None)
        assert [s.last_error for s in store.source_statuses(max_age=60)] == [None]
        other.record_source_result("hf", None, "HTTP 503")
        assert [s.last_error for s in store.source_statuses(max_age=60)] == [None]  # read before
        assert [s.last_error for s in store.source_statuses()] == ["HTTP 503"]  # no age: read now
        store.record_source_result("arxiv", None, "timeout")
        errors = {s.source: s.last_error for s in store.source_statuses(max_age=60)}
        assert errors == {"hf": "HTTP 503", "arxiv": "timeout"}
    finally:
        other.close()


def test_overlong_links_are_dropped_not_fatal(store: Store) -> None:
    long_url = "https://github.com/" + "x" * 400
    paper = make_paper(arxiv_id="2401.00050", github_repo=long_url, project_page="https://p.org")
    assert len(store.upsert_papers([paper]).inserted) == 1
    stored = store.get_paper("2401.00050")
    assert (
        stored is not None and stored.github_repo is None and stored.project_page == "https://p.org"
    )
    again = store.upsert_papers([paper])
    assert again.inserted == [] and again.updated == []


def test_reads_share_the_session_of_an_enclosing_reading_block_in_their_thread_only(
    store: Store,
) -> None:
    store.upsert_papers([make_paper("Attention", "Abstract", arxiv_id="2401.00001")])
    with store.reading() as outer:
        with store.reading() as inner:
            assert inner is outer
        seen: list[object] = []
        thread = threading.Thread(target=lambda: seen.append(_session_of(store)))
        thread.start()
        thread.join()
        assert seen[0] is not outer  # another thread opens its own
        assert store.get_paper("2401.00001") is not None  # reads work inside the block
    assert _session_of(store) is not outer


def _session_of(store: Store) -> object:
    with store.reading() as conn:
        return conn
