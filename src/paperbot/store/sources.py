"""Each source's last fetch, good or bad, in the `source_status` table (for `status`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update

from paperbot.store.inserts import insert_ignoring_duplicates
from paperbot.store.tables import source_status


@dataclass(frozen=True, slots=True)
class SourceStatus:
    source: str
    last_success_at: datetime | None
    last_error_at: datetime | None
    last_error: str | None
    last_count: int | None


def record_source_result(
    conn: Connection, source: str, count: int | None, error: str | None, now: datetime
) -> None:
    """A failure keeps the last success (and its count), and a success the last error."""
    values: dict[str, Any] = (
        {"last_error_at": now, "last_error": error[:300]}
        if error is not None
        else {"last_success_at": now, "last_count": count}
    )
    changed = conn.execute(
        update(source_status).where(source_status.c.source == source).values(**values)
    ).rowcount
    if not changed:
        insert_ignoring_duplicates(conn, source_status, [{"source": source, **values}])


def source_statuses(conn: Connection) -> list[SourceStatus]:
    rows = conn.execute(_STATUSES).mappings()
    return [SourceStatus(**row) for row in rows]


_STATUSES = select(source_status).order_by(source_status.c.source)  # built once: every digest asks
