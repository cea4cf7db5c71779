"""How the taste model was chosen (benchmarks/README.md, bench_taste.py): each variant is one
change from the model that shipped before (L2-normalised rows, logistic regression C=16, 300
background papers as weak negatives at 0.3), run through the same simulation (taste_sim.py)
on the choosing seeds, never on the held-out seed 2.

    .venv/bin/python benchmarks/taste_choice.py --seeds 1,3,4 [--variants before,pivot,...]

The fitter here keeps every weight (the bot keeps the 4,096 strongest) and builds its own rows,
so feature variants are measured too; what ships is measured by bench_taste.py itself.

With `--paired`, the channels vote once, on digests ranked by the shipped model (`pivot`), and
every variant is fitted on the very same votes when a channel reaches 10, 30 and 100 of them,
then judged on the same next `--ahead` days: what a variant changes is then measured without
the noise of a different vote history (a paired standard error of 0.003-0.008, against 0.02-0.03
between whole simulations). It cannot measure what a model changes in the votes themselves.
"""

from __future__ import annotations

import argparse
import copy
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from itertools import pairwise
from typing import Any

import numpy as np
from scipy import sparse
from sklearn.linear_model import LogisticRegression
from sklearn.svm import LinearSVC

from corpus import CATEGORIES
from paperbot.models import Paper
from paperbot.taste import features
from taste_sim import (
    CHECKPOINTS,
    START,
    Day,
    Judgement,
    Library,
    Scorer,
    SimChannel,
    judge,
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
    # Measured with --paired on the pivot rows (benchmarks/README.md):
    "pivot-C4": {"norm": "pivot", "C": 4.0},
    "pivot-l1": {"norm": "pivot", "penalty": "l1", "C": 16.0},
    "pivot-idf": {"norm": "pivot", "idf": 1.0},
    "pivot-max-df": {"norm": "pivot", "max_df": 0.1},
    "pivot-cat-x2": {"norm": "pivot", "category_weight": 2.0},
    "noisy-or": {"norm": "pivot", "kind": "noisy-or"},
    "noisy-or-blend": {"norm": "pivot", "kind": "noisy-or", "gate": None},
    "knn-blend": {"norm": "pivot", "kind": "knn", "blend": 0.3},
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
    penalty: str = "l2",
    idf: float = 0.0,
    max_df: float | None = None,
    category_weight: float = 1.0,
    kind: str = "linear",
    **options: Any,
) -> Callable[[SimChannel, Library], Scorer | None]:
    if kind != "linear":
        return {"noisy-or": noisy_or_fitter, "knn": knn_fitter}[kind](**options)

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
        scale = column_scale(columns, narrow, len(ups) + len(downs), idf, max_df, category_weight)
        if scale is not None:
            narrow = (narrow @ sparse.diags(scale)).tocsr()
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
            if penalty == "l2"
            else LogisticRegression(C=C, solver="liblinear", l1_ratio=1.0, max_iter=1000)
        )
        model.fit(narrow, labels, sample_weight=weights * balance)
        vector[columns] = model.coef_.ravel() * (1.0 if scale is None else scale)
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


def column_scale(
    columns: np.ndarray,
    training: sparse.csr_matrix,
    voted: int,
    idf: float,
    max_df: float | None,
    category_weight: float,
) -> np.ndarray | None:
    """Per-column factors for a feature variant (None: none): idf ** `idf` over the training
    rows, 0 for a column in more than `max_df` of the background papers (the rows after the
    first `voted`), `category_weight` for categories."""
    if not idf and max_df is None and category_weight == 1.0:
        return None
    present = _presence(training)
    df = np.asarray(present.sum(axis=0)).ravel()
    scale = (np.log((training.shape[0] + 1) / (df + 1)) + 1.0) ** idf
    if max_df is not None:
        background = np.asarray(present[voted:].sum(axis=0)).ravel()
        scale[background / max(1, training.shape[0] - voted) > max_df] = 0.0
    if category_weight != 1.0:
        categories = features.term_indices([f"cat:{c}" for c in CATEGORIES])
        scale[np.isin(columns, categories)] *= category_weight
    return np.asarray(scale)


def _presence(rows: sparse.csr_matrix) -> sparse.csr_matrix:
    present = rows.copy()
    present.data[:] = 1.0
    return present


