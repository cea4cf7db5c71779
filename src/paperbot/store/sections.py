"""Store methods grouped by the capability they serve (exports and roundups read the history;
TL;DRs; weekly roundups), reached as `store.history`, `store.summaries`, `store.roundups`.
Like the Store's own methods, each opens its transaction or connection and leaves the rows to
the table module beside it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime

from sqlalchemy import Connection, Engine

from paperbot.models import ChannelKey
from paperbot.store import history as history_rows
from paperbot.store import roundups as roundup_rows
from paperbot.store import summaries as summary_rows

ChannelId = Callable[[Connection, ChannelKey], int | None]


class _Section:
    def __init__(
        self,
        engine: Engine,
        transaction: Callable[[], AbstractContextManager[Connection]],
        channel_id: ChannelId,
        clock: Callable[[], datetime],
    ) -> None:
        self.engine = engine
        self.transaction = transaction
        self.channel_id = channel_id
        self.clock = clock

    def _known(self, conn: Connection, key: ChannelKey) -> int:
        found = self.channel_id(conn, key)
        if found is None:
            raise LookupError(f"unknown channel {key}")
        return found


class History(_Section):
    """What a channel has seen: papers posted, matched by one subscription, matched most."""

    def posted_papers(self, key: ChannelKey, since: datetime | None) -> list[str]:
        with self.engine.connect() as conn:
            channel_id = self.channel_id(conn, key)
            return [] if channel_id is None else history_rows.posted_papers(conn, channel_id, since)

    def subscription_matches(
        self, subscription_id: int, since: datetime | None, limit: int
    ) -> list[str]:
        with self.engine.connect() as conn:
            return history_rows.subscription_matches(conn, subscription_id, since, limit)

    def most_matched(self, key: ChannelKey, since: datetime, limit: int) -> list[tuple[str, int]]:
        with self.engine.connect() as conn:
            channel_id = self.channel_id(conn, key)
            if channel_id is None:
                return []
            return history_rows.most_matched(conn, channel_id, since, limit)


class Summaries(_Section):
    """TL;DRs, one per paper, and what the day's cost so far."""

    def get(self, paper_ids: Sequence[str]) -> dict[str, str]:
        with self.engine.connect() as conn:
            return summary_rows.get_summaries(conn, paper_ids)

    def add(self, paper_id: str, text: str, model: str, tokens: int) -> bool:
        with self.transaction() as conn:
            return summary_rows.add_summary(conn, paper_id, text, model, tokens, self.clock())

    def usage(self, since: datetime) -> summary_rows.Usage:
        with self.engine.connect() as conn:
            return summary_rows.usage_since(conn, since)


class Roundups(_Section):
    """Which channels want a weekly roundup, and claiming each week's once across processes."""

    def set(self, key: ChannelKey, weekday: str, hour: int) -> None:
        with self.transaction() as conn:
            roundup_rows.set_roundup(conn, self._known(conn, key), weekday, hour, self.clock())

    def clear(self, key: ChannelKey) -> bool:
        with self.transaction() as conn:
            return roundup_rows.clear_roundup(conn, self._known(conn, key))

    def get(self, key: ChannelKey) -> tuple[str, int] | None:
        with self.engine.connect() as conn:
            channel_id = self.channel_id(conn, key)
            return None if channel_id is None else roundup_rows.get_roundup(conn, channel_id)

    def plans(self) -> list[roundup_rows.RoundupPlan]:
        with self.engine.connect() as conn:
            return roundup_rows.list_roundups(conn)

    def claim(self, key: ChannelKey, due: datetime) -> bool:
        with self.transaction() as conn:
            return roundup_rows.claim(conn, self._known(conn, key), due, self.clock())

    def release(self, key: ChannelKey, previous: datetime | None) -> None:
        with self.transaction() as conn:
            roundup_rows.release(conn, self._known(conn, key), previous)
