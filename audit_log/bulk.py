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
        _copy_entries(conn, entries)
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


_COPY_NULL = "\\N"
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_entries(conn: Connection, entries: Sequence[EntryRow]) -> None:
    """COPY the entries in text format, formatted here: psycopg's `write_row` in pure Python
    cost more per entry than sealing it. Text format: tab-separated, `\\N` for NULL, bytea as
    `\\x` and hex, and backslash, tab and line breaks in text escaped."""
    driver = conn.connection.driver_connection
    assert driver is not None
    texts: dict[str, str] = {}  # actor, action and outcome repeat: escape each once

    def escaped(value: str) -> str:
        out = texts.get(value)
        if out is None:
            out = texts[value] = value.translate(_COPY_ESCAPES)
        return out

    stamps: dict[datetime, str] = {}
    lines = []
    for seq, ts, actor, action, subject, outcome, data, lh in entries:
        stamp = stamps.get(ts)
        if stamp is None:
            stamp = stamps[ts] = ts.strftime(_SQLITE_TS)
        lines.append(
            f"{seq}\t{stamp}\t{escaped(actor)}\t{escaped(action)}\t"
            f"{_COPY_NULL if subject is None else subject}\t{escaped(outcome)}\t"
            f"\\\\x{data.hex()}\t\\\\x{lh.hex()}\n"
        )
    columns = ", ".join(_ENTRY_COLUMNS)
    with driver.cursor() as cur, cur.copy(f"COPY audit_entry ({columns}) FROM STDIN") as cp:
        cp.write("".join(lines).encode())


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