@dataclass
class NoisyOr:
    """Relevance as "holds any of several interest words": the log of the chance that none of a
    paper's words is an interest (each with its posterior q), beside the shipped model's
    z-score as the field: gated (`gate` standard deviations) or blended."""

    field: Linear
    vector: np.ndarray  # -log(1 - q) per column
    gate: float | None

    def decision(self, rows: sparse.csr_matrix) -> np.ndarray:
        field = _z(self.field.decision(rows))
        words = np.asarray(_presence(rows) @ self.vector, dtype=np.float64).ravel()
        if self.gate is None:
            return _z(words) + field
        return words + 100.0 * np.minimum(0.0, field - self.gate) + 1e-3 * field


def interest_posteriors(
    present: sparse.csr_matrix, up: np.ndarray, prior: float, iterations: int = 30
) -> np.ndarray:
    """Mean-field noisy-OR: a voted paper is relevant when it holds an interest word; given a
    vote, 👍 with 0.9 if relevant, 0.1 if not. Each word's log-odds is its prior's plus, over
    the voted papers holding it, how much likelier the vote is if it is an interest than if
    only the paper's other words can explain it (damped, parallel updates)."""
    rows_of = np.repeat(np.arange(present.shape[0]), np.diff(present.indptr))
    cols = present.indices
    logit = np.log(prior / (1 - prior))
    odds = np.full(present.shape[1], logit)
    voted_up = up[rows_of]
    for _ in range(iterations):
        q = 1 / (1 + np.exp(-odds))
        none = np.log1p(-np.minimum(q, 1 - 1e-9))
        per_paper = np.bincount(rows_of, weights=none[cols], minlength=present.shape[0])
        others = 1 - np.exp(per_paper[rows_of] - none[cols])
        evidence = np.where(
            voted_up, np.log(0.9 / (0.1 + 0.8 * others)), np.log(0.1 / (0.9 - 0.8 * others))
        )
        fresh = logit + np.bincount(cols, weights=evidence, minlength=present.shape[1])
        odds = 0.5 * odds + 0.5 * fresh
    return np.asarray(1 / (1 + np.exp(-odds)))


def noisy_or_fitter(
    gate: float | None = 1.0, base_rate: float = 0.45, **_: object
) -> Callable[[SimChannel, Library], Scorer | None]:
    shipped = fitter(norm="pivot")

    def fit(channel: SimChannel, library: Library) -> Scorer | None:
        field = shipped(channel, library)
        if not isinstance(field, Linear):
            return None
        ups = [pid for pid, v in channel.votes.items() if v > 0]
        downs = [pid for pid, v in channel.votes.items() if v < 0]
        rows = library.rows(ups + downs)
        columns = np.unique(rows.indices)
        present = _presence(rows[:, columns]).tocsr()
        # A prior that makes an unknown paper relevant at `base_rate`.
        prior = 1 - (1 - base_rate) ** (1 / max(1.0, float(np.diff(present.indptr).mean())))
        q = interest_posteriors(present, np.array([True] * len(ups) + [False] * len(downs)), prior)
        vector = np.zeros(features.N_FEATURES)
        vector[columns] = -np.log1p(-np.minimum(q, 1 - 1e-6))
        return NoisyOr(field, vector, gate)

    return fit


@dataclass
class KnnBlend:
    """The shipped model's z-score plus `blend` times the z-score of the highest cosine to a
    paper voted up."""

    model: Linear
    liked: sparse.csr_matrix  # unit rows
    blend: float

    def decision(self, rows: sparse.csr_matrix) -> np.ndarray:
        closest = np.asarray((_unit(rows) @ self.liked.T).max(axis=1).todense()).ravel()
        return np.asarray(_z(self.model.decision(rows)) + self.blend * _z(closest))


