"""The long chaos run (a benchmark, not a test): real `paperbot run` processes SIGKILLed at seeded
random points while the fake Slack refuses connections for windows, drops answers (before and
after posting), answers 5xx, answers slowly and storms 429s; restarted after every kill.

After the kills the faults stop and every channel is drained; the report compares what the
channels show with what matched: lost (matched, neither posted nor named uncertain), doubled
(posted twice), uncertain, still pending, headers whose list differs from their thread, and how
many interrupted requesters were answered when their digest was resumed. Targets: 0 lost, 0
doubled, 0 header mismatches. The baseline, in the same run, is the same setup without kills or
faults (how long the same channels take to drain when nothing goes wrong).

    .venv/bin/python benchmarks/bench_chaos.py [--kills 500] [--channels 6] [--seed 7]
        [--db-url postgresql+psycopg://postgres@127.0.0.1:55432/postgres --instances 2]
        [--no-baseline]

The harness is tests/chaos/chaos_harness.py (CI runs a bounded version: tests/chaos/).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "tests" / "chaos"))

from chaos_harness import ChaosReport, ChaosRun

from paperbot.testing import throwaway_database


@contextmanager
def database(server_url: str | None, workdir: Path) -> Iterator[tuple[str, str]]:
    if server_url is None:
        yield f"sqlite:///{workdir / 'chaos.sqlite'}", "sqlite"
        return
    with throwaway_database(server_url, prefix="paperbot_chaos") as url:
        yield url, "postgresql"


def one_run(args: argparse.Namespace, kills: int, papers_per_channel: int) -> ChaosReport:
    with tempfile.TemporaryDirectory(prefix="paperbot-chaos-") as tmp:
        workdir = Path(tmp)
        with database(args.db_url, workdir) as (url, backend):
            run = ChaosRun(
                workdir,
                url,
                kills=kills,
                instances=args.instances if backend == "postgresql" else 1,
                channels=args.channels,
                papers_per_channel=papers_per_channel,
                digest_size=args.size,
                seed=args.seed,
                backend=backend,
                progress=True,
            )
            return asyncio.run(run.run())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=500)
    parser.add_argument("--channels", type=int, default=6)
    parser.add_argument("--size", type=int, default=6, help="each channel's digest size")
    parser.add_argument(
        "--papers-per-channel",
        type=int,
        default=0,
        help="matched papers per channel (default: enough work for every kill)",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--db-url", default=None, help="a PostgreSQL server (default: SQLite)")
    parser.add_argument("--instances", type=int, default=2, help="bot processes on PostgreSQL")
    parser.add_argument("--no-baseline", action="store_true")
    args = parser.parse_args()
    # A round posts about six papers; give every round something to post.
    papers = args.papers_per_channel or max(24, args.kills * 6 // args.channels)

    if not args.no_baseline:
        print(f"baseline: the same channels, no kills, no faults ({papers} papers/channel)")
        started = time.monotonic()
        baseline = one_run(args, 0, papers)
        print(baseline.render())
        print(f"  (baseline wall time {time.monotonic() - started:.0f} s)\n", flush=True)

    print(f"chaos: {args.kills} kills, seed {args.seed} ({papers} papers/channel)", flush=True)
    report = one_run(args, args.kills, papers)
    print(report.render())
    print("  kill points (round: instance, after N post attempts | at a random moment, s):")
    for point in report.kill_points[:40]:
        when = f"after {point.after_posts} posts" if point.after_posts is not None else "moment"
        print(f"    {point.round}: instance {point.instance}, {when}, {point.at_seconds:.2f} s")
    if len(report.kill_points) > 40:
        print(f"    ... and {len(report.kill_points) - 40} more")
    print("  outage windows (start offset s, length s):")
    if report.outages:
        first = report.outages[0][0]
        for start, end in report.outages[:20]:
            print(f"    +{start - first:.1f}  {end - start:.1f}")
    print("targets: 0 lost, 0 doubled, 0 header mismatches ->", "MET" if report.ok else "MISSED")
    sys.exit(0 if report.ok else 1)


if __name__ == "__main__":
    main()
