"""Backfill from the arXiv metadata dump: a real SQLite store and a real search index."""

from __future__ import annotations

import gzip
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from paperbot.backfill import BadRecord, backfill, checkpoint_keys, paper_from_record
from paperbot.models import ChannelKey, ChannelSettings
from paperbot.search import SearchIndex, parse_search
from paperbot.store.store import Store
from paperbot.testing import FixedClock

FIXTURE = Path(__file__).parent.parent / "fixtures" / "arxiv_metadata_sample.jsonl"
LINES = FIXTURE.read_bytes().splitlines(keepends=True)


class Interrupted(Exception):
    pass


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(f"sqlite:///{tmp_path}/db.sqlite", clock=FixedClock())
    yield opened
    opened.close()


@pytest.fixture
def search(tmp_path: Path) -> Iterator[SearchIndex]:
    index = SearchIndex.open(tmp_path / "search")
    yield index
    index.close()


def copy_of(lines: list[bytes], path: Path, compress: bool = False) -> Path:
    data = b"".join(lines)
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


def search_ids(index: SearchIndex, text: str) -> list[str]:
    return [hit.arxiv_id for hit in index.search(parse_search(text), limit=100)]


def test_the_fixture_is_imported_into_the_store_and_the_search_index(
    store: Store, search: SearchIndex
) -> None:
    seen: list[tuple[int, int]] = []
    report = backfill(store, FIXTURE, search, progress=lambda n, b: seen.append((n, b)))
    assert (report.papers, report.inserted, report.skipped, report.lines) == (50, 50, 0, 50)
    assert store.count_papers() == 50
    assert seen[-1] == (50, FIXTURE.stat().st_size)
    paper = store.get_paper("2405.10111")
    assert paper is not None
    assert paper.authors == ("Ada Rossi", "Mei Mensah", "Zoë Müller")  # LaTeX accents read
    assert paper.categories == ("stat.ML", "cs.LG", "math.OC")
    assert paper.published_at == datetime(2024, 5, 3, 15, 38, 3, tzinfo=UTC)  # versions[0]
    assert "\n" not in paper.title and "  " not in paper.abstract
    assert paper.sources == ("arxiv",)
    assert search.num_docs == 50
    assert "2405.10111" in search_ids(search, "author:Müller")
    assert "2405.10111" in search_ids(search, '"LLM Interactive Optimization"')


def test_old_style_ids_are_kept(store: Store) -> None:
    backfill(store, FIXTURE)
    old = store.get_paper("hep-th/9901001")
    assert old is not None and old.published_at == datetime(1999, 1, 4, 9, 12, 44, tzinfo=UTC)
    assert old.categories == ("hep-th",)
    assert store.get_paper("math/0309136") is not None


def test_history_neither_looks_new_nor_reaches_subscriptions(tmp_path: Path) -> None:
    # The clock stands a day after the newest fixture paper: every one of them is history.
    clock = FixedClock(datetime(2024, 6, 1, tzinfo=UTC))
    store = Store.open(f"sqlite:///{tmp_path}/history.sqlite", clock=clock)
    channel = ChannelKey("console", "local", "t")
    store.ensure_channel(channel, ChannelSettings())
    store.add_subscription(channel, "diffusion", "u")
    backfill(store, FIXTURE)
    assert store.count_papers() == 50
    assert store.digest_candidates(channel, datetime.min.replace(tzinfo=UTC)) == []  # never matched
    # First seen when published, not when imported: a week's lookback finds only recent ones.
    recent = {p.arxiv_id for p in store.papers_seen_since(clock() - timedelta(days=7))}
    assert recent == set()
    assert len(store.papers_seen_since(datetime(2024, 5, 1, tzinfo=UTC))) == 47
    store.close()


