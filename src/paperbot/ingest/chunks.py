"""A day's papers stored in chunks, each chunk's papers and their matches in one transaction that
holds the write lock briefly; chunks are sized from the previous one's write time."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from paperbot.analysis import AnalyzedPaper
from paperbot.ingest.live import LiveSubscriptions
from paperbot.models import Paper
from paperbot.store.papers import UpsertResult, merge_batch
from paperbot.store.store import Store

# Aim each chunk's writes at this long, well under the 0.5 s a command may wait behind them.
TARGET_WRITE_SECONDS = 0.2
FIRST_CHUNK, MIN_CHUNK, MAX_CHUNK = 250, 25, 2000


@dataclass(slots=True)
class IngestStats:
    """Where an ingest's time went, summed over its chunks (seconds)."""

    read_seconds: float = 0.0  # which papers are new or changed
    match_seconds: float = 0.0  # matching and packing, outside the write lock
    write_seconds: float = 0.0  # papers and matches written, to commit
    chunk_writes: list[float] = field(default_factory=list)  # each chunk's write lock hold
    index_seconds: float = 0.0  # the search index catching up (set by the caller)

    @property
    def max_write_seconds(self) -> float:
        return max(self.chunk_writes, default=0.0)


def ingest_in_chunks(
    store: Store,
    live: LiveSubscriptions,
    batch: Sequence[Paper],
    analyze: Callable[[Paper], AnalyzedPaper],
    target_write_seconds: float = TARGET_WRITE_SECONDS,
    first_chunk: int = FIRST_CHUNK,
) -> tuple[UpsertResult, int, IngestStats]:
    """Store and match `batch` chunk by chunk; returns what changed, the (query, paper) matches
    recorded and the time spent. A crash between chunks leaves whole chunks stored with their
    matches and the rest unstored: the next ingest of the day finds those new and does them."""
    papers = list(merge_batch(batch).values())  # one paper never spans two chunks
    total, matched, stats = UpsertResult(), 0, IngestStats()
    size, start = first_chunk, 0
    while start < len(papers):
        chunk = papers[start : start + size]
        start += len(chunk)
        done = store.ingest_chunk(chunk, lambda plan: live.match_chunk(plan, analyze))
        total.inserted += done.upsert.inserted
        total.updated += done.upsert.updated
        if done.upsert.changed:
            total.first_rev = total.first_rev or done.upsert.first_rev
            total.last_rev = done.upsert.last_rev
        matched += done.matched
        stats.read_seconds += done.read_seconds
        stats.match_seconds += done.match_seconds
        if done.upsert.changed:
            stats.write_seconds += done.write_seconds
            stats.chunk_writes.append(done.write_seconds)
            per_paper = done.write_seconds / len(done.upsert.changed)
            wanted = int(target_write_seconds / per_paper) if per_paper > 0 else MAX_CHUNK
            # Grow gently (a cheap chunk may have been cheap by chance), shrink at once.
            size = max(min(MIN_CHUNK, size), min(MAX_CHUNK, wanted, size * 2))
    return total, matched, stats
