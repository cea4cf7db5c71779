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
import os
import random
import re
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import corpus
from bot_process import SAMPLE_SECONDS, ConsoleBot, Memory, PeakSampler, resident_by_mapping
from memory_store import Layout, build_store, empty_store, fresh_copy, mb, progress, write_config
from paperbot.settings import Settings

TARGET_MB = 300.0

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
        session.mapped[name] = resident_by_mapping(bot.pid, layout.search_index, layout.database)
    progress(
        f"[{label}] {name}: RSS {memory.rss:.0f} MB (anon {memory.anon:.0f}, "
        f"file {memory.file:.0f}), peak {memory.hwm:.0f} MB"
    )


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
