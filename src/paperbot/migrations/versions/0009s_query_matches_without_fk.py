"""query matches without a foreign key: query rows are never deleted, and on PostgreSQL the key's
check (a trigger per inserted row) was nearly half of recording a day's matches

Revision ID: 0009s
Revises: 0008r
Create Date: 2026-12-02 03:00:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0009s"
down_revision = "0008r"
branch_labels = None
depends_on = None

_FK = "fk_query_matches_query_id_queries"


def upgrade() -> None:
    with op.batch_alter_table("query_matches") as batch:
        batch.drop_constraint(_FK, type_="foreignkey")


def downgrade() -> None:
    with op.batch_alter_table("query_matches") as batch:
        batch.create_foreign_key(_FK, "queries", ["query_id"], ["id"], ondelete="CASCADE")
