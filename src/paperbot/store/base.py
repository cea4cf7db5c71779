"""What every part of the store shares: the engine, the clock, transactions and channel ids."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, select

from paperbot.models import ChannelKey
from paperbot.store import channels as channel_rows
from paperbot.store.papers import PaperCache

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class StoreBase:
    def __init__(self, engine: Engine, clock: Clock = utc_now) -> None:
        self.engine = engine
        self.clock = clock
        self._channel_ids: dict[ChannelKey, int] = {}
        self._paper_cache = PaperCache()
        self._reads = threading.local()  # the connection of this thread's `reading()`

    def close(self) -> None:
        self.engine.dispose()

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            yield conn

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """A connection for reads: the one this thread holds in an enclosing `reading()`, else
        a new one. A digest reads everything in one session this way: on PostgreSQL each
        session costs a pre-ping and a rollback, more than the digest's own queries. Writes
        always take a `transaction()` of their own."""
        held: Connection | None = getattr(self._reads, "conn", None)
        if held is not None:
            yield held
            return
        with self.engine.connect() as conn:
            self._reads.conn = conn
            try:
                yield conn
            finally:
                self._reads.conn = None

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(select(1))

    def _channel_id(self, conn: Connection, key: ChannelKey) -> int:
        """The channel's row id, cached: a channel's id never changes once it exists."""
        cached = self._channel_ids.get(key)
        if cached is not None:
            return cached
        found = channel_rows.find_channel_id(conn, key)
        if found is None:
            raise LookupError(f"unknown channel {key}")
        self._channel_ids[key] = found
        return found

    def _channel_id_or_none(self, conn: Connection, key: ChannelKey) -> int | None:
        try:
            return self._channel_id(conn, key)
        except LookupError:
            return None
