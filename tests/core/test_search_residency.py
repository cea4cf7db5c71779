"""The search index sheds its mapped pages past the memory budget (paperbot.search.residency)."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import pytest

from paperbot.models import Paper
from paperbot.search import SearchIndex, parse_search, residency
from paperbot.search.residency import RETRY_GROWTH_BYTES, ResidencyCap, process_rss
from paperbot.sources.sample import sample_papers
from paperbot.text import split_words

MB = 2**20


class FakeRss:
    def __init__(self, value: int) -> None:
        self.value = value

    def __call__(self) -> int:
        return self.value


def test_no_budget_never_sheds() -> None:
    for budget in (None, 0):
        assert not ResidencyCap(budget, FakeRss(10_000 * MB)).over()


def test_over_budget_until_a_reopen_brings_it_back() -> None:
    rss = FakeRss(100 * MB)
    cap = ResidencyCap(200 * MB, rss)
    assert not cap.over()
    rss.value = 201 * MB
    assert cap.over()
    rss.value = 120 * MB  # the reopen let the index pages go
    cap.shed()
    assert cap.reopened == 1 and not cap.over()
    rss.value = 201 * MB
    assert cap.over()


def test_backs_off_when_the_memory_is_not_the_index() -> None:
    rss = FakeRss(300 * MB)
    cap = ResidencyCap(200 * MB, rss)
    assert cap.over()
    cap.shed()  # still 300 MB: reopening again at once would not help
    assert not cap.over()
    rss.value = 300 * MB + RETRY_GROWTH_BYTES + 1
    assert cap.over()


def test_unknown_rss_never_sheds() -> None:
    assert not ResidencyCap(1, lambda: None).over()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_process_rss_reads_this_process() -> None:
    rss = process_rss()
    assert rss is not None and 10 * MB < rss < 64 * 1024 * MB


class OneRevision:
    """A store whose papers all changed at revision 1."""

    def __init__(self, papers: list[Paper]) -> None:
        self.papers = papers

    def papers_changed_since(self, rev: int, limit: int = 0) -> list[tuple[int, Paper]]:
        return [(1, paper) for paper in self.papers] if rev < 1 else []


def resident_index_bytes(directory: Path) -> int:
    """Resident bytes of this process's mappings of files in `directory` (/proc/self/smaps)."""
    total, inside = 0, False
    prefix = f"{directory.resolve()}/"
    for line in Path("/proc/self/smaps").read_text().splitlines():
        fields = line.split()
        if fields and "-" in fields[0] and not fields[0].endswith(":"):
            inside = len(fields) >= 6 and fields[5].startswith(prefix)
        elif inside and fields[0] == "Rss:":
            total += int(fields[1]) * 1024
    return total


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_search_past_the_budget_lets_the_mapped_index_go(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rss = FakeRss(100 * MB)
    monkeypatch.setattr(residency, "process_rss", rss)
    sample = sample_papers()
    # Ten copies of the real sample: an index big enough that what searches map dominates
    # what opening it maps.
    papers = [
        replace(paper, arxiv_id=f"{2400 + copy}.{n:05d}")
        for copy in range(10)
        for n, paper in enumerate(sample)
    ]
    words = sorted({w for p in sample for w in split_words(p.abstract) if len(w) > 6})
    queries = [parse_search(w) for w in words[:400]]
    directory = tmp_path / "index"
    index = SearchIndex.open(directory, max_resident_bytes=200 * MB)
    index.index_papers(papers[:100])
    rss.value = 201 * MB  # an open writer (an ingest) defers shedding to the next search
    index.search(queries[0], 5)
    assert index.reopened == 0
    rss.value = 100 * MB
    assert index.catch_up(OneRevision(papers)) == len(papers)  # and lets the writer go
    opened = resident_index_bytes(directory)  # what opening and writing the index mapped
    answers = [index.search(q, 5) for q in queries]  # under budget: pages stay mapped
    kept = resident_index_bytes(directory)
    assert index.reopened == 0 and kept > opened + 256 * 1024

    rss.value = 201 * MB
    assert index.search(queries[0], 5) == answers[0]
    assert index.reopened == 1
    shed = resident_index_bytes(directory)
    assert shed < opened + (kept - opened) / 4, (opened, kept, shed)  # back to about opened
    rss.value = 120 * MB
    assert [index.search(q, 5) for q in queries] == answers  # and searches map back what they need
    assert index.reopened == 1
