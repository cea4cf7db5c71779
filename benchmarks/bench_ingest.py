"""Ingest throughput: parse + upsert + search-index a large arXiv metadata dump through
`paperbot.backfill.backfill` into a SQLite file and the tantivy index (DESIGN §6: at least 80 % of
the search index's own rate, measured in the same run on the same papers).

    .venv/bin/python benchmarks/bench_ingest.py [--papers 200000] [--workdir DIR] [--gzip]

The dump is generated once in the public dump's format (see corpus.arxiv_dump_line) and kept
in the work directory. Printed beside the target: the same run's stages (parse alone; parse and
store without the search index) and a straightforward baseline measured in the same run on a
subset: one paper at a time through the store's ordinary upsert (a transaction each), the
search index caught up once at the end. Peak RSS is reported. Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import gzip
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import psutil

from corpus import arxiv_dump_line, synthetic_papers
from paperbot.backfill import BATCH_SIZE, backfill, paper_from_line
from paperbot.search import SearchIndex
from paperbot.store.store import Store

TARGET = 20_000  # papers per second: the former target, still printed for comparison
TARGET_SHARE = 0.80  # of the index-alone rate on the same papers, measured in the same run


class Peak:
    """Peak resident memory, sampled at every progress callback."""

    def __init__(self) -> None:
        self.process = psutil.Process(os.getpid())
        self.mb = 0.0

    def sample(self) -> float:
        self.mb = max(self.mb, self.process.memory_info().rss / 2**20)
        return self.mb


def progress(message: str) -> None:
    print(f"[bench_ingest] {message}", file=sys.stderr, flush=True)


def make_dump(path: Path, count: int, compress: bool) -> None:
    progress(f"writing a {count:,}-paper dump to {path}")
    opener = gzip.open if compress else open
    with opener(path, "wt", encoding="utf-8") as out:  # type: ignore[operator]
        for n, paper in enumerate(synthetic_papers(count, seed=7)):
            out.write(arxiv_dump_line(paper) + "\n")
            if n % 50_000 == 0 and n:
                progress(f"  {n:,} lines")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--papers", type=int, default=200_000)
    parser.add_argument("--baseline-papers", type=int, default=5_000)
    parser.add_argument("--stage-papers", type=int, default=50_000, help="for the stage split")
    parser.add_argument("--workdir", type=Path, default=None, help="keeps the generated dump")
    parser.add_argument("--gzip", action="store_true", help="read a .jsonl.gz dump")
    args = parser.parse_args()

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="paperbot-bench-ingest-"))
    workdir.mkdir(parents=True, exist_ok=True)
    dump = workdir / f"arxiv-{args.papers}.jsonl{'.gz' if args.gzip else ''}"
    if not dump.exists():
        make_dump(dump, args.papers, args.gzip)
    size_mb = dump.stat().st_size / 2**20
    peak = Peak()

    run = workdir / "run"
    shutil.rmtree(run, ignore_errors=True)
    run.mkdir()
    store = Store.open(f"sqlite:///{run / 'paperbot.sqlite'}")
    search = SearchIndex.open(run / "search")
    total = args.papers
    shown = [0.0]

    def report(papers: int, file_bytes: int) -> None:
        peak.sample()
        if time.perf_counter() - shown[0] > 5:
            shown[0] = time.perf_counter()
            progress(f"  {papers:,}/{total:,} papers, {file_bytes / 2**20:,.0f} MB read")

    progress(f"backfill: {dump.name} ({size_mb:,.0f} MB) into SQLite + tantivy")
    result = backfill(store, dump, search, progress=report)
    assert store.count_papers() == args.papers and search.num_docs == args.papers
    # The index alone is timed up to its closing merges; so is the backfill (as `paperbot
    # backfill` exits only after them).
    started = time.perf_counter()
    search.close()
    closing = time.perf_counter() - started
    backfill_seconds = result.seconds + closing
    full_rate = result.papers / backfill_seconds
    store.close()

    progress(f"the search index alone on the same {args.papers:,} papers (parsed untimed)")
    alone_rate, alone_seconds = _index_alone(dump, workdir, args.papers)

    progress(f"stages on the first {args.stage_papers:,} papers")
    parse_rate, parse_cpu = _parse_rate(dump, args.stage_papers)
    store_rate, store_cpu = _store_rate(dump, workdir, args.stage_papers)
    index_rate, index_cpu = _index_rate(dump, workdir, args.stage_papers)

    progress(f"baseline: {args.baseline_papers:,} papers one at a time")
    baseline_rate = _baseline_rate(dump, workdir, args.baseline_papers)
    peak.sample()

    print()
    kind = " (gzip)" if args.gzip else ""
    print(f"ingest: {args.papers:,} papers from a {size_mb:,.0f} MB dump{kind}")
    share = full_rate / alone_rate
    verdict = "MET" if share >= TARGET_SHARE else "MISSED"
    print(
        f"  backfill (parse + upsert + index): {full_rate:,.0f} papers/s ({backfill_seconds:.1f} s,"
        f" of which {closing:.1f} s waiting for the index's closing merges);"
        f" the search index alone on the same papers: {alone_rate:,.0f} papers/s "
        f"({alone_seconds:.1f} s) -> backfill at {share:.0%} of it, target >= "
        f"{TARGET_SHARE:.0%} -> {verdict} (the former {TARGET:,}/s: "
        f"{'met' if full_rate > TARGET else 'not met'})"
    )
    print(
        f"  stages: parse alone {parse_rate:,.0f}/s; parse + store (no index) {store_rate:,.0f}/s;"
        f" search index alone (parsed papers in) {index_rate:,.0f}/s"
    )
    budget = os.cpu_count() or 1
    storing = store_cpu - parse_cpu
    print(
        f"  CPU per paper (all threads): parse {parse_cpu:.0f} us + store {storing:.0f} us + "
        f"search index {index_cpu:.0f} us = {store_cpu + index_cpu:.0f} us; "
        f"{TARGET:,}/s on {budget} cores allows {budget * 1e6 / TARGET:.0f} us"
    )
    print(
        f"  baseline: one paper per transaction, index caught up at the end: "
        f"{baseline_rate:,.0f} papers/s on {args.baseline_papers:,} -> backfill "
        f"{full_rate / baseline_rate:.1f}x faster"
    )
    print(f"  peak RSS: {peak.mb:.0f} MB")
    print(f"  machine load average: {os.getloadavg()}")


def _lines(dump: Path, count: int) -> list[bytes]:
    opener = gzip.open if dump.suffix == ".gz" else open
    with opener(dump, "rb") as handle:  # type: ignore[operator]
        return [line for _, line in zip(range(count), handle, strict=False)]


def _cpu_seconds() -> float:
    """CPU time of this process, every thread (tantivy indexes in threads of its own)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _parse_rate(dump: Path, count: int) -> tuple[float, float]:
    """(papers/s, CPU microseconds per paper) of parsing alone."""
    lines = _lines(dump, count)
    started, cpu = time.perf_counter(), _cpu_seconds()
    for line in lines:
        paper_from_line(line)
    return len(lines) / (time.perf_counter() - started), (_cpu_seconds() - cpu) / len(lines) * 1e6


