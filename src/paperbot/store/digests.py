"""Digest records in and out of the `digests` table: a digest's header, its thread, whether it
was finished, and where its requester's answer goes. Functions take the channel's row id."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Connection, RowMapping, func, select, update

from paperbot.store.tables import channels, digests, papers, posts


class DigestState:
    OPEN = "open"  # being posted, or interrupted: the next delivery resumes it
    DONE = "done"


@dataclass(frozen=True, slots=True)
class DigestRecord:
    id: int
    day: date
    state: str
    header_id: str | None
    thread_id: str | None
    reply_to: str | None
    created_at: datetime
    completed_at: datetime | None
    reply_since: datetime | None = None

    @property
    def asked_at(self) -> datetime:
        """When the requester's answer channel opened (its response_url or token's age)."""
        return self.reply_since or self.created_at


@dataclass(frozen=True, slots=True)
class DigestPost:
    """One paper of a digest as the ledger has it."""

    paper_id: str
    title: str
    state: str
    message_id: str | None


def open_digest(
    conn: Connection, channel_id: int, day: date, reply_to: str | None, now: datetime
) -> int:
    return int(
        conn.execute(
            digests.insert()
            .values(
                channel_id=channel_id,
                day=day,
                state=DigestState.OPEN,
                reply_to=(reply_to or None) and reply_to[:500],
                reply_since=now if reply_to else None,
                created_at=now,
            )
            .returning(digests.c.id)
        ).scalar_one()
    )


def set_header(conn: Connection, digest_id: int, header_id: str, thread_id: str | None) -> None:
    conn.execute(
        update(digests)
        .where(digests.c.id == digest_id)
        .values(header_id=header_id, thread_id=thread_id)
    )


def finish_digest(conn: Connection, digest_id: int, now: datetime) -> None:
    # The requester's answer went out (or will never be sent): forget where it was to go.
    conn.execute(
        update(digests)
        .where(digests.c.id == digest_id)
        .values(state=DigestState.DONE, completed_at=now, reply_to=None)
    )


def reopen_digest(conn: Connection, digest_id: int, reply_to: str | None, now: datetime) -> None:
    """A finished digest gets more papers (`/papers more`): open until they are posted, and
    answerable to whoever asked for them if a crash interrupts the posting."""
    conn.execute(
        update(digests)
        .where(digests.c.id == digest_id)
        .values(
            state=DigestState.OPEN,
            reply_to=(reply_to or None) and reply_to[:500],
            reply_since=now if reply_to else None,
        )
    )


def reopen_to_correct(conn: Connection, digest_id: int) -> None:
    """A finished digest's header must list a post found in its thread only after it was
    finished: open again, so the next delivery edits the list (an open one stays as it is)."""
    conn.execute(
        update(digests)
        .where(digests.c.id == digest_id, digests.c.state == DigestState.DONE)
        .values(state=DigestState.OPEN)
    )


def open_digests(conn: Connection, channel_id: int) -> list[DigestRecord]:
    """Digests of the channel that were never finished, oldest first."""
    query = (
        select(digests)
        .where(digests.c.channel_id == channel_id, digests.c.state == DigestState.OPEN)
        .order_by(digests.c.id)
    )
    return [_record(row) for row in conn.execute(query).mappings()]


def channels_with_open_digests(conn: Connection) -> list[tuple[str, str, str]]:
    query = (
        select(channels.c.platform, channels.c.workspace, channels.c.channel)
        .join(digests, digests.c.channel_id == channels.c.id)
        .where(digests.c.state == DigestState.OPEN)
        .distinct()
    )
    return [(row.platform, row.workspace, row.channel) for row in conn.execute(query)]


def latest_digest(conn: Connection, channel_id: int, day: date) -> DigestRecord | None:
    """The newest digest of the channel for `day` that has a header."""
    row = (
        conn.execute(
            select(digests)
            .where(
                digests.c.channel_id == channel_id,
                digests.c.day == day,
                digests.c.header_id.is_not(None),
            )
            .order_by(digests.c.id.desc())
            .limit(1)
        )
        .mappings()
        .first()
    )
    return None if row is None else _record(row)


def digest_thread(conn: Connection, digest_id: int) -> str | None:
    """Where a digest's papers went: its thread (the header's id), None when top level."""
    found = conn.execute(
        select(digests.c.thread_id).where(digests.c.id == digest_id)
    ).scalar_one_or_none()
    return None if found is None else str(found)


def digest_posts(conn: Connection, digest_id: int) -> list[DigestPost]:
    """The papers reserved for a digest, in the order they reached its thread."""
    query = (
        select(posts.c.paper_id, posts.c.state, posts.c.message_id, papers.c.title)
        .join(papers, papers.c.arxiv_id == posts.c.paper_id)
        .where(posts.c.digest_id == digest_id)
        .order_by(
            posts.c.posted_at.is_(None),
            posts.c.posted_at,
            func.length(posts.c.message_id),  # ids of one platform sort by length, then text
            posts.c.message_id,
            posts.c.created_at,
        )
    )
    return [
        DigestPost(row.paper_id, row.title, row.state, row.message_id)
        for row in conn.execute(query)
    ]


def _record(row: RowMapping) -> DigestRecord:
    return DigestRecord(
        id=row["id"],
        day=row["day"],
        state=row["state"],
        header_id=row["header_id"],
        thread_id=row["thread_id"],
        reply_to=row["reply_to"],
        created_at=row["created_at"],
        completed_at=row["completed_at"],
        reply_since=row["reply_since"],
    )
