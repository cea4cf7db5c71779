"""Weekly roundups in and out of the `roundups` table: which channels want one, when, and when
the last one went out. Functions take the channel's row id where they act on one channel."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, delete, or_, select, update

from paperbot.models import ChannelKey
from paperbot.store.inserts import insert_for
from paperbot.store.tables import channels, roundups


@dataclass(frozen=True, slots=True)
class RoundupPlan:
    """A channel's roundup: weekday (`fri`) and hour, in the channel's timezone."""

    channel: ChannelKey
    weekday: str
    hour: int
    timezone: str
    paused: bool
    last_posted_at: datetime | None


def set_roundup(conn: Connection, channel_id: int, weekday: str, hour: int, now: datetime) -> None:
    """Turn the roundup on (or move it); counted as posted now, so a day and hour already past
    this week wait for next week instead of firing at once."""
    values = {"weekday": weekday, "hour": hour, "last_posted_at": now}
    statement = insert_for(conn)(roundups).values(channel_id=channel_id, **values)
    conn.execute(statement.on_conflict_do_update(index_elements=["channel_id"], set_=values))


def clear_roundup(conn: Connection, channel_id: int) -> bool:
    return conn.execute(delete(roundups).where(roundups.c.channel_id == channel_id)).rowcount > 0


def get_roundup(conn: Connection, channel_id: int) -> tuple[str, int] | None:
    row = conn.execute(
        select(roundups.c.weekday, roundups.c.hour).where(roundups.c.channel_id == channel_id)
    ).first()
    return None if row is None else (str(row[0]), int(row[1]))


def list_roundups(conn: Connection) -> list[RoundupPlan]:
    query = select(
        channels.c.platform,
        channels.c.workspace,
        channels.c.channel,
        channels.c.timezone,
        channels.c.paused,
        roundups.c.weekday,
        roundups.c.hour,
        roundups.c.last_posted_at,
    ).join(channels, channels.c.id == roundups.c.channel_id)
    return [
        RoundupPlan(
            ChannelKey(row.platform, row.workspace, row.channel),
            row.weekday,
            row.hour,
            row.timezone,
            bool(row.paused),
            row.last_posted_at,
        )
        for row in conn.execute(query)
    ]


def claim(conn: Connection, channel_id: int, due: datetime, now: datetime) -> bool:
    """Take this week's roundup (due at `due`) for posting; True for exactly one caller, in
    whichever process asks first."""
    result = conn.execute(
        update(roundups)
        .where(
            roundups.c.channel_id == channel_id,
            or_(roundups.c.last_posted_at.is_(None), roundups.c.last_posted_at < due),
        )
        .values(last_posted_at=now)
    )
    return result.rowcount > 0


def release(conn: Connection, channel_id: int, previous: datetime | None) -> None:
    """A roundup that certainly did not go out: due again, so the next pass tries again."""
    conn.execute(
        update(roundups).where(roundups.c.channel_id == channel_id).values(last_posted_at=previous)
    )
