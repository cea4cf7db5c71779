"""The subscription index must find exactly what checking every pair would find."""

import logging
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paperbot.analysis import AnalyzedPaper, analyze
from paperbot.matching import (
    SubscriptionIndex,
    anchor_terms,
    compile_query,
    default_rarity,
    match_naively,
    query_key,
    subscription_rows,
)
from paperbot.models import ChannelKey, MatchField, Subscription
from paperbot.query import And, evaluate, parse

CHANNEL = ChannelKey("console", "local", "t")
VOCABULARY = [
    "diffusion",
    "model",
    "models",
    "transformer",
    "agent",
    "graph",
    "language",
    "vision",
    "robot",
    "learning",
    "reward",
    "video",
    "attention",
    "sparse",
]
AUTHORS = ["Ada Lovelace", "Alan Turing", "Grace Hopper", "Zoë Müller"]
CATEGORIES = ["cs.LG", "cs.CL", "cs.CV", "cs.RO", "math.OC", "stat.ML"]


def subs(*queries: str) -> list[Subscription]:
    return [Subscription(i, CHANNEL, q) for i, q in enumerate(queries, start=1)]


def key(m):  # type: ignore[no-untyped-def]
    return (m.arxiv_id, m.subscription.id, m.subscription.channel, m.field)


def test_anchor_terms_pick_what_a_match_needs() -> None:
    assert anchor_terms(parse("diffusion")) == {"diffusion"}
    assert anchor_terms(parse("a1b2 OR robot")) == {"a1b2", "robot"}
    assert anchor_terms(parse("robot -survey")) == {"robot"}
    assert anchor_terms(parse("author:Turing")) == {"author:turing"}
    assert anchor_terms(parse("upvotes:5")) == {"upvotes>=4"}
    assert anchor_terms(parse("cat:cs.LG upvotes:5")) in ({"cat:cs.lg"}, {"upvotes>=4"})
    assert anchor_terms(parse("robot OR -survey robot")) == {"robot"}
    exclusion = parse("robot -survey")
    assert isinstance(exclusion, And) and anchor_terms(exclusion.children[1]) is None


def test_anchors_are_the_rarest_necessary_term() -> None:
    rarity = default_rarity()
    assert rarity["model"] > 0.5 > rarity.get("world", 0.0)  # estimated from real abstracts
    assert anchor_terms(parse('"world models"')) == {"world model"}  # the pair
    assert anchor_terms(parse("learning AND graph")) == {"graph"}
    assert anchor_terms(parse("model (graph OR molecule)")) == {"graph", "molecul"}
    # A caller may bring its own statistics.
    assert anchor_terms(parse("learning AND graph"), {"graph": 0.9, "learn": 0.1}) == {"learn"}


def test_index_only_verifies_candidates_and_reports_the_field() -> None:
    index = SubscriptionIndex(subs("diffusion", "robot", '"language model"', "upvotes:100"))
    paper = analyze(
        "2401.00001", "Diffusion Policies", "We train large language models.", upvotes=3
    )
    candidates = {c.query for c in index.candidates(paper)}
    assert candidates == {"diffusion", '"language model"'}  # robot and upvotes never looked at
    found = {(m.subscription.query, m.field) for m in index.match(paper)}
    assert found == {("diffusion", MatchField.TITLE), ('"language model"', MatchField.ABSTRACT)}


def test_identical_queries_are_evaluated_once_and_fanned_out() -> None:
    channels = [ChannelKey("slack", "T1", f"C{i}") for i in range(50)]
    same = [Subscription(i, c, "Transformers") for i, c in enumerate(channels)]
    reordered = [
        Subscription(100, channels[0], "graph robot"),
        Subscription(101, CHANNEL, "robot graph"),
    ]
    index = SubscriptionIndex([*same, *reordered, Subscription(102, CHANNEL, "transformer")])
    assert len(index) == 53
    assert index.distinct_queries == 2
    assert query_key(parse("graph robot")) == query_key(parse("robot graph"))
    paper = analyze("2401.00002", "A transformer for robot graphs", "")
    found = index.match(paper)
    assert sorted(m.subscription.id for m in found) == [*range(50), 100, 101, 102]
    assert {m.field for m in found} == {MatchField.TITLE}
    groups = index.match_groups([paper])  # the distinct queries, fanned out for the store
    assert [(len(queries), field) for queries, _, field in groups] == [(2, MatchField.TITLE)]
    rows = list(subscription_rows(groups))
    assert sorted(rows, key=lambda r: r[0].id) == sorted(map(tuple, found), key=lambda r: r[0].id)


def test_removing_and_syncing_follow_the_store() -> None:
    a, b, c = subs("diffusion", "diffusion", "robot")
    index = SubscriptionIndex([a, b, c])
    paper = analyze("2401.00003", "Diffusion robots", "")
    assert index.remove(a) and not index.remove(a)
    assert {m.subscription.id for m in index.match(paper)} == {2, 3}
    d = Subscription(4, CHANNEL, "author:Turing OR robot")
    index.sync([c, d])
    assert len(index) == 2 and index.distinct_queries == 2
    assert {m.subscription.id for m in index.match(paper)} == {3, 4}
    index.sync([])
    assert len(index) == 0 and index.match(paper) == []
    assert list(index.candidates(paper)) == []


