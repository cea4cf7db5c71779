"""Subscription matches, stored once per distinct query: `query_matches` rows hold the papers a
query matched in one ingest chunk, and a digest fans them out to the channel's subscriptions by
query text. Recording a day is then one row per matched query and chunk, not one per
subscriber; the fan-out to a channel's twenty-odd subscriptions happens when its digest is built.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, bindparam, select

from paperbot.models import MatchField
from paperbot.store.inserts import bind_value, insert_for
from paperbot.store.ledger import PostState
from paperbot.store.tables import channels, posts, queries, query_matches, subscriptions

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
    resumed = conn.execute(
        select(channels.c.resumed_at).where(channels.c.id == channel_id)
    ).scalar_one_or_none()
    if resumed is not None:
        # What matched while it was paused (up to the moment it resumed) is not its own.
        since = max(since, resumed + timedelta(microseconds=1))
    subs = conn.execute(
        select(subscriptions.c.query, subscriptions.c.created_at).where(
            subscriptions.c.channel_id == channel_id
        )
    ).all()
    if not subs:
        return {}
    bound = {text: max(since, created_at - LOOKBACK) for text, created_at in subs}
    rows = conn.execute(
        select(subscriptions.c.query, query_matches.c.matched_at, query_matches.c.papers)
        .join(queries, queries.c.text == subscriptions.c.query)
        .join(query_matches, query_matches.c.query_id == queries.c.id)
        .where(
            subscriptions.c.channel_id == channel_id,
            query_matches.c.matched_at >= min(bound.values()),
        )
    ).all()
    found: dict[tuple[str, str], MatchField] = {}
    for text, matched_at, packed in rows:
        if matched_at >= bound[text]:
            for word in packed.split():
                paper_id, _, field = word.partition("=")
                found.setdefault((paper_id, text), _FIELDS[field])
    return found


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
    ids = sorted(paper_ids)
    states: dict[str, str] = {}
    for start in range(0, len(ids), _CHUNK):
        rows = conn.execute(
            _LEDGER_STATES, {"channel": channel_id, "ids": ids[start : start + _CHUNK]}
        )
        states.update({row.paper_id: row.state for row in rows})
    return states


# The id list goes in as one expanding parameter: built with in_(list), every id would be
# coerced into its own SQL literal on each call, which cost more than the query.
_LEDGER_STATES = select(posts.c.paper_id, posts.c.state).where(
    posts.c.channel_id == bindparam("channel"),
    posts.c.paper_id.in_(bindparam("ids", expanding=True)),
)
_FIELDS = {field.value: field for field in MatchField}
