"""Kill a real process in the middle of an ingest day and count what the store kept."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from ingest_crash_worker import day  # beside this file, as pytest imports it

from paperbot.ingest import LiveSubscriptions, ingest_in_chunks
from paperbot.models import ChannelKey, ChannelSettings, MatchField, Paper
from paperbot.query import evaluate, parse
from paperbot.service import analyze_paper
from paperbot.store.store import Store

WORKER = Path(__file__).with_name("ingest_crash_worker.py")
KEY = ChannelKey("slack", "T1", "C1")
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
PAPERS = 120


def expected(papers: list[Paper], queries: list[str]) -> set[tuple[str, str, MatchField]]:
    found = set()
    for paper in papers:
        for query in queries:
            verdict = evaluate(parse(query), analyze_paper(paper))
            if verdict.matched:
                found.add((paper.arxiv_id, query, verdict.field or MatchField.ABSTRACT))
    return found


def stored(store: Store) -> set[tuple[str, str, MatchField]]:
    return {(m.paper_id, m.subscription, m.field) for m in store.digest_candidates(KEY, EPOCH)}


def test_a_process_killed_mid_ingest_leaves_marked_chunks_and_loses_nothing(db_url: str) -> None:
    store = Store.open(db_url)
    try:
        store.ensure_channel(KEY, ChannelSettings())
        queries = ["diffusion", "robot"]
        for query in queries:
            store.add_subscription(KEY, query, "U1")
        proc = subprocess.Popen(
            [sys.executable, str(WORKER), db_url, str(PAPERS)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 90
        while store.count_papers() < 20:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "the worker never got a few chunks in"
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGKILL

        papers = day(PAPERS)
        kept = [p for p in papers if store.get_paper(p.arxiv_id) is not None]
        assert 20 <= len(kept) < PAPERS and kept == papers[: len(kept)]  # whole chunks
        marked = sum(last - first + 1 for first, last in store.pending_matches())
        assert marked == len(kept)  # every stored paper marked as waiting for its matches
        assert stored(store) == set()

        live = LiveSubscriptions()
        live.sync(store)
        result, _, stats = ingest_in_chunks(store, live, papers, analyze_paper)
        assert len(result.inserted) == PAPERS - len(kept)  # the next ingest does the rest
        assert stats.recovered == len(kept)  # and matches what the killed one had stored
        assert stored(store) == expected(papers, queries)
        assert store.pending_matches() == []
    finally:
        store.close()
