"""The one-row-per-subscription design, as it was before query rows, rebuilt for bench_day.py's
baseline: every subscription reloaded, then one transaction upserting the day and recording one
`legacy_matches` row per subscriber; a digest reads its channel's rows, posted papers filtered
out in SQL."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, MetaData, Table, select, text

from paperbot.matching import SubscriptionIndex, subscription_rows
from paperbot.models import MatchField, Paper
from paperbot.service import Paperbot
from paperbot.store import papers as paper_rows
from paperbot.store.inserts import bind_value, insert_rows_counting_new
from paperbot.store.matches import StoredMatch
from paperbot.store.store import PostState
from paperbot.store.tables import posts, subscriptions

_LEGACY_TABLE = """CREATE TABLE legacy_matches (
    subscription_id INTEGER NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
    paper_id VARCHAR(32) NOT NULL REFERENCES papers (arxiv_id),
    channel_id INTEGER NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    field VARCHAR(16) NOT NULL,
    matched_at {timestamp} NOT NULL,
    PRIMARY KEY (subscription_id, paper_id))"""


class SubscriptionRows:
    """The former ingest: reload every subscription, then upsert the day and record one row per
    subscriber in one transaction; digests read a channel's rows."""

    def __init__(self, bot: Paperbot, channel_ids: dict[Any, int]) -> None:
        self.bot, self.store, self.channel_ids = bot, bot.store, channel_ids
        self.index = SubscriptionIndex()
        timestamp = "TIMESTAMP WITH TIME ZONE" if self.store.dialect == "postgresql" else "DATETIME"
        with self.store.transaction() as conn:
            conn.exec_driver_sql(_LEGACY_TABLE.format(timestamp=timestamp))
            conn.exec_driver_sql(
                "CREATE INDEX ix_legacy_matches_channel ON legacy_matches (channel_id, matched_at)"
            )

    def sync(self) -> float:
        started = time.perf_counter()
        self.index.sync(self.store.all_subscriptions())
        return time.perf_counter() - started

    def ingest(self, papers: list[Paper]) -> tuple[dict[str, float], int]:
        self.bot.learn_acronyms(papers)  # the same analysis as the bot's, learned acronyms too
        stages: dict[str, float] = {"sync subscriptions": self.sync()}
        started = time.perf_counter()
        with self.store.transaction() as conn:
            result = paper_rows.upsert_papers(conn, papers, self.store.clock())
            stored = time.perf_counter()
            groups = self.index.match_groups(map(self.bot.analyze, result.changed))
            matched = time.perf_counter()
            live = set(conn.execute(select(subscriptions.c.id)).scalars())
            at = bind_value(conn, posts.c.created_at, self.store.clock())
            rows = [
                (sub.id, paper_id, self.channel_ids[sub.channel], f.value, at)
                for sub, paper_id, f in subscription_rows(groups)
                if sub.id in live
            ]
            columns = ("subscription_id", "paper_id", "channel_id", "field", "matched_at")
            count = insert_rows_counting_new(conn, _LEGACY, columns, rows)
        done = time.perf_counter()
        stages |= {
            "store (read + write)": stored - started,
            "match": matched - stored,
            "record": done - matched,
        }
        stages["transaction"] = done - started
        return stages, count

    @staticmethod
    def candidates(conn: Connection, channel_id: int, matched_since: datetime) -> list[StoredMatch]:
        """The former `digest_candidates`, over the legacy rows."""
        sql = (
            "SELECT m.paper_id, m.field, s.query FROM legacy_matches m "
            "JOIN subscriptions s ON s.id = m.subscription_id "
            "WHERE m.channel_id = :c AND m.matched_at >= :since AND m.paper_id NOT IN "
            "(SELECT paper_id FROM posts WHERE channel_id = :c AND state != :retry) "
            "ORDER BY m.paper_id"
        )
        params = {"c": channel_id, "retry": PostState.RETRY, "since": matched_since}
        rows = conn.execute(text(sql), params).all()
        return [StoredMatch(r.paper_id, r.query, MatchField(r.field)) for r in rows]


# Only its name is used: rows go straight to the driver (insert_rows_counting_new).
_LEGACY = Table("legacy_matches", MetaData())
