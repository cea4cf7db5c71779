"""The timing half of bench_taste.py: retrain and score a day for 1 and for 1,000 channels,
first the model alone (`train` on rows vectorized beforehand), then the way the bot does it,
through a real SQLite store (`Taste.retrain_stale`, what start-up runs over every stale channel,
and `Taste.for_digest` for every channel), with the stages of a retrain timed on their own."""

from __future__ import annotations

import os
import random
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import psutil
from scipy import sparse

from paperbot.models import ChannelKey, ChannelSettings, Paper
from paperbot.store.store import Store
from paperbot.store.tables import votes
from paperbot.store.taste import TasteStore
from paperbot.taste import TasteModel, learner, train
from paperbot.taste.features import vectorize
from paperbot.taste.learner import Taste

TARGET_SECONDS = 10.0
TARGET_BYTES = 2**20


def rss_mb() -> float:
    return float(psutil.Process(os.getpid()).memory_info().rss) / 2**20


def timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


@dataclass(frozen=True)
class Voter:
    """A channel of the timing runs: 40 votes up on papers of one category, 60 down on others."""

    ups: list[int]
    downs: list[int]


def voters(pool: Sequence[Paper], count: int, seed: int) -> list[Voter]:
    rng = random.Random(seed)
    by_category: dict[str, list[int]] = defaultdict(list)
    for n, paper in enumerate(pool):
        by_category[paper.categories[0]].append(n)
    categories = sorted(c for c, found in by_category.items() if len(found) >= 40)
    out = []
    for _ in range(count):
        ups = rng.sample(by_category[rng.choice(categories)], 40)
        taken = set(ups)
        downs = [n for n in rng.sample(range(len(pool)), 80) if n not in taken][:60]
        out.append(Voter(ups, downs))
    return out


def in_memory(
    pool: Sequence[Paper], pool_rows: sparse.csr_matrix, day: Sequence[Paper], count: int, seed: int
) -> list[TasteModel]:
    """`train` alone on rows vectorized beforehand, and scoring the day."""
    day_rows = vectorize(day)
    vectorize_seconds = timed(lambda: vectorize(day))
    channels = voters(pool, count + 1, seed)

    def fit(voter: Voter) -> TasteModel:
        rows = pool_rows[voter.ups + voter.downs]
        return train([pool[i] for i in voter.ups], [pool[i] for i in voter.downs], rows)

    single: list[TasteModel] = []
    retrain_one = timed(lambda: single.append(fit(channels[0])))
    score_one = timed(lambda: single[0].decision(day_rows))
    models: list[TasteModel] = []
    retrain_all = timed(lambda: models.extend(fit(v) for v in channels[1:]))
    per_channel = timed(lambda: [m.decision(day_rows) for m in models])
    sizes = [m.nbytes for m in models]
    blobs = [len(m.to_bytes()) for m in models[:50]]
    print(f"\nthe model alone: retrain + score a day of {len(day):,} papers (100 votes each)")
    print(f"  vectorize the day once (shared by every channel): {vectorize_seconds:.2f} s")
    print(f"  1 channel:      retrain {retrain_one * 1000:.0f} ms, score {score_one * 1000:.1f} ms")
    print(
        f"  {count:,} channels: retrain {retrain_all:.2f} s "
        f"({retrain_all / count * 1000:.1f} ms each), score {per_channel:.2f} s"
    )
    total = vectorize_seconds + retrain_all + per_channel
    print(
        f"  {count:,} channels retrained and scored: {total:.2f} s "
        f"(target < {TARGET_SECONDS:.0f} s: {'MET' if total < TARGET_SECONDS else 'NOT MET'})"
    )
    print(
        f"  model memory: {np.mean(sizes) / 1024:.1f} KiB weights in memory (max "
        f"{max(sizes) / 1024:.1f} KiB), {np.mean(blobs) / 1024:.1f} KiB stored "
        f"(target < 1 MB: {'MET' if max(sizes) < TARGET_BYTES else 'NOT MET'})"
    )
    return models


