"""One process's subscription index, kept in step with the store: a full load once, then only
the channels whose subscriptions changed (by the store's change counter), whichever instance
changed them."""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from paperbot.analysis import AnalyzedPaper
from paperbot.errors import InvalidInput
from paperbot.matching import QueryMatch, SubscriptionIndex
from paperbot.models import Paper, Subscription
from paperbot.store.store import PackedMatches, Store, StoredSubscription, UpsertPlan

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SyncReport:
    full: bool  # loaded every subscription (the first sync of a process)
    channels: int  # channels reloaded because their subscriptions changed
    seconds: float


class LiveSubscriptions:
    """The subscription index and the query row ids its matches are stored under. `lock`
    guards both: hold it to sync or to match."""

    def __init__(self) -> None:
        self.index = SubscriptionIndex()
        self.lock = threading.Lock()
        self.rev: int | None = None  # the store's subscription revision last synced to
        self._by_channel: dict[int, set[Subscription]] = {}
        self._query_ids: dict[str, int] = {}
        # Per matched query: its subscribers (the tuple, replaced on every change, tells when
        # the entry is stale) and the distinct query rows they store matches under.
        self._rows_of: dict[object, tuple[tuple[Subscription, ...], tuple[int, ...]]] = {}

    def sync(self, store: Store) -> SyncReport:
        """Bring the index up to the store's subscriptions; one small read if nothing changed."""
        started = time.perf_counter()
        with self.lock:
            if self.rev is None:
                rev, stored = store.stored_subscriptions()
                self._learn_ids(store, stored)
                self.index.sync(s.subscription for s in stored)
                self._by_channel = defaultdict(set)
                for s in stored:
                    self._by_channel[s.channel_id].add(s.subscription)
                self.rev = rev
                return SyncReport(True, len(self._by_channel), time.perf_counter() - started)
            rev, changed = store.subscription_changes(self.rev)
            if changed:
                _, stored = store.stored_subscriptions(changed)
                self._learn_ids(store, stored)
                self._replace_channels(changed, stored)
            self.rev = rev
        return SyncReport(False, len(changed), time.perf_counter() - started)

    def _learn_ids(self, store: Store, stored: list[StoredSubscription]) -> None:
        missing = set()
        for s in stored:
            if s.query_id is None:
                missing.add(s.subscription.query)
            else:
                self._query_ids[s.subscription.query] = s.query_id
        if missing:
            self._query_ids.update(store.query_ids(missing))

    def _replace_channels(self, changed: set[int], stored: list[StoredSubscription]) -> None:
        now: dict[int, set[Subscription]] = defaultdict(set)
        for s in stored:
            now[s.channel_id].add(s.subscription)
        for channel_id in changed:
            before = self._by_channel.pop(channel_id, set())
            after = now.get(channel_id, set())
            for gone in before - after:
                self.index.remove(gone)
            for new in after - before:
                try:
                    self.index.add(new)
                except InvalidInput as error:
                    log.warning("subscription %s (%r) skipped: %s", new.id, new.query, error)
            if after:
                self._by_channel[channel_id] = after
        # Entries of queries nobody follows any more would only hold memory.
        self._rows_of = {q: entry for q, entry in self._rows_of.items() if q.subscribers}  # type: ignore[attr-defined]

    def match_chunk(
        self, plan: UpsertPlan, analyze: Callable[[Paper], AnalyzedPaper]
    ) -> PackedMatches:
        """What a chunk's changed papers matched, by query row: a new paper's every match; an
        updated paper's only where its stored version did not match (a match already recorded
        stays as it was, and a paper whose upvotes moved is not news again)."""
        with self.lock:
            found = self.index.match_groups(map(analyze, plan.changed))
            before: dict[str, set[object]] = defaultdict(set)
            if plan.updated:
                for queries, arxiv_id, _ in self.index.match_groups(
                    analyze(old) for old, _ in plan.updated
                ):
                    before[arxiv_id].update(queries)
            return self._pack(found, before)

    def _pack(self, found: Iterable[QueryMatch], before: dict[str, set[object]]) -> PackedMatches:
        packed: dict[int, list[str]] = defaultdict(list)
        rows_of = self._rows_of
        for queries, arxiv_id, field in found:
            word = f"{arxiv_id}={field.value}"
            known = before.get(arxiv_id)
            for query in queries:
                if known and query in known:
                    continue
                subscribers = query.subscribers
                entry = rows_of.get(query)
                if entry is None or entry[0] is not subscribers:
                    ids = {self._query_ids.get(s.query) for s in subscribers}
                    ids.discard(None)
                    entry = rows_of[query] = (subscribers, tuple(ids))  # type: ignore[arg-type]
                for row in entry[1]:
                    packed[row].append(word)
        return packed
