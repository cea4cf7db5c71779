"""Benchmark `/papers search` at scale: index a synthetic corpus shaped like real abstracts, run a
mixed query workload, and compare with SQLite FTS5 over the same papers on the same queries.

The corpus is derived from the ~360 real papers bundled with paperbot: title/abstract lengths are
drawn from theirs, text is stitched from spans of their real sentences (so real phrases such as
"large language models" keep their real frequency) mixed with words drawn from a Zipf law fitted
to their word frequencies and extended by a long tail of rare pseudo-words (a million papers
have a vocabulary far larger than 360 abstracts).

    .venv/bin/python benchmarks/bench_search.py --papers 1000000

The baseline is the engine a user would pick instead: SQLite FTS5 (porter tokenizer, the AND of
the words, quoted phrases as phrases, bm25 with the title weighted 3:1, top 10) over all the
papers. FTS5 has no since:/author:/cat: columns here, so a filtered query runs as its words
alone on FTS5: less work than paperbot does for it, which can only flatter the baseline.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import accumulate
from pathlib import Path

import psutil

from paperbot.models import Paper
from paperbot.search import CATCH_UP_BATCH, SearchIndex, parse_search
from paperbot.sources.sample import sample_papers

TARGET_P50_MS = 20.0
TARGET_P99_MS = 100.0
FTS_TITLE_WEIGHT = 3.0
TODAY = date(2025, 6, 1)
BATCH = CATCH_UP_BATCH  # papers per index_papers call and commit, as catch_up does
_WORD = re.compile(r"\w+")
_CATEGORIES = (
    *("cs.LG", "cs.CV", "cs.CL", "cs.AI", "stat.ML", "cs.RO", "cs.CR", "cs.IR", "eess.IV"),
    *("cs.NE", "math.OC", "cs.SD", "eess.AS", "cs.HC", "q-bio.QM", "physics.comp-ph"),
    *("cs.DS", "cs.SE", "econ.EM", "astro-ph.IM"),
)
_FIRST = (
    *("Wei", "Yann", "Anna", "Maria", "John", "Li", "Xin", "David", "Sara", "Ahmed", "Jose"),
    *("Olga", "Kenji", "Priya", "Lucas", "Emma", "Chen", "Ivan", "Fatima", "Noah", "Mia"),
)
_LAST = (
    *("Zhang", "Wang", "Li", "Smith", "Kumar", "Garcia", "Muller", "Ivanov", "Tanaka"),
    *("Nguyen", "Kim", "Rossi", "Silva", "Cohen", "Novak", "Okafor", "Hinton", "LeCun"),
    *("Bengio", "Schmidt", "Lopez", "Singh", "Chen", "Park", "Dubois", "Jensen"),
)


@dataclass
class CorpusModel:
    """What the generator draws from, all derived from the bundled real papers."""

    abstract_tokens: list[list[str]]
    title_tokens: list[list[str]]
    abstract_lengths: list[int]
    title_lengths: list[int]
    vocab: list[str]
    cum_weights: list[float]
    zipf_exponent: float
    real_vocab_size: int

    @classmethod
    def from_sample(cls, tail_size: int = 300_000) -> CorpusModel:
        papers = sample_papers()
        abstracts = [p.abstract.split() for p in papers]
        titles = [p.title.split() for p in papers]
        counts = Counter(w.lower() for p in papers for w in _WORD.findall(p.abstract))
        ranked = [w for w, _ in counts.most_common()]
        # Fit log f = c - s log r over the well-sampled head (ranks 1..1000).
        head = [(math.log(r), math.log(counts[w])) for r, w in enumerate(ranked[:1000], 1)]
        mean_x = statistics.fmean(x for x, _ in head)
        mean_y = statistics.fmean(y for _, y in head)
        slope = sum((x - mean_x) * (y - mean_y) for x, y in head) / sum(
            (x - mean_x) ** 2 for x, _ in head
        )
        exponent = -slope
        rng = random.Random(7)
        tail = sorted({_pseudo_word(rng) for _ in range(tail_size)})
        rng.shuffle(tail)
        vocab = ranked + tail
        weights = [r**-exponent for r in range(1, len(vocab) + 1)]
        return cls(
            abstract_tokens=abstracts,
            title_tokens=titles,
            abstract_lengths=[len(a) for a in abstracts],
            title_lengths=[len(t) for t in titles],
            vocab=vocab,
            cum_weights=list(accumulate(weights)),
            zipf_exponent=exponent,
            real_vocab_size=len(ranked),
        )


def _pseudo_word(rng: random.Random) -> str:
    syllables = rng.randint(2, 4)
    return "".join(rng.choice("bcdfgklmnprstvz") + rng.choice("aeiou") for _ in range(syllables))


class Generator:
    def __init__(self, model: CorpusModel, seed: int) -> None:
        self.model = model
        self.rng = random.Random(seed)
        self.author_weights = list(accumulate(1 / r for r in range(1, len(_LAST) + 1)))

    def _text(self, length: int, sources: list[list[str]]) -> str:
        rng, model = self.rng, self.model
        out: list[str] = []
        while len(out) < length:
            if rng.random() < 0.8:  # a span of real text
                tokens = sources[rng.randrange(len(sources))]
                span = rng.randint(4, 12)
                start = rng.randrange(max(1, len(tokens) - span))
                out.extend(tokens[start : start + span])
            else:  # words from the fitted Zipf law, rare tail included
                out.extend(rng.choices(model.vocab, cum_weights=model.cum_weights, k=3))
        return " ".join(out[:length])

    def papers(self, count: int, start: int, total: int) -> Iterator[Paper]:
        """Papers start..start+count of `total`, published evenly over three years in id order
        (as arXiv ids are), so since: filters keep their real selectivity."""
        rng, model = self.rng, self.model
        first_day = TODAY - timedelta(days=3 * 365)
        for i in range(start, start + count):
            day = first_day + timedelta(days=(i * 3 * 365) // total)
            authors = tuple(
                f"{rng.choice(_FIRST)} "
                + rng.choices(_LAST, cum_weights=self.author_weights, k=1)[0]
                for _ in range(min(12, int(rng.expovariate(1 / 4)) + 1))
            )
            primary = rng.choices(_CATEGORIES, weights=[1 / r for r in range(1, 21)], k=1)[0]
            yield Paper(
                arxiv_id=f"{2001 + i // 90_000:04d}.{10_000 + i % 90_000:05d}",  # unique
                title=self._text(rng.choice(model.title_lengths), model.title_tokens),
                abstract=self._text(rng.choice(model.abstract_lengths), model.abstract_tokens),
                authors=authors,
                categories=(primary, *((rng.choice(_CATEGORIES),) if rng.random() < 0.5 else ())),
                published_at=datetime(day.year, day.month, day.day, tzinfo=UTC),
                featured_on=day + timedelta(days=1) if rng.random() < 0.1 else None,
            )


def workload(model: CorpusModel, count: int, seed: int) -> list[tuple[str, str]]:
    """(kind, query) pairs: common words, common multi-word, title spans, quoted phrases,
    rare words, and each with filters."""
    rng = random.Random(seed)
    common = ["learning", "model", "models", "language model", "large language models"]
    common += ["neural networks", "deep learning", "reinforcement learning", "data", "training"]
    real = model.vocab[: model.real_vocab_size]
    rare_real = [w for w in real[3000:] if w.isalpha() and len(w) > 5]
    tail = model.vocab[model.real_vocab_size :]

    def span(source: list[list[str]], lo: int, hi: int) -> str:
        tokens = source[rng.randrange(len(source))]
        n = rng.randint(lo, hi)
        start = rng.randrange(max(1, len(tokens) - n))
        return " ".join(tokens[start : start + n]).strip('.,;:()"')

    def one(roll: float) -> tuple[str, str]:
        if roll < 0.2:
            return "common", rng.choice(common)
        if roll < 0.4:
            return "2-3 words", span(model.title_tokens, 2, 3)
        if roll < 0.55:
            return "phrase", '"' + span(model.abstract_tokens, 2, 3).replace('"', "") + '"'
        if roll < 0.75:
            word = rng.choice(tail) if rng.random() < 0.5 else rng.choice(rare_real)
            return "rare", word if rng.random() < 0.5 else f"{word} {rng.choice(common)}"
        kind, text = one(rng.random() * 0.75)
        extra = rng.choice(
            [
                f"cat:{rng.choice(_CATEGORIES[:8])}",
                f"since:{rng.choice(['7d', '30d', '1y', '2024-01-01'])}",
                f"author:{rng.choice(_LAST)}",
                f"cat:cs.LG since:{rng.choice(['30d', '1y'])}",
            ]
        )
        return f"{kind} + filter", f"{text} {extra}"

    return [one(rng.random()) for _ in range(count)]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def rss_mb() -> float:
    return float(psutil.Process().memory_info().rss) / 1e6


def fts5_match(text: str) -> str | None:
    """The query as FTS5 MATCH syntax: filters dropped (see the module docstring), quoted
    phrases kept as phrases, every other word required."""
    text = re.sub(r'\b(?:since|author|authors|cat|category):(?:"[^"]*"|\S+)', " ", text)
    parts = [" ".join(_WORD.findall(p)) for p in re.findall(r'"([^"]*)"', text)]
    parts += _WORD.findall(re.sub(r'"[^"]*"', " ", text))
    quoted = ['"' + part + '"' for part in parts if part]
    return " AND ".join(quoted) or None


def fts5_baseline(db: sqlite3.Connection, queries: list[tuple[str, str]]) -> dict[str, list[float]]:
    """Milliseconds per query by kind, top 10 by bm25 (title 3x), ids read as paperbot does."""
    by_kind: dict[str, list[float]] = {}
    sql = (
        "SELECT rowid FROM fts WHERE fts MATCH ? "
        f"ORDER BY bm25(fts, {FTS_TITLE_WEIGHT}, 1.0) LIMIT 10"
    )
    for kind, text in queries:
        match = fts5_match(text)
        if match is None:
            continue
        start = time.perf_counter()
        db.execute(sql, (match,)).fetchall()
        by_kind.setdefault(kind, []).append((time.perf_counter() - start) * 1000)
    return by_kind


def build(args: argparse.Namespace, model: CorpusModel, workdir: Path) -> dict[str, float]:
    """Generate and index the corpus, in tantivy and in the FTS5 baseline."""
    index_dir = workdir / "index"
    (workdir / "baseline.sqlite").unlink(missing_ok=True)
    db = sqlite3.connect(workdir / "baseline.sqlite")
    # Contentless: FTS5's own index and document sizes (all bm25 needs), not a text copy.
    db.execute(
        "CREATE VIRTUAL TABLE fts USING fts5(title, abstract, content='', "
        "tokenize='porter unicode61')"
    )
    index = SearchIndex.open(index_dir)
    generator = Generator(model, args.seed)
    gen_seconds = index_seconds = fts_seconds = other_cpu = 0.0
    done = 0
    started = time.perf_counter()
    cpu_started = time.process_time()
    while done < args.papers:
        count = min(BATCH, args.papers - done)
        t0, c0 = time.perf_counter(), time.thread_time()
        batch = list(generator.papers(count, start=done, total=args.papers))
        t1, c1 = time.perf_counter(), time.thread_time()
        index.index_papers(batch, rev=done + count)
        t2, c2 = time.perf_counter(), time.thread_time()
        gen_seconds += t1 - t0
        index_seconds += t2 - t1
        rows = [(done + i + 1, p.title, p.abstract) for i, p in enumerate(batch)]
        db.executemany("INSERT INTO fts (rowid, title, abstract) VALUES (?, ?, ?)", rows)
        db.commit()
        fts_seconds += time.perf_counter() - t2
        other_cpu += (c1 - c0) + (time.thread_time() - c2)  # generation and SQLite, main thread
        done += count
        print(
            f"\rindexed {done:,}/{args.papers:,}  {done / index_seconds:,.0f} papers/s "
            f"(generating: {done / gen_seconds:,.0f}/s)  rss {rss_mb():,.0f} MB",
            end="",
            file=sys.stderr,
        )
    db.commit()
    db.close()
    print(file=sys.stderr)
    rss_indexing = rss_mb()
    t0 = time.perf_counter()
    index.close()
    merge_seconds = time.perf_counter() - t0
    # Every thread's CPU (Python, tantivy's indexing and merge threads) minus the benchmark's
    # own work: what indexing costs, however busy the machine was.
    index_cpu = time.process_time() - cpu_started - other_cpu
    return {
        "index_cpu_us_per_paper": index_cpu / args.papers * 1e6,
        "papers": args.papers,
        "index_seconds": index_seconds,
        "gen_seconds": gen_seconds,
        "merge_seconds": merge_seconds,
        "wall_seconds": time.perf_counter() - started,
        "rss_indexing_mb": rss_indexing,
        "fts_seconds": fts_seconds,
    }


def run_queries(args: argparse.Namespace, model: CorpusModel, workdir: Path) -> dict[str, object]:
    """Meant for a fresh process, so its RSS is what a bot serving searches would hold."""
    rss_start = rss_mb()
    t0 = time.perf_counter()
    index = SearchIndex.open(
        workdir / "index", max_resident_bytes=args.max_resident_mb * 2**20 or None
    )
    open_ms = (time.perf_counter() - t0) * 1000
    queries = workload(model, args.warmup + args.queries, args.seed)
    for _, text in queries[: args.warmup]:
        index.search(parse_search(text, today=TODAY))
    latencies: list[float] = []
    by_kind: dict[str, list[float]] = {}
    empty = 0
    for kind, text in queries[args.warmup :]:
        start = time.perf_counter()
        hits = index.search(parse_search(text, today=TODAY), limit=10)
        elapsed = (time.perf_counter() - start) * 1000
        latencies.append(elapsed)
        by_kind.setdefault(kind, []).append(elapsed)
        empty += not hits
    reopened = index.reopened
    index.close()
    db = sqlite3.connect(workdir / "baseline.sqlite")
    fts_by_kind = fts5_baseline(db, queries[args.warmup : args.warmup + args.baseline_queries])
    db.close()
    return {
        "open_ms": open_ms,
        "latencies": latencies,
        "by_kind": by_kind,
        "empty": empty,
        "rss_start_mb": rss_start,
        "rss_after_queries_mb": rss_mb(),
        # Linux: resident pages backed by files (here mostly the mmapped index), which the
        # kernel can drop under pressure, unlike the anonymous rest.
        "file_backed_mb": getattr(psutil.Process().memory_info(), "shared", 0) / 1e6,
        "fts_by_kind": fts_by_kind,
        "reopened": reopened,
    }


def report(args: argparse.Namespace, built: dict[str, float], ran: dict[str, object]) -> None:
    latencies: list[float] = ran["latencies"]  # type: ignore[assignment]
    by_kind: dict[str, list[float]] = ran["by_kind"]  # type: ignore[assignment]
    fts_by_kind: dict[str, list[float]] = ran["fts_by_kind"]  # type: ignore[assignment]
    fts_ms = [ms for values in fts_by_kind.values() for ms in values]
    index_dir = args.workdir / "index"
    index_bytes = sum(f.stat().st_size for f in index_dir.iterdir() if f.is_file())
    p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
    print(f"\n== /papers search over {args.papers:,} papers ==")
    if built:
        rate = built["papers"] / built["index_seconds"]
        print(
            f"indexing: {rate:,.0f} papers/s in index_papers ({built['index_seconds']:.0f} s, "
            f"{BATCH:,} papers per call/commit), final merge wait {built['merge_seconds']:.1f} s; "
            f"corpus generation {built['gen_seconds']:.0f} s; wall {built['wall_seconds']:.0f} s; "
            f"RSS of the indexing process {built['rss_indexing_mb']:,.0f} MB"
        )
        cpu = built["index_cpu_us_per_paper"]
        print(
            f"indexing CPU (all threads, merges included): {cpu:,.0f} us/paper, i.e. "
            f"{1e6 / cpu:,.0f} papers/s per fully available core"
        )
    print(f"index on disk: {index_bytes / 1e6:,.0f} MB; open {ran['open_ms']:.0f} ms")
    print(
        f"queries ({len(latencies)} after {args.warmup} warm-up, limit 10, parse+search+ids): "
        f"p50 {p50:.1f} ms (target < {TARGET_P50_MS:.0f}: "
        f"{'met' if p50 < TARGET_P50_MS else 'MISSED'}), "
        f"p90 {percentile(latencies, 0.9):.1f} ms, "
        f"p99 {p99:.1f} ms (target < {TARGET_P99_MS:.0f}: "
        f"{'met' if p99 < TARGET_P99_MS else 'MISSED'}), max {max(latencies):.1f} ms; "
        f"{ran['empty']} found nothing"
    )
    for kind, values in sorted(by_kind.items()):
        print(
            f"  {kind:20s} n={len(values):3d}  p50 {percentile(values, 0.5):6.1f} ms"
            f"  p99 {percentile(values, 0.99):6.1f} ms  max {max(values):6.1f} ms"
        )
    print(
        f"RSS of a fresh search process: {ran['rss_start_mb']:,.0f} MB at start, "
        f"{ran['rss_after_queries_mb']:,.0f} MB after open + {args.warmup + len(latencies)} queries"
        f" (of which {ran['file_backed_mb']:,.0f} MB file-backed: mmapped index pages)"
    )
    budget = args.max_resident_mb
    print(
        f"memory budget: {budget} MB, index reopened {ran['reopened']} times to shed mapped pages"
        if budget
        else "memory budget: none (--max-resident-mb 0): mapped index pages stay resident"
    )
    fts_p50, fts_p99 = percentile(fts_ms, 0.5), percentile(fts_ms, 0.99)
    ours_sample = latencies[: args.baseline_queries]
    ours_p50 = percentile(ours_sample, 0.5)
    print(
        f"baseline, SQLite FTS5 over the same {args.papers:,} papers (porter, AND of the words, "
        f"bm25 title 3:1; {len(fts_ms)} of the same queries): p50 {fts_p50:,.1f} ms, "
        f"p99 {fts_p99:,.1f} ms, max {max(fts_ms):,.1f} ms; paperbot on those queries p50 "
        f"{ours_p50:.1f} ms -> FTS5/paperbot p50 {fts_p50 / ours_p50:,.1f}x, "
        f"p99 {fts_p99 / percentile(ours_sample, 0.99):,.1f}x"
    )
    for kind, values in sorted(fts_by_kind.items()):
        print(
            f"  FTS5 {kind:15s} n={len(values):3d}  p50 {percentile(values, 0.5):8.1f} ms"
            f"  p99 {percentile(values, 0.99):8.1f} ms"
        )
    if built:
        print(f"FTS5 build (insert + commit per batch): {built['fts_seconds']:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--papers", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument(
        "--baseline-queries", type=int, default=200, help="of the workload, run on FTS5 too"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--workdir",
        type=Path,
        default=None,
        help="keep the index here; a finished one of the same size is reused (default: a "
        "temporary dir under /tmp, removed at the end)",
    )
    parser.add_argument(
        "--max-resident-mb",
        type=int,
        default=0,
        help="the search process's memory budget (search.max_resident_mb; 0: none). A bot "
        "holds ~150 MB besides the index: 140 here leaves the index what 224 leaves it there",
    )
    parser.add_argument("--queries-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    model = CorpusModel.from_sample()

    if args.queries_only:  # the child process: run the workload, answer in JSON
        print(json.dumps(run_queries(args, model, args.workdir)))
        return

    temporary = args.workdir is None
    args.workdir = args.workdir or Path(tempfile.mkdtemp(prefix="paperbot-bench-", dir="/tmp"))
    args.workdir.mkdir(parents=True, exist_ok=True)
    print(
        f"corpus model: {model.real_vocab_size:,} real words (Zipf s={model.zipf_exponent:.2f})"
        f" + {len(model.vocab) - model.real_vocab_size:,} tail words; abstract length "
        f"median {statistics.median(model.abstract_lengths):.0f} words, title "
        f"{statistics.median(model.title_lengths):.0f}",
        file=sys.stderr,
    )
    built: dict[str, float] = {}
    existing = SearchIndex.open(args.workdir / "index")
    reuse = existing.watermark == args.papers and (args.workdir / "baseline.sqlite").exists()
    existing.close()
    if reuse:
        print(f"reusing the index in {args.workdir}", file=sys.stderr)
    else:
        built = build(args, model, args.workdir)
    child = subprocess.run(
        [sys.executable, __file__, "--queries-only", "--workdir", str(args.workdir)]
        + [f"--{k.replace('_', '-')}={getattr(args, k)}" for k in _FORWARDED],
        check=True,
        capture_output=True,
        text=True,
    )
    report(args, built, json.loads(child.stdout))
    if temporary:
        shutil.rmtree(args.workdir, ignore_errors=True)


_FORWARDED = (
    *("papers", "queries", "warmup", "baseline_queries", "seed"),
    "max_resident_mb",
)


if __name__ == "__main__":
    main()