def through_store(pool: Sequence[Paper], day: Sequence[Paper], count: int, seed: int) -> None:
    """As the bot does it, on a fresh SQLite file: every channel's votes are new (as after a
    restart), `retrain_stale` retrains them all; then every channel's digest scores the day."""
    channels = voters(pool, count, seed)
    epoch = datetime(2026, 1, 1, tzinfo=UTC)
    with tempfile.TemporaryDirectory(prefix="bench-taste-") as workdir:
        clock_at = [epoch]
        store = Store.open(f"sqlite:///{Path(workdir) / 'taste.sqlite'}", clock=lambda: clock_at[0])
        started = time.perf_counter()
        store.upsert_papers(pool)
        clock_at[0] = epoch + timedelta(days=1)
        store.upsert_papers(day)
        keys = [ChannelKey("bench", "w", f"c{n}") for n in range(count)]
        for key in keys:
            store.ensure_channel(key, ChannelSettings())
        with store.transaction() as conn:
            rows = []
            for n, (key, voter) in enumerate(zip(keys, channels, strict=True)):
                channel_id = store._channel_id(conn, key)
                for value, picked in ((1, voter.ups), (-1, voter.downs)):
                    for m, i in enumerate(picked):
                        at = epoch + timedelta(seconds=n * 200 + m + (value < 0) * 100)
                        rows.append(
                            {
                                "channel_id": channel_id,
                                "paper_id": pool[i].arxiv_id,
                                "user_id": "U1",
                                "value": value,
                                "voted_at": at,
                            }
                        )
            conn.execute(votes.insert(), rows)
        print(
            f"\nthrough a SQLite store ({len(pool) + len(day):,} papers, {count:,} channels of "
            f"100 votes on papers spread over {len(pool):,}; set up in "
            f"{time.perf_counter() - started:.0f} s)"
        )
        taste = Taste(TasteStore(store), clock=lambda: clock_at[0])
        stages = _timing_stages(taste)
        first = timed(lambda: taste.refresh(keys[0]))
        stale = timed(lambda: taste.store.stale())
        retrained = [0]
        retrain_all = timed(lambda: retrained.__setitem__(0, taste.retrain_stale()))
        print(
            f"  find the stale channels (one grouped query): {stale * 1000:.0f} ms; "
            f"1 channel retrained: {first * 1000:.0f} ms"
        )
        print(
            f"  {retrained[0]:,} stale channels retrained (start-up): {retrain_all:.2f} s "
            f"({retrain_all / max(1, retrained[0]) * 1000:.1f} ms each), of which"
        )
        for name, seconds in stages.items():
            print(f"    {name:<34} {seconds:6.2f} s")
        digest_all = timed(lambda: [taste.for_digest(key, [], epoch) for key in keys])
        print(
            f"  {count:,} digests' taste (read the stored model, pick 3 from the day's "
            f"{len(day):,}): {digest_all:.2f} s ({digest_all / count * 1000:.1f} ms each)"
        )
        print(f"  process RSS {rss_mb():.0f} MB")
        store.close()


def _timing_stages(taste: Taste) -> dict[str, float]:
    """Wrap the stages of a retrain so each one's total time is known afterwards."""
    stages: dict[str, float] = defaultdict(float)

    def wrap(owner: object, name: str, label: str) -> None:
        inner = getattr(owner, name)

        def timed_call(*args: object, **kwargs: object) -> object:
            started = time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                stages[label] += time.perf_counter() - started

        setattr(owner, name, timed_call)

    wrap(taste.store, "load", "read the stored model row")
    wrap(taste.store, "vote_fingerprint", "read the vote fingerprint")
    wrap(taste.store, "training_votes", "read the channel's votes")
    wrap(taste.store.store, "get_papers", "read papers not cached")
    wrap(taste.vectors, "_rows", "vector rows (cached, or vectorized)")
    wrap(learner, "fit_rows", "fit the model (liblinear)")
    wrap(taste.store, "save_model", "write the model (a transaction)")
    return stages
