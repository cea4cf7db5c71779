"""Inserts that let the database settle duplicates: ON CONFLICT DO NOTHING on both dialects."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Column, Connection, Table
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
    statement = insert_for(conn)(table).values(rows).on_conflict_do_nothing().returning(column)
    return list(conn.execute(statement).scalars())


def insert_ignoring_duplicates(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> int:
    """Insert a few rows, skipping those that exist; returns how many were new (counted from
    RETURNING: on PostgreSQL, SQLAlchemy reports no row count for these statements). Many
    plain rows go faster through `insert_rows_counting_new`."""
    key = next(iter(table.primary_key.columns))
    inserted = 0
    for start in range(0, len(rows), _INSERT_CHUNK):
        chunk = rows[start : start + _INSERT_CHUNK]
        inserted += len(insert_returning_new(conn, table, chunk, key))
    return inserted


def insert_rows_counting_new(
    conn: Connection, table: Table, columns: Sequence[str], rows: list[tuple[Any, ...]]
) -> int:
    """Insert many plain rows (values as the driver takes them: see `bind_value`), skipping
    those that exist; returns how many were new. Straight to the driver's executemany, which
    sums each row's count into rowcount on both drivers: for a busy day's 780,000 matches,
    building a dict per row and SQLAlchemy's per-row processing were most of the time."""
    if not rows:
        return 0
    quote = conn.dialect.identifier_preparer.quote
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    sql = (
        f"INSERT INTO {quote(table.name)} ({', '.join(map(quote, columns))}) "
        f"VALUES ({', '.join([mark] * len(columns))}) ON CONFLICT DO NOTHING"
    )
    return max(conn.exec_driver_sql(sql, rows).rowcount, 0)


def bind_value(conn: Connection, column: Column[Any], value: Any) -> Any:
    """`value` as SQLAlchemy would hand it to the driver for `column` (a UTC datetime as
    SQLite's text, say): computed once for a value many plain rows share."""
    # The dialect's own implementation: SQLite's text format for datetimes, say, which the
    # generic type leaves to the driver (whose format drops zero microseconds).
    processor = column.type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
    return processor(value) if processor is not None else value


def insert_for(conn: Connection) -> Callable[[Table], postgresql.Insert | sqlite.Insert]:
    """The dialect's INSERT construct, which knows ON CONFLICT DO NOTHING."""
    return postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
