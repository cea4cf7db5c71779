"""A channel's taste: a sparse linear model over the shared features, learned from that
channel's votes alone.

Logistic regression (liblinear) on the voted papers: 👍 positive, 👎 negative, and weak
negatives with a small weight (the latest papers the channel did not vote on: what an ordinary
day looks like). With no negative at all it falls back to the mean of the positives.
Only the strongest weights are kept (a few thousand floats: tens of kilobytes), and scoring a
day for every channel is one sparse matrix product.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from sklearn.linear_model import LogisticRegression

from paperbot.models import Paper
from paperbot.taste.features import N_FEATURES, term_indices, terms

MAX_WEIGHTS = 4096
"""Weights kept per channel, strongest first; the rest are near zero and only cost memory."""
C = 16.0
"""Inverse regularisation, chosen on benchmarks/bench_taste.py's seed 1 (1, 4 and 16 tried,
with each kind of negatives; the figures are reported on seed 2, see benchmarks/README.md)."""
WEAK_WEIGHT = 0.3
"""How much a weak negative (a paper the channel did not vote on) counts beside a vote."""
SHOWN_WORDS = 8


class TrainingError(ValueError):
    """Too little to learn from (no positive vote)."""


@dataclass(frozen=True, slots=True)
class TasteModel:
    indices: np.ndarray  # int32 feature columns, ascending
    weights: np.ndarray  # float32, one per index
    bias: float
    ups: int
    downs: int
    weak: int = 0

    def dense(self) -> np.ndarray:
        vector = np.zeros(N_FEATURES, dtype=np.float32)
        vector[self.indices] = self.weights
        return vector

    def decision(self, rows: sparse.csr_matrix) -> np.ndarray:
        """The learned score of each row: higher is closer to what the channel voted up."""
        if rows.shape[0] == 0:
            return np.zeros(0, dtype=np.float64)
        return np.asarray(rows @ self.dense(), dtype=np.float64).ravel() + self.bias

    @property
    def nbytes(self) -> int:
        return int(self.indices.nbytes + self.weights.nbytes)

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        np.savez_compressed(
            buffer,
            indices=self.indices,
            weights=self.weights,
            bias=np.array([self.bias]),
        )
        return buffer.getvalue()

    @classmethod
    def from_bytes(
        cls,
        blob: bytes,
        ups: int,
        downs: int,
        weak: int = 0,
    ) -> TasteModel:
        with np.load(io.BytesIO(blob), allow_pickle=False) as data:
            indices = data["indices"].astype(np.int32)
            weights = data["weights"].astype(np.float32)
            bias = float(data["bias"][0])
        if indices.shape != weights.shape or (indices.size and indices.max() >= N_FEATURES):
            raise ValueError("stored taste model does not fit the feature space")
        return cls(indices, weights, bias, ups, downs, weak)


def train(
    positives: Sequence[Paper],
    negatives: Sequence[Paper],
    rows: sparse.csr_matrix,
    weak: Sequence[Paper] = (),
    weak_weight: float | None = None,
) -> TasteModel:
    """Learn from `rows`, the vectors of positives, then negatives, then weak negatives."""
    return fit_rows(rows, len(positives), len(negatives), len(weak), weak_weight)


def fit_rows(
    rows: sparse.csr_matrix,
    n_pos: int,
    n_neg: int,
    n_weak: int = 0,
    weak_weight: float | None = None,
) -> TasteModel:
    """Learn from `rows`: `n_pos` positives, then `n_neg` negatives, then `n_weak` weak ones."""
    if not n_pos:
        raise TrainingError("no paper voted up yet")
    weak_weight = WEAK_WEIGHT if weak_weight is None else weak_weight
    if rows.shape[0] != n_pos + n_neg + n_weak:
        raise ValueError("one row per paper expected")
    # Work on the columns these papers use only: liblinear's cost grows with the width, and
    # nothing can be learned about a word none of them holds.
    columns = np.unique(rows.indices)
    narrow = rows[:, columns]
    if n_neg + n_weak == 0:
        coef = np.asarray(narrow.mean(axis=0)).ravel()
        bias = 0.0
    else:
        labels = np.array([1] * n_pos + [0] * (n_neg + n_weak))
        weights = np.array([1.0] * (n_pos + n_neg) + [weak_weight] * n_weak)
        # Balanced: a channel that votes mostly 👍 is not a channel that likes everything.
        total = n_pos + n_neg + weak_weight * n_weak
        balance = {1: total / (2 * n_pos), 0: total / (2 * (n_neg + weak_weight * n_weak))}
        sample_weight = weights * np.array([balance[int(y)] for y in labels])
        # The dual solver: with far more columns than voted papers it is ~10x faster than
        # liblinear's primal trust-region one (bench_taste.py), for the same objective.
        classifier = LogisticRegression(C=C, solver="liblinear", dual=True, max_iter=1000)
        classifier.fit(narrow, labels, sample_weight=sample_weight)
        coef = classifier.coef_.ravel()
        bias = float(classifier.intercept_[0])
    keep = _strongest(coef)
    order = np.argsort(columns[keep])
    return TasteModel(
        indices=columns[keep][order].astype(np.int32),
        weights=coef[keep][order].astype(np.float32),
        bias=bias,
        ups=n_pos,
        downs=n_neg,
        weak=n_weak,
    )


def _strongest(coef: np.ndarray) -> np.ndarray:
    """Positions of the `MAX_WEIGHTS` largest weights (by magnitude), zeros left out."""
    nonzero = np.flatnonzero(coef)
    if nonzero.size > MAX_WEIGHTS:
        nonzero = nonzero[np.argpartition(-np.abs(coef[nonzero]), MAX_WEIGHTS)[:MAX_WEIGHTS]]
    return nonzero


def strongest_words(
    model: TasteModel, papers: Sequence[Paper], count: int = SHOWN_WORDS
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The words (and word pairs) of the voted papers with the largest weights either way;
    computed when asked (`/papers taste`), not at every retrain."""
    vocabulary = sorted({term for paper in papers for term in terms(paper)})
    columns = term_indices(vocabulary)
    found = np.searchsorted(model.indices, columns)
    found = np.minimum(found, max(0, model.indices.size - 1))
    scored: dict[str, float] = {}
    if model.indices.size:
        hit = model.indices[found] == columns
        for term, n, ok in zip(vocabulary, found, hit, strict=True):
            if ok:
                scored[term] = float(model.weights[n])
    ranked = sorted(scored.items(), key=lambda kv: (-kv[1], kv[0]))
    up = tuple(_shown(t) for t, w in ranked if w > 0 and math.isfinite(w))
    down = tuple(_shown(t) for t, w in reversed(ranked) if w < 0 and math.isfinite(w))
    return _distinct(up, count), _distinct(down, count)


def _shown(term: str) -> str:
    return term.removeprefix("kw:")


def _distinct(found: Sequence[str], count: int) -> tuple[str, ...]:
    """Leave out a word when a pair holding it is already listed, and vice versa."""
    chosen: list[str] = []
    for term in found:
        parts = set(term.split())
        if any(parts <= set(c.split()) or set(c.split()) <= parts for c in chosen):
            continue
        chosen.append(term)
        if len(chosen) == count:
            break
    return tuple(chosen)
