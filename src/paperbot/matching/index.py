"""The subscription index: every distinct query filed under the keys it needs, so a paper only
meets the queries that could match it, decided mostly by set algebra in C."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from itertools import chain, repeat
from typing import Any

from paperbot.analysis import AnalyzedPaper
from paperbot.errors import InvalidInput
from paperbot.matching.filing import _count, _edit, _edit_set, _Query
from paperbot.matching.naive import Match
from paperbot.matching.paper_keys import paper_keys
from paperbot.matching.placement import (
    _IN_ABSTRACT,
    _IN_TEXT,
    _IN_TITLE,
    MAX_SLOTS,
    _compiled,
)
from paperbot.matching.ranks import (
    _ABSTRACT,
    _AUTHOR,
    _CATEGORY,
    _FIELD_OF_RANK,
    _KEYWORDS,
    _MISS,
    _TITLE,
    Anchor,
    Check,
)
from paperbot.matching.rows import _SUBSCRIBERS, QueryMatch, _no_gc_pauses
from paperbot.models import Subscription

# The name the module had before it became a package, which log filters may name.
log = logging.getLogger("paperbot.matching")


# Field ranks, strongest first: a query keeps the strongest field any of its leaves is in.
_DESCENDING = sorted({_TITLE, _AUTHOR, _KEYWORDS, _CATEGORY, _ABSTRACT}, reverse=True)
Group = tuple[set[_Query], int]  # queries that matched, with the field rank they share
Table = dict[Anchor, list[_Query]]  # a later slot's table holds sets (see _edit_set)


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
        # Checked queries: first key -> second key (or None) -> (check, query).
        # Checked branches: first key -> second key (or None) -> check -> the queries it is a
        # branch of (one run per paper for all of them: see placement._shared_check).
        self._checked: dict[Anchor, dict[Anchor | None, dict[Check, list[_Query]]]] = {}
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

    def follows(self, query: str) -> bool:
        """Whether some subscription here means what `query` means."""
        try:
            return _compiled(query).key in self._queries
        except InvalidInput:
            return False

    def add(self, subscription: Subscription) -> None:
        """Index a subscription; InvalidInput if its query does not parse."""
        if subscription in self._members:
            return
        compiled = _compiled(subscription.query)
        query = self._queries.get(compiled.key)
        if query is None:
            query = self._queries[compiled.key] = _Query(compiled)
            self._file(query, remove=False)
        query.subscribers = (*query.subscribers, subscription)
        self._members[subscription] = query

    def remove(self, subscription: Subscription) -> bool:
        query = self._members.pop(subscription, None)
        if query is None:
            return False
        query.subscribers = tuple(s for s in query.subscribers if s != subscription)
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
        placed = query.compiled.placement
        # One slot and no exclusion (most queries): reaching a key is matching, slots == 0.
        slots = len(placed.required) if placed.excluded or len(placed.required) > 1 else 0
        for position, slot in enumerate(placed.required):
            for key, kind in slot:
                table = self._required.get((slots, position, kind))
                if table is None:
                    table = self._required[(slots, position, kind)] = {}
                    self._plan = None
                if position:
                    _edit_set(table, key, query, remove)  # type: ignore[arg-type]
                else:
                    _edit(table, key, query, remove)
        for first, second, branch_check in placed.checked:
            by_second = self._checked.setdefault(first, {})
            by_check = by_second.setdefault(second, {})
            _edit(by_check, branch_check, query, remove)
            if not by_check:
                del by_second[second]
            if not by_second:
                del self._checked[first]
        for key in placed.anyof:
            _edit(self._anyof, key, query, remove)
        if not (placed.required or placed.checked or placed.anyof):
            if remove:
                self._unanchored.remove(query)
            else:
                self._unanchored.append(query)
        for key in placed.filed_keys():
            _count(self._keys, key, remove)

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
                for (slots, position, kind), table in sorted(
                    self._required.items(), key=lambda item: item[0][1]
                )  # every first slot before any other: the others are sought among them
                for rank, which in reach[kind]
            ]
        return self._plan

    def _hits(self, doc: AnalyzedPaper) -> list[Group]:
        """The queries `doc` matches, in groups sharing a field rank: set algebra in C over the
        few index keys the paper holds, then the checked queries."""
        known = self._keys.keys()
        keysets = paper_keys(doc, known)
        title, keywords, abstract, other = keysets
        text = title | keywords | abstract
        present = text | other
        if not present and not self._unanchored:
            return []
        at_rank: dict[int, set[_Query]] = {rank: set() for rank in _DESCENDING}
        # Queries with several slots: by rank, and by (slots, slot position).
        general: dict[int, set[_Query]] = {}
        holding: dict[tuple[int, int], set[_Query]] = {}
        extended = (*keysets, text)  # where excluded leaves are sought (see filing._EXCLUDED_IN)
        allowed: dict[_Query, bool] = {}  # whether no excluded leaf of a reached query holds
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
            if slot[0] == 1:
                # One slot and exclusions: reaching is matching unless an excluded leaf holds,
                # which is looked up per reached query (a few dozen a paper): subtracting every
                # query filed under an excluded key the paper holds ("survey", "dataset": ~150
                # of them a paper) cost five times more.
                add = at_rank[rank].add
                for query in chain.from_iterable(map(table.__getitem__, hit)):
                    verdict = allowed.get(query)
                    if verdict is None:
                        verdict = allowed[query] = _allowed(query, extended)
                    if verdict:
                        add(query)
                continue
            if slot[1]:
                # A later slot: only the queries reached through their first slot can match.
                reached = holding.get((slot[0], 0))
                if not reached:
                    continue
                # Their sets: intersected in C from the smaller side (a category files many).
                found = set().union(*[reached.intersection(table[key]) for key in hit])
            else:
                found = set().union(*map(table.__getitem__, hit))
            general.setdefault(rank, set()).update(found)
            held = holding.get(slot)
            if held is None:
                holding[slot] = found
            else:
                held |= found
        if holding:
            matched = self._matched(holding, extended, allowed)
            if matched:
                for rank, queries in general.items():
                    at_rank[rank] |= queries & matched
        groups: list[Group] = []
        taken: set[_Query] = set()
        for rank in _DESCENDING:
            fresh = at_rank[rank] - taken if taken else at_rank[rank]
            if fresh:
                groups.append((fresh, rank))
                taken |= fresh
        checked = self._checked_hits(doc, present)
        if checked:
            _merge(groups, checked)
        return groups

    def _matched(
        self,
        holding: dict[tuple[int, int], set[_Query]],
        keysets: tuple[set[Any], ...],
        allowed: dict[_Query, bool],
    ) -> set[_Query]:
        """Of the reached queries with several slots, those whose every slot holds and no
        excluded leaf does."""
        matched: set[_Query] = set()
        for slots in range(2, MAX_SLOTS + 1):
            held = holding.get((slots, 0))
            for position in range(1, slots):
                if not held:
                    break
                held = held & holding.get((slots, position), set())
            if held:
                matched |= held
        for query in [q for q in matched if q.excluded]:
            verdict = allowed.get(query)
            if verdict is None:
                verdict = allowed[query] = _allowed(query, keysets)
            if not verdict:
                matched.discard(query)
        return matched

    def _checked_hits(self, doc: AnalyzedPaper, present: set[Any]) -> dict[_Query, int]:
        """The strongest rank of each checked query (or OR branch) `doc` matches: filtered by
        its keys, then run."""
        best: dict[_Query, int] = {}
        for first in self._checked.keys() & present:
            by_second = self._checked[first]
            for second in present.intersection(by_second):  # iterates the small dict
                _check_shared(by_second[second], doc, best)
            unfiltered = by_second.get(None)
            if unfiltered:
                _check_shared(unfiltered, doc, best)
        seen: set[_Query] = set()
        for key in self._anyof.keys() & present:
            for query in self._anyof[key]:
                if query not in seen:
                    seen.add(query)
                    _check(((query.compiled.check, query),), doc, best)
        if self._unanchored:
            _check(((q.compiled.check, q) for q in self._unanchored), doc, best)
        return best

    def candidates(self, doc: AnalyzedPaper) -> Iterator[Subscription]:
        """Each subscription filed under a key `doc` holds (a superset of the matches)."""
        present = (self._keys.keys() & doc.all_terms()) | (self._keys.keys() & doc.all_pairs())
        reached: dict[_Query, None] = {}
        for table in [*self._required.values(), self._anyof]:
            for key in table.keys() & present:
                reached.update(dict.fromkeys(table[key]))
        for first in self._checked.keys() & present:
            for by_check in self._checked[first].values():
                for queries in by_check.values():
                    reached.update(dict.fromkeys(queries))
        reached.update(dict.fromkeys(self._unanchored))
        for query in reached:
            yield from query.subscribers

    def match_groups(self, docs: Iterable[AnalyzedPaper]) -> list[QueryMatch]:
        """(queries, paper id, field) for each field a paper matched distinct queries in: the
        day's matches without an object per match (a day at 100,000 subscriptions holds
        ~280,000 query matches and ~790,000 subscription matches). `subscription_rows` makes
        the rows the store records. `docs` may be a generator: analysing inside the call spares
        it the garbage collector's pauses too."""
        found: list[QueryMatch] = []
        with _no_gc_pauses():
            for doc in docs:
                arxiv_id = doc.arxiv_id
                for queries, rank in self._hits(doc):
                    found.append((queries, arxiv_id, _FIELD_OF_RANK[rank]))
        return found

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


