"""Whether a digest may go out yet: the ingest due before it ran, here or in another process.

The scheduler asks before every digest; a fan-out of a thousand channels asks a thousand times,
so the answer is cached per due time. Running the ingest itself stays with the scheduler (it
schedules the retries); this module only decides and waits, bounded.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from paperbot.ingest.report import IngestReport
    from paperbot.service import Paperbot

log = logging.getLogger(__name__)

INGEST_LOOKBACK = timedelta(days=2)


class FireRule(Protocol):
    """The ingest's trigger: the next fire after a given one (APScheduler's trigger interface)."""

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None: ...


class IngestGate:
    """Answers "did the due ingest run?" and waits for it when it did not."""

    def __init__(
        self,
        bot: Paperbot,
        trigger: FireRule,
        previous_fire: Callable[[datetime], datetime | None],
        run_ingest: Callable[[], Awaitable[IngestReport | None]],
        *,
        wait: timedelta,
        poll_seconds: float,
        sleep: Callable[[float], Awaitable[None]],
    ) -> None:
        self.bot = bot
        self.trigger = trigger
        self.previous_fire = previous_fire
        self.run_ingest = run_ingest  # shared: digests waiting on an ingest wait on the same one
        self.wait = wait
        self.poll_seconds = poll_seconds
        self.sleep = sleep
        self._fresh_for: datetime | None = None
        self._due_cache: tuple[datetime, datetime | None] | None = None

    def ingest_due(self, now: datetime) -> datetime | None:
        """When the latest scheduled ingest was due: a digest after it wants its papers."""
        cached = self._due_cache
        if cached is not None and cached[0] <= now and (cached[1] is None or now < cached[1]):
            return cached[0]  # every digest of a fan-out asks; stepping a cron trigger is slow
        due = self.previous_fire(now)
        if due is not None:
            self._due_cache = (due, self.trigger.get_next_fire_time(due, due))
        return due

    async def ingest_is_fresh(self, now: datetime) -> bool:
        """Whether every source was tried (successfully or not) since the last due ingest."""
        due = self.ingest_due(now)
        if due is None or not self.bot.sources:
            return True
        if self._fresh_for is not None and self._fresh_for >= due:
            return True
        stale = await self._stale_sources(due)
        if stale:
            return False
        self._fresh_for = due
        return True

    async def _stale_sources(self, due: datetime) -> list[str]:
        statuses = {s.source: s for s in await self.bot.blocking(self.bot.store.source_statuses)}
        stale = []
        for source in self.bot.sources:
            status = statuses.get(source.name)
            tried = (
                [t for t in (status.last_success_at, status.last_error_at) if t] if status else []
            )
            if not tried or max(tried) < due:
                stale.append(source.name)
        return stale

    async def wait_for_ingest(self, now: datetime) -> None:
        """Make sure the due ingest ran before a digest: run it, or wait (bounded) for the process
        that runs it. A source still untried after that is recorded as failed, so the digest
        names it as missing instead of silently leaving its papers out."""
        if await self.ingest_is_fresh(now):
            return
        try:
            report = await asyncio.wait_for(self.run_ingest(), self.wait.total_seconds())
        except TimeoutError:
            log.warning("ingest still running after %s; the digest goes on", self.wait)
        except Exception:
            log.exception("ingest failed before a digest")
        else:
            if report is None:  # another process holds the ingest lease: wait for it, bounded
                for _ in range(max(1, int(self.wait.total_seconds() / self.poll_seconds))):
                    if await self.ingest_is_fresh(now):
                        return
                    await self.sleep(self.poll_seconds)
        due = self.ingest_due(now)
        if due is None or await self.ingest_is_fresh(now):
            return
        for name in await self._stale_sources(due):
            log.warning("source %s not fetched before the digest", name)
            await self.bot.blocking(
                self.bot.store.record_source_result, name, None, "not fetched before the digest"
            )
