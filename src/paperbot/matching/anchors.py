"""Anchors: the keys (terms, adjacent word pairs, author names, categories) of which every paper
matching a query holds at least one, chosen as rare as can be found, so a query is only ever
looked at for the few papers holding its anchors."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from functools import lru_cache
from itertools import pairwise

from paperbot.analysis import sample_docs
from paperbot.matching.ranks import Anchor, Rarity
from paperbot.query import And, Author, Category, MinUpvotes, Near, Node, Not, Text
from paperbot.text import pair_term, upvote_term


@lru_cache(maxsize=1)
def default_rarity() -> dict[str, float]:
    """Document frequency of each term and pair over the bundled sample of real papers (the
    catch-all guard's analysis of them, shared). Upvote buckets are left to `_share`'s prior:
    a dozen sample papers carry upvotes, too few to measure them on."""
    docs = sample_docs()
    counts: Counter[str] = Counter()
    for doc in docs:  # counted in C: this runs on a process's first subscribe or ingest
        counts.update(doc.all_terms())
        counts.update(map(" ".join, doc.all_pairs()))  # pair_term, without a call per pair
    for bucket in range(31):
        counts.pop(upvote_term(1 << bucket), None)
    return {term: count / len(docs) for term, count in counts.items()}


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
        # than its words ("neural network"), so a phrase is anchored on its rarest pair. A
        # word with aliases needs one of its alternatives: the union of their anchors.
        union: set[Anchor] = set()
        share = 0.0
        for stems in node.alternatives:
            found, part = _rarest(stems if len(stems) == 1 else list(pairwise(stems)), rarity)
            union |= found
            share += part
        return frozenset(union), min(share, 1.0)
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
    if isinstance(node, Near) and node.aliases:
        # The words near each other, or the acronym they spell.
        together = _anchors(And(node.children), rarity)
        acronym = _anchors(Text(node.aliases[0], "", node.children[0].scope), rarity)
        if together is None or acronym is None:
            return None
        return together[0] | acronym[0], min(together[1] + acronym[1], 1.0)
    if isinstance(node, And | Near):
        # One child's anchors suffice: take the child whose anchors the fewest papers hold.
        options = [a for a in (_anchors(c, rarity) for c in node.children) if a is not None]
        return min(options, key=lambda a: (a[1], len(a[0]))) if options else None
    union = set()
    share = 0.0
    for child in node.children:
        anchors = _anchors(child, rarity)
        if anchors is None:
            return None
        union |= anchors[0]
        share += anchors[1]
    return frozenset(union), min(share, 1.0)
