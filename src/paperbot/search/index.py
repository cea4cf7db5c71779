"""The search index: BM25 over every stored paper, trailing the store by a watermark.

The store stays the source of truth; the index only maps words to arXiv ids and follows the
store's paper revisions, so it can be caught up or rebuilt at any time. User text never reaches
tantivy's query parser: queries are built clause by clause from a parsed SearchRequest, so
nothing a user types can inject syntax or crash a search.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import tantivy

from paperbot.models import Paper
from paperbot.search.analysis import SCHEMA_VERSION, document, new_schema, register_analyzers
from paperbot.search.request import MAX_PHRASE_WORDS, SearchRequest
from paperbot.text import stem

MAX_LIMIT = 100
TITLE_BOOST = 3.0
PHRASE_BOOST = 2.0
CATCH_UP_BATCH = 10_000
# How many best papers by words alone the full query (phrases, filters) gets to re-score.
WINDOW = 500
DEFAULT_HEAP_BYTES = 128_000_000
STATE_FILE = "paperbot-search.json"

# Words that add cost (they are in almost every abstract) but no ranking signal as loose terms.
# They stay in phrases, where "attention is all you need" needs every one of them.
_STOPWORDS = frozenset(
    stem(w)
    for w in (
        *("a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "has", "have", "in"),
        *("into", "is", "it", "its", "of", "on", "or", "our", "that", "the", "their", "this"),
        *("to", "via", "was", "we", "were", "which", "with"),
    )
)
_TANTIVY_FILES = (".idx", ".pos", ".term", ".store", ".fast", ".fieldnorm", ".del")


@dataclass(frozen=True, slots=True)
class SearchHit:
    arxiv_id: str
    score: float  # BM25; 0.0 when the request had only filters (hits are then newest first)


class PaperFeed(Protocol):
    """The one thing the index needs from the store: papers changed after a revision."""

    def papers_changed_since(self, rev: int, limit: int = ...) -> list[tuple[int, Paper]]: ...


Progress = Callable[[int], None]


class SearchIndex:
    """One index directory (or memory), one writer guarded by a lock, searchers from any thread."""

    def __init__(
        self, index: tantivy.Index, path: Path | None, watermark: int, heap_bytes: int
    ) -> None:
        self._index = index
        self._schema = index.schema
        self._path = path
        self._watermark = watermark
        self._heap_bytes = heap_bytes
        self._writer: tantivy.IndexWriter | None = None
        self._lock = threading.RLock()
        self._closed = False

    @classmethod
    def open(cls, path: Path | None, heap_bytes: int = DEFAULT_HEAP_BYTES) -> SearchIndex:
        """None gives an in-memory index; a directory is created, or reopened with its
        watermark. An index from an older schema is wiped (watermark 0) so catch_up rebuilds it."""
        schema = new_schema()
        watermark = 0
        if path is None:
            index = tantivy.Index(schema)
        else:
            path.mkdir(parents=True, exist_ok=True)
            state = _read_state(path)
            if state.get("schema") != SCHEMA_VERSION or not _compatible(path):
                _wipe(path)
            else:
                watermark = int(state.get("rev", 0))
            try:
                index = tantivy.Index(schema, str(path), reuse=True)
            except (OSError, ValueError):  # damaged or foreign: start over, catch_up refills
                _wipe(path)
                watermark = 0
                index = tantivy.Index(schema, str(path), reuse=True)
        register_analyzers(index)
        index.config_reader(reload_policy="Manual")  # we reload after each commit
        search_index = cls(index, path, watermark, heap_bytes)
        if path is not None:
            search_index._save_watermark(watermark)
        return search_index

    @property
    def watermark(self) -> int:
        return self._watermark

    def index_papers(self, papers: Sequence[Paper], rev: int | None = None) -> None:
        """Add or replace by arXiv id, in one commit; a paper re-ingested is never duplicated.
        The watermark is written after the commit: a crash in between only re-indexes."""
        with self._lock:
            self._check_open()
            writer = self._get_writer()
            latest = {paper.arxiv_id: paper for paper in papers}
            searcher = self._index.searcher()
            try:
                for arxiv_id, paper in latest.items():
                    # Deleting only ids already committed skips a delete per paper on bulk loads.
                    if searcher.doc_freq("arxiv_id", arxiv_id):
                        writer.delete_documents_by_term("arxiv_id", arxiv_id)
                    writer.add_document(document(paper))
                writer.commit()
            except BaseException:  # tantivy panics surface as BaseException
                writer.rollback()
                raise
            self._index.reload()
            if rev is not None:
                self._save_watermark(rev)

    def search(self, request: SearchRequest, limit: int = 10) -> list[SearchHit]:
        self._check_open()
        if limit <= 0:
            return []
        limit = min(limit, MAX_LIMIT)
        searcher = self._index.searcher()
        full = self._query(request)
        if not request.has_words:
            result = searcher.search(full, limit, count=False, order_by_field="day")
            return self._hits(searcher, [(0.0, address) for _, address in result.hits])
        if not (request.phrases or request.has_filters or len(set(request.terms)) > 1):
            # One word: the query is a pure term union, which block-max WAND already prunes.
            return self._hits(searcher, searcher.search(full, limit, count=False).hits)
        return self._hits(searcher, self._two_phase(searcher, request, full, limit))

    def _two_phase(
        self, searcher: tantivy.Searcher, request: SearchRequest, full: tantivy.Query, limit: int
    ) -> list[tuple[float, tantivy.DocAddress]]:
        """Phrases and filters would make tantivy score every matching paper (they disable its
        block-max WAND pruning), tens of milliseconds when the words are common. So, as search
        engines usually do: WAND over the words alone picks the best WINDOW papers, and the
        full query scores only those. Where filters or a required phrase leave fewer than
        `limit` of a full window, the window may have hidden matches and the full query runs
        on everything (cheap then: those filters and phrases are selective)."""
        Q, Occur = tantivy.Query, tantivy.Occur
        candidates = searcher.search(self._words_query(request), WINDOW, count=False).hits
        if not candidates:
            return []
        keys = searcher.fast_field_values("key", [address for _, address in candidates])
        only = Q.const_score_query(Q.term_set_query(self._schema, "key", keys), 0.0)
        restricted = Q.boolean_query([(Occur.Must, only), (Occur.Must, full)])
        hits: list[tuple[float, tantivy.DocAddress]] = searcher.search(
            restricted, limit, count=False
        ).hits
        if len(hits) < limit and len(candidates) == WINDOW:
            hits = searcher.search(full, limit, count=False).hits
        return hits

    def _hits(
        self, searcher: tantivy.Searcher, found: list[tuple[float, tantivy.DocAddress]]
    ) -> list[SearchHit]:
        hits = []
        for score, address in found:
            arxiv_id = searcher.doc(address).get_first("arxiv_id")
            if arxiv_id is not None:
                hits.append(SearchHit(str(arxiv_id), float(score)))
        return hits

    def catch_up(self, store: PaperFeed, progress: Progress | None = None) -> int:
        """Index every paper the store changed after the watermark; returns how many."""
        total = 0
        with self._lock:
            while True:
                rows = store.papers_changed_since(self._watermark, limit=CATCH_UP_BATCH)
                newest = max((rev for rev, _ in rows), default=self._watermark)
                if newest <= self._watermark:  # nothing new (or a feed that does not advance)
                    break
                self.index_papers([paper for _, paper in rows], rev=newest)
                total += len(rows)
                if progress is not None:
                    progress(total)
        return total

    def rebuild(self, store: PaperFeed, progress: Progress | None = None) -> int:
        """Wipe and re-index everything; searches see a partial index until it finishes."""
        with self._lock:
            self._check_open()
            writer = self._get_writer()
            writer.delete_all_documents()
            writer.commit()
            self._index.reload()
            self._save_watermark(0)
            return self.catch_up(store, progress)

    def close(self) -> None:
        """Let background merges finish so the next open starts from few segments."""
        with self._lock:
            if self._writer is not None:
                self._writer.wait_merging_threads()
                self._writer = None
            self._closed = True

    @property
    def num_docs(self) -> int:
        return int(self._index.searcher().num_docs)

    # --- internals ----------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("the search index is closed")

    def _get_writer(self) -> tantivy.IndexWriter:
        if self._writer is None:
            self._writer = self._index.writer(heap_size=self._heap_bytes)
        return self._writer

    def _save_watermark(self, rev: int) -> None:
        self._watermark = rev
        if self._path is None:
            return
        target = self._path / STATE_FILE
        temp = target.with_suffix(".tmp")
        with temp.open("w", encoding="utf-8") as handle:
            json.dump({"schema": SCHEMA_VERSION, "rev": rev}, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, target)

    def _words_query(self, request: SearchRequest) -> tantivy.Query:
        """Every word, loose or quoted, as flat SHOULD term clauses: what WAND can prune."""
        Occur = tantivy.Occur
        words = list(dict.fromkeys([*request.terms, *(w for p in request.phrases for w in p)]))
        clauses = []
        for word in [w for w in words if w not in _STOPWORDS] or words:
            clauses.append((Occur.Should, self._field_query("title", (word,), TITLE_BOOST)))
            clauses.append((Occur.Should, self._field_query("abstract", (word,), 1.0)))
        return tantivy.Query.boolean_query(clauses)

    def _query(self, request: SearchRequest) -> tantivy.Query:
        """Loose words as SHOULD term clauses (flat, so scoring stays a plain BM25 sum), the
        typed word sequence as a boosted phrase, quoted phrases and filters as MUST."""
        Q, Occur = tantivy.Query, tantivy.Occur
        clauses: list[tuple[tantivy.Occur, tantivy.Query]] = []
        loose = list(dict.fromkeys(request.terms))
        meaningful = [t for t in loose if t not in _STOPWORDS]
        for term in meaningful or loose:
            clauses.append((Occur.Should, self._field_query("title", (term,), TITLE_BOOST)))
            clauses.append((Occur.Should, self._field_query("abstract", (term,), 1.0)))
        if 2 <= len(request.terms) <= MAX_PHRASE_WORDS:
            typed = request.terms
            clauses.append(
                (Occur.Should, self._field_query("title", typed, TITLE_BOOST * PHRASE_BOOST))
            )
            clauses.append((Occur.Should, self._field_query("abstract", typed, PHRASE_BOOST)))
        for phrase in request.phrases:
            either = Q.boolean_query(
                [
                    (Occur.Should, self._field_query("title", phrase, TITLE_BOOST)),
                    (Occur.Should, self._field_query("abstract", phrase, 1.0)),
                ]
            )
            clauses.append((Occur.Must, either))
        for query in self._filters(request):
            clauses.append((Occur.Must, Q.const_score_query(query, 0.0)))
        if not clauses:
            return Q.all_query()
        if loose and request.phrases == () and any(o == Occur.Must for o, _ in clauses):
            # With MUST filters, SHOULD words turn optional: ask for one, or a filter alone
            # would return every paper of the category at score 0.
            return Q.boolean_query(clauses, minimum_number_should_match=1)
        return Q.boolean_query(clauses)

    def _filters(self, request: SearchRequest) -> list[tantivy.Query]:
        Q, Occur = tantivy.Query, tantivy.Occur
        filters: list[tantivy.Query] = []
        if request.since is not None:
            start = datetime(request.since.year, request.since.month, request.since.day, tzinfo=UTC)
            filters.append(Q.range_query(self._schema, "day", tantivy.FieldType.Date, start, None))
        for author in request.authors:
            filters.append(self._field_query("authors", tuple(author.split()), 1.0))
        if request.categories:
            filters.append(
                Q.boolean_query(
                    [
                        (Occur.Should, Q.term_query(self._schema, "categories", category))
                        for category in request.categories
                    ]
                )
            )
        return filters

    def _field_query(self, field: str, words: tuple[str, ...], boost: float) -> tantivy.Query:
        Q = tantivy.Query
        if len(words) == 1:  # tantivy panics on a one-word phrase
            query = Q.term_query(self._schema, field, words[0])
        else:
            query = Q.phrase_query(self._schema, field, list(words))
        return query if boost == 1.0 else Q.boost_query(query, boost)


def _read_state(path: Path) -> dict[str, int]:
    try:
        state = json.loads((path / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return state if isinstance(state, dict) else {}


def _compatible(path: Path) -> bool:
    try:
        return not tantivy.Index.exists(str(path)) or bool(tantivy.Index.is_compatible(str(path)))
    except OSError:
        return False


def _wipe(path: Path) -> None:
    """Remove tantivy's files and our state only, never anything else someone put there."""
    for entry in path.iterdir():
        name = entry.name
        ours = name in ("meta.json", ".managed.json", STATE_FILE) or name.startswith(".tantivy")
        if entry.is_file() and (ours or entry.suffix in _TANTIVY_FILES):
            with contextlib.suppress(FileNotFoundError):
                entry.unlink()
