"""Mined acronym pairs in the `acronyms` table: one row per (acronym, expansion), counting the
papers that defined it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Connection, select, update

from paperbot.store.inserts import insert_ignoring_duplicates
from paperbot.store.tables import acronyms

MAX_EXPANSION = 200


def record_acronyms(conn: Connection, pairs: Iterable[tuple[str, str]], now: datetime) -> int:
    """Add each pair, or count one more paper for a known one; returns how many were new."""
    counted = Counter((a, e) for a, e in pairs if len(a) <= 16 and len(e) <= MAX_EXPANSION)
    if not counted:
        return 0
    names = sorted({a for a, _ in counted})
    known = {
        (a, e)
        for a, e in conn.execute(
            select(acronyms.c.acronym, acronyms.c.expansion).where(acronyms.c.acronym.in_(names))
        )
    }
    for (a, e), n in sorted(counted.items()):
        if (a, e) in known:
            conn.execute(
                update(acronyms)
                .where(acronyms.c.acronym == a, acronyms.c.expansion == e)
                .values(papers=acronyms.c.papers + n)
            )
    rows = [
        {"acronym": a, "expansion": e, "papers": n, "first_seen": now}
        for (a, e), n in sorted(counted.items())
        if (a, e) not in known
    ]
    # A concurrent ingest may have added one meanwhile: the database settles it.
    return insert_ignoring_duplicates(conn, acronyms, rows)


def learned_acronyms(conn: Connection) -> list[tuple[str, str]]:
    """Every stored pair, oldest first (so the first meaning mined is the first shown)."""
    query = select(acronyms.c.acronym, acronyms.c.expansion).order_by(
        acronyms.c.first_seen, acronyms.c.acronym, acronyms.c.expansion
    )
    return [(a, e) for a, e in conn.execute(query)]
