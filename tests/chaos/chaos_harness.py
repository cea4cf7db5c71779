"""The chaos run: real `paperbot run` processes against the fake Slack, SIGKILLed at seeded
random points while the fake refuses connections, drops answers, answers 5xx and storms 429s.

The harness (this process) owns the fake Slack, so the channels outlive every bot process. Each
round sends signed `/papers digest` or `/papers more` commands for a few channels to a random
instance, injects the round's faults, waits until the fake has seen a random number of further
post attempts (or a random moment), SIGKILLs one instance and restarts it. After the rounds the
faults stop and every channel is drained; then what the channels show is compared with what the
database says matched:

- lost: a matched paper neither in its channel nor named as uncertain (nor still pending);
- doubled: a paper posted twice to a channel;
- header mismatches: a digest header whose list is not exactly the papers in its thread.

Used by tests/chaos/test_chaos.py (bounded, in CI) and benchmarks/bench_chaos.py (long).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).parents[1] / "adapters" / "slack"))

from chaos_report import ChaosReport, KillPoint, listed_papers, matched_pairs, thread_papers
from fake_slack import BOT_TOKEN, SIGNING_SECRET, TEAM, FakeSlack, Fault
from slack_requests import SlackSender

from paperbot.models import ChannelKey
from paperbot.search import SearchIndex
from paperbot.service import Paperbot
from paperbot.sources.sample import sample_papers
from paperbot.store.store import PostState, Store
from paperbot.testing import make_paper

TOPICS = ("alpha", "beta", "gamma", "delta", "epsilon", "zeta")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Instance:
    """One `paperbot run` process, restartable on the same port and data directory."""

    def __init__(self, number: int, workdir: Path, db_url: str, fake: FakeSlack) -> None:
        self.number = number
        self.port = free_port()
        self.data_dir = workdir / f"instance{number}"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log = self.data_dir / "bot.log"
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("PAPERBOT_")},
            "PAPERBOT_DATA_DIR": str(self.data_dir),
            "PAPERBOT_DATABASE__URL": db_url,
            "PAPERBOT_SLACK__BOT_TOKEN": BOT_TOKEN,
            "PAPERBOT_SLACK__SIGNING_SECRET": SIGNING_SECRET,
            "PAPERBOT_SLACK__API_BASE_URL": fake.base_url,
            "PAPERBOT_HTTP__HOST": "127.0.0.1",
            "PAPERBOT_HTTP__PORT": str(self.port),
            "PAPERBOT_SOURCES__HF__ENABLED": "false",
            "PAPERBOT_SOURCES__ARXIV__ENABLED": "false",
        }
        self.proc: subprocess.Popen[bytes] | None = None
        self.sender = SlackSender(f"http://127.0.0.1:{self.port}/slack/events", fake)

    async def start(self, timeout: float = 60.0) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "paperbot.cli", "run"],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession() as session:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"instance {self.number} exited: see {self.log}")
                with contextlib.suppress(aiohttp.ClientError):
                    async with session.get(f"http://127.0.0.1:{self.port}/healthz") as r:
                        await r.read()
                        return
                await asyncio.sleep(0.1)
        raise RuntimeError(f"instance {self.number} never answered /healthz")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)  # reaped, so its leases count as a dead owner's

    async def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.to_thread(self.proc.wait, 20)
            except subprocess.TimeoutExpired:
                self.kill()
        await self.sender.close()


class ChaosRun:
    def __init__(
        self,
        workdir: Path,
        db_url: str,
        *,
        kills: int,
        instances: int = 1,
        channels: int = 4,
        papers_per_channel: int = 30,
        digest_size: int = 6,
        seed: int = 11,
        backend: str = "sqlite",
        progress: bool = False,
    ) -> None:
        self.progress = progress
        self.workdir = workdir
        self.db_url = db_url
        self.kills = kills
        self.instance_count = instances
        self.keys = [ChannelKey("slack", TEAM, f"C0CHAOS{n:02d}") for n in range(channels)]
        self.papers_per_channel = papers_per_channel
        self.digest_size = digest_size
        self.rng = random.Random(seed)
        self.report = ChaosReport(backend, instances, channels)
        self.fake = FakeSlack(real_time_ts=True)
        self.instances: list[Instance] = []
        self.interrupted_urls: list[str] = []

    # --- setting up ---------------------------------------------------------------------

    async def prepare(self) -> None:
        """Channels subscribed to their topics; papers matching one or two channels each."""
        store = Store.open(self.db_url)
        search = SearchIndex.open(None)
        try:
            bot = Paperbot(store, search)
            for n, key in enumerate(self.keys):
                await bot.subscribe(key, f"chaos{TOPICS[n % len(TOPICS)]}{n}", "U0CHAOS")
                await bot.update_settings(key, max_items=self.digest_size, digest_days=())
            titles = [p.title for p in sample_papers()]
            papers = []
            count = self.papers_per_channel * len(self.keys) * 2 // 3
            for i in range(count):
                first = i % len(self.keys)
                tags = {first} | ({(first + 1) % len(self.keys)} if i % 2 else set())
                words = " ".join(f"chaos{TOPICS[t % len(TOPICS)]}{t}" for t in sorted(tags))
                papers.append(
                    make_paper(
                        titles[i % len(titles)],
                        f"A study in {words}.",
                        arxiv_id=f"2612.{i + 1:05d}",
                    )
                )
            await asyncio.to_thread(bot.ingest_papers, papers)
        finally:
            search.close()
            store.close()

    # --- the run --------------------------------------------------------------------------

    async def run(self) -> ChaosReport:
        started = time.monotonic()
        # The fake drops connections on purpose; aiohttp's server would log each as an error.
        logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)
        await self.fake.start()
        try:
            await self.prepare()
            self.instances = [
                Instance(n, self.workdir, self.db_url, self.fake)
                for n in range(self.instance_count)
            ]
            for instance in self.instances:
                await instance.start()
            for number in range(self.kills):
                await self.round(number)
                if self.progress and (number + 1) % 10 == 0:
                    print(
                        f"  ... {number + 1} kills, {time.monotonic() - started:.0f} s, "
                        f"{len(self.fake.posted_papers())} paper posts so far",
                        file=sys.stderr,
                        flush=True,
                    )
            await self.drain()
            await self.check()
        finally:
            for instance in self.instances:
                await instance.stop()
            await self.fake.back_up()
            await self.fake.close()
        self.report.outages = list(self.fake.refused_windows)
        self.report.seconds = time.monotonic() - started
        return self.report

    async def round(self, number: int) -> None:
        rng = self.rng
        attempts_before = self.fake._post_attempts
        self.inject_faults(attempts_before)
        outage = None
        if rng.random() < 0.25:
            outage = asyncio.create_task(self.outage(rng.uniform(0, 2), rng.uniform(0.5, 4)))
        commands = []
        for key in rng.sample(self.keys, k=rng.randint(1, min(3, len(self.keys)))):
            instance = rng.choice(self.instances)
            command = "more" if rng.random() < 0.35 else "digest"
            url = self.fake.response_url()
            commands.append(url)
            body = instance.sender.command_body(command, channel_id=key.channel, response_url=url)
            with contextlib.suppress(aiohttp.ClientError):
                await instance.sender.post(body, "application/x-www-form-urlencoded")
        victim = rng.choice(self.instances)
        began = time.monotonic()
        if rng.random() < 0.8:
            target = rng.randint(0, 12)
            deadline = began + 20
            while self.fake._post_attempts - attempts_before < target:
                if time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.005)
            point = KillPoint(number, victim.number, target, time.monotonic() - began)
        else:
            await asyncio.sleep(rng.uniform(0, 1.5))
            point = KillPoint(number, victim.number, None, time.monotonic() - began)
        victim.kill()
        self.report.kill_points.append(point)
        answered = {r["_url"] for r in self.fake.responses}
        self.interrupted_urls += [url for url in commands if url not in answered]
        if outage is not None:
            await outage
        self.fake.faults = []
        self.fake.rate_limited_attempts = set()
        await victim.start()

    def inject_faults(self, attempts_before: int) -> None:
        """This round's faults on the next post attempts: drops, 5xx, slow answers, 429s."""
        rng = self.rng
        faults = []
        for _ in range(rng.choice((0, 0, 1, 2, 3))):
            kind = rng.choice(("reset", "5xx", "slow"))
            applied = rng.random() < 0.5
            at = attempts_before + rng.randint(1, 12)
            faults.append(Fault({at}, kind, applied=applied, delay=1.5))
            self.report.faults[f"{kind}{' after posting' if applied else ''}"] += 1
        self.fake.faults = faults
        if rng.random() < 0.2:  # a storm of 429s
            start = attempts_before + rng.randint(1, 8)
            storm = set(range(start, start + rng.randint(3, 8)))
            self.fake.rate_limited_attempts = storm
            self.fake.retry_after = 1
            self.report.faults["429"] += len(storm)

    async def outage(self, after: float, seconds: float) -> None:
        await asyncio.sleep(after)
        await self.fake.back_up()
        await self.fake.refuse_connections(seconds)
        await self.fake.back_up()

    async def drain(self, patience: int = 10) -> None:
        """No more faults: ask every channel for its digest, and for more, until all is out.
        It goes on while papers still go out (a long run leaves hundreds per channel); only
        `patience` rounds in a row that post nothing end it with channels still waiting."""
        self.fake.faults = []
        self.fake.rate_limited_attempts = set()
        await self.fake.back_up()
        waiting = set(self.keys)

        async def drained(key: ChannelKey, instance: Instance) -> bool:
            busy = False
            done_with = []
            for command in ("digest", "more"):
                answer = await self.ask(instance, key, command)
                done_with.append("Nothing new" in answer or "No more matched" in answer)
                if command == "more" and "no digest today" in answer:
                    done_with[-1] = True  # nothing was posted today: nothing to add to
                busy |= "another worker" in answer
            return all(done_with) and not busy

        idle = 0
        while waiting and idle < patience:
            posted = len(self.fake.posted_papers())
            keys = sorted(waiting, key=str)
            results = await asyncio.gather(
                *(drained(key, self.rng.choice(self.instances)) for key in keys)
            )
            waiting -= {key for key, done in zip(keys, results, strict=True) if done}
            idle = idle + 1 if len(self.fake.posted_papers()) == posted else 0
            await asyncio.sleep(0.2)
        if waiting:
            self.report.problems.append(f"channels never drained: {sorted(map(str, waiting))}")

    async def ask(self, instance: Instance, key: ChannelKey, command: str) -> str:
        url = self.fake.response_url()
        body = instance.sender.command_body(command, channel_id=key.channel, response_url=url)
        await instance.sender.post(body, "application/x-www-form-urlencoded")
        await self.fake.wait_for(
            lambda: any(r["_url"] == url for r in self.fake.responses), timeout=600
        )
        answer = next(r for r in self.fake.responses if r["_url"] == url)
        return str(answer.get("text", ""))

    # --- the verdict ----------------------------------------------------------------------

    async def check(self) -> None:
        report = self.report
        store = Store.open(self.db_url)
        try:
            matched = await asyncio.to_thread(matched_pairs, store, self.keys)
            for key in self.keys:
                shown = Counter(self._paper_posts(key.channel))
                ledger = {e.paper_id: e.state for e in store.ledger(key)}
                uncertain = {p for p, s in ledger.items() if s == PostState.UNCERTAIN}
                pending = {p for p, s in ledger.items() if s == PostState.PENDING}
                report.matched += len(matched[key])
                report.posts += sum(shown.values())
                report.doubled += sum(n - 1 for n in shown.values() if n > 1)
                report.uncertain += len(uncertain)
                report.pending += len(pending)
                missing = matched[key] - set(shown) - uncertain - pending
                report.lost += len(missing)
                if missing:
                    report.problems.append(f"{key}: lost {sorted(missing)[:5]}")
                for header in self._headers(key.channel):
                    report.headers += 1
                    listed, thread = listed_papers(header), thread_papers(header)
                    if sorted(listed) != sorted(thread):
                        report.header_mismatches += 1
                        report.problems.append(
                            f"{key}: header {header['ts']} lists {len(listed)}, thread holds "
                            f"{len(thread)}"
                        )
        finally:
            store.close()
        answered = {r["_url"] for r in self.fake.responses}
        report.requesters_interrupted = len(self.interrupted_urls)
        report.requesters_answered = sum(url in answered for url in self.interrupted_urls)

    def _headers(self, channel: str) -> list[dict[str, Any]]:
        return [
            m
            for m in self.fake.messages.get(channel, [])
            if (m.get("metadata") or {}).get("event_type") == "paperbot_digest"
        ]

    def _paper_posts(self, channel: str) -> list[str]:
        return self.fake.posted_papers(channel)