def test_rows_go_to_whoever_follows_a_matched_query_when_they_are_made() -> None:
    a, b = subs("diffusion", "diffusion")
    index = SubscriptionIndex([a, b])
    paper = analyze("2401.00004", "Diffusion models", "")
    groups = index.match_groups([paper])
    index.remove(a)
    index.add(Subscription(3, CHANNEL, "Diffusion"))  # the same query: it did match
    assert [sub.id for sub, _, _ in subscription_rows(groups)] == [2, 3]


def test_a_stored_query_that_no_longer_parses_is_skipped_not_fatal(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="paperbot.matching"):
        index = SubscriptionIndex(subs("diffusion", "NOT everything", "robot"))
    assert index.rejected == 1 and len(index) == 2
    assert "NOT everything" in caplog.text
    paper = analyze("2401.00004", "Diffusion", "")
    assert [m.subscription.query for m in index.match(paper)] == ["diffusion"]


def test_compiled_queries_rank_fields_like_evaluate() -> None:
    paper = analyze(
        "2401.00005",
        "Sparse attention",
        "video models",
        keywords=("world models",),
        authors=("Alan Turing",),
        categories=("cs.CV",),
        upvotes=7,
    )
    for text in [
        "attention",
        "video",
        '"world model"',
        "author:turing video",
        "cat:cs video",
        "upvotes:5 -robot",
        "sparse OR video",
        "title:(video OR sparse)",
    ]:
        verdict = evaluate(parse(text), paper)
        rank = compile_query(parse(text))(paper)
        assert verdict.matched and rank >= 0
        assert (verdict.field or MatchField.ABSTRACT) is SubscriptionIndex(subs(text)).match(paper)[
            0
        ].field


words = st.sampled_from(VOCABULARY)
# Acronyms, compounds and expansions, as typed and as papers write them (aliases and splits).
WRITTEN = [
    "MoE",
    "MoEs",
    "mixture of experts",
    "LLM",
    "LLMs",
    "large language model",
    "KVCache",
    "KV cache",
    "QLoRA",
    "LoRA",
    "low-rank adaptation",
    "Text2Video",
    "text-to-video",
    "RL",
    "world",
    "reinforcement learning",
    "GRPO",
]
written = st.sampled_from(WRITTEN)
leaf = st.one_of(
    words,
    words.map(str.upper),
    written,
    written.map(lambda w: f'"{w}"'),
    written.map(lambda w: f"={w.split()[0]}"),
    st.lists(st.one_of(words, written), min_size=2, max_size=3).map(" ".join),  # near
    st.lists(words, min_size=2, max_size=3).map(lambda ws: '"' + " ".join(ws) + '"'),
    words.map(lambda w: f"title:{w}"),
    words.map(lambda w: f"abstract:{w}"),
    st.lists(words, min_size=1, max_size=2).map(lambda ws: "title:(" + " OR ".join(ws) + ")"),
    st.sampled_from(AUTHORS).map(lambda a: f'author:"{a.split()[-1]}"'),
    st.sampled_from(AUTHORS).map(lambda a: f'author:"{a}"'),
    st.sampled_from([*CATEGORIES, "cs", "math"]).map(lambda c: f"cat:{c}"),
    st.integers(0, 40).map(lambda n: f"upvotes:{n}"),
)


def _combine(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(children, children).map(lambda p: f"({p[0]} OR {p[1]})"),
        st.tuples(children, children).map(lambda p: f"({p[0]} AND {p[1]})"),
        st.tuples(children, children).map(lambda p: f"({p[0]} -{p[1]})"),
    )


def _parses(text: str) -> bool:
    try:
        parse(text)
    except Exception:
        return False
    return True


queries = st.recursive(leaf, _combine, max_leaves=5).filter(_parses)
papers = st.builds(
    lambda i, t, a, k, au, c, up: analyze(
        f"2401.{i:05d}",
        " ".join(t),
        " ".join(a),
        keywords=k,
        authors=au,
        categories=c,
        upvotes=up,
    ),
    st.integers(0, 99999),
    st.lists(st.one_of(words, written), max_size=6),
    st.lists(
        st.one_of(words, written, st.text(string.ascii_lowercase, min_size=1, max_size=6)),
        max_size=25,
    ),
    st.lists(st.lists(words, min_size=1, max_size=2).map(" ".join), max_size=2),
    st.lists(st.sampled_from(AUTHORS), max_size=2),
    st.lists(st.sampled_from(CATEGORIES), max_size=2),
    st.integers(0, 40),
)
channels = st.sampled_from([ChannelKey("slack", "T", f"C{i}") for i in range(4)])


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.tuples(queries, channels), min_size=1, max_size=20),
    st.lists(papers, min_size=1, max_size=8),
)
def test_index_agrees_with_checking_every_pair(
    entries: list[tuple[str, ChannelKey]], docs: list[AnalyzedPaper]
) -> None:
    # Query texts repeat across channels (and differ only in case or order), as real ones do.
    subscriptions = [Subscription(i, ch, q) for i, (q, ch) in enumerate(entries)]
    index = SubscriptionIndex(subscriptions)
    naive = sorted(map(key, match_naively(subscriptions, docs)))
    assert sorted(map(key, index.match_all(docs))) == naive
    rows = subscription_rows(index.match_groups(docs))
    assert sorted((paper, sub.id, sub.channel, field) for sub, paper, field in rows) == naive
    # A long-lived index that followed removals and additions agrees too.
    kept = subscriptions[::2]
    index.sync(kept)
    assert sorted(map(key, index.match_all(docs))) == sorted(map(key, match_naively(kept, docs)))
