"""What a day's matches become: one row per subscriber of each matched query, made as the store
records them; and the garbage collector held while the matches are built."""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from itertools import chain, repeat
from operator import attrgetter

from paperbot.matching.filing import _Query
from paperbot.models import MatchField, Subscription

_SUBSCRIBERS = attrgetter("subscribers")
# Distinct queries one paper matched in one field: (the queries, the paper's id, the field).
QueryMatch = tuple[set[_Query], str, MatchField]


def subscription_rows(
    found: Iterable[QueryMatch],
) -> Iterator[tuple[Subscription, str, MatchField]]:
    """One (subscription, paper id, field) row per subscriber of each matched query. The
    subscribers are read as the rows are made: one who joined a matched query since gets the
    match too (the query did match), one who left does not."""
    for queries, arxiv_id, field in found:
        subscribers = chain.from_iterable(map(_SUBSCRIBERS, queries))
        yield from zip(subscribers, repeat(arxiv_id), repeat(field))


@contextmanager
def _no_gc_pauses() -> Iterator[None]:
    """Hold the cyclic garbage collector while a busy day's matches are built: they form no
    cycles, yet each full collection would walk the whole index (100,000 subscriptions) again,
    which tripled the time of building 900,000 matches. The caller's GC state is restored.

    On the way out, everything made meanwhile is moved straight to the oldest generation
    (freeze then unfreeze: two list splices). Left in the youngest, the ~800,000 rows would be
    walked by the first collection after re-enabling (0.11 s, a tenth of a day's matching) and
    again by the next one; in the oldest they wait for a full collection like any long-lived
    data, and garbage among them is still collected then. Skipped if someone froze objects on
    purpose (unfreeze would thaw theirs)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            if not gc.get_freeze_count():
                gc.freeze()
                gc.unfreeze()
            gc.enable()
