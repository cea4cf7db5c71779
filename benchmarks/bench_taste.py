"""A channel's learned taste (DESIGN §6: precision@10 of "also worth a look" at least 0.6 after
30 votes; 1,000 channels scored in under 10 s; under 1 MB per model).

    .venv/bin/python benchmarks/bench_taste.py [--days 22] [--papers-per-day 2000] [--channels 12]

Simulated channels with known interests vote on their digests day by day. Each channel lives in
one field of the synthetic corpus (corpus.py) and is interested in `--topics` topics of that
field: a paper is relevant to it when it is of that field and holds one of them (the corpus
builds abstracts from random real sentences, so a topic is a word, not a theme: a field is the
only coherence a model can generalise from). The channel subscribes to two of its topics and to
two broad topics of its field (so its digests carry papers it dislikes too); its interests are
wider than its subscriptions, which is what "also worth a look" is for. Every day it gets the
digest paperbot would build (matched papers ranked by keyword evidence and, once it has 5 votes
up, its learned taste; then up to 3 "also worth a look"), and votes: 👍 on a relevant paper with
probability 0.6, 👎 on an irrelevant one with 0.3, and each vote is flipped with `--noise`.

When a channel's vote count first reaches 10, 30 and 100, its model (trained on those votes, as
`paperbot.taste.train` does in the bot) is judged on the next, unseen day:
- precision@10 of "also worth a look": the 10 best unmatched papers by learned score, beside the
  10 with the most Hugging Face upvotes and 10 at random (same day, same channel);
- ROC AUC of the digest ranking over the day's matched papers: keywords + taste as shipped,
  beside keyword evidence alone (the ranking without taste), HF upvotes and random.
Three simulations run in the same process: votes only, votes plus papers shown and left
unvoted as weak negatives, and votes plus the latest papers the channel did not vote on (what
ships, `paperbot.taste.learner.WEAK_NEGATIVES`), so the choice is measured, not assumed.

Then (taste_scale.py): retrain + score times for a 2,000-paper day for 1 and for 1,000 channels
(each with 100 votes), the model alone and through a SQLite store as the bot does it, and the
memory of a model.
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
from scipy import sparse
from sklearn.metrics import roc_auc_score

import taste_scale
from corpus import FIELDS, synthetic_papers, topics
from corpus import field as corpus_field
from paperbot.digest import rank_items
from paperbot.models import MatchField, MatchReason, Paper
from paperbot.query import evaluate, parse
from paperbot.service import analyze_paper
from paperbot.taste import TasteModel, train
from paperbot.taste.features import vectorize
from paperbot.taste.learner import MIN_UP_VOTES, SUGGEST_ABOVE, WEAK_NEGATIVES

CHECKPOINTS = (10, 30, 100)
BACKGROUND = WEAK_NEGATIVES
WEAK_SOURCES = ("votes", "shown", "background")
SHIPPED = "background"
ALSO_WORTH = 3
DIGEST_SIZE = 10
TARGET_PRECISION = 0.6
START = date(2026, 1, 5)


def progress(message: str) -> None:
    print(f"[bench_taste] {message}", file=sys.stderr, flush=True)


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

    def relevant(self, paper: Paper, text: str) -> bool:
        return paper.categories[0] in self.categories and any(
            _contains(text, topic) for topic in self.interests
        )


_PATTERNS: dict[str, re.Pattern[str]] = {}


def _contains(text: str, topic: str) -> bool:
    pattern = _PATTERNS.get(topic)
    if pattern is None:
        pattern = re.compile(rf"\b{re.escape(topic)}\b")
        _PATTERNS[topic] = pattern
    return pattern.search(text) is not None


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
    rows: dict[str, sparse.csr_matrix] = field(default_factory=dict)
    latest: list[str] = field(default_factory=list)

    def add(self, day: Day) -> None:
        for n, paper in enumerate(day.papers):
            self.papers[paper.arxiv_id] = paper
            self.rows[paper.arxiv_id] = day.rows[n]
        self.latest = [p.arxiv_id for p in day.papers]


def fit(channel: SimChannel, library: Library, weak: str) -> TasteModel | None:
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
    rows = sparse.vstack([library.rows[pid] for pid in ids], format="csr")
    get = library.papers.__getitem__
    return train([get(p) for p in ups], [get(p) for p in downs], rows, [get(p) for p in weak_ids])


def zscores(values: np.ndarray) -> np.ndarray:
    spread = float(values.std()) if values.size > 1 else 0.0
    if spread == 0:
        return np.zeros_like(values)
    return np.clip((values - values.mean()) / spread, -2.0, 2.0)


def digest_for(
    channel: SimChannel,
    model: TasteModel | None,
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
        for n in np.argsort(-scores, kind="stable")[:ALSO_WORTH]:
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


@dataclass
class Judgement:
    precision: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    auc: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    base_rate: list[float] = field(default_factory=list)


def judge(
    channel: SimChannel,
    model: TasteModel,
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
    weak: str,
    noise: float,
    seed: int,
) -> dict[int, Judgement]:
    rng = random.Random(seed)
    library = Library()
    posted: dict[str, set[str]] = defaultdict(set)
    results: dict[int, Judgement] = {c: Judgement() for c in CHECKPOINTS}
    for n, day in enumerate(days[:-1]):
        today = START + timedelta(days=n)
        library.add(day)
        matches, next_matches = all_matches[n], all_matches[n + 1]
        for channel in channels:
            model = fit(channel, library, weak)
            shown, suggested = digest_for(
                channel, model, day, matches[channel.name], posted[channel.name], today
            )
            posted[channel.name].update(shown + suggested)
            vote(channel, day, shown + suggested, rng, noise)
            for checkpoint in CHECKPOINTS:
                if len(channel.votes) >= checkpoint and checkpoint not in channel.measured:
                    channel.measured.add(checkpoint)
                    trained = fit(channel, library, weak)
                    if trained is not None:
                        judge(
                            channel,
                            trained,
                            days[n + 1],
                            next_matches[channel.name],
                            today + timedelta(days=1),
                            rng,
                            results[checkpoint],
                        )
        votes = sorted(len(c.votes) for c in channels)
        progress(f"{weak}: day {n + 1}: votes per channel {votes}")
    return results


def mean(values: Sequence[float]) -> str:
    return f"{np.mean(values):.2f}" if values else "  - "


def report(title: str, results: dict[int, Judgement]) -> None:
    rates = [r for j in results.values() for r in j.base_rate]
    print(f"\n{title}; papers of a day relevant to a channel: {mean(rates)} on average")
    print("  precision@10 of 'also worth a look' (unmatched papers of the next day)")
    print(f"  {'votes':>6} {'channels':>8} {'taste':>7} {'HF upvotes':>11} {'random':>7}")
    for checkpoint in CHECKPOINTS:
        p = results[checkpoint].precision
        print(
            f"  {checkpoint:>6} {len(p['taste']):>8} {mean(p['taste']):>7} "
            f"{mean(p['HF upvotes']):>11} {mean(p['random']):>7}"
        )
    print("  ROC AUC of the digest ranking (the next day's matched papers)")
    print(
        f"  {'votes':>6} {'channels':>8} {'kw + taste':>11} {'kw alone':>9} "
        f"{'HF upvotes':>11} {'random':>7}"
    )
    for checkpoint in CHECKPOINTS:
        a = results[checkpoint].auc
        print(
            f"  {checkpoint:>6} {len(a['keywords + taste']):>8} {mean(a['keywords + taste']):>11} "
            f"{mean(a['keywords alone']):>9} {mean(a['HF upvotes']):>11} {mean(a['random']):>7}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--days", type=int, default=22)
    parser.add_argument("--papers-per-day", type=int, default=2000)
    parser.add_argument("--channels", type=int, default=12)
    parser.add_argument("--scale-channels", type=int, default=1000)
    parser.add_argument("--noise", type=float, default=0.1)
    parser.add_argument("--topics", type=int, default=40, help="interest topics per channel")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    started = time.perf_counter()
    days = make_days(args.days, args.papers_per_day, args.seed)
    print(
        f"{len(days)} days x {args.papers_per_day:,} synthetic papers, {args.channels} simulated "
        f"channels, vote noise {args.noise:.0%}, seed {args.seed}"
    )
    all_matches = [
        match_day(make_channels(args.channels, random.Random(args.seed), args.topics), d)
        for d in days
    ]
    titles = {
        "votes": "votes only",
        "shown": "votes + weak negatives: papers shown and left unvoted",
        "background": "votes + weak negatives: the latest papers not voted on (background)",
    }
    for weak in WEAK_SOURCES:
        channels = make_channels(args.channels, random.Random(args.seed), args.topics)
        results = simulate(days, channels, all_matches, weak, args.noise, args.seed)
        shipped = " (as shipped)" if weak == SHIPPED else ""
        report(titles[weak] + shipped, results)
        if weak == SHIPPED:
            p30 = results[30].precision
            met = p30["taste"] and np.mean(p30["taste"]) >= TARGET_PRECISION
            verdict = "MET" if met else "NOT MET"
            print(f"  target precision@10 >= {TARGET_PRECISION} after 30 votes: {verdict}")
    pool = [p for day in days[:-1] for p in day.papers]
    pool_rows = sparse.vstack([day.rows for day in days[:-1]], format="csr")
    progress(f"timing {args.scale_channels} channels, the model alone")
    taste_scale.in_memory(pool, pool_rows, days[-1].papers, args.scale_channels, args.seed)
    progress(f"timing {args.scale_channels} channels through a SQLite store")
    taste_scale.through_store(pool, days[-1].papers, args.scale_channels, args.seed)
    print(f"\nwhole run {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
