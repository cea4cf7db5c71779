"""The simulation behind bench_taste.py: channels with known interests get the digest paperbot
would build, day by day, vote on it, and are judged on the next, unseen day when their vote
count first reaches each checkpoint (the docstring of bench_taste.py says what is simulated and
judged). How a channel's model is trained is a parameter (`Fitter`), so the choice of model is
measured on the same days, matches and votes' random draws."""

from __future__ import annotations

import functools
import random
import re
import sys
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Protocol

import numpy as np
from scipy import sparse
from sklearn.metrics import roc_auc_score

from corpus import FIELDS, synthetic_papers, topics
from corpus import field as corpus_field
from paperbot.digest import rank_items
from paperbot.models import MatchField, MatchReason, Paper
from paperbot.query import evaluate, parse
from paperbot.service import analyze_paper
from paperbot.taste import train
from paperbot.taste.features import vectorize
from paperbot.taste.learner import MIN_UP_VOTES, SUGGEST_ABOVE, WEAK_NEGATIVES

CHECKPOINTS = (10, 30, 100)
BACKGROUND = WEAK_NEGATIVES
WEAK_SOURCES = ("votes", "shown", "background")
ALSO_WORTH = 3
DIGEST_SIZE = 10
START = date(2026, 1, 5)


def progress(message: str) -> None:
    print(f"[bench_taste] {message}", file=sys.stderr, flush=True)


class Scorer(Protocol):
    def decision(self, rows: sparse.csr_matrix) -> np.ndarray: ...


@dataclass
class SimChannel:
    name: str
    home: str
    categories: frozenset[str]
    interests: list[str]
    subscriptions: list[str]
    votes: dict[str, int] = field(default_factory=dict)  # paper id -> +1 / -1
    shown_unvoted: list[str] = field(default_factory=list)
    measured: set[int] = field(default_factory=set)
    _known: dict[str, bool] = field(default_factory=dict)

    def relevant(self, paper: Paper, text: str) -> bool:
        """Of the channel's field and holding one of its interests as a word or phrase."""
        known = self._known.get(paper.arxiv_id)
        if known is None:
            known = paper.categories[0] in self.categories and (
                _any_of(tuple(self.interests)).search(text) is not None
            )
            self._known[paper.arxiv_id] = known
        return known


@functools.cache
def _any_of(interests: tuple[str, ...]) -> re.Pattern[str]:
    """One pattern for all of a channel's interests: the same verdict as one search per topic,
    forty times faster (the simulation asks it of every paper of every judged day)."""
    return re.compile(r"\b(?:" + "|".join(re.escape(t) for t in interests) + r")\b")


def make_channels(count: int, rng: random.Random, interests: int) -> list[SimChannel]:
    specific, broad = topics(0.004, 0.03), topics(0.03, 0.2)
    names = list(FIELDS)
    weights = [share for _, share, _ in FIELDS.values()]
    out = []
    for n in range(count):
        home = rng.choices(names, weights=weights)[0]
        own = corpus_field(home)
        chosen = [own.topical(t).strip('"').lower() for t in rng.sample(specific, interests)]
        subs = [f'"{t}"' if " " in t else t for t in chosen[:2]]
        subs += [own.topical(t) for t in rng.sample(broad, 2)]
        categories = frozenset(FIELDS[home][2])
        out.append(SimChannel(f"c{n}", home, categories, chosen, subs))
    return out


@dataclass
class Day:
    papers: list[Paper]
    text: list[str]  # lowercased title + abstract
    rows: sparse.csr_matrix
    index: dict[str, int]


def make_days(days: int, per_day: int, seed: int) -> list[Day]:
    out = []
    generated = synthetic_papers(days * per_day, seed=seed)
    for d in range(days):
        papers = [next(generated) for _ in range(per_day)]
        text = [f"{p.title} {p.abstract}".lower() for p in papers]
        out.append(
            Day(papers, text, vectorize(papers), {p.arxiv_id: i for i, p in enumerate(papers)})
        )
        progress(f"day {d + 1}/{days} generated and vectorized")
    return out


def match_day(channels: Sequence[SimChannel], day: Day) -> dict[str, dict[str, list[MatchReason]]]:
    """Each channel's matches on the day, by the real query evaluator."""
    parsed = {q: parse(q) for c in channels for q in c.subscriptions}
    analyzed = [analyze_paper(p) for p in day.papers]
    out: dict[str, dict[str, list[MatchReason]]] = {}
    for channel in channels:
        found: dict[str, list[MatchReason]] = defaultdict(list)
        for query in channel.subscriptions:
            node = parsed[query]
            for paper, doc in zip(day.papers, analyzed, strict=True):
                verdict = evaluate(node, doc)
                if verdict.matched:
                    found[paper.arxiv_id].append(
                        MatchReason(query, verdict.field or MatchField.ABSTRACT)
                    )
        out[channel.name] = found
    return out


