"""Stored-query matching: subscriptions are filed under the keys they need, so a paper only ever
meets the subscriptions that could match it (the presearcher idea behind Lucene's Monitor),
never every subscription. Results are identical to evaluating every pair (`match_naively`; a
property test holds the index to it).

What keeps a day (2,000 papers) against 100,000 subscriptions near a second in pure Python
(benchmarks/bench_matching.py):
- identical queries (many channels follow "diffusion") are one entry, decided once per paper
  and fanned out to every subscriber;
- most queries are decided by set algebra in C: a query that is an AND of ORs of "leaves"
  (a word, a two-word phrase, an author, a category) and of excluded leaves is filed under
  its leaves' keys; the keys a paper holds select the queries whose slots all hold, minus
  those an excluded leaf rules out, and give the field each matched in;
- the rest (upvote filters, longer phrases, nested negations) are compiled once into closures
  and only run when their rarest key (by document frequency in the bundled sample of real
  abstracts), and a second necessary key, are in the paper;
- a query's parse, placement and closure are cached by its text, so the long-lived index
  follows the store (`sync`) at little cost.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from itertools import chain, pairwise, repeat
from operator import attrgetter
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
    Or,
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


def query_key(node: Node) -> str:
    """What a query means, without how it was typed: "Transformers" and "transformer", or
    "a b" and "b a", are one query and are evaluated once for all their subscribers. A string,
    being the smallest hashable thing to keep 100,000 of (terms hold no spaces or brackets)."""
    if isinstance(node, Text):
        return f"{node.scope}:{' '.join(node.stems)}"
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
    # Three or more words: every adjacent pair must be in the field (one subset test in C
    # rejects nearly every candidate), then the words in order.
    pairs = frozenset(pairwise(stems))
    fields = {
        Scope.ANY: (MatchField.TITLE, MatchField.KEYWORDS, MatchField.ABSTRACT),
        Scope.TITLE: (MatchField.TITLE,),
        Scope.ABSTRACT: (MatchField.ABSTRACT,),
    }[node.scope]
    ranked = tuple((field, _RANK[field]) for field in fields)

    def check_phrase(d: AnalyzedPaper) -> int:
        for field, rank in ranked:
            if pairs <= _PAIRS_OF[field](d) and contains(d, field, stems):
                return rank
        return _MISS

    return check_phrase


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


# --- placing a query -----------------------------------------------------------------------

# How a leaf is decided once its key is present in the paper: by the field it is found in
# (a word or word pair in the text, or only in the title, or only in the abstract), or by the
# key alone (an author name, a category; the value is then its field rank).
_IN_TEXT, _IN_TITLE, _IN_ABSTRACT = -2, -3, -4
MAX_SLOTS = 3  # conjunctions of more ORs-of-leaves than this are checked instead
Leaf = tuple[Anchor, int]  # (key, kind)
Slot = tuple[Leaf, ...]  # an OR of leaves (one leaf: the leaf itself)


def _leaf(node: Node) -> Leaf | None:
    """A node that the presence of one key (and at most the field it is in) decides."""
    if isinstance(node, Text) and len(node.stems) <= 2:
        kind = {Scope.ANY: _IN_TEXT, Scope.TITLE: _IN_TITLE, Scope.ABSTRACT: _IN_ABSTRACT}
        stems = node.stems
        return (stems[0] if len(stems) == 1 else (stems[0], stems[1])), kind[node.scope]
    if isinstance(node, Author) and len(node.words) <= 2:
        return "author:" + " ".join(node.words), _AUTHOR  # the name, or its one pair of words
    if isinstance(node, Category):
        return "cat:" + node.name, _CATEGORY
    return None


def _slot(node: Node) -> Slot | None:
    """A leaf, or an OR (through nested ORs) of leaves; else None."""
    leaf = _leaf(node)
    if leaf is not None:
        return (leaf,)
    if not isinstance(node, Or):
        return None
    leaves: list[Leaf] = []
    for child in node.children:
        slot = _slot(child)
        if slot is None:
            return None
        leaves.extend(slot)
    return tuple(leaves)


def _conjuncts(node: Node) -> list[Node]:
    """The children of an AND, nested ANDs flattened (AND is associative, ranks a maximum)."""
    if not isinstance(node, And):
        return [node]
    return [c for child in node.children for c in _conjuncts(child)]


@dataclass(frozen=True, slots=True)
class _Placement:
    """Where a query sits in the index (computed once per query text, see `_place`).

    Most queries are set-decided: an AND of up to MAX_SLOTS ORs-of-leaves that must hold and
    leaves that must not ("diffusion", '"world model" -survey', "cat:cs.CL (agent OR tool)").
    The others are checked, by their compiled closure, once their keys are present."""

    required: tuple[Slot, ...] = ()  # set-decided: every slot holds ...
    excluded: Slot = ()  # ... and none of these leaves does
    first: Anchor | None = None  # checked: anchored on this one necessary key ...
    second: Anchor | None = None  # ... and checked only if this one is present too
    anyof: frozenset[Anchor] = frozenset()  # checked: anchored on these (an OR-like query)

    def filed_keys(self) -> list[Anchor]:
        """Every key the query is filed under (with repeats, for reference counts)."""
        filed: list[Anchor | None] = [k for slot in self.required for k, _ in slot]
        filed += [k for k, _ in self.excluded]
        filed += [self.first, self.second, *self.anyof]
        return [k for k in filed if k is not None]


def _place(node: Node, rarity: Rarity) -> _Placement:
    required: list[Slot] = []
    excluded: list[Leaf] = []
    for child in _conjuncts(node):
        slot = _slot(child.child if isinstance(child, Not) else child)
        if slot is None:
            required = []
            break
        if isinstance(child, Not):
            excluded.extend(slot)
        else:
            required.append(slot)
    if required and len(required) <= MAX_SLOTS:
        return _Placement(required=tuple(required), excluded=tuple(excluded))
    anchors = _anchors(node, rarity)
    if anchors is None:
        return _Placement()
    if len(anchors[0]) > 1:
        return _Placement(anyof=anchors[0])
    (first,) = anchors[0]
    # A second necessary key (the next rarest) filters candidates before any check runs.
    others = [a for a in (_anchors(c, rarity) for c in _conjuncts(node)) if a is not None]
    singles = sorted((a for a in others if len(a[0]) == 1), key=lambda a: a[1])
    second = next((k for a in singles for k in a[0] if k != first), None)
    return _Placement(first=first, second=second)


@dataclass(frozen=True, slots=True)
class _Compiled:
    key: str
    placement: _Placement
    check: Check  # only called for checked queries, so only built for them


@lru_cache(maxsize=250_000)
def _compiled(text: str) -> _Compiled:
    """Parse, place and compile a stored query once per process, however often it is indexed
    (the index is rebuilt or synced each ingest)."""
    node = parse(text)
    rarity = default_rarity()
    placement = _place(node, rarity)
    check = _never if placement.required else _compile(node, rarity)
    return _Compiled(query_key(node), placement, check)


def _never(_doc: AnalyzedPaper) -> int:
    return _MISS


# --- the index -----------------------------------------------------------------------------


class Match(NamedTuple):
    """A tuple, not a dataclass: a busy day yields hundreds of thousands of these."""

    subscription: Subscription
    arxiv_id: str
    field: MatchField


class _Query:
    """One distinct query and everyone subscribed to it."""

    __slots__ = ("compiled", "subscribers")

    def __init__(self, compiled: _Compiled) -> None:
        self.compiled = compiled
        self.subscribers: list[Subscription] = []


_SUBSCRIBERS = attrgetter("subscribers")
# Field ranks, strongest first: a query keeps the strongest field any of its leaves is in.
_DESCENDING = sorted({_TITLE, _AUTHOR, _KEYWORDS, _CATEGORY, _ABSTRACT}, reverse=True)
Group = tuple[Collection[_Query], int]  # queries that matched, with the field rank they share
Table = dict[Anchor, list[_Query]]


class SubscriptionIndex:
    """All subscriptions, grouped by meaning and filed under the keys (words, adjacent word
    pairs, author names, categories) they need.

    A paper is matched by set algebra running in C: the keys it holds select, table by table,
    the queries whose required slots hold and those an excluded leaf rules out; only queries
    the algebra cannot express (upvote filters, longer phrases, nested negations) are checked
    one by one, and only when their rarest keys are present. Not safe to mutate (add, remove,
    sync) while another thread matches."""

    def __init__(self, subscriptions: Iterable[Subscription] = ()) -> None:
        # Set-decided queries: (slots, slot position, leaf kind) -> key -> queries.
        self._required: dict[tuple[int, int, int], Table] = {}
        self._excluded: dict[int, Table] = {}  # leaf kind -> key -> queries
        # Checked queries: first key -> second key (or None) -> (check, query).
        self._checked: dict[Anchor, dict[Anchor | None, list[tuple[Check, _Query]]]] = {}
        self._anyof: Table = {}
        self._unanchored: list[_Query] = []
        self._keys: dict[Anchor, int] = {}  # every key filed anywhere, with a reference count
        self._plan: list[tuple[Table, int, int, tuple[int, int]]] | None = None
        self._queries: dict[str, _Query] = {}
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
            self._file(query, remove=False)
        query.subscribers.append(subscription)
        self._members[subscription] = query

    def remove(self, subscription: Subscription) -> bool:
        query = self._members.pop(subscription, None)
        if query is None:
            return False
        query.subscribers.remove(subscription)
        if not query.subscribers:
            del self._queries[query.compiled.key]
            self._file(query, remove=True)
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

    def _file(self, query: _Query, remove: bool) -> None:
        """File `query` where its placement says, or take it out again."""
        placed, check = query.compiled.placement, query.compiled.check
        # One slot and no exclusion (most queries): reaching a key is matching, slots == 0.
        slots = len(placed.required) if placed.excluded or len(placed.required) > 1 else 0
        for position, slot in enumerate(placed.required):
            for key, kind in slot:
                table = self._required.get((slots, position, kind))
                if table is None:
                    table = self._required[(slots, position, kind)] = {}
                    self._plan = None
                _edit(table, key, query, remove)
        for key, kind in placed.excluded:
            _edit(self._excluded.setdefault(kind, {}), key, query, remove)
        if placed.first is not None:
            by_second = self._checked.setdefault(placed.first, {})
            _edit(by_second, placed.second, (check, query), remove)
            if not by_second:
                del self._checked[placed.first]
        for key in placed.anyof:
            _edit(self._anyof, key, query, remove)
        if not (placed.required or placed.first is not None or placed.anyof):
            if remove:
                self._unanchored.remove(query)
            else:
                self._unanchored.append(query)
        for key in placed.filed_keys():
            count = self._keys.get(key, 0) + (-1 if remove else 1)
            if count:
                self._keys[key] = count
            else:
                del self._keys[key]

    def _probe_plan(self) -> list[tuple[Table, int, int, tuple[int, int]]]:
        """(table, field rank, which of the paper's key sets, (slots, position)) for every
        way a required table can be reached: a text leaf from the title, keywords or abstract,
        a title-only leaf from the title, and so on."""
        if self._plan is None:
            reach = {
                _IN_TEXT: ((_TITLE, 0), (_KEYWORDS, 1), (_ABSTRACT, 2)),
                _IN_TITLE: ((_TITLE, 0),),
                _IN_ABSTRACT: ((_ABSTRACT, 2),),
                _AUTHOR: ((_AUTHOR, 3),),
                _CATEGORY: ((_CATEGORY, 3),),
            }
            self._plan = [
                (table, rank, which, (slots, position))
                for (slots, position, kind), table in self._required.items()
                for rank, which in reach[kind]
            ]
        return self._plan

    def _hits(self, doc: AnalyzedPaper) -> list[Group]:
        """The queries `doc` matches, in groups sharing a field rank: set algebra in C over the
        few index keys the paper holds, then the checked queries."""
        known = self._keys.keys()
        # The index keys in each field, intersected straight from the sequences (in C).
        title = (known & doc.title) | (known & pairwise(doc.title))
        keywords = (known & doc.keywords) | (known & pairwise(doc.keywords))
        abstract = (known & doc.abstract) | (known & pairwise(doc.abstract))
        other = known & doc.other_terms()  # authors and categories: keys of their own kind
        present = title | keywords | abstract | other
        if not present and not self._unanchored:
            return []
        keysets = (title, keywords, abstract, other)
        at_rank: dict[int, set[_Query]] = {rank: set() for rank in _DESCENDING}
        holding: dict[tuple[int, int], set[_Query]] = {}  # (slots, position) -> queries
        for table, rank, which, slot in self._probe_plan():
            keys = keysets[which]
            if not keys:
                continue
            hit = table.keys() & keys
            if not hit:
                continue
            if not slot[0]:
                at_rank[rank].update(*map(table.__getitem__, hit))
                continue
            found = set().union(*map(table.__getitem__, hit))
            at_rank[rank] |= found
            held = holding.get(slot)
            if held is None:
                holding[slot] = found
            else:
                held |= found
        if holding:
            self._drop_unmatched(holding, keysets, at_rank)
        groups: list[Group] = []
        taken: set[_Query] = set()
        for rank in _DESCENDING:
            fresh = at_rank[rank] - taken if taken else at_rank[rank]
            if fresh:
                groups.append((fresh, rank))
                taken |= fresh
        groups.extend(self._checked_hits(doc, present))
        return groups

    def _drop_unmatched(
        self,
        holding: dict[tuple[int, int], set[_Query]],
        keysets: tuple[set[Any], ...],
        at_rank: dict[int, set[_Query]],
    ) -> None:
        """Of the reached queries with several slots or exclusions, keep those whose every
        slot holds and no excluded leaf does (the simple ones are all in `at_rank` by now)."""
        reached: set[_Query] = set().union(*holding.values())
        matched: set[_Query] = set()
        for slots in range(1, MAX_SLOTS + 1):
            held = holding.get((slots, 0))
            for position in range(1, slots):
                if not held:
                    break
                held = held & holding.get((slots, position), set())
            if held:
                matched |= held
        which = {_IN_TEXT: (0, 1, 2), _IN_TITLE: (0,), _IN_ABSTRACT: (2,)}
        for kind, table in self._excluded.items():
            for index in which.get(kind, (3,)):
                if matched and keysets[index]:
                    matched -= _filed(table, keysets[index])
        unmatched = reached - matched
        if unmatched:
            for level in at_rank.values():
                level -= unmatched

    def _checked_hits(self, doc: AnalyzedPaper, present: set[Any]) -> Iterator[Group]:
        """The checked queries `doc` matches: filtered by their keys, then run."""
        checked: dict[int, list[_Query]] = {}
        for first in self._checked.keys() & present:
            by_second = self._checked[first]
            for second in present.intersection(by_second):  # iterates the small dict
                _check(by_second[second], doc, checked)
            unfiltered = by_second.get(None)
            if unfiltered:
                _check(unfiltered, doc, checked)
        seen: set[_Query] = set()
        for key in self._anyof.keys() & present:
            for query in self._anyof[key]:
                if query not in seen:
                    seen.add(query)
                    _check(((query.compiled.check, query),), doc, checked)
        if self._unanchored:
            _check(((q.compiled.check, q) for q in self._unanchored), doc, checked)
        return ((queries, rank) for rank, queries in checked.items())

    def candidates(self, doc: AnalyzedPaper) -> Iterator[Subscription]:
        """Each subscription filed under a key `doc` holds (a superset of the matches)."""
        present = (self._keys.keys() & doc.all_terms()) | (self._keys.keys() & doc.all_pairs())
        reached: dict[_Query, None] = {}
        for table in [*self._required.values(), self._anyof]:
            for key in table.keys() & present:
                reached.update(dict.fromkeys(table[key]))
        for first in self._checked.keys() & present:
            for entries in self._checked[first].values():
                reached.update(dict.fromkeys(query for _, query in entries))
        reached.update(dict.fromkeys(self._unanchored))
        for query in reached:
            yield from query.subscribers

    def match_rows(
        self, docs: Iterable[AnalyzedPaper]
    ) -> list[tuple[Subscription, str, MatchField]]:
        """(subscription, paper id, field) per match, as plain tuples built in C: what the
        store records, without a Python object per row. `docs` may be a generator: analysing
        inside the call spares it the garbage collector's pauses too."""
        rows: list[tuple[Subscription, str, MatchField]] = []
        with _no_gc_pauses():
            for doc in docs:
                for queries, rank in self._hits(doc):
                    subscribers = chain.from_iterable(map(_SUBSCRIBERS, queries))
                    field = repeat(_FIELD_OF_RANK[rank])
                    rows.extend(zip(subscribers, repeat(doc.arxiv_id), field))
        return rows

    def match(self, doc: AnalyzedPaper) -> list[Match]:
        return self.match_all((doc,))

    def match_all(self, docs: Iterable[AnalyzedPaper]) -> list[Match]:
        found: list[Match] = []
        with _no_gc_pauses():
            for doc in docs:
                for queries, rank in self._hits(doc):
                    subscribers = chain.from_iterable(map(_SUBSCRIBERS, queries))
                    field = repeat(_FIELD_OF_RANK[rank])
                    found.extend(map(Match, subscribers, repeat(doc.arxiv_id), field))
        return found


def _filed(table: Table, keys: set[Any]) -> set[_Query]:
    """Every query filed in `table` under one of `keys`; the intersection runs in C over the
    few keys the paper holds."""
    hit = table.keys() & keys
    if not hit:
        return set()
    return set().union(*map(table.__getitem__, hit))


def _check(
    entries: Iterable[tuple[Check, _Query]], doc: AnalyzedPaper, out: dict[int, list[_Query]]
) -> None:
    for check, query in entries:
        rank = check(doc)
        if rank >= 0:
            out.setdefault(rank, []).append(query)


def _edit(table: dict[Any, list[Any]], key: Any, entry: object, remove: bool) -> None:
    """Add `entry` to the list `table[key]`, or remove it (and the key once the list is empty).
    Lists, not sets: most keys file one or two queries, and an empty set alone is 216 bytes."""
    if not remove:
        table.setdefault(key, []).append(entry)
        return
    bucket = table.get(key)
    if bucket is not None and entry in bucket:
        bucket.remove(entry)
        if not bucket:
            del table[key]


@contextmanager
def _no_gc_pauses() -> Iterator[None]:
    """Hold the cyclic garbage collector while a busy day's matches are built: they form no
    cycles, yet each full collection would walk the whole index (100,000 subscriptions) again,
    which tripled the time of building 900,000 matches. The caller's GC state is restored."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


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