def test_a_bad_line_is_skipped_with_one_log_line_and_counted(
    store: Store, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bad = [
        b'{"id": "2405.99999", "title": "Cut off mid-li\n',
        b'{"id": "not-an-id", "title": "T", "abstract": "A"}\n',
        b"\n",  # a blank line is not an error
        b"[1, 2, 3]\n",
        b"[" * 100_000 + b"\n",  # hostile nesting: a bad line, not a crash
    ]
    path = copy_of(LINES[:10] + bad + LINES[10:], tmp_path / "dump.jsonl")
    with caplog.at_level(logging.WARNING, logger="paperbot.backfill"):
        report = backfill(store, path)
    assert (report.papers, report.skipped) == (50, 4)
    assert store.count_papers() == 50
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 4
    assert "line 11 skipped" in warnings[0] and "line 12 skipped" in warnings[1]
    assert "not-an-id" in warnings[1]


def test_json_that_only_the_fast_parser_refuses_still_imports(store: Store, tmp_path: Path) -> None:
    """The dump is read with orjson, which refuses integers past 64 bits and NaN; Python's
    json reads them, so such a line is a paper as it always was, not a bad line."""
    odd = [
        b'{"id": "2405.90001", "title": "Big number", "abstract": "A", "n": 1' + b"0" * 30 + b"}\n",
        b'{"id": "2405.90002", "title": "Not a number", "abstract": "A", "score": NaN}\n',
    ]
    report = backfill(store, copy_of(odd, tmp_path / "dump.jsonl"))
    assert (report.papers, report.skipped) == (2, 0)
    paper = store.get_paper("2405.90001")
    assert paper is not None and paper.title == "Big number"


class FailingIndex:
    """A search index whose first batch fails, as a tantivy panic would."""

    watermark = 0

    def index_documents(self, docs: object, rev: int | None = None) -> None:
        raise RuntimeError("index broke")

    def catch_up(self, store: object, progress: object = None) -> int:
        return 0


def test_an_index_failure_stops_the_import_in_its_own_thread(store: Store, tmp_path: Path) -> None:
    # The batch is indexed in a background thread; its error surfaces in the importing one,
    # at the next batch, with the batches before it stored (the index catches up on them).
    path = copy_of(LINES, tmp_path / "dump.jsonl")
    with pytest.raises(RuntimeError, match="index broke"):
        backfill(store, path, FailingIndex(), batch_size=20)
    assert store.count_papers() == 40


def test_an_interrupted_import_resumes_where_it_stopped(store: Store, tmp_path: Path) -> None:
    path = copy_of(LINES, tmp_path / "dump.jsonl")

    def stop_after_first_batch(papers: int, _bytes: int) -> None:
        raise Interrupted

    with pytest.raises(Interrupted):
        backfill(store, path, batch_size=20, progress=stop_after_first_batch)
    assert store.count_papers() == 20
    offset_key, lines_key = checkpoint_keys(path)
    saved = store.read_meta([offset_key, lines_key])
    assert saved[lines_key] == 20 and saved[offset_key] == len(b"".join(LINES[:20]))

    report = backfill(store, path, batch_size=20)
    assert report.resumed_from == saved[offset_key]
    assert (report.lines, report.papers, report.inserted) == (30, 30, 30)  # no line read twice
    assert store.count_papers() == 50
    again = backfill(store, path)  # finished: nothing left to do
    assert (again.lines, again.papers) == (0, 0)


def test_gzipped_dumps_import_and_resume(store: Store, search: SearchIndex, tmp_path: Path) -> None:
    path = copy_of(LINES, tmp_path / "dump.jsonl.gz", compress=True)
    calls = 0

    def stop_after_two_batches(papers: int, file_bytes: int) -> None:
        nonlocal calls
        calls += 1
        assert 0 < file_bytes <= path.stat().st_size  # compressed bytes, for a progress bar
        if calls == 2:
            raise Interrupted

    with pytest.raises(Interrupted):
        backfill(store, path, search, batch_size=15, progress=stop_after_two_batches)
    assert store.count_papers() == 30
    report = backfill(store, path, search, batch_size=15)
    assert (report.lines, report.inserted) == (20, 20)
    assert store.count_papers() == 50
    assert search.num_docs == 50


def test_reimporting_is_idempotent(store: Store, search: SearchIndex) -> None:
    backfill(store, FIXTURE, search)
    again = backfill(store, FIXTURE, search, restart=True)
    assert (again.papers, again.inserted, again.updated) == (50, 0, 0)
    assert store.count_papers() == 50
    assert search.num_docs == 50


def test_records_are_read_like_the_dump_writes_them() -> None:
    record = {
        "id": "0704.0001v2",
        "title": "  Calculation of prompt diphoton\n  production  ",
        "abstract": "  A fully differential calculation.\n",
        "authors": "C. Bal\\'azs, E. L. Berger and P. M. Nadolsky",
        "categories": "hep-ph",
        "versions": [],
        "update_date": "2008-11-13",
    }
    paper = paper_from_record(record)
    assert paper.arxiv_id == "0704.0001"
    assert paper.title == "Calculation of prompt diphoton production"
    assert paper.authors == ("C. Balázs", "E. L. Berger", "P. M. Nadolsky")  # no authors_parsed
    assert paper.published_at == datetime(2008, 11, 13, tzinfo=UTC)  # no versions
    for broken in ({"id": "x", "title": "T"}, {"id": "0704.0001", "title": "  "}, ["list"]):
        with pytest.raises(BadRecord):
            paper_from_record(broken)
