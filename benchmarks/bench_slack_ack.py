"""How fast a `/papers` slash command is acknowledged (DESIGN §6: p99 under 300 ms at 50 at once).

    .venv/bin/python benchmarks/bench_slack_ack.py [--requests 200] [--concurrency 50]

The Slack adapter runs in HTTP mode on a local port, on a real core (SQLite file, search index,
the ~360 bundled sample papers), with its Web API client pointed at the tests' fake Slack. A
separate process plays Slack (the fake Web API, response_url, and the load): it signs each
request the way Slack does and measures from just before sending until the HTTP answer (the ack)
is read. The commands mix cheap ones with a search
and a digest, whose work goes on in the background after the ack, so the acks are measured under
that load. Every command's answer must then arrive at its response_url. Progress to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).parents[1] / "tests" / "adapters" / "slack"))

import aiohttp
from aiohttp import web
from aiohttp.typedefs import Handler
from fake_slack import BOT_TOKEN, SIGNING_SECRET, FakeSlack, fixture
from pydantic import SecretStr
from slack_sdk.signature import SignatureVerifier

from paperbot.adapters.slack import ChannelPacer, SlackAdapter
from paperbot.delivery import Pacer
from paperbot.search import SearchIndex
from paperbot.service import Paperbot
from paperbot.settings import HttpSettings, Settings, SlackSettings
from paperbot.sources.sample import sample_papers
from paperbot.store.store import Store

TARGET_P99_MS = 300.0
COMMANDS = (
    "help",
    "list",
    "search diffusion language models",
    "settings",
    "top week",
    "search author:smith since:30d",
    "subscribe reinforcement learning",
    "digest",
)


def progress(message: str) -> None:
    print(f"[bench_slack_ack] {message}", file=sys.stderr, flush=True)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


# --- Slack's side, in its own process ---------------------------------------------------------
# The fake Web API, response_url and the load all run here, so the bot's process does only the
# bot's work, as it would against the real Slack.

WARM_UP = 4


def play_slack(
    link: Connection, requests: int, concurrency: int, commands: tuple[str, ...], answers: bool
) -> None:
    asyncio.run(_play_slack(link, requests, concurrency, commands, answers))


async def _play_slack(
    link: Connection, requests: int, concurrency: int, commands: tuple[str, ...], answers: bool
) -> None:
    fake = await FakeSlack().start()
    link.send(fake.base_url)
    url: str = await asyncio.to_thread(link.recv)
    response_base = fake.response_url().rsplit("/", 1)[0] + "/"
    started = time.perf_counter()
    results = await _fire(url, response_base, requests, concurrency, commands)
    if answers:
        await fake.wait_for_responses(requests + WARM_UP, timeout=300)
    answered = time.perf_counter() - started
    posts = len(fake.api("chat.postMessage"))
    link.send((results, len(fake.responses), answered, posts))
    await fake.close()


async def _fire(
    url: str, response_base: str, requests: int, concurrency: int, commands: tuple[str, ...]
) -> list[tuple[float, int]]:
    verifier = SignatureVerifier(SIGNING_SECRET)
    gate = asyncio.Semaphore(concurrency)
    template = fixture("slack_command.json")

    async def one(session: aiohttp.ClientSession, n: int) -> tuple[float, int]:
        form = dict(template)
        form.update(
            text=commands[n % len(commands)],
            channel_id=f"C0BENCH{n % 20:03d}",
            user_id=f"U0BENCH{n:04d}",
            response_url=f"{response_base}{n:06d}",
        )
        body = urlencode(form)
        async with gate:
            stamp = str(int(time.time()))
            headers = {
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Slack-Request-Timestamp": stamp,
                "X-Slack-Signature": str(verifier.generate_signature(timestamp=stamp, body=body)),
            }
            started = time.perf_counter()
            async with session.post(url, data=body.encode(), headers=headers) as response:
                await response.read()
                return (time.perf_counter() - started) * 1000, response.status

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        # Warm-up first (connections, bolt's one-time auth.test); then the measured burst.
        await asyncio.gather(*(one(session, n) for n in range(WARM_UP)))
        return list(await asyncio.gather(*(one(session, n) for n in range(requests))))


# --- the bot's side ---------------------------------------------------------------------------


async def run(requests: int, concurrency: int, commands: tuple[str, ...]) -> int:
    spawn = multiprocessing.get_context("spawn")
    link, child_link = spawn.Pipe()
    slack = spawn.Process(
        target=play_slack, args=(child_link, requests, concurrency, commands, True)
    )
    slack.start()
    base_url: str = await asyncio.to_thread(link.recv)
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(f"sqlite:///{tmp}/paperbot.sqlite")
        index = SearchIndex.open(None)
        bot = Paperbot(store, index)
        bot.delivery.pacer = Pacer(rules={})  # the fake Slack has no rate limit to respect
        bot.ingest_papers(sample_papers())
        progress(f"{store.count_papers()} papers stored")
        settings = Settings(
            data_dir=Path(tmp),
            slack=SlackSettings(
                bot_token=SecretStr(BOT_TOKEN),
                signing_secret=SecretStr(SIGNING_SECRET),
                api_base_url=base_url,
            ),
            http=HttpSettings(host="127.0.0.1", port=0),
        )
        adapter = SlackAdapter.build(settings, bot, pacer=ChannelPacer(0))
        server_ms: list[float] = []

        @web.middleware
        async def timed(request: web.Request, handler: Handler) -> web.StreamResponse:
            started = time.perf_counter()
            try:
                return await handler(request)
            finally:
                server_ms.append((time.perf_counter() - started) * 1000)

        adapter.web_app.middlewares.append(timed)
        await adapter.start()
        url = f"http://127.0.0.1:{adapter.port}/slack/events"
        progress(f"firing {requests} signed commands, {concurrency} at once, at {url}")
        link.send(url)
        results, answers, answered, posts = await asyncio.to_thread(link.recv)
        await asyncio.to_thread(slack.join)
        await adapter.stop()
        index.close()
        store.close()

    latencies = [ms for ms, _ in results]
    statuses = {status for _, status in results}
    p50, p99 = percentile(latencies, 0.50), percentile(latencies, 0.99)
    server = server_ms[WARM_UP:]
    print(f"requests           {len(results)} ({concurrency} concurrent), HTTP {sorted(statuses)}")
    print(f"commands           {', '.join(commands)}")
    print(f"ack latency p50    {p50:7.1f} ms")
    print(f"ack latency p99    {p99:7.1f} ms   (target < {TARGET_P99_MS:.0f} ms)")
    print(f"ack latency max    {max(latencies):7.1f} ms   mean {statistics.mean(latencies):.1f} ms")
    print(
        f"inside the app     p50 {percentile(server, 0.5):.1f} ms, p99 "
        f"{percentile(server, 0.99):.1f} ms (signature check, bolt, handler, ack)"
    )
    print(f"machine            {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    print(f"answers            {answers} at response_url in {answered:.1f} s; {posts} posts")
    ok = statuses == {200} and p99 < TARGET_P99_MS and answers == requests + WARM_UP
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


async def floor(requests: int, concurrency: int) -> None:
    """The same load against an aiohttp app that answers 200 at once: what this machine, its
    load and the HTTP stack cost before any Slack or paperbot code runs."""
    spawn = multiprocessing.get_context("spawn")
    link, child_link = spawn.Pipe()
    slack = spawn.Process(
        target=play_slack, args=(child_link, requests, concurrency, ("help",), False)
    )
    slack.start()
    await asyncio.to_thread(link.recv)

    async def ok(request: web.Request) -> web.Response:
        await request.read()
        return web.Response()

    app = web.Application()
    app.router.add_post("/slack/events", ok)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    link.send(f"http://127.0.0.1:{port}/slack/events")
    results, *_ = await asyncio.to_thread(link.recv)
    await asyncio.to_thread(slack.join)
    await runner.cleanup()
    latencies = [ms for ms, _ in results]
    print(
        f"floor (bare aiohttp 200)  p50 {percentile(latencies, 0.5):.1f} ms, "
        f"p99 {percentile(latencies, 0.99):.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument(
        "--command", action="append", help="send only these commands (default: a mix)"
    )
    parser.add_argument(
        "--floor", action="store_true", help="also measure a bare aiohttp app, for comparison"
    )
    args = parser.parse_args()
    commands = tuple(args.command or COMMANDS)
    status = asyncio.run(run(args.requests, args.concurrency, commands))
    if args.floor:
        asyncio.run(floor(args.requests, args.concurrency))
    sys.exit(status)


if __name__ == "__main__":
    main()
