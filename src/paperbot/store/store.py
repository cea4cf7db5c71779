"""The store: every database session paperbot opens is opened here. Methods are synchronous and
short; async callers run them in a worker thread. Each method opens its transaction (or
connection) and leaves the rows to the table modules beside it: papers, channels (with
subscriptions), ledger (matches and posts), votes and sources. The ingest's side (chunks,
query rows, digest candidates) is `IngestStore`, and what every part shares is `StoreBase`."""

from __future__ import annotations

import time
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import date, datetime

from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError

from paperbot.models import Channel, ChannelKey, ChannelSettings, Paper, Subscription
from paperbot.store import acronyms as acronym_rows
from paperbot.store import channels as channel_rows
from paperbot.store import digests as digest_rows
from paperbot.store import ledger as ledger_rows
from paperbot.store import papers as paper_rows
from paperbot.store import sources as source_rows
from paperbot.store import votes as vote_rows
from paperbot.store.base import Clock, utc_now
from paperbot.store.channels import StoredSubscription
from paperbot.store.database import create_db_engine, migrate
from paperbot.store.digests import DigestPost, DigestRecord, DigestState
from paperbot.store.ingest_store import IngestStore, StoredChunk
from paperbot.store.ledger import LedgerEntry, PostState
from paperbot.store.matches import PackedMatches, StoredMatch
from paperbot.store.papers import UpsertPlan
from paperbot.store.sections import History, Roundups, Summaries
from paperbot.store.sources import SourceStatus
from paperbot.store.tables import papers as papers_table

__all__ = [
    "Clock",
    "DigestPost",
    "DigestRecord",
    "DigestState",
    "LedgerEntry",
    "PackedMatches",
    "PostState",
    "SourceStatus",
    "Store",
    "StoredChunk",
    "StoredMatch",
    "StoredSubscription",
    "UpsertPlan",
    "utc_now",
]


