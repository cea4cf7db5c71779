"""A digest's papers in the ledger and on the platform: reserved (the intent) before any post,
then each posted and completed, queued again, left pending or marked uncertain."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import partial

from paperbot.errors import ChannelUnavailable, PostError
from paperbot.models import Channel, ChannelKey, DeliveryReport, Digest
from paperbot.ports import ChatPoster
from paperbot.report_text import name_papers
from paperbot.sending import LeaseLost, Sender, Undecided
from paperbot.settling import FIND_POSTED_MARGIN
from paperbot.shutdown import interrupted
from paperbot.store.store import Clock, Store

log = logging.getLogger(__name__)


class Stopped(Exception):
    """The process stops: the digest ends after the post in flight (and said what is left)."""


class PaperPosts:
    def __init__(
        self,
        store: Store,
        sender: Sender,
        clock: Clock,
        owner: str,
        stopping: asyncio.Event | None = None,
    ) -> None:
        self.store = store
        self.sender = sender
        self.clock = clock
        self.owner = owner
        self.stopping = stopping or asyncio.Event()

    async def reserve(self, channel: Channel, digest: Digest, record: int) -> Digest:
        """Record the intent to post each paper (for digest `record`); the digest narrowed to
        the papers this call reserved."""
        ids = [item.paper.arxiv_id for item in digest.items]
        reserved = set(
            await asyncio.to_thread(
                self.store.reserve_posts,
                channel.key,
                ids,
                digest.day,
                self.owner,
                record,
            )
        )
        items = tuple(item for item in digest.items if item.paper.arxiv_id in reserved)
        return replace(digest, items=items, ref=str(record))

    async def post_items(
        self,
        poster: ChatPoster,
        channel: Channel,
        digest: Digest,
        thread: str | None,
        guard: Callable[[], None],
        report: DeliveryReport,
    ) -> None:
        """Each paper into the thread (or the channel), its ledger row completed, queued again,
        left pending or marked uncertain as its post's outcome says."""
        key, items = channel.key, digest.items
        ids = [item.paper.arxiv_id for item in items]
        name_papers(report, digest)
        since = self.clock() - FIND_POSTED_MARGIN
        position = -1
        try:
            for position, item in enumerate(items):
                paper_id = item.paper.arxiv_id
                if self.stopping.is_set():
                    await self.release(key, ids[position:])
                    interrupted(report, digest, ids[position:])
                    raise Stopped
                try:
                    message_id = await self.sender.send(
                        key,
                        partial(poster.post_item, key, digest, item, thread),
                        partial(poster.find_posted, key, paper_id, since, thread),
                        guard,
                    )
                except ChannelUnavailable:
                    await self.release(key, ids[position:])
                    raise
                except Undecided as exc:
                    # Final: uncertain, never resent; otherwise it stays pending and the next
                    # delivery asks the platform again before anything else.
                    log.warning("post of %s to %s undecided: %s", paper_id, key, exc)
                    if exc.final:
                        await asyncio.to_thread(self.store.mark_post_uncertain, key, paper_id)
                        report.uncertain.append(paper_id)
                    else:
                        report.checking.append(paper_id)
                    continue
                except PostError as exc:
                    log.warning("post of %s to %s failed, queued again: %s", paper_id, key, exc)
                    await asyncio.to_thread(self.store.release_post, key, paper_id)
                    report.failed.append(paper_id)
                    continue
                await asyncio.to_thread(self.store.complete_post, key, paper_id, message_id, thread)
                report.posted.append(paper_id)
        except LeaseLost:
            # Another worker may own the channel now; it settles what is still pending.
            report.checking.extend(ids[max(position, 0) :])
            log.warning("digest for %s stopped, lease lost: %s", key, report.summary)
            raise
        except asyncio.CancelledError:
            # Shutting down: what was never sent may go out again; the post in flight stays
            # pending, to be settled by asking the platform.
            self.release_now(key, ids[position + 1 :])
            interrupted(report, digest, ids[max(position, 0) :])
            raise

    async def release(self, key: ChannelKey, paper_ids: Sequence[str]) -> None:
        await asyncio.to_thread(self.release_now, key, paper_ids)

    def release_now(self, key: ChannelKey, paper_ids: Sequence[str]) -> None:
        for paper_id in paper_ids:
            self.store.release_post(key, paper_id)
