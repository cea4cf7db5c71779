"""The retry and pacing rules every source shares, so a flaky or strict server degrades one digest
section instead of killing the run."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TypeVar

import httpx

from paperbot.errors import SourceError
from paperbot.settings import SourcesSettings

logger = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], float]
WallClock = Callable[[], datetime]
Params = Mapping[str, str | int]
T = TypeVar("T")

# A server asking for more than this is effectively down for today's run; waiting longer would
# only hold up the digest, so we retry after the cap and let the retry budget decide.
MAX_RETRY_AFTER_SECONDS = 300.0
MAX_BACKOFF_SECONDS = 60.0
_RETRYABLE_STATUSES = frozenset({408, 425, 429})


class MalformedResponse(Exception):
    """A 2xx body that cannot be read as a whole; retried, since truncated bodies and proxy error
    pages are usually transient."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date); None if unusable."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - now).total_seconds()
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


class RetryingClient:
    """GETs through an injected httpx client with retries, backoff and optional pacing.

    The httpx client is injected so the CLI owns its lifetime and tests can hand in a
    MockTransport; sleep and clocks are injected so tests never really wait.
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        settings: SourcesSettings,
        *,
        source: str,
        min_interval: float = 0.0,
        one_at_a_time: bool = False,
        sleep: Sleep = asyncio.sleep,
        clock: Clock = time.monotonic,
        wall_clock: WallClock = _utc_now,
        max_retry_after: float = MAX_RETRY_AFTER_SECONDS,
    ) -> None:
        self._client = client
        self._settings = settings
        self._source = source
        self._min_interval = min_interval
        self._sleep = sleep
        self._clock = clock
        self._wall_clock = wall_clock
        self._max_retry_after = max_retry_after
        # Pacing only means something if requests cannot overlap, hence the lock whenever paced.
        self._lock = asyncio.Lock() if one_at_a_time or min_interval > 0 else None
        self._last_request_at: float | None = None

    async def get(self, url: str, params: Params | None = None) -> httpx.Response:
        """The successful response itself, for callers that parse nothing."""
        return await self.fetch(url, params, parse=lambda response: response)

    async def fetch(
        self, url: str, params: Params | None, *, parse: Callable[[httpx.Response], T]
    ) -> T:
        """The parsed 2xx body; `parse` raising MalformedResponse counts as a failed attempt.

        Any other exception from `parse` (such as a SourceError for an error the server reports
        in a 200) propagates at once: asking again would get the same answer.
        """
        attempts = self._settings.retries + 1
        where = _describe(url)
        problem = "no attempt made"
        for attempt in range(1, attempts + 1):
            delay: float | None = None
            try:
                response = await self._send(url, params)
            except httpx.TimeoutException as exc:
                problem = f"timeout ({type(exc).__name__})"
            except httpx.TransportError as exc:
                problem = f"connection failed ({type(exc).__name__})"
            else:
                status = response.status_code
                if response.is_success:
                    try:
                        return parse(response)
                    except MalformedResponse as exc:
                        problem = f"malformed response ({exc})"
                elif status in _RETRYABLE_STATUSES or status >= 500:
                    problem = f"HTTP {status}"
                    delay = self._retry_after(response)
                else:
                    reason = f"HTTP {status} from {where}"
                    logger.warning("%s: %s, not retrying", self._source, reason)
                    raise SourceError(self._source, reason)
            if attempt == attempts:
                break
            wait = delay if delay is not None else self._backoff(attempt)
            logger.warning(
                "%s: %s from %s, retry %d/%d in %.1f s",
                self._source,
                problem,
                where,
                attempt,
                attempts - 1,
                wait,
            )
            await self._sleep(wait)
        reason = f"{problem} from {where} after {attempts} attempt{'s' if attempts > 1 else ''}"
        logger.error("%s: giving up: %s", self._source, reason)
        raise SourceError(self._source, reason)

    async def _send(self, url: str, params: Params | None) -> httpx.Response:
        if self._lock is None:
            return await self._get(url, params)
        async with self._lock:
            await self._keep_pace()
            try:
                return await self._get(url, params)
            finally:
                # Measured from the end of the request: the gap holds even for slow answers.
                self._last_request_at = self._clock()

    async def _keep_pace(self) -> None:
        if self._last_request_at is None or self._min_interval <= 0:
            return
        wait = self._last_request_at + self._min_interval - self._clock()
        if wait > 0:
            await self._sleep(wait)

    async def _get(self, url: str, params: Params | None) -> httpx.Response:
        return await self._client.get(
            url,
            params=params,
            headers={"User-Agent": self._settings.user_agent},
            timeout=self._settings.timeout_seconds,
            follow_redirects=True,
        )

    def _retry_after(self, response: httpx.Response) -> float | None:
        seconds = parse_retry_after(response.headers.get("Retry-After"), self._wall_clock())
        return None if seconds is None else min(seconds, self._max_retry_after)

    def _backoff(self, attempt: int) -> float:
        return min(self._settings.backoff_seconds * 2.0 ** (attempt - 1), MAX_BACKOFF_SECONDS)


def _describe(url: str) -> str:
    """Host and path only: query strings stay out of logs and error messages."""
    parsed = httpx.URL(url)
    return f"{parsed.host}{parsed.path}"
