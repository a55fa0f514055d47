"""The fastest way each backend takes many rows, inside the caller's SQLAlchemy transaction.

Seeding a million candidates through per-value type conversion costs more than the database's own
work. Rows already in storage form go straight to the driver of the current connection:
`executemany` on SQLite, `COPY ... FROM STDIN` on PostgreSQL (psycopg's `cursor.copy`). Both run
on the connection SQLAlchemy holds, so they commit or roll back with the rest of the unit of work.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import Connection

from retention.store.engine import is_postgresql, is_sqlite

__all__ = ["BULK_CACHE_KIB", "bulk_insert", "bulk_load_settings"]

BULK_CACHE_KIB = 512 * 1024


def bulk_insert(
    conn: Connection, table: str, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> None:
    """Insert rows already in storage form through the driver's bulk path, in `conn`'s transaction.

    Table and column names come from this module's constants, never from input; values are
    always bound parameters (executemany) or COPY data.
    """
    if not rows:
        return
    driver = conn.connection.driver_connection
    assert driver is not None
    names = ", ".join(columns)
    if is_postgresql(conn):
        with driver.cursor() as cur, cur.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    else:
        marks = ", ".join("?" * len(columns))
        cur = driver.cursor()
        try:
            cur.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", rows)  # noqa: S608
        finally:
            cur.close()


@contextlib.contextmanager
def bulk_load_settings(conn: Connection) -> Iterator[None]:
    """Give SQLite a large page cache for one bulk load, and restore it afterwards.

    Random UUID keys and the email index touch pages all over their B-trees; with SQLite's
    default 2 MB cache a million-row load rereads them from the OS again and again (three times
    slower in measurements). PostgreSQL sizes its buffers itself.
    """
    if not is_sqlite(conn):
        yield
        return
    driver = conn.connection.driver_connection
    assert driver is not None
    before = driver.execute("PRAGMA cache_size").fetchone()[0]
    driver.execute(f"PRAGMA cache_size={-BULK_CACHE_KIB}")
    try:
        yield
    finally:
        driver.execute(f"PRAGMA cache_size={int(before)}")
