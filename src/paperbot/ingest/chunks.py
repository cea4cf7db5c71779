"""A day's ingest in short transactions: papers stored in chunks (each marked as waiting for its
matches), the day matched at once outside any transaction, and its query rows recorded in slices,
the last slice removing the marks. Chunks and slices are sized from the previous one's write
time, so no transaction holds the write lock for long, whatever the day's size or the load."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from paperbot.analysis import AnalyzedPaper
from paperbot.ingest.live import LiveSubscriptions
from paperbot.models import Paper
from paperbot.store.papers import UpsertPlan, UpsertResult, merge_batch
from paperbot.store.store import Store

# Aim each transaction's writes at this long, well under the 0.5 s a command may wait.
TARGET_WRITE_SECONDS = 0.15
FIRST_CHUNK, MAX_CHUNK = 250, 2000  # papers
FIRST_SLICE, MAX_SLICE = 2000, 100_000  # query rows (5,000 took 0.4 s on a loaded PostgreSQL)


@dataclass(slots=True)
class IngestStats:
    """Where an ingest's time went (seconds)."""

    read_seconds: float = 0.0  # which papers are new or changed
    analyse_seconds: float = 0.0  # the changed papers analysed for matching, before writing
    store_seconds: float = 0.0  # papers written, to commit
    match_seconds: float = 0.0  # syncing again, matching, packing (and analysing recovered papers)
    record_seconds: float = 0.0  # query rows written, to commit
    writes: list[float] = field(default_factory=list)  # each transaction's write lock hold
    recovered: int = 0  # papers an interrupted ingest had stored unmatched
    index_seconds: float = 0.0  # the search index catching up, beside matching (set by the caller)
    index_wait_seconds: float = 0.0  # of which the ingest waited for after recording
    index_cpu_seconds: float = 0.0  # the index's thread on a CPU (tantivy's own threads aside)
    matched_any: bool = False  # papers changed (or an interrupted ingest's were recovered)

    @property
    def max_write_seconds(self) -> float:
        return max(self.writes, default=0.0)


def ingest_in_chunks(
    store: Store,
    live: LiveSubscriptions,
    batch: Sequence[Paper],
    analyze: Callable[[Paper], AnalyzedPaper],
    target_write_seconds: float = TARGET_WRITE_SECONDS,
    first_chunk: int = FIRST_CHUNK,
    stored: Callable[[], None] | None = None,
) -> tuple[UpsertResult, int, IngestStats]:
    """Store, match and record `batch`; returns what changed, the (query, paper) matches
    recorded and the time spent. A crash leaves whole chunks of papers stored and marked; the
    next ingest matches the marked ones first, so no stored paper stays unmatched. `stored` is
    called once every changed paper is committed, before matching (when there is any)."""
    stats = IngestStats()
    leftover = store.pending_matches()
    # Matched whole: the matches of these were never recorded (a match recorded twice is one).
    whole: dict[str, Paper] = {}
    revs: dict[str, int] = {}  # each changed paper's stored revision
    for first, last in leftover:
        for rev, p in store.papers_in_revisions(first, last):
            whole[p.arxiv_id], revs[p.arxiv_id] = p, rev
    stats.recovered = len(whole)
    total, ranges = UpsertResult(), [first for first, _ in leftover]
    diffed: list[tuple[Paper, Paper]] = []  # updated papers: only their new matches count
    # Each changed paper analysed before it is written (no write lock held meanwhile) and kept
    # for `recent` as soon as it is: a subscribe's look back then finds every stored paper of
    # the day analysed already, even in the middle of this ingest.
    docs: dict[str, tuple[Paper, AnalyzedPaper]] = {}

    def prepare(plan: UpsertPlan) -> None:
        started = time.perf_counter()
        docs.update((p.arxiv_id, (p, analyze(p))) for p in plan.changed)
        stats.analyse_seconds += time.perf_counter() - started

    def analysed(paper: Paper) -> AnalyzedPaper:
        kept = docs.get(paper.arxiv_id)
        return kept[1] if kept is not None and kept[0] is paper else analyze(paper)

    papers = list(merge_batch(batch).values())  # one paper never spans two chunks
    size, start = first_chunk, 0
    while start < len(papers):
        chunk = papers[start : start + size]
        start += len(chunk)
        done = store.store_chunk(chunk, prepare)
        stats.read_seconds += done.read_seconds
        if not done.upsert.changed:
            continue
        for i, p in enumerate(done.upsert.changed):
            live.recent.keep(p.arxiv_id, done.upsert.first_rev + i, docs[p.arxiv_id][1])
        stats.store_seconds += done.write_seconds
        stats.writes.append(done.write_seconds)
        ranges.append(done.upsert.first_rev)
        total.inserted += done.upsert.inserted
        total.updated += done.upsert.updated
        total.first_rev = total.first_rev or done.upsert.first_rev
        total.last_rev = done.upsert.last_rev
        revs.update(
            (p.arxiv_id, done.upsert.first_rev + i) for i, p in enumerate(done.upsert.changed)
        )
        whole.update((p.arxiv_id, p) for p in done.plan.inserted)
        for old, merged in done.plan.updated:
            if old.arxiv_id in whole:
                whole[old.arxiv_id] = merged
            else:
                diffed.append((old, merged))
        size = _next_size(size, done.write_seconds / len(chunk), target_write_seconds, MAX_CHUNK)
    if not ranges:
        return total, 0, stats
    stats.matched_any = True
    if stored is not None:
        stored()
    started = time.perf_counter()
    # A subscription added since the ingest synced (a subscribe while the chunks were stored)
    # looked back only over the chunks committed by then: synced now, after the last chunk's
    # commit, it is matched against the whole day here. One added after this sync reads, in
    # its own look back, every chunk (all committed before it): either way, nothing is missed.
    live.sync(store)
    recovered = {arxiv_id: rev for arxiv_id, rev in revs.items() if arxiv_id not in docs}
    packed = live.match_chunk(UpsertPlan(list(whole.values()), diffed), analysed, recovered)
    stats.match_seconds = time.perf_counter() - started
    matched = sum(map(len, packed.values()))
    rows, now, batch_id = list(packed.items()), store.clock(), min(ranges)
    size, start = FIRST_SLICE, 0
    while True:
        part = dict(rows[start : start + size])
        start += len(part)
        last = start >= len(rows)
        held = store.record_matches(part, now, batch_id, ranges if last else ())
        stats.record_seconds += held
        stats.writes.append(held)
        if last:
            return total, matched, stats
        size = _next_size(size, held / len(part), target_write_seconds, MAX_SLICE)


def _next_size(size: int, per_item: float, target: float, most: int) -> int:
    """Grow gently (a cheap round may have been cheap by chance), shrink at once."""
    wanted = int(target / per_item) if per_item > 0 else most
    return max(1, min(most, wanted, size * 2))
