"""A whole ingest day at 100,000 subscriptions, with commands running meanwhile (a benchmark).

    .venv/bin/python benchmarks/bench_day.py [--papers 2000] [--subscriptions 100000]
        [--digests 1000] [--db-url postgresql+psycopg://postgres@127.0.0.1:55432/postgres]

For SQLite, and for PostgreSQL when a server URL is given (each run in a throwaway database made
by `paperbot.testing.throwaway_database`), two designs in the same run:

- query rows (the bot's design): one `query_matches` row per distinct query and ingest, the
  papers stored in chunks (each marked until its matches are recorded), the day matched outside
  any transaction and its rows recorded in slices (paperbot.ingest), the subscription index
  synced by the store's change counter;
- subscription rows (the design before it, rebuilt here as the baseline): every subscription
  reloaded, then one transaction upserting the day and one `matches` row per subscriber.

Each prints the stages (sync, store, match, record, index), the longest write transaction (the
time the ingest held the write lock: from the first write to commit for query rows; the whole
transaction for subscription rows, whose reads are a small part of it), the latency of votes
and subscribes that a second thread sends while the ingest runs (p50/p99/max and n: ten a
second through the service's async methods, after the bot's warm-up; query rows ingest
`--days` days of fresh papers so, since one lasts a few seconds), the sync a
following ingest pays when nothing changed, and the build of 1,000 channels' digests from the
stored matches (the build, not the posting): one after another, then all at once as the
scheduler builds the channels due at one hour. Both designs' digests are checked to be equal.
The setting (subscriptions, posts, the command thread) is in day_load.py, the baseline's
design in day_legacy.py. Targets: day < 3 s, write transactions <= 0.5 s, commands p99 < 1 s,
digests < 5 s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import text

from corpus import synthetic_papers, synthetic_subscriptions
from day_legacy import SubscriptionRows
from day_load import (
    Commands,
    fresh_database,
    load_subscriptions,
    p99,
    quantiles,
    seed_posts,
    unique_subscriptions,
)
from paperbot.matching import SubscriptionIndex
from paperbot.models import ChannelKey, Paper, Subscription
from paperbot.search import SearchIndex
from paperbot.service import Paperbot
from paperbot.store.store import Store

TARGET_DAY, TARGET_WRITE, TARGET_P99, TARGET_DIGESTS = 3.0, 0.5, 1.0, 5.0
VOTED_PAPERS = 20
COMMAND_RATE = 10.0  # commands a second during an ingest (votes and subscribes alternating)


def progress(message: str) -> None:
    print(f"[bench_day] {message}", file=sys.stderr, flush=True)


@dataclass
class Figures:
    design: str
    stages: dict[str, float] = field(default_factory=dict)
    day: float = 0.0
    max_write: float = 0.0
    transactions: int = 0
    matched: int = 0
    rows: int = 0
    latencies: dict[str, list[float]] = field(default_factory=dict)
    failed: list[str] = field(default_factory=list)  # commands that failed during the ingest
    resync: float = 0.0
    quiet_day: float | None = None  # the next day, ingested with no command meanwhile
    more_days: list[float] = field(default_factory=list)  # further days with commands
    # CPU seconds during the day: the ingest's thread, the index's thread, the commands' threads
    # (the command thread and its workers), and the whole process (tantivy's threads too)
    cpu: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    digests: float = 0.0  # one after another
    digests_at_once: float = 0.0  # gathered, as the scheduler builds an hour's channels
    digest_items: dict[ChannelKey, list[str]] = field(default_factory=dict)


def run_query_rows(
    url: str,
    tmp: Path,
    papers: list[Paper],
    subs: list[Subscription],
    digests: int,
    next_day: list[Paper],
    more_days: list[list[Paper]],
) -> Figures:
    figures = Figures("query rows")
    store = Store.open(url)
    search = SearchIndex.open(tmp / "index")
    bot = Paperbot(store, search, max_subscriptions=10_000)
    try:
        now = store.clock()
        load_subscriptions(store, subs, now)
        keys = sorted({s.channel for s in subs}, key=str)
        messages = seed_posts(store, keys[:VOTED_PAPERS])
        first = bot.live_subscriptions.sync(store)  # a process's first sync: everything
        bot.warm_up()  # as `paperbot run` does at its start
        progress(f"query rows: first sync {first.seconds:.2f} s; ingesting")
        with Commands(bot, messages, keys[-50:], COMMAND_RATE) as commands:
            started, cpu, thread_cpu = time.perf_counter(), time.process_time(), time.thread_time()
            _, _, matched = bot.ingest_papers(papers)
            figures.day = time.perf_counter() - started
            figures.cpu = (
                time.thread_time() - thread_cpu,
                bot.last_ingest.index_cpu_seconds if bot.last_ingest else 0.0,
                commands.cpu_seconds(),
                time.process_time() - cpu,
            )
        stats, sync = bot.last_ingest, bot.last_sync
        assert stats is not None and sync is not None
        figures.stages = {
            "sync subscriptions": sync.seconds,
            "store (read + write)": stats.read_seconds + stats.store_seconds,
            "analyse": stats.analyse_seconds,
            "match": stats.match_seconds,
            "record": stats.record_seconds,
            "index (beside matching)": stats.index_seconds,
            "  waited for after record": stats.index_wait_seconds,
        }
        figures.max_write, figures.transactions = stats.max_write_seconds, len(stats.writes)
        figures.matched = matched
        with store.engine.connect() as conn:
            figures.rows = conn.execute(text("SELECT count(*) FROM query_matches")).scalar_one()
        figures.latencies, figures.failed = commands.latencies, commands.failed
        figures.resync = bot.live_subscriptions.sync(store).seconds
        figures.digests, figures.digests_at_once, figures.digest_items = build_digests(
            bot, keys[:digests]
        )
        # More days of fresh papers with commands meanwhile: a sample of commands large
        # enough for a p99 (a day lasts a few seconds), the same way as on the first day.
        sent = commands.sent
        for n, more in enumerate(more_days, start=2):
            progress(f"query rows: day {n} with commands")
            with Commands(bot, messages, keys[-50:], COMMAND_RATE, start=sent) as commands:
                started = time.perf_counter()
                bot.ingest_papers(more)
                figures.more_days.append(time.perf_counter() - started)
            sent = commands.sent
            for kind, values in commands.latencies.items():
                figures.latencies[kind].extend(values)
            figures.failed.extend(commands.failed)
        # The next day with no command meanwhile: the ingest's own time, without what the
        # command thread took of the GIL (the day's CPU by thread shows how much that was).
        progress("query rows: the next day, no commands")
        started = time.perf_counter()
        bot.ingest_papers(next_day)
        figures.quiet_day = time.perf_counter() - started
    finally:
        search.close()
        store.close()
    return figures


def run_subscription_rows(
    url: str, tmp: Path, papers: list[Paper], subs: list[Subscription], digests: int
) -> Figures:
    figures = Figures("subscription rows")
    store = Store.open(url)
    search = SearchIndex.open(tmp / "index")
    bot = Paperbot(store, search, max_subscriptions=10_000)
    try:
        ids = load_subscriptions(store, subs, store.clock())
        keys = sorted({s.channel for s in subs}, key=str)
        messages = seed_posts(store, keys[:VOTED_PAPERS])
        legacy = SubscriptionRows(bot, ids)
        bot.warm_up()
        progress("subscription rows: ingesting")
        with Commands(bot, messages, keys[-50:], COMMAND_RATE) as commands:
            started = time.perf_counter()
            stages, count = legacy.ingest(papers)
            indexed = time.perf_counter()
            search.catch_up(store)
            figures.day = time.perf_counter() - started
        stages["index"] = time.perf_counter() - indexed
        figures.max_write = stages.pop("transaction")
        figures.transactions = 1
        figures.stages = stages
        figures.matched = figures.rows = count
        figures.latencies, figures.failed = commands.latencies, commands.failed
        figures.resync = legacy.sync()
        store.candidates_in = legacy.candidates
        figures.digests, figures.digests_at_once, figures.digest_items = build_digests(
            bot, keys[:digests]
        )
    finally:
        search.close()
        store.close()
    return figures


def build_digests(
    bot: Paperbot, keys: list[ChannelKey]
) -> tuple[float, float, dict[ChannelKey, list[str]]]:
    """The digests of `keys` built one after another, then all at once as the scheduler builds
    the channels due at one hour (`DigestDelivery.deliver_many` gathers them); the seconds of
    each and what the first built."""

    async def one_by_one() -> dict[ChannelKey, list[str]]:
        built = {}
        for key in keys:
            digest = await bot.build_digest(key)
            built[key] = [item.paper.arxiv_id for item in digest.items]
        return built

    async def at_once() -> None:
        await asyncio.gather(*(bot.build_digest(key) for key in keys))

    progress(f"building {len(keys)} digests")
    started = time.perf_counter()
    items = asyncio.run(one_by_one())
    sequential = time.perf_counter() - started
    started = time.perf_counter()
    asyncio.run(at_once())
    return sequential, time.perf_counter() - started, items


def tail(values: list[float]) -> str:
    return f"{p99(values) * 1000:.0f} ms n={len(values)}"


def report(database: str, new: Figures, old: Figures, papers: int, subs: int) -> None:
    def verdict(ok: bool) -> str:
        return "MET" if ok else "MISSED"

    print()
    print(f"{database}: a day of {papers:,} papers at {subs:,} subscriptions")
    width = 26
    print(f"  {'':{width}} {new.design:>20} {old.design:>20}")
    names = list(dict.fromkeys([*new.stages, *old.stages]))
    for name in names:
        a, b = new.stages.get(name), old.stages.get(name)
        cell_a = f"{a:.2f} s" if a is not None else "-"
        cell_b = f"{b:.2f} s" if b is not None else "-"
        print(f"  {name:{width}} {cell_a:>20} {cell_b:>20}")
    rows = [
        ("whole day", f"{new.day:.2f} s", f"{old.day:.2f} s"),
        ("next day, no commands", f"{new.quiet_day or 0:.2f} s", "-"),
        ("longest write txn", f"{new.max_write:.3f} s", f"{old.max_write:.3f} s"),
        ("write transactions", f"{new.transactions}", f"{old.transactions}"),
        ("matches stored (rows)", f"{new.rows:,}", f"{old.rows:,}"),
        ("vote p99 during ingest", tail(new.latencies["vote"]), tail(old.latencies["vote"])),
        ("subscribe p99 during", tail(new.latencies["subscribe"]),
         tail(old.latencies["subscribe"])),
        ("commands failed", f"{len(new.failed)}", f"{len(old.failed)}"),
        ("next ingest's sync", f"{new.resync:.3f} s", f"{old.resync:.3f} s"),
        (f"{len(new.digest_items):,} digests, one by one", f"{new.digests:.2f} s",
         f"{old.digests:.2f} s"),
        ("  the same, all at once", f"{new.digests_at_once:.2f} s",
         f"{old.digests_at_once:.2f} s"),
    ]  # fmt: skip
    for name, cell_a, cell_b in rows:
        print(f"  {name:{width}} {cell_a:>20} {cell_b:>20}")
    print(f"  (query rows: {new.matched:,} (query, paper) matches packed into {new.rows:,} rows)")
    ingest, index, sent, process = new.cpu
    print(
        f"  query rows' day: {new.day:.2f} s wall; CPU: ingest thread {ingest:.2f} s, index "
        f"thread {index:.2f} s, commands {sent:.2f} s, the rest (tantivy's threads) "
        f"{process - ingest - index - sent:.2f} s; {process:.2f} s in all"
    )
    if new.more_days:
        days = ", ".join(f"{d:.2f}" for d in [new.day, *new.more_days])
        print(f"  query rows: {1 + len(new.more_days)} days with commands, each {days} s")
    for design in (new, old):
        for kind, values in design.latencies.items():
            print(f"  {design.design} {kind}s: {quantiles(values)}")
    for design in (new, old):
        if design.failed:
            print(f"  {design.design}: first failure: {design.failed[0]}")
    commands = new.latencies["vote"] + new.latencies["subscribe"]
    same = new.digest_items == old.digest_items
    print(f"  digests identical in both designs: {same}")
    print(
        f"  targets (query rows): day < {TARGET_DAY:.0f} s {verdict(new.day < TARGET_DAY)}; "
        f"write txn <= {TARGET_WRITE} s {verdict(new.max_write <= TARGET_WRITE)}; "
        f"commands p99 < {TARGET_P99:.0f} s {verdict(p99(commands) < TARGET_P99)}; "
        f"digests < {TARGET_DIGESTS:.0f} s {verdict(new.digests < TARGET_DIGESTS)}"
    )
    if not same:
        sys.exit(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--papers", type=int, default=2000)
    parser.add_argument("--subscriptions", type=int, default=100_000)
    parser.add_argument("--digests", type=int, default=1000, help="channels whose digest is built")
    parser.add_argument("--db-url", help="a PostgreSQL server URL: run there too")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--days", type=int, default=3, help="days ingested with commands (query rows)"
    )
    args = parser.parse_args()

    progress(f"generating {args.papers} papers and {args.subscriptions} subscriptions")
    start = datetime.now(UTC) - timedelta(hours=6)
    papers = list(synthetic_papers(args.papers, seed=args.seed, start=start))
    # Other ids (the seed picks their prefix): new papers for the next day.
    next_day = list(synthetic_papers(args.papers, seed=args.seed + 1, start=start))
    more_days = [
        list(synthetic_papers(args.papers, seed=args.seed + n, start=start))
        for n in range(2, args.days + 1)
    ]
    subs = unique_subscriptions(list(synthetic_subscriptions(args.subscriptions, seed=args.seed)))
    # Parse and compile every query once, as a running bot has long done before its ingest.
    SubscriptionIndex(subs)
    servers: list[tuple[str, str | None]] = [("SQLite", None)]
    if args.db_url:
        servers.append(("PostgreSQL", args.db_url))
    with tempfile.TemporaryDirectory() as tmp:
        for name, server in servers:
            results = []
            for design in ("query", "subscription"):
                progress(f"{name}: {design} rows")
                # Each run its own search index too: an index left by another run would
                # believe itself caught up.
                workdir = Path(tmp) / f"{design}-{name}"
                workdir.mkdir()
                with fresh_database(server, workdir, "bench") as url:
                    if design == "query":
                        run = run_query_rows(
                            url, workdir, papers, subs, args.digests, next_day, more_days
                        )
                    else:
                        run = run_subscription_rows(url, workdir, papers, subs, args.digests)
                    results.append(run)
            report(name, results[0], results[1], len(papers), len(subs))
    print(
        f"  machine: {os.cpu_count()} cores, load average {os.getloadavg()}; 1M tuple appends "
        f"took {calibration():.3f} s CPU (0.07-0.10 s on a quiet development VM)"
    )


def calibration() -> float:
    """A fixed pure-Python loop, as in bench_matching.py, to compare machines and load."""
    started = time.process_time()
    out = []
    for i in range(1_000_000):
        out.append((i, i))
    return time.process_time() - started


if __name__ == "__main__":
    main()
