"""What a channel has seen, read back for exports and the weekly roundup: papers posted, papers
a subscription matched, and papers that matched the most of a channel's subscriptions.
Functions take the channel's row id: `Store` resolves (and caches) it from the `ChannelKey`."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, func, select

from paperbot.store.ledger import PostState
from paperbot.store.tables import matches, posts


def posted_papers(conn: Connection, channel_id: int, since: datetime | None) -> list[str]:
    """Papers posted to the channel since `since`, oldest first."""
    query = (
        select(posts.c.paper_id)
        .where(posts.c.channel_id == channel_id, posts.c.state == PostState.POSTED)
        .order_by(posts.c.posted_at, posts.c.paper_id)
    )
    if since is not None:
        query = query.where(posts.c.posted_at >= since)
    return [str(row[0]) for row in conn.execute(query)]


def subscription_matches(
    conn: Connection, subscription_id: int, since: datetime | None, limit: int
) -> list[str]:
    """Papers one subscription matched since `since`, newest first."""
    query = (
        select(matches.c.paper_id)
        .where(matches.c.subscription_id == subscription_id)
        .order_by(matches.c.matched_at.desc(), matches.c.paper_id)
        .limit(limit)
    )
    if since is not None:
        query = query.where(matches.c.matched_at >= since)
    return [str(row[0]) for row in conn.execute(query)]


def most_matched(
    conn: Connection, channel_id: int, since: datetime, limit: int
) -> list[tuple[str, int]]:
    """Papers matched since `since` by the most of the channel's subscriptions: (id, count)."""
    count = func.count().label("count")
    query = (
        select(matches.c.paper_id, count)
        .where(matches.c.channel_id == channel_id, matches.c.matched_at >= since)
        .group_by(matches.c.paper_id)
        .order_by(count.desc(), matches.c.paper_id)
        .limit(limit)
    )
    return [(str(row[0]), int(row[1])) for row in conn.execute(query)]
