"""`/papers search` from typed text to papers: a pasted id or link shows that paper (and papers
like it), anything else is searched in an index first brought up to date with the store, and
each hit carries its best-matching abstract sentence."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from paperbot.errors import InvalidInput
from paperbot.models import DigestItem, Paper
from paperbot.search.index import RevisionFeed, SearchIndex
from paperbot.search.paste import pasted_paper_id, unreadable_paste
from paperbot.search.request import parse_search
from paperbot.search.snippet import best_sentence
from paperbot.text import split_words, stem


class PaperStore(RevisionFeed, Protocol):
    def get_papers(self, ids: Sequence[str]) -> dict[str, Paper]: ...


@dataclass(frozen=True, slots=True)
class SearchOutcome:
    items: tuple[DigestItem, ...]
    corrections: tuple[tuple[str, str], ...] = ()  # (typed word, word searched instead)
    pasted_id: str | None = None  # the query was this paper's id or link
    ignored: tuple[str, ...] = ()  # filters that could not be read

    @property
    def pasted_missing(self) -> bool:
        """A pasted paper that is not in the store (yet)."""
        return self.pasted_id is not None and not (
            self.items and self.items[0].paper.arxiv_id == self.pasted_id
        )


def find_papers(store: PaperStore, index: SearchIndex, text: str, limit: int) -> SearchOutcome:
    """Blocking; raises InvalidInput (one line) when nothing in `text` can be searched."""
    pasted = pasted_paper_id(text)
    if pasted is not None:
        paper = store.get_papers([pasted]).get(pasted)
        if paper is None:
            return SearchOutcome((), pasted_id=pasted)
        index.refresh(store)
        similar = [hit.arxiv_id for hit in index.similar(paper, limit - 1)]
        found = store.get_papers(similar)
        items = [DigestItem(paper)]
        items += [DigestItem(found[i]) for i in similar if i in found]
        return SearchOutcome(tuple(items), pasted_id=pasted)
    problem = unreadable_paste(text)
    if problem is not None:
        raise InvalidInput(problem)
    request = parse_search(text)
    # Papers another process stored (`paperbot ingest`, a second instance) are found now.
    index.refresh(store)
    result = index.find(request, limit)
    papers = store.get_papers([hit.arxiv_id for hit in result.hits])
    wanted = frozenset(result.words)
    hits = tuple(
        DigestItem(
            papers[hit.arxiv_id],
            score=hit.score,
            highlight=best_sentence(papers[hit.arxiv_id].abstract, wanted),
        )
        for hit in result.hits
        if hit.arxiv_id in papers
    )
    corrections = _as_written(result.corrections, [item.paper for item in hits])
    return SearchOutcome(hits, corrections, ignored=request.ignored)


def _as_written(
    corrections: tuple[tuple[str, str], ...], papers: Sequence[Paper]
) -> tuple[tuple[str, str], ...]:
    """Each correction as the found papers write it: the index knows stems, and several words
    one edit from a typo share one ("sparsificator", "sparsification")."""
    if not corrections:
        return corrections
    written = [w for p in papers[:3] for w in split_words(f"{p.title} {p.abstract}")]
    out = []
    for typed, guess in corrections:
        target = stem(guess)
        same = [w for w in dict.fromkeys(written) if stem(w) == target]
        out.append((typed, min(same, key=lambda w: _distance(typed, w)) if same else guess))
    return tuple(out)


def _distance(a: str, b: str) -> int:
    """Levenshtein distance (short words only)."""
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        previous, row[0] = row[0], i
        for j, cb in enumerate(b, start=1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (ca != cb))
    return row[-1]
