"""How fast a `/papers` slash command is acknowledged (DESIGN §6: p99 under 300 ms at 50 at once).

    .venv/bin/python benchmarks/bench_slack_ack.py [--requests 200] [--concurrency 50]

The Slack adapter runs in HTTP mode on a local port, on a real core (SQLite file, search index,
the ~360 bundled sample papers), with its Web API client pointed at the tests' fake Slack. A
separate process plays Slack: it signs each request the way Slack does and measures from just
before sending until the HTTP answer (the ack) is read. The commands mix cheap ones with a search
and a digest, whose work goes on in the background after the ack, so the acks are measured under
that load. Every command's answer must then arrive at its response_url. Progress to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).parents[1] / "tests" / "adapters" / "slack"))

from fake_slack import SIGNING_SECRET, FakeSlack, fixture  # noqa: E402
from pydantic import SecretStr  # noqa: E402

from paperbot.adapters.slack import ChannelPacer, SlackAdapter  # noqa: E402
from paperbot.delivery import Pacer  # noqa: E402
from paperbot.search import SearchIndex  # noqa: E402
from paperbot.service import Paperbot  # noqa: E402
from paperbot.settings import HttpSettings, Settings, SlackSettings  # noqa: E402
from paperbot.sources.sample import sample_papers  # noqa: E402
from paperbot.store.store import Store  # noqa: E402

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
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


# --- Slack's side, in its own process ---------------------------------------------------------


def play_slack(
    url: str, response_base: str, requests: int, concurrency: int, out: multiprocessing.Queue
) -> None:
    out.put(asyncio.run(_fire(url, response_base, requests, concurrency)))


async def _fire(
    url: str, response_base: str, requests: int, concurrency: int
) -> list[tuple[float, int]]:
    import aiohttp
    from slack_sdk.signature import SignatureVerifier

    verifier = SignatureVerifier(SIGNING_SECRET)
    gate = asyncio.Semaphore(concurrency)
    template = fixture("slack_command.json")

    async def one(session: aiohttp.ClientSession, n: int) -> tuple[float, int]:
        form = dict(template)
        form.update(
            text=COMMANDS[n % len(COMMANDS)],
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
                "X-Slack-Signature": verifier.generate_signature(timestamp=stamp, body=body),
            }
            started = time.perf_counter()
            async with session.post(url, data=body.encode(), headers=headers) as response:
                await response.read()
                return (time.perf_counter() - started) * 1000, response.status

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        # A few warm-up requests first (connection set-up, bolt's one-time auth.test).
        await asyncio.gather(*(one(session, n) for n in range(4)))
        return list(await asyncio.gather(*(one(session, n) for n in range(requests))))


# --- the bot's side ---------------------------------------------------------------------------


async def run(requests: int, concurrency: int) -> int:
    fake = await FakeSlack().start()
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(f"sqlite:///{tmp}/paperbot.sqlite")
        index = SearchIndex.open(None)
        bot = Paperbot(store, index)
        bot.delivery.pacer = Pacer(rules={})
        bot.ingest_papers(sample_papers())
        progress(f"{store.count_papers()} papers stored")
        settings = Settings(
            data_dir=Path(tmp),
            slack=SlackSettings(
                bot_token=SecretStr("xoxb-1234567890-0987654321-paperbotTESTtoken"),
                signing_secret=SecretStr(SIGNING_SECRET),
                api_base_url=fake.base_url,
            ),
            http=HttpSettings(host="127.0.0.1", port=0),
        )
        adapter = SlackAdapter.build(settings, bot, pacer=ChannelPacer(0))
        await adapter.start()
        url = f"http://127.0.0.1:{adapter.port}/slack/events"
        response_base = fake.response_url().rsplit("/", 1)[0] + "/"
        progress(f"firing {requests} signed commands, {concurrency} at once, at {url}")
        spawn = multiprocessing.get_context("spawn")
        queue: multiprocessing.Queue[list[tuple[float, int]]] = spawn.Queue()
        slack = spawn.Process(
            target=play_slack, args=(url, response_base, requests, concurrency, queue)
        )
        started = time.perf_counter()
        slack.start()
        results: list[tuple[float, int]] = await asyncio.to_thread(queue.get)
        await asyncio.to_thread(slack.join)
        await fake.wait_for_responses(requests + 4, timeout=300)
        answered = time.perf_counter() - started
        await adapter.stop()
        await fake.close()
        index.close()
        store.close()

    latencies = [ms for ms, _ in results]
    statuses = {status for _, status in results}
    p50, p99 = percentile(latencies, 0.50), percentile(latencies, 0.99)
    print(f"requests           {len(results)} ({concurrency} concurrent), HTTP {sorted(statuses)}")
    print(f"ack latency p50    {p50:7.1f} ms")
    print(f"ack latency p99    {p99:7.1f} ms   (target < {TARGET_P99_MS:.0f} ms)")
    print(f"ack latency max    {max(latencies):7.1f} ms   mean {statistics.mean(latencies):.1f} ms")
    print(f"all answered via response_url in {answered:.1f} s")
    ok = statuses == {200} and p99 < TARGET_P99_MS
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=50)
    args = parser.parse_args()
    sys.exit(asyncio.run(run(args.requests, args.concurrency)))


if __name__ == "__main__":
    main()