@dataclass
class Library:
    """Every paper seen so far and its row, for training."""

    papers: dict[str, Paper] = field(default_factory=dict)
    matrix: sparse.csr_matrix = field(default_factory=lambda: vectorize(()))
    position: dict[str, int] = field(default_factory=dict)
    latest: list[str] = field(default_factory=list)

    def add(self, day: Day) -> None:
        base = self.matrix.shape[0]
        for n, paper in enumerate(day.papers):
            self.papers[paper.arxiv_id] = paper
            self.position[paper.arxiv_id] = base + n
        self.matrix = sparse.vstack([self.matrix, day.rows], format="csr")
        self.latest = [p.arxiv_id for p in day.papers]

    def rows(self, ids: Sequence[str]) -> sparse.csr_matrix:
        """The rows of these papers, in order (one fancy index, not a stack of single rows)."""
        picked: sparse.csr_matrix = self.matrix[[self.position[pid] for pid in ids]]
        return picked


def fit(channel: SimChannel, library: Library, weak: str) -> Scorer | None:
    """As the bot trains; `weak` picks the weak negatives: none ("votes"), papers shown and left
    unvoted ("shown"), or the latest papers the channel did not vote on ("background")."""
    ups = [pid for pid, v in channel.votes.items() if v > 0]
    downs = [pid for pid, v in channel.votes.items() if v < 0]
    if len(ups) < MIN_UP_VOTES:
        return None
    weak_ids: list[str] = []
    if weak == "shown":
        weak_ids = channel.shown_unvoted[-BACKGROUND:]
    elif weak == "background":
        weak_ids = [p for p in library.latest[-BACKGROUND * 2 :] if p not in channel.votes]
        weak_ids = weak_ids[-BACKGROUND:]
    ids = ups + downs + weak_ids
    rows = library.rows(ids)
    get = library.papers.__getitem__
    return train([get(p) for p in ups], [get(p) for p in downs], rows, [get(p) for p in weak_ids])


Fitter = Callable[[SimChannel, Library], Scorer | None]


def zscores(values: np.ndarray) -> np.ndarray:
    spread = float(values.std()) if values.size > 1 else 0.0
    if spread == 0:
        return np.zeros_like(values)
    return np.clip((values - values.mean()) / spread, -2.0, 2.0)


def digest_for(
    channel: SimChannel,
    model: Scorer | None,
    day: Day,
    matched: dict[str, list[MatchReason]],
    posted: set[str],
    today: date,
) -> tuple[list[str], list[str]]:
    """(matched papers shown, suggestions shown), as the bot would build them."""
    fresh = {pid: r for pid, r in matched.items() if pid not in posted}
    papers = {pid: day.papers[day.index[pid]] for pid in fresh}
    learned = None
    suggestions: list[str] = []
    if model is not None:
        raw = model.decision(day.rows)
        own = zscores(raw[[day.index[pid] for pid in fresh]]) if fresh else np.zeros(0)
        learned = {pid: float(own[n]) for n, pid in enumerate(fresh)}
        pool = [i for i, p in enumerate(day.papers) if p.arxiv_id not in matched]
        pool = [i for i in pool if day.papers[i].arxiv_id not in posted]
        scores = zscores(raw[pool])
        # The best by the score itself, as the bot picks them (the z-scores are clipped).
        for n in np.argsort(-raw[pool], kind="stable")[:ALSO_WORTH]:
            if scores[n] >= SUGGEST_ABOVE:
                suggestions.append(day.papers[pool[int(n)]].arxiv_id)
    ranked = rank_items(fresh, papers, {}, today, learned)
    return [item.paper.arxiv_id for item in ranked[:DIGEST_SIZE]], suggestions


def vote(
    channel: SimChannel, day: Day, shown: Sequence[str], rng: random.Random, noise: float
) -> None:
    for pid in shown:
        i = day.index[pid]
        relevant = channel.relevant(day.papers[i], day.text[i])
        chance = 0.6 if relevant else 0.3
        if rng.random() >= chance:
            channel.shown_unvoted.append(pid)
            continue
        value = 1 if relevant else -1
        if rng.random() < noise:
            value = -value
        channel.votes[pid] = value


SHOWN_BUCKETS = ((10, "10-29"), (30, "30-99"), (100, "100+"))


def shown_bucket(votes: int) -> str | None:
    """The range of a channel's vote count that a shown suggestion is tallied under."""
    found = None
    for floor, name in SHOWN_BUCKETS:
        if votes >= floor:
            found = name
    return found


@dataclass
class Judgement:
    precision: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    auc: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    base_rate: list[float] = field(default_factory=list)


