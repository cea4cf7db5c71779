"""Resident memory of the running bot with a million papers stored (DESIGN §6: under 300 MB).

    .venv/bin/python benchmarks/bench_memory.py [--papers 1000000] [--subscriptions 1000]
        [--workdir DIR] [--rounds 2] [--varied 200] [--settle 5] [--timeout 600] [--skip-baseline]
        [--env NAME=VALUE ...]

Builds once, and keeps in the work directory, a store laid out as `paperbot run` finds it under
its data_dir: a SQLite file and a tantivy search index holding --papers papers, backfilled with
`paperbot.backfill.backfill` from a synthetic arXiv dump (bench_ingest.make_dump, corpus.py),
plus --subscriptions subscriptions over channels of about 20 (corpus.synthetic_subscriptions),
stored through the Store as `/papers subscribe` stores them.

Then the real bot runs on a fresh copy of that store: `paperbot run` with no chat token, so on
the console channel, its sources pointed at a closed local port (nothing is fetched) and
PAPERBOT_ variables removed from its environment (--env adds variables, MALLOC_ARENA_MAX=1 say).
Its start includes what the console does first: ingesting three days of the bundled sample
papers through the ordinary ingest (search index writer, subscription index, matches). It is
driven through stdin like a user, each answer awaited on stdout: subscribe, searches (very
common words, phrases, since:/author:/cat: filters) repeated --rounds times, then --varied
different searches (topics of every field, as many users would ask over days: each new word
maps more of the index), the digest, a vote, top.

The bot's /proc/<pid>/status is read after every answer: VmRSS (total resident), RssAnon
(anonymous: Python objects, SQLite and tantivy memory), RssFile (mapped files: search index
pages and shared libraries, which the kernel can drop and read again) and VmHWM (peak); RssAnon
is also sampled every 50 ms for its peak, and /proc/<pid>/smaps splits the resident memory by
mapping at the start and the end. The baseline, in the same run, is the same session on a store
with the same subscriptions and no backfilled papers: the bot's floor. Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import corpus
from bench_ingest import make_dump
from paperbot.backfill import backfill
from paperbot.errors import InvalidInput
from paperbot.models import ChannelKey, ChannelSettings
from paperbot.query import parse
from paperbot.search import SearchIndex
from paperbot.search.analysis import SCHEMA_VERSION
from paperbot.settings import Settings
from paperbot.store.database import head_revision
from paperbot.store.store import Store

TARGET_MB = 300.0
PROMPT = b"\n> "  # the console's prompt, printed without a newline after each answer
SAMPLE_SECONDS = 0.05
CLOSED_PORT_URL = "http://127.0.0.1:9"  # discard port, nothing listens: any fetch fails at once

# What a user types, phase by phase. The corpus's papers are dated 2024 (corpus.synthetic_papers);
# the sample papers the console loads are dated today.
SUBSCRIBE = (
    "/papers subscribe diffusion",
    '/papers subscribe "language model"',
    "/papers subscribe model",
    "/papers list",
    "/papers subscribe --preview learning",
)
SEARCHES = (
    "/papers search learning",
    "/papers search model",
    "/papers search data",
    '/papers search "language model"',
    '/papers search "reinforcement learning" policy',
    "/papers search diffusion model since:2024-03-01",
    "/papers search world model since:30d",
    '/papers search learning author:"Ada Lovelace"',
    '/papers search author:"Wei Zhang"',
    "/papers search model cat:cs.CL",
    '/papers search "large language models" cat:cs.LG since:2024-02',
    "/papers search transformer attention graph neural network optimization benchmark",
)
DIGEST = ("/papers digest",)
AFTER_DIGEST = ("+m2", "/papers top week", "/papers top all", "/papers settings", "/papers help")


def varied_searches(count: int, seed: int = 3) -> list[str]:
    """`count` different searches: one to three topics of a field (corpus.topics in the field's
    own words, as its channels subscribe), a quarter of them with a since: or cat: filter."""
    rng = random.Random(seed)
    known = corpus.topics()
    out: list[str] = []
    while len(out) < count:
        home = corpus.field(rng.choice(list(corpus.FIELDS)))
        words = " ".join(home.topical(rng.choice(known)) for _ in range(rng.randint(1, 3)))
        extra = rng.choice(
            ("", "", "", "", " since:2024-04", f" cat:{rng.choice(home.categories)}")
        )
        if len(words + extra) <= 90:  # the command's argument takes at most 100 characters
            out.append(f"/papers search {words}{extra}")
    return out


def progress(message: str) -> None:
    print(f"[bench_memory] {message}", file=sys.stderr, flush=True)


def mb(path: Path) -> float:
    """Size on disk of a file, or of everything under a directory."""
    if path.is_file():
        return path.stat().st_size / 2**20
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20


# --- the store ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Layout:
    """Where `paperbot run` looks under a data_dir (asked of Settings, not hard-coded)."""

    data_dir: Path

    @property
    def settings(self) -> Settings:
        return Settings.model_construct(data_dir=self.data_dir)  # defaults only, no environment

    @property
    def database_url(self) -> str:
        return self.settings.database_url

    @property
    def database(self) -> Path:
        return Path(self.database_url.removeprefix("sqlite:///"))

    @property
    def search_index(self) -> Path:
        return self.settings.search_index_dir


def build_store(workdir: Path, papers: int, subscriptions: int) -> tuple[Layout, dict[str, int]]:
    """The store with `papers` backfilled papers and `subscriptions` subscriptions, built once;
    a build that did not finish, or was made for another schema, is built again. Returns where
    it is and what it holds (papers, subscriptions, channels)."""
    target = workdir / f"store-{papers}-papers-{subscriptions}-subscriptions"
    marker = target / "built.json"
    layout = Layout(target / "data")
    wanted = {"search_schema": SCHEMA_VERSION, "migration": head_revision()}
    if marker.exists():
        built = json.loads(marker.read_text())
        if built.get("versions") == wanted and "holds" in built:
            progress(f"reusing the store in {target}")
            return layout, built["holds"]
    shutil.rmtree(target, ignore_errors=True)
    dump = workdir / f"arxiv-{papers}.jsonl"  # bench_ingest's name: its dumps are reused
    if not dump.exists():
        make_dump(dump, papers, compress=False)
    started = time.perf_counter()
    store = Store.open(layout.database_url)
    search = SearchIndex.open(layout.search_index)
    shown = [started]

    def report(done: int, read: int) -> None:
        now = time.perf_counter()
        if now - shown[0] > 10:
            shown[0] = now
            rate = done / (now - started)
            eta = (papers - done) / rate if rate else 0.0
            progress(f"  {done:,}/{papers:,} papers, {rate:,.0f}/s, about {eta:,.0f} s to go")

    try:
        progress(f"backfill: {dump.name} ({mb(dump):,.0f} MB) into {layout.data_dir}")
        result = backfill(store, dump, search, progress=report)
        progress(f"  {result.papers:,} papers in {result.seconds:,.0f} s")
        assert store.count_papers() == papers and search.num_docs == papers
        stored, channels = add_subscriptions(store, subscriptions)
    finally:
        search.close()  # waits for tantivy's merges, as `paperbot backfill` does
        store.close()
    holds = {"papers": papers, "subscriptions": stored, "channels": channels}
    marker.write_text(json.dumps({"holds": holds, "versions": wanted}))
    return layout, holds


def add_subscriptions(store: Store, count: int) -> tuple[int, int]:
    """Store `count` synthetic subscriptions as `/papers subscribe` does (canonical queries; a
    query a channel already follows is refused); returns (subscriptions, channels)."""
    if count <= 0:
        return 0, 0
    progress(f"storing {count:,} subscriptions")
    defaults = ChannelSettings()
    channels: set[ChannelKey] = set()
    stored = 0
    for subscription in corpus.synthetic_subscriptions(count):
        try:
            canonical = str(parse(subscription.query))
        except InvalidInput:
            continue
        if subscription.channel not in channels:
            store.ensure_channel(subscription.channel, defaults)
            channels.add(subscription.channel)
        if store.add_subscription(subscription.channel, canonical, "bench") is not None:
            stored += 1
    progress(f"  {stored:,} subscriptions in {len(channels):,} channels")
    return stored, len(channels)


def write_config(run: Path, layout: Layout, max_resident_mb: int | None) -> Path:
    """A config for the console bot on `layout`, with every source on a closed local port
    (and the search index's memory budget, if given; else the bot's default)."""
    config = run / "config.toml"
    quoted = json.dumps  # a JSON string is a valid TOML basic string
    config.write_text(
        f"data_dir = {quoted(str(layout.data_dir))}\n"
        "[sources.hf]\n"
        f"base_url = {quoted(CLOSED_PORT_URL)}\n"
        "[sources.arxiv]\n"
        f"rss_base_url = {quoted(CLOSED_PORT_URL)}\n"
        f"api_base_url = {quoted(CLOSED_PORT_URL)}\n"
        "[http]\n"
        'host = "127.0.0.1"\n'
        "port = 0\n"
        + ("" if max_resident_mb is None else f"[search]\nmax_resident_mb = {max_resident_mb}\n")
    )
    return config


# --- the bot's memory -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Memory:
    """One reading of /proc/<pid>/status, in MB."""

    rss: float  # VmRSS: all resident pages
    anon: float  # RssAnon
    file: float  # RssFile + RssShmem: mapped files (index, libraries; tmpfs counts as shmem)
    hwm: float  # VmHWM: the peak of VmRSS so far

    @classmethod
    def of(cls, pid: int) -> Memory:
        kb: dict[str, int] = {}
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name in ("VmRSS", "RssAnon", "RssFile", "RssShmem", "VmHWM"):
                kb[name] = int(value.split()[0])
        return cls(
            rss=kb["VmRSS"] / 1024,
            anon=kb["RssAnon"] / 1024,
            file=(kb["RssFile"] + kb["RssShmem"]) / 1024,
            hwm=kb["VmHWM"] / 1024,
        )


class PeakSampler:
    """Samples the bot's RssAnon in the background (VmHWM has no anonymous twin)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.anon = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(SAMPLE_SECONDS):
            try:
                memory = Memory.of(self.pid)
            except (OSError, KeyError, ValueError):
                return  # the process is gone
            self.anon = max(self.anon, memory.anon)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


