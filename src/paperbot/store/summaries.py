"""TL;DRs in and out of the `summaries` table: one per paper, written once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, func, select

from paperbot.store.inserts import insert_ignoring_duplicates
from paperbot.store.tables import summaries


@dataclass(frozen=True, slots=True)
class Usage:
    """What the summaries written in a window cost: papers and tokens."""

    papers: int
    tokens: int


def get_summaries(conn: Connection, paper_ids: Sequence[str]) -> dict[str, str]:
    if not paper_ids:
        return {}
    query = select(summaries.c.paper_id, summaries.c.text).where(
        summaries.c.paper_id.in_(list(paper_ids))
    )
    return {str(row[0]): str(row[1]) for row in conn.execute(query)}


def add_summary(
    conn: Connection, paper_id: str, text: str, model: str, tokens: int, now: datetime
) -> bool:
    """Store a TL;DR; False when the paper had one already (another worker was first)."""
    row = {
        "paper_id": paper_id,
        "text": text,
        "model": model[:100],
        "tokens": tokens,
        "created_at": now,
    }
    return insert_ignoring_duplicates(conn, summaries, [row]) == 1


def usage_since(conn: Connection, since: datetime) -> Usage:
    query = select(func.count(), func.coalesce(func.sum(summaries.c.tokens), 0)).where(
        summaries.c.created_at >= since
    )
    papers, tokens = conn.execute(query).one()
    return Usage(int(papers), int(tokens))
