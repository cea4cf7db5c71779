"""Inserts that let the database settle duplicates: ON CONFLICT DO NOTHING on both dialects."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite

# Rows per multi-row INSERT: well under SQLite's 32,766 bound parameters at our widest table.
_INSERT_CHUNK = 1000


def insert_returning_new(
    conn: Connection, table: Table, rows: list[dict[str, Any]], column: Any
) -> list[Any]:
    """Insert what is not there yet and return `column` of the rows this statement created;
    under concurrency the database, not a prior read, decides who won."""
    if not rows:
        return []
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    statement = insert(table).values(rows).on_conflict_do_nothing().returning(column)
    return list(conn.execute(statement).scalars())


def insert_ignoring_duplicates(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> int:
    """Insert rows, skipping those that exist; returns how many were new (counted from
    RETURNING, since psycopg reports no row count for these statements)."""
    key = next(iter(table.primary_key.columns))
    inserted = 0
    for start in range(0, len(rows), _INSERT_CHUNK):
        chunk = rows[start : start + _INSERT_CHUNK]
        inserted += len(insert_returning_new(conn, table, chunk, key))
    return inserted
