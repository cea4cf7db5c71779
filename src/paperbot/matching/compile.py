"""A query's meaning as a key (`query_key`: one entry for all the ways of typing it) and as a
closure (`compile_query`: the query evaluated without dispatching on node types per paper)."""

from __future__ import annotations

from collections.abc import Callable
from itertools import pairwise
from operator import attrgetter

from paperbot.analysis import AnalyzedPaper
from paperbot.matching.anchors import _anchors, default_rarity
from paperbot.matching.ranks import (
    _ABSTRACT,
    _AUTHOR,
    _CATEGORY,
    _KEYWORDS,
    _MISS,
    _RANK,
    _TITLE,
    Check,
    Rarity,
)
from paperbot.models import MatchField
from paperbot.query import (
    SCOPE_FIELDS,
    And,
    Author,
    Category,
    MinUpvotes,
    Near,
    Node,
    Not,
    Scope,
    Text,
    contains,
    has_author,
    near,
)


def query_key(node: Node) -> str:
    """What a query means, without how it was typed: "Transformers" and "transformer", or
    "a b" and "b a", are one query and are evaluated once for all their subscribers. A string,
    being the smallest hashable thing to keep 100,000 of (terms hold no spaces or brackets)."""
    if isinstance(node, Text):
        return f"{node.scope}:{'|'.join(' '.join(a) for a in node.alternatives)}"
    if isinstance(node, Near):
        also = "|".join(" ".join(a) for a in node.aliases)
        return f"~({','.join(sorted({query_key(c) for c in node.children}))}){also}"
    if isinstance(node, Author):
        return "author:" + " ".join(node.words)
    if isinstance(node, Category):
        return "cat:" + node.name
    if isinstance(node, MinUpvotes):
        return f"upvotes:{node.count}"
    if isinstance(node, Not):
        return f"!({query_key(node.child)})"
    parts = ",".join(sorted({query_key(c) for c in node.children}))
    return f"{'&' if isinstance(node, And) else '|'}({parts})"


def compile_query(node: Node, rarity: Rarity | None = None) -> Check:
    """A closure agreeing with `query.evaluate` (as a rank, see _RANK) but with no dispatch on
    node types per paper; conjunctions test their most selective child first."""
    return _compile(node, default_rarity() if rarity is None else rarity)


def _compile(node: Node, rarity: Rarity) -> Check:
    if isinstance(node, Text):
        if node.aliases:
            alternatives = tuple(
                _compile_text(Text(stems, node.raw, node.scope)) for stems in node.alternatives
            )

            def check_any_alternative(d: AnalyzedPaper) -> int:
                best = _MISS
                for check in alternatives:
                    rank = check(d)
                    if rank > best:
                        best = rank
                return best

            return check_any_alternative
        return _compile_text(node)
    if isinstance(node, Near):
        return _compile_near(node)
    if isinstance(node, Author):
        words = node.words
        if len(words) == 1:
            word = words[0]
            return lambda d: _AUTHOR if word in d.author_words else _MISS
        return lambda d: _AUTHOR if has_author(d, words) else _MISS
    if isinstance(node, Category):
        name = node.name
        return lambda d: _CATEGORY if name in d.category_set else _MISS
    if isinstance(node, MinUpvotes):
        count = node.count
        return lambda d: 0 if d.upvotes >= count else _MISS
    if isinstance(node, Not):
        inner = _compile(node.child, rarity)
        return lambda d: _MISS if inner(d) >= 0 else 0
    ordered = sorted(node.children, key=lambda c: _pass_rate(c, rarity))
    checks = tuple(_compile(c, rarity) for c in ordered)
    if isinstance(node, And):

        def check_all(d: AnalyzedPaper) -> int:
            best = 0
            for check in checks:
                rank = check(d)
                if rank < 0:
                    return _MISS
                if rank > best:
                    best = rank
            return best

        return check_all

    def check_any(d: AnalyzedPaper) -> int:
        best = _MISS
        for check in checks:
            rank = check(d)
            if rank > best:
                best = rank
        return best

    return check_any


def _compile_text(node: Text) -> Check:
    stems = node.stems
    if len(stems) == 1:
        term = stems[0]
        if node.scope is Scope.TITLE:
            return lambda d: _TITLE if term in d.title_terms else _MISS
        if node.scope is Scope.ABSTRACT:
            return lambda d: _ABSTRACT if term in d.abstract_terms else _MISS
        return lambda d: _rank_of_term(d, term)
    if len(stems) == 2:
        return _compile_pair(stems[0], stems[1], node.scope)
    # Three or more words: every adjacent pair must be in the field (one subset test in C
    # rejects nearly every candidate), then the words in order.
    pairs = frozenset(pairwise(stems))
    fields = SCOPE_FIELDS[node.scope]
    ranked = tuple((field, _RANK[field]) for field in fields)

    def check_phrase(d: AnalyzedPaper) -> int:
        for field, rank in ranked:
            if pairs <= _PAIRS_OF[field](d) and contains(d, field, stems):
                return rank
        return _MISS

    return check_phrase


def _compile_near(node: Near) -> Check:
    """Words typed side by side: each child present (cheap set tests first), then close."""
    ranked = tuple((field, _RANK[field]) for field in SCOPE_FIELDS[node.children[0].scope])
    children = node.children
    aliases = node.aliases
    if not aliases:

        def check_near(d: AnalyzedPaper) -> int:
            for field, rank in ranked:
                if near(d, field, children):  # which tests the words' presence first
                    return rank
            return _MISS

        return check_near

    def check_near_or_alias(d: AnalyzedPaper) -> int:
        for field, rank in ranked:
            if any(contains(d, field, a) for a in aliases) or near(d, field, children):
                return rank
        return _MISS

    return check_near_or_alias


_PAIRS_OF: dict[MatchField, Callable[[AnalyzedPaper], frozenset[tuple[str, str]]]] = {
    MatchField.TITLE: attrgetter("title_pairs"),
    MatchField.KEYWORDS: attrgetter("keyword_pairs"),
    MatchField.ABSTRACT: attrgetter("abstract_pairs"),
}


def _compile_pair(first: str, second: str, scope: Scope) -> Check:
    """A two-word phrase, the commonest kind: one lookup in the paper's adjacent-pair sets."""
    pair = (first, second)
    if scope is Scope.TITLE:
        return lambda d: _TITLE if pair in d.title_pairs else _MISS
    if scope is Scope.ABSTRACT:
        return lambda d: _ABSTRACT if pair in d.abstract_pairs else _MISS

    def check_pair(d: AnalyzedPaper) -> int:
        if pair in d.title_pairs:
            return _TITLE
        if pair in d.keyword_pairs:
            return _KEYWORDS
        if pair in d.abstract_pairs:
            return _ABSTRACT
        return _MISS

    return check_pair


def _rank_of_term(d: AnalyzedPaper, term: str) -> int:
    """Where a single word matches: the title first, then keywords, then the abstract."""
    if term in d.title_terms:
        return _TITLE
    if term in d.keyword_terms:
        return _KEYWORDS
    if term in d.abstract_terms:
        return _ABSTRACT
    return _MISS


def _pass_rate(node: Node, rarity: Rarity) -> float:
    """Roughly how often `node` holds, so a conjunction can fail fast."""
    if isinstance(node, Not):
        return 1.0 - _pass_rate(node.child, rarity)
    if isinstance(node, MinUpvotes):
        return 0.5
    anchors = _anchors(node, rarity)
    return 1.0 if anchors is None else anchors[1]
