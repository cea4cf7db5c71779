"""Search never goes stale beside another process: papers another core stores (`paperbot
ingest` on the same data directory, a second instance on one PostgreSQL) are found by the
running core's next search, without a restart."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from paperbot.search import SearchIndex
from paperbot.search import index as search_index
from paperbot.service import Paperbot
from paperbot.sources.sample import sample_papers
from paperbot.store.store import Store
from paperbot.testing import FixedClock


class Core:
    """What `build_core` opens for one process: a store and an index directory."""

    def __init__(self, url: str, index_dir: Path, clock: FixedClock) -> None:
        self.store = Store.open(url, clock=clock)
        self.index = SearchIndex.open(index_dir)
        self.index.catch_up(self.store)
        self.bot = Paperbot(self.store, self.index, clock=clock)

    def close(self) -> None:
        self.index.close()
        self.store.close()


@pytest.fixture
def papers() -> list:  # type: ignore[type-arg]
    return sorted(sample_papers(), key=lambda p: p.arxiv_id)


async def _titles_found(bot: Paperbot, papers: list) -> int:  # type: ignore[type-arg]
    found = 0
    for paper in papers:
        items = await bot.search(f'"{paper.title}"', limit=20)
        found += any(item.paper.arxiv_id == paper.arxiv_id for item in items)
    return found


@pytest.fixture
def two_cores_one_data_dir(
    db_url: str, tmp_path: Path, clock: FixedClock
) -> Iterator[tuple[Core, Core]]:
    """Two cores on one database and one index directory (the bot and `paperbot ingest`)."""
    running = Core(db_url, tmp_path / "search", clock)
    other = Core(db_url, tmp_path / "search", clock)
    yield running, other
    other.close()
    running.close()


@pytest.fixture
def two_instances(db_url: str, tmp_path: Path, clock: FixedClock) -> Iterator[tuple[Core, Core]]:
    """Two instances on one database, each with its own index directory (two machines)."""
    first, second = Core(db_url, tmp_path / "a", clock), Core(db_url, tmp_path / "b", clock)
    yield first, second
    second.close()
    first.close()


async def test_papers_another_core_ingests_are_found_at_the_next_search(
    two_cores_one_data_dir: tuple[Core, Core],
    papers: list,  # type: ignore[type-arg]
) -> None:
    running, other = two_cores_one_data_dir
    running.bot.ingest_papers(papers[:20])
    assert await _titles_found(running.bot, papers[:5]) == 5
    other.bot.ingest_papers(papers[20:95])  # 75 papers, as in the report
    assert await _titles_found(running.bot, papers[20:95]) == 75
    assert running.index.num_docs == 95  # nothing indexed twice into the shared directory
    # And the other way round, after the running core indexed more itself.
    running.bot.ingest_papers(papers[95:100])
    assert await _titles_found(other.bot, papers[95:100]) == 5
    assert other.index.num_docs == 100


async def test_a_second_instance_on_one_database_sees_each_others_papers(
    two_instances: tuple[Core, Core],
    papers: list,  # type: ignore[type-arg]
) -> None:
    first, second = two_instances
    first.bot.ingest_papers(papers[:30])
    second.bot.ingest_papers(papers[30:60])
    assert await _titles_found(first.bot, papers[30:60]) == 30
    assert await _titles_found(second.bot, papers[:30]) == 30
    # A paper the other instance changed is found by its new words, not by its old ones.
    renamed = replace(papers[0], title="Quokka Resonance Ensembles")
    second.bot.ingest_papers([renamed])
    assert [i.paper.arxiv_id for i in await first.bot.search("quokka resonance")] == [
        papers[0].arxiv_id
    ]
    assert first.index.num_docs == second.index.num_docs == 60


async def test_the_periodic_refresh_catches_up_without_a_search(
    two_instances: tuple[Core, Core],
    papers: list,  # type: ignore[type-arg]
) -> None:
    first, second = two_instances
    second.bot.ingest_papers(papers[:40])
    assert first.index.num_docs == 0
    await first.bot.refresh_search()
    assert first.index.num_docs == 40
    assert first.index.watermark == first.store.latest_paper_rev()


def test_a_big_backlog_is_indexed_in_the_background(
    two_instances: tuple[Core, Core],
    papers: list,  # type: ignore[type-arg]
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(search_index, "INLINE_CATCH_UP", 10)
    first, second = two_instances
    second.bot.ingest_papers(papers[:50])
    assert first.index.refresh(first.store) == 0  # not waited for: a search goes on meanwhile
    first.index.close()  # joins the background catch-up
    assert first.index.watermark == first.store.latest_paper_rev()
    first.index = SearchIndex.open(first.index._path)  # type: ignore[arg-type]
    assert first.index.num_docs == 50


def test_a_backfill_holding_the_writer_does_not_break_the_bot(
    tmp_path: Path,
    papers: list,  # type: ignore[type-arg]
) -> None:
    """Another process holds the directory's writer (a backfill): the bot's own ingest and
    searches go on, seeing that process's commits; nothing fails."""
    url = f"sqlite:///{tmp_path / 'paperbot.sqlite'}"
    clock = FixedClock()
    bot = Core(url, tmp_path / "search", clock)
    try:
        script = textwrap.dedent(
            """
            import sys, time
            from pathlib import Path
            from paperbot.search import SearchIndex
            from paperbot.sources.sample import sample_papers
            from paperbot.store.store import Store
            store = Store.open(sys.argv[1])
            index = SearchIndex.open(Path(sys.argv[2]))
            papers = sorted(sample_papers(), key=lambda p: p.arxiv_id)[:30]
            result = store.upsert_papers(papers)
            index.index_papers(result.changed, rev=result.last_rev)  # keeps the writer
            print("ready", flush=True)
            sys.stdin.readline()
            index.close()
            """
        )
        holder = subprocess.Popen(
            [sys.executable, "-c", script, url, str(tmp_path / "search")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
            assert bot.index.refresh(bot.store) == 0
            assert bot.index.num_docs == 30  # its commits are visible
            bot.bot.ingest_papers(papers[30:35])  # stored; the index waits for the writer
            assert bot.store.count_papers() == 35
        finally:
            assert holder.stdin is not None
            holder.stdin.write("\n")
            holder.stdin.flush()
            holder.wait(timeout=60)
        assert holder.returncode == 0
        bot.index.refresh(bot.store)
        assert bot.index.num_docs == 35
    finally:
        bot.close()
