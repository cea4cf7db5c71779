"""Stored-query matching: subscriptions are indexed by the terms they need, so a paper is only
checked against the subscriptions that could possibly match it (the presearcher idea behind
Lucene's Monitor), never against every subscription.

What keeps a day against 100,000 subscriptions well under a second:
- identical queries (many channels follow "diffusion") are one entry, evaluated once per paper
  and fanned out to every subscriber;
- a query is anchored on its rarest necessary term (document frequencies estimated from the
  bundled sample of real abstracts), so "graph AND learning" is only looked at for papers
  that mention "graph";
- a query that is a single word, author or category is decided by the anchor lookup itself;
- everything else is compiled once into a closure over the paper's precomputed term sets,
  and the compiled form is cached by query text, so rebuilding the index each ingest is cheap.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

from paperbot.errors import InvalidInput
from paperbot.models import MatchField, Subscription
from paperbot.query import (
    And,
    Author,
    Category,
    MinUpvotes,
    Node,
    Not,
    Scope,
    Text,
    contains,
    evaluate,
    has_author,
    parse,
)
from paperbot.text import AnalyzedPaper, analyze, upvote_term

log = logging.getLogger(__name__)

# A compiled query answers -1 for no match, 0 for a match without a field (only filters and
# exclusions held) and otherwise the rank of the strongest field, ranked by MatchField.weight.
_BY_WEIGHT = sorted(MatchField, key=lambda f: f.weight)
assert len({f.weight for f in _BY_WEIGHT}) == len(_BY_WEIGHT), "field weights must differ"
_RANK: Final = {field: rank for rank, field in enumerate(_BY_WEIGHT, start=1)}
_FIELD_OF_RANK: Final = (MatchField.ABSTRACT, *_BY_WEIGHT)
_TITLE, _KEYWORDS, _ABSTRACT = (
    _RANK[MatchField.TITLE],
    _RANK[MatchField.KEYWORDS],
    _RANK[MatchField.ABSTRACT],
)
_AUTHOR, _CATEGORY = _RANK[MatchField.AUTHOR], _RANK[MatchField.CATEGORY]
_MISS = -1

Check = Callable[[AnalyzedPaper], int]
Rarity = Mapping[str, float]


@lru_cache(maxsize=1)
def default_rarity() -> dict[str, float]:
    """Document frequency of each term over the bundled sample of real papers; a term it never
    saw counts as rare, which is what an unknown word usually is."""
    from paperbot.sources.sample import sample_papers

    papers = sample_papers()
    counts: dict[str, int] = {}
    for paper in papers:
        doc = analyze(paper.arxiv_id, paper.title, paper.abstract, categories=paper.categories)
        for term in doc.all_terms():
            counts[term] = counts.get(term, 0) + 1
    return {term: count / len(papers) for term, count in counts.items()}


def anchor_terms(node: Node, rarity: Rarity | None = None) -> frozenset[str] | None:
    """Terms of which every matching paper holds at least one, as rare as can be found; None when
    no such set exists (a query of only exclusions or filters is checked against every paper)."""
    found = _anchors(node, default_rarity() if rarity is None else rarity)
    return None if found is None else found[0]


def _anchors(node: Node, rarity: Rarity) -> tuple[frozenset[str], float] | None:
    """(anchor set, estimated share of papers holding one of them)."""
    if isinstance(node, Text):
        # Every word of a phrase is necessary: take the rarest (the longest on a tie).
        term = min(node.stems, key=lambda s: (rarity.get(s, 0.0), -len(s)))
        return frozenset({term}), rarity.get(term, 0.0)
    if isinstance(node, Author):
        term = min(("author:" + w for w in node.words), key=lambda t: (rarity.get(t, 0.0), -len(t)))
        return frozenset({term}), rarity.get(term, 0.0)
    if isinstance(node, Category):
        term = "cat:" + node.name
        return frozenset({term}), rarity.get(term, 0.0)
    if isinstance(node, MinUpvotes):
        if node.count < 1:
            return None
        term = upvote_term(node.count)
        return frozenset({term}), rarity.get(term, 0.0)
    if isinstance(node, Not):
        return None
    if isinstance(node, And):
        # One child's anchors suffice: take the child whose anchors the fewest papers hold.
        options = [a for a in (_anchors(c, rarity) for c in node.children) if a is not None]
        return min(options, key=lambda a: (a[1], len(a[0]))) if options else None
    union: set[str] = set()
    share = 0.0
    for child in node.children:
        anchors = _anchors(child, rarity)
        if anchors is None:
            return None
        union |= anchors[0]
        share += anchors[1]
    return frozenset(union), min(share, 1.0)


def query_key(node: Node) -> object:
    """What a query means, without how it was typed: "Transformers" and "transformer", or
    "a b" and "b a", are one query and are evaluated once for all their subscribers."""
    if isinstance(node, Text):
        return ("t", node.stems, node.scope)
    if isinstance(node, Author):
        return ("a", node.words)
    if isinstance(node, Category):
        return ("c", node.name)
    if isinstance(node, MinUpvotes):
        return ("u", node.count)
    if isinstance(node, Not):
        return ("n", query_key(node.child))
    return ("&" if isinstance(node, And) else "|", frozenset(query_key(c) for c in node.children))


# --- compiling a query to a check ----------------------------------------------------------


def compile_query(node: Node, rarity: Rarity | None = None) -> Check:
    """A closure agreeing with `query.evaluate` (as a rank, see _RANK) but with no dispatch on
    node types per paper; conjunctions test their most selective child first."""
    return _compile(node, default_rarity() if rarity is None else rarity)


def _compile(node: Node, rarity: Rarity) -> Check:
    if isinstance(node, Text):
        return _compile_text(node)
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
    fields = {
        Scope.ANY: (MatchField.TITLE, MatchField.KEYWORDS, MatchField.ABSTRACT),
        Scope.TITLE: (MatchField.TITLE,),
        Scope.ABSTRACT: (MatchField.ABSTRACT,),
    }[node.scope]
    ranked = tuple((field, _RANK[field]) for field in fields)

    def check_phrase(d: AnalyzedPaper) -> int:
        for field, rank in ranked:
            if contains(d, field, stems):
                return rank
        return _MISS

    return check_phrase


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


# --- the index -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Match:
    subscription: Subscription
    arxiv_id: str
    field: MatchField


def _never(_doc: AnalyzedPaper) -> int:
    return _MISS


class _Query:
    """One distinct query and everyone subscribed to it."""

    __slots__ = ("anchors", "atomic", "check", "key", "node", "rank", "subscribers")

    def __init__(self, key: object, node: Node, anchors: frozenset[str] | None) -> None:
        self.key = key
        self.node = node
        self.anchors = anchors
        self.check: Check = _never
        self.atomic = False  # the anchor lookup alone decides a match, with field `rank`
        self.rank = _MISS  # for an atomic query: its field rank, or _MISS for the word's own
        self.subscribers: list[Subscription] = []


class _Bucket:
    """What one term anchors: at most one atomic query, queries anchored on this term alone,
    and queries anchored on several terms (these can be reached twice, so are deduplicated)."""

    __slots__ = ("atomic", "multi", "single")

    def __init__(self) -> None:
        self.atomic: _Query | None = None
        self.single: list[_Query] = []
        self.multi: list[_Query] = []


@dataclass(frozen=True, slots=True)
class _Compiled:
    key: object
    node: Node
    anchors: frozenset[str] | None
    check: Check
    atomic: bool
    rank: int


@lru_cache(maxsize=250_000)
def _compiled(text: str) -> _Compiled:
    """Parse, anchor and compile a stored query once per process, however often it is indexed."""
    node = parse(text)
    rarity = default_rarity()
    anchors = anchor_terms(node, rarity)
    atomic = _atomic_rank(node)
    return _Compiled(
        query_key(node),
        node,
        anchors,
        _compile(node, rarity),
        atomic is not None,
        _MISS if atomic is None else atomic,
    )


def _atomic_rank(node: Node) -> int | None:
    """For a query the anchor lookup decides alone: its field rank (_MISS: the word's own)."""
    if isinstance(node, Text) and node.scope is Scope.ANY and len(node.stems) == 1:
        return _MISS
    if isinstance(node, Author) and len(node.words) == 1:
        return _AUTHOR
    if isinstance(node, Category):
        return _CATEGORY
    return None


class SubscriptionIndex:
    """All subscriptions, grouped by meaning and indexed by their anchor terms.

    Not safe to mutate (add, remove, sync) while another thread matches."""

    def __init__(self, subscriptions: Iterable[Subscription] = ()) -> None:
        self._buckets: dict[str, _Bucket] = {}
        self._unanchored: list[_Query] = []
        self._queries: dict[object, _Query] = {}
        self._members: dict[Subscription, _Query] = {}
        self.rejected = 0  # stored queries that no longer parse, skipped with a log line
        for subscription in subscriptions:
            self._add_stored(subscription)

    def __len__(self) -> int:
        return len(self._members)

    @property
    def distinct_queries(self) -> int:
        return len(self._queries)

    def add(self, subscription: Subscription) -> None:
        """Index a subscription; InvalidInput if its query does not parse."""
        if subscription in self._members:
            return
        compiled = _compiled(subscription.query)
        query = self._queries.get(compiled.key)
        if query is None:
            query = _Query(compiled.key, compiled.node, compiled.anchors)
            query.check, query.atomic, query.rank = compiled.check, compiled.atomic, compiled.rank
            self._queries[compiled.key] = query
            self._place(query)
        query.subscribers.append(subscription)
        self._members[subscription] = query

    def remove(self, subscription: Subscription) -> bool:
        query = self._members.pop(subscription, None)
        if query is None:
            return False
        query.subscribers.remove(subscription)
        if not query.subscribers:
            del self._queries[query.key]
            self._unplace(query)
        return True

    def sync(self, subscriptions: Iterable[Subscription]) -> None:
        """Make the index hold exactly `subscriptions`, touching only what changed, so a
        long-lived index follows the store without being rebuilt."""
        wanted = set(subscriptions)
        for gone in [s for s in self._members if s not in wanted]:
            self.remove(gone)
        for subscription in wanted:
            if subscription not in self._members:
                self._add_stored(subscription)

    def _add_stored(self, subscription: Subscription) -> None:
        try:
            self.add(subscription)
        except InvalidInput as error:
            # One stored query that an older parser accepted must not stop everyone's matches.
            self.rejected += 1
            log.warning(
                "subscription %s (%r) skipped: %s", subscription.id, subscription.query, error
            )

    def _place(self, query: _Query) -> None:
        anchors = query.anchors
        if anchors is None:
            self._unanchored.append(query)
            return
        for term in anchors:
            bucket = self._buckets.get(term)
            if bucket is None:
                bucket = self._buckets[term] = _Bucket()
            if query.atomic:
                bucket.atomic = query
            elif len(anchors) == 1:
                bucket.single.append(query)
            else:
                bucket.multi.append(query)

    def _unplace(self, query: _Query) -> None:
        if query.anchors is None:
            self._unanchored.remove(query)
            return
        for term in query.anchors:
            bucket = self._buckets[term]
            if bucket.atomic is query:
                bucket.atomic = None
            elif query in bucket.single:
                bucket.single.remove(query)
            else:
                bucket.multi.remove(query)
            if bucket.atomic is None and not bucket.single and not bucket.multi:
                del self._buckets[term]

    def _hits(self, doc: AnalyzedPaper) -> Iterator[tuple[_Query, int]]:
        """(query, rank) for every distinct query `doc` matches."""
        buckets = self._buckets
        seen: set[int] | None = None
        for term in doc.all_terms():
            bucket = buckets.get(term)
            if bucket is None:
                continue
            atomic = bucket.atomic
            if atomic is not None:
                rank = atomic.rank
                yield atomic, _rank_of_term(doc, term) if rank == _MISS else rank
            for query in bucket.single:
                rank = query.check(doc)
                if rank >= 0:
                    yield query, rank
            if bucket.multi:
                if seen is None:
                    seen = set()
                for query in bucket.multi:
                    if id(query) in seen:
                        continue
                    seen.add(id(query))
                    rank = query.check(doc)
                    if rank >= 0:
                        yield query, rank
        for query in self._unanchored:
            rank = query.check(doc)
            if rank >= 0:
                yield query, rank

    def candidates(self, doc: AnalyzedPaper) -> Iterator[Subscription]:
        """Each subscription that could match `doc` (before verification), once."""
        seen: set[int] = set()
        for term in doc.all_terms():
            bucket = self._buckets.get(term)
            if bucket is None:
                continue
            group = [bucket.atomic] if bucket.atomic else []
            for query in [*group, *bucket.single, *bucket.multi]:
                if id(query) not in seen:
                    seen.add(id(query))
                    yield from query.subscribers
        for query in self._unanchored:
            yield from query.subscribers

    def match_grouped(
        self, doc: AnalyzedPaper
    ) -> Iterator[tuple[MatchField, Sequence[Subscription]]]:
        """(field, subscribers) per distinct query `doc` matches: the fan-out left to the caller."""
        for query, rank in self._hits(doc):
            yield _FIELD_OF_RANK[rank], query.subscribers

    def match(self, doc: AnalyzedPaper) -> list[Match]:
        arxiv_id = doc.arxiv_id
        return [
            Match(subscription, arxiv_id, _FIELD_OF_RANK[rank])
            for query, rank in self._hits(doc)
            for subscription in query.subscribers
        ]

    def match_all(self, docs: Iterable[AnalyzedPaper]) -> list[Match]:
        return [m for doc in docs for m in self.match(doc)]


def match_naively(
    subscriptions: Iterable[Subscription], docs: Iterable[AnalyzedPaper]
) -> list[Match]:
    """Every subscription against every paper: the reference the index must agree with."""
    parsed = [(s, parse(s.query)) for s in subscriptions]
    found = []
    for doc in docs:
        for subscription, query in parsed:
            verdict = evaluate(query, doc)
            if verdict.matched:
                found.append(
                    Match(subscription, doc.arxiv_id, verdict.field or MatchField.ABSTRACT)
                )
    return found
