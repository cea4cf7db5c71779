"""The store: every database session paperbot opens is opened here. Methods are synchronous and
short; async callers run them in a worker thread."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Table,
    and_,
    delete,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from paperbot.models import Channel, ChannelKey, ChannelSettings, MatchField, Paper, Subscription
from paperbot.store import papers as paper_rows
from paperbot.store.database import create_db_engine, migrate
from paperbot.store.tables import channels, matches, posts, source_status, subscriptions, votes
from paperbot.store.tables import papers as papers_table

Clock = Callable[[], datetime]
# Rows per multi-row INSERT: well under SQLite's 32,766 bound parameters at our widest table.
_INSERT_CHUNK = 1000


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class StoredMatch:
    paper_id: str
    subscription: str
    field: MatchField


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    channel: ChannelKey
    paper_id: str
    state: str
    message_id: str | None
    digest_day: date
    created_at: datetime


@dataclass(frozen=True, slots=True)
class SourceStatus:
    source: str
    last_success_at: datetime | None
    last_error_at: datetime | None
    last_error: str | None
    last_count: int | None


class PostState:
    PENDING = "pending"  # intent recorded, post not confirmed
    POSTED = "posted"
    UNCERTAIN = "uncertain"  # crashed mid-post and the platform could not tell: never resend
    RETRY = "retry"  # the post certainly failed: the next digest takes it up again


class Store:
    def __init__(self, engine: Engine, clock: Clock = utc_now) -> None:
        self.engine = engine
        self.clock = clock
        self._channel_ids: dict[ChannelKey, int] = {}

    @classmethod
    def open(cls, url: str, clock: Clock = utc_now, echo: bool = False) -> Store:
        """Connect and migrate: a new file or an old schema is brought to the newest revision."""
        engine = create_db_engine(url, echo=echo)
        migrate(engine)
        return cls(engine, clock)

    def close(self) -> None:
        self.engine.dispose()

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            yield conn

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(select(1))

    # --- papers ---------------------------------------------------------------------------

    def upsert_papers(self, batch: Iterable[Paper]) -> paper_rows.UpsertResult:
        with self.transaction() as conn:
            return paper_rows.upsert_papers(conn, batch, self.clock())

    def import_papers(
        self, batch: Iterable[Paper], checkpoint: Mapping[str, int] | None = None
    ) -> paper_rows.UpsertResult:
        """Backfill's upsert: a new paper is dated by its own publication (history must never
        look new to subscription lookbacks), and `checkpoint` meta values commit in the same
        transaction, so a resumed import neither skips nor repeats a batch."""
        with self.transaction() as conn:
            result = paper_rows.upsert_papers(
                conn, batch, self.clock(), first_seen=lambda p: p.published_at
            )
            if checkpoint:
                paper_rows.write_meta(conn, checkpoint)
            return result

    def read_meta(self, keys: Sequence[str]) -> dict[str, int]:
        with self.engine.connect() as conn:
            return paper_rows.read_meta(conn, keys)

    def get_papers(self, ids: Sequence[str]) -> dict[str, Paper]:
        with self.engine.connect() as conn:
            return paper_rows.get_papers(conn, ids)

    def get_paper(self, arxiv_id: str) -> Paper | None:
        return self.get_papers([arxiv_id]).get(arxiv_id)

    def papers_changed_since(self, rev: int, limit: int = 5000) -> list[tuple[int, Paper]]:
        with self.engine.connect() as conn:
            return paper_rows.papers_changed_since(conn, rev, limit)

    def papers_seen_since(self, since: datetime) -> list[Paper]:
        with self.engine.connect() as conn:
            return list(paper_rows.papers_seen_since(conn, since))

    def count_papers(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(papers_table)).scalar_one())

    # --- channels -------------------------------------------------------------------------

    def ensure_channel(self, key: ChannelKey, defaults: ChannelSettings) -> Channel:
        """The channel's record, created with `defaults` the first time it is seen."""
        found = self.get_channel(key)
        if found is not None:
            return found
        try:
            with self.transaction() as conn:
                conn.execute(
                    channels.insert().values(
                        platform=key.platform,
                        workspace=key.workspace,
                        channel=key.channel,
                        created_at=self.clock(),
                        **_settings_values(defaults),
                    )
                )
        except IntegrityError:
            pass  # another worker created it first; read theirs
        found = self.get_channel(key)
        assert found is not None
        return found

    def get_channel(self, key: ChannelKey) -> Channel | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(channels).where(*_key_filter(key))).mappings().first()
        if row is None:
            return None
        self._channel_ids[key] = row["id"]
        return _channel_from_row(row)

    def list_channels(self, platform: str | None = None) -> list[Channel]:
        query = select(channels).order_by(channels.c.id)
        if platform is not None:
            query = query.where(channels.c.platform == platform)
        with self.engine.connect() as conn:
            return [_channel_from_row(row) for row in conn.execute(query).mappings()]

    def update_channel(self, key: ChannelKey, settings: ChannelSettings) -> Channel:
        with self.transaction() as conn:
            conn.execute(
                update(channels)
                .where(channels.c.id == self._channel_id(conn, key))
                .values(
                    **_settings_values(settings),
                    **({} if settings.paused else {"pause_reason": None}),
                )
            )
        found = self.get_channel(key)
        assert found is not None
        return found

    def pause_channel(self, key: ChannelKey, reason: str) -> bool:
        """Pause a channel's digests; True if it was running until now (so report it once)."""
        with self.transaction() as conn:
            result = conn.execute(
                update(channels)
                .where(channels.c.id == self._channel_id(conn, key), channels.c.paused.is_(False))
                .values(paused=True, pause_reason=reason[:200])
            )
            return result.rowcount > 0

    def resume_channel(self, key: ChannelKey) -> None:
        with self.transaction() as conn:
            conn.execute(
                update(channels)
                .where(channels.c.id == self._channel_id(conn, key))
                .values(paused=False, pause_reason=None)
            )

    def set_last_digest(self, key: ChannelKey, at: datetime) -> None:
        with self.transaction() as conn:
            conn.execute(
                update(channels)
                .where(channels.c.id == self._channel_id(conn, key))
                .values(last_digest_at=at)
            )

    def _channel_id(self, conn: Connection, key: ChannelKey) -> int:
        cached = self._channel_ids.get(key)
        if cached is not None:
            return cached
        found = conn.execute(select(channels.c.id).where(*_key_filter(key))).scalar_one_or_none()
        if found is None:
            raise LookupError(f"unknown channel {key}")
        self._channel_ids[key] = found
        return int(found)

    # --- subscriptions --------------------------------------------------------------------

    def add_subscription(self, key: ChannelKey, query: str, user: str) -> Subscription | None:
        """The new subscription, or None if the channel already had this exact query."""
        try:
            with self.transaction() as conn:
                new_id = conn.execute(
                    subscriptions.insert()
                    .values(
                        channel_id=self._channel_id(conn, key),
                        query=query,
                        created_by=user,
                        created_at=self.clock(),
                    )
                    .returning(subscriptions.c.id)
                ).scalar_one()
        except IntegrityError:
            return None
        return Subscription(int(new_id), key, query)

    def remove_subscription(self, key: ChannelKey, query: str) -> bool:
        with self.transaction() as conn:
            channel_id = self._channel_id(conn, key)
            sub_ids = select(subscriptions.c.id).where(
                subscriptions.c.channel_id == channel_id, subscriptions.c.query == query
            )
            conn.execute(delete(matches).where(matches.c.subscription_id.in_(sub_ids)))
            result = conn.execute(
                delete(subscriptions).where(
                    subscriptions.c.channel_id == channel_id, subscriptions.c.query == query
                )
            )
            return result.rowcount > 0

    def list_subscriptions(self, key: ChannelKey) -> list[Subscription]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(subscriptions.c.id, subscriptions.c.query)
                .where(subscriptions.c.channel_id == self._channel_id(conn, key))
                .order_by(subscriptions.c.id)
            ).all()
        return [Subscription(row.id, key, row.query) for row in rows]

    def all_subscriptions(self) -> list[Subscription]:
        """Every subscription of every channel that is not paused."""
        query = (
            select(
                subscriptions.c.id,
                subscriptions.c.query,
                channels.c.platform,
                channels.c.workspace,
                channels.c.channel,
            )
            .join(channels, channels.c.id == subscriptions.c.channel_id)
            .order_by(subscriptions.c.id)
        )
        with self.engine.connect() as conn:
            return [
                Subscription(
                    row.id, ChannelKey(row.platform, row.workspace, row.channel), row.query
                )
                for row in conn.execute(query)
            ]

    # --- matches --------------------------------------------------------------------------

    def record_matches(self, found: Iterable[tuple[Subscription, str, MatchField]]) -> int:
        """Store (subscription, paper, field) matches; a match already stored stays as it was."""
        with self.transaction() as conn:
            rows = [
                {
                    "subscription_id": sub.id,
                    "paper_id": paper_id,
                    "channel_id": self._channel_id(conn, sub.channel),
                    "field": str(field),
                    "matched_at": self.clock(),
                }
                for sub, paper_id, field in found
            ]
            return self._insert_ignoring_duplicates(conn, matches, rows)

    def unposted_matches(self, key: ChannelKey, since: datetime | None) -> list[StoredMatch]:
        """Matches recorded since `since` for papers never posted to (nor reserved for) the
        channel, plus every match of a paper whose earlier post failed, however old."""
        with self.engine.connect() as conn:
            channel_id = self._channel_id(conn, key)
            in_ledger = select(posts.c.paper_id).where(posts.c.channel_id == channel_id)
            to_retry = in_ledger.where(posts.c.state == PostState.RETRY)
            fresh: ColumnElement[bool] = matches.c.paper_id.not_in(in_ledger)
            if since is not None:
                fresh = and_(fresh, matches.c.matched_at > since)
            query = (
                select(matches.c.paper_id, matches.c.field, subscriptions.c.query)
                .join(subscriptions, subscriptions.c.id == matches.c.subscription_id)
                .where(
                    matches.c.channel_id == channel_id, or_(fresh, matches.c.paper_id.in_(to_retry))
                )
            )
            rows = conn.execute(query.order_by(matches.c.paper_id)).all()
        return [StoredMatch(row.paper_id, row.query, MatchField(row.field)) for row in rows]

    # --- the posted ledger ----------------------------------------------------------------

    def reserve_posts(
        self, key: ChannelKey, paper_ids: Sequence[str], day: date, worker: str = ""
    ) -> list[str]:
        """Record the intent to post; returns the ids this call reserved (others were already
        posted or reserved, by this or another process), in the order given."""
        now = self.clock()
        with self.transaction() as conn:
            channel_id = self._channel_id(conn, key)
            rows = [
                {
                    "channel_id": channel_id,
                    "paper_id": paper_id,
                    "state": PostState.PENDING,
                    "digest_day": day,
                    "claimed_by": worker,
                    "created_at": now,
                }
                for paper_id in paper_ids
            ]
            mine = set(self._insert_returning_new(conn, posts, rows, posts.c.paper_id))
            reclaimed = conn.execute(
                update(posts)
                .where(
                    posts.c.channel_id == channel_id,
                    posts.c.paper_id.in_(list(paper_ids)),
                    posts.c.state == PostState.RETRY,
                )
                .values(state=PostState.PENDING, claimed_by=worker, created_at=now, digest_day=day)
                .returning(posts.c.paper_id)
            ).scalars()
            mine.update(reclaimed)
        return [p for p in paper_ids if p in mine]

    def complete_post(
        self, key: ChannelKey, paper_id: str, message_id: str, thread_id: str | None = None
    ) -> None:
        with self.transaction() as conn:
            conn.execute(
                update(posts)
                .where(
                    posts.c.channel_id == self._channel_id(conn, key), posts.c.paper_id == paper_id
                )
                .values(
                    state=PostState.POSTED,
                    message_id=message_id,
                    thread_id=thread_id,
                    posted_at=self.clock(),
                )
            )

    def release_post(self, key: ChannelKey, paper_id: str) -> None:
        """An intent whose post certainly did not happen: keep it as a retry, so the next digest
        posts it even though it matched before that digest's window."""
        with self.transaction() as conn:
            conn.execute(
                update(posts)
                .where(
                    posts.c.channel_id == self._channel_id(conn, key),
                    posts.c.paper_id == paper_id,
                    posts.c.state == PostState.PENDING,
                )
                .values(state=PostState.RETRY, message_id=None)
            )

    def mark_post_uncertain(self, key: ChannelKey, paper_id: str) -> None:
        with self.transaction() as conn:
            conn.execute(
                update(posts)
                .where(
                    posts.c.channel_id == self._channel_id(conn, key),
                    posts.c.paper_id == paper_id,
                    posts.c.state == PostState.PENDING,
                )
                .values(state=PostState.UNCERTAIN)
            )

    def pending_posts(self, older_than: datetime | None = None) -> list[LedgerEntry]:
        query = (
            select(posts, channels.c.platform, channels.c.workspace, channels.c.channel)
            .join(channels, channels.c.id == posts.c.channel_id)
            .where(posts.c.state == PostState.PENDING)
        )
        if older_than is not None:
            query = query.where(posts.c.created_at < older_than)
        with self.engine.connect() as conn:
            return [_ledger_from_row(row) for row in conn.execute(query).mappings()]

    def ledger(self, key: ChannelKey) -> list[LedgerEntry]:
        with self.engine.connect() as conn:
            query = (
                select(posts, channels.c.platform, channels.c.workspace, channels.c.channel)
                .join(channels, channels.c.id == posts.c.channel_id)
                .where(posts.c.channel_id == self._channel_id(conn, key))
                .order_by(posts.c.created_at, posts.c.paper_id)
            )
            return [_ledger_from_row(row) for row in conn.execute(query).mappings()]

    def paper_for_message(self, key: ChannelKey, message_id: str) -> str | None:
        """The paper a posted message is about, so a reaction on it can become a vote."""
        with self.engine.connect() as conn:
            channel_id = self._channel_id_or_none(conn, key)
            if channel_id is None:
                return None
            found = conn.execute(
                select(posts.c.paper_id).where(
                    posts.c.channel_id == channel_id, posts.c.message_id == message_id
                )
            ).scalar_one_or_none()
        return str(found) if found is not None else None

    def _channel_id_or_none(self, conn: Connection, key: ChannelKey) -> int | None:
        try:
            return self._channel_id(conn, key)
        except LookupError:
            return None

    # --- votes ----------------------------------------------------------------------------

    def set_vote(self, key: ChannelKey, paper_id: str, user: str, value: int) -> bool:
        """Record a user's vote; True if it changed anything (a repeated reaction counts once)."""
        with self.transaction() as conn:
            channel_id = self._channel_id(conn, key)
            where = and_(
                votes.c.channel_id == channel_id,
                votes.c.paper_id == paper_id,
                votes.c.user_id == user,
            )
            current = conn.execute(select(votes.c.value).where(where)).scalar_one_or_none()
            if current == value:
                return False
            if current is None:
                inserted = self._insert_ignoring_duplicates(
                    conn,
                    votes,
                    [
                        {
                            "channel_id": channel_id,
                            "paper_id": paper_id,
                            "user_id": user,
                            "value": value,
                            "voted_at": self.clock(),
                        }
                    ],
                )
                return inserted > 0
            conn.execute(update(votes).where(where).values(value=value, voted_at=self.clock()))
            return True

    def retract_vote(self, key: ChannelKey, paper_id: str, user: str, value: int) -> bool:
        """Remove a vote if it is the one being taken back (removing 👍 leaves a later 👎 alone)."""
        with self.transaction() as conn:
            result = conn.execute(
                delete(votes).where(
                    votes.c.channel_id == self._channel_id(conn, key),
                    votes.c.paper_id == paper_id,
                    votes.c.user_id == user,
                    votes.c.value == value,
                )
            )
            return result.rowcount > 0

    def vote_totals(self, key: ChannelKey, paper_ids: Sequence[str]) -> dict[str, int]:
        with self.engine.connect() as conn:
            channel_id = self._channel_id_or_none(conn, key)
            if channel_id is None or not paper_ids:
                return {}
            rows = conn.execute(
                select(votes.c.paper_id, func.sum(votes.c.value))
                .where(votes.c.channel_id == channel_id, votes.c.paper_id.in_(list(paper_ids)))
                .group_by(votes.c.paper_id)
            ).all()
        return {row[0]: int(row[1]) for row in rows}

    def top_voted(
        self, key: ChannelKey, since: datetime | None, limit: int
    ) -> list[tuple[str, int]]:
        """Papers the channel voted up, best first: (paper id, net votes)."""
        with self.engine.connect() as conn:
            channel_id = self._channel_id_or_none(conn, key)
            if channel_id is None:
                return []
            total = func.sum(votes.c.value).label("total")
            query = (
                select(votes.c.paper_id, total)
                .where(votes.c.channel_id == channel_id)
                .group_by(votes.c.paper_id)
                .having(func.sum(votes.c.value) > 0)
                .order_by(total.desc(), func.max(votes.c.voted_at).desc())
                .limit(limit)
            )
            if since is not None:
                query = query.where(votes.c.voted_at >= since)
            return [(row[0], int(row[1])) for row in conn.execute(query).all()]

    # --- sources --------------------------------------------------------------------------

    def record_source_result(self, source: str, count: int | None, error: str | None) -> None:
        now = self.clock()
        values: dict[str, Any] = (
            {"last_error_at": now, "last_error": error[:300]}
            if error is not None
            else {"last_success_at": now, "last_count": count}
        )
        with self.transaction() as conn:
            changed = conn.execute(
                update(source_status).where(source_status.c.source == source).values(**values)
            ).rowcount
            if not changed:
                self._insert_ignoring_duplicates(
                    conn, source_status, [{"source": source, **values}]
                )

    def source_statuses(self) -> list[SourceStatus]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(source_status).order_by(source_status.c.source)).mappings()
            return [SourceStatus(**row) for row in rows]

    # --- helpers --------------------------------------------------------------------------

    def _insert_returning_new(
        self, conn: Connection, table: Table, rows: list[dict[str, Any]], column: Any
    ) -> list[Any]:
        """Insert what is not there yet and return `column` of the rows this statement created;
        under concurrency the database, not a prior read, decides who won."""
        if not rows:
            return []
        insert = postgresql.insert if self.dialect == "postgresql" else sqlite.insert
        statement = insert(table).values(rows).on_conflict_do_nothing().returning(column)
        return list(conn.execute(statement).scalars())

    def _insert_ignoring_duplicates(
        self, conn: Connection, table: Table, rows: list[dict[str, Any]]
    ) -> int:
        """Insert rows, skipping those that exist; returns how many were new (counted from
        RETURNING, since psycopg reports no row count for these statements)."""
        key = next(iter(table.primary_key.columns))
        inserted = 0
        for start in range(0, len(rows), _INSERT_CHUNK):
            chunk = rows[start : start + _INSERT_CHUNK]
            inserted += len(self._insert_returning_new(conn, table, chunk, key))
        return inserted


