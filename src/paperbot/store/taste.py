"""What the taste package keeps and reads: the `channel_taste` row of each channel (its
"also worth a look" size and its learned model), its votes as training data, and the papers it
may be shown. Rows become plain values before they leave, as everywhere in the store."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, bindparam, func, select, update
from sqlalchemy.exc import IntegrityError

from paperbot.models import ChannelKey, Paper
from paperbot.store.ledger import PostState
from paperbot.store.matches import channel_matches
from paperbot.store.papers import paper_from_row
from paperbot.store.store import Store
from paperbot.store.tables import channel_taste, channels, papers, posts, votes


@dataclass(frozen=True, slots=True)
class StoredTaste:
    also_worth: int | None
    model: bytes | None
    fingerprint: str | None
    up_votes: int
    down_votes: int
    weak: int
    trained_at: datetime | None


@dataclass(frozen=True, slots=True)
class TrainedModel:
    """What a retrain writes back."""

    model: bytes
    fingerprint: str
    up_votes: int
    down_votes: int
    weak: int
    trained_at: datetime


class TasteStore:
    """The taste package's door to the database; opens its sessions through `Store`."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def _channel(self, conn: Connection, key: ChannelKey) -> int | None:
        return self.store._channel_id_or_none(conn, key)

    def load(self, key: ChannelKey) -> StoredTaste | None:
        with self.store.reading() as conn:
            channel_id = self._channel(conn, key)
            if channel_id is None:
                return None
            row = conn.execute(_TASTE_OF, {"channel": channel_id}).mappings().first()
        if row is None:
            return None
        return StoredTaste(
            also_worth=row["also_worth"],
            model=row["model"],
            fingerprint=row["fingerprint"],
            up_votes=row["up_votes"],
            down_votes=row["down_votes"],
            weak=row["weak"],
            trained_at=row["trained_at"],
        )

    def save_model(self, key: ChannelKey, trained: TrainedModel) -> None:
        self._upsert(
            key,
            model=trained.model,
            fingerprint=trained.fingerprint,
            up_votes=trained.up_votes,
            down_votes=trained.down_votes,
            weak=trained.weak,
            trained_at=trained.trained_at,
        )

    def set_also_worth(self, key: ChannelKey, count: int) -> None:
        self._upsert(key, also_worth=count)

    def _upsert(self, key: ChannelKey, **values: object) -> None:
        for attempt in range(2):
            try:
                with self.store.transaction() as conn:
                    channel_id = self.store._channel_id(conn, key)
                    where = channel_taste.c.channel_id == channel_id
                    done = conn.execute(update(channel_taste).where(where).values(**values))
                    if done.rowcount == 0:
                        row: dict[str, object] = {"up_votes": 0, "down_votes": 0, "weak": 0}
                        conn.execute(
                            channel_taste.insert().values(channel_id=channel_id, **(row | values))
                        )
                return
            except IntegrityError:
                if attempt:  # another worker inserted it between our update and insert
                    raise

    def vote_fingerprint(self, key: ChannelKey) -> str:
        """Changes whenever the channel's votes do (added, changed or taken back)."""
        with self.store.reading() as conn:
            channel_id = self._channel(conn, key)
            if channel_id is None:
                return _fingerprint(0, 0, None)
            count, total, latest = conn.execute(
                select(func.count(), func.sum(votes.c.value), func.max(votes.c.voted_at)).where(
                    votes.c.channel_id == channel_id
                )
            ).one()
        return _fingerprint(count, total, latest)

    def stale(self) -> list[ChannelKey]:
        """Channels whose stored model was trained on other votes than they have now (or that
        have votes and no model): one grouped query, so a sweep over every channel stays cheap."""
        with self.store.reading() as conn:
            current = {
                channel_id: _fingerprint(count, total, latest)
                for channel_id, count, total, latest in conn.execute(
                    select(
                        votes.c.channel_id,
                        func.count(),
                        func.sum(votes.c.value),
                        func.max(votes.c.voted_at),
                    ).group_by(votes.c.channel_id)
                )
            }
            stored = dict(
                conn.execute(select(channel_taste.c.channel_id, channel_taste.c.fingerprint)).all()
            )
            stale = {
                channel_id
                for channel_id in current.keys() | {c for c, f in stored.items() if f is not None}
                if stored.get(channel_id) != current.get(channel_id, _fingerprint(0, 0, None))
            }
            if not stale:
                return []
            rows = conn.execute(
                select(channels.c.platform, channels.c.workspace, channels.c.channel)
                .where(channels.c.id.in_(sorted(stale)))
                .order_by(channels.c.id)
            ).all()
        return [ChannelKey(*row) for row in rows]

    def training_votes(self, key: ChannelKey, limit: int) -> list[tuple[str, int]]:
        """(paper id, net vote) of the channel's most recently voted papers, net vote not 0."""
        total = func.sum(votes.c.value)
        with self.store.reading() as conn:
            channel_id = self._channel(conn, key)
            if channel_id is None:
                return []
            rows = conn.execute(
                select(votes.c.paper_id, total)
                .where(votes.c.channel_id == channel_id)
                .group_by(votes.c.paper_id)
                .having(total != 0)
                .order_by(func.max(votes.c.voted_at).desc(), votes.c.paper_id)
                .limit(limit)
            ).all()
        return [(row[0], int(row[1])) for row in rows]

    def background_ids(self, key: ChannelKey, limit: int) -> list[str]:
        """The latest papers the channel did not vote on: a sample of what an ordinary day
        brings, which its model learns to tell the papers it voted up from."""
        if limit <= 0:
            return []
        with self.store.reading() as conn:
            channel_id = self._channel(conn, key)
            if channel_id is None:
                return []
            voted = select(votes.c.paper_id).where(votes.c.channel_id == channel_id)
            rows = conn.execute(
                select(papers.c.arxiv_id)
                .where(papers.c.arxiv_id.not_in(voted))
                .order_by(papers.c.first_seen_at.desc(), papers.c.arxiv_id)
                .limit(limit)
            ).all()
        return [row[0] for row in rows]

    def candidate_ids(self, key: ChannelKey, since: datetime, limit: int) -> list[str]:
        """Papers first seen after `since` that matched none of the channel's subscriptions
        and were never posted (nor reserved) there: what "also worth a look" picks from. Ids
        only: every channel's digest reads the same day, whose vectors are cached."""
        with self.store.reading() as conn:
            channel_id = self._channel(conn, key)
            if channel_id is None:
                return []
            # Matches are recorded when a paper is first seen, so these are all that can count.
            matched = {paper_id for paper_id, _ in channel_matches(conn, channel_id, since)}
            in_ledger = select(posts.c.paper_id).where(posts.c.channel_id == channel_id)
            rows = conn.execute(
                select(papers.c.arxiv_id)
                .where(papers.c.first_seen_at > since, papers.c.arxiv_id.not_in(in_ledger))
                .order_by(papers.c.first_seen_at.desc(), papers.c.arxiv_id)
                .limit(limit + len(matched))
            ).all()
        return [row[0] for row in rows if row[0] not in matched][:limit]

    def latest_digest(self, key: ChannelKey) -> list[str]:
        """The papers of the channel's latest digest in the order they were posted: a digest
        reserves all its papers at one moment, so they share the latest `created_at`."""
        with self.store.reading() as conn:
            channel_id = self._channel(conn, key)
            if channel_id is None:
                return []
            mine = (posts.c.channel_id == channel_id, posts.c.state == PostState.POSTED)
            latest = conn.execute(select(func.max(posts.c.created_at)).where(*mine)).scalar()
            if latest is None:
                return []
            rows = conn.execute(
                select(posts.c.paper_id)
                .where(*mine, posts.c.created_at == latest)
                .order_by(posts.c.posted_at, posts.c.paper_id)
            ).all()
        return [row[0] for row in rows]

    def recent_papers(self, limit: int) -> list[Paper]:
        with self.store.reading() as conn:
            rows = conn.execute(
                select(papers)
                .order_by(papers.c.first_seen_at.desc(), papers.c.arxiv_id)
                .limit(limit)
            ).mappings()
            return [paper_from_row(row) for row in rows]


def _fingerprint(count: int, total: int | None, latest: datetime | None) -> str:
    return f"{count}:{total or 0}:{latest}"


# Built once: every digest asks for its channel's model.
_TASTE_OF = select(channel_taste).where(channel_taste.c.channel_id == bindparam("channel"))
