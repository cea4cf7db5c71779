"""Finishing the digests a crash interrupted: each under its own header and thread, its papers
reserved again, its header's list edited to match, and its requester told."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import replace

from paperbot.candidates import DigestBuilder
from paperbot.digest_records import DigestRecords
from paperbot.models import Channel, DeliveryReport
from paperbot.paper_posts import PaperPosts
from paperbot.ports import ChatPoster
from paperbot.store.store import Clock, DigestRecord, Store

log = logging.getLogger(__name__)


class DigestResumer:
    """Resumes interrupted digests; the caller holds the channel's lease (checked by `guard`)."""

    def __init__(
        self,
        store: Store,
        builder: DigestBuilder,
        records: DigestRecords,
        papers: PaperPosts,
        clock: Clock,
    ) -> None:
        self.store = store
        self.builder = builder
        self.records = records
        self.papers = papers
        self.clock = clock

    async def resume(
        self,
        poster: ChatPoster,
        channel: Channel,
        interrupted: Sequence[DigestRecord],
        guard: Callable[[], None],
        report: DeliveryReport,
        reply_to: str | None,
    ) -> None:
        """Finish each digest a crash interrupted, under its own header and thread."""
        for record in interrupted:
            now = self.clock()
            header = record.header_id or await self.records.find_header(
                poster, channel, record, now
            )
            if header is None:
                # No header reached the channel, so no paper did: they are candidates again,
                # and whoever asked for the digest hears that it never went out.
                await self.records.abandon(record.id)
                await self.records.cut_off(poster, channel, record)
                continue
            thread = (record.thread_id or header) if channel.settings.threaded else None
            if record.header_id is None:
                await asyncio.to_thread(self.store.set_digest_header, record.id, header, thread)
            waiting = await self.records.queued_again(record.id)
            digest = await self.builder.build(channel, now, only=waiting, limit=len(waiting))
            digest = replace(digest, day=record.day)
            digest = (
                await self.papers.reserve(channel, digest, record.id) if digest.items else digest
            )
            await self.papers.post_items(poster, channel, digest, thread, guard, report)
            await self.records.finish(poster, channel, record.id, header, digest, resumed=True)
            report.resumed = True
            await asyncio.to_thread(self.store.set_last_digest, channel.key, record.created_at)
        if report.resumed:
            log.info("resumed digest %s", report.summary)
            await self.records.announce(poster, channel, interrupted, report, reply_to)