def _store_rate(dump: Path, workdir: Path, count: int) -> tuple[float, float]:
    """(papers/s, CPU microseconds per paper) of a backfill without the search index."""
    part = workdir / "stage.jsonl"
    part.write_bytes(b"".join(_lines(dump, count)))
    target = workdir / "stage.sqlite"
    target.unlink(missing_ok=True)
    store = Store.open(f"sqlite:///{target}")
    cpu = _cpu_seconds()
    result = backfill(store, part)
    store.close()
    return result.per_second, (_cpu_seconds() - cpu) / result.papers * 1e6


def _index_rate(dump: Path, workdir: Path, count: int) -> tuple[float, float]:
    """(papers/s, CPU microseconds per paper) of the search index alone, fed parsed papers in
    the batches backfill uses, background merges included."""
    papers = [paper_from_line(line) for line in _lines(dump, count)]
    target = workdir / "stage-search"
    shutil.rmtree(target, ignore_errors=True)
    search = SearchIndex.open(target)
    started, cpu = time.perf_counter(), _cpu_seconds()
    for start in range(0, len(papers), BATCH_SIZE):
        search.index_papers(papers[start : start + BATCH_SIZE])
    search.close()
    seconds = time.perf_counter() - started
    return len(papers) / seconds, (_cpu_seconds() - cpu) / len(papers) * 1e6


def _index_alone(dump: Path, workdir: Path, count: int) -> tuple[float, float]:
    """(papers/s, seconds) of the search index alone on `count` papers in backfill's batches:
    parsing is done first and not timed; commits and the final merges are."""
    target = workdir / "alone-search"
    shutil.rmtree(target, ignore_errors=True)
    search = SearchIndex.open(target)
    seconds = 0.0
    opener = gzip.open if dump.suffix == ".gz" else open
    with opener(dump, "rb") as handle:  # type: ignore[operator]
        done = 0
        while done < count:
            lines = [
                line for _, line in zip(range(min(BATCH_SIZE, count - done)), handle, strict=False)
            ]
            if not lines:
                break
            papers = [paper_from_line(line) for line in lines]
            started = time.perf_counter()
            search.index_papers(papers, rev=done + len(papers))
            seconds += time.perf_counter() - started
            done += len(papers)
    started = time.perf_counter()
    search.close()
    seconds += time.perf_counter() - started
    shutil.rmtree(target, ignore_errors=True)
    return done / seconds, seconds


def _baseline_rate(dump: Path, workdir: Path, count: int) -> float:
    base = workdir / "baseline"
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir()
    store = Store.open(f"sqlite:///{base / 'paperbot.sqlite'}")
    search = SearchIndex.open(base / "search")
    lines = _lines(dump, count)
    started = time.perf_counter()
    for line in lines:
        store.upsert_papers([paper_from_line(line)])
    search.catch_up(store)
    rate = len(lines) / (time.perf_counter() - started)
    search.close()
    store.close()
    return rate


if __name__ == "__main__":
    main()
