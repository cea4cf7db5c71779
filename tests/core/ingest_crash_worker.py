"""A bot process for the ingest crash test: ingests a day in small chunks, slowly, until killed.

    ingest_crash_worker.py DB_URL PAPERS

Stores, matches and records the day through the real ingest, each chunk of a few papers in its
own transaction, pausing a little after each chunk and in analysing its papers (before each chunk is
written), so the test's SIGKILL lands
in the middle of the day (at times in the middle of a transaction).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable

from paperbot.analysis import AnalyzedPaper
from paperbot.ingest import LiveSubscriptions, ingest_in_chunks
from paperbot.models import Paper
from paperbot.service import analyze_paper
from paperbot.store.store import Store, StoredChunk, UpsertPlan
from paperbot.testing import make_paper


def day(count: int) -> list[Paper]:
    """The day both the worker and the test ingest: every third paper matches "diffusion"."""
    return [
        make_paper(
            f"Diffusion {n}" if n % 3 == 0 else f"Graphs {n}",
            "Robots and reward models." if n % 2 else "Nothing in particular.",
            arxiv_id=f"2611.{n:05d}",
        )
        for n in range(1, count + 1)
    ]


def slowly(paper: Paper) -> AnalyzedPaper:
    time.sleep(0.01)
    return analyze_paper(paper)


class SlowStore(Store):
    def store_chunk(
        self, batch: Iterable[Paper], prepare: Callable[[UpsertPlan], None] | None = None
    ) -> StoredChunk:
        done = super().store_chunk(batch, prepare)
        time.sleep(0.03)
        return done


def main(db_url: str, count: int) -> None:
    store = SlowStore.open(db_url)
    live = LiveSubscriptions()
    live.sync(store)
    print("ingesting", flush=True)
    ingest_in_chunks(store, live, day(count), slowly, target_write_seconds=0.0, first_chunk=5)
    print("done", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
