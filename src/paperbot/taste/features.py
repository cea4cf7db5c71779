"""The one vectorizer every channel shares: a paper's words, word pairs, keywords and
categories, hashed into a fixed space.

Hashing needs no fitted vocabulary, so nothing about it is learned, stored or shared between
channels: only the weights a channel learns from its own votes are (see model.py). Term
frequencies are sublinear, and a row is divided by the square root of its length (pivoted at a
typical abstract's), not by its length: a long abstract does not outvote a short one, but it is
not pushed below it either, though it holds more of what a channel may be looking for
(benchmarks/bench_taste.py measured +0.03 precision@10 at 30 votes over L2 rows, see
benchmarks/README.md).
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from itertools import pairwise

import numpy as np
from scipy import sparse
from sklearn.feature_extraction import FeatureHasher
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from paperbot.models import Paper

N_FEATURES = 2**20
"""About a million slots: collisions between the few thousand words a channel votes on are rare."""

PIVOT = 4.0
"""A row is divided by PIVOT * sqrt(its L2 length): about its length for a typical abstract
(length 8-14, median ~12, on the bundled real listings and the synthetic corpus alike)."""

_WORD = re.compile(r"[a-z][a-z0-9\-]+")
# Besides English function words, the words nearly every abstract uses say nothing of a topic.
_STOP = frozenset(ENGLISH_STOP_WORDS) | {
    "paper",
    "propose",
    "proposed",
    "present",
    "approach",
    "method",
    "methods",
    "results",
    "show",
    "using",
    "based",
    "novel",
    "new",
    "work",
}
_HASHER = FeatureHasher(n_features=N_FEATURES, input_type="string", alternate_sign=False)


def words(text: str) -> list[str]:
    return [w for w in _WORD.findall(text.lower()) if w not in _STOP and len(w) > 1]


def terms(paper: Paper) -> list[str]:
    """What the model sees of a paper: title words twice (a title says what a paper is about),
    abstract words, adjacent word pairs within each, keywords and categories as their own terms."""
    found: list[str] = []
    title = words(paper.title)
    for part, repeat in ((title, 2), (words(paper.abstract), 1)):
        grams = part + [f"{a} {b}" for a, b in pairwise(part)]
        for _ in range(repeat):
            found.extend(grams)
    found.extend(f"kw:{k.lower()}" for k in paper.ai_keywords)
    found.extend(f"cat:{c}" for c in paper.categories)
    return found


def term_indices(found: Sequence[str]) -> np.ndarray:
    """The column each term lands in (so a learned weight can be named by its word)."""
    if not found:
        return np.zeros(0, dtype=np.int32)
    matrix = _HASHER.transform([[term] for term in found]).tocsr()
    return np.asarray(matrix.indices, dtype=np.int32)


def vectorize(papers: Sequence[Paper]) -> sparse.csr_matrix:
    """One row per paper: sublinear term frequencies, partly length-normalised (`PIVOT`)."""
    if not papers:
        return sparse.csr_matrix((0, N_FEATURES), dtype=np.float32)
    matrix = _HASHER.transform(terms(paper) for paper in papers).tocsr().astype(np.float32)
    np.log1p(matrix.data, out=matrix.data)
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    scale = 1.0 / (np.sqrt(norms) * PIVOT)
    scaled: sparse.csr_matrix = sparse.diags(scale).dot(matrix).tocsr().astype(np.float32)
    return scaled


class VectorCache:
    """Rows of recently seen papers, so a day's papers are vectorized once for every channel
    (a digest scores the whole day for its "also worth a look"). Kept as one matrix, so a
    channel's rows are one fancy index away, not a stack of thousands of one-row matrices.
    Bounded: a few days of papers fit, a million-paper store does not have to. Thread-safe:
    digests and retrains read it from worker threads at once."""

    def __init__(self, capacity: int = 6000) -> None:
        self.capacity = capacity
        self._lock = threading.Lock()
        self._matrix: sparse.csr_matrix = vectorize(())
        self._position: OrderedDict[str, int] = OrderedDict()  # least recently used first

    def rows(self, papers: Sequence[Paper]) -> sparse.csr_matrix:
        """One row per paper, in order."""
        given = {p.arxiv_id: p for p in papers}
        return self._rows([p.arxiv_id for p in papers], lambda ids: given)[1]

    def rows_by_id(
        self, ids: Sequence[str], fetch: Callable[[list[str]], Mapping[str, Paper]]
    ) -> tuple[list[str], sparse.csr_matrix]:
        """Rows of the papers `ids` names, fetching (`fetch`) only those not cached; returns the
        ids that have a row (a paper `fetch` does not know is left out) and their rows."""
        return self._rows(ids, fetch)

    def _rows(
        self, ids: Sequence[str], fetch: Callable[[list[str]], Mapping[str, Paper]]
    ) -> tuple[list[str], sparse.csr_matrix]:
        with self._lock:
            missing = [pid for pid in dict.fromkeys(ids) if pid not in self._position]
        found = fetch(missing) if missing else {}
        fresh = [found[pid] for pid in missing if pid in found]
        rows = vectorize(fresh) if fresh else None  # the slow part, outside the lock
        with self._lock:
            if rows is not None:
                self._add(fresh, rows)
            asked = set(missing)  # those `fetch` did not know stay unknown
            absent = [p for p in dict.fromkeys(ids) if p not in self._position and p not in asked]
            if absent:  # evicted by another thread meanwhile (rare)
                late = fetch(absent)
                again = [late[pid] for pid in absent if pid in late]
                if again:
                    self._add(again, vectorize(again))
            known = [pid for pid in ids if pid in self._position]
            positions = []
            for pid in known:
                self._position.move_to_end(pid)
                positions.append(self._position[pid])
            picked: sparse.csr_matrix = self._matrix[positions]
            if len(self._position) > self.capacity:
                self._shrink()
        return known, picked

    def _add(self, papers: Sequence[Paper], rows: sparse.csr_matrix) -> None:
        base = self._matrix.shape[0]
        added = 0
        keep = []
        for n, paper in enumerate(papers):
            if paper.arxiv_id in self._position:  # another thread added it meanwhile
                continue
            self._position[paper.arxiv_id] = base + added
            keep.append(n)
            added += 1
        if keep:
            self._matrix = sparse.vstack([self._matrix, rows[keep]], format="csr")

    def _shrink(self) -> None:
        """Keep the most recently used two thirds (amortised: not at every add)."""
        kept = list(self._position)[-(self.capacity * 2 // 3) :]
        self._matrix = self._matrix[[self._position[pid] for pid in kept]]
        self._position = OrderedDict((pid, n) for n, pid in enumerate(kept))
