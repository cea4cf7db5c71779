"""`paperbot run` with its clock moved to just before a digest hour, for the SIGTERM test.

    python digest_round_bot.py SLOT_ISO before|after

Settings come from the environment, as for `paperbot run`. `before`: the bot's clock reads SLOT
minus 31 s when the scheduler starts and runs on from there; once started, each channel's digest
job is fired as APScheduler fires it 30 s before the hour (the real APScheduler, the real job),
and "digest jobs fired" is printed. `after`: the clock reads SLOT plus one minute, as for a bot
restarted just after the hour (its start-up catch-up posts what is due). Everything else is the
real command: signals, log, exit code.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import paperbot.runner as runner
import paperbot.scheduler as scheduler
from paperbot.cli import app
from paperbot.wiring import build_core


class MovedClock:
    def __init__(self, now: datetime) -> None:
        self.offset = now - datetime.now(UTC)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


def main(slot: datetime, mode: str) -> None:
    clock = MovedClock(
        slot - timedelta(seconds=31) if mode == "before" else slot + timedelta(minutes=1)
    )
    runner.build_core = lambda settings, **kw: build_core(settings, clock=clock, **kw)  # type: ignore[assignment]
    if mode == "after":
        app(["run"])
        return
    original = scheduler.DigestScheduler.start

    async def start(self: Any, paused: bool = False) -> None:
        await original(self, paused)
        clock.offset = slot - timedelta(seconds=30) - datetime.now(UTC)  # the job's fire time
        for job in self.aps.get_jobs():
            if job.id.startswith("digest:"):
                job.modify(next_run_time=datetime.now(UTC))
        print("digest jobs fired", file=sys.stderr, flush=True)

    scheduler.DigestScheduler.start = start  # type: ignore[method-assign]
    app(["run"])


if __name__ == "__main__":
    main(datetime.fromisoformat(sys.argv[1]), sys.argv[2])