_MAPPING = re.compile(r"^[0-9a-f]+-[0-9a-f]+ ")


def resident_by_mapping(pid: int, layout: Layout) -> Counter[str]:
    """Resident kB by what is mapped (/proc/<pid>/smaps): index files, SQLite files, libraries,
    the brk heap, anonymous mappings (Python arenas, malloc's mmaps, thread stacks)."""
    totals: Counter[str] = Counter()
    kind = "anonymous mappings"
    index, database = str(layout.search_index), str(layout.database)
    with open(f"/proc/{pid}/smaps", encoding="utf-8", errors="replace") as smaps:
        for line in smaps:
            if _MAPPING.match(line):
                parts = line.split(maxsplit=5)
                path = parts[5].strip() if len(parts) > 5 else ""
                if path.startswith(index):
                    kind = "search index files"
                elif path.startswith(database):
                    kind = "SQLite files"
                elif path == "[heap]":
                    kind = "heap (brk)"
                elif not path or path.startswith("["):
                    kind = "anonymous mappings"
                elif ".so" in path:
                    kind = "shared libraries"
                else:
                    kind = "other files"
            elif line.startswith("Rss:"):
                totals[kind] += int(line.split()[1])
    return totals


# --- the bot as a subprocess ----------------------------------------------------------------


