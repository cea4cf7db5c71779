"""Match a day of papers against stored subscriptions (DESIGN §6: 2,000 x 100,000 under 1 s).

    .venv/bin/python benchmarks/bench_matching.py [--papers 2000] [--subscriptions 100000]

Prints the indexed figure beside the target and beside naive per-pair matching measured in the
same run on a subset of the papers (every subscription against each of those papers),
extrapolated linearly to the whole day and labelled as such. The index's answer on that subset
is checked to be identical to the naive one. Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
from collections import Counter

import psutil

from corpus import synthetic_papers, synthetic_subscriptions
from paperbot.matching import SubscriptionIndex, match_naively
from paperbot.models import Paper
from paperbot.text import AnalyzedPaper, analyze

TARGET_SECONDS = 1.0


def analyze_paper(paper: Paper) -> AnalyzedPaper:
    """The same analysis service.ingest_papers gives each paper."""
    return analyze(
        paper.arxiv_id,
        paper.title,
        paper.abstract,
        keywords=paper.ai_keywords,
        authors=paper.authors,
        categories=paper.categories,
        upvotes=paper.upvotes,
    )


def rss_mb() -> float:
    return float(psutil.Process(os.getpid()).memory_info().rss) / 2**20


def progress(message: str) -> None:
    print(f"[bench_matching] {message}", file=sys.stderr, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--papers", type=int, default=2000)
    parser.add_argument("--subscriptions", type=int, default=100_000)
    parser.add_argument("--naive-papers", type=int, default=20, help="subset for the baseline")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    progress(f"generating {args.papers} papers and {args.subscriptions} subscriptions")
    papers = list(synthetic_papers(args.papers, seed=args.seed))
    subscriptions = synthetic_subscriptions(args.subscriptions, seed=args.seed)
    kinds = Counter(_kind(s.query) for s in subscriptions)
    rss_before = rss_mb()

    progress("building the index (first time in the process: parse and compile)")
    gc.collect()
    started = time.perf_counter()
    index = SubscriptionIndex(subscriptions)
    cold_build = time.perf_counter() - started
    rss_index = rss_mb()
    progress("rebuilding it (as every ingest does: compiled queries are cached)")
    started = time.perf_counter()
    SubscriptionIndex(subscriptions)
    warm_build = time.perf_counter() - started

    progress("matching the day")
    started = time.perf_counter()
    docs = [analyze_paper(p) for p in papers]
    analyzed = time.perf_counter() - started
    started = time.perf_counter()
    found = index.match_all(docs)
    matched = time.perf_counter() - started
    day = analyzed + matched

    subset = docs[: args.naive_papers]
    progress(f"naive baseline: every subscription against {len(subset)} papers")
    started = time.perf_counter()
    naive = match_naively(subscriptions, subset)
    naive_subset = time.perf_counter() - started
    naive_day = naive_subset * len(docs) / len(subset) + analyzed

    def key(m):  # type: ignore[no-untyped-def]
        return (m.arxiv_id, m.subscription.id, m.field)

    agree = sorted(map(key, index.match_all(subset))) == sorted(map(key, naive))
    per_paper = Counter(m.arxiv_id for m in found)

    print()
    print(f"match a day: {len(docs):,} papers x {len(subscriptions):,} subscriptions")
    print(f"  subscriptions: {index.distinct_queries:,} distinct queries; kinds {dict(kinds)}")
    print(
        f"  matches: {len(found):,} ({len(found) / len(subscriptions):.1f} per subscription, "
        f"median {sorted(per_paper.values())[len(per_paper) // 2] if per_paper else 0} per paper)"
    )
    print(f"  indexed:  {day:.3f} s  (analyse {analyzed:.3f} s + match {matched:.3f} s)")
    print(f"  target:   < {TARGET_SECONDS:.1f} s  -> {'MET' if day < TARGET_SECONDS else 'MISSED'}")
    print(
        f"  baseline: naive per-pair {naive_day:.1f} s for the day "
        f"(EXTRAPOLATED from {len(subset)} papers: {naive_subset:.2f} s) "
        f"-> index is {naive_day / day:.0f}x faster"
    )
    print(f"  index build: {cold_build:.2f} s first time, {warm_build:.2f} s rebuilt per ingest")
    print(f"  identical to naive on the subset: {agree}")
    print(
        f"  RSS: {rss_mb():.0f} MB at the end; the index added {rss_index - rss_before:.0f} MB "
        f"({rss_before:.0f} MB before it)"
    )
    if not agree:
        sys.exit(1)


def _kind(query: str) -> str:
    if query.startswith("author:"):
        return "author"
    if " OR " in query:
        return "or"
    if "-" in query.split('"')[-1] or " NOT " in query:
        return "exclusion"
    if "cat:" in query or "upvotes:" in query or "title:" in query:
        return "field"
    if query.startswith('"') and query.endswith('"') and query.count('"') == 2:
        return "phrase"
    return "and" if " " in query else "word"


if __name__ == "__main__":
    main()