def judge(
    channel: SimChannel,
    model: Scorer,
    day: Day,
    matched: dict[str, list[MatchReason]],
    today: date,
    rng: random.Random,
    out: Judgement,
) -> None:
    relevant = np.array([channel.relevant(p, t) for p, t in zip(day.papers, day.text, strict=True)])
    out.base_rate.append(float(relevant.mean()))
    scores = model.decision(day.rows)
    unmatched = np.array([i for i, p in enumerate(day.papers) if p.arxiv_id not in matched])
    upvotes = np.array([p.upvotes for p in day.papers], dtype=float)
    jitter = np.array([rng.random() for _ in day.papers]) * 1e-6  # break upvote ties at random
    pick = {
        "taste": unmatched[np.argsort(-scores[unmatched], kind="stable")[:10]],
        "HF upvotes": unmatched[np.argsort(-(upvotes + jitter)[unmatched], kind="stable")[:10]],
        "random": np.array(rng.sample(list(unmatched), 10)),
    }
    for name, chosen in pick.items():
        out.precision[name].append(float(relevant[chosen].mean()))
    ids = list(matched)
    positions = [day.index[pid] for pid in ids]
    truth = relevant[positions]
    if truth.all() or not truth.any():
        return
    papers = {pid: day.papers[day.index[pid]] for pid in ids}
    z = zscores(scores[positions])
    learned = {pid: float(z[n]) for n, pid in enumerate(ids)}
    ranking = {
        "keywords + taste": rank_items(matched, papers, {}, today, learned),
        "keywords alone": rank_items(matched, papers, {}, today),
    }
    for name, ranked in ranking.items():
        place = {item.paper.arxiv_id: n for n, item in enumerate(ranked)}
        out.auc[name].append(float(roc_auc_score(truth, [-place[pid] for pid in ids])))
    out.auc["HF upvotes"].append(float(roc_auc_score(truth, (upvotes + jitter)[positions])))
    out.auc["random"].append(float(roc_auc_score(truth, [rng.random() for _ in ids])))


def simulate(
    days: list[Day],
    channels: list[SimChannel],
    all_matches: list[dict[str, dict[str, list[MatchReason]]]],
    fitter: Fitter,
    noise: float,
    seed: int,
    label: str = "",
    wide: dict[int, Judgement] | None = None,
    judge_days: int = 3,
    shown_relevance: dict[str, list[float]] | None = None,
) -> dict[int, Judgement]:
    """Run the channels through `days`; `fitter` trains a channel's model from its votes.
    Each checkpoint's model is judged on the next day (the figures returned); with `wide`, it
    is also judged on each of the next `judge_days` days there (more papers judged, the same
    simulation: those judgements draw on a random source of their own). With
    `shown_relevance`, the relevance (1 or 0) of every "also worth a look" paper a digest
    showed is tallied there, by the channel's vote count then (`SHOWN_BUCKETS`)."""
    rng = random.Random(seed)
    wide_rng = random.Random(seed + 10_000)
    library = Library()
    posted: dict[str, set[str]] = defaultdict(set)
    results: dict[int, Judgement] = {c: Judgement() for c in CHECKPOINTS}
    for n, day in enumerate(days[:-1]):
        today = START + timedelta(days=n)
        library.add(day)
        matches = all_matches[n]
        for channel in channels:
            model = fitter(channel, library)
            shown, suggested = digest_for(
                channel, model, day, matches[channel.name], posted[channel.name], today
            )
            posted[channel.name].update(shown + suggested)
            bucket = shown_bucket(len(channel.votes))
            if shown_relevance is not None and bucket is not None:
                for pid in suggested:
                    i = day.index[pid]
                    relevant = channel.relevant(day.papers[i], day.text[i])
                    shown_relevance.setdefault(bucket, []).append(float(relevant))
            vote(channel, day, shown + suggested, rng, noise)
            for checkpoint in CHECKPOINTS:
                if len(channel.votes) >= checkpoint and checkpoint not in channel.measured:
                    channel.measured.add(checkpoint)
                    trained = fitter(channel, library)
                    if trained is None:
                        continue
                    for ahead in range(1, 1 + (judge_days if wide is not None else 1)):
                        if n + ahead >= len(days):
                            break
                        args = (days[n + ahead], all_matches[n + ahead][channel.name])
                        when = today + timedelta(days=ahead)
                        if ahead == 1:
                            judge(channel, trained, *args, when, rng, results[checkpoint])
                        if wide is not None:
                            judge(channel, trained, *args, when, wide_rng, wide[checkpoint])
        votes = sorted(len(c.votes) for c in channels)
        progress(f"{label}: day {n + 1}: votes per channel {votes}")
    return results
