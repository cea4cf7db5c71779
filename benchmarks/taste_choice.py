"""How the taste model was chosen (benchmarks/README.md, bench_taste.py): each variant is one
change from the model that shipped before (L2-normalised rows, logistic regression C=16, 300
background papers as weak negatives at 0.3), run through the same simulation (taste_sim.py)
on the choosing seeds, never on the held-out seed 2.

    .venv/bin/python benchmarks/taste_choice.py --seeds 1,3,4 [--variants before,pivot,...]

The fitter here keeps every weight (the bot keeps the 4,096 strongest) and builds its own rows,
so feature variants are measured too; what ships is measured by bench_taste.py itself.
"""

from __future__ import annotations

import argparse
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import numpy as np
from scipy import sparse
from sklearn.linear_model import LogisticRegression
from sklearn.svm import LinearSVC

from paperbot.models import Paper
from paperbot.taste import features
from taste_sim import (
    CHECKPOINTS,
    Judgement,
    Library,
    Scorer,
    SimChannel,
    make_channels,
    make_days,
    match_day,
    progress,
    simulate,
)

VARIANTS: dict[str, dict[str, Any]] = {
    "before": {},
    "binary-tf": {"tf": "binary"},
    "unigrams": {"bigrams": False},
    "C64": {"C": 64.0},
    "weak-weight-1": {"weak_weight": 1.0},
    "background-1000": {"background": 1000},
    "linear-svc": {"classifier": "svc", "C": 1.0},
    "rocchio": {"rocchio": 1.0},
    "naive-bayes": {"naive_bayes": True},
    "pivot": {"norm": "pivot"},  # what ships
}


def rows_for(
    papers: Sequence[Paper], tf: str = "log", norm: str = "l2", bigrams: bool = True
) -> sparse.csr_matrix:
    """Rows as features.vectorize builds them, with the variant's changes."""
    found = []
    for paper in papers:
        terms: list[str] = []
        for part, repeat in ((features.words(paper.title), 2), (features.words(paper.abstract), 1)):
            grams = part + ([f"{a} {b}" for a, b in pairwise(part)] if bigrams else [])
            terms.extend(grams * repeat)
        terms.extend(f"kw:{k.lower()}" for k in paper.ai_keywords)
        terms.extend(f"cat:{c}" for c in paper.categories)
        found.append(terms)
    matrix = features._HASHER.transform(found).tocsr().astype(np.float32)
    if tf == "binary":
        matrix.data[:] = 1.0
    else:
        np.log1p(matrix.data, out=matrix.data)
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    scale = 1.0 / norms if norm == "l2" else 1.0 / (np.sqrt(norms) * features.PIVOT)
    rows: sparse.csr_matrix = sparse.diags(scale).dot(matrix).tocsr().astype(np.float32)
    return rows


@dataclass
class Linear:
    vector: np.ndarray
    bias: float
    binary: bool = False
    prior: np.ndarray | None = None  # a centroid blended in, in standard deviations
    prior_weight: float = 0.0

    def decision(self, rows: sparse.csr_matrix) -> np.ndarray:
        if self.binary:
            rows = rows.copy()
            rows.data[:] = 1.0
        scores = np.asarray(rows @ self.vector, dtype=np.float64).ravel() + self.bias
        if self.prior is None:
            return scores
        prior = np.asarray(rows @ self.prior, dtype=np.float64).ravel()
        return _z(scores) + self.prior_weight * _z(prior)


def _z(values: np.ndarray) -> np.ndarray:
    spread = float(values.std()) or 1.0
    return (values - values.mean()) / spread


