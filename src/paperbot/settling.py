"""Settling intents a crash (or a lost lease) left pending: the platform is asked whether each
post went out. Found: recorded as posted. Definitely not there: queued again ('retry'). The
platform cannot tell: 'uncertain', never resent automatically. Cannot ask right now: left
pending, to be asked again before the channel's next digest."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta

from paperbot.errors import CannotTell, ChannelUnavailable, PostError
from paperbot.models import ChannelKey
from paperbot.ports import ChatPoster
from paperbot.store.coordination import Coordination
from paperbot.store.store import Store

log = logging.getLogger(__name__)

# Platform clocks and ours disagree a little; look back a bit further than the intent's time.
FIND_POSTED_MARGIN = timedelta(minutes=10)


@dataclass(slots=True)
class ReconcileReport:
    channel: ChannelKey
    confirmed: list[str] = field(default_factory=list)
    retry: list[str] = field(default_factory=list)
    uncertain: list[str] = field(default_factory=list)
    unresolved: list[str] = field(default_factory=list)


class Settler:
    def __init__(
        self,
        store: Store,
        coordination: Coordination,
        pause: Callable[[ChannelKey, str], Awaitable[None]],
    ) -> None:
        self.store = store
        self.coordination = coordination
        self.pause = pause

    async def reconcile_channel(self, key: ChannelKey, poster: ChatPoster) -> ReconcileReport:
        """Settle intents left pending by a crash; the caller holds the channel's lease.

        Found on the platform: recorded as posted. Definitely not there: 'retry', so the next
        digest posts it. The platform cannot tell: 'uncertain', never resent automatically.
        """
        report = ReconcileReport(key)
        threads: dict[int, str | None] = {}
        found_in: set[int] = set()  # digests that turned out to hold a post they did not list
        for entry in await asyncio.to_thread(self.coordination.pending_posts, key):
            paper_id = entry.paper_id
            thread = None
            if entry.digest_id is not None:
                if entry.digest_id not in threads:
                    threads[entry.digest_id] = await asyncio.to_thread(
                        self.store.digest_thread, entry.digest_id
                    )
                thread = threads[entry.digest_id]
            try:
                found = await poster.find_posted(
                    key, paper_id, entry.created_at - FIND_POSTED_MARGIN, thread
                )
            except CannotTell as exc:
                log.warning("%s: cannot tell whether %s was posted (%s)", key, paper_id, exc)
                await asyncio.to_thread(self.store.mark_post_uncertain, key, paper_id)
                report.uncertain.append(paper_id)
                continue
            except ChannelUnavailable as exc:
                await self.pause(key, str(exc))
                report.unresolved.append(paper_id)  # asked again when the channel is back
                continue
            except PostError as exc:
                log.warning("%s: could not check %s for now (%s)", key, paper_id, exc)
                report.unresolved.append(paper_id)
                continue
            if found is not None:
                await asyncio.to_thread(self.store.complete_post, key, paper_id, found)
                if entry.digest_id is not None:
                    found_in.add(entry.digest_id)
                report.confirmed.append(paper_id)
            else:
                await asyncio.to_thread(self.store.release_post, key, paper_id)
                report.retry.append(paper_id)
        for digest_id in sorted(found_in):
            # The digest may have been finished while its post was unsettled, with a list that
            # leaves the post out: reopened, the delivery that follows corrects the list.
            await asyncio.to_thread(self.store.reopen_to_correct, digest_id)
        if len(report.unresolved) < sum(
            map(len, (report.confirmed, report.retry, report.uncertain, report.unresolved))
        ):
            log.info(
                "reconciled %s: %d confirmed, %d to retry, %d uncertain, %d unresolved",
                key,
                len(report.confirmed),
                len(report.retry),
                len(report.uncertain),
                len(report.unresolved),
            )
        return report
