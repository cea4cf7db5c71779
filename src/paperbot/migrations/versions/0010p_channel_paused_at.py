"""channels.paused_at: when the channel was last paused, so a resume leaves out only what matched
while it was paused, not the matched papers that were waiting for a digest before the pause

Revision ID: 0010p
Revises: 0009s
Create Date: 2026-12-02 07:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010p"
down_revision = "0009s"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("channels") as batch:
        batch.add_column(sa.Column("paused_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    # In place (SQLite 3.35+ drops a column itself): a batch table copy of `channels` would
    # drop the old table, and with it, by ON DELETE CASCADE, every channel's subscriptions.
    with op.batch_alter_table("channels", recreate="never") as batch:
        batch.drop_column("paused_at")
