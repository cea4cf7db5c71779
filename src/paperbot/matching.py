"""Stored-query matching: subscriptions are indexed by the terms they need, so a paper is only
checked against the subscriptions that could possibly match it (the presearcher idea behind
Lucene's Monitor), never against every subscription.

What keeps a day against 100,000 subscriptions well under a second:
- identical queries (many channels follow "diffusion") are one entry, evaluated once per paper
  and fanned out to every subscriber;
- a query is anchored on its rarest necessary term (document frequencies estimated from the
  bundled sample of real abstracts), so "graph AND learning" is only looked at for papers
  that mention "graph", and a phrase on its rarest adjacent pair ("neural network" is far
  rarer than "network");
- a query is compiled once into a closure over the paper's precomputed term and pair sets (no
  tree walk, no sequence scan for two-word phrases), and the compiled form is cached by query
  text, so rebuilding the index each ingest costs little.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise, repeat
from typing import Any, Final, NamedTuple

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
from paperbot.text import AnalyzedPaper, analyze, pair_term, upvote_term

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
# An anchor is a term (str) or an adjacent pair of text terms (a tuple: no string per pair).
Anchor = str | tuple[str, str]


@lru_cache(maxsize=1)
def default_rarity() -> dict[str, float]:
    """Document frequency of each term and pair over the bundled sample of real papers."""
    from paperbot.sources.sample import sample_papers

    papers = sample_papers()
    counts: dict[str, int] = {}
    for paper in papers:
        doc = analyze(paper.arxiv_id, paper.title, paper.abstract, categories=paper.categories)
        for term in [*doc.all_terms(), *(pair_term(*p) for p in doc.all_pairs())]:
            counts[term] = counts.get(term, 0) + 1
    return {term: count / len(papers) for term, count in counts.items()}


def _share(anchor: Anchor, rarity: Rarity) -> float:
    """Estimated share of papers holding `anchor`. A word the sample never saw counts as rare,
    which an unknown word usually is; the sample has no authors and few categories, so those
    get priors (a category is common, a surname less so, a full name rarely)."""
    term = anchor if isinstance(anchor, str) else pair_term(*anchor)
    known = rarity.get(term)
    if known is not None:
        return known
    if term.startswith("cat:"):
        return 0.05
    if term.startswith("author:"):
        return 0.0001 if " " in term else 0.005
    if term.startswith("upvotes>="):
        return 0.1 / int(term.removeprefix("upvotes>="))
    return 0.0


def anchor_terms(node: Node, rarity: Rarity | None = None) -> frozenset[str] | None:
    """Terms of which every matching paper holds at least one, as rare as can be found (a pair
    of adjacent words is written "a b"); None when no such set exists (then the query is
    checked against every paper; the parser accepts no such query)."""
    found = _anchors(node, default_rarity() if rarity is None else rarity)
    if found is None:
        return None
    return frozenset(a if isinstance(a, str) else pair_term(*a) for a in found[0])


def _rarest(options: Iterable[Anchor], rarity: Rarity) -> tuple[frozenset[Anchor], float]:
    best = min(options, key=lambda a: (_share(a, rarity), -len(str(a))))
    return frozenset({best}), _share(best, rarity)


def _anchors(node: Node, rarity: Rarity) -> tuple[frozenset[Anchor], float] | None:
    """(anchor set, estimated share of papers holding one of them)."""
    if isinstance(node, Text):
        # Every word of a phrase, and every adjacent pair, is necessary: a pair is far rarer
        # than its words ("neural network"), so a phrase is anchored on its rarest pair.
        stems = node.stems
        return _rarest(stems if len(stems) == 1 else list(pairwise(stems)), rarity)
    if isinstance(node, Author):
        words = node.words
        if len(words) == 1:
            return _rarest(["author:" + words[0]], rarity)
        return _rarest(["author:" + pair_term(*p) for p in pairwise(words)], rarity)
    if isinstance(node, Category):
        return _rarest(["cat:" + node.name], rarity)
    if isinstance(node, MinUpvotes):
        return None if node.count < 1 else _rarest([upvote_term(node.count)], rarity)
    if isinstance(node, Not):
        return None
    if isinstance(node, And):
        # One child's anchors suffice: take the child whose anchors the fewest papers hold.
        options = [a for a in (_anchors(c, rarity) for c in node.children) if a is not None]
        return min(options, key=lambda a: (a[1], len(a[0]))) if options else None
    union: set[Anchor] = set()
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
    if len(stems) == 2:
        return _compile_pair(stems[0], stems[1], node.scope)
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


# --- the index -----------------------------------------------------------------------------


class Match(NamedTuple):
    """A tuple, not a dataclass: a busy day yields hundreds of thousands of these."""

    subscription: Subscription
    arxiv_id: str
    field: MatchField


_new_match = Match


class _Query:
    """One distinct query and everyone subscribed to it."""

    __slots__ = ("anchors", "check", "key", "node", "subscribers")

    def __init__(self, compiled: _Compiled) -> None:
        self.key = compiled.key
        self.node = compiled.node
        self.anchors = compiled.anchors
        self.check = compiled.check
        self.subscribers: list[Subscription] = []


class _Bucket:
    """The queries one term anchors: those anchored on it alone, and those anchored on several
    terms (an OR), which a paper can reach twice and so are deduplicated."""

    __slots__ = ("multi", "single")

    def __init__(self) -> None:
        self.single: list[tuple[Check, _Query]] = []
        self.multi: list[_Query] = []


@dataclass(frozen=True, slots=True)
class _Compiled:
    key: object
    node: Node
    anchors: frozenset[Anchor] | None
    check: Check


@lru_cache(maxsize=250_000)
def _compiled(text: str) -> _Compiled:
    """Parse, anchor and compile a stored query once per process, however often it is indexed."""
    node = parse(text)
    rarity = default_rarity()
    anchors = _anchors(node, rarity)
    return _Compiled(
        query_key(node), node, None if anchors is None else anchors[0], _compile(node, rarity)
    )


class SubscriptionIndex:
    """All subscriptions, grouped by meaning and indexed by their anchor terms.

    Not safe to mutate (add, remove, sync) while another thread matches."""

    def __init__(self, subscriptions: Iterable[Subscription] = ()) -> None:
        self._buckets: dict[str, _Bucket] = {}
        self._pair_buckets: dict[tuple[str, str], _Bucket] = {}
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
            query = self._queries[compiled.key] = _Query(compiled)
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

    def _bucket(self, anchor: Anchor, create: bool) -> _Bucket | None:
        buckets: dict[Any, _Bucket] = (
            self._buckets if isinstance(anchor, str) else self._pair_buckets
        )
        bucket = buckets.get(anchor)
        if bucket is None and create:
            bucket = buckets[anchor] = _Bucket()
        return bucket

    def _place(self, query: _Query) -> None:
        anchors = query.anchors
        if anchors is None:
            self._unanchored.append(query)
            return
        for anchor in anchors:
            bucket = self._bucket(anchor, create=True)
            assert bucket is not None
            if len(anchors) == 1:
                bucket.single.append((query.check, query))
            else:
                bucket.multi.append(query)

    def _unplace(self, query: _Query) -> None:
        if query.anchors is None:
            self._unanchored.remove(query)
            return
        for anchor in query.anchors:
            bucket = self._bucket(anchor, create=False)
            assert bucket is not None
            if len(query.anchors) == 1:
                bucket.single.remove((query.check, query))
            else:
                bucket.multi.remove(query)
            if not bucket.single and not bucket.multi:
                buckets: dict[Any, _Bucket] = (
                    self._buckets if isinstance(anchor, str) else self._pair_buckets
                )
                del buckets[anchor]

    def _reached(self, doc: AnalyzedPaper) -> Iterator[_Bucket]:
        """The buckets of every term and pair `doc` holds."""
        get = self._buckets.get
        for term in doc.all_terms():
            bucket = get(term)
            if bucket is not None:
                yield bucket
        get_pair = self._pair_buckets.get
        for pair in doc.all_pairs():
            bucket = get_pair(pair)
            if bucket is not None:
                yield bucket

    def _hits(self, doc: AnalyzedPaper) -> list[tuple[_Query, int]]:
        """(query, field rank) for every distinct query `doc` matches."""
        found: list[tuple[_Query, int]] = []
        append = found.append
        seen: set[int] = set()
        for bucket in self._reached(doc):
            for check, query in bucket.single:
                rank = check(doc)
                if rank >= 0:
                    append((query, rank))
            for query in bucket.multi:
                if id(query) not in seen:
                    seen.add(id(query))
                    rank = query.check(doc)
                    if rank >= 0:
                        append((query, rank))
        for query in self._unanchored:
            rank = query.check(doc)
            if rank >= 0:
                append((query, rank))
        return found

    def candidates(self, doc: AnalyzedPaper) -> Iterator[Subscription]:
        """Each subscription that could match `doc` (before verification), once."""
        seen: set[int] = set()
        for bucket in self._reached(doc):
            for query in [q for _, q in bucket.single] + bucket.multi:
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
        found: list[Match] = []
        self._fan_out(doc, found)
        return found

    def match_all(self, docs: Iterable[AnalyzedPaper]) -> list[Match]:
        found: list[Match] = []
        for doc in docs:
            self._fan_out(doc, found)
        return found

    def _fan_out(self, doc: AnalyzedPaper, found: list[Match]) -> None:
        arxiv_id = doc.arxiv_id
        for query, rank in self._hits(doc):
            field = _FIELD_OF_RANK[rank]
            found.extend(map(_new_match, query.subscribers, repeat(arxiv_id), repeat(field)))


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