def _key_filter(key: ChannelKey) -> tuple[Any, ...]:
    return (
        channels.c.platform == key.platform,
        channels.c.workspace == key.workspace,
        channels.c.channel == key.channel,
    )


def _settings_values(settings: ChannelSettings) -> dict[str, Any]:
    return {
        "timezone": settings.timezone,
        "digest_hour": settings.digest_hour,
        "max_items": settings.max_items,
        "digest_days": ",".join(settings.digest_days),
        "threaded": settings.threaded,
        "post_when_empty": settings.post_when_empty,
        "paused": settings.paused,
    }


def _channel_from_row(row: Any) -> Channel:
    settings = ChannelSettings(
        timezone=row["timezone"],
        digest_hour=row["digest_hour"],
        max_items=row["max_items"],
        digest_days=tuple(d for d in row["digest_days"].split(",") if d),
        threaded=row["threaded"],
        post_when_empty=row["post_when_empty"],
        paused=row["paused"],
    )
    return Channel(
        key=ChannelKey(row["platform"], row["workspace"], row["channel"]),
        settings=settings,
        last_digest_at=row["last_digest_at"],
        pause_reason=row["pause_reason"],
    )


def _ledger_from_row(row: Any) -> LedgerEntry:
    return LedgerEntry(
        channel=ChannelKey(row["platform"], row["workspace"], row["channel"]),
        paper_id=row["paper_id"],
        state=row["state"],
        message_id=row["message_id"],
        digest_day=row["digest_day"],
        created_at=row["created_at"],
    )


def with_settings(channel: Channel, **changes: Any) -> ChannelSettings:
    return replace(channel.settings, **changes)
