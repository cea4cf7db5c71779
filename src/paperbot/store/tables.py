"""The schema as SQLAlchemy Core tables: what Alembic migrations are checked against."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on SQLite (which keeps no zone) too."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use UTC-aware datetimes")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)  # type: ignore[no-any-return]
        return value.astimezone(UTC)  # type: ignore[no-any-return]


metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

papers = Table(
    "papers",
    metadata,
    Column("arxiv_id", String(32), primary_key=True),
    Column("title", Text, nullable=False),
    Column("abstract", Text, nullable=False),
    Column("authors", JSON, nullable=False),
    Column("categories", JSON, nullable=False),
    Column("published_at", UTCDateTime),
    Column("featured_on", Date),
    Column("upvotes", Integer, nullable=False, default=0),
    Column("comments", Integer, nullable=False, default=0),
    Column("github_repo", String(300)),
    Column("github_stars", Integer),
    Column("project_page", String(500)),
    Column("ai_summary", Text),
    Column("ai_keywords", JSON, nullable=False),
    Column("sources", JSON, nullable=False),
    Column("first_seen_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    # Grows with every insert or change, so a search index can catch up from a watermark.
    Column("rev", BigInteger, nullable=False),
    Index("ix_papers_rev", "rev"),
    Index("ix_papers_first_seen_at", "first_seen_at"),
)

channels = Table(
    "channels",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("platform", String(16), nullable=False),
    Column("workspace", String(64), nullable=False),
    Column("channel", String(64), nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("digest_hour", Integer, nullable=False),
    Column("max_items", Integer, nullable=False),
    Column("digest_days", String(40), nullable=False),
    Column("threaded", Boolean, nullable=False),
    Column("post_when_empty", Boolean, nullable=False),
    Column("paused", Boolean, nullable=False, default=False),
    Column("pause_reason", String(200)),
    Column("last_digest_at", UTCDateTime),
    Column("created_at", UTCDateTime, nullable=False),
    # Days a matched paper that was not posted yet stays eligible for the next digests.
    Column("keep_days", Integer, nullable=False, server_default="7"),
    # When the channel was last paused and resumed: matches (shared with channels that follow
    # the same queries) recorded between the two are not its own; those from before still wait.
    Column("resumed_at", UTCDateTime),
    Column("paused_at", UTCDateTime),
    UniqueConstraint("platform", "workspace", "channel"),
)

subscriptions = Table(
    "subscriptions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("channel_id", Integer, ForeignKey("channels.id", ondelete="CASCADE"), nullable=False),
    Column("query", String(200), nullable=False),
    Column("created_by", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("channel_id", "query"),
)

# Subscription matches, one row per distinct query (not per subscriber) and ingest: the papers
# it matched there, packed as "paper_id=field" words. A digest fans them out to the
# channel's subscriptions by query text. A busy day at 100,000 subscriptions is ~70,000 rows
# here instead of ~790,000 per-subscription rows (benchmarks/bench_day.py measures both).
queries = Table(
    "queries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("text", String(200), nullable=False, unique=True),
)

query_matches = Table(
    "query_matches",
    metadata,
    # A `queries` id, without a foreign key: query rows are never deleted, and on PostgreSQL
    # the key's check per inserted row was nearly half of recording a day (migration 0009s).
    Column("query_id", Integer, primary_key=True),
    # A digest reads a query's rows newer than its window, so they are clustered that way.
    Column("matched_at", UTCDateTime, primary_key=True),
    # The first paper revision of the ingest that recorded the row (0: a subscribe's look back).
    Column("batch", BigInteger, primary_key=True),
    Column("papers", Text, nullable=False),
)

# Paper revisions an ingest stored whose matches are not recorded yet: written with the papers,
# removed with the last of their matches, so the next ingest matches what a crash left behind.
ingest_pending = Table(
    "ingest_pending",
    metadata,
    Column("first_rev", BigInteger, primary_key=True, autoincrement=False),
    Column("last_rev", BigInteger, nullable=False),
)

# One row per change to a channel's subscriptions, numbered by the `subscription_rev` meta
# counter: an ingest applies the changes since the revision it last saw, instead of reloading
# every subscription, and sees the changes other instances made.
subscription_changes = Table(
    "subscription_changes",
    metadata,
    Column("rev", BigInteger, primary_key=True, autoincrement=False),
    Column("channel_id", Integer, nullable=False),
)

# The posted ledger: one row per (channel, paper), ever. A row is written as an intent before
# the post and completed with the message id after it, so a crash in between is visible.
posts = Table(
    "posts",
    metadata,
    Column("channel_id", Integer, ForeignKey("channels.id", ondelete="CASCADE"), primary_key=True),
    Column("paper_id", String(32), ForeignKey("papers.arxiv_id"), primary_key=True),
    Column("state", String(16), nullable=False),
    Column("message_id", String(64)),
    Column("thread_id", String(64)),
    Column("digest_day", Date, nullable=False),
    Column("claimed_by", String(64)),
    Column("created_at", UTCDateTime, nullable=False),
    Column("posted_at", UTCDateTime),
    # The digest (header and thread) the paper was reserved for; None for older rows.
    Column("digest_id", Integer),
    Index("ix_posts_channel_id_message_id", "channel_id", "message_id"),
    Index("ix_posts_state", "state"),
    Index("ix_posts_digest_id", "digest_id"),
)

# One row per digest header: where its thread is, whether it was finished, and who asked for
# it, so a digest a crash interrupted is resumed under its own header and its list corrected.
digests = Table(
    "digests",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("channel_id", Integer, ForeignKey("channels.id", ondelete="CASCADE"), nullable=False),
    Column("day", Date, nullable=False),
    Column("state", String(16), nullable=False),
    Column("header_id", String(64)),
    Column("thread_id", String(64)),
    Column("reply_to", String(500)),
    # When the requester asked: the digest's creation, or a later `/papers more` on it.
    Column("reply_since", UTCDateTime),
    Column("created_at", UTCDateTime, nullable=False),
    Column("completed_at", UTCDateTime),
    Index("ix_digests_channel_id_day", "channel_id", "day"),
)

votes = Table(
    "votes",
    metadata,
    Column("channel_id", Integer, ForeignKey("channels.id", ondelete="CASCADE"), primary_key=True),
    Column("paper_id", String(32), ForeignKey("papers.arxiv_id"), primary_key=True),
    Column("user_id", String(64), primary_key=True),
    Column("value", Integer, nullable=False),
    Column("voted_at", UTCDateTime, nullable=False),
)

source_status = Table(
    "source_status",
    metadata,
    Column("source", String(32), primary_key=True),
    Column("last_success_at", UTCDateTime),
    Column("last_error_at", UTCDateTime),
    Column("last_error", String(300)),
    Column("last_count", Integer),
)

meta = Table(
    "meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", BigInteger, nullable=False),
)

# Leases: who may deliver a channel's digest (or run the ingest) right now, across processes.
# A row names the holder and when its claim lapses; a crashed holder's claim simply expires.
leases = Table(
    "leases",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("owner", String(64), nullable=False),
    Column("acquired_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
)

# A channel's taste: its "also worth a look" size and the model learned from its votes alone
# (one row per channel, never shared). `fingerprint` says which votes the model was trained on.
channel_taste = Table(
    "channel_taste",
    metadata,
    Column("channel_id", Integer, ForeignKey("channels.id", ondelete="CASCADE"), primary_key=True),
    Column("also_worth", Integer),
    Column("model", LargeBinary),
    Column("fingerprint", String(100)),
    Column("up_votes", Integer, nullable=False, default=0),
    Column("down_votes", Integer, nullable=False, default=0),
    Column("weak", Integer, nullable=False, default=0),
    Column("trained_at", UTCDateTime),
)

# Acronyms mined from papers ("mixture of experts (MoE)"), kept so that later papers spelling
# one out meet subscriptions to the acronym. `papers` counts the papers that defined the pair.
acronyms = Table(
    "acronyms",
    metadata,
    Column("acronym", String(16), primary_key=True),
    Column("expansion", String(200), primary_key=True),
    Column("papers", Integer, nullable=False),
    Column("first_seen", UTCDateTime, nullable=False),
)

# One-sentence TL;DRs a language model wrote, one per paper however many channels post it; the
# rows of a day are also that day's spent budget (papers and tokens).
summaries = Table(
    "summaries",
    metadata,
    Column("paper_id", String(32), ForeignKey("papers.arxiv_id"), primary_key=True),
    Column("text", Text, nullable=False),
    Column("model", String(100), nullable=False),
    Column("tokens", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_summaries_created_at", "created_at"),
)

# A channel's weekly roundup, when it asked for one: the weekday and hour (channel time), and
# when the last one went out, so a week's roundup is posted once.
roundups = Table(
    "roundups",
    metadata,
    Column("channel_id", Integer, ForeignKey("channels.id", ondelete="CASCADE"), primary_key=True),
    Column("weekday", String(3), nullable=False),
    Column("hour", Integer, nullable=False),
    Column("last_posted_at", UTCDateTime),
)
