"""Issue 11's chaos run, bounded for CI: real bot processes SIGKILLed at seeded random points
while the fake Slack refuses connections, drops answers, answers 5xx and storms 429s; on SQLite
with one instance and on PostgreSQL with two. `benchmarks/bench_chaos.py --kills N` runs the
long one."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from chaos_harness import ChaosRun

KILLS = 20


async def test_killed_bots_lose_nothing_and_double_nothing(db_url: str, tmp_path: Path) -> None:
    backend = "postgresql" if db_url.startswith("postgresql") else "sqlite"
    run = ChaosRun(
        tmp_path,
        db_url,
        kills=KILLS,
        instances=2 if backend == "postgresql" else 1,
        channels=4,
        papers_per_channel=24,
        digest_size=6,
        seed=20261201,
        backend=backend,
    )
    report = await run.run()
    print(report.render())
    assert len(report.kill_points) == KILLS
    assert report.matched > 0 and report.posts > 0
    assert report.lost == 0, report.render()
    assert report.doubled == 0, report.render()
    assert report.header_mismatches == 0, report.render()
    assert report.pending == 0, report.render()
