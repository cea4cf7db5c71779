"""Channels and their subscriptions in and out of the `channels` and `subscriptions` tables;
rows become frozen `Channel`s and `Subscription`s before they leave. Functions take the
channel's row id: `Store` resolves (and caches) it from the `ChannelKey`."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, bindparam, case, delete, select, update

from paperbot.models import Channel, ChannelKey, ChannelSettings, Subscription
from paperbot.store import matches as match_rows
from paperbot.store.tables import (
    UTCDateTime,
    channels,
    meta,
    queries,
    subscription_changes,
    subscriptions,
)

SUBSCRIPTION_REV = "subscription_rev"  # the meta counter that numbers subscription changes

# --- channels -----------------------------------------------------------------------------


def find_channel_id(conn: Connection, key: ChannelKey) -> int | None:
    found = conn.execute(select(channels.c.id).where(*_key_filter(key))).scalar_one_or_none()
    return None if found is None else int(found)


def insert_channel(
    conn: Connection, key: ChannelKey, settings: ChannelSettings, now: datetime
) -> None:
    """Raises IntegrityError if the channel exists already."""
    conn.execute(
        channels.insert().values(
            platform=key.platform,
            workspace=key.workspace,
            channel=key.channel,
            created_at=now,
            **_settings_values(settings),
        )
    )


def get_channel(conn: Connection, key: ChannelKey) -> tuple[int, Channel] | None:
    """The channel's row id and record."""
    row = conn.execute(_CHANNEL_BY_KEY, _key_params(key)).mappings().first()
    if row is None:
        return None
    return row["id"], _channel_from_row(row)


def list_channels(conn: Connection, platform: str | None = None) -> list[Channel]:
    query = select(channels).order_by(channels.c.id)
    if platform is not None:
        query = query.where(channels.c.platform == platform)
    return [_channel_from_row(row) for row in conn.execute(query).mappings()]


def update_settings(
    conn: Connection, channel_id: int, settings: ChannelSettings, now: datetime
) -> None:
    if settings.paused:
        resumed = {"paused_at": _paused_at(now)}
    else:
        resumed = {"pause_reason": None, "resumed_at": _resumed_at(now)}
    conn.execute(
        update(channels)
        .where(channels.c.id == channel_id)
        .values(**_settings_values(settings), **resumed)
    )


def pause(conn: Connection, channel_id: int, reason: str, now: datetime) -> bool:
    """Pause a channel's digests; True if it was running until now (so report it once)."""
    result = conn.execute(
        update(channels)
        .where(channels.c.id == channel_id, channels.c.paused.is_(False))
        .values(paused=True, pause_reason=reason[:200], paused_at=now)
    )
    return result.rowcount > 0


def resume(conn: Connection, channel_id: int, now: datetime) -> None:
    conn.execute(
        update(channels)
        .where(channels.c.id == channel_id)
        .values(paused=False, pause_reason=None, resumed_at=_resumed_at(now))
    )


def _paused_at(now: datetime) -> Any:
    """`now` if the channel is running (it is being paused), else its paused_at unchanged."""
    return case(
        (channels.c.paused.is_(False), bindparam("paused_now", now, type_=UTCDateTime)),
        else_=channels.c.paused_at,
    )


def _resumed_at(now: datetime) -> Any:
    """`now` if the channel is paused (it is being resumed), else its resumed_at unchanged."""
    return case(
        (channels.c.paused.is_(True), bindparam("now", now, type_=UTCDateTime)),
        else_=channels.c.resumed_at,
    )


def set_last_digest(conn: Connection, channel_id: int, at: datetime) -> None:
    conn.execute(update(channels).where(channels.c.id == channel_id).values(last_digest_at=at))


def _key_filter(key: ChannelKey) -> tuple[Any, ...]:
    return (
        channels.c.platform == key.platform,
        channels.c.workspace == key.workspace,
        channels.c.channel == key.channel,
    )


def _key_params(key: ChannelKey) -> dict[str, str]:
    return {"platform": key.platform, "workspace": key.workspace, "channel": key.channel}


# Built once: every command and digest reads its channel, and building the statement each time
# cost more than running it.
_CHANNEL_BY_KEY = select(channels).where(
    channels.c.platform == bindparam("platform"),
    channels.c.workspace == bindparam("workspace"),
    channels.c.channel == bindparam("channel"),
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
        "keep_days": settings.keep_days,
    }


def _channel_from_row(row: RowMapping) -> Channel:
    settings = ChannelSettings(
        timezone=row["timezone"],
        digest_hour=row["digest_hour"],
        max_items=row["max_items"],
        digest_days=tuple(d for d in row["digest_days"].split(",") if d),
        threaded=row["threaded"],
        post_when_empty=row["post_when_empty"],
        paused=row["paused"],
        keep_days=row["keep_days"],
    )
    return Channel(
        key=ChannelKey(row["platform"], row["workspace"], row["channel"]),
        settings=settings,
        last_digest_at=row["last_digest_at"],
        pause_reason=row["pause_reason"],
    )