class Store(IngestStore):
    def __init__(self, engine: Engine, clock: Clock = utc_now) -> None:
        super().__init__(engine, clock)
        parts = (engine, self.transaction, self._channel_id_or_none, lambda: self.clock())
        self.history = History(*parts)
        self.summaries = Summaries(*parts)
        self.roundups = Roundups(*parts)
        # The latest source statuses read and when (monotonic), for `source_statuses(max_age)`.
        self._statuses: tuple[float, list[SourceStatus]] | None = None

    @classmethod
    def open(cls, url: str, clock: Clock = utc_now, echo: bool = False) -> Store:
        """Connect and migrate: a new file or an old schema is brought to the newest revision."""
        engine = create_db_engine(url, echo=echo)
        migrate(engine)
        return cls(engine, clock)

    # --- papers ---------------------------------------------------------------------------

    def upsert_papers(self, batch: Iterable[Paper]) -> paper_rows.UpsertResult:
        with self.transaction() as conn:
            return paper_rows.upsert_papers(conn, batch, self.clock())

    def import_papers(
        self, batch: Iterable[Paper], checkpoint: Mapping[str, int] | None = None
    ) -> paper_rows.UpsertResult:
        """Backfill's upsert: a new paper is dated by its own publication (history must never
        look new to subscription lookbacks), and `checkpoint` meta values commit in the same
        transaction, so a resumed import neither skips nor repeats a batch."""
        with self.transaction() as conn:
            result = paper_rows.upsert_papers(
                conn, batch, self.clock(), first_seen=lambda p: p.published_at
            )
            if checkpoint:
                paper_rows.write_meta(conn, checkpoint)
            return result

    def read_meta(self, keys: Sequence[str]) -> dict[str, int]:
        with self.reading() as conn:
            return paper_rows.read_meta(conn, keys)

    def get_papers(self, ids: Sequence[str]) -> dict[str, Paper]:
        with self.reading() as conn:
            return self._paper_cache.get_papers(conn, ids)

    def get_paper(self, arxiv_id: str) -> Paper | None:
        return self.get_papers([arxiv_id]).get(arxiv_id)

    def papers_changed_since(self, rev: int, limit: int = 5000) -> list[tuple[int, Paper]]:
        with self.reading() as conn:
            return paper_rows.papers_changed_since(conn, rev, limit)

    def papers_seen_since(self, since: datetime) -> list[Paper]:
        with self.reading() as conn:
            return list(paper_rows.papers_seen_since(conn, since))

    def latest_paper_rev(self) -> int:
        """The newest paper revision committed (0 for none): the search index's freshness check,
        one lookup in ix_papers_rev."""
        with self.reading() as conn:
            return int(conn.execute(select(func.max(papers_table.c.rev))).scalar_one_or_none() or 0)

    def count_papers(self) -> int:
        with self.reading() as conn:
            return int(conn.execute(select(func.count()).select_from(papers_table)).scalar_one())

    # --- channels -------------------------------------------------------------------------

    def ensure_channel(self, key: ChannelKey, defaults: ChannelSettings) -> Channel:
        """The channel's record, created with `defaults` the first time it is seen."""
        found = self.get_channel(key)
        if found is not None:
            return found
        try:
            with self.transaction() as conn:
                channel_rows.insert_channel(conn, key, defaults, self.clock())
        except IntegrityError:
            pass  # another worker created it first; read theirs
        found = self.get_channel(key)
        assert found is not None
        return found

    def get_channel(self, key: ChannelKey) -> Channel | None:
        with self.reading() as conn:
            found = channel_rows.get_channel(conn, key)
        if found is None:
            return None
        self._channel_ids[key], channel = found
        return channel

    def list_channels(self, platform: str | None = None) -> list[Channel]:
        with self.reading() as conn:
            return channel_rows.list_channels(conn, platform)

    def update_channel(self, key: ChannelKey, settings: ChannelSettings) -> Channel:
        with self.transaction() as conn:
            channel_rows.update_settings(conn, self._channel_id(conn, key), settings, self.clock())
        found = self.get_channel(key)
        assert found is not None
        return found

    def pause_channel(self, key: ChannelKey, reason: str) -> bool:
        """Pause a channel's digests; True if it was running until now (so report it once)."""
        with self.transaction() as conn:
            return channel_rows.pause(conn, self._channel_id(conn, key), reason, self.clock())

    def resume_channel(self, key: ChannelKey) -> None:
        with self.transaction() as conn:
            channel_rows.resume(conn, self._channel_id(conn, key), self.clock())

    def set_last_digest(self, key: ChannelKey, at: datetime) -> None:
        with self.transaction() as conn:
            channel_rows.set_last_digest(conn, self._channel_id(conn, key), at)

    # --- subscriptions --------------------------------------------------------------------

    def add_subscription(self, key: ChannelKey, query: str, user: str) -> Subscription | None:
        """The new subscription, or None if the channel already had this exact query."""
        try:
            with self.transaction() as conn:
                return channel_rows.add_subscription(
                    conn, self._channel_id(conn, key), key, query, user, self.clock()
                )
        except IntegrityError:
            return None

    def remove_subscription(self, key: ChannelKey, query: str) -> bool:
        with self.transaction() as conn:
            return channel_rows.remove_subscription(conn, self._channel_id(conn, key), query)

    def list_subscriptions(self, key: ChannelKey) -> list[Subscription]:
        with self.reading() as conn:
            return channel_rows.list_subscriptions(conn, self._channel_id(conn, key), key)

    def all_subscriptions(self) -> list[Subscription]:
        """Every subscription of every channel that is not paused."""
        with self.reading() as conn:
            return channel_rows.active_subscriptions(conn)

    def stored_subscriptions(
        self, channel_ids: Collection[int] | None = None
    ) -> tuple[int, list[StoredSubscription]]:
        """The subscription revision, then every subscription (or those of `channel_ids`) as
        of it or later: an ingest syncing from that revision on misses nothing."""
        with self.reading() as conn:
            rev = channel_rows.subscription_rev(conn)
            return rev, channel_rows.stored_subscriptions(conn, channel_ids)

    def subscription_changes(self, since_rev: int) -> tuple[int, set[int]]:
        """The newest subscription revision, and the channels that changed after `since_rev`:
        one small read when nothing changed."""
        with self.reading() as conn:
            rev = channel_rows.subscription_rev(conn)
            if rev == since_rev:
                return rev, set()
            return rev, channel_rows.changed_channels(conn, since_rev)

    # --- the posted ledger ----------------------------------------------------------------

    def reserve_posts(
        self,
        key: ChannelKey,
        paper_ids: Sequence[str],
        day: date,
        worker: str = "",
        digest_id: int | None = None,
    ) -> list[str]:
        """Record the intent to post; returns the ids this call reserved (others were already
        posted or reserved, by this or another process), in the order given."""
        now = self.clock()
        with self.transaction() as conn:
            return ledger_rows.reserve_posts(
                conn, self._channel_id(conn, key), paper_ids, day, worker, now, digest_id
            )

    def complete_post(
        self, key: ChannelKey, paper_id: str, message_id: str, thread_id: str | None = None
    ) -> None:
        with self.transaction() as conn:
            channel_id = self._channel_id(conn, key)
            ledger_rows.complete_post(
                conn, channel_id, paper_id, message_id, thread_id, self.clock()
            )

    def release_post(self, key: ChannelKey, paper_id: str) -> None:
        """An intent whose post certainly did not happen: keep it as a retry, so the next digest
        posts it even though it matched before that digest's window."""
        with self.transaction() as conn:
            ledger_rows.release_post(conn, self._channel_id(conn, key), paper_id)

    def mark_post_uncertain(self, key: ChannelKey, paper_id: str) -> None:
        with self.transaction() as conn:
            ledger_rows.mark_post_uncertain(conn, self._channel_id(conn, key), paper_id)

    def pending_posts(self, older_than: datetime | None = None) -> list[LedgerEntry]:
        with self.reading() as conn:
            return ledger_rows.pending_posts(conn, older_than)

    def ledger(self, key: ChannelKey) -> list[LedgerEntry]:
        with self.reading() as conn:
            return ledger_rows.channel_ledger(conn, self._channel_id(conn, key))

    def uncertain_papers(self, key: ChannelKey) -> list[tuple[str, str]]:
        """(paper id, title) of posts that may or may not have arrived; never resent."""
        with self.reading() as conn:
            return ledger_rows.uncertain_papers(conn, self._channel_id(conn, key))

    # --- digests (headers and threads) ----------------------------------------------------

    def open_digest(self, key: ChannelKey, day: date, reply_to: str | None = None) -> int:
        with self.transaction() as conn:
            return digest_rows.open_digest(
                conn, self._channel_id(conn, key), day, reply_to, self.clock()
            )

    def set_digest_header(self, digest_id: int, header_id: str, thread_id: str | None) -> None:
        with self.transaction() as conn:
            digest_rows.set_header(conn, digest_id, header_id, thread_id)

    def finish_digest(self, digest_id: int) -> None:
        with self.transaction() as conn:
            digest_rows.finish_digest(conn, digest_id, self.clock())

    def reopen_digest(self, digest_id: int, reply_to: str | None = None) -> None:
        with self.transaction() as conn:
            digest_rows.reopen_digest(conn, digest_id, reply_to, self.clock())

    def reopen_to_correct(self, digest_id: int) -> None:
        with self.transaction() as conn:
            digest_rows.reopen_to_correct(conn, digest_id)

    def open_digests(self, key: ChannelKey) -> list[DigestRecord]:
        """The channel's digests a crash (or a failure) left unfinished, oldest first."""
        with self.reading() as conn:
            return digest_rows.open_digests(conn, self._channel_id(conn, key))

    def channels_with_open_digests(self) -> list[ChannelKey]:
        """Channels with a digest a crash interrupted (or whose header still needs its edit)."""
        with self.reading() as conn:
            return [ChannelKey(*row) for row in digest_rows.channels_with_open_digests(conn)]

    def latest_digest(self, key: ChannelKey, day: date) -> DigestRecord | None:
        with self.reading() as conn:
            return digest_rows.latest_digest(conn, self._channel_id(conn, key), day)

    def digest_thread(self, digest_id: int) -> str | None:
        with self.reading() as conn:
            return digest_rows.digest_thread(conn, digest_id)

    def digest_posts(self, digest_id: int) -> list[DigestPost]:
        with self.reading() as conn:
            return digest_rows.digest_posts(conn, digest_id)

    def paper_for_message(self, key: ChannelKey, message_id: str) -> str | None:
        """The paper a posted message is about, so a reaction on it can become a vote."""
        with self.reading() as conn:
            channel_id = self._channel_id_or_none(conn, key)
            if channel_id is None:
                return None
            return ledger_rows.paper_for_message(conn, channel_id, message_id)

    # --- votes ----------------------------------------------------------------------------

    def set_vote(self, key: ChannelKey, paper_id: str, user: str, value: int) -> bool:
        """Record a user's vote; True if it changed anything (a repeated reaction counts once)."""
        with self.transaction() as conn:
            channel_id = self._channel_id(conn, key)
            return vote_rows.set_vote(conn, channel_id, paper_id, user, value, self.clock())

    def retract_vote(self, key: ChannelKey, paper_id: str, user: str, value: int) -> bool:
        """Remove a vote if it is the one being taken back (removing 👍 leaves a later 👎 alone)."""
        with self.transaction() as conn:
            return vote_rows.retract_vote(conn, self._channel_id(conn, key), paper_id, user, value)

    def vote_totals(self, key: ChannelKey, paper_ids: Sequence[str]) -> dict[str, int]:
        with self.reading() as conn:
            channel_id = self._channel_id_or_none(conn, key)
            if channel_id is None:
                return {}
            return vote_rows.vote_totals(conn, channel_id, paper_ids)

    def top_voted(
        self, key: ChannelKey, since: datetime | None, limit: int
    ) -> list[tuple[str, int]]:
        """Papers the channel voted up, best first: (paper id, net votes)."""
        with self.reading() as conn:
            channel_id = self._channel_id_or_none(conn, key)
            if channel_id is None:
                return []
            return vote_rows.top_voted(conn, channel_id, since, limit)

    # --- sources --------------------------------------------------------------------------

    def record_source_result(self, source: str, count: int | None, error: str | None) -> None:
        now = self.clock()
        with self.transaction() as conn:
            source_rows.record_source_result(conn, source, count, error, now)
        self._statuses = None

    def source_statuses(self, max_age: float = 0.0) -> list[SourceStatus]:
        """Every source's latest result; with `max_age`, the statuses read at most that many
        seconds ago may do (those written through this store are always seen): a thousand
        digests built in one hour each say which sources are missing, from one read."""
        kept = self._statuses
        if kept is not None and time.monotonic() - kept[0] < max_age:
            return list(kept[1])
        started = time.monotonic()
        with self.reading() as conn:
            found = source_rows.source_statuses(conn)
        self._statuses = (started, found)
        return list(found)

    # --- acronyms -------------------------------------------------------------------------

    def record_acronyms(self, pairs: Iterable[tuple[str, str]]) -> int:
        """Store acronym pairs mined from papers; returns how many were new."""
        now = self.clock()
        with self.transaction() as conn:
            return acronym_rows.record_acronyms(conn, pairs, now)

    def learned_acronyms(self) -> list[tuple[str, str]]:
        with self.reading() as conn:
            return acronym_rows.learned_acronyms(conn)
