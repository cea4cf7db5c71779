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
and subscribes that a second thread sends while the ingest runs (p50/p99/max), the sync a
following ingest pays when nothing changed, and the build of 1,000 channels' digests from the
stored matches (the build, not the posting). Both designs' digests are checked to be equal.
Targets: day < 3 s, write transactions <= 0.5 s, commands p99 < 1 s, digests < 5 s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, MetaData, Table, select, text

from corpus import synthetic_papers, synthetic_subscriptions
from paperbot.matching import SubscriptionIndex, subscription_rows
from paperbot.models import ChannelKey, ChannelSettings, MatchField, Paper, Subscription
from paperbot.search import SearchIndex
from paperbot.service import Paperbot
from paperbot.store import papers as paper_rows
from paperbot.store.inserts import bind_value, insert_rows_counting_new
from paperbot.store.matches import StoredMatch
from paperbot.store.store import PostState, Store
from paperbot.store.tables import channels, posts, queries, subscriptions
from paperbot.testing import make_paper, throwaway_database

TARGET_DAY, TARGET_WRITE, TARGET_P99, TARGET_DIGESTS = 3.0, 0.5, 1.0, 5.0
VOTED_PAPERS = 20


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
    digests: float = 0.0
    digest_items: dict[ChannelKey, list[str]] = field(default_factory=dict)


@contextmanager
def fresh_database(server_url: str | None, tmp: Path, name: str) -> Iterator[str]:
    if server_url is None:
        yield f"sqlite:///{tmp / f'{name}.sqlite'}"
        return
    with throwaway_database(server_url, prefix="paperbot_bench") as url:
        yield url


def load_subscriptions(store: Store, subs: list[Subscription], now: datetime) -> dict[Any, int]:
    """Channels and subscriptions in bulk (as a store that grew over months would hold them),
    with their query rows; returns each channel key's row id."""
    keys = sorted({s.channel for s in subs}, key=str)
    ids = {k: i for i, k in enumerate(keys, start=1)}
    created = now - timedelta(days=30)
    settings = ChannelSettings()
    with store.transaction() as conn:
        conn.execute(
            channels.insert(),
            [
                {
                    "id": i,
                    "platform": k.platform,
                    "workspace": k.workspace,
                    "channel": k.channel,
                    "timezone": "UTC",
                    "digest_hour": 9,
                    "max_items": settings.max_items,
                    "digest_days": ",".join(settings.digest_days),
                    "threaded": True,
                    "post_when_empty": False,
                    "paused": False,
                    "created_at": created,
                }
                for k, i in ids.items()
            ],
        )
        conn.execute(
            subscriptions.insert(),
            [
                {
                    "id": s.id,
                    "channel_id": ids[s.channel],
                    "query": s.query,
                    "created_by": "bench",
                    "created_at": created,
                }
                for s in subs
            ],
        )
        conn.execute(queries.insert(), [{"text": q} for q in sorted({s.query for s in subs})])
        if conn.dialect.name == "postgresql":
            for table in ("channels", "subscriptions"):
                conn.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT max(id) FROM {table}))"
                    )
                )
    return ids


def seed_posts(store: Store, keys: list[ChannelKey]) -> list[tuple[ChannelKey, str]]:
    """Yesterday's posted papers, one per channel, for the vote commands to react to."""
    old = [make_paper(f"Yesterday {n}", "Old.", arxiv_id=f"2001.{n:05d}") for n in range(len(keys))]
    store.upsert_papers(old)
    day = store.clock().date()
    messages = []
    for n, (key, paper) in enumerate(zip(keys, old, strict=True)):
        store.reserve_posts(key, [paper.arxiv_id], day, "bench")
        store.complete_post(key, paper.arxiv_id, f"m{n}")
        messages.append((key, f"m{n}"))
    return messages


class Commands:
    """A second thread sending votes and subscribes through the service while the ingest runs."""

    def __init__(
        self, bot: Paperbot, messages: list[tuple[ChannelKey, str]], keys: list[ChannelKey]
    ) -> None:
        self.bot, self.messages, self.keys = bot, messages, keys
        self.latencies: dict[str, list[float]] = {"vote": [], "subscribe": []}
        self.failed: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    def __enter__(self) -> Commands:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    async def _run(self) -> None:
        n = 0
        while not self._stop.is_set():
            key, message = self.messages[n % len(self.messages)]
            started = time.perf_counter()
            kind = "vote" if n % 2 == 0 else "subscribe"
            try:
                if kind == "vote":
                    await self.bot.record_vote(key, message, f"U{n}", 1 if n % 4 else -1)
                else:
                    target = self.keys[n % len(self.keys)]
                    await self.bot.subscribe(target, f"benchtopic{n}", "bench")
            except Exception as exc:  # a command that failed (the database stayed locked)
                self.failed.append(f"{kind}: {exc!r}"[:120])
            self.latencies[kind].append(time.perf_counter() - started)
            n += 1
            await asyncio.sleep(0.01)


