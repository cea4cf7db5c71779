"""What a channel has seen, read back for exports and the weekly roundup: papers posted, papers
a subscription matched, and papers that matched the most of a channel's subscriptions.
Functions take the channel's row id: `Store` resolves (and caches) it from the `ChannelKey`."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from sqlalchemy import Connection, select

from paperbot.store import matches as match_rows
from paperbot.store.ledger import PostState
from paperbot.store.tables import posts, subscriptions


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
    sub = conn.execute(
        select(subscriptions.c.query, subscriptions.c.created_at).where(
            subscriptions.c.id == subscription_id
        )
    ).first()
    if sub is None:
        return []
    start = sub.created_at - match_rows.LOOKBACK  # its query's older rows are not its own
    return match_rows.query_papers(conn, sub.query, max(start, since or start), limit)


def most_matched(
    conn: Connection, channel_id: int, since: datetime, limit: int
) -> list[tuple[str, int]]:
    """Papers matched since `since` by the most of the channel's subscriptions: (id, count)."""
    counts = Counter(
        paper_id for paper_id, _ in match_rows.channel_matches(conn, channel_id, since)
    )
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return ranked[:limit]
