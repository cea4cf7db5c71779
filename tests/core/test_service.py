"""The core loop through the service: ingest, match, digest, post once, vote."""

from datetime import UTC, date, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paperbot.digest import build_digest, rank_items
from paperbot.errors import InvalidInput, PostError
from paperbot.models import ChannelKey, MatchField, MatchReason
from paperbot.service import Paperbot
from paperbot.testing import FakeSource, FixedClock, Posted, RecordingPoster, gone, make_paper

EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
KEY = ChannelKey("console", "local", "general")
DAY = date(2026, 11, 20)


def day_papers() -> list:  # type: ignore[type-arg]
    return [
        make_paper(
            "Diffusion Transformers at Scale",
            "We scale image models.",
            arxiv_id="2611.00001",
            upvotes=40,
        ),
        make_paper(
            "Robots That Learn", "Reward shaping with diffusion models.", arxiv_id="2611.00002"
        ),
        make_paper("Graph Sparsification", "Sparse graphs, fast.", arxiv_id="2611.00003"),
        make_paper(
            "Video Diffusion Models",
            "Temporal diffusion for video.",
            arxiv_id="2611.00004",
            upvotes=2,
        ),
    ]


async def test_ingest_merges_sources_and_a_failing_source_degrades(bot: Paperbot) -> None:
    hf = FakeSource(
        "hf",
        {
            DAY: [
                make_paper(
                    "Diffusion Transformers at Scale",
                    "x",
                    arxiv_id="2611.00001",
                    upvotes=40,
                    sources=("hf",),
                )
            ]
        },
    )
    arxiv = FakeSource("arxiv", {DAY: day_papers()})
    broken = FakeSource("broken").failing("HTTP 503 after 4 retries")
    bot.sources = [hf, arxiv, broken]
    report = await bot.ingest_day(DAY)
    assert report.fetched == {"hf": 1, "arxiv": 4}
    assert report.failed == {"broken": "HTTP 503 after 4 retries"}
    assert report.inserted == 4
    merged = bot.store.get_paper("2611.00001")
    assert merged is not None and merged.sources == ("arxiv", "hf") and merged.upvotes == 40
    assert await bot.missing_sources() == ["broken"]
    again = await bot.ingest_day(DAY)
    assert (again.inserted, again.updated) == (0, 0)


async def test_digest_ranks_caps_and_says_why(bot: Paperbot) -> None:
    await bot.subscribe(KEY, "diffusion", "U1")
    await bot.update_settings(KEY, max_items=2)
    bot.sources = [FakeSource("arxiv", {DAY: day_papers()})]
    await bot.ingest_day(DAY)
    digest = await bot.build_digest(KEY)
    ids = [item.paper.arxiv_id for item in digest.items]
    # Title matches first; among them the one with more HF upvotes.
    assert ids == ["2611.00001", "2611.00004"]
    assert digest.remaining == 1
    assert digest.items[0].reasons[0].subscription == "diffusion"
    assert digest.items[0].reasons[0].field is MatchField.TITLE


async def test_posting_writes_the_ledger_and_never_posts_twice(
    bot: Paperbot, poster: RecordingPoster
) -> None:
    await bot.subscribe(KEY, "diffusion", "U1")
    bot.sources = [FakeSource("arxiv", {DAY: day_papers()})]
    await bot.ingest_day(DAY)
    report = await bot.deliver_digest(KEY)
    assert sorted(report.posted) == ["2611.00001", "2611.00002", "2611.00004"]
    assert [p.kind for p in poster.posts][:1] == ["header"]
    header = poster.posts[0].message_id
    assert all(p.thread == header for p in poster.posts if p.kind == "item")
    # Same papers again (re-ingest, a second digest): nothing more is posted.
    await bot.ingest_day(DAY)
    second = await bot.deliver_digest(KEY)
    assert second.posted == []
    assert sorted(poster.items()) == ["2611.00001", "2611.00002", "2611.00004"]


