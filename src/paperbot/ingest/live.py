"""One process's subscription index, kept in step with the store: a full load once, then only
the channels whose subscriptions changed (by the store's change counter), whichever instance
changed them."""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

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


class RecentDocs:
    """The latest ingests' papers as analysed for matching, by id and stored revision: a new
    subscription's look back matches the last days' papers without analysing them again (what
    made a subscribe slow while an ingest ran). Terms are shared strings, so a paper costs a
    few KB; the oldest go first past `size`.

    A paper is kept as its ingest analysed it, with the acronyms known then, and a new
    subscription is matched against that: what every subscription that existed then was matched
    against. Analysing it again with the acronyms learned since (each ingest that mines a pair
    makes a new vocabulary) re-analysed the whole look back in the first subscribe after each
    such ingest: seconds while the next ingest ran."""

    def __init__(self, size: int = 8000) -> None:
        self.size = size
        self._docs: dict[str, tuple[int, AnalyzedPaper]] = {}
        self._lock = threading.Lock()

    def keep(self, arxiv_id: str, rev: int, doc: AnalyzedPaper) -> None:
        """Keep `doc`, paper `arxiv_id` as analysed at revision `rev`."""
        with self._lock:
            self._docs.pop(arxiv_id, None)
            self._docs[arxiv_id] = (rev, doc)
            while len(self._docs) > self.size:
                del self._docs[next(iter(self._docs))]

    def seen_since(
        self,
        store: Store,
        since: datetime,
        analyze: Callable[[Paper], AnalyzedPaper],
    ) -> list[AnalyzedPaper]:
        """Every paper first seen since `since`, analysed: kept ones as they are (same
        revision), the rest read, analysed now and kept for the next look back."""
        return self.analysed(store, store.revisions_seen_since(since), analyze, keep=True)

    def analysed(
        self,
        store: Store,
        revisions: Iterable[tuple[str, int]],
        analyze: Callable[[Paper], AnalyzedPaper],
        keep: bool = False,
    ) -> list[AnalyzedPaper]:
        """The papers (id, revision) given, analysed: kept ones as they are, the rest read and
        analysed now (and kept too if `keep`: the catch-all guard judges the same papers on
        every subscribe until an ingest changes them)."""
        docs, missing = [], []
        with self._lock:
            for arxiv_id, rev in revisions:
                kept = self._docs.get(arxiv_id)
                if kept is not None and kept[0] == rev:
                    docs.append(kept[1])
                else:
                    missing.append((arxiv_id, rev))
        papers = store.get_papers([arxiv_id for arxiv_id, _ in missing])
        for arxiv_id, rev in missing:
            paper = papers.get(arxiv_id)
            if paper is None:
                continue
            doc = analyze(paper)
            docs.append(doc)
            if keep:
                self.keep(arxiv_id, rev, doc)
        return docs


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
        self.recent = RecentDocs()

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
        self,
        plan: UpsertPlan,
        analyze: Callable[[Paper], AnalyzedPaper],
        revs: Mapping[str, int] | None = None,
    ) -> PackedMatches:
        """What a chunk's changed papers matched, by query row: a new paper's every match; an
        updated paper's only where its stored version did not match (a match already recorded
        stays as it was, and a paper whose upvotes moved is not news again). With `revs` (the
        stored revision of each), the analysed papers are kept for `recent_docs`."""

        def analyzed(paper: Paper) -> AnalyzedPaper:
            doc = analyze(paper)
            rev = revs.get(paper.arxiv_id) if revs else None
            if rev is not None:
                self.recent.keep(paper.arxiv_id, rev, doc)
            return doc

        with self.lock:
            found = self.index.match_groups(map(analyzed, plan.changed))
            before: dict[str, set[object]] = defaultdict(set)
            if plan.updated:
                for queries, arxiv_id, _ in self.index.match_groups(
                    analyze(old) for old, _ in plan.updated
                ):
                    before[arxiv_id].update(queries)
            return self._pack(found, before)

    def _pack(self, found: Iterable[QueryMatch], before: dict[str, set[object]]) -> PackedMatches:
        # Gather each matched query's papers first (one dict step per match), then find the
        # query's rows once per query: a day holds ~290,000 matches of ~28,000 queries.
        words_of: dict[Any, list[str]] = {}
        for queries, arxiv_id, field in found:
            word = f"{arxiv_id}={field.value}"
            known = before.get(arxiv_id)
            fresh: Iterable[Any] = queries - known if known else queries
            for query in fresh:
                words = words_of.get(query)
                if words is None:
                    words_of[query] = [word]
                else:
                    words.append(word)
        packed: dict[int, list[str]] = {}
        for query, words in words_of.items():
            for row in self._rows(query):
                if row in packed:  # two of the query's spellings: rare
                    packed[row] = packed[row] + words
                else:
                    packed[row] = words
        return packed

    def _rows(self, query: Any) -> tuple[int, ...]:
        """The query rows a matched query's subscribers store matches under (one per spelling
        of the query), cached while its subscribers stay the same tuple."""
        subscribers = query.subscribers
        entry = self._rows_of.get(query)
        if entry is None or entry[0] is not subscribers:
            ids = {self._query_ids.get(s.query) for s in subscribers}
            ids.discard(None)
            entry = self._rows_of[query] = (subscribers, tuple(ids))  # type: ignore[arg-type]
        return entry[1]
