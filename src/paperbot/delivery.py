"""Posting digests: each paper reaches a channel at most once, whatever crashes or runs twice.

The ledger row of a paper is written (as an intent) before its post and completed with the
platform's message id after it, so a crash in between is visible and never leads to a repost.
A channel's digest is delivered under a database lease, so two bot processes never deliver the
same channel at once, and whoever takes the lease next first settles the intents a dead holder
left: the platform is asked whether each went out; only a definite "no" makes it postable again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING

from paperbot import metrics
from paperbot.errors import CannotTell, ChannelUnavailable, PostError, PostOutcomeUnknown
from paperbot.models import ChannelKey, DeliveryReport, Digest, Reply, Visibility
from paperbot.ports import ChatPoster
from paperbot.shutdown import interrupted, not_started, until_stopped
from paperbot.store.coordination import Coordination, HeldLease, LeaseKeeper

if TYPE_CHECKING:
    from collections.abc import Sequence

    from paperbot.models import Channel
    from paperbot.service import Paperbot

log = logging.getLogger(__name__)

# Platform clocks and ours disagree a little; look back a bit further than the intent's time.
FIND_POSTED_MARGIN = timedelta(minutes=10)


@dataclass(frozen=True, slots=True)
class PaceRule:
    """How fast a platform takes posts: a gap per channel, and rates per workspace and per bot."""

    channel_gap: float = 0.0
    workspace_rate: float | None = None
    workspace_burst: int = 1
    bot_rate: float | None = None
    bot_burst: int = 1


# Slack: chat.postMessage takes about 1 message per second per channel and several hundred a
# minute per workspace. Discord: 5 messages per 5 s per channel, 50 requests per second per bot.
# A channel's gap is counted from the previous answer, so the server sees at least that gap.
PACE_RULES: dict[str, PaceRule] = {
    "slack": PaceRule(channel_gap=1.0, workspace_rate=5.0, workspace_burst=10),
    "discord": PaceRule(channel_gap=1.0, bot_rate=40.0, bot_burst=40),
}


class Pacer:
    """Spaces posts so a fan-out to many channels never bursts past a platform's limits.

    Per channel a post waits out the gap since the previous one was answered: the server took
    that one before answering, so it sees at least the gap however long requests queue on the
    way (a channel's posts are sequential). Per workspace and per bot a token bucket (GCRA)
    spreads posts over time; and at most `max_in_flight` requests are out at once, so a thousand
    digests do not open a thousand connections. Posters still retry a 429 themselves; pacing is
    what keeps 429s rare.
    """

    def __init__(
        self,
        rules: Mapping[str, PaceRule] | None = None,
        max_in_flight: int = 64,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.rules = dict(PACE_RULES if rules is None else rules)
        self.clock = clock
        self.sleep = sleep
        self._last_end: dict[ChannelKey, float] = {}
        self._tat: dict[tuple[str, ...], float] = {}
        self._in_flight = asyncio.Semaphore(max_in_flight)

    @asynccontextmanager
    async def turn(self, key: ChannelKey) -> AsyncIterator[None]:
        """Wait for this channel's turn to post, then hold a request slot while posting."""
        rule = self.rules.get(key.platform)
        if rule is not None:
            last = self._last_end.get(key)
            if last is not None:
                await self._until(last + rule.channel_gap)
            await self._until(self._book(key, rule))
        async with self._in_flight:
            try:
                yield
            finally:
                self._last_end[key] = self.clock()

    def _book(self, key: ChannelKey, rule: PaceRule) -> float:
        """Book the earliest time every bucket allows, in one step (no await, so atomic)."""
        now = self.clock()
        buckets: list[tuple[tuple[str, ...], float, int]] = []
        if rule.workspace_rate:
            buckets.append(
                ((key.platform, key.workspace), rule.workspace_rate, rule.workspace_burst)
            )
        if rule.bot_rate:
            buckets.append(((key.platform,), rule.bot_rate, rule.bot_burst))
        at = now
        for name, rate, burst in buckets:
            at = max(at, self._tat.get(name, now) - (burst - 1) / rate)
        for name, rate, _ in buckets:
            self._tat[name] = max(self._tat.get(name, now), at) + 1 / rate
        return at

    async def _until(self, when: float) -> None:
        delay = when - self.clock()
        if delay > 0:
            await self.sleep(delay)


class _LeaseLost(Exception):
    pass


@dataclass(slots=True)
class ReconcileReport:
    channel: ChannelKey
    confirmed: list[str] = field(default_factory=list)
    retry: list[str] = field(default_factory=list)
    uncertain: list[str] = field(default_factory=list)
    unresolved: list[str] = field(default_factory=list)


class _Undecided(PostError):
    """A post that may or may not have gone out, and the platform could not settle it."""

    def __init__(self, message: str, final: bool = False) -> None:
        super().__init__(message)
        self.final = final


class DigestDelivery:
    """Delivers digests; tune `retry_attempts`, `retry_backoff`, `pacer` and `sleep` per process."""

    def __init__(
        self, bot: Paperbot, max_concurrent_digests: int = 1000, max_preparing: int = 8
    ) -> None:
        self.bot = bot
        self.leases = LeaseKeeper(bot.store)
        self.pacer = Pacer()
        self.retry_attempts = 3
        self.retry_backoff = 2.0  # seconds before the 2nd attempt; doubles
        self.sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
        # One digest at a time per channel within a process; the lease guards across processes.
        self._locks: dict[ChannelKey, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._digests = asyncio.Semaphore(max_concurrent_digests)
        self._preparing = asyncio.Semaphore(max_preparing)
        # Set when the process stops: no digest starts, one posting stops after its post in
        # flight (see shutdown.py for what is logged and left to the next lease holder).
        self.stopping = asyncio.Event()

    @property
    def coordination(self) -> Coordination:
        return self.leases.coordination

    async def deliver(
        self,
        key: ChannelKey,
        force_post: bool = False,
        due: datetime | None = None,
        post_at: datetime | None = None,
    ) -> DeliveryReport:
        """Post the channel's digest. With `due`, only if no digest was built since then (the
        scheduled slot was not served yet); with `post_at`, prepare now but post from then on.

        The channel's last-digest time becomes the moment the digest was built, not when its
        last post went out: a paper matched while a digest is being posted belongs to the next.
        """
        report = DeliveryReport(key)
        poster = self.bot.posters.get(key.platform)
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
                channel = await self.bot.channel(key)
                last = channel.last_digest_at
                if due is not None and last is not None and last >= due:
                    report.skipped_reason = "digest already delivered"
                    return report
                if channel.settings.paused and not force_post:
                    report.skipped_reason = f"paused ({channel.pause_reason or 'by command'})"
                    return report
                await self.reconcile_channel(key, poster)
                now = self.bot.clock()
                digest, built_empty = await self._prepare(channel, now)
            if post_at is not None:  # prepared ahead of the hour; post on the hour
                await self._until(post_at)
            if self.stopping.is_set():  # stopped before its hour: nothing was sent
                if built_empty:
                    return not_started(report)
                left = [item.paper.arxiv_id for item in digest.items]
                await self._release(key, left)
                return interrupted(report, digest, left, before_hour=True)
            try:
                if built_empty:
                    if channel.settings.post_when_empty or force_post:
                        await self._send_notice(poster, key, lease, empty_digest_reply(digest))
                    await self.bot.blocking(self.bot.store.set_last_digest, key, now)
                elif digest.items:
                    await self._post_items(poster, channel, digest, lease, report, now)
            except ChannelUnavailable as exc:
                await self._pause(key, str(exc), report)
            except _LeaseLost:
                report.skipped_reason = "lost the channel's lease to another worker"
        return report

    async def _send_notice(
        self, poster: ChatPoster, key: ChannelKey, lease: HeldLease, reply: Reply
    ) -> None:
        """The "nothing new today" line: worth a try, not worth failing the digest for."""
        try:
            await self._send(key, lease, partial(poster.post_reply, key, reply))
        except ChannelUnavailable:
            raise
        except PostError as exc:
            log.warning("empty-digest notice for %s failed: %s", key, exc)

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

    async def _prepare(self, channel: Channel, now: datetime) -> tuple[Digest, bool]:
        """Build the digest and record the intent to post each paper, before any post; returns
        the digest narrowed to the papers this call reserved, and whether it was built empty."""
        digest = await self.bot.build_digest(channel.key, now)
        if digest.is_empty:
            return digest, True
        ids = [item.paper.arxiv_id for item in digest.items]
        reserved = set(
            await self.bot.blocking(
                self.bot.store.reserve_posts, channel.key, ids, digest.day, self.leases.owner
            )
        )
        items = tuple(item for item in digest.items if item.paper.arxiv_id in reserved)
        return replace(digest, items=items), False

    async def _send(
        self,
        key: ChannelKey,
        lease: HeldLease,
        post: Callable[[], Awaitable[str]],
        already_posted: Callable[[], Awaitable[str | None]] | None = None,
    ) -> str:
        """One paced post, retried with backoff after a PostError; ChannelUnavailable is final.

        After a failure that may have posted anyway (PostOutcomeUnknown), `already_posted` asks
        the platform first: found means done; a platform that cannot tell ends the retries,
        because resending blindly could post the paper twice.
        """
        for attempt in range(1, self.retry_attempts + 1):
            if lease.lost:
                raise _LeaseLost(lease.name)
            try:
                async with self.pacer.turn(key):
                    return await post()
            except ChannelUnavailable:
                metrics.post_failed(key.platform)
                raise
            except PostOutcomeUnknown as exc:
                if already_posted is not None:
                    found = await self._ask_platform(already_posted, exc)
                    if found is not None:
                        return found
                if attempt >= self.retry_attempts:
                    metrics.post_failed(key.platform)
                    raise
                await self._back_off(key, exc, attempt)
            except PostError as exc:
                if attempt >= self.retry_attempts:
                    metrics.post_failed(key.platform)
                    raise
                await self._back_off(key, exc, attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _back_off(self, key: ChannelKey, exc: PostError, attempt: int) -> None:
        delay = self.retry_backoff * 2 ** (attempt - 1)
        log.info("post to %s failed (%s); attempt %d in %.1fs", key, exc, attempt + 1, delay)
        await self.sleep(delay)

    @staticmethod
    async def _ask_platform(
        already_posted: Callable[[], Awaitable[str | None]], failure: PostOutcomeUnknown
    ) -> str | None:
        """The message id if the platform shows the post went through; raises _Undecided when
        it cannot say, so the caller neither resends nor forgets the paper."""
        try:
            return await already_posted()
        except CannotTell as exc:
            raise _Undecided(f"{failure}; and the platform cannot tell: {exc}", final=True) from exc
        except PostError as exc:
            raise _Undecided(f"{failure}; and asking the platform failed: {exc}") from exc

    async def _post_items(
        self,
        poster: ChatPoster,
        channel: Channel,
        digest: Digest,
        lease: HeldLease,
        report: DeliveryReport,
        built_at: datetime,
    ) -> None:
        key, items = channel.key, digest.items
        ids = [item.paper.arxiv_id for item in items]
        position = -1  # -1: the header is (or is about to be) in flight
        try:
            try:
                header = await self._send(key, lease, partial(poster.post_header, key, digest))
            except PostError as exc:
                await self._release(key, ids)
                if isinstance(exc, ChannelUnavailable):
                    raise
                log.warning("digest header for %s failed, will retry later: %s", key, exc)
                report.failed.extend(ids)
                return
            thread = header if channel.settings.threaded else None
            since = built_at - FIND_POSTED_MARGIN
            for position, item in enumerate(items):
                paper_id = item.paper.arxiv_id
                if self.stopping.is_set():
                    await self._release(key, ids[position:])
                    interrupted(report, digest, ids[position:])
                    return
                try:
                    message_id = await self._send(
                        key,
                        lease,
                        partial(poster.post_item, key, digest, item, thread),
                        partial(poster.find_posted, key, paper_id, since),
                    )
                except ChannelUnavailable:
                    await self._release(key, ids[position:])
                    raise
                except _Undecided as exc:
                    # Final: uncertain, never resent; otherwise it stays pending and the
                    # settling sweep asks the platform again later.
                    log.warning("post of %s to %s undecided: %s", paper_id, key, exc)
                    if exc.final:
                        await self.bot.blocking(self.bot.store.mark_post_uncertain, key, paper_id)
                    report.failed.append(paper_id)
                    continue
                except PostError as exc:
                    log.warning("post of %s to %s failed, will retry later: %s", paper_id, key, exc)
                    await self.bot.blocking(self.bot.store.release_post, key, paper_id)
                    report.failed.append(paper_id)
                    continue
                await self.bot.blocking(
                    self.bot.store.complete_post, key, paper_id, message_id, thread
                )
                report.posted.append(paper_id)
        except _LeaseLost:
            # Another worker may own the channel now; it settles what is still pending.
            report.failed.extend(ids[max(position, 0) :])
            log.warning("digest for %s stopped, lease lost: %s", key, report.summary)
            return
        except asyncio.CancelledError:
            # Shutting down: what was never sent may go out again; the post in flight stays
            # pending, to be settled by asking the platform.
            self._release_now(key, ids[position + 1 :])
            interrupted(report, digest, ids[max(position, 0) :])
            raise
        await self.bot.blocking(self.bot.store.set_last_digest, key, built_at)
        metrics.digest_posted(key.platform, len(report.posted))
        log.info("digest %s", report.summary)

    async def _until(self, moment: datetime) -> None:
        """Sleep until `moment`, or until the process stops."""
        delay = (moment - self.bot.clock()).total_seconds()
        if delay > 0:
            await until_stopped(self.stopping, self.sleep(delay))

    async def _release(self, key: ChannelKey, paper_ids: Sequence[str]) -> None:
        await self.bot.blocking(self._release_now, key, paper_ids)

    def _release_now(self, key: ChannelKey, paper_ids: Sequence[str]) -> None:
        for paper_id in paper_ids:
            self.bot.store.release_post(key, paper_id)

    async def _pause(self, key: ChannelKey, reason: str, report: DeliveryReport) -> None:
        report.paused = True
        first_time = await self.bot.blocking(self.bot.store.pause_channel, key, reason)
        if first_time:
            log.warning("paused digests for %s: %s", key, reason)

    # --- reconciliation -------------------------------------------------------------------

    async def reconcile_channel(self, key: ChannelKey, poster: ChatPoster) -> ReconcileReport:
        """Settle intents left pending by a crash; the caller holds the channel's lease.

        Found on the platform: recorded as posted. Definitely not there: 'retry', so the next
        digest posts it. The platform cannot tell: 'uncertain', never resent automatically.
        """
        report = ReconcileReport(key)
        for entry in await self.bot.blocking(self.coordination.pending_posts, key):
            paper_id = entry.paper_id
            try:
                found = await poster.find_posted(
                    key, paper_id, entry.created_at - FIND_POSTED_MARGIN
                )
            except CannotTell as exc:
                log.warning("%s: cannot tell whether %s was posted (%s)", key, paper_id, exc)
                await self.bot.blocking(self.bot.store.mark_post_uncertain, key, paper_id)
                report.uncertain.append(paper_id)
                continue
            except ChannelUnavailable as exc:
                await self._pause(key, str(exc), DeliveryReport(key))
                report.unresolved.append(paper_id)  # asked again when the channel is back
                continue
            except PostError as exc:
                log.warning("%s: could not check %s for now (%s)", key, paper_id, exc)
                report.unresolved.append(paper_id)
                continue
            if found is not None:
                await self.bot.blocking(self.bot.store.complete_post, key, paper_id, found)
                report.confirmed.append(paper_id)
            else:
                await self.bot.blocking(self.bot.store.release_post, key, paper_id)
                report.retry.append(paper_id)
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

    async def reconcile_all(self, concurrency: int = 8) -> list[ReconcileReport]:
        """On start: settle every channel's leftover intents (skipping channels a live worker is
        delivering right now, and platforms this process has no connection to)."""
        keys = await self.bot.blocking(self.coordination.channels_with_pending)
        gate = asyncio.Semaphore(concurrency)

        async def one(key: ChannelKey) -> ReconcileReport | None:
            poster = self.bot.posters.get(key.platform)
            if poster is None:
                return None
            async with gate, self._locks[key], self.leases.hold(f"digest:{key}") as lease:
                if lease is None:
                    return None
                return await self.reconcile_channel(key, poster)

        results = await asyncio.gather(*(one(key) for key in keys))
        return [r for r in results if r is not None]


def empty_digest_reply(digest: Digest) -> Reply:
    text = f"No new matching papers for {digest.day:%a %d %b}."
    if digest.missing_sources:
        text += f" (Not fetched: {', '.join(digest.missing_sources)}.)"
    return Reply(text=text, visibility=Visibility.IN_CHANNEL)