# --- subscriptions ------------------------------------------------------------------------


def add_subscription(
    conn: Connection, channel_id: int, key: ChannelKey, query: str, user: str, now: datetime
) -> Subscription:
    """Raises IntegrityError if the channel already has this exact query."""
    new_id = conn.execute(
        subscriptions.insert()
        .values(channel_id=channel_id, query=query, created_by=user, created_at=now)
        .returning(subscriptions.c.id)
    ).scalar_one()
    match_rows.query_ids(conn, [query])  # the row its matches are stored under
    log_change(conn, channel_id)
    return Subscription(int(new_id), key, query)


def remove_subscription(conn: Connection, channel_id: int, query: str) -> bool:
    """Remove a subscription; True if there was one. Its matches are the query's, which other
    channels may share: a digest only ever reads those of subscriptions that exist."""
    result = conn.execute(
        delete(subscriptions).where(
            subscriptions.c.channel_id == channel_id, subscriptions.c.query == query
        )
    )
    if result.rowcount > 0:
        log_change(conn, channel_id)
        return True
    return False


def list_subscriptions(conn: Connection, channel_id: int, key: ChannelKey) -> list[Subscription]:
    rows = conn.execute(
        select(subscriptions.c.id, subscriptions.c.query)
        .where(subscriptions.c.channel_id == channel_id)
        .order_by(subscriptions.c.id)
    ).all()
    return [Subscription(row.id, key, row.query) for row in rows]


def active_subscriptions(conn: Connection) -> list[Subscription]:
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
        .where(channels.c.paused.is_(False))
        .order_by(subscriptions.c.id)
    )
    return [
        Subscription(row.id, ChannelKey(row.platform, row.workspace, row.channel), row.query)
        for row in conn.execute(query)
    ]


# --- the change log an ingest syncs its subscriptions by ---------------------------------


@dataclass(frozen=True, slots=True)
class StoredSubscription:
    """A subscription as the ingest matches it: with its channel's row id and its query's."""

    channel_id: int
    subscription: Subscription
    query_id: int | None  # None only for a query stored before its row existed


def log_change(conn: Connection, channel_id: int) -> None:
    """Number a change to the channel's subscriptions. The counter row's update lock is held to
    commit, so changes commit in the order of their numbers on PostgreSQL: a reader that saw
    change n has seen every change before it."""
    rev = conn.execute(
        update(meta)
        .where(meta.c.key == SUBSCRIPTION_REV)
        .values(value=meta.c.value + 1)
        .returning(meta.c.value)
    ).scalar_one()
    conn.execute(subscription_changes.insert().values(rev=rev, channel_id=channel_id))


def subscription_rev(conn: Connection) -> int:
    found = conn.execute(
        select(meta.c.value).where(meta.c.key == SUBSCRIPTION_REV)
    ).scalar_one_or_none()
    return int(found or 0)


def changed_channels(conn: Connection, since_rev: int) -> set[int]:
    """The channels whose subscriptions changed after revision `since_rev`."""
    rows = conn.execute(
        select(subscription_changes.c.channel_id).where(subscription_changes.c.rev > since_rev)
    )
    return set(rows.scalars())


def stored_subscriptions(
    conn: Connection, channel_ids: Collection[int] | None = None
) -> list[StoredSubscription]:
    """Every subscription (of paused channels too: their matches wait for them), or those of
    `channel_ids`, with the ids matching needs."""
    query = (
        select(
            subscriptions.c.id,
            subscriptions.c.query,
            subscriptions.c.channel_id,
            channels.c.platform,
            channels.c.workspace,
            channels.c.channel,
            queries.c.id.label("query_id"),
        )
        .join(channels, channels.c.id == subscriptions.c.channel_id)
        .outerjoin(queries, queries.c.text == subscriptions.c.query)
        .order_by(subscriptions.c.id)
    )
    if channel_ids is None:
        rows = list(conn.execute(query))
    else:
        ids, rows = sorted(channel_ids), []
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            rows.extend(conn.execute(query.where(subscriptions.c.channel_id.in_(chunk))))
    keys: dict[int, ChannelKey] = {}
    found = []
    for row in rows:
        key = keys.get(row.channel_id)
        if key is None:
            key = keys[row.channel_id] = ChannelKey(row.platform, row.workspace, row.channel)
        found.append(
            StoredSubscription(row.channel_id, Subscription(row.id, key, row.query), row.query_id)
        )
    return found
