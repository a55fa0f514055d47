"""Bulk inserts of entry and node rows on the connection of the caller's transaction.

The generic path is an SQLAlchemy Core executemany. On PostgreSQL, psycopg runs executemany as one
statement per row in a pipeline; COPY FROM STDIN through the driver connection of the same
SQLAlchemy connection is several times faster and stays inside the transaction. On SQLite, the
driver's executemany with values already in SQLAlchemy's storage form (naive UTC text with six
fractional digits, UUIDs as 32 hex digits) skips per-row type processing. Verification reads the
rows back through SQLAlchemy and compares them with the hashed bytes, so any disagreement between
the two write paths would be caught.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, insert

from audit_log.schema import audit_entry, audit_node

EntryRow = tuple[int, datetime, str, str, UUID | None, str, bytes, bytes]
"""(seq, naive UTC ts, actor, action, subject, outcome, canonical, leaf_hash)"""

NodeRow = tuple[int, int, bytes]
"""(level, idx, hash)"""

_ENTRY_COLUMNS = ("seq", "ts", "actor", "action", "subject", "outcome", "canonical", "leaf_hash")
_NODE_COLUMNS = ("level", "idx", "hash")
_SQLITE_TS = "%Y-%m-%d %H:%M:%S.%f"
_COPY_MIN_ROWS = 32
"""Below this many rows a COPY's extra round trips cost more than a plain INSERT."""


def insert_rows(conn: Connection, entries: Sequence[EntryRow], nodes: Sequence[NodeRow]) -> None:
    """Insert `entries` and `nodes` in the transaction of `conn`."""
    dialect = conn.dialect.name
    if dialect == "postgresql" and len(entries) >= _COPY_MIN_ROWS:
        _copy(conn, "audit_entry", _ENTRY_COLUMNS, entries)
        _copy(conn, "audit_node", _NODE_COLUMNS, nodes)
    elif dialect == "sqlite":
        _sqlite(conn, entries, nodes)
    else:
        conn.execute(
            insert(audit_entry), [dict(zip(_ENTRY_COLUMNS, r, strict=True)) for r in entries]
        )
        if nodes:
            conn.execute(
                insert(audit_node), [dict(zip(_NODE_COLUMNS, r, strict=True)) for r in nodes]
            )


def _copy(conn: Connection, table: str, columns: Sequence[str], rows: Sequence[Any]) -> None:
    if not rows:
        return
    driver = conn.connection.driver_connection
    assert driver is not None
    with driver.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as cp:
        for row in rows:
            cp.write_row(row)


def _sqlite(conn: Connection, entries: Sequence[EntryRow], nodes: Sequence[NodeRow]) -> None:
    driver = conn.connection.driver_connection
    assert driver is not None
    stamps: dict[datetime, str] = {}
    rows = []
    for seq, ts, actor, action, subject, outcome, data, lh in entries:
        text = stamps.get(ts)
        if text is None:
            text = stamps[ts] = ts.strftime(_SQLITE_TS)
        rows.append((seq, text, actor, action, subject and subject.hex, outcome, data, lh))
    driver.executemany(
        "INSERT INTO audit_entry (seq, ts, actor, action, subject, outcome, canonical, leaf_hash) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    if nodes:
        driver.executemany("INSERT INTO audit_node (level, idx, hash) VALUES (?, ?, ?)", nodes)
