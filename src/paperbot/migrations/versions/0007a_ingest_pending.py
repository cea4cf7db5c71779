"""ingest pending: stored papers whose matches an ingest has not recorded yet

Revision ID: 0007a
Revises: 0005
Create Date: 2026-12-01 22:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007a"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ingest_pending",
        sa.Column("first_rev", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("last_rev", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("first_rev", name=op.f("pk_ingest_pending")),
    )


def downgrade() -> None:
    op.drop_table("ingest_pending")
