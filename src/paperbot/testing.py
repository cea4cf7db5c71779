"""Fakes the tests (and benchmarks) share: a scriptable source, a recording poster, paper factories.

They implement the real ports, so code under test cannot tell them from the real thing.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from paperbot.errors import ChannelUnavailable, SourceError
from paperbot.models import ChannelKey, Digest, DigestItem, Paper, Reply
from paperbot.ports import FetchResult

_ids = itertools.count(1)


def make_paper(
    title: str = "A Study of Things",
    abstract: str = "We study things and find results.",
    arxiv_id: str | None = None,
    **fields: object,
) -> Paper:
    """A valid Paper with a fresh new-style id unless one is given."""
    if arxiv_id is None:
        arxiv_id = f"2501.{next(_ids):05d}"
    fields.setdefault("sources", ("arxiv",))
    return Paper(arxiv_id=arxiv_id, title=title, abstract=abstract, **fields)  # type: ignore[arg-type]


@dataclass
class FakeSource:
    """Serves papers by day; `fail_with` makes the next fetches raise, as a broken source would."""

    name: str = "fake"
    by_day: dict[date, list[Paper]] = field(default_factory=dict)
    fail_with: Exception | None = None
    calls: list[date] = field(default_factory=list)

    async def fetch_day(self, day: date) -> FetchResult:
        self.calls.append(day)
        if self.fail_with is not None:
            raise self.fail_with
        return FetchResult(self.name, list(self.by_day.get(day, [])))

    def failing(self, reason: str = "HTTP 503") -> FakeSource:
        self.fail_with = SourceError(self.name, reason)
        return self


@dataclass
class Posted:
    channel: ChannelKey
    kind: str  # "header", "item", "reply" (or "edit", offered to `fail` only)
    message_id: str
    paper_id: str | None = None
    thread: str | None = None
    text: str = ""
    ref: str = ""


@dataclass
class RecordingPoster:
    """A ChatPoster that keeps every post; `fail` decides per post whether to raise."""

    platform: str = "console"
    posts: list[Posted] = field(default_factory=list)
    fail: Callable[[Posted], Exception | None] | None = None
    edits: list[tuple[str, list[str]]] = field(default_factory=list)  # header id, its new list
    answers: list[tuple[str, str]] = field(default_factory=list)  # late answers: (to, text)
    _counter: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def _record(self, posted: Posted) -> str:
        if self.fail is not None:
            error = self.fail(posted)
            if error is not None:
                raise error
        self.posts.append(posted)
        return posted.message_id

    def _next_id(self) -> str:
        return f"m{next(self._counter)}"

    async def post_header(self, channel: ChannelKey, digest: Digest) -> str:
        return self._record(
            Posted(channel, "header", self._next_id(), text=digest.headline, ref=digest.ref)
        )

    async def post_item(
        self, channel: ChannelKey, digest: Digest, item: DigestItem, thread: str | None
    ) -> str:
        return self._record(
            Posted(channel, "item", self._next_id(), item.paper.arxiv_id, thread, item.paper.title)
        )

    async def post_reply(self, channel: ChannelKey, reply: Reply) -> str:
        return self._record(Posted(channel, "reply", self._next_id(), text=reply.text))

    async def find_posted(
        self, channel: ChannelKey, paper_id: str, since: datetime, thread: str | None = None
    ) -> str | None:
        for posted in self.posts:
            if posted.channel == channel and posted.paper_id == paper_id:
                return posted.message_id
        return None

    async def update_header(self, channel: ChannelKey, header_id: str, digest: Digest) -> None:
        edit = Posted(channel, "edit", header_id, thread=header_id, text=digest.headline)
        if self.fail is not None and (error := self.fail(edit)) is not None:
            raise error
        self.edits.append((header_id, [item.paper.arxiv_id for item in digest.items]))

    async def find_header(self, channel: ChannelKey, digest: Digest, since: datetime) -> str | None:
        for posted in self.posts:
            if posted.channel == channel and posted.kind == "header" and posted.ref == digest.ref:
                return posted.message_id
        return None

    async def post_answer(self, channel: ChannelKey, reply_to: str, reply: Reply) -> bool:
        self.answers.append((reply_to, reply.text))
        return True

    def items(self, channel: ChannelKey | None = None) -> list[str]:
        return [
            p.paper_id
            for p in self.posts
            if p.kind == "item" and p.paper_id and (channel is None or p.channel == channel)
        ]


def gone(posted: Posted) -> Exception:
    return ChannelUnavailable("channel_not_found")


class FixedClock:
    """A clock tests move by hand; no test sleeps through real time."""

    def __init__(self, now: datetime | None = None) -> None:
        self.now = now or datetime(2026, 11, 20, 8, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        from datetime import timedelta

        self.now += timedelta(**delta)


@contextmanager
def throwaway_database(server_url: str, prefix: str = "paperbot_test") -> Iterator[str]:
    """A new, empty database on the PostgreSQL server at `server_url`, dropped afterwards (even
    with connections left open), so each test or benchmark run starts from nothing."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


class VirtualTime:
    """The Pacer's clock and sleep, in virtual time: when every task is waiting, time jumps to
    the earliest wake-up (trio's autojump clock, in small). Sleeps are recorded."""

    _SETTLE_ROUNDS = 10  # loop iterations with nothing to wake before time jumps

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self._jump_scheduled = False

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        loop = asyncio.get_running_loop()
        wake: asyncio.Future[None] = loop.create_future()
        heapq.heappush(self._sleepers, (self.now + max(0.0, seconds), next(self._order), wake))
        if not self._jump_scheduled:
            self._jump_scheduled = True
            loop.call_soon(self._jump, 0)
        await wake

    def _jump(self, rounds: int) -> None:
        loop = asyncio.get_running_loop()
        if rounds < self._SETTLE_ROUNDS:
            loop.call_soon(self._jump, rounds + 1)
            return
        self._jump_scheduled = False
        if not self._sleepers:
            return
        when = self._sleepers[0][0]
        self.now = max(self.now, when)
        while self._sleepers and self._sleepers[0][0] <= self.now:
            _, _, wake = heapq.heappop(self._sleepers)
            if not wake.done():
                wake.set_result(None)
        if self._sleepers:
            self._jump_scheduled = True
            loop.call_soon(self._jump, 0)
