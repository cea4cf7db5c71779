"""bench_day.py's setting: a store holding 100,000 subscriptions, yesterday's posts to vote on,
and a second thread sending votes and subscribes through the service while the ingest runs."""

from __future__ import annotations

import asyncio
import statistics
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text

from paperbot.models import ChannelKey, ChannelSettings, Subscription
from paperbot.service import Paperbot
from paperbot.store.store import Store
from paperbot.store.tables import channels, queries, subscriptions
from paperbot.testing import make_paper, throwaway_database


@contextmanager
def fresh_database(server_url: str | None, tmp: Path, name: str) -> Iterator[str]:
    if server_url is None:
        yield f"sqlite:///{tmp / f'{name}.sqlite'}"
        return
    with throwaway_database(server_url, prefix="paperbot_bench") as url:
        yield url


def unique_subscriptions(subs: list[Subscription]) -> list[Subscription]:
    """One per channel and query, as the store's unique key allows (the first wins)."""
    unique: dict[tuple[ChannelKey, str], Subscription] = {}
    for s in subs:
        unique.setdefault((s.channel, s.query), s)
    return list(unique.values())


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
    """A second thread sending votes and subscribes through the service while the ingest runs,
    as the bot's event loop runs them (the blocking work in its worker threads): one command
    every 1/`rate` seconds whether the ones before were answered or not (as people send them;
    a sender waiting for each answer would send fewer the slower they are, and hide the
    waits), alternating votes and subscribes. Each subscribe is a query nobody followed yet,
    numbered from `start` (the guard judges it and it looks back), so several runs against one
    store pass on `sent`."""

    def __init__(
        self,
        bot: Paperbot,
        messages: list[tuple[ChannelKey, str]],
        keys: list[ChannelKey],
        rate: float = 10.0,
        start: int = 0,
    ) -> None:
        self.bot, self.messages, self.keys = bot, messages, keys
        self.rate = rate
        self.sent = start  # the next command's number
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

    def cpu_seconds(self) -> float:
        """CPU time so far of the command thread and of its loop's worker threads (where the
        commands' blocking work runs): what the commands took from the ingest's GIL."""
        ours = [
            t for t in threading.enumerate() if t is self._thread or t.name.startswith("asyncio_")
        ]
        total = 0.0
        for thread in ours:
            if thread.ident is not None and thread.is_alive():
                total += time.clock_gettime(time.pthread_getcpuclockid(thread.ident))
        return total

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        started = loop.time()
        sending: set[asyncio.Task[None]] = set()
        n = 0
        while not self._stop.is_set():
            task = asyncio.create_task(self._send(self.sent))
            sending.add(task)
            task.add_done_callback(sending.discard)
            self.sent += 1
            n += 1
            await asyncio.sleep(max(0.0, started + n / self.rate - loop.time()))
        if sending:  # those sent before the ingest ended are answered and counted
            await asyncio.wait(sending)

    async def _send(self, n: int) -> None:
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
