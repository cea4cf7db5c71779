"""Votes in and out of the `votes` table: one vote (+1 or -1) per user, paper and channel.
Functions take the channel's row id: `Store` resolves (and caches) it from the `ChannelKey`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, and_, bindparam, delete, func, select, update

from paperbot.store.inserts import insert_ignoring_duplicates
from paperbot.store.tables import votes


def set_vote(
    conn: Connection, channel_id: int, paper_id: str, user: str, value: int, now: datetime
) -> bool:
    """Record a user's vote; True if it changed anything (a repeated reaction counts once)."""
    where = and_(
        votes.c.channel_id == channel_id,
        votes.c.paper_id == paper_id,
        votes.c.user_id == user,
    )
    current = conn.execute(select(votes.c.value).where(where)).scalar_one_or_none()
    if current == value:
        return False
    if current is None:
        inserted = insert_ignoring_duplicates(
            conn,
            votes,
            [
                {
                    "channel_id": channel_id,
                    "paper_id": paper_id,
                    "user_id": user,
                    "value": value,
                    "voted_at": now,
                }
            ],
        )
        return inserted > 0
    conn.execute(update(votes).where(where).values(value=value, voted_at=now))
    return True


def retract_vote(conn: Connection, channel_id: int, paper_id: str, user: str, value: int) -> bool:
    """Remove a vote if it is the one being taken back (removing 👍 leaves a later 👎 alone)."""
    result = conn.execute(
        delete(votes).where(
            votes.c.channel_id == channel_id,
            votes.c.paper_id == paper_id,
            votes.c.user_id == user,
            votes.c.value == value,
        )
    )
    return result.rowcount > 0


def vote_totals(conn: Connection, channel_id: int, paper_ids: Sequence[str]) -> dict[str, int]:
    """Net votes of each paper that has any."""
    if not paper_ids:
        return {}
    # All of the channel's votes, then the wanted ones: a channel votes on few papers, while a
    # digest asks about a hundred or more, and a long IN list costs more than the votes.
    rows = conn.execute(_CHANNEL_VOTES, {"channel": channel_id}).all()
    wanted = set(paper_ids)
    return {row[0]: int(row[1]) for row in rows if row[0] in wanted}


_CHANNEL_VOTES = (  # built once: a thousand digests ask for it
    select(votes.c.paper_id, func.sum(votes.c.value))
    .where(votes.c.channel_id == bindparam("channel"))
    .group_by(votes.c.paper_id)
)


def top_voted(
    conn: Connection, channel_id: int, since: datetime | None, limit: int
) -> list[tuple[str, int]]:
    """Papers the channel voted up, best first: (paper id, net votes)."""
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
