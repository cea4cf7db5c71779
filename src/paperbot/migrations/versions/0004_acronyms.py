"""acronyms: pairs mined from papers ("mixture of experts (MoE)"), kept across restarts

Revision ID: 0004
Revises: 0007
Create Date: 2026-12-01 21:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "acronyms",
        sa.Column("acronym", sa.String(length=16), nullable=False),
        sa.Column("expansion", sa.String(length=200), nullable=False),
        sa.Column("papers", sa.Integer(), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("acronym", "expansion", name=op.f("pk_acronyms")),
    )


def downgrade() -> None:
    op.drop_table("acronyms")
