"""The posted ledger: which papers were reserved, posted or failed in a channel (`posts`).
Functions take the channel's row id: `Store` resolves (and caches) it from the `ChannelKey`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Connection, RowMapping, select, update

from paperbot.models import ChannelKey
from paperbot.store.inserts import insert_returning_new
from paperbot.store.tables import channels, papers, posts


class PostState:
    PENDING = "pending"  # intent recorded, post not confirmed
    POSTED = "posted"
    UNCERTAIN = "uncertain"  # crashed mid-post and the platform could not tell: never resend
    RETRY = "retry"  # the post certainly failed: the next digest takes it up again


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    channel: ChannelKey
    paper_id: str
    state: str
    message_id: str | None
    digest_day: date
    created_at: datetime
    digest_id: int | None = None


# --- the posted ledger --------------------------------------------------------------------


def reserve_posts(
    conn: Connection,
    channel_id: int,
    paper_ids: Sequence[str],
    day: date,
    worker: str,
    now: datetime,
    digest_id: int | None = None,
) -> list[str]:
    """Record the intent to post; returns the ids this call reserved (others were already
    posted or reserved, by this or another process), in the order given."""
    rows = [
        {
            "channel_id": channel_id,
            "paper_id": paper_id,
            "state": PostState.PENDING,
            "digest_day": day,
            "claimed_by": worker,
            "created_at": now,
            "digest_id": digest_id,
        }
        for paper_id in paper_ids
    ]
    mine = set(insert_returning_new(conn, posts, rows, posts.c.paper_id))
    reclaimed = conn.execute(
        update(posts)
        .where(
            posts.c.channel_id == channel_id,
            posts.c.paper_id.in_(list(paper_ids)),
            posts.c.state == PostState.RETRY,
        )
        .values(
            state=PostState.PENDING,
            claimed_by=worker,
            created_at=now,
            digest_day=day,
            digest_id=digest_id,
        )
        .returning(posts.c.paper_id)
    ).scalars()
    mine.update(reclaimed)
    return [p for p in paper_ids if p in mine]


def complete_post(
    conn: Connection,
    channel_id: int,
    paper_id: str,
    message_id: str,
    thread_id: str | None,
    now: datetime,
) -> None:
    conn.execute(
        update(posts)
        .where(posts.c.channel_id == channel_id, posts.c.paper_id == paper_id)
        .values(state=PostState.POSTED, message_id=message_id, thread_id=thread_id, posted_at=now)
    )


def release_post(conn: Connection, channel_id: int, paper_id: str) -> None:
    """An intent whose post certainly did not happen: keep it as a retry, so the next digest
    posts it even though it matched before that digest's window."""
    _settle_pending(conn, channel_id, paper_id, state=PostState.RETRY, message_id=None)


def mark_post_uncertain(conn: Connection, channel_id: int, paper_id: str) -> None:
    _settle_pending(conn, channel_id, paper_id, state=PostState.UNCERTAIN)


def _settle_pending(conn: Connection, channel_id: int, paper_id: str, **values: object) -> None:
    """Update an intent that is still pending; one already settled stays as it is."""
    conn.execute(
        update(posts)
        .where(
            posts.c.channel_id == channel_id,
            posts.c.paper_id == paper_id,
            posts.c.state == PostState.PENDING,
        )
        .values(**values)
    )


def pending_posts(conn: Connection, older_than: datetime | None = None) -> list[LedgerEntry]:
    query = (
        select(posts, channels.c.platform, channels.c.workspace, channels.c.channel)
        .join(channels, channels.c.id == posts.c.channel_id)
        .where(posts.c.state == PostState.PENDING)
    )
    if older_than is not None:
        query = query.where(posts.c.created_at < older_than)
    return [_ledger_from_row(row) for row in conn.execute(query).mappings()]


def channel_ledger(conn: Connection, channel_id: int) -> list[LedgerEntry]:
    query = (
        select(posts, channels.c.platform, channels.c.workspace, channels.c.channel)
        .join(channels, channels.c.id == posts.c.channel_id)
        .where(posts.c.channel_id == channel_id)
        .order_by(posts.c.created_at, posts.c.paper_id)
    )
    return [_ledger_from_row(row) for row in conn.execute(query).mappings()]


def uncertain_papers(conn: Connection, channel_id: int) -> list[tuple[str, str]]:
    """(paper id, title) of the channel's posts that may or may not have arrived."""
    query = (
        select(posts.c.paper_id, papers.c.title)
        .join(papers, papers.c.arxiv_id == posts.c.paper_id)
        .where(posts.c.channel_id == channel_id, posts.c.state == PostState.UNCERTAIN)
        .order_by(posts.c.created_at, posts.c.paper_id)
    )
    return [(row.paper_id, row.title) for row in conn.execute(query)]


def paper_for_message(conn: Connection, channel_id: int, message_id: str) -> str | None:
    """The paper a posted message is about, so a reaction on it can become a vote."""
    # Message ids are unique per channel on Slack and Discord; the newest wins should a
    # platform ever reuse one (an older console session's numbering did).
    found = conn.execute(
        select(posts.c.paper_id)
        .where(posts.c.channel_id == channel_id, posts.c.message_id == message_id)
        .order_by(posts.c.created_at.desc())
        .limit(1)
    ).scalar_one_or_none()
    return str(found) if found is not None else None


def _ledger_from_row(row: RowMapping) -> LedgerEntry:
    return LedgerEntry(
        channel=ChannelKey(row["platform"], row["workspace"], row["channel"]),
        paper_id=row["paper_id"],
        state=row["state"],
        message_id=row["message_id"],
        digest_day=row["digest_day"],
        created_at=row["created_at"],
        digest_id=row["digest_id"],
    )
