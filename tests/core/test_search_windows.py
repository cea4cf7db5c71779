"""Searches over common words answer from the best papers of a word union (block-max WAND)
instead of scoring every paper: the answers are those of the exact tiers."""

from __future__ import annotations

from typing import Any

import pytest

from paperbot.search import SearchIndex, parse_search, retrieval
from paperbot.testing import make_paper


def corpus() -> SearchIndex:
    """Papers of different lengths (so no two score alike) holding some of the words."""
    papers = []
    texts = (
        ["lepemumo language model"] * 2
        + ["lepemumo language"] * 2
        + ["lepemumo"]
        + ["language model"] * 6
        + ["model"] * 3
        + ["we propose a novel language model"] * 12
        + ["a novel twist", "novel items", "a model that is novel"]
    )
    for n, text in enumerate(texts):
        abstract = f"{text}. " + "Filler words follow here. " * (n % 7 + 1) + f"Number {n}."
        papers.append(make_paper(f"Paper {n}", abstract, arxiv_id=f"2101.{n:05d}"))
    index = SearchIndex.open(None)
    index.index_papers(papers)
    return index


def ids(index: SearchIndex, text: str) -> list[str]:
    return [hit.arxiv_id for hit in index.search(parse_search(text), limit=10)]


def spy(monkeypatch: pytest.MonkeyPatch, name: str) -> list[int]:
    calls: list[int] = []
    real = getattr(retrieval, name)

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(retrieval, name, counted)
    return calls


def test_a_rare_word_beside_common_ones_keeps_the_tiers(monkeypatch: pytest.MonkeyPatch) -> None:
    index = corpus()
    exact = ids(index, "lepemumo language model")
    # The rare word is in 5 papers: the all-words tier stays exact; all-but-one is bounded by
    # the papers holding "lepemumo" or "language" (28), so it is ranked in the window.
    monkeypatch.setattr(retrieval, "EXACT_TIERS_MAX_DOCS", 10)
    windowed = spy(monkeypatch, "_tiers_in_window")
    assert ids(index, "lepemumo language model") == exact
    assert windowed
    assert set(exact[:2]) == {"2101.00000", "2101.00001"}  # all three words
    assert set(exact[2:4]) == {"2101.00002", "2101.00003"}  # two, one of them the rare one


def test_a_common_phrase_is_found_in_the_window(monkeypatch: pytest.MonkeyPatch) -> None:
    index = corpus()
    exact = ids(index, '"a novel"')
    assert len(exact) == 10
    monkeypatch.setattr(retrieval, "EXACT_TIERS_MAX_DOCS", 0)
    windowed = spy(monkeypatch, "_phrases_in_window")
    assert ids(index, '"a novel"') == exact
    assert windowed


def test_a_rare_phrase_of_common_words_falls_back_to_the_exact_search(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    index = corpus()
    exact = ids(index, '"novel twist"')
    assert exact == ["2101.00026"]
    monkeypatch.setattr(retrieval, "EXACT_TIERS_MAX_DOCS", 0)
    windowed = spy(monkeypatch, "_phrases_in_window")
    # Fewer than 10 papers of the window hold it: the exact search answers.
    assert ids(index, '"novel twist"') == exact
    assert windowed


def test_left_out_words_are_left_out_of_the_windows_too(monkeypatch: pytest.MonkeyPatch) -> None:
    index = corpus()
    exact = ids(index, "lepemumo language model -novel")
    monkeypatch.setattr(retrieval, "EXACT_TIERS_MAX_DOCS", 10)
    windowed = spy(monkeypatch, "_tiers_in_window")
    found = ids(index, "lepemumo language model -novel")
    assert windowed and found == exact
    # The 12 "we propose a novel language model" papers would fill the any-word tier otherwise.
    assert len(found) == 10 and not any(int(i.split(".")[1]) >= 14 for i in found)
    phrases = spy(monkeypatch, "_phrases_in_window")
    holding = {f"2101.{n:05d}" for n in (0, 1, 5, 6, 7, 8, 9, 10)}  # the phrase, not "novel"
    assert set(ids(index, '"language model" -novel')) == holding
    assert phrases
