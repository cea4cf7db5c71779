"""One post to a platform, retried according to what its failure says about delivery.

- `PostNotSent`: the request never connected, so it certainly did not arrive; it is waited out
  and sent again like a rate limit, with capped exponential backoff, for up to `outage_budget`
  seconds of waiting in all.
- `PostOutcomeUnknown`: the request may have arrived (a read timeout after the body went out, a
  5xx, a reset mid-response). The platform is asked: found means done; definitely absent means it
  may be sent again; "cannot ask right now" is asked again after a backoff; a platform that can
  never tell ends it as `Undecided(final=True)`, and the paper is never resent.
- any other `PostError` is retried `attempts` times; `ChannelUnavailable` is final at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from paperbot import metrics
from paperbot.errors import (
    CannotTell,
    ChannelUnavailable,
    PostError,
    PostNotSent,
    PostOutcomeUnknown,
)
from paperbot.models import ChannelKey
from paperbot.pacing import Pacer

log = logging.getLogger(__name__)

Post = Callable[[], Awaitable[str]]
Lookup = Callable[[], Awaitable[str | None]]
Sleep = Callable[[float], Awaitable[None]]


class LeaseLost(Exception):
    """The channel's lease went to another worker: stop posting; it settles what is pending."""


class Undecided(PostError):
    """A post that may or may not have gone out, and the platform could not settle it (yet).

    `final`: the platform can never tell (the paper is marked uncertain and never resent);
    otherwise it stays pending and the next digest asks the platform again before anything.
    """

    def __init__(self, message: str, final: bool = False) -> None:
        super().__init__(message)
        self.final = final


@dataclass(slots=True)
class RetryPolicy:
    attempts: int = 3  # sends per post for ordinary failures (and confirmed-absent outcomes)
    backoff: float = 2.0  # seconds before the 2nd attempt; doubles
    max_backoff: float = 30.0
    outage_budget: float = 120.0  # seconds of waiting out an unreachable platform, per post

    def delay(self, attempt: int) -> float:
        return float(min(self.max_backoff, self.backoff * 2 ** (attempt - 1)))


class Sender:
    """Sends one post through the pacer, as the module docstring describes."""

    def __init__(
        self,
        pacer: Pacer,
        policy: RetryPolicy,
        sleep: Sleep = asyncio.sleep,
        stopping: asyncio.Event | None = None,
    ) -> None:
        self.pacer = pacer
        self.policy = policy
        self.sleep = sleep
        self._stopping = stopping or asyncio.Event()

    async def send(
        self,
        key: ChannelKey,
        post: Post,
        already_posted: Lookup | None = None,
        guard: Callable[[], None] = lambda: None,
    ) -> str:
        """The message id of the post; raises Undecided, ChannelUnavailable, or a PostError
        that means "certainly not posted" (the caller queues the paper again)."""
        failures = 0  # attempts that failed in a way counted against `attempts`
        outage = _Outage(self.policy)
        while True:
            guard()
            try:
                async with self.pacer.turn(key):
                    return await post()
            except ChannelUnavailable:
                metrics.post_failed(key.platform)
                raise
            except PostNotSent as exc:
                if not outage.more():
                    metrics.post_failed(key.platform)
                    raise
                if not await self._wait(key, exc, outage.next_delay()):
                    raise
            except PostOutcomeUnknown as exc:
                if already_posted is None:
                    # Nothing to ask (a notice): treat it as failed; a notice may repeat.
                    failures += 1
                    if failures >= self.policy.attempts:
                        metrics.post_failed(key.platform)
                        raise
                    if not await self._wait(key, exc, self.policy.delay(failures)):
                        raise
                    continue
                found = await self.settle(key, already_posted, exc, outage, guard)
                if found is not None:
                    return found
                failures += 1  # the platform confirmed it is absent: sending again is safe
                if failures >= self.policy.attempts:
                    metrics.post_failed(key.platform)
                    raise PostError(f"{exc}; not posted (checked), retries spent") from exc
                if not await self._wait(key, exc, self.policy.delay(failures)):
                    raise PostError(f"{exc}; not posted (checked), shutting down") from exc
            except PostError as exc:
                failures += 1
                if failures >= self.policy.attempts:
                    metrics.post_failed(key.platform)
                    raise
                if not await self._wait(key, exc, self.policy.delay(failures)):
                    raise

    async def settle(
        self,
        key: ChannelKey,
        already_posted: Lookup,
        failure: PostError,
        outage: _Outage | None = None,
        guard: Callable[[], None] = lambda: None,
    ) -> str | None:
        """Ask the platform whether a post that may have arrived did: its id, or None when it
        is certainly absent. Asking is retried while the platform cannot be reached."""
        outage = outage or _Outage(self.policy)
        while True:
            guard()
            try:
                return await already_posted()
            except CannotTell as exc:
                raise Undecided(f"{failure}; the platform cannot tell: {exc}", final=True) from exc
            except ChannelUnavailable:
                raise
            except PostError as exc:
                if not outage.more():
                    raise Undecided(f"{failure}; asking the platform failed: {exc}") from exc
                if not await self._wait(key, exc, outage.next_delay()):
                    raise Undecided(f"{failure}; not settled before shutdown: {exc}") from exc

    def stop_waiting(self) -> None:
        """Shutting down: waits end now; what was not sent is queued again, what may have
        arrived stays pending (settled on the next start), so stopping takes seconds."""
        self._stopping.set()

    async def _wait(self, key: ChannelKey, exc: PostError, delay: float) -> bool:
        """Wait before trying again; False when the process is stopping (do not try again)."""
        if self._stopping.is_set():
            return False
        log.info("post to %s failed (%s); trying again in %.1fs", key, exc, delay)
        sleeping = asyncio.ensure_future(self.sleep(delay))
        stopping = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait({sleeping, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeping.cancel()
            stopping.cancel()
        return not self._stopping.is_set()


class SenderKnobs:
    """What tests and benchmarks turn on a delivery, kept where they always were: its sender's
    pacer and sleep, and its retry policy's attempts and backoff."""

    sender: Sender
    policy: RetryPolicy

    @property
    def pacer(self) -> Pacer:
        return self.sender.pacer

    @pacer.setter
    def pacer(self, pacer: Pacer) -> None:
        self.sender.pacer = pacer

    @property
    def sleep(self) -> Callable[[float], Awaitable[None]]:
        return self.sender.sleep

    @sleep.setter
    def sleep(self, sleep: Callable[[float], Awaitable[None]]) -> None:
        self.sender.sleep = sleep

    @property
    def retry_attempts(self) -> int:
        return self.policy.attempts

    @retry_attempts.setter
    def retry_attempts(self, attempts: int) -> None:
        self.policy.attempts = attempts

    @property
    def retry_backoff(self) -> float:
        return self.policy.backoff

    @retry_backoff.setter
    def retry_backoff(self, seconds: float) -> None:
        self.policy.backoff = seconds


class _Outage:
    """The waiting budget for a platform that cannot be reached, shared by sending and asking."""

    def __init__(self, policy: RetryPolicy) -> None:
        self.policy = policy
        self.waited = 0.0
        self.count = 0

    def more(self) -> bool:
        return self.waited < self.policy.outage_budget

    def next_delay(self) -> float:
        self.count += 1
        delay = min(self.policy.delay(self.count), self.policy.outage_budget - self.waited)
        self.waited += delay
        return max(delay, 0.0)