def fitter(
    C: float = 16.0,
    background: int = 300,
    weak_weight: float = 0.3,
    classifier: str = "logistic",
    rocchio: float = 0.0,
    naive_bayes: bool = False,
    **_: object,
) -> Callable[[SimChannel, Library], Scorer | None]:
    def fit(channel: SimChannel, library: Library) -> Scorer | None:
        ups = [pid for pid, v in channel.votes.items() if v > 0]
        downs = [pid for pid, v in channel.votes.items() if v < 0]
        if len(ups) < 5:
            return None
        latest = [pid for pid in library.latest[-background * 2 :] if pid not in channel.votes]
        weak = latest[-background:]
        rows = library.rows(ups + downs + weak)
        columns = np.unique(rows.indices)
        narrow = rows[:, columns]
        labels = np.array([1] * len(ups) + [0] * (len(downs) + len(weak)))
        weights = np.array([1.0] * (len(ups) + len(downs)) + [weak_weight] * len(weak))
        vector = np.zeros(features.N_FEATURES, dtype=np.float32)
        if naive_bayes:
            present = narrow.copy()
            present.data[:] = 1.0
            up = 1.0 + np.asarray(present[: len(ups)].sum(axis=0)).ravel()
            down = 1.0 + np.asarray(present[len(ups) :].T @ weights[len(ups) :]).ravel()
            vector[columns] = np.log(up / up.sum()) - np.log(down / down.sum())
            return Linear(vector, 0.0, binary=True)
        total, positive = weights.sum(), weights[labels == 1].sum()
        balance = np.where(labels == 1, total / (2 * positive), total / (2 * (total - positive)))
        model = (
            LinearSVC(C=C, dual=True, max_iter=5000)
            if classifier == "svc"
            else LogisticRegression(C=C, solver="liblinear", dual=True, max_iter=1000)
        )
        model.fit(narrow, labels, sample_weight=weights * balance)
        vector[columns] = model.coef_.ravel()
        scorer = Linear(vector, float(np.ravel(model.intercept_)[0]))
        if rocchio:
            centroid = np.zeros_like(vector)
            centroid[columns] = np.asarray(narrow[: len(ups)].mean(axis=0)).ravel()
            if downs:  # Rocchio: towards the 👍 papers, half as far away from the 👎 ones
                voted_down = narrow[len(ups) : len(ups) + len(downs)]
                centroid[columns] -= 0.5 * np.asarray(voted_down.mean(axis=0)).ravel()
            scorer.prior, scorer.prior_weight = centroid, rocchio * 10 / max(10, len(channel.votes))
        return scorer

    return fit


def _mean(values: Sequence[float]) -> float:
    return float(np.mean(values)) if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", default="1,3,4")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--channels", type=int, default=24)
    parser.add_argument("--days", type=int, default=22)
    parser.add_argument("--papers-per-day", type=int, default=2000)
    args = parser.parse_args()
    names = args.variants.split(",")
    found: dict[str, list[list[float]]] = {name: [] for name in names}
    for seed in (int(s) for s in args.seeds.split(",")):
        if seed == 2:
            parser.error("seed 2 is held out: choose on others")
        days = make_days(args.days, args.papers_per_day, seed)
        matches = [
            match_day(make_channels(args.channels, random.Random(seed), 40), d) for d in days
        ]
        for name in names:
            spec = VARIANTS[name]
            keys = ("tf", "norm", "bigrams")
            for day in days:
                day.rows = rows_for(day.papers, **{k: spec[k] for k in keys if k in spec})
            wide = {c: Judgement() for c in CHECKPOINTS}
            channels = make_channels(args.channels, random.Random(seed), 40)
            results = simulate(days, channels, matches, fitter(**spec), 0.1, seed, name, wide)
            scores = [_mean(results[c].precision["taste"]) for c in CHECKPOINTS]
            scores += [_mean(wide[c].precision["taste"]) for c in CHECKPOINTS]
            found[name].append(scores)
            progress(f"seed {seed} {name}: " + " ".join(f"{s:.2f}" for s in scores))
    print("precision@10 after 10 / 30 / 100 votes: next day | next 3 days (mean over seeds)")
    for name, rows in found.items():
        mean = np.nanmean(rows, axis=0)
        print(
            f"  {name:<16} {' '.join(f'{m:.3f}' for m in mean[:3])} | "
            f"{' '.join(f'{m:.3f}' for m in mean[3:])}"
        )


if __name__ == "__main__":
    main()
