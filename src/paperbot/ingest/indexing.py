"""The search index catching up on an ingest's papers in a thread of its own, while the day is
matched and its query rows recorded: the papers are committed before matching starts, and
tantivy indexes in threads of its own (off the GIL), so on two cores most of the index's time
hides behind matching instead of following it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

from paperbot.analysis import AnalyzedPaper
from paperbot.ingest.chunks import IngestStats, ingest_in_chunks
from paperbot.ingest.live import LiveSubscriptions
from paperbot.models import Paper
from paperbot.store.papers import UpsertResult
from paperbot.store.store import Store


def ingest_and_index(
    store: Store,
    live: LiveSubscriptions,
    batch: Sequence[Paper],
    analyze: Callable[[Paper], AnalyzedPaper],
    catch_up: Callable[[], object],
) -> tuple[UpsertResult, int, IngestStats]:
    """`ingest_in_chunks`, with the search index's `catch_up` run beside the matching once the
    papers are committed, and waited for before returning."""
    indexing = BackgroundIndexing(catch_up)
    try:
        result, matched, stats = ingest_in_chunks(
            store, live, batch, analyze, stored=indexing.start
        )
    except BaseException:
        indexing.wait(reraise=False)  # the ingest's own error is the one to see
        raise
    stats.index_wait_seconds = indexing.wait()
    stats.index_seconds, stats.index_cpu_seconds = indexing.seconds, indexing.cpu_seconds
    stats.matched_any = indexing.started
    return result, matched, stats


class BackgroundIndexing:
    """Runs `catch_up` once in a thread from `start`; `wait` joins it and re-raises its error."""

    def __init__(self, catch_up: Callable[[], object], name: str = "ingest-index") -> None:
        self._catch_up = catch_up
        self._name = name
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self.seconds = 0.0  # how long the catch-up ran (beside the matching)
        self.cpu_seconds = 0.0  # of which its thread was on a CPU (tantivy's own threads aside)

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
            self._thread.start()

    def _run(self) -> None:
        started, cpu = time.perf_counter(), time.thread_time()
        try:
            self._catch_up()
        except BaseException as exc:  # tantivy panics surface as BaseException
            self._error = exc
        finally:
            self.seconds = time.perf_counter() - started
            self.cpu_seconds = time.thread_time() - cpu

    @property
    def started(self) -> bool:
        return self._thread is not None

    def wait(self, reraise: bool = True) -> float:
        """Join the catch-up (if it was started) and re-raise its error (with `reraise`);
        returns the seconds waited for it."""
        if self._thread is None:
            return 0.0
        started = time.perf_counter()
        self._thread.join()
        waited = time.perf_counter() - started
        error, self._error = self._error, None
        if error is not None and reraise:
            raise error
        return waited
