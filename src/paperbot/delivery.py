"""Posting digests: each paper reaches a channel once, whatever crashes, outages or reruns.

The ledger row of a paper is written (as an intent) before its post and completed with the
platform's message id after it, so a crash in between is visible and never leads to a repost.
A channel's digest is delivered under a database lease, so two bot processes never deliver the
same channel at once, and whoever takes the lease next first settles the intents a dead holder
left: the platform is asked whether each went out; only a definite "no" makes it postable again.
Each digest has a record (its header and thread): one a crash interrupted is finished under its
own header, whose list is then edited to match what the thread holds. A requested digest's
record opens before the digest is built, so a crash before its header went out still tells the
requester (who can ask again: none of its papers reached the channel).

This module is handed what it needs (store, posters, a digest builder, clock, pacing); it never
sees the service that wires it.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from contextlib import AsyncExitStack
from datetime import datetime
from functools import partial

from paperbot import metrics
from paperbot.candidates import DigestBuilder
from paperbot.digest_records import DigestRecords
from paperbot.errors import ChannelUnavailable, PostError
from paperbot.models import (
    Channel,
    ChannelKey,
    ChannelSettings,
    DeliveryReport,
    Digest,
    Reply,
)
from paperbot.pacing import PACE_RULES, Pacer, PaceRule
from paperbot.paper_posts import PaperPosts, Stopped
from paperbot.ports import ChatPoster
from paperbot.report_text import empty_digest_reply, name_papers
from paperbot.resuming import DigestResumer
from paperbot.sending import LeaseLost, RetryPolicy, Sender, SenderKnobs
from paperbot.settling import ReconcileReport, Settler
from paperbot.shutdown import interrupted, not_started, until_stopped
from paperbot.store.coordination import Coordination, HeldLease, LeaseKeeper
from paperbot.store.store import Clock, Store, utc_now

__all__ = ["PACE_RULES", "DigestDelivery", "PaceRule", "Pacer", "ReconcileReport"]

log = logging.getLogger(__name__)


class DigestDelivery(SenderKnobs):
    """Delivers digests; tune `retry_attempts`, `retry_backoff`, `pacer` and `sleep` per process."""

    def __init__(
        self,
        store: Store,
        posters: Mapping[str, ChatPoster],
        builder: DigestBuilder,
        clock: Clock = utc_now,
        channel_defaults: ChannelSettings | None = None,
        max_concurrent_digests: int = 1000,
        max_preparing: int = 8,
    ) -> None:
        self.store = store
        self.posters = posters  # the live mapping: adapters register theirs after this is built
        self.builder = builder
        self.clock = clock
        self.channel_defaults = channel_defaults or ChannelSettings()
        self.leases = LeaseKeeper(store)
        self.policy = RetryPolicy()
        # Set when the process stops: no digest starts, one posting stops after its post in
        # flight, and no post waits out an outage (see shutdown.py for what is logged and left
        # to the next lease holder).
        self.stopping = asyncio.Event()
        self.sender = Sender(Pacer(), self.policy, stopping=self.stopping)
        self.records = DigestRecords(store, self.sender)
        self.papers = PaperPosts(store, self.sender, clock, self.leases.owner, self.stopping)
        self.settler = Settler(store, self.leases.coordination, self._pause)
        self.resumer = DigestResumer(store, builder, self.records, self.papers, clock)
        # One digest at a time per channel within a process; the lease guards across processes.
        self._locks: dict[ChannelKey, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._digests = asyncio.Semaphore(max_concurrent_digests)
        self._preparing = asyncio.Semaphore(max_preparing)

    def stop_waiting(self) -> None:
        """On shutdown: no digest starts, posts waiting out an outage give up at once."""
        self.stopping.set()

    @property
    def coordination(self) -> Coordination:
        return self.leases.coordination

    async def _channel(self, key: ChannelKey) -> Channel:
        return await asyncio.to_thread(self.store.ensure_channel, key, self.channel_defaults)

    # --- delivering -----------------------------------------------------------------------

    async def deliver(
        self,
        key: ChannelKey,
        force_post: bool = False,
        due: datetime | None = None,
        post_at: datetime | None = None,
        reply_to: str | None = None,
    ) -> DeliveryReport:
        """Post the channel's digest. With `due`, only if no digest was built since then (the
        scheduled slot was not served yet); with `post_at`, prepare now but post from then on.
        A digest a crash interrupted is finished first, under its own header, instead.

        The channel's last-digest time becomes the moment the digest was built, not when its
        last post went out: a paper matched while a digest is being posted belongs to the next.
        """
        report = DeliveryReport(key)
        poster = self.posters.get(key.platform)
        if poster is None:
            report.skipped_reason = f"no {key.platform} connection in this process"
            return report
        if self.stopping.is_set():
            return not_started(report)
        async with self._digests, self._locks[key], AsyncExitStack() as stack:
            # Preparing (lease, settling, building, reserving) is database work: a few channels
            # at a time, so the first digests start posting while later ones still prepare.
            async with self._preparing:
                lease = await stack.enter_async_context(self.leases.hold(f"digest:{key}"))
                if lease is None:
                    report.skipped_reason = "another worker is delivering this channel's digest"
                    return report
                channel = await self._channel(key)
                last = channel.last_digest_at
                if due is not None and last is not None and last >= due:
                    report.skipped_reason = "digest already delivered"
                    return report
                if channel.settings.paused and not force_post:
                    report.skipped_reason = f"paused ({channel.pause_reason or 'by command'})"
                    return report
                now = self.clock()
                # A requested digest's record opens before settling and building, the slow
                # part: a crash from here on still answers whoever asked (see resuming.py).
                requested = await self.records.open_request(channel, now, reply_to)
                digest: Digest | None = None
                record: int | None = None
                try:
                    await self.reconcile_channel(key, poster)
                    records = await asyncio.to_thread(self.store.open_digests, key)
                    interrupted = [r for r in records if r.id != requested]
                    if interrupted:  # finished first, and answered as this request
                        await self.records.abandon_request(requested)
                    else:
                        digest, record = await self._prepare(channel, now, reply_to, requested)
                except Exception:
                    await self.records.abandon_request(requested)
                    raise
            try:
                if interrupted:
                    await self.resumer.resume(
                        poster, channel, interrupted, self._guard(lease), report, reply_to
                    )
                    await self._unpause_if_posted(channel, report)
                    return report
                if post_at is not None:  # prepared ahead of the hour; post on the hour
                    await self._until(post_at)
                assert digest is not None
                if self.stopping.is_set():  # stopped before its hour: nothing was sent
                    return await self._not_posted(digest, record, report)
                if record is None:
                    # Empty: a scheduled digest says so when the channel asked for it; a
                    # requested one is answered to the requester alone.
                    if channel.settings.post_when_empty and not force_post:
                        await self._send_notice(poster, key, lease, empty_digest_reply(digest))
                    await asyncio.to_thread(self.store.set_last_digest, key, now)
                    return report
                if not await self._post_digest(poster, channel, digest, record, lease, report):
                    return report  # no header went out: the slot stays open for catch-up
                await asyncio.to_thread(self.store.set_last_digest, key, now)
                metrics.digest_posted(key.platform, len(report.posted))
                log.info("digest %s", report.summary)
            except Stopped:
                pass  # the digest's record stays open: the next holder resumes it
            except ChannelUnavailable as exc:
                await self._pause(key, str(exc), report)
            except LeaseLost:
                report.skipped_reason = "lost the channel's lease to another worker"
            await self._unpause_if_posted(channel, report)
        return report

    async def deliver_more(self, key: ChannelKey, reply_to: str | None = None) -> DeliveryReport:
        """`/papers more`: the next batch of candidates into today's digest thread."""
        report = DeliveryReport(key)
        poster = self.posters.get(key.platform)
        if poster is None:
            report.skipped_reason = f"no {key.platform} connection in this process"
            return report
        async with self._locks[key], self.leases.hold(f"digest:{key}") as lease:
            if lease is None:
                report.skipped_reason = "another worker is delivering this channel's digest"
                return report
            channel = await self._channel(key)
            await self.reconcile_channel(key, poster)
            now = self.clock()
            digest = await self.builder.build(channel, now)
            latest = await asyncio.to_thread(self.store.latest_digest, key, digest.day)
            if latest is None or latest.header_id is None:
                report.skipped_reason = "there is no digest today yet; /papers digest posts one"
                return report
            if digest.is_empty:
                return report
            report.remaining = digest.remaining
            try:
                await self.records.reopen(latest.id, reply_to)
                digest = await self.papers.reserve(channel, digest, latest.id)
                await self.papers.post_items(
                    poster, channel, digest, latest.thread_id, self._guard(lease), report
                )
                await self.records.finish(poster, channel, latest.id, latest.header_id, digest)
            except Stopped:
                pass
            except ChannelUnavailable as exc:
                await self._pause(key, str(exc), report)
            except LeaseLost:
                report.skipped_reason = "lost the channel's lease to another worker"
            await self._unpause_if_posted(channel, report)
        return report

    async def resume_interrupted(self) -> list[DeliveryReport]:
        """On start and on every sweep: finish the digests a crash interrupted (under their own
        headers), so their requesters hear back while their answer channels are still open."""
        keys = await asyncio.to_thread(self.store.channels_with_open_digests)
        keys = [key for key in keys if key.platform in self.posters]
        reports = await asyncio.gather(*(self.deliver_safely(key, None) for key in keys))
        return [report for report in reports if report.resumed]

    async def deliver_many(
        self, keys: Iterable[ChannelKey], due: Mapping[ChannelKey, datetime] | None = None
    ) -> list[DeliveryReport]:
        """Fan out: every channel at once (paced by the Pacer); one failing never stops another."""
        due = due or {}
        return list(await asyncio.gather(*(self.deliver_safely(key, due.get(key)) for key in keys)))

    async def deliver_safely(
        self, key: ChannelKey, due: datetime | None, post_at: datetime | None = None
    ) -> DeliveryReport:
        try:
            return await self.deliver(key, due=due, post_at=post_at)
        except Exception as exc:
            log.exception("digest for %s failed", key)
            return DeliveryReport(key, skipped_reason=f"failed: {exc!r}"[:200])

    async def _prepare(
        self, channel: Channel, now: datetime, reply_to: str | None, requested: int | None
    ) -> tuple[Digest, int | None]:
        """Build the digest, open its record (or take the `requested` one) and record the intent
        to post each paper, before any post; returns the digest narrowed to what this call
        reserved, and the record's id (None when the digest is empty)."""
        digest = await self.builder.build(channel, now)
        if digest.is_empty:
            await self.records.abandon_request(requested)
            return digest, None
        record = requested
        if record is None:
            record = await asyncio.to_thread(
                self.store.open_digest, channel.key, digest.day, reply_to
            )
        return await self.papers.reserve(channel, digest, record), record

    def _guard(self, lease: HeldLease) -> Callable[[], None]:
        def check() -> None:
            if lease.lost:
                raise LeaseLost(lease.name)

        return check

    async def _send_notice(
        self, poster: ChatPoster, key: ChannelKey, lease: HeldLease, reply: Reply
    ) -> None:
        """The "nothing new today" line: worth a try, not worth failing the digest for."""
        try:
            await self.sender.send(
                key, partial(poster.post_reply, key, reply), None, self._guard(lease)
            )
        except ChannelUnavailable:
            raise
        except PostError as exc:
            log.warning("empty-digest notice for %s failed: %s", key, exc)

    async def _post_digest(
        self,
        poster: ChatPoster,
        channel: Channel,
        digest: Digest,
        record: int,
        lease: HeldLease,
        report: DeliveryReport,
    ) -> bool:
        """Header, then papers into its thread; False when the header could not be posted."""
        key = channel.key
        report.remaining = digest.remaining
        ids = [item.paper.arxiv_id for item in digest.items]
        try:
            header = await self.records.post_header(poster, channel, digest, self._guard(lease))
        except ChannelUnavailable:
            await self.papers.release(key, ids)
            await self.records.abandon(record)
            raise
        except PostError as exc:
            await self.papers.release(key, ids)
            await self.records.abandon(record)
            log.warning("digest header for %s failed, will retry later: %s", key, exc)
            report.failed.extend(ids)
            name_papers(report, digest)
            return False
        except asyncio.CancelledError:
            self.papers.release_now(key, ids)
            raise
        thread = header if channel.settings.threaded else None
        await asyncio.to_thread(self.store.set_digest_header, record, header, thread)
        await self.papers.post_items(poster, channel, digest, thread, self._guard(lease), report)
        await self.records.finish(poster, channel, record, header, digest)
        return True

    async def _until(self, moment: datetime) -> None:
        """Sleep until `moment`, or until the process stops."""
        delay = (moment - self.clock()).total_seconds()
        if delay > 0:
            await until_stopped(self.stopping, self.sender.sleep(delay))

    async def _not_posted(
        self, digest: Digest, record: int | None, report: DeliveryReport
    ) -> DeliveryReport:
        """A digest prepared for its hour and stopped before it: nothing was sent, so its papers
        are released and its record dropped, as if it had never been prepared."""
        if record is None:
            return not_started(report)
        left = [item.paper.arxiv_id for item in digest.items]
        await self.papers.release(digest.channel, left)
        await self.records.abandon(record)
        return interrupted(report, digest, left, before_hour=True)

    async def _pause(
        self, key: ChannelKey, reason: str, report: DeliveryReport | None = None
    ) -> None:
        if report is not None:
            report.paused = True
        first_time = await asyncio.to_thread(self.store.pause_channel, key, reason)
        if first_time:
            log.warning("paused digests for %s: %s", key, reason)

    async def _unpause_if_posted(self, channel: Channel, report: DeliveryReport) -> None:
        """A post went through to a channel paused for lost access: access is back. (Paused by
        command stays paused: a requested digest is not a `resume`.)"""
        if report.paused or not (
            report.posted and channel.settings.paused and channel.pause_reason
        ):
            return
        await asyncio.to_thread(self.store.resume_channel, channel.key)
        report.unpaused = channel.pause_reason
        log.info("resumed digests for %s: a post went through again", channel.key)

    # --- reconciliation -------------------------------------------------------------------

    async def reconcile_channel(self, key: ChannelKey, poster: ChatPoster) -> ReconcileReport:
        """Settle intents left pending by a crash; the caller holds the channel's lease."""
        return await self.settler.reconcile_channel(key, poster)

    async def reconcile_all(self, concurrency: int = 8) -> list[ReconcileReport]:
        """On start: settle every channel's leftover intents (skipping channels a live worker is
        delivering right now, and platforms this process has no connection to)."""
        keys = await asyncio.to_thread(self.coordination.channels_with_pending)
        gate = asyncio.Semaphore(concurrency)

        async def one(key: ChannelKey) -> ReconcileReport | None:
            poster = self.posters.get(key.platform)
            if poster is None:
                return None
            async with gate, self._locks[key], self.leases.hold(f"digest:{key}") as lease:
                if lease is None:
                    return None
                return await self.reconcile_channel(key, poster)

        results = await asyncio.gather(*(one(key) for key in keys))
        return [r for r in results if r is not None]
