"""Placing a query: where it is filed in the index. Most queries are decided by set algebra over
the keys a paper holds; the rest are checked by compiled closures, run only when their rarest
keys are present. A query's parse, placement and closure are computed once per query text."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise

from paperbot.analysis import AnalyzedPaper
from paperbot.matching.anchors import _anchors, _share, default_rarity
from paperbot.matching.compile import _compile, query_key
from paperbot.matching.ranks import _AUTHOR, _CATEGORY, _MISS, Anchor, Check, Rarity
from paperbot.query import (
    And,
    Author,
    Category,
    MinUpvotes,
    Near,
    Node,
    Not,
    Or,
    Scope,
    Text,
    parse,
)
from paperbot.text import pair_term, upvote_term

# How a leaf is decided once its key is present in the paper: by the field it is found in
# (a word or word pair in the text, or only in the title, or only in the abstract), or by the
# key alone (an author name, a category; the value is then its field rank).
_IN_TEXT, _IN_TITLE, _IN_ABSTRACT = -2, -3, -4
MAX_SLOTS = 3  # conjunctions of more ORs-of-leaves than this are checked instead
Leaf = tuple[Anchor, int]  # (key, kind)
Slot = tuple[Leaf, ...]  # an OR of leaves (one leaf: the leaf itself)


_KINDS = {Scope.ANY: _IN_TEXT, Scope.TITLE: _IN_TITLE, Scope.ABSTRACT: _IN_ABSTRACT}


def _leaf(node: Node) -> Leaf | None:
    """A node that the presence of one key (and at most the field it is in) decides."""
    if isinstance(node, Text) and len(node.stems) <= 2 and not node.aliases:
        stems = node.stems
        return (stems[0] if len(stems) == 1 else (stems[0], stems[1])), _KINDS[node.scope]
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
    if isinstance(node, Text):
        # A word with aliases is an OR of its alternatives, each a leaf when short enough.
        if any(len(stems) > 2 for stems in node.alternatives):
            return None
        kind = _KINDS[node.scope]
        return tuple(
            (stems[0] if len(stems) == 1 else (stems[0], stems[1]), kind)
            for stems in node.alternatives
        )
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


Branch = tuple[Anchor, Anchor | None, Check]  # (first key, second key or None, check)


@dataclass(frozen=True, slots=True)
class _Placement:
    """Where a query sits in the index (computed once per query text, see `_place`).

    Most queries are set-decided: an AND of up to MAX_SLOTS ORs-of-leaves that must hold and
    leaves that must not ("diffusion", '"world model" -survey', "cat:cs.CL (agent OR tool)").
    The rest is checked by compiled closures, each run only when its rarest necessary key (and
    a second one) is in the paper: the whole query, or, for an OR, just its branches that are
    not leaves (its leaves stay set-decided; the query takes its strongest branch)."""

    required: tuple[Slot, ...] = ()  # set-decided: every slot holds ...
    excluded: Slot = ()  # ... and none of these leaves does
    checked: tuple[Branch, ...] = ()  # checked: the query, or some of its OR branches
    anyof: frozenset[Anchor] = frozenset()  # checked whole when one of these is present

    def filed_keys(self) -> list[Anchor]:
        """Every key the query is filed under (with repeats, for reference counts)."""
        filed: list[Anchor | None] = [k for slot in self.required for k, _ in slot]
        filed += [k for k, _ in self.excluded]
        filed += [k for first, second, _ in self.checked for k in (first, second)]
        filed += self.anyof
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
        # The rarest slot first: the index reaches a query through its first slot and only
        # then looks for the others among the queries reached ("cat:cs.LG transformer" is
        # reached through "transformer", not through every cs.LG paper).
        required.sort(key=lambda slot: sum(_share(key, rarity) for key, _ in slot))
        return _Placement(required=tuple(required), excluded=tuple(excluded))
    if isinstance(node, Or):
        leaves: list[Leaf] = []
        branches: list[Branch] = []
        for child in _disjuncts(node):
            slot = _slot(child)
            branch = _branch(child, rarity) if slot is None else None
            if slot is not None:
                leaves.extend(slot)
            elif branch is not None:
                branches.append(branch)
            else:
                break
        else:
            return _Placement(required=(tuple(leaves),) if leaves else (), checked=tuple(branches))
    branch = _branch(node, rarity)
    if branch is not None:
        return _Placement(checked=(branch,))
    anchors = _anchors(node, rarity)
    return _Placement() if anchors is None else _Placement(anyof=anchors[0])


def _branch(node: Node, rarity: Rarity) -> Branch | None:
    """`node` as a checked entry, if one key is necessary to it (the rarest), with a second
    necessary key (the next rarest) that filters candidates before the check runs."""
    anchors = _anchors(node, rarity)
    if anchors is None or len(anchors[0]) != 1:
        return None
    (first,) = anchors[0]
    others = sorted((k for k in _necessary(node) if k != first), key=lambda k: _share(k, rarity))
    return first, (others[0] if others else None), _shared_check(node, rarity)


# Branch checks by meaning: the same branch in many queries ('"achieves state-of-the-art"' in
# dozens of ORs) is one closure, which the index runs once per paper for all of them.
_SHARED: dict[str, Check] = {}
_SHARED_LIMIT = 250_000


def _shared_check(node: Node, rarity: Rarity) -> Check:
    if rarity is not default_rarity():
        return _compile(node, rarity)
    key = query_key(node)
    check = _SHARED.get(key)
    if check is None:
        check = _compile(node, rarity)
        if len(_SHARED) < _SHARED_LIMIT:
            _SHARED[key] = check
    return check


def _necessary(node: Node) -> list[Anchor]:
    """Keys every paper matching `node` holds (each alone is necessary)."""
    if isinstance(node, Text):
        if node.aliases:
            return []  # no one key: any alternative will do
        return list(node.stems) if len(node.stems) == 1 else list(pairwise(node.stems))
    if isinstance(node, Author):
        words = node.words
        if len(words) == 1:
            return ["author:" + words[0]]
        return ["author:" + pair_term(*p) for p in pairwise(words)]
    if isinstance(node, Category):
        return ["cat:" + node.name]
    if isinstance(node, MinUpvotes):
        return [upvote_term(node.count)] if node.count >= 1 else []
    if isinstance(node, Near) and node.aliases:
        return []  # the acronym alone will do
    if isinstance(node, And | Near):
        return [k for child in node.children for k in _necessary(child)]
    return []


def _disjuncts(node: Node) -> list[Node]:
    """The branches of an OR, nested ORs flattened."""
    if not isinstance(node, Or):
        return [node]
    return [c for child in node.children for c in _disjuncts(child)]


@dataclass(frozen=True, slots=True)
class _Compiled:
    key: str
    placement: _Placement
    check: Check  # for a query checked whole because of its anyof keys (or none)


@lru_cache(maxsize=250_000)
def _compiled(text: str) -> _Compiled:
    """Parse, place and compile a stored query once per process, however often it is indexed
    (the index is rebuilt or synced each ingest)."""
    node = parse(text)
    rarity = default_rarity()
    placement = _place(node, rarity)
    whole = placement.anyof or not (placement.required or placement.checked)
    return _Compiled(query_key(node), placement, _compile(node, rarity) if whole else _never)


def _never(_doc: AnalyzedPaper) -> int:
    return _MISS
