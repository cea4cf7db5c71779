"""Digest fan-out to 1,000 channels through a rate-limited chat API (a benchmark, not a test).

A fake API on 127.0.0.1 takes one message per second per channel and answers 429 with
Retry-After beyond that, like Slack's chat.postMessage. Every channel shares one digest hour, so
every digest job fires at the same moment (`prepare_ahead` before the hour, as the scheduler
fires them) and goes the real way: lease, settle leftovers, wait for the ingest, build, reserve in
the ledger, then on the hour paced posts and completions. The clock runs in real time, shifted so
that the hour comes right after the start.

Reports the time from the hour to the last message against the rate-limit floor ((messages per
channel - 1) x 1 s: the first may go at the hour), the preparation time before it, messages lost
(matched papers the API never got) and doubled (accepted twice). Targets: 1.2x, 0, 0.
`--lead 0` prepares on the hour instead.

    .venv/bin/python benchmarks/bench_fanout.py [--channels 1000] [--papers 2] [--lead 30]
                                                [--db-url postgresql+psycopg://...]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from paperbot.delivery import Pacer, PaceRule
from paperbot.errors import PostError
from paperbot.models import ChannelKey, ChannelSettings, Digest, DigestItem, Reply
from paperbot.scheduler import DigestScheduler
from paperbot.search import SearchIndex
from paperbot.service import Paperbot
from paperbot.settings import ScheduleSettings
from paperbot.store.store import Store
from paperbot.testing import make_paper, throwaway_database

PLATFORM = "bench"
CHANNELS_PER_WORKSPACE = 4
SLOT = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


class FakeChatAPI:
    """1 message/s per channel; a faster one gets 429 and Retry-After, and is not stored."""

    def __init__(self) -> None:
        self.last_accepted: dict[str, float] = {}
        self.accepted: list[tuple[str, str]] = []  # (channel, what)
        self.rejected = 0
        self.first_at: float | None = None
        self.last_at = 0.0

    async def post_message(self, request: web.Request) -> web.Response:
        body = await request.json()
        channel, what = body["channel"], body["what"]
        now = time.monotonic()
        last = self.last_accepted.get(channel)
        if last is not None and now - last < 1.0:
            self.rejected += 1
            wait = 1.0 - (now - last)
            return web.json_response(
                {"ok": False, "error": "ratelimited"},
                status=429,
                headers={"Retry-After": str(max(1, math.ceil(wait)))},
            )
        self.last_accepted[channel] = now
        self.accepted.append((channel, what))
        self.first_at = self.first_at or now
        self.last_at = now
        return web.json_response({"ok": True, "ts": f"{len(self.accepted)}.000"})

    async def stats(self, request: web.Request) -> web.Response:
        summary = {"accepted": len(self.accepted), "rejected": self.rejected}
        if request.query.get("full"):
            summary |= {
                "messages": self.accepted,
                "first_at": self.first_at,
                "last_at": self.last_at,
            }
        return web.json_response(summary)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/chat.postMessage", self.post_message)
        app.router.add_get("/stats", self.stats)
        return app


async def serve() -> None:
    """The fake API in its own process (and core), as a real platform would be: print the port,
    serve until stdin closes."""
    runner = web.AppRunner(FakeChatAPI().app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    print(site._server.sockets[0].getsockname()[1], flush=True)  # type: ignore[union-attr]
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await runner.cleanup()


class HttpPoster:
    """A ChatPoster speaking HTTP to the fake API; waits out a 429 as slack_sdk's handler does."""

    platform = PLATFORM

    def __init__(self, session: aiohttp.ClientSession, base_url: str) -> None:
        self.session, self.base_url = session, base_url
        self.retried_429 = 0

    async def _post(self, channel: ChannelKey, what: str) -> str:
        for _ in range(5):
            async with self.session.post(
                f"{self.base_url}/chat.postMessage",
                json={"channel": str(channel), "what": what},
            ) as response:
                if response.status == 429:
                    self.retried_429 += 1
                    await asyncio.sleep(float(response.headers.get("Retry-After", "1")))
                    continue
                if response.status >= 500:
                    raise PostError(f"HTTP {response.status}")
                return str((await response.json())["ts"])
        raise PostError("still rate limited")

    async def post_header(self, channel: ChannelKey, digest: Digest) -> str:
        return await self._post(channel, "header")

    async def post_item(
        self, channel: ChannelKey, digest: Digest, item: DigestItem, thread: str | None
    ) -> str:
        return await self._post(channel, item.paper.arxiv_id)

    async def post_reply(self, channel: ChannelKey, reply: Reply) -> str:
        return await self._post(channel, "reply")

    async def find_posted(
        self, channel: ChannelKey, paper_id: str, since: datetime, thread: str | None = None
    ) -> str | None:
        return None  # nothing is left pending before a benchmark run


@contextmanager
def fresh_database(server_url: str | None, tmp: Path) -> Iterator[str]:
    """A temporary SQLite file, or a new database on the PostgreSQL server named (dropped after)."""
    if server_url is None:
        yield f"sqlite:///{tmp / 'bench.sqlite'}"
        return
    with throwaway_database(server_url, prefix="paperbot_bench") as url:
        yield url