async def test_a_failed_post_is_retried_by_the_next_digest(
    bot: Paperbot, poster: RecordingPoster
) -> None:
    await bot.subscribe(KEY, "diffusion", "U1")
    bot.sources = [FakeSource("arxiv", {DAY: day_papers()})]
    await bot.ingest_day(DAY)

    def fail_one(posted: Posted) -> Exception | None:
        return PostError("HTTP 500") if posted.paper_id == "2611.00004" else None

    poster.fail = fail_one
    first = await bot.deliver_digest(KEY)
    assert first.failed == ["2611.00004"]
    assert {e.paper_id: e.state for e in bot.store.ledger(KEY)}["2611.00004"] == "retry"
    poster.fail = None
    # The next digest takes it up, although it matched before that digest's window.
    second = await bot.deliver_digest(KEY)
    assert second.posted == ["2611.00004"]
    assert sorted(poster.items()) == ["2611.00001", "2611.00002", "2611.00004"]


async def test_a_channel_that_is_gone_is_paused_once(
    bot: Paperbot, poster: RecordingPoster
) -> None:
    await bot.subscribe(KEY, "diffusion", "U1")
    bot.sources = [FakeSource("arxiv", {DAY: day_papers()})]
    await bot.ingest_day(DAY)
    poster.fail = gone
    report = await bot.deliver_digest(KEY)
    assert report.paused and report.posted == []
    channel = await bot.channel(KEY)
    assert channel.settings.paused and channel.pause_reason == "channel_not_found"
    # Nothing left half-posted: every paper waits, as a retry, for the channel to come back.
    assert {e.state for e in bot.store.ledger(KEY)} == {"retry"}
    again = await bot.deliver_digest(KEY)
    assert again.skipped_reason is not None and "paused" in again.skipped_reason


async def test_empty_day_posts_nothing_unless_asked(bot: Paperbot, poster: RecordingPoster) -> None:
    await bot.subscribe(KEY, "quantum", "U1")
    await bot.deliver_digest(KEY)
    assert poster.posts == []
    await bot.update_settings(KEY, post_when_empty=True)
    await bot.deliver_digest(KEY)
    assert [p.kind for p in poster.posts] == ["reply"]
    assert "No new matching papers" in poster.posts[0].text


async def test_votes_from_reactions(
    bot: Paperbot, poster: RecordingPoster, clock: FixedClock
) -> None:
    await bot.subscribe(KEY, "diffusion", "U1")
    bot.sources = [FakeSource("arxiv", {DAY: day_papers()})]
    await bot.ingest_day(DAY)
    await bot.deliver_digest(KEY)
    item = next(p for p in poster.posts if p.kind == "item")
    assert await bot.record_vote(KEY, item.message_id, "U1", 1) == item.paper_id
    assert await bot.record_vote(KEY, item.message_id, "U1", 1) == item.paper_id  # counted once
    assert await bot.record_vote(KEY, item.message_id, "U2", 1) == item.paper_id
    assert await bot.record_vote(KEY, poster.posts[0].message_id, "U3", 1) is None  # the header
    top = await bot.top(KEY, None)
    assert [(t.paper.arxiv_id, t.team_votes) for t in top] == [(item.paper_id, 2)]
    await bot.record_vote(KEY, item.message_id, "U2", 1, added=False)
    assert (await bot.top(KEY, None))[0].team_votes == 1


async def test_new_subscription_sees_recent_papers_and_preview_saves_nothing(bot: Paperbot) -> None:
    bot.sources = [FakeSource("arxiv", {DAY: day_papers()})]
    await bot.ingest_day(DAY)
    canonical, items, total = await bot.preview("video")
    assert (canonical, total) == ("video", 1) and items[0].paper.arxiv_id == "2611.00004"
    assert await bot.subscriptions(KEY) == []
    result = await bot.subscribe(KEY, "Sparse", "U1")
    assert result.canonical == "sparse" and result.recent_matches == 1
    digest = await bot.build_digest(KEY)
    assert [i.paper.arxiv_id for i in digest.items] == ["2611.00003"]


