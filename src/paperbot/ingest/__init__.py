"""The ingest's write path at scale: a subscription index kept in step with the store by a change
counter (`live`), and a day written in short transactions, papers in chunks marked until their
matches are recorded (`chunks`), the search index catching up beside the matching
(`indexing`), so commands never wait long behind an ingest and a crash loses
nothing.

The matches are recorded once per distinct query (see store/matches.py); benchmarks/bench_day.py
measures the whole day against the one-row-per-subscription design.
"""

from paperbot.ingest.chunks import IngestStats, ingest_in_chunks
from paperbot.ingest.indexing import BackgroundIndexing, ingest_and_index
from paperbot.ingest.live import LiveSubscriptions, SyncReport

__all__ = [
    "BackgroundIndexing",
    "IngestStats",
    "LiveSubscriptions",
    "SyncReport",
    "ingest_and_index",
    "ingest_in_chunks",
]