def _check(
    entries: Iterable[tuple[Check, _Query]], doc: AnalyzedPaper, best: dict[_Query, int]
) -> None:
    for check, query in entries:
        rank = check(doc)
        if rank > best.get(query, _MISS):
            best[query] = rank


def _allowed(query: _Query, keysets: tuple[set[Any], ...]) -> bool:
    """Whether none of `query`'s excluded leaves holds in a paper with these key sets."""
    for key, which in query.excluded:  # noqa: SIM110 (a loop: no generator per reached query)
        if key in keysets[which]:
            return False
    return True


def _check_shared(
    entries: dict[Check, list[_Query]], doc: AnalyzedPaper, best: dict[_Query, int]
) -> None:
    """Run each check once for every query it is a branch of."""
    for check, queries in entries.items():
        rank = check(doc)
        if rank >= 0:
            for query in queries:
                if rank > best.get(query, _MISS):
                    best[query] = rank


def _merge(groups: list[Group], checked: dict[_Query, int]) -> None:
    """Add checked hits to the set-decided groups; an OR matched both ways (a leaf branch by
    the sets, another branch by its check) keeps its strongest field."""
    by_rank: dict[int, set[_Query]] = {rank: queries for queries, rank in groups}
    for query, rank in checked.items():
        held = next((other for other, queries in by_rank.items() if query in queries), None)
        if held is not None:
            if held >= rank:
                continue
            by_rank[held].discard(query)
        by_rank.setdefault(rank, set()).add(query)
    groups[:] = [(queries, rank) for rank, queries in by_rank.items() if queries]
