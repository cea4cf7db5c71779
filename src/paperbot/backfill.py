"""Backfill: import a snapshot of the public arXiv metadata dump (JSON lines, optionally gzipped)
into the store and the search index, in large batches, resumably.

History goes to the store and the search index only, never through subscription matching: a
million old papers must not flood tomorrow's digests. Each batch commits together with the
byte offset it reached (in the store's `meta` table), so an interrupted import continues from
the last committed batch; re-importing is idempotent anyway (papers are upserted by id).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import logging
import re
import time
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import IO, Any, Protocol

import orjson

from paperbot.ingest.indexing import BackgroundIndexing
from paperbot.models import Paper, normalize_arxiv_id
from paperbot.search.analysis import IndexDocument, documents
from paperbot.store.store import Store

log = logging.getLogger(__name__)

BATCH_SIZE = 10_000
RAMP = (1_000, 3_000)  # the first batches' sizes (see _Lines.batches)
MAX_LOGGED = 100  # bad lines logged one by one; after that they are only counted
_MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTHS = {name: number for number, name in enumerate(_MONTH_NAMES, start=1)}
# LaTeX accents as the dump writes names ("Schr\"odinger", "G{\'o}mez", "\c{C}elik").
_ACCENTS = {
    '"': "\u0308", "'": "\u0301", "`": "\u0300", "^": "\u0302", "~": "\u0303", "=": "\u0304",
    ".": "\u0307", "u": "\u0306", "v": "\u030c", "H": "\u030b", "c": "\u0327", "r": "\u030a",
    "k": "\u0328",
}  # fmt: skip
_LATEX_ACCENT = re.compile(r"""\{?\\([\"'`^~=.]|[uvHckr](?=[\s{]))\s*\{?\s*([A-Za-z])\}?\}?""")
_LATEX_LETTERS = {r"\ss": "ß", r"\o": "ø", r"\O": "Ø", r"\aa": "å", r"\AA": "Å", r"\l": "ł",
                  r"\L": "Ł", r"\ae": "æ", r"\AE": "Æ", r"\i": "ı"}  # fmt: skip
_LATEX_LETTER = re.compile(r"\{?(\\(?:ss|aa|AA|ae|AE|[oOlLi]))(?![A-Za-z])\}?")


_PLAIN_ID = re.compile(r"\d{4}\.\d{4,5}\Z")


class BadRecord(ValueError):
    """A line of the dump that is not a usable paper; it is skipped, logged and counted."""


class PaperIndexer(Protocol):
    """What backfill needs of the search index (paperbot.search.SearchIndex)."""

    @property
    def watermark(self) -> int: ...

    def index_documents(
        self, docs: Iterable[tuple[str, IndexDocument]], rev: int | None = None
    ) -> None: ...

    def catch_up(self, store: Any, progress: Any = None) -> int: ...


@dataclass(frozen=True, slots=True)
class BackfillReport:
    papers: int  # papers read and stored by this run (new or re-imported)
    inserted: int
    updated: int
    skipped: int  # bad lines
    lines: int  # lines read by this run
    resumed_from: int  # byte offset (in the uncompressed stream) this run started at
    seconds: float

    @property
    def per_second(self) -> float:
        return self.papers / self.seconds if self.seconds > 0 else 0.0


# --- one line of the dump ------------------------------------------------------------------


def paper_from_record(record: object) -> Paper:
    """A dump record as a Paper; BadRecord says what is wrong with it."""
    if not isinstance(record, dict):
        raise BadRecord("not a JSON object")
    raw_id = record.get("id")
    if isinstance(raw_id, str) and _PLAIN_ID.match(raw_id):
        arxiv_id: str | None = raw_id  # as the dump writes nearly every id
    else:
        arxiv_id = normalize_arxiv_id(raw_id) if isinstance(raw_id, str) else None
    if arxiv_id is None:
        raise BadRecord(f"not an arXiv id: {str(raw_id)[:40]!r}")
    title, abstract = record.get("title"), record.get("abstract")
    if not isinstance(title, str) or not title.strip():
        raise BadRecord(f"{arxiv_id} has no title")
    categories = record.get("categories")
    return Paper(
        arxiv_id=arxiv_id,
        title=_one_line(title),
        abstract=_one_line(abstract) if isinstance(abstract, str) else "",
        authors=_authors(record),
        categories=tuple(categories.split()) if isinstance(categories, str) else (),
        published_at=_published(record),
        sources=("arxiv",),
    )


def _one_line(text: str) -> str:
    """Whitespace collapsed: the dump keeps the submitters' hard line breaks. (Replacing the
    breaks first and splitting only if spaces still double is four times cheaper.)"""
    flat = text.strip().replace("\n", " ")
    # Any other whitespace than a single space is "not printable" (a C-speed scan).
    return " ".join(flat.split()) if "  " in flat or not flat.isprintable() else flat


def _authors(record: dict[str, Any]) -> tuple[str, ...]:
    """ "First Last Suffix" from authors_parsed ([last, first, suffix]); else the authors
    string split on commas and "and"."""
    parsed = record.get("authors_parsed")
    names: list[str] = []
    if isinstance(parsed, list) and parsed:
        for entry in parsed:
            if not isinstance(entry, list) or not entry:
                continue
            last = entry[0] or ""
            first = (entry[1] or "") if len(entry) > 1 else ""
            suffix = (entry[2] or "") if len(entry) > 2 else ""
            name = f"{first} {last} {suffix}" if suffix else f"{first} {last}"
            # Most names are two clean parts; only the rest pay for collapsing whitespace.
            if (
                not first
                or not last
                or "  " in name
                or not name.isprintable()
                or name[0] == " "
                or name[-1] == " "
            ):
                name = " ".join(name.split())
            if name:
                names.append(name)
    else:
        text = record.get("authors")
        if isinstance(text, str):
            names = [n.strip() for n in re.split(r",|\band\b", text) if n.strip()]
    return tuple(_latex_to_text(n) if "\\" in n or "{" in n else n for n in names)


def _latex_to_text(name: str) -> str:
    """Schr\\"odinger -> Schrödinger: author search and author: subscriptions meet real names."""
    text = _LATEX_ACCENT.sub(lambda m: m.group(2) + _ACCENTS[m.group(1)], name)
    text = _LATEX_LETTER.sub(lambda m: _LATEX_LETTERS[m.group(1)], text)
    text = text.replace("{", "").replace("}", "")
    return " ".join(unicodedata.normalize("NFC", text).split())


def _published(record: dict[str, Any]) -> datetime | None:
    """The first version's date ("Mon, 2 Apr 2007 19:18:42 GMT"), else update_date."""
    versions = record.get("versions")
    if isinstance(versions, list) and versions and isinstance(versions[0], dict):
        created = versions[0].get("created")
        if isinstance(created, str):
            parts = created.split()
            try:
                hour, minute, second = (int(x) for x in parts[4].split(":"))
                return datetime(
                    int(parts[3]),
                    _MONTHS[parts[2]],
                    int(parts[1]),
                    hour,
                    minute,
                    second,
                    tzinfo=UTC,
                )
            except (IndexError, KeyError, ValueError):
                pass
    updated = record.get("update_date")
    if isinstance(updated, str):
        try:
            return datetime.strptime(updated, "%Y-%m-%d").replace(tzinfo=UTC)
        except ValueError:
            return None
    return None


# --- the file ------------------------------------------------------------------------------


class _Lines:
    """The dump's lines with their offsets: plain files seek to a saved offset; gzip streams
    are decompressed up to it (offsets always count uncompressed bytes)."""

    def __init__(self, path: Path, start: int) -> None:
        self.raw = path.open("rb")
        gzipped = self.raw.read(2) == b"\x1f\x8b"
        self.raw.seek(0)
        self.stream: IO[bytes]
        if gzipped:
            self.stream = io.BufferedReader(gzip.GzipFile(fileobj=self.raw), 1 << 20)
            _skip(self.stream, start)
        else:
            self.raw.seek(start)
            self.stream = self.raw
        self.offset = start

    def batches(self, size: int) -> Iterator[list[bytes]]:
        """Batches of `size` lines, the first ones smaller: the search index, the slowest
        stage, waits for the first batch to be stored, so it starts sooner on a small one."""
        sizes = (min(size, RAMP[0]), min(size, RAMP[1]))
        batch: list[bytes] = []
        target = sizes[0]
        count = 0
        for line in self.stream:
            batch.append(line)
            if len(batch) >= target:
                yield batch
                batch = []
                count += 1
                target = sizes[count] if count < len(sizes) else size
        if batch:
            yield batch

    @property
    def file_position(self) -> int:
        """Bytes of the file itself read so far (compressed bytes for .gz), for progress."""
        return self.raw.tell()

    def close(self) -> None:
        self.stream.close()
        self.raw.close()


def _skip(stream: IO[bytes], count: int) -> None:
    while count > 0:
        chunk = stream.read(min(count, 1 << 20))
        if not chunk:
            break
        count -= len(chunk)


def checkpoint_keys(path: Path) -> tuple[str, str]:
    """The `meta` keys holding how far this file got: its byte offset and line. Named by the
    file's absolute path and size, so a new snapshot at the same path starts over."""
    resolved = path.resolve()
    name = f"{resolved}:{resolved.stat().st_size}".encode()
    digest = hashlib.blake2b(name, digest_size=8).hexdigest()
    return f"backfill:{digest}:offset", f"backfill:{digest}:lines"


# --- the import ----------------------------------------------------------------------------


def backfill(
    store: Store,
    path: str | Path,
    search: PaperIndexer | None = None,
    *,
    batch_size: int = BATCH_SIZE,
    progress: Callable[[int, int], None] | None = None,
    restart: bool = False,
) -> BackfillReport:
    """Import the dump at `path` into `store` (and `search`), continuing where the last run
    on this file stopped unless `restart`. `progress(papers, file_bytes)` is called after each
    committed batch with the papers this run imported and how far into the file it is (bytes
    of the file itself, compressed ones for .gz: a progress bar's total is the file's size).
    Search indexing of one batch runs in a background thread while the next one is parsed and
    stored; the index is fully caught up when this returns."""
    path = Path(path)
    keys = checkpoint_keys(path)
    saved = {} if restart else store.read_meta(list(keys))
    offset, line_no = (saved.get(k, 0) for k in keys)
    started = time.perf_counter()
    lines = _Lines(path, offset)
    resumed_from = offset
    counts = {"papers": 0, "inserted": 0, "updated": 0, "skipped": 0, "lines": 0}
    indexer = _Indexer(store, search)
    if offset:
        log.info("backfill of %s resumes at line %d (byte %d)", path, line_no + 1, offset)
    try:
        for batch in lines.batches(batch_size):
            papers = []
            for raw in batch:
                line_no += 1
                offset += len(raw)
                if raw.isspace():
                    continue
                try:
                    papers.append(paper_from_line(raw))
                except (ValueError, RecursionError) as error:  # incl. JSON errors, BadRecord
                    _log_bad_line(path, line_no, error, counts["skipped"])
                    counts["skipped"] += 1
            checkpoint = dict(zip(keys, (offset, line_no), strict=True))
            result = store.import_papers(papers, checkpoint)
            counts["papers"] += len(papers)
            counts["inserted"] += len(result.inserted)
            counts["updated"] += len(result.updated)
            counts["lines"] += len(batch)
            indexer.submit(result.changed, result.first_rev, result.last_rev)
            if progress is not None:
                progress(counts["papers"], lines.file_position)
        indexer.finish()
    finally:
        indexer.stop()
        lines.close()
    log.info(
        "backfill of %s: %d papers (%d new), %d bad lines skipped",
        path,
        counts["papers"],
        counts["inserted"],
        counts["skipped"],
    )
    return BackfillReport(
        resumed_from=resumed_from,
        seconds=time.perf_counter() - started,
        **counts,
    )


def paper_from_line(raw: bytes) -> Paper:
    """One line of the dump as a Paper; ValueError (BadRecord, bad JSON) or RecursionError
    says it is not one."""
    return paper_from_record(_record(raw))


def _record(raw: bytes) -> object:
    """One line's JSON. orjson reads a dump line in about a third of json's time; a line it
    refuses (a number past 64 bits, NaN, nesting past its limit) gets json's own verdict, so
    what counts as a bad line is exactly what it was."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return json.loads(raw)


def _log_bad_line(path: Path, line_no: int, error: Exception, already: int) -> None:
    if already < MAX_LOGGED:
        log.warning("backfill: %s line %d skipped: %s", path.name, line_no, str(error)[:200])
    elif already == MAX_LOGGED:
        log.warning("backfill: more bad lines in %s are counted, not logged", path.name)


class _Indexer:
    """Indexes each committed batch in a background thread, one batch at a time, so the next
    batch is parsed and stored meanwhile. The batch's documents are built here, in the
    importing thread, before it is handed over: that is the Python (GIL-bound) part of
    indexing, and done in the index thread it would fight parsing and storing for the GIL
    while tantivy's own threads, which need no GIL, wait to be fed. The index trails the
    store by its watermark, so anything missed here is picked up by catch_up."""

    def __init__(self, store: Store, search: PaperIndexer | None) -> None:
        self.store = store
        self.search = search
        self.running: BackgroundIndexing | None = None

    def submit(self, papers: list[Paper], first_rev: int, last_rev: int) -> None:
        if self.search is None or not papers:
            return
        docs = list(documents(papers))
        self._wait()
        self.running = BackgroundIndexing(
            partial(self._index, docs, first_rev, last_rev), name="backfill-index"
        )
        self.running.start()

    def _index(self, docs: list[tuple[str, IndexDocument]], first_rev: int, last_rev: int) -> None:
        assert self.search is not None
        if self.search.watermark == first_rev - 1:
            # The index holds everything before this batch: add it without re-reading it.
            self.search.index_documents(docs, rev=last_rev)
        else:  # another writer's papers came in between: let the index read the store
            self.search.catch_up(self.store)

    def _wait(self) -> None:
        """Wait for the batch being indexed; its error is raised here, in the importing thread."""
        running, self.running = self.running, None
        if running is not None:
            running.wait()

    def finish(self) -> None:
        self._wait()
        if self.search is not None:
            self.search.catch_up(self.store)  # anything a failed or racing batch left behind

    def stop(self) -> None:
        if self.running is not None:
            self.running.wait(reraise=False)
