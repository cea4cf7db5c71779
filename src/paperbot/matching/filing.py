"""The stored side of the index: one entry per distinct query with everyone subscribed to it,
and the buckets of the tables it is filed in (edited in place as subscriptions come and go)."""

from __future__ import annotations

from typing import Any

from paperbot.matching.placement import _IN_ABSTRACT, _IN_TEXT, _IN_TITLE, _Compiled
from paperbot.models import Subscription

# Which of a paper's key sets (title, keywords, abstract, other, the text fields together) an
# excluded leaf of each kind is sought in; author and category leaves: "other".
_EXCLUDED_IN = {_IN_TEXT: 4, _IN_TITLE: 0, _IN_ABSTRACT: 2}


class _Query:
    """One distinct query and everyone subscribed to it. `subscribers` is a tuple replaced on
    every change, never edited in place, so rows being made from it never see it change."""

    __slots__ = ("compiled", "excluded", "subscribers")

    def __init__(self, compiled: _Compiled) -> None:
        self.compiled = compiled
        self.subscribers: tuple[Subscription, ...] = ()
        # The leaves that must not hold, as (key, which of a paper's key sets it is sought in).
        self.excluded = tuple(
            (key, _EXCLUDED_IN.get(kind, 3)) for key, kind in compiled.placement.excluded
        )


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


def _count(counts: dict[Any, int], key: Any, remove: bool) -> None:
    count = counts.get(key, 0) + (-1 if remove else 1)
    if count:
        counts[key] = count
    else:
        del counts[key]


def _edit_set(table: dict[Any, set[Any]], key: Any, entry: object, remove: bool) -> None:
    """`_edit` for the tables of later slots, which hold sets: they are intersected with the
    queries reached through a first slot, and a category's set can hold thousands."""
    if not remove:
        table.setdefault(key, set()).add(entry)
        return
    bucket = table.get(key)
    if bucket is not None:
        bucket.discard(entry)
        if not bucket:
            del table[key]
