"""A query's meaning as a key (`query_key`: one entry for all the ways of typing it) and as a
closure (`compile_query`: the query evaluated without dispatching on node types per paper)."""

from __future__ import annotations

from collections.abc import Callable
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
                _compile_text(Text(stems, node.raw, node.scope), rarity)
                for stems in node.alternatives
            )

            def check_any_alternative(d: AnalyzedPaper) -> int:
                best = _MISS
                for check in alternatives:
                    rank = check(d)
                    if rank > best:
                        best = rank
                return best

            return check_any_alternative
        return _compile_text(node, rarity)
    if isinstance(node, Near):
        return _compile_near(node, rarity)
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


def _compile_text(node: Text, rarity: Rarity) -> Check:
    stems = node.stems
    if len(stems) == 1:
        term = stems[0]
        if node.scope is Scope.TITLE:
            return lambda d: _TITLE if term in d.title_terms else _MISS
        if node.scope is Scope.ABSTRACT:
            return lambda d: _ABSTRACT if term in d.abstract_terms else _MISS
        return lambda d: _rank_of_term(d, term)
    # A phrase: sought in the field's words where its rarest term is, which costs less than
    # building the paper's set of adjacent pairs (a day's papers are each checked by a few
    # phrases only; the index has already found the pairs it files).
    found = _phrase_finder(stems, rarity)
    ranked = tuple((_SEQUENCE_OF[field], _RANK[field]) for field in SCOPE_FIELDS[node.scope])
    if len(ranked) == 1:
        ((sequence_of, rank),) = ranked
        return lambda d: rank if found(sequence_of(d)) else _MISS

    def check_phrase(d: AnalyzedPaper) -> int:
        for sequence_of, rank in ranked:
            if found(sequence_of(d)):
                return rank
        return _MISS

    return check_phrase


_SEQUENCE_OF: dict[MatchField, Callable[[AnalyzedPaper], tuple[str, ...]]] = {
    MatchField.TITLE: attrgetter("title"),
    MatchField.KEYWORDS: attrgetter("keywords"),
    MatchField.ABSTRACT: attrgetter("abstract"),
}


def _spelled_in(
    field: MatchField, alias: tuple[str, ...], rarity: Rarity
) -> Callable[[AnalyzedPaper], bool]:
    """Whether `field` holds `alias` (as `query.contains` tells)."""
    if len(alias) == 1:
        term, terms_of = alias[0], _TERMS_OF[field]
        return lambda d: term in terms_of(d)
    found, sequence_of = _phrase_finder(alias, rarity), _SEQUENCE_OF[field]
    return lambda d: found(sequence_of(d))


_TERMS_OF: dict[MatchField, Callable[[AnalyzedPaper], frozenset[str]]] = {
    MatchField.TITLE: attrgetter("title_terms"),
    MatchField.KEYWORDS: attrgetter("keyword_terms"),
    MatchField.ABSTRACT: attrgetter("abstract_terms"),
}


def _phrase_finder(phrase: tuple[str, ...], rarity: Rarity) -> Callable[[tuple[str, ...]], bool]:
    """Whether `phrase` (two terms or more) is consecutive in a field's words, as
    `query.contains` says (a phrase is words, never aliases): looked for where its rarest term
    (by the sample's document frequency) is."""
    anchor = min(range(len(phrase)), key=lambda i: rarity.get(phrase[i], 0.0))
    term = phrase[anchor]
    size = len(phrase)

    def found(sequence: tuple[str, ...]) -> bool:
        start = anchor
        while True:
            try:
                at = sequence.index(term, start)
            except ValueError:
                return False
            if sequence[at - anchor : at - anchor + size] == phrase:
                return True
            start = at + 1

    return found


def _compile_near(node: Near, rarity: Rarity) -> Check:
    """Words typed side by side: each child present (cheap set tests first), then close."""
    ranked = tuple((field, _RANK[field]) for field in SCOPE_FIELDS[node.children[0].scope])
    children = node.children
    aliases = node.aliases
    if not aliases:
        # The words' first terms, every one of which the field must hold: one subset test in
        # C rejects most fields before `near` (which tests presence too) is called at all.
        firsts = tuple(frozenset(alt[0] for alt in child.alternatives) for child in children)
        fields = tuple((field, rank, _TERMS_OF[field]) for field, rank in ranked)
        if all(len(first) == 1 for first in firsts):
            needed = frozenset().union(*firsts)

            def check_near_words(d: AnalyzedPaper) -> int:
                for field, rank, terms_of in fields:
                    if needed <= terms_of(d) and near(d, field, children):
                        return rank
                return _MISS

            return check_near_words

        def check_near(d: AnalyzedPaper) -> int:
            for field, rank in ranked:
                if near(d, field, children):  # which tests the words' presence first
                    return rank
            return _MISS

        return check_near

    # Or the acronym they spell, in the same field: a concept term, or a phrase.
    spelled = tuple(
        (field, rank, tuple(_spelled_in(field, alias, rarity) for alias in aliases))
        for field, rank in ranked
    )

    def check_near_or_alias(d: AnalyzedPaper) -> int:
        for field, rank, tests in spelled:
            if any(test(d) for test in tests) or near(d, field, children):
                return rank
        return _MISS

    return check_near_or_alias


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
