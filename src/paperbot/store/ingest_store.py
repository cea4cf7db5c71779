"""The store's side of an ingest: papers written in chunks marked until their matches are
recorded, the matches as query rows, and a digest's candidates read back from them."""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from paperbot.models import ChannelKey, Paper, Subscription
from paperbot.store import matches as match_rows
from paperbot.store import papers as paper_rows
from paperbot.store import votes as vote_rows
from paperbot.store.base import StoreBase
from paperbot.store.matches import PackedMatches, StoredMatch
from paperbot.store.papers import UpsertPlan


@dataclass(frozen=True, slots=True)
class DigestInputs:
    """What a digest is built from: its candidates, their papers and the team's net votes."""

    candidates: list[StoredMatch]
    papers: dict[str, Paper]
    votes: dict[str, int]


@dataclass(frozen=True, slots=True)
class StoredChunk:
    """One chunk of an ingest's papers: the plan (with the versions stored before), what was
    written, and how long reading and writing (first write to commit) took."""

    plan: UpsertPlan
    upsert: paper_rows.UpsertResult
    read_seconds: float = 0.0
    write_seconds: float = 0.0


class IngestStore(StoreBase):
    def store_chunk(
        self, batch: Iterable[Paper], prepare: Callable[[UpsertPlan], None] | None = None
    ) -> StoredChunk:
        """Upsert a chunk of an ingest's papers, marking them as waiting for their matches in
        the same transaction (see `record_matches`): a crash before those are recorded leaves
        the mark, and the next ingest matches them first. `prepare` sees the plan before the
        first write (the ingest analyses the changed papers there, holding no write lock)."""
        started = time.perf_counter()
        with self.transaction() as conn:
            plan = paper_rows.plan_upsert(conn, batch)
            if not plan.changed:
                return StoredChunk(plan, paper_rows.UpsertResult(), time.perf_counter() - started)
            read = time.perf_counter() - started
            if prepare is not None:
                prepare(plan)
            writing = time.perf_counter()
            result = paper_rows.write_plan(conn, plan, self.clock())
            match_rows.mark_pending(conn, result.first_rev, result.last_rev)
        done = time.perf_counter()
        return StoredChunk(plan, result, read, done - writing)

    def record_matches(
        self, packed: PackedMatches, matched_at: datetime, batch: int, settled: Sequence[int] = ()
    ) -> float:
        """Store query rows of an ingest; the last call of an ingest also removes the marks of
        the papers it matched (`settled`: their first revisions). Returns the seconds from the
        first write to commit."""
        started = time.perf_counter()
        with self.transaction() as conn:
            match_rows.record(conn, packed, matched_at, batch)
            match_rows.settle_pending(conn, settled)
        return time.perf_counter() - started

    def pending_matches(self) -> list[tuple[int, int]]:
        """Revision ranges of stored papers whose matches are not recorded yet."""
        with self.reading() as conn:
            return match_rows.pending(conn)

    def papers_in_revisions(self, first: int, last: int) -> list[tuple[int, Paper]]:
        with self.reading() as conn:
            return paper_rows.papers_in_revisions(conn, first, last)

    def revisions_seen_since(self, since: datetime) -> list[tuple[str, int]]:
        with self.reading() as conn:
            return paper_rows.revisions_seen_since(conn, since)

    def query_ids(self, texts: Iterable[str]) -> dict[str, int]:
        """The row id matches of each query text are stored under (created if missing)."""
        with self.transaction() as conn:
            return match_rows.query_ids(conn, texts)

    # --- matches --------------------------------------------------------------------------

    def record_query_matches(self, packed: PackedMatches, matched_at: datetime) -> int:
        """Store matches outside an ingest (a new subscription's look back): dated
        `matched_at`, so they count for digests as if recorded then."""
        with self.transaction() as conn:
            return match_rows.record(conn, packed, matched_at, batch=0)

    def record_matches_of(self, query: str, found: Sequence[str], matched_at: datetime) -> int:
        """`record_query_matches` for one query given by its text: its row id found (or made)
        in the same transaction."""
        with self.transaction() as conn:
            query_id = match_rows.query_ids(conn, [query])[query]
            return match_rows.record(conn, {query_id: found}, matched_at, batch=0)

    def followed_query_matches(self, subscription: Subscription, since: datetime) -> int | None:
        """How many papers the subscription's query matched since `since`, if another channel
        followed that query all along (so the ingests stored its matches); None otherwise."""
        with self.reading() as conn:
            return match_rows.followed_query_matches(
                conn, subscription.query, self._channel_id(conn, subscription.channel), since
            )

    def digest_candidates(self, key: ChannelKey, matched_since: datetime) -> list[StoredMatch]:
        """What the channel's next digest may post: matches since `matched_since` (its keep
        window) of papers not posted, reserved or uncertain there, counted for a subscription
        from a few days before it was added. The one place a digest's candidates are chosen."""
        with self.reading() as conn:
            return self.candidates_in(conn, self._channel_id(conn, key), matched_since)

    def digest_inputs(
        self, key: ChannelKey, matched_since: datetime, only: Collection[str] | None = None
    ) -> DigestInputs:
        """`digest_candidates` (narrowed to the ids `only`), their papers and the channel's
        votes on them, in one session: on PostgreSQL every session pays a pre-ping and a
        rollback, which cost more than a thousand digests' queries."""
        with self.reading() as conn:
            channel_id = self._channel_id(conn, key)
            found = self.candidates_in(conn, channel_id, matched_since)
            if only is not None:
                found = [m for m in found if m.paper_id in only]
            ids = list(dict.fromkeys(m.paper_id for m in found))
            papers = self._paper_cache.get_papers(conn, ids)
            return DigestInputs(found, papers, vote_rows.vote_totals(conn, channel_id, ids))

    # The candidates of a channel on an open session (a benchmark puts another design's here).
    candidates_in = staticmethod(match_rows.digest_candidates)