def _unit(rows: sparse.csr_matrix) -> sparse.csr_matrix:
    norms = np.sqrt(np.asarray(rows.multiply(rows).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    unit: sparse.csr_matrix = sparse.diags(1.0 / norms).dot(rows).tocsr()
    return unit


def knn_fitter(blend: float = 0.3, **_: object) -> Callable[[SimChannel, Library], Scorer | None]:
    shipped = fitter(norm="pivot")

    def fit(channel: SimChannel, library: Library) -> Scorer | None:
        model = shipped(channel, library)
        if not isinstance(model, Linear):
            return None
        ups = [pid for pid, v in channel.votes.items() if v > 0]
        return KnnBlend(model, _unit(library.rows(ups)), blend)

    return fit


def paired(
    seed: int, names: Sequence[str], channels: int, ahead: int, days: list[Day], matches: Any
) -> dict[str, dict[int, list[float]]]:
    """Each variant fitted on the same votes at each checkpoint (the channels voting on digests
    ranked by the shipped model), judged on the same next `ahead` days: per checkpoint, one
    precision@10 per channel (its mean over those days). `days` hold the shipped rows."""
    first_of_day = {day.papers[0].arxiv_id: n for n, day in enumerate(days)}
    snapshots: list[tuple[int, int, SimChannel, Library]] = []
    shipped = fitter(norm="pivot")

    def record(channel: SimChannel, library: Library) -> Scorer | None:
        for checkpoint in CHECKPOINTS:
            if len(channel.votes) >= checkpoint and (channel.name, checkpoint) not in seen:
                seen.add((channel.name, checkpoint))
                frozen = copy.copy(channel)
                frozen.votes = dict(channel.votes)
                kept = Library(
                    dict(library.papers), library.matrix, dict(library.position), library.latest
                )
                snapshots.append((checkpoint, first_of_day[library.latest[0]], frozen, kept))
        return shipped(channel, library)

    seen: set[tuple[str, int]] = set()
    simulate(days, make_channels(channels, random.Random(seed), 40), matches, record, 0.1, seed)
    found: dict[str, dict[int, list[float]]] = {}
    for name in names:
        spec = VARIANTS[name]
        if spec.get("norm", "l2") != "pivot" or spec.get("tf") or "bigrams" in spec:
            raise SystemExit(f"--paired measures models on the shipped rows; {name} changes rows")
        fit = fitter(**spec)
        rng = random.Random(seed)
        scores: dict[int, list[float]] = {c: [] for c in CHECKPOINTS}
        for checkpoint, today, channel, library in snapshots:
            model = fit(channel, library)
            if model is None:
                continue
            judged = Judgement()
            for n in range(today + 1, min(len(days), today + 1 + ahead)):
                when = START + timedelta(days=n)
                judge(channel, model, days[n], matches[n][channel.name], when, rng, judged)
            scores[checkpoint].append(_mean(judged.precision["taste"]))
        found[name] = scores
        progress(f"seed {seed} {name}: " + " ".join(f"{_mean(v):.3f}" for v in scores.values()))
    return found


def report_paired(found: list[dict[str, dict[int, list[float]]]], names: Sequence[str]) -> None:
    print(
        f"precision@10 after 10 / 30 / 100 votes (same votes, same days), and the difference "
        f"from {names[0]} with its paired standard error, over the seeds"
    )
    for name in names:
        cells = []
        for checkpoint in CHECKPOINTS:
            mine = np.array([v for seed in found for v in seed[name][checkpoint]])
            base = np.array([v for seed in found for v in seed[names[0]][checkpoint]])
            if mine.size == 0 or mine.size != base.size:
                cells.append(f"{'-':<24}")
                continue
            diff = mine - base
            se = diff.std(ddof=1) / np.sqrt(diff.size) if diff.size > 1 else float("nan")
            cells.append(f"{mine.mean():.3f} ({diff.mean():+.3f} +-{se:.3f})")
        print(f"  {name:<16} " + "  ".join(cells))


def _mean(values: Sequence[float]) -> float:
    return float(np.mean(values)) if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", default="1,3,4")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--channels", type=int, default=24)
    parser.add_argument("--days", type=int, default=22)
    parser.add_argument("--papers-per-day", type=int, default=2000)
    parser.add_argument("--paired", action="store_true", help="same votes for every variant")
    parser.add_argument("--ahead", type=int, default=5, help="--paired: days judged")
    args = parser.parse_args()
    names = args.variants.split(",")
    found: dict[str, list[list[float]]] = {name: [] for name in names}
    found_paired = []
    for seed in (int(s) for s in args.seeds.split(",")):
        if seed == 2:
            parser.error("seed 2 is held out: choose on others")
        days = make_days(args.days, args.papers_per_day, seed)
        matches = [
            match_day(make_channels(args.channels, random.Random(seed), 40), d) for d in days
        ]
        if args.paired:
            found_paired.append(paired(seed, names, args.channels, args.ahead, days, matches))
            continue
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
    if args.paired:
        report_paired(found_paired, names)
        return
    print("precision@10 after 10 / 30 / 100 votes: next day | next 3 days (mean over seeds)")
    for name, rows in found.items():
        mean = np.nanmean(rows, axis=0)
        print(
            f"  {name:<16} {' '.join(f'{m:.3f}' for m in mean[:3])} | "
            f"{' '.join(f'{m:.3f}' for m in mean[3:])}"
        )


if __name__ == "__main__":
    main()
