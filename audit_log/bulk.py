"""Bulk inserts of entry and node rows on the connection of the caller's transaction.

The generic path is an SQLAlchemy Core executemany. On PostgreSQL, psycopg runs executemany as one
statement per row in a pipeline; COPY FROM STDIN through the driver connection of the same
SQLAlchemy connection is several times faster and stays inside the transaction (binary format,
formatted here, and fed while the entries are sealed: see `entry_writer`). On SQLite, the
driver's executemany with values already in SQLAlchemy's storage form (naive UTC text with six
fractional digits, UUIDs as 32 hex digits) skips per-row type processing. Verification reads the
rows back through SQLAlchemy and compares them with the hashed bytes, so any disagreement between
the two write paths would be caught.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
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


@contextmanager
def entry_writer(conn: Connection, count: int) -> Iterator[Callable[[Sequence[EntryRow]], None]]:
    """A function that inserts sealed entries, in the transaction of `conn`, `count` in all.

    An append seals its entries in runs and hands each run to this function as soon as it is
    sealed. On PostgreSQL (from `_COPY_MIN_ROWS` entries) the runs go into one binary COPY that
    stays open for the whole block: libpq sends a run while the next is being sealed and the
    server inserts it meanwhile, so the server's half of an append overlaps the client's
    instead of following it (a batched append spent as long waiting for the COPY to end as it
    spent sealing). Only what cannot fail may be sealed inside the block: an exception aborts
    the COPY, and with it the caller's transaction on PostgreSQL.
    """
    driver = conn.connection.driver_connection
    assert driver is not None
    dialect = conn.dialect.name
    if dialect == "postgresql" and count >= _COPY_MIN_ROWS:
        columns = ", ".join(_ENTRY_COLUMNS)
        sql = f"COPY audit_entry ({columns}) FROM STDIN (FORMAT BINARY)"
        with driver.cursor() as cur, cur.copy(sql) as cp:
            cp.write(_BINARY_HEADER)
            yield lambda rows: cp.write(_binary_rows(rows))
            cp.write(_BINARY_TRAILER)
    elif dialect == "sqlite":
        yield lambda rows: _sqlite_entries(driver, rows)
    else:

        def write(rows: Sequence[EntryRow]) -> None:
            conn.execute(
                insert(audit_entry), [dict(zip(_ENTRY_COLUMNS, r, strict=True)) for r in rows]
            )

        yield write


def store_nodes_and_head(conn: Connection, nodes: Sequence[NodeRow], head: HeadRow) -> None:
    """Insert the completed `nodes` and move the head to `head`, in the transaction of `conn`.

    On PostgreSQL one statement does both: every round trip here is made holding the head
    row, which serializes every writer of the log.
    """
    driver = conn.connection.driver_connection
    assert driver is not None
    size, last_hash, frontier = head
    if conn.dialect.name == "postgresql":
        levels, indexes, hashes = (
            (list(col) for col in zip(*nodes, strict=True)) if nodes else ([], [], [])
        )
        with driver.cursor() as cur:
            cur.execute(
                _PG_NODES_AND_HEAD, (levels, indexes, hashes, size, last_hash, frontier, HEAD_ID)
            )
    elif conn.dialect.name == "sqlite":
        if nodes:
            driver.executemany("INSERT INTO audit_node (level, idx, hash) VALUES (?, ?, ?)", nodes)
        driver.execute(_SQLITE_MOVE_HEAD, (size, last_hash, frontier, HEAD_ID))
    else:
        if nodes:
            conn.execute(
                insert(audit_node), [dict(zip(_NODE_COLUMNS, r, strict=True)) for r in nodes]
            )
        conn.execute(_MOVE_HEAD, {"size": size, "last_hash": last_hash, "frontier": frontier})


_PG_EPOCH = datetime(2000, 1, 1)
_MICROSECOND = timedelta(microseconds=1)
_BINARY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
_BINARY_TRAILER = struct.pack(">h", -1)
_ROW_START = struct.Struct(">hiqiq")  # 8 fields; seq as int8; ts as int8 microseconds
_LENGTH = struct.Struct(">i")
_NULL_FIELD = _LENGTH.pack(-1)
_UUID_FIELD = _LENGTH.pack(16)
_HASH_FIELD = _LENGTH.pack(32)


def _binary_rows(entries: Sequence[EntryRow]) -> bytes:
    """Entries as rows of a binary COPY, formatted here with `struct`: psycopg's `write_row`
    in pure Python cost more per entry than sealing it, and the text format doubles every
    bytea as hex, to be encoded here and decoded by the server. Binary format: after the
    header, per row a field count and length-prefixed fields (-1 for NULL) in network byte
    order (bigint, timestamp as microseconds since 2000-01-01, text as UTF-8, uuid as 16 bytes,
    bytea as is); the trailer ends the data."""
    texts: dict[str, bytes] = {}  # actor, action and outcome repeat: encode each once

    def field(value: str) -> bytes:
        out = texts.get(value)
        if out is None:
            raw = value.encode()
            out = texts[value] = _LENGTH.pack(len(raw)) + raw
        return out

    stamps: dict[datetime, int] = {}
    pack_start, pack_length = _ROW_START.pack, _LENGTH.pack
    parts: list[bytes] = []
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
    return b"".join(parts)


def _sqlite_entries(driver: Any, entries: Sequence[EntryRow]) -> None:
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