async def test_subscription_limits(bot: Paperbot) -> None:
    bot.max_subscriptions = 2
    await bot.subscribe(KEY, "a1", "U1")
    again = await bot.subscribe(KEY, "A1", "U1")
    assert again.subscription is None  # same canonical query
    await bot.subscribe(KEY, "b2", "U1")
    with pytest.raises(InvalidInput, match="most allowed"):
        await bot.subscribe(KEY, "c3", "U1")
    assert [s.query for s in await bot.subscriptions(KEY)] == ["a1", "b2"]
    assert await bot.unsubscribe(KEY, "#1") == "a1"
    with pytest.raises(InvalidInput, match="no subscription #5"):
        await bot.unsubscribe(KEY, "#5")


async def test_search_finds_stored_papers(bot: Paperbot) -> None:
    bot.sources = [FakeSource("arxiv", {DAY: day_papers()})]
    await bot.ingest_day(DAY)
    items = await bot.search("graph sparsification")
    assert items and items[0].paper.arxiv_id == "2611.00003"


async def test_an_unsubscribe_racing_an_ingest_drops_only_its_matches(
    bot: Paperbot, monkeypatch: pytest.MonkeyPatch
) -> None:
    await bot.subscribe(KEY, "diffusion", "alice")
    await bot.subscribe(KEY, "robots", "bob")
    bot.live_subscriptions.sync(bot.store)  # the ingest synced just before bob left
    assert await bot.unsubscribe(KEY, "robots") == "robots"
    monkeypatch.setattr(bot.live_subscriptions, "sync", lambda store: None)
    inserted, _, matched = bot.ingest_papers(day_papers())
    # diffusion: 00001, 00002 (abstract), 00004; robots: 00002, recorded for the query alone
    assert (inserted, matched) == (4, 4)
    assert [m.subscription for m in bot.store.digest_candidates(KEY, EPOCH)] == ["diffusion"] * 3


async def test_papers_stored_before_a_failure_are_matched_by_the_next_ingest(
    bot: Paperbot, monkeypatch: pytest.MonkeyPatch
) -> None:
    await bot.subscribe(KEY, "diffusion", "alice")

    def broken(docs: object) -> list[object]:
        raise MemoryError("matching ran out of memory")

    monkeypatch.setattr(bot.live_subscriptions.index, "match_groups", broken)
    with pytest.raises(MemoryError):
        bot.ingest_papers(day_papers())
    # Stored, and marked as waiting for their matches (paperbot.ingest), never left unmatched.
    assert bot.store.get_paper("2611.00001") is not None
    assert bot.store.pending_matches() != []
    monkeypatch.undo()
    inserted, _, matched = bot.ingest_papers(day_papers())  # the next ingest matches them
    assert (inserted, matched) == (0, 3)
    assert bot.store.pending_matches() == []
    assert bot.search_index.num_docs == 4


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 30),  # upvotes
            st.integers(0, 4),  # days old
            st.lists(
                st.tuples(st.sampled_from("abc"), st.sampled_from(list(MatchField))),
                min_size=1,
                max_size=3,
            ),
            st.integers(-2, 2),  # team votes
        ),
        max_size=25,
    ),
    st.integers(0, 12),
)
def test_a_digest_shows_the_first_items_of_the_full_ranking(
    rows: list[tuple[int, int, list[tuple[str, MatchField]], int]], size: int
) -> None:
    """build_digest ranks without making an item per candidate: the same as rank_items."""
    papers, reasons, votes = {}, {}, {}
    for n, (upvotes, age, found, voted) in enumerate(rows):
        pid = f"2611.{n:05d}"
        papers[pid] = make_paper(
            f"P {n}", "x", arxiv_id=pid, upvotes=upvotes, featured_on=date(2026, 11, 20 - age)
        )
        reasons[pid] = [MatchReason(text, field) for text, field in found]
        votes[pid] = voted
    reasons["2611.99999"] = [MatchReason("a", MatchField.TITLE)]  # no paper: left out by both
    ranked = rank_items(reasons, papers, votes, DAY)
    digest = build_digest(KEY, DAY, reasons, papers, votes, size)
    assert list(digest.items) == ranked[:size]
    assert digest.remaining == len(ranked) - min(size, len(ranked))