class ShiftedClock:
    """Real time, moved so that `set` names the current moment: the digest hour can come a few
    seconds after the start while sleeps and timeouts stay real."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def set(self, moment: datetime) -> None:
        self.offset = moment - datetime.now(UTC)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


def prepare(
    store: Store, clock: ShiftedClock, channels: int, papers: int, search: SearchIndex
) -> list[ChannelKey]:
    clock.set(SLOT - timedelta(hours=3))
    settings = ChannelSettings(timezone="UTC", digest_hour=SLOT.hour, max_items=papers)
    keys = [
        ChannelKey(PLATFORM, f"W{n // CHANNELS_PER_WORKSPACE:04d}", f"C{n:05d}")
        for n in range(channels)
    ]
    for key in keys:
        store.ensure_channel(key, settings)
        store.add_subscription(key, "diffusion", "bench")
    bot = Paperbot(store, search, clock=clock)
    batch = [
        make_paper(f"Diffusion result {n}", "Diffusion.", arxiv_id=f"2611.{n:05d}")
        for n in range(1, papers + 1)
    ]
    clock.set(SLOT - timedelta(hours=1))
    bot.ingest_papers(batch)
    return keys


async def progress(
    session: aiohttp.ClientSession, base: str, expected: int, hour: float, done: asyncio.Event
) -> None:
    while not done.is_set():
        await asyncio.sleep(1.0)
        async with session.get(f"{base}/stats") as response:
            stats = await response.json()
        print(
            f"  {time.monotonic() - hour:+6.1f}s from the hour: {stats['accepted']:5d}/{expected}"
            f" accepted, {stats['rejected']} answered 429",
            flush=True,
        )


async def run(channels: int, papers: int, lead: float, db_url: str | None) -> dict[str, Any]:
    server = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--serve", stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    assert server.stdout is not None and server.stdin is not None
    base = f"http://127.0.0.1:{int(await server.stdout.readline())}"
    with tempfile.TemporaryDirectory() as tmp, fresh_database(db_url, Path(tmp)) as url:
        clock = ShiftedClock()
        store = Store.open(url, clock=clock)
        search = SearchIndex.open(None)
        print(f"setting up {channels} channels x {papers} papers ...", flush=True)
        keys = prepare(store, clock, channels, papers, search)
        connector = aiohttp.TCPConnector(limit=100)
        async with aiohttp.ClientSession(connector=connector) as session:
            poster = HttpPoster(session, base)
            bot = Paperbot(store, search, posters={PLATFORM: poster}, clock=clock)
            bot.delivery.pacer = Pacer(
                {PLATFORM: PaceRule(channel_gap=1.0, workspace_rate=5.0, workspace_burst=10)}
            )
            ahead = timedelta(seconds=lead)
            scheduler = DigestScheduler(bot, ScheduleSettings(), prepare_ahead=ahead)
            expected = channels * (papers + 1)
            print(
                f"{channels} digest jobs fire {lead:.0f}s before the hour;"
                f" {expected} messages to send ...",
                flush=True,
            )
            clock.set(SLOT - ahead)
            fired, cpu = time.monotonic(), time.process_time()
            hour = fired + lead
            done = asyncio.Event()
            ticker = asyncio.create_task(progress(session, base, expected, hour, done))
            reports = await asyncio.gather(*(scheduler.run_digest(key) for key in keys))
            cpu = time.process_time() - cpu
            done.set()
            await ticker
            async with session.get(f"{base}/stats", params={"full": "1"}) as response:
                api = await response.json()
        search.close()
        store.close()
    server.stdin.close()
    await asyncio.wait_for(server.wait(), 30)
    counts = Counter((channel, what) for channel, what in api["messages"])
    papers_ids = [f"2611.{n:05d}" for n in range(1, papers + 1)]
    want = {(str(key), what) for key in keys for what in ["header", *papers_ids]}
    # A channel's first message can go at the hour, each later one a second after the one
    # before: n messages need n - 1 seconds at the least.
    floor = float(papers)
    from_hour = api["last_at"] - max(hour, fired)
    return {
        "channels": channels,
        "messages": expected,
        "prepare_ahead_s": lead,
        "first_post_after_hour_s": round((api["first_at"] or 0) - hour, 3),
        "hour_to_last_post_s": round(from_hour, 2),
        "floor_s": floor,
        "ratio_to_floor": round(from_hour / floor, 3),
        "fire_to_last_post_s": round(api["last_at"] - fired, 2),
        "lost": len(want - set(counts)),
        "doubled": sum(n - 1 for n in counts.values() if n > 1),
        "answered_429": api["rejected"],
        "bot_cpu_s": round(cpu, 2),
        "digests_posted": sum(1 for r in reports if r.posted),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", type=int, default=1000)
    parser.add_argument("--papers", type=int, default=2, help="per digest (plus its header)")
    parser.add_argument("--lead", type=float, default=30.0, help="seconds prepared ahead")
    parser.add_argument(
        "--db-url",
        default=None,
        help="a PostgreSQL server (a fresh database is made on it); default: a SQLite file",
    )
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(serve())
        return
    result = asyncio.run(run(args.channels, args.papers, args.lead, args.db_url))
    print()
    for name, value in result.items():
        print(f"{name:>24}: {value}")
    ok = result["ratio_to_floor"] <= 1.2 and result["lost"] == 0 and result["doubled"] == 0
    print(f"{'target (1.2x, 0, 0)':>24}: {'met' if ok else 'MISSED'}")


if __name__ == "__main__":
    main()
