"""Process metrics for Prometheus, and the health state `/healthz` reports.

The metrics live in a registry of their own, not prometheus_client's global one, so `/metrics`
shows paperbot's numbers only and tests can read them without other libraries' collectors. The
core records them with one-line calls (`metrics.papers_ingested(n)`); a process has one set.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from prometheus_client import CollectorRegistry, Counter, Histogram

if TYPE_CHECKING:
    from paperbot.store.store import Store

log = logging.getLogger(__name__)
P = ParamSpec("P")
T = TypeVar("T")

REGISTRY = CollectorRegistry(auto_describe=True)

PAPERS_INGESTED = Counter(
    "papers_ingested",
    "Papers stored for the first time by an ingest.",
    registry=REGISTRY,
)
DIGESTS_POSTED = Counter(
    "digests_posted",
    "Digests that reached a channel (at least one paper posted).",
    ["platform"],
    registry=REGISTRY,
)
POSTS_FAILED = Counter(
    "posts_failed",
    "Posts that failed after their retries (a gone channel counts too).",
    ["platform"],
    registry=REGISTRY,
)
SOURCE_ERRORS = Counter(
    "source_errors",
    "Fetches of a day from a source that failed after their retries.",
    ["source"],
    registry=REGISTRY,
)
COMMAND_LATENCY = Histogram(
    "command_latency_seconds",
    "Time the core took to answer one /papers command, refusals included.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
    registry=REGISTRY,
)


def papers_ingested(count: int) -> None:
    if count > 0:
        PAPERS_INGESTED.inc(count)


def digest_posted(platform: str, posted: int) -> None:
    """Counted when a digest put at least one paper in a channel."""
    if posted > 0:
        DIGESTS_POSTED.labels(platform=platform).inc()


def post_failed(platform: str) -> None:
    POSTS_FAILED.labels(platform=platform).inc()


def source_error(source: str) -> None:
    SOURCE_ERRORS.labels(source=source).inc()


def timed_command(fn: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
    """Decorate the command handler so every command lands in the latency histogram, whatever
    its outcome; prometheus_client's own `.time()` would time only the coroutine's creation."""

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        started = time.perf_counter()
        try:
            return await fn(*args, **kwargs)
        finally:
            COMMAND_LATENCY.observe(time.perf_counter() - started)

    return wrapper


def sample(name: str, labels: Mapping[str, str] | None = None) -> float:
    """The current value of one sample, 0 when it has none yet (tests read counters so)."""
    value = REGISTRY.get_sample_value(name, dict(labels or {}))
    return value if value is not None else 0.0


# --- health -------------------------------------------------------------------------------

Probe = Callable[[], bool | Awaitable[bool]]
"""Says whether a platform is connected now; may be sync or async (Socket Mode asks async)."""
Explain = Callable[[], str | None]
"""Why a platform is down (e.g. "gateway unreachable: ... reconnect attempt 3"), None if unknown."""


@dataclass(frozen=True, slots=True)
class SourceState:
    name: str
    last_success_at: datetime | None
    last_error_at: datetime | None
    last_error: str | None

    @property
    def ok(self) -> bool:
        """A source is ok when its latest attempt succeeded."""
        if self.last_success_at is None:
            return False
        return self.last_error_at is None or self.last_success_at >= self.last_error_at


@dataclass(frozen=True, slots=True)
class HealthReport:
    database: str | None  # None when reachable, else the one-line reason
    platforms: dict[str, bool]
    sources: list[SourceState]
    started_at: datetime
    checked_at: datetime
    platform_errors: dict[str, str] = field(default_factory=dict)

    @property
    def healthy(self) -> bool:
        """Up when the database answers and every platform is connected. A failing source does
        not count: restarting the container would not bring Hugging Face back."""
        return self.database is None and all(self.platforms.values())

    def as_json(self) -> dict[str, Any]:
        return {
            "status": "ok" if self.healthy else "unhealthy",
            "uptime_seconds": round((self.checked_at - self.started_at).total_seconds(), 1),
            "database": {"ok": self.database is None, "error": self.database},
            "platforms": {
                name: {"connected": up, **({} if up else {"error": self.platform_errors.get(name)})}
                for name, up in self.platforms.items()
            },
            "sources": {
                s.name: {
                    "ok": s.ok,
                    "last_success_at": _iso(s.last_success_at),
                    "last_error_at": _iso(s.last_error_at),
                    "last_error": s.last_error,
                }
                for s in self.sources
            },
        }


@dataclass
class Health:
    """What `/healthz` looks at: the store, the platforms' probes and the configured sources.

    Each check runs when asked (a health request is rare and cheap), so the answer is never stale.
    """

    store: Store
    sources: Iterable[str] = ()
    platforms: dict[str, Probe] = field(default_factory=dict)
    explanations: dict[str, Explain] = field(default_factory=dict)
    clock: Callable[[], datetime] = field(default_factory=lambda: _utc_now)
    started_at: datetime = field(default_factory=lambda: _utc_now())
    timeout: float = 3.0

    def add_platform(self, name: str, probe: Probe, explain: Explain | None = None) -> None:
        self.platforms[name] = probe
        if explain is not None:
            self.explanations[name] = explain

    async def check(self) -> HealthReport:
        database, statuses = await self._database()
        platforms = {name: await self._probe(name, probe) for name, probe in self.platforms.items()}
        known = {s.name: s for s in statuses}
        names = sorted(set(known) | set(self.sources))
        sources = [known.get(name, SourceState(name, None, None, None)) for name in names]
        errors = {
            name: reason
            for name, up in platforms.items()
            if not up and (reason := self._explain(name)) is not None
        }
        return HealthReport(database, platforms, sources, self.started_at, self.clock(), errors)

    def _explain(self, name: str) -> str | None:
        explain = self.explanations.get(name)
        try:
            return explain() if explain is not None else "not connected"
        except Exception as exc:  # a report of why is a nicety; never fail the health check
            return f"unknown ({type(exc).__name__})"

    async def _database(self) -> tuple[str | None, list[SourceState]]:
        def query() -> list[SourceState]:
            self.store.ping()
            return [
                SourceState(s.source, s.last_success_at, s.last_error_at, s.last_error)
                for s in self.store.source_statuses()
            ]

        try:
            return None, await asyncio.wait_for(asyncio.to_thread(query), self.timeout)
        except TimeoutError:
            return f"no answer within {self.timeout:g}s", []
        except Exception as exc:  # any driver error means "not reachable" to a health check
            log.warning("health: database check failed: %s", type(exc).__name__)
            return f"unreachable ({type(exc).__name__})", []

    async def _probe(self, name: str, probe: Probe) -> bool:
        try:
            answer = probe()
            if inspect.isawaitable(answer):
                answer = await asyncio.wait_for(answer, self.timeout)
            return bool(answer)
        except Exception as exc:
            log.warning("health: %s probe failed: %s", name, type(exc).__name__)
            return False


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None
