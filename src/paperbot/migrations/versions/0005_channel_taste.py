"""channel_taste: each channel's "also worth a look" size and the model learned from its votes

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 21:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "channel_taste",
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.Column("also_worth", sa.Integer(), nullable=True),
        sa.Column("model", sa.LargeBinary(), nullable=True),
        sa.Column("fingerprint", sa.String(length=100), nullable=True),
        sa.Column("up_votes", sa.Integer(), nullable=False),
        sa.Column("down_votes", sa.Integer(), nullable=False),
        sa.Column("weak", sa.Integer(), nullable=False),
        sa.Column("trained_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["channel_id"],
            ["channels.id"],
            name=op.f("fk_channel_taste_channel_id_channels"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("channel_id", name=op.f("pk_channel_taste")),
    )


def downgrade() -> None:
    op.drop_table("channel_taste")
