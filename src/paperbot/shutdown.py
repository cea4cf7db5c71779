"""What a stopping process says about the digests it did not finish, and how it stops waiting.

A stopping process starts no digest and leaves unsent papers where any process can pick them
up: the channel's last-digest time is not moved, so whoever next holds the channel's lease (this
bot's catch-up after a restart, or another instance's sweep) posts them. Each interrupted digest
gets one INFO line saying so: a shutdown is not an error, and a traceback per channel hides the
one line that matters.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Sequence
from typing import Any

from paperbot.models import DeliveryReport, Digest

log = logging.getLogger(__name__)

FINISHER = "the next holder of the channel's lease (catch-up on restart, or another instance)"


def interrupted(
    report: DeliveryReport, digest: Digest, left: Sequence[str], before_hour: bool = False
) -> DeliveryReport:
    """Log the one line for a digest cut short by a shutdown; returns `report`, marked so."""
    total = len(report.posted) + len(left)
    when = " before its hour" if before_hour else ""
    log.info(
        "digest for %s interrupted by shutdown%s: %d of %d papers posted, %d left for %s",
        report.channel,
        when,
        len(report.posted),
        total,
        len(left),
        FINISHER,
    )
    report.skipped_reason = "interrupted by shutdown"
    return report


def not_started(report: DeliveryReport) -> DeliveryReport:
    """A digest asked for while the process stops: not begun, so nothing to undo."""
    log.info("digest for %s not started: shutting down; left for %s", report.channel, FINISHER)
    report.skipped_reason = "not started: shutting down"
    return report


async def until_stopped(stopping: asyncio.Event, wait: Awaitable[Any]) -> None:
    """Await `wait`, or return early once `stopping` is set (the wait is then cancelled)."""
    if stopping.is_set():
        if asyncio.iscoroutine(wait):
            wait.close()
        return
    waiting = asyncio.ensure_future(wait)
    stopped = asyncio.ensure_future(stopping.wait())
    try:
        await asyncio.wait({waiting, stopped}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (waiting, stopped):
            task.cancel()
        for task in (waiting, stopped):
            with contextlib.suppress(asyncio.CancelledError):
                await task
