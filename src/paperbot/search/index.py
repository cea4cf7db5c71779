"""The search index: BM25 over every stored paper, trailing the store by a watermark.

The store stays the source of truth; the index only maps words to arXiv ids and follows the
store's paper revisions, so it can be caught up or rebuilt at any time. User text never reaches
tantivy's query parser: queries are built clause by clause from a parsed SearchRequest, so
nothing a user types can inject syntax or crash a search.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import tantivy

from paperbot.models import Paper
from paperbot.search.analysis import SCHEMA_VERSION, IndexDocument, documents, new_schema
from paperbot.search.plan import plan
from paperbot.search.request import SearchRequest
from paperbot.search.residency import ResidencyCap
from paperbot.search.retrieval import corrected, retrieve
from paperbot.search.storage import (
    WriterBusy,
    compatible,
    configured,
    open_directory,
    read_state,
    wipe,
    write_state,
)

log = logging.getLogger(__name__)

MAX_LIMIT = 100
CATCH_UP_BATCH = 20_000  # bigger commits make fewer segments to merge; this many papers in memory
# A search that finds the index behind the store by at most this many revisions catches up
# first (a day's ingest by another process: well under a second); a bigger backlog (another
# process's backfill) is indexed in the background while searches use what is there.
INLINE_CATCH_UP = 5_000
DEFAULT_HEAP_BYTES = 128_000_000


@dataclass(frozen=True, slots=True)
class SearchHit:
    arxiv_id: str
    score: float  # BM25; 0.0 when the request had only filters (hits are then newest first)


@dataclass(frozen=True, slots=True)
class SearchResult:
    hits: list[SearchHit]
    corrections: tuple[tuple[str, str], ...] = ()  # (typed word, word searched instead)
    words: tuple[str, ...] = ()  # the stems that were searched (for highlighting)


class PaperFeed(Protocol):
    """The one thing the index needs from the store: papers changed after a revision."""

    def papers_changed_since(self, rev: int, limit: int = ...) -> list[tuple[int, Paper]]: ...


class RevisionFeed(PaperFeed, Protocol):
    """A feed that can also say, cheaply, the newest revision it holds."""

    def latest_paper_rev(self) -> int: ...


Progress = Callable[[int], None]


class SearchIndex:
    """One index directory (or memory), one writer guarded by a lock, searchers from any thread.

    The writer is let go after each catch-up: it holds memory of its own, and without it the
    index can be reopened to shed mapped pages past the memory budget (search.residency)."""

    def __init__(
        self,
        index: tantivy.Index,
        path: Path | None,
        watermark: int,
        heap_bytes: int,
        cap: ResidencyCap | None = None,
    ) -> None:
        self._index = index
        self._cap = cap or ResidencyCap(None)
        self._schema = index.schema
        self._path = path
        self._watermark = watermark
        self._heap_bytes = heap_bytes
        self._writer: tantivy.IndexWriter | None = None
        self._lock = threading.RLock()
        self._closed = False
        self._background: threading.Thread | None = None

    @classmethod
    def open(
        cls,
        path: Path | None,
        heap_bytes: int = DEFAULT_HEAP_BYTES,
        max_resident_bytes: int | None = None,
    ) -> SearchIndex:
        """None gives an in-memory index; a directory is created, or reopened with its
        watermark. An index from an older schema is wiped (watermark 0) so catch_up rebuilds it.
        `max_resident_bytes`: past this process RSS, searches shed the index's mapped pages."""
        schema = new_schema()
        watermark = 0
        if path is None:
            index = configured(tantivy.Index(schema))
        else:
            path.mkdir(parents=True, exist_ok=True)
            state = read_state(path)
            if state.get("schema") != SCHEMA_VERSION or not compatible(path):
                wipe(path)
            else:
                watermark = int(state.get("rev", 0))
            try:
                index = open_directory(schema, path)
            except (OSError, ValueError):  # damaged or foreign: start over, catch_up refills
                wipe(path)
                watermark = 0
                index = open_directory(schema, path)
        search_index = cls(index, path, watermark, heap_bytes, ResidencyCap(max_resident_bytes))
        if path is not None:
            search_index._save_watermark(watermark)
        return search_index

    @property
    def watermark(self) -> int:
        return self._watermark

    def index_papers(self, papers: Sequence[Paper], rev: int | None = None) -> None:
        """Add or replace by arXiv id, in one commit; a paper re-ingested is never duplicated.
        The watermark is written after the commit: a crash in between only re-indexes."""
        self.index_documents(documents(papers), rev)

    def index_documents(
        self, docs: Iterable[tuple[str, IndexDocument]], rev: int | None = None
    ) -> None:
        """`index_papers` given `search.analysis.documents` (built ahead or as they go)."""
        with self._lock:
            self._check_open()
            writer = self._get_writer()
            searcher = self._index.searcher()
            try:
                for arxiv_id, doc in docs:
                    # Deleting only ids already committed skips a delete per paper on bulk loads.
                    if searcher.doc_freq("arxiv_id", arxiv_id):
                        writer.delete_documents_by_term("arxiv_id", arxiv_id)
                    if isinstance(doc, str):
                        writer.add_json(doc)
                    else:
                        writer.add_document(doc)
                writer.commit()
            except BaseException:  # tantivy panics surface as BaseException
                writer.rollback()
                raise
            self._index.reload()
            if rev is not None:
                self._save_watermark(rev)

    def search(self, request: SearchRequest, limit: int = 10) -> list[SearchHit]:
        """Best first; safe from any thread, also while an ingest commits (each search holds
        one consistent searcher). Never counts all hits: that alone costs more than top-k."""
        return self.find(request, limit).hits

    def find(self, request: SearchRequest, limit: int = 10) -> SearchResult:
        """Like `search`, and says which typed words no paper holds were searched as the word
        one edit away instead ("difusion" as "diffusion")."""
        self._check_open()
        if limit <= 0:
            return SearchResult([])
        limit = min(limit, MAX_LIMIT)
        try:
            searcher = self._index.searcher()
            request, changes = corrected(searcher, request)
            query_plan = plan(self._schema, request)
            found = retrieve(searcher, query_plan, limit)
            return SearchResult(self._hits(searcher, found), changes, tuple(query_plan.words))
        finally:
            self._shed_pages_if_over_budget()

    def similar(self, paper: Paper, limit: int = 5) -> list[SearchHit]:
        """Papers most like `paper` by its title and abstract words (tantivy's more-like-this),
        best first, never the paper itself; `paper` need not be indexed."""
        self._check_open()
        limit = min(max(limit, 0), MAX_LIMIT)
        if not limit:
            return []
        query = tantivy.Query.more_like_this_document_fields_query(
            self._schema,
            {"text": [paper.title, paper.abstract]},
            min_doc_frequency=2,
            min_term_frequency=1,
            max_query_terms=25,
            min_word_length=3,
        )
        searcher = self._index.searcher()
        found = searcher.search(query, limit + 1, count=False).hits
        hits = [hit for hit in self._hits(searcher, found) if hit.arxiv_id != paper.arxiv_id]
        return hits[:limit]

    @staticmethod
    def _hits(
        searcher: tantivy.Searcher, found: list[tuple[float, tantivy.DocAddress]]
    ) -> list[SearchHit]:
        hits = []
        for score, address in found:
            arxiv_id = searcher.doc(address).get_first("arxiv_id")
            if arxiv_id is not None:
                hits.append(SearchHit(str(arxiv_id), float(score)))
        return hits

    def catch_up(self, store: PaperFeed, progress: Progress | None = None) -> int:
        """Index every paper the store changed after the watermark; returns how many. The
        writer is let go at the end, once its merges are done."""
        total = 0
        with self._lock:
            self._check_open()
            self._adopt_disk_state()
            try:
                while True:
                    rows = store.papers_changed_since(self._watermark, limit=CATCH_UP_BATCH)
                    newest = max((rev for rev, _ in rows), default=self._watermark)
                    if newest <= self._watermark:  # nothing new (or a feed that does not advance)
                        break
                    self.index_papers([paper for _, paper in rows], rev=newest)
                    total += len(rows)
                    if progress is not None:
                        progress(total)
            except WriterBusy:
                # Another process (a backfill, or `paperbot ingest` beside the bot) is writing
                # this directory: it indexes what it stores; its commits are visible already.
                log.info("search index: another process is writing it; using its commits")
            self._release_writer()
        return total

    def refresh(self, store: RevisionFeed) -> int:
        """Make every stored paper searchable: papers another process stored (or indexed into
        this directory) since the last look. Costs one indexed max() query when nothing
        changed; a small backlog is indexed now, a big one in a background thread. Returns
        how many papers were indexed now."""
        self._check_open()
        latest = store.latest_paper_rev()
        if latest <= self._watermark:
            return 0
        if latest - self._watermark > INLINE_CATCH_UP:
            self._catch_up_in_background(store)
            return 0
        if not self._lock.acquire(blocking=False):
            return 0  # a catch-up is running (this thread's ingest, or the background one)
        try:
            return self.catch_up(store)
        finally:
            self._lock.release()

    def _catch_up_in_background(self, store: PaperFeed) -> None:
        if self._background is not None and self._background.is_alive():
            return
        if not self._lock.acquire(blocking=False):
            return  # a catch-up is running
        try:
            self._adopt_disk_state()  # maybe another process on this directory did it all
        finally:
            self._lock.release()

        def run() -> None:
            try:
                self.catch_up(store)
            except Exception:  # a database outage: the next search or periodic refresh retries
                log.warning("search index: background catch-up failed", exc_info=True)

        self._background = threading.Thread(target=run, name="search-catch-up", daemon=True)
        self._background.start()

    def rebuild(self, store: PaperFeed, progress: Progress | None = None) -> int:
        """Wipe and re-index everything; searches see a partial index until it finishes."""
        with self._lock:
            self._check_open()
            # Watermark first: a crash right after it only re-indexes papers that were there.
            self._save_watermark(0)
            writer = self._get_writer()
            writer.delete_all_documents()
            writer.commit()
            self._index.reload()
            return self.catch_up(store, progress)

    def close(self) -> None:
        """Let background merges finish so the next open starts from few segments."""
        background = self._background
        if background is not None:
            background.join()
        with self._lock:
            self._release_writer()
            self._closed = True

    @property
    def num_docs(self) -> int:
        return int(self._index.searcher().num_docs)

    @property
    def reopened(self) -> int:
        """How many times searches shed the index's mapped pages by reopening it."""
        return self._cap.reopened

    # --- internals ----------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("the search index is closed")

    def _shed_pages_if_over_budget(self) -> None:
        """Past the memory budget, reopen the index: tantivy unmaps the old one's files when
        the last search holding them ends (see search.residency). Not while a writer is open
        (an ingest is running, or just ran): the next search after it will."""
        if self._path is None or not self._cap.over():
            return
        with self._lock:
            if self._closed or self._writer is not None or not self._cap.over():
                return
            self._index = open_directory(self._schema, self._path)
            rss = self._cap.shed()
        log.info(
            "search index reopened past the %d MB memory budget: mapped pages let go "
            "(resident now %s MB)",
            (self._cap.max_bytes or 0) // 2**20,
            "?" if rss is None else rss // 2**20,
        )

    def _release_writer(self) -> None:
        """Wait for background merges and drop the writer (and the memory it holds)."""
        if self._writer is not None:
            self._writer.wait_merging_threads()
            self._writer = None

    def _get_writer(self) -> tantivy.IndexWriter:
        if self._writer is None:
            try:
                self._writer = self._index.writer(heap_size=self._heap_bytes)
            except ValueError as error:
                if "LockBusy" in str(error):
                    raise WriterBusy(str(error)) from None
                raise
            # Another process may have committed to this directory since our last reload:
            # index_papers decides by the searcher whether a paper needs deleting first.
            self._index.reload()
        return self._writer

    def _adopt_disk_state(self) -> None:
        """See what another process committed to this directory, and skip what it indexed: its
        watermark is written after its commit, so the index holds at least that much."""
        if self._path is None:
            return
        self._index.reload()
        on_disk = int(read_state(self._path).get("rev", 0))
        if on_disk > self._watermark:
            self._watermark = on_disk

    def _save_watermark(self, rev: int) -> None:
        self._watermark = rev
        if self._path is not None:
            write_state(self._path, {"schema": SCHEMA_VERSION, "rev": rev})