def paperbot_command() -> list[str]:
    """`paperbot` next to this Python (the venv's), as the README runs it."""
    beside = Path(sys.executable).parent / "paperbot"
    found = str(beside) if beside.exists() else shutil.which("paperbot")
    if found is None:
        sys.exit("bench_memory: no paperbot command; pip install -e . first")
    return [found]


class ConsoleBot:
    """`paperbot run` on the console channel; stdout is read on a thread, so the prompt (which
    ends without a newline) is seen the moment it is printed."""

    def __init__(self, config: Path, cwd: Path, log: Path, extra_env: dict[str, str]) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERBOT_")}
        env["PYTHONUNBUFFERED"] = "1"
        env.update(extra_env)
        self.log_path = log
        self._log = log.open("wb")
        self.process = subprocess.Popen(
            [*paperbot_command(), "run", "--config", str(config)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            cwd=cwd,
            env=env,
        )
        self.pid = self.process.pid
        self._output = bytearray()
        self._answered = 0  # bytes of output already returned as answers
        self._closed = False
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        stdout: IO[bytes] | None = self.process.stdout
        assert stdout is not None
        while chunk := os.read(stdout.fileno(), 65536):
            with self._changed:
                self._output += chunk
                self._changed.notify_all()
        with self._changed:
            self._closed = True
            self._changed.notify_all()

    def answer(self, timeout: float) -> str:
        """Everything printed from the last answer up to the next prompt."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not (len(self._output) > self._answered and self._output.endswith(PROMPT)):
                if self._closed:
                    raise RuntimeError(f"the bot exited ({self._stderr_tail()})")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"no prompt after {timeout:.0f} s ({self._stderr_tail()})")
                self._changed.wait(remaining)
            text = self._output[self._answered :].decode("utf-8", errors="replace")
            self._answered = len(self._output)
        return text.removesuffix(PROMPT.decode()).strip("\n")

    def ask(self, line: str, timeout: float) -> tuple[str, float]:
        """Type `line`; returns the answer and the seconds until the next prompt."""
        stdin = self.process.stdin
        assert stdin is not None
        started = time.perf_counter()
        stdin.write(line.encode() + b"\n")
        stdin.flush()
        return self.answer(timeout), time.perf_counter() - started

    def stop(self) -> None:
        """`quit` as a user would; terminated, then killed, if it does not leave."""
        try:
            if self.process.poll() is None:
                try:
                    assert self.process.stdin is not None
                    self.process.stdin.write(b"quit\n")
                    self.process.stdin.close()
                    self.process.wait(timeout=15)
                except (OSError, subprocess.TimeoutExpired):
                    self.process.terminate()
                    try:
                        self.process.wait(timeout=10)
                    except subprocess.TimeoutExpired:
                        self.process.kill()
                        self.process.wait()
        finally:
            self._reader.join(timeout=5)
            self._log.close()

    def _stderr_tail(self) -> str:
        self._log.flush()
        lines = self.log_path.read_text(errors="replace").strip().splitlines()
        return " | ".join(lines[-3:]) or "nothing on stderr"


# --- the session ----------------------------------------------------------------------------


@dataclass(slots=True)
class Session:
    """What one run of the bot showed: memory after each phase and each command."""

    startup_seconds: float = 0.0
    phases: list[tuple[str, Memory]] = field(default_factory=list)
    commands: list[tuple[str, float, Memory, str]] = field(default_factory=list)
    varied_seconds: list[float] = field(default_factory=list)  # answer times, varied searches
    varied_found: int = 0  # varied searches that showed papers
    sampled_anon: float = 0.0  # the peak of RssAnon sampled every SAMPLE_SECONDS
    mapped: dict[str, Counter[str]] = field(default_factory=dict)  # phase -> kB by mapping
    log_lines: list[str] = field(default_factory=list)  # the bot's warnings and errors

    @property
    def hwm(self) -> float:
        return max(memory.hwm for _, memory in self.phases)

    @property
    def peak_anon(self) -> float:
        readings = [memory for _, memory in self.phases] + [c[2] for c in self.commands]
        return max(self.sampled_anon, *(memory.anon for memory in readings))

    @property
    def end(self) -> Memory:
        return self.phases[-1][1]


def run_session(layout: Layout, run: Path, args: argparse.Namespace, label: str) -> Session:
    rounds, settle, timeout = args.rounds, args.settle, args.timeout
    config = write_config(run, layout, args.max_resident_mb)
    session = Session()
    started = time.perf_counter()
    bot = ConsoleBot(config, cwd=run, log=run / "bot-stderr.log", extra_env=dict(args.env))
    sampler = PeakSampler(bot.pid)
    try:
        bot.answer(timeout)
        session.startup_seconds = time.perf_counter() - started
        phase(session, bot, "after startup", label, layout, breakdown=True)

        def type_all(lines: Sequence[str], table: bool = True) -> None:
            for n, line in enumerate(lines, start=1):
                answer, seconds = bot.ask(line, timeout)
                if not table:
                    session.varied_seconds.append(seconds)
                    session.varied_found += bool(_ITEM.search(answer))
                    if n % 50 == 0:
                        progress(f"  [{label}] {n:,}/{len(lines):,} varied searches")
                    continue
                memory = Memory.of(bot.pid)
                said = gist(answer)
                session.commands.append((line, seconds, memory, said))
                progress(
                    f"  [{label}] {line}  ->  {said!r}  {seconds:.2f} s, "
                    f"RSS {memory.rss:.0f} MB, anon {memory.anon:.0f} MB"
                )

        type_all(SUBSCRIBE)
        phase(session, bot, "after subscribing", label, layout)
        for n in range(1, rounds + 1):
            type_all(SEARCHES)
            phase(session, bot, f"after searches, round {n}/{rounds}", label, layout)
        if args.varied:
            type_all(varied_searches(args.varied), table=False)
            phase(session, bot, f"after {args.varied:,} varied searches", label, layout)
            times = sorted(session.varied_seconds)
            session.commands.append(
                (
                    f"({len(times):,} varied searches, not listed)",
                    sum(times),
                    session.phases[-1][1],
                    f"{session.varied_found:,} found papers; median {times[len(times) // 2]:.2f}"
                    f" s, slowest {times[-1]:.2f} s",
                )
            )
        type_all(DIGEST)
        phase(session, bot, "after the digest", label, layout)
        type_all(AFTER_DIGEST)
        time.sleep(settle)
        phase(session, bot, f"at the end ({settle:.0f} s idle)", label, layout, breakdown=True)
    finally:
        sampler.stop()
        bot.stop()
    session.sampled_anon = sampler.anon
    session.log_lines = [
        line
        for line in (run / "bot-stderr.log").read_text(errors="replace").splitlines()
        if " WARNING " in line or " ERROR " in line or "Traceback" in line
    ]
    return session


_BOX = "─│╭╮╰╯┌┐└┘ "
_ITEM = re.compile(r"^\s*(\d+\.|\[m\d+\]) ", re.MULTILINE)


def gist(answer: str) -> str:
    """An answer in one short line: its first two lines of text and how many papers it shows."""
    lines = [line.strip(_BOX) for line in answer.splitlines()]
    text = " / ".join([line for line in lines if line][:2])
    text = text if len(text) <= 44 else text[:43] + "…"
    items = sum(bool(_ITEM.match(line)) for line in answer.splitlines())
    return f"{text} [{items} paper{'s' if items != 1 else ''}]" if items else text


def phase(
    session: Session,
    bot: ConsoleBot,
    name: str,
    label: str,
    layout: Layout,
    breakdown: bool = False,
) -> None:
    memory = Memory.of(bot.pid)
    session.phases.append((name, memory))
    if breakdown:
        session.mapped[name] = resident_by_mapping(bot.pid, layout)
    progress(
        f"[{label}] {name}: RSS {memory.rss:.0f} MB (anon {memory.anon:.0f}, "
        f"file {memory.file:.0f}), peak {memory.hwm:.0f} MB"
    )


def fresh_copy(layout: Layout, run: Path) -> Layout:
    """A copy of the built store for the bot to change (it ingests the sample, records a
    digest), so every run starts from the same store."""
    shutil.rmtree(run, ignore_errors=True)
    run.mkdir(parents=True)
    started = time.perf_counter()
    shutil.copytree(layout.data_dir, run / "data")
    progress(f"copied the store to {run} in {time.perf_counter() - started:.0f} s")
    return Layout(run / "data")


def empty_store(run: Path, subscriptions: int) -> Layout:
    """The baseline's store: the same subscriptions, no backfilled papers, no index yet."""
    shutil.rmtree(run, ignore_errors=True)
    run.mkdir(parents=True)
    layout = Layout(run / "data")
    store = Store.open(layout.database_url)
    try:
        add_subscriptions(store, subscriptions)
    finally:
        store.close()
    return layout


# --- the report -----------------------------------------------------------------------------


def print_session(session: Session, title: str) -> None:
    print(f"  {title}: prompt ready {session.startup_seconds:.1f} s after start")
    print(f"    {'phase':<38} {'RSS':>7} {'anon':>7} {'file':>7}   (MB)")
    for name, memory in session.phases:
        print(f"    {name:<38} {memory.rss:>7.0f} {memory.anon:>7.0f} {memory.file:>7.0f}")
    print(
        f"    {'peak':<38} {session.hwm:>7.0f} {session.peak_anon:>7.0f}"
        f"           (RSS: VmHWM; anon: sampled every {SAMPLE_SECONDS * 1000:.0f} ms)"
    )
    for name, mapped in session.mapped.items():
        parts = ", ".join(
            f"{kind} {kb / 1024:.0f}" for kind, kb in mapped.most_common() if kb >= 1024
        )
        print(f"    resident by mapping {name}: {parts} (MB)")


def print_commands(session: Session) -> None:
    print(f"    {'command':<52} {'s':>5} {'RSS':>5} {'anon':>5}  answer")
    for line, seconds, memory, said in session.commands:
        shown = line if len(line) <= 52 else line[:51] + "…"
        print(f"    {shown:<52} {seconds:>5.2f} {memory.rss:>5.0f} {memory.anon:>5.0f}  {said}")


def verdict(megabytes: float) -> str:
    return "MET" if megabytes < TARGET_MB else "MISSED"


def env_pair(text: str) -> tuple[str, str]:
    name, equals, value = text.partition("=")
    if not name or not equals:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name, value


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--papers", type=int, default=1_000_000)
    parser.add_argument("--subscriptions", type=int, default=1_000)
    parser.add_argument(
        "--workdir", type=Path, default=None, help="keeps the dump and the built store"
    )
    parser.add_argument("--rounds", type=int, default=2, help="passes over the searches")
    parser.add_argument("--varied", type=int, default=200, help="different searches after those")
    parser.add_argument("--settle", type=float, default=5.0, help="idle seconds before the end")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per answer")
    parser.add_argument("--skip-baseline", action="store_true", help="no empty-store session")
    parser.add_argument(
        "--max-resident-mb",
        type=int,
        default=None,
        help="the bot's search.max_resident_mb (default: the bot's own; 0: no budget)",
    )
    parser.add_argument(
        "--env",
        type=env_pair,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="also set this in the bot's environment (to try MALLOC_ARENA_MAX=1, say)",
    )
    args = parser.parse_args()

    keep = args.workdir is not None
    workdir: Path = args.workdir or Path(tempfile.mkdtemp(prefix="paperbot-bench-memory-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        built, holds = build_store(workdir, args.papers, args.subscriptions)
        store_mb, index_mb = mb(built.database), mb(built.search_index)
        segments = len(list(built.search_index.glob("*.idx")))
        layout = fresh_copy(built, workdir / "run")
        progress(f"starting the bot on {args.papers:,} papers")
        load_before = os.getloadavg()
        main_run = run_session(layout, workdir / "run", args, f"{args.papers:,} papers")
        baseline: Session | None = None
        if not args.skip_baseline:
            progress("baseline: the same session on a store without the backfilled papers")
            empty = empty_store(workdir / "baseline", args.subscriptions)
            baseline = run_session(empty, workdir / "baseline", args, "baseline")
    finally:
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)

    print()
    print(
        f"memory: `paperbot run` (console channel, no chat token, sources on a closed local port)"
        f" with {holds['papers']:,} papers stored, and {holds['subscriptions']:,} subscriptions "
        f"in {holds['channels']:,} channels ({args.subscriptions:,} generated; a channel's "
        f"repeats refused)"
    )
    budget = Settings().search.max_resident_mb if args.max_resident_mb is None else None
    shown = args.max_resident_mb if budget is None else budget
    print(
        f"  search.max_resident_mb = {shown}"
        + (" (the default)" if budget is not None else "")
        + (": searches let go of mapped index pages past it" if shown else ": no budget")
    )
    if args.env:
        print(f"  bot environment also has: {' '.join(f'{k}={v}' for k, v in args.env)}")
    print(
        f"  on disk: SQLite {store_mb:,.0f} MB; search index {index_mb:,.0f} MB "
        f"({segments} segments)"
    )
    print_session(main_run, f"{args.papers:,} papers")
    hwm, end = main_run.hwm, main_run.end
    index_resident = main_run.mapped[main_run.phases[-1][0]]["search index files"] / 1024
    print(
        f"  target: resident memory < {TARGET_MB:.0f} MB\n"
        f"    verdict, on the peak total RSS (VmHWM): {hwm:.0f} MB -> {verdict(hwm)}\n"
        f"    on the peak anonymous RSS (RssAnon; not reclaimable without swap): "
        f"{main_run.peak_anon:.0f} MB -> would be {verdict(main_run.peak_anon)}\n"
        f"    at the end: RSS {end.rss:.0f} MB, anonymous {end.anon:.0f} MB, file-backed "
        f"{end.file:.0f} MB, of which search index pages {index_resident:.0f} MB (clean pages the "
        f"kernel can drop; without a budget they grow with the variety of searches, up to the "
        f"index's {index_mb:,.0f} MB)"
    )
    if baseline is not None:
        print_session(baseline, "baseline, same session, same subscriptions, no stored papers")
        print(
            f"  the stored papers cost: peak RSS {hwm - baseline.hwm:+.0f} MB; at the end RSS "
            f"{end.rss - baseline.end.rss:+.0f} MB, anon {end.anon - baseline.end.anon:+.0f} MB, "
            f"file {end.file - baseline.end.file:+.0f} MB"
        )
    print(f"  commands ({args.papers:,} papers): seconds to the answer, RSS and anon after (MB)")
    print_commands(main_run)
    if main_run.log_lines:
        print(f"  the bot logged {len(main_run.log_lines)} warnings or errors, the first:")
        for line in main_run.log_lines[:5]:
            print(f"    {line[:160]}")
    else:
        print("  the bot logged no warning or error")
    print(f"  machine load average: {load_before} before the bot, {os.getloadavg()} after")


if __name__ == "__main__":
    main()
