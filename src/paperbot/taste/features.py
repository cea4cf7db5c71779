"""The one vectorizer every channel shares: a paper's words, word pairs, keywords and
categories, hashed into a fixed space.

Hashing needs no fitted vocabulary, so nothing about it is learned, stored or shared between
channels: only the weights a channel learns from its own votes are (see model.py). Term
frequencies are sublinear and rows are L2-normalised, so a long abstract does not outvote a
short one.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from itertools import pairwise

import numpy as np
from scipy import sparse
from sklearn.feature_extraction import FeatureHasher
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from paperbot.models import Paper

N_FEATURES = 2**20
"""About a million slots: collisions between the few thousand words a channel votes on are rare."""

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
    """One L2-normalised row per paper, sublinear term frequencies."""
    if not papers:
        return sparse.csr_matrix((0, N_FEATURES), dtype=np.float32)
    matrix = _HASHER.transform(terms(paper) for paper in papers).tocsr().astype(np.float32)
    np.log1p(matrix.data, out=matrix.data)
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    scaled: sparse.csr_matrix = sparse.diags(1.0 / norms).dot(matrix).tocsr().astype(np.float32)
    return scaled


class VectorCache:
    """Rows of recently seen papers, so a day's papers are vectorized once for every channel.
    Bounded: a 2,000-paper day fits, a million-paper store does not have to."""

    def __init__(self, capacity: int = 5000) -> None:
        self.capacity = capacity
        self._rows: OrderedDict[str, sparse.csr_matrix] = OrderedDict()

    def rows(self, papers: Sequence[Paper]) -> sparse.csr_matrix:
        missing = [p for p in dict.fromkeys(papers) if p.arxiv_id not in self._rows]
        if missing:
            fresh = vectorize(missing)
            for n, paper in enumerate(missing):
                self._rows[paper.arxiv_id] = fresh[n]
        out = []
        for paper in papers:
            self._rows.move_to_end(paper.arxiv_id)
            out.append(self._rows[paper.arxiv_id])
        while len(self._rows) > self.capacity:
            self._rows.popitem(last=False)
        if not out:
            return vectorize(())
        stacked: sparse.csr_matrix = sparse.vstack(out, format="csr")
        return stacked

    def forget(self, ids: Iterable[str]) -> None:
        for arxiv_id in ids:
            self._rows.pop(arxiv_id, None)
