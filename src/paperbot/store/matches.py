"""Subscription matches, stored once per distinct query: `query_matches` rows hold the papers a
query matched in one ingest, and a digest fans them out to the channel's subscriptions by query
text. Recording a day is then one row per matched query, not one per subscriber; the fan-out to
a channel's twenty-odd subscriptions happens when its digest is built. `ingest_pending` marks
stored papers whose matches are not recorded yet (what a crash mid-ingest leaves behind).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, bindparam, delete, select

from paperbot.models import MatchField
from paperbot.store.inserts import bind_value, insert_for
from paperbot.store.ledger import PostState
from paperbot.store.tables import (
    channels,
    ingest_pending,
    queries,
    query_matches,
    subscriptions,
)

# A row's papers: "paper_id=field" words (arXiv ids hold neither spaces nor "=").
PackedMatches = Mapping[int, Sequence[str]]  # query id -> ["2401.00001=title", ...]
# A new subscription's matches count from this long before it was added: its first digest is
# not empty, and a query other channels follow already brings its recent papers along.
LOOKBACK = timedelta(days=3)
_CHUNK = 500


@dataclass(frozen=True, slots=True)
class StoredMatch:
    paper_id: str
    subscription: str
    field: MatchField


def pack(paper_id: str, field: MatchField) -> str:
    return f"{paper_id}={field.value}"


def query_ids(conn: Connection, texts: Iterable[str]) -> dict[str, int]:
    """The `queries` row id of each query text, creating the rows that are missing."""
    wanted = sorted(set(texts))
    found: dict[str, int] = {}
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        rows = conn.execute(select(queries.c.text, queries.c.id).where(queries.c.text.in_(chunk)))
        found.update({row.text: int(row.id) for row in rows})
        missing = [{"text": text} for text in chunk if text not in found]
        if missing:
            conn.execute(insert_for(conn)(queries).values(missing).on_conflict_do_nothing())
            rows = conn.execute(
                select(queries.c.text, queries.c.id).where(
                    queries.c.text.in_([m["text"] for m in missing])
                )
            )
            found.update({row.text: int(row.id) for row in rows})
    return found


def record(conn: Connection, packed: PackedMatches, matched_at: datetime, batch: int) -> int:
    """Store one row per query of `packed`; returns the number of (query, paper) matches."""
    if not packed:
        return 0
    at = bind_value(conn, query_matches.c.matched_at, matched_at)
    if conn.dialect.name == "postgresql":
        # One statement for the whole chunk: arrays travel as two parameters, where an
        # executemany of tens of thousands of rows would cost a round trip each.
        ids = list(packed)
        conn.exec_driver_sql(
            "INSERT INTO query_matches (query_id, matched_at, batch, papers) "
            "SELECT q, %s, %s, p FROM unnest(%s::integer[], %s::text[]) AS t(q, p) "
            "ON CONFLICT DO NOTHING",
            (at, batch, ids, [" ".join(packed[q]) for q in ids]),
        )
    else:
        conn.exec_driver_sql(
            "INSERT INTO query_matches (query_id, matched_at, batch, papers) "
            "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
            [(q, at, batch, " ".join(found)) for q, found in packed.items()],
        )
    return sum(map(len, packed.values()))


def mark_pending(conn: Connection, first_rev: int, last_rev: int) -> None:
    """Papers of revisions first..last are stored and their matches not recorded yet."""
    conn.execute(ingest_pending.insert().values(first_rev=first_rev, last_rev=last_rev))


def settle_pending(conn: Connection, first_revs: Sequence[int]) -> None:
    if first_revs:
        conn.execute(delete(ingest_pending).where(ingest_pending.c.first_rev.in_(first_revs)))


def pending(conn: Connection) -> list[tuple[int, int]]:
    rows = conn.execute(select(ingest_pending).order_by(ingest_pending.c.first_rev))
    return [(int(first), int(last)) for first, last in rows]


def followed_query_matches(
    conn: Connection, text: str, channel_id: int, since: datetime
) -> int | None:
    """Papers the query `text` matched since `since`, if a channel other than `channel_id`
    has followed it since then; None if nobody did (its stored rows may have gaps)."""
    followed = conn.execute(
        select(subscriptions.c.id)
        .where(
            subscriptions.c.query == text,
            subscriptions.c.channel_id != channel_id,
            subscriptions.c.created_at <= since,
        )
        .limit(1)
    ).first()
    if followed is None:
        return None
    rows = conn.execute(
        select(query_matches.c.papers)
        .join(queries, queries.c.id == query_matches.c.query_id)
        .where(queries.c.text == text, query_matches.c.matched_at >= since)
    ).scalars()
    return len({word.partition("=")[0] for packed in rows for word in packed.split()})


def channel_matches(
    conn: Connection, channel_id: int, since: datetime
) -> dict[tuple[str, str], MatchField]:
    """(paper id, subscription) -> field, for every match of the channel's subscriptions
    recorded since `since`; a subscription's count from `LOOKBACK` before it was added, and
    none from while the channel was paused (the rows of a query are shared with every channel
    that follows it, from whenever it did)."""
    # One query (built once: see _CHANNEL_MATCHES): the channel's subscriptions (when each was
    # added, when the channel was last paused and resumed) joined to their query rows since
    # `since`; each row's own bound is applied below.
    rows = conn.execute(_CHANNEL_MATCHES, {"channel": channel_id, "since": since}).all()
    found: dict[tuple[str, str], MatchField] = {}
    bounds: dict[str, datetime] = {}
    for text, created_at, paused_at, resumed_at, matched_at, packed in rows:
        bound = bounds.get(text)
        if bound is None:
            bound = bounds[text] = _bound(since, created_at, paused_at, resumed_at)
        if matched_at >= bound and not _while_paused(matched_at, paused_at, resumed_at):
            for word in packed.split():
                paper_id, _, field = word.partition("=")
                found.setdefault((paper_id, text), _FIELDS[field])
    return found


def _bound(
    since: datetime,
    created_at: datetime,
    paused_at: datetime | None,
    resumed_at: datetime | None,
) -> datetime:
    """From when a subscription's matches count: since `since`, and from `LOOKBACK` before it
    was added. A channel resumed without a known pause time (paused before channels.paused_at
    existed) counts only what matched after the resume, as it did then."""
    bound = max(since, created_at - LOOKBACK)
    if resumed_at is not None and paused_at is None:
        bound = max(bound, resumed_at + timedelta(microseconds=1))
    return bound


def _while_paused(
    matched_at: datetime, paused_at: datetime | None, resumed_at: datetime | None
) -> bool:
    """Matched while the channel was last paused, up to the moment it resumed: not its own.
    What matched before the pause (papers a digest had no room for) still waits for a digest.
    Only the last pause is remembered: what matched during an earlier one (within the keep
    window) counts again after the next resume, a smaller harm than losing the backlog."""
    if paused_at is None or resumed_at is None or resumed_at < paused_at:
        return False
    return paused_at < matched_at <= resumed_at


def digest_candidates(
    conn: Connection, channel_id: int, matched_since: datetime
) -> list[StoredMatch]:
    """What a digest may post: every match recorded since `matched_since` (the channel's keep
    window) of a paper not posted to, reserved for, or left uncertain in the channel, including
    papers an earlier digest had no room for and papers whose post certainly failed. One match
    per (paper, subscription), fanned out from the query rows."""
    found = channel_matches(conn, channel_id, matched_since)
    ledger = _ledger_states(conn, channel_id, {paper_id for paper_id, _ in found})
    return [
        StoredMatch(paper_id, text, field)
        for (paper_id, text), field in sorted(found.items())
        if ledger.get(paper_id, PostState.RETRY) == PostState.RETRY
    ]


def query_papers(conn: Connection, text: str, since: datetime, limit: int) -> list[str]:
    """Papers the query `text` matched since `since`, newest first."""
    rows = conn.execute(
        select(query_matches.c.papers)
        .join(queries, queries.c.id == query_matches.c.query_id)
        .where(queries.c.text == text, query_matches.c.matched_at >= since)
        .order_by(query_matches.c.matched_at.desc(), query_matches.c.batch.desc())
    ).scalars()
    found: dict[str, None] = {}
    for packed in rows:
        for word in packed.split():
            found.setdefault(word.partition("=")[0], None)
            if len(found) >= limit:
                return list(found)
    return list(found)


def _ledger_states(conn: Connection, channel_id: int, paper_ids: set[str]) -> dict[str, str]:
    """The ledger state of those of `paper_ids` the channel has a post row for."""
    if not paper_ids:
        return {}
    # The ids travel as one parameter (an array, or a JSON list SQLite unpacks): an expanding
    # IN list is rendered anew for every length, which cost more than the query itself.
    ids = sorted(paper_ids)
    if conn.dialect.name == "postgresql":
        rows = conn.exec_driver_sql(
            "SELECT paper_id, state FROM posts WHERE channel_id = %s AND paper_id = ANY(%s)",
            (channel_id, ids),
        )
    else:
        rows = conn.exec_driver_sql(
            "SELECT paper_id, state FROM posts WHERE channel_id = ? "
            "AND paper_id IN (SELECT value FROM json_each(?))",
            (channel_id, json.dumps(ids)),
        )
    return {paper_id: state for paper_id, state in rows}


# Built once: constructing the statement on every digest cost more than running it.
_CHANNEL_MATCHES = (
    select(
        subscriptions.c.query,
        subscriptions.c.created_at,
        channels.c.paused_at,
        channels.c.resumed_at,
        query_matches.c.matched_at,
        query_matches.c.papers,
    )
    .join(channels, channels.c.id == subscriptions.c.channel_id)
    .join(queries, queries.c.text == subscriptions.c.query)
    .join(query_matches, query_matches.c.query_id == queries.c.id)
    .where(
        subscriptions.c.channel_id == bindparam("channel"),
        query_matches.c.matched_at >= bindparam("since"),
    )
)
_FIELDS = {field.value: field for field in MatchField}
