"""The search index's upkeep: re-indexing a changed paper, persisting across a reopen, wiping an
index of another schema, catching up with and rebuilding from the store, and searching while an
ingest commits."""

from __future__ import annotations

import json
import threading
from dataclasses import replace
from pathlib import Path

import pytest
from search_corpus import BY_ID, CORPUS, ids

from paperbot.models import Paper
from paperbot.search import STATE_FILE, SearchIndex, parse_search
from paperbot.store.store import Store


@pytest.fixture
def index() -> SearchIndex:
    built = SearchIndex.open(None)
    built.index_papers(CORPUS)
    return built


def test_reindexing_a_paper_replaces_it(index: SearchIndex) -> None:
    before = index.num_docs
    changed = replace(BY_ID["2006.11239"], title="Score Matching Revisited")
    index.index_papers([changed])
    index.index_papers([changed, changed])
    assert index.num_docs == before
    assert ids(index, "revisited") == ["2006.11239"]
    assert ids(index, "denoising") == []  # only the old title said it


def test_persists_across_reopen(tmp_path: Path) -> None:
    path = tmp_path / "search"
    first = SearchIndex.open(path)
    first.index_papers(CORPUS, rev=7)
    first.close()
    again = SearchIndex.open(path)
    assert again.watermark == 7
    assert again.num_docs == len(CORPUS)
    assert ids(again, "registers") == ["2309.16588"]
    assert json.loads((path / STATE_FILE).read_text())["rev"] == 7
    assert not list(path.glob("*.tmp"))
    again.close()


def test_an_index_from_another_schema_is_wiped(tmp_path: Path) -> None:
    path = tmp_path / "search"
    first = SearchIndex.open(path)
    first.index_papers(CORPUS, rev=9)
    first.close()
    (path / STATE_FILE).write_text(json.dumps({"schema": 0, "rev": 9}))
    (path / "notes.txt").write_text("not ours")
    again = SearchIndex.open(path)
    assert again.watermark == 0
    assert again.num_docs == 0
    assert (path / "notes.txt").exists()
    again.close()


def test_closed_index_refuses_work(index: SearchIndex) -> None:
    index.close()
    with pytest.raises(RuntimeError):
        index.search(parse_search("attention"))


def test_catch_up_and_rebuild_follow_the_store(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'db.sqlite'}")
    try:
        store.upsert_papers(CORPUS)
        index = SearchIndex.open(tmp_path / "search")
        seen: list[int] = []
        assert index.catch_up(store, progress=seen.append) == len(CORPUS)
        assert seen == [len(CORPUS)]
        assert index.watermark == max(rev for rev, _ in store.papers_changed_since(0, 100))
        assert ids(index, "registers") == ["2309.16588"]
        assert index.catch_up(store) == 0

        store.upsert_papers([replace(BY_ID["2309.16588"], title="Vision Transformers Need Sinks")])
        assert index.catch_up(store) == 1
        assert ids(index, "sinks") == ["2309.16588"]
        assert ids(index, "registers") == []
        assert index.num_docs == len(CORPUS)

        assert index.rebuild(store) == len(CORPUS)
        assert index.num_docs == len(CORPUS)
        index.close()
        assert SearchIndex.open(tmp_path / "search").watermark == index.watermark
    finally:
        store.close()


def test_catch_up_stops_on_a_feed_that_does_not_advance() -> None:
    class StuckFeed:
        def papers_changed_since(self, rev: int, limit: int = 5000) -> list[tuple[int, Paper]]:
            return [(3, CORPUS[0])]

    index = SearchIndex.open(None)
    assert index.catch_up(StuckFeed()) == 1
    assert index.catch_up(StuckFeed()) == 0


def test_searches_run_while_an_ingest_commits() -> None:
    index = SearchIndex.open(None)
    index.index_papers(CORPUS)
    errors: list[BaseException] = []
    stop = threading.Event()

    def searching() -> None:
        try:
            while not stop.is_set():
                assert ids(index, "attention")
        except BaseException as exc:
            errors.append(exc)

    workers = [threading.Thread(target=searching) for _ in range(3)]
    for worker in workers:
        worker.start()
    for round_ in range(20):
        index.index_papers([replace(p, upvotes=round_) for p in CORPUS])
    stop.set()
    for worker in workers:
        worker.join()
    assert errors == []
    assert index.num_docs == len(CORPUS)
