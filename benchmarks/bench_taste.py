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
One channel's next day is only 10 judged papers, so precision@10 is also given over each of
the next 3 days (the same model; one judgement per channel-day), with standard errors. Beside
it, the precision of the "also worth a look" papers the digests really showed (up to 3 a day,
the best by learned score above `SUGGEST_ABOVE`), by the channel's vote count at the time.
Three simulations run in the same process: votes only, votes plus papers shown and left
unvoted as weak negatives, and votes plus the latest papers the channel did not vote on (what
ships, `paperbot.taste.learner.WEAK_NEGATIVES`), so the choice is measured, not assumed.

The simulation is taste_sim.py. Then (taste_scale.py): retrain + score times for a 2,000-paper
day for 1 and for 1,000 channels (each with 100 votes), the model alone and through a SQLite
store as the bot does it, and the memory of a model (`--scale-channels 0` leaves them out;
`--negatives background` simulates only what ships).
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Sequence

import numpy as np
from scipy import sparse

import taste_scale
from taste_sim import (
    CHECKPOINTS,
    SHOWN_BUCKETS,
    WEAK_SOURCES,
    Day,
    Fitter,
    Judgement,
    Library,
    Scorer,
    SimChannel,
    fit,
    make_channels,
    make_days,
    match_day,
    progress,
    simulate,
)

SHIPPED = "background"
TARGET_PRECISION = 0.6
JUDGE_DAYS = 3


def mean(values: Sequence[float]) -> str:
    return f"{np.mean(values):.2f}" if values else "  - "


def spread(values: Sequence[float]) -> str:
    """The standard error of a mean over channels (judged papers are the noise here)."""
    if len(values) < 2:
        return "  - "
    return f"{np.std(values, ddof=1) / np.sqrt(len(values)):.2f}"


def report(
    title: str,
    results: dict[int, Judgement],
    wide: dict[int, Judgement],
    shown: dict[str, list[float]],
) -> None:
    rates = [r for j in results.values() for r in j.base_rate]
    print(f"\n{title}; papers of a day relevant to a channel: {mean(rates)} on average")
    print(
        "  precision@10 of 'also worth a look' (unmatched papers of the next day; then the same "
        f"model on each of the next {JUDGE_DAYS} days, one judgement a channel-day)"
    )
    print(
        f"  {'votes':>6} {'channels':>8} {'taste':>7} {'+-se':>5} {'HF upvotes':>11} "
        f"{'random':>7} | {'judged':>6} {'taste':>7} {'+-se':>5} {'HF upvotes':>11}"
    )
    for checkpoint in CHECKPOINTS:
        p, w = results[checkpoint].precision, wide[checkpoint].precision
        print(
            f"  {checkpoint:>6} {len(p['taste']):>8} {mean(p['taste']):>7} "
            f"{spread(p['taste']):>5} {mean(p['HF upvotes']):>11} {mean(p['random']):>7} | "
            f"{len(w['taste']):>6} {mean(w['taste']):>7} {spread(w['taste']):>5} "
            f"{mean(w['HF upvotes']):>11}"
        )
    print(
        "  precision of the 'also worth a look' papers the digests showed, by the channel's "
        "votes then: "
        + ", ".join(
            f"{name}: {mean(shown.get(name, []))} +-{spread(shown.get(name, []))} "
            f"({len(shown.get(name, []))} shown)"
            for _, name in SHOWN_BUCKETS
        )
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


def fitter(weak: str) -> Fitter:
    """Train as the bot does, with the weak negatives `weak` names."""

    def fitted(channel: SimChannel, library: Library) -> Scorer | None:
        return fit(channel, library, weak)

    return fitted


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--days", type=int, default=22)
    parser.add_argument("--papers-per-day", type=int, default=2000)
    parser.add_argument("--channels", type=int, default=12)
    parser.add_argument("--scale-channels", type=int, default=1000, help="0: no timing runs")
    parser.add_argument("--noise", type=float, default=0.1)
    parser.add_argument("--topics", type=int, default=40, help="interest topics per channel")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--negatives",
        choices=("all", *WEAK_SOURCES),
        default="all",
        help="simulate every choice of negatives (default) or only this one",
    )
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
    for weak in WEAK_SOURCES if args.negatives == "all" else (args.negatives,):
        channels = make_channels(args.channels, random.Random(args.seed), args.topics)
        wide = {checkpoint: Judgement() for checkpoint in CHECKPOINTS}
        shown: dict[str, list[float]] = {}
        results = simulate(
            days,
            channels,
            all_matches,
            fitter(weak),
            args.noise,
            args.seed,
            weak,
            wide,
            JUDGE_DAYS,
            shown,
        )
        shipped = " (as shipped)" if weak == SHIPPED else ""
        report(titles[weak] + shipped, results, wide, shown)
        if weak == SHIPPED:
            p30, w30 = results[30].precision["taste"], wide[30].precision["taste"]
            met = p30 and np.mean(p30) >= TARGET_PRECISION
            verdict = "MET" if met else "NOT MET"
            print(
                f"  target precision@10 >= {TARGET_PRECISION} after 30 votes: {verdict} "
                f"({mean(p30)}, se {spread(p30)}; over the next {JUDGE_DAYS} days "
                f"{mean(w30)}, se {spread(w30)})"
            )
    if args.scale_channels > 0:
        timings(days, args.scale_channels, args.seed)
    print(f"\nwhole run {time.perf_counter() - started:.0f} s")


def timings(days: Sequence[Day], count: int, seed: int) -> None:
    pool = [p for day in days[:-1] for p in day.papers]
    pool_rows = sparse.vstack([day.rows for day in days[:-1]], format="csr")
    progress(f"timing {count} channels, the model alone")
    taste_scale.in_memory(pool, pool_rows, days[-1].papers, count, seed)
    progress(f"timing {count} channels through a SQLite store")
    taste_scale.through_store(pool, days[-1].papers, count, seed)


if __name__ == "__main__":
    main()