def run_query_rows(
    url: str, tmp: Path, papers: list[Paper], subs: list[Subscription], digests: int
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
        progress(f"query rows: first sync {first.seconds:.2f} s; ingesting")
        with Commands(bot, messages, keys[-50:]) as commands:
            started = time.perf_counter()
            _, _, matched = bot.ingest_papers(papers)
            figures.day = time.perf_counter() - started
        stats, sync = bot.last_ingest, bot.last_sync
        assert stats is not None and sync is not None
        figures.stages = {
            "sync subscriptions": sync.seconds,
            "store (read + write)": stats.read_seconds + stats.store_seconds,
            "analyse": stats.analyse_seconds,
            "match": stats.match_seconds,
            "record": stats.record_seconds,
            "index": stats.index_seconds,
        }
        figures.max_write, figures.transactions = stats.max_write_seconds, len(stats.writes)
        figures.matched = matched
        with store.engine.connect() as conn:
            figures.rows = conn.execute(text("SELECT count(*) FROM query_matches")).scalar_one()
        figures.latencies, figures.failed = commands.latencies, commands.failed
        figures.resync = bot.live_subscriptions.sync(store).seconds
        figures.digests, figures.digest_items = build_digests(bot, keys[:digests])
    finally:
        search.close()
        store.close()
    return figures


# --- the one-row-per-subscription design, as it was, for the baseline -----------------------

_LEGACY_TABLE = """CREATE TABLE legacy_matches (
    subscription_id INTEGER NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
    paper_id VARCHAR(32) NOT NULL REFERENCES papers (arxiv_id),
    channel_id INTEGER NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    field VARCHAR(16) NOT NULL,
    matched_at {timestamp} NOT NULL,
    PRIMARY KEY (subscription_id, paper_id))"""


class SubscriptionRows:
    """The former ingest: reload every subscription, then upsert the day and record one row per
    subscriber in one transaction; digests read a channel's rows."""

    def __init__(self, bot: Paperbot, channel_ids: dict[Any, int]) -> None:
        self.bot, self.store, self.channel_ids = bot, bot.store, channel_ids
        self.index = SubscriptionIndex()
        timestamp = "TIMESTAMP WITH TIME ZONE" if self.store.dialect == "postgresql" else "DATETIME"
        with self.store.transaction() as conn:
            conn.exec_driver_sql(_LEGACY_TABLE.format(timestamp=timestamp))
            conn.exec_driver_sql(
                "CREATE INDEX ix_legacy_matches_channel ON legacy_matches (channel_id, matched_at)"
            )

    def sync(self) -> float:
        started = time.perf_counter()
        self.index.sync(self.store.all_subscriptions())
        return time.perf_counter() - started

    def ingest(self, papers: list[Paper]) -> tuple[dict[str, float], int]:
        self.bot.learn_acronyms(papers)  # the same analysis as the bot's, learned acronyms too
        stages: dict[str, float] = {"sync subscriptions": self.sync()}
        started = time.perf_counter()
        with self.store.transaction() as conn:
            result = paper_rows.upsert_papers(conn, papers, self.store.clock())
            stored = time.perf_counter()
            groups = self.index.match_groups(map(self.bot.analyze, result.changed))
            matched = time.perf_counter()
            live = set(conn.execute(select(subscriptions.c.id)).scalars())
            at = bind_value(conn, posts.c.created_at, self.store.clock())
            rows = [
                (sub.id, paper_id, self.channel_ids[sub.channel], f.value, at)
                for sub, paper_id, f in subscription_rows(groups)
                if sub.id in live
            ]
            columns = ("subscription_id", "paper_id", "channel_id", "field", "matched_at")
            count = insert_rows_counting_new(conn, _LEGACY, columns, rows)
        done = time.perf_counter()
        stages |= {
            "store (read + write)": stored - started,
            "match": matched - stored,
            "record": done - matched,
        }
        stages["transaction"] = done - started
        return stages, count

    @staticmethod
    def candidates(conn: Connection, channel_id: int, matched_since: datetime) -> list[StoredMatch]:
        """The former `digest_candidates`, over the legacy rows."""
        sql = (
            "SELECT m.paper_id, m.field, s.query FROM legacy_matches m "
            "JOIN subscriptions s ON s.id = m.subscription_id "
            "WHERE m.channel_id = :c AND m.matched_at >= :since AND m.paper_id NOT IN "
            "(SELECT paper_id FROM posts WHERE channel_id = :c AND state != :retry) "
            "ORDER BY m.paper_id"
        )
        params = {"c": channel_id, "retry": PostState.RETRY, "since": matched_since}
        rows = conn.execute(text(sql), params).all()
        return [StoredMatch(r.paper_id, r.query, MatchField(r.field)) for r in rows]


# Only its name is used: rows go straight to the driver (insert_rows_counting_new).
_LEGACY = Table("legacy_matches", MetaData())


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
        progress("subscription rows: ingesting")
        with Commands(bot, messages, keys[-50:]) as commands:
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
        store.candidates_in = legacy.candidates  # type: ignore[method-assign]
        figures.digests, figures.digest_items = build_digests(bot, keys[:digests])
    finally:
        search.close()
        store.close()
    return figures


def build_digests(
    bot: Paperbot, keys: list[ChannelKey]
) -> tuple[float, dict[ChannelKey, list[str]]]:
    async def build() -> dict[ChannelKey, list[str]]:
        built = {}
        for key in keys:
            digest = await bot.build_digest(key)
            built[key] = [item.paper.arxiv_id for item in digest.items]
        return built

    progress(f"building {len(keys)} digests")
    started = time.perf_counter()
    items = asyncio.run(build())
    return time.perf_counter() - started, items


def quantiles(values: list[float]) -> str:
    if len(values) < 2:
        return f"n={len(values)}"
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return (
        f"n={len(values)} p50 {statistics.median(ordered) * 1000:.0f} ms, "
        f"p99 {p99 * 1000:.0f} ms, max {ordered[-1] * 1000:.0f} ms"
    )


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] if ordered else 0.0


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
        ("longest write txn", f"{new.max_write:.3f} s", f"{old.max_write:.3f} s"),
        ("write transactions", f"{new.transactions}", f"{old.transactions}"),
        ("matches stored (rows)", f"{new.rows:,}", f"{old.rows:,}"),
        ("vote p99 during ingest", f"{p99(new.latencies['vote']) * 1000:.0f} ms",
         f"{p99(old.latencies['vote']) * 1000:.0f} ms"),
        ("subscribe p99 during", f"{p99(new.latencies['subscribe']) * 1000:.0f} ms",
         f"{p99(old.latencies['subscribe']) * 1000:.0f} ms"),
        ("commands failed", f"{len(new.failed)}", f"{len(old.failed)}"),
        ("next ingest's sync", f"{new.resync:.3f} s", f"{old.resync:.3f} s"),
        (f"{len(new.digest_items):,} digests built", f"{new.digests:.2f} s",
         f"{old.digests:.2f} s"),
    ]  # fmt: skip
    for name, a, b in rows:
        print(f"  {name:{width}} {a:>20} {b:>20}")
    print(f"  (query rows: {new.matched:,} (query, paper) matches packed into {new.rows:,} rows)")
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
    args = parser.parse_args()

    progress(f"generating {args.papers} papers and {args.subscriptions} subscriptions")
    start = datetime.now(UTC) - timedelta(hours=6)
    papers = list(synthetic_papers(args.papers, seed=args.seed, start=start))
    unique: dict[tuple[ChannelKey, str], Subscription] = {}
    for s in synthetic_subscriptions(args.subscriptions, seed=args.seed):
        unique.setdefault((s.channel, s.query), s)
    subs = list(unique.values())
    # Parse and compile every query once, as a running bot has long done before its ingest.
    SubscriptionIndex(subs)
    servers: list[tuple[str, str | None]] = [("SQLite", None)]
    if args.db_url:
        servers.append(("PostgreSQL", args.db_url))
    with tempfile.TemporaryDirectory() as tmp:
        for name, server in servers:
            results = []
            for design, run in (("query", run_query_rows), ("subscription", run_subscription_rows)):
                progress(f"{name}: {design} rows")
                # Each run its own search index too: an index left by another run would
                # believe itself caught up.
                workdir = Path(tmp) / f"{design}-{name}"
                workdir.mkdir()
                with fresh_database(server, workdir, "bench") as url:
                    results.append(run(url, workdir, papers, subs, args.digests))
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
