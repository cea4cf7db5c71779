"""query matches: one row per distinct query and ingest chunk, and a subscription change log

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 21:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "queries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("text", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_queries")),
        sa.UniqueConstraint("text", name=op.f("uq_queries_text")),
    )
    op.create_table(
        "query_matches",
        sa.Column("query_id", sa.Integer(), nullable=False),
        sa.Column("matched_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("batch", sa.BigInteger(), nullable=False),
        sa.Column("papers", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["query_id"],
            ["queries.id"],
            name=op.f("fk_query_matches_query_id_queries"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("query_id", "matched_at", "batch", name=op.f("pk_query_matches")),
    )
    op.create_table(
        "subscription_changes",
        sa.Column("rev", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("rev", name=op.f("pk_subscription_changes")),
    )
    # Every stored subscription's query gets its row, and the per-subscription matches become
    # per-query rows (one per query and match time, as ingests wrote them).
    op.execute("INSERT INTO queries (text) SELECT DISTINCT query FROM subscriptions")
    bind = op.get_bind()
    rows = bind.execute(
        sa.text(
            "SELECT q.id, m.matched_at, m.paper_id, m.field FROM matches m "
            "JOIN subscriptions s ON s.id = m.subscription_id "
            "JOIN queries q ON q.text = s.query ORDER BY q.id, m.matched_at, m.paper_id"
        )
    ).all()
    packed: dict[tuple[int, object], dict[str, str]] = {}
    for query_id, matched_at, paper_id, field in rows:
        packed.setdefault((query_id, matched_at), {})[paper_id] = field
    if packed:
        bind.execute(
            sa.text(
                "INSERT INTO query_matches (query_id, matched_at, batch, papers) "
                "VALUES (:q, :at, 0, :papers)"
            ),
            [
                {"q": q, "at": at, "papers": " ".join(f"{p}={f}" for p, f in found.items())}
                for (q, at), found in packed.items()
            ],
        )
    op.execute("INSERT INTO meta (key, value) VALUES ('subscription_rev', 0)")
    with op.batch_alter_table("channels", schema=None) as batch_op:
        batch_op.add_column(sa.Column("resumed_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("matches", schema=None) as batch_op:
        batch_op.drop_index("ix_matches_channel_id_matched_at")
    op.drop_table("matches")


def downgrade() -> None:
    op.create_table(
        "matches",
        sa.Column("subscription_id", sa.Integer(), nullable=False),
        sa.Column("paper_id", sa.String(length=32), nullable=False),
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.Column("field", sa.String(length=16), nullable=False),
        sa.Column("matched_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["channel_id"],
            ["channels.id"],
            name=op.f("fk_matches_channel_id_channels"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["paper_id"], ["papers.arxiv_id"], name=op.f("fk_matches_paper_id_papers")
        ),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["subscriptions.id"],
            name=op.f("fk_matches_subscription_id_subscriptions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("subscription_id", "paper_id", name=op.f("pk_matches")),
    )
    with op.batch_alter_table("matches", schema=None) as batch_op:
        batch_op.create_index(
            "ix_matches_channel_id_matched_at", ["channel_id", "matched_at"], unique=False
        )
    # In place (SQLite 3.35+ drops a column itself), as 0010p does: a batch table copy of
    # `channels` drops the old table, and with it, by ON DELETE CASCADE, every channel's
    # subscriptions, posts, digests, votes and roundups.
    with op.batch_alter_table("channels", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("resumed_at")
    op.execute("DELETE FROM meta WHERE key = 'subscription_rev'")
    op.drop_table("subscription_changes")
    op.drop_table("query_matches")
    op.drop_table("queries")
