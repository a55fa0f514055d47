"""SQLAlchemy Core tables of the audit log, on the package's own MetaData.

`audit_entry` holds each entry's canonical bytes and leaf hash plus a few columns copied out of the
bytes for querying (verification checks they agree). `audit_head` is one row, seeded by the
migration, that every append locks: it holds the size and the Merkle frontier (roots of the perfect
subtrees covering the log), so an append never scans the table. `audit_node` keeps the hashes of
complete subtrees of 2^NODE_MIN_LEVEL leaves and more, so a proof over millions of entries reads
O(log n) rows; smaller subtrees are recomputed from at most 2^NODE_MIN_LEVEL leaf hashes.
`audit_checkpoint` keeps every signed checkpoint. Timestamps are naive UTC, as everywhere in the
database.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    Uuid,
)

NODE_MIN_LEVEL = 4
"""Subtrees under 2^4 leaves are not stored: recomputing one reads at most 16 leaf hashes."""

HEAD_ID = 1

metadata = MetaData()

audit_entry = Table(
    "audit_entry",
    metadata,
    # INTEGER on SQLite: the rowid itself, so entries live in one B-tree, in seq order.
    Column(
        "seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False
    ),
    Column("ts", DateTime(timezone=False), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("action", String(100), nullable=False),
    Column("subject", Uuid, nullable=True, index=True),
    Column("outcome", String(8), nullable=False),
    Column("canonical", LargeBinary, nullable=False),
    Column("leaf_hash", LargeBinary(32), nullable=False),
)

audit_head = Table(
    "audit_head",
    metadata,
    Column("id", SmallInteger, primary_key=True, autoincrement=False),
    Column("size", BigInteger, nullable=False),
    Column("last_hash", String(64), nullable=False),
    Column("frontier", LargeBinary, nullable=False),
)

audit_node = Table(
    "audit_node",
    metadata,
    Column("level", SmallInteger, primary_key=True, autoincrement=False),
    Column("idx", BigInteger, primary_key=True, autoincrement=False),
    Column("hash", LargeBinary(32), nullable=False),
)

audit_checkpoint = Table(
    "audit_checkpoint",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("size", BigInteger, nullable=False, index=True),
    Column("root", LargeBinary(32), nullable=False),
    Column("created_at", DateTime(timezone=False), nullable=False),
    Column("note", Text, nullable=False),
)

APPEND_ONLY_TABLES = ("audit_entry", "audit_node", "audit_checkpoint")
