"""The ingest's write path at scale: a subscription index kept in step with the store by a change
counter (`live`), and a day stored in chunks, each chunk's papers and matches in one short
transaction (`chunks`), so commands never wait long behind an ingest.

The matches are recorded once per distinct query (see store/matches.py); benchmarks/bench_day.py
measures the whole day against the one-row-per-subscription design.
"""

from paperbot.ingest.chunks import IngestStats, ingest_in_chunks
from paperbot.ingest.live import LiveSubscriptions, SyncReport

__all__ = ["IngestStats", "LiveSubscriptions", "SyncReport", "ingest_in_chunks"]
