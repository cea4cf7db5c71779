"""A subscription's first minutes: the recent papers the catch-all guard judges it on, and the
look back that gives a new subscription the last few days' matches at once."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from operator import itemgetter

from paperbot import catchall
from paperbot.analysis import AnalyzedPaper, analyze_paper
from paperbot.digest import rank_items
from paperbot.ingest.live import RecentDocs
from paperbot.matching import match_naively
from paperbot.models import DigestItem, MatchField, MatchReason, Paper, Subscription
from paperbot.query import Node, evaluate, matched_as
from paperbot.store.matches import LOOKBACK, pack
from paperbot.store.store import Store
from paperbot.vocabulary import Vocabulary

# A new subscription also looks back this far, so the next digest is not empty for a new channel.
SUBSCRIBE_LOOKBACK = LOOKBACK
PREVIEW_WINDOW = timedelta(days=7)

Analyze = Callable[[Paper], AnalyzedPaper]


def judged_papers(
    store: Store, recent: RecentDocs, analyze: Analyze, now: datetime
) -> list[AnalyzedPaper]:
    """The recent papers the catch-all guard judges on (none for a young store: it takes
    the bundled sample), analysed once per process and paper revision."""
    revisions = store.revisions_seen_since(now - PREVIEW_WINDOW)
    if len(revisions) < catchall.MIN_RECENT:
        return []
    # A share is measured well on a thousand papers; a busy week holds ten times more.
    revisions.sort(key=itemgetter(1))
    step = max(1, len(revisions) // catchall.MAX_JUDGED)
    return recent.analysed(store, revisions[::step], analyze, keep=True)


@dataclass(frozen=True, slots=True)
class _Sample:
    docs: list[AnalyzedPaper]
    rev: int  # the store's newest paper revision when it was taken
    taken_at: datetime


class JudgedSample:
    """`judged_papers`, kept between subscribes: taken again only when the store's papers
    changed (its newest revision moved) or it is an hour old, and not while this process's
    ingest runs, whose every chunk would move the revision (the ingest takes it again once
    its day is recorded). A subscribe then reads one revision number instead of a week of
    paper ids, and judges on papers whose terms it looked up before. A young store's empty
    sample is never kept."""

    MAX_AGE = timedelta(hours=1)

    def __init__(self) -> None:
        self._sample: _Sample | None = None
        self._lock = threading.Lock()
        self._ingests = 0  # ingests of this process running

    def get(
        self, store: Store, recent: RecentDocs, analyze: Analyze, now: datetime
    ) -> list[AnalyzedPaper]:
        sample = self._sample
        if sample is not None and self._current(sample, store, now):
            return sample.docs
        return self.take(store, recent, analyze, now)

    def _current(self, sample: _Sample, store: Store, now: datetime) -> bool:
        if not timedelta(0) <= now - sample.taken_at < self.MAX_AGE:
            return False
        return bool(self._ingests) or store.latest_paper_rev() == sample.rev

    def take(
        self, store: Store, recent: RecentDocs, analyze: Analyze, now: datetime
    ) -> list[AnalyzedPaper]:
        """Take the sample now (blocking: reads the store, analyses what `recent` lacks)."""
        rev = store.latest_paper_rev()  # before reading: a paper stored meanwhile moves it
        docs = judged_papers(store, recent, analyze, now)
        with self._lock:
            self._sample = _Sample(docs, rev, now) if docs else None
        return docs

    @contextmanager
    def ingesting(self) -> Iterator[None]:
        """While an ingest of this process runs: its chunks do not make the sample stale."""
        with self._lock:
            self._ingests += 1
        try:
            yield
        finally:
            with self._lock:
                self._ingests -= 1


def match_recent(
    store: Store,
    recent: RecentDocs,
    analyze: Analyze,
    subscription: Subscription,
    now: datetime,
) -> int:
    """Match the new subscription's query against the last few days' papers, dated from the
    start of that look back: only its own channel's digest (which looks back as far for a
    new subscription) counts them, not those of channels that follow the query already.
    A query another channel has followed all that time has its matches stored already."""
    since = now - SUBSCRIBE_LOOKBACK
    stored = store.followed_query_matches(subscription, since)
    if stored is not None:
        return stored
    # Papers the latest ingests analysed are not analysed again (see RecentDocs).
    docs = recent.seen_since(store, since, analyze)
    # One query over a few thousand papers: evaluated directly, which is the reference the
    # index agrees with and twice as fast as an index built for it.
    found = [pack(m.arxiv_id, m.field) for m in match_naively([subscription], docs)]
    if not found:
        return 0
    return store.record_matches_of(subscription.query, found, since)


def preview_matches(
    node: Node, papers: Sequence[Paper], vocabulary: Vocabulary, today: date
) -> list[DigestItem]:
    """What a query would have matched among `papers` (the last week's), ranked as a digest
    ranks them, each saying how it matched: `/papers subscribe --preview`."""
    reasons: dict[str, list[MatchReason]] = {}
    by_id = {}
    for paper in papers:
        doc = analyze_paper(paper, vocabulary)
        verdict = evaluate(node, doc)
        if verdict.matched:
            field = verdict.field or MatchField.ABSTRACT
            detail = matched_as(str(node), doc, vocabulary)
            reasons[paper.arxiv_id] = [MatchReason(str(node), field, detail)]
            by_id[paper.arxiv_id] = paper
    return rank_items(reasons, by_id, {}, today)
