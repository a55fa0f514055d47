"""Bulk inserts of entry and node rows on the connection of the caller's transaction.

The generic path is an SQLAlchemy Core executemany. On PostgreSQL, psycopg runs executemany as one
statement per row in a pipeline; COPY FROM STDIN through the driver connection of the same
SQLAlchemy connection is several times faster and stays inside the transaction (binary format,
formatted here for the entries). On SQLite, the
driver's executemany with values already in SQLAlchemy's storage form (naive UTC text with six
fractional digits, UUIDs as 32 hex digits) skips per-row type processing. Verification reads the
rows back through SQLAlchemy and compares them with the hashed bytes, so any disagreement between
the two write paths would be caught.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, bindparam, insert, update

from audit_log.schema import HEAD_ID, audit_entry, audit_head, audit_node

EntryRow = tuple[int, datetime, str, str, UUID | None, str, bytes, bytes]
"""(seq, naive UTC ts, actor, action, subject, outcome, canonical, leaf_hash)"""

NodeRow = tuple[int, int, bytes]
"""(level, idx, hash)"""

_ENTRY_COLUMNS = ("seq", "ts", "actor", "action", "subject", "outcome", "canonical", "leaf_hash")
_NODE_COLUMNS = ("level", "idx", "hash")
_SQLITE_TS = "%Y-%m-%d %H:%M:%S.%f"
_COPY_MIN_ROWS = 32
"""Below this many rows a COPY's extra round trips cost more than a plain INSERT."""


HeadRow = tuple[int, str, bytes]
"""(size, last_hash, frontier) of the head after the rows."""

# Nodes and the head in one statement: one round trip fewer while the head row is locked.
_PG_NODES_AND_HEAD = (
    "WITH nodes AS (INSERT INTO audit_node (level, idx, hash)"
    " SELECT * FROM unnest(%s::smallint[], %s::bigint[], %s::bytea[]))"
    " UPDATE audit_head SET size = %s, last_hash = %s, frontier = %s WHERE id = %s"
)


# Built once (an append per audited request): the head's move as a ready statement.
_MOVE_HEAD = (
    update(audit_head)
    .where(audit_head.c.id == HEAD_ID)
    .values(
        size=bindparam("size"), last_hash=bindparam("last_hash"), frontier=bindparam("frontier")
    )
)
_SQLITE_MOVE_HEAD = "UPDATE audit_head SET size = ?, last_hash = ?, frontier = ? WHERE id = ?"


def store_rows(
    conn: Connection, entries: Sequence[EntryRow], nodes: Sequence[NodeRow], head: HeadRow
) -> None:
    """Insert `entries` and `nodes` and move the head to `head`, in the transaction of `conn`.

    On PostgreSQL a batch is a COPY of the entries and one statement for the nodes and the head
    (instead of a second COPY and an UPDATE): every round trip here is made holding the head
    row, which serializes every writer of the log.
    """
    if conn.dialect.name == "postgresql" and len(entries) >= _COPY_MIN_ROWS:
        _copy_entries(conn, entries)
        driver = conn.connection.driver_connection
        assert driver is not None
        size, last_hash, frontier = head
        levels, indexes, hashes = (
            (list(col) for col in zip(*nodes, strict=True)) if nodes else ([], [], [])
        )
        with driver.cursor() as cur:
            cur.execute(
                _PG_NODES_AND_HEAD, (levels, indexes, hashes, size, last_hash, frontier, HEAD_ID)
            )
        return
    insert_rows(conn, entries, nodes)
    size, last_hash, frontier = head
    if conn.dialect.name == "sqlite":
        driver = conn.connection.driver_connection
        assert driver is not None
        driver.execute(_SQLITE_MOVE_HEAD, (size, last_hash, frontier, HEAD_ID))
        return
    conn.execute(_MOVE_HEAD, {"size": size, "last_hash": last_hash, "frontier": frontier})


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


_PG_EPOCH = datetime(2000, 1, 1)
_MICROSECOND = timedelta(microseconds=1)
_BINARY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
_BINARY_TRAILER = struct.pack(">h", -1)
_ROW_START = struct.Struct(">hiqiq")  # 8 fields; seq as int8; ts as int8 microseconds
_LENGTH = struct.Struct(">i")
_NULL_FIELD = _LENGTH.pack(-1)
_UUID_FIELD = _LENGTH.pack(16)
_HASH_FIELD = _LENGTH.pack(32)


def _copy_entries(conn: Connection, entries: Sequence[EntryRow]) -> None:
    """COPY the entries in binary format, formatted here with `struct`: psycopg's `write_row`
    in pure Python cost more per entry than sealing it, and the text format doubles every
    bytea as hex, to be encoded here and decoded by the server. Binary format: a header, per
    row a field count and length-prefixed fields (-1 for NULL) in network byte order (bigint,
    timestamp as microseconds since 2000-01-01, text as UTF-8, uuid as 16 bytes, bytea as
    is), and a trailer."""
    driver = conn.connection.driver_connection
    assert driver is not None
    texts: dict[str, bytes] = {}  # actor, action and outcome repeat: encode each once

    def field(value: str) -> bytes:
        out = texts.get(value)
        if out is None:
            raw = value.encode()
            out = texts[value] = _LENGTH.pack(len(raw)) + raw
        return out

    stamps: dict[datetime, int] = {}
    pack_start, pack_length = _ROW_START.pack, _LENGTH.pack
    parts = [_BINARY_HEADER]
    for seq, ts, actor, action, subject, outcome, data, lh in entries:
        stamp = stamps.get(ts)
        if stamp is None:
            stamp = stamps[ts] = (ts - _PG_EPOCH) // _MICROSECOND
        parts += (
            pack_start(8, 8, seq, 8, stamp),
            field(actor),
            field(action),
            _NULL_FIELD if subject is None else _UUID_FIELD + subject.bytes,
            field(outcome),
            pack_length(len(data)),
            data,
            _HASH_FIELD,
            lh,
        )
    parts.append(_BINARY_TRAILER)
    columns = ", ".join(_ENTRY_COLUMNS)
    sql = f"COPY audit_entry ({columns}) FROM STDIN (FORMAT BINARY)"
    with driver.cursor() as cur, cur.copy(sql) as cp:
        cp.write(b"".join(parts))


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
