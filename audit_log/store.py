"""The audit log in a SQL database: appends inside the caller's transaction, reads, proofs.

`AuditLog.append` is the one way in. It locks the head row (PostgreSQL `SELECT ... FOR UPDATE`;
SQLite serializes writers with `BEGIN IMMEDIATE`, which the engine must emit), takes seq from it,
inserts the entries and the completed Merkle nodes in bulk and moves the head, all in the caller's
transaction: the action and its entries commit together or not at all, and concurrent writers from
any number of processes queue on the head row instead of forking the chain. It never commits.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, func, insert, select
from sqlalchemy.orm import Session

from audit_log.bulk import EntryRow, NodeRow, store_rows
from audit_log.canonical import details_json, entry_frame, seq_is_simple
from audit_log.checkpoint import Checkpoint
from audit_log.entry import Entry, Event, Outcome, format_ts
from audit_log.errors import InvalidEventError, LogStateError, RootMismatchError
from audit_log.merkle import (
    Frontier,
    NodeId,
    consistency_ranges,
    inclusion_ranges,
    node_hash,
    outside_nodes,
    perfect_subtrees,
    prove_many,
    range_hashes,
    root,
)
from audit_log.note import Signer, Verifier, sign_note
from audit_log.proof import ConsistencyProof, InclusionProof
from audit_log.schema import (
    HEAD_ID,
    NODE_MIN_LEVEL,
    audit_checkpoint,
    audit_entry,
    audit_head,
)
from audit_log.verify import Report, StoredChunk, StoredEntry, verify_log

Clock = Callable[[], datetime]

# Built once: building a statement and its cache key on every append cost more than running it.
_LOCK_HEAD = select(audit_head).where(audit_head.c.id == HEAD_ID).with_for_update()
_SQLITE_HEAD = "SELECT size, last_hash, frontier FROM audit_head WHERE id = ?"

EntryBytes = tuple[int, bytes, bytes, str, str]
"""A stored entry row as read: seq, canonical bytes, leaf hash, actor, outcome."""

_STORED_SQL = {
    "sqlite": "SELECT seq, canonical, leaf_hash, action || char(31) || actor || char(31) ||"
    " outcome || char(31) || ts || char(31) || coalesce(subject, '')"
    " FROM audit_entry WHERE seq > ? ORDER BY seq LIMIT ?",
    "postgresql": "SELECT seq, canonical, leaf_hash, action || chr(31) || actor || chr(31) ||"
    " outcome || chr(31) || to_char(ts, 'YYYY-MM-DD HH24:MI:SS.US') || chr(31) ||"
    " coalesce(replace(subject::text, '-', ''), '')"
    " FROM audit_entry WHERE seq > %s ORDER BY seq LIMIT %s",
}
"""Stored rows with their columns joined as `verify.joined_columns` does, rendered in SQL."""

_NODE_RUN_SQL = {
    "sqlite": "SELECT ?, count(*), CAST(group_concat(hash, '') AS BLOB) FROM audit_node"
    " WHERE level = ? AND idx BETWEEN ? AND ?",
    "postgresql": "SELECT %s::smallint, count(*), string_agg(hash, ''::bytea ORDER BY idx)"
    " FROM audit_node WHERE level = %s AND idx BETWEEN %s AND %s",
}
"""A run of one level's stored nodes as one row: level, count and their hashes joined in idx
order (SQLite reads them in the key's order)."""

_CHUNK_SQL = {
    # The literal newlines are the separators (SQLite evaluated char(10) once per row); a
    # column is read through coalesce so that each of the chunk's rows gives one value.
    "sqlite": "SELECT count(*), CAST(group_concat(canonical, '\n') AS BLOB),"
    " CAST(group_concat(leaf_hash, '') AS BLOB),"
    " CAST(group_concat(coalesce(action, ''), '\n') AS BLOB),"
    " CAST(group_concat(coalesce(actor, ''), '\n') AS BLOB),"
    " CAST(group_concat(coalesce(outcome, ''), '\n') AS BLOB),"
    " CAST(group_concat(coalesce(ts, ''), '\n') AS BLOB),"
    " CAST(group_concat(coalesce(subject, ''), '\n') AS BLOB)"
    " FROM audit_entry WHERE seq >= ? AND seq < ?",
    "postgresql": "SELECT count(*), string_agg(canonical, '\\x0a'::bytea ORDER BY seq),"
    " string_agg(leaf_hash, ''::bytea ORDER BY seq),"
    " convert_to(string_agg(coalesce(action, ''), E'\\n' ORDER BY seq), 'UTF8'),"
    " convert_to(string_agg(coalesce(actor, ''), E'\\n' ORDER BY seq), 'UTF8'),"
    " convert_to(string_agg(coalesce(outcome, ''), E'\\n' ORDER BY seq), 'UTF8'),"
    " convert_to(string_agg(coalesce(to_char(ts, 'YYYY-MM-DD HH24:MI:SS.US'), ''), E'\\n'"
    " ORDER BY seq), 'UTF8'),"
    " convert_to(string_agg(coalesce(replace(subject::text, '-', ''), ''), E'\\n'"
    " ORDER BY seq), 'UTF8')"
    " FROM audit_entry WHERE seq >= %s AND seq < %s",
}
"""A range of stored entries as one row: count, bytes, hashes, columns (`verify.StoredChunk`).
In SQLite group_concat joins in the order the rows are read, the rowid's: seq order; a join
in any other order would fail the chunk's checks (the entries are then checked as rows)."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _conn(bind: Connection | Session) -> Connection:
    return bind.connection() if isinstance(bind, Session) else bind


def _raw_cursor(conn: Connection) -> Any:
    """The DBAPI cursor of `conn`'s transaction: rows as plain tuples, no result objects; on
    PostgreSQL in the binary protocol, so bytea arrives as its bytes, not as hex text the
    server writes and the driver decodes (which cost more than reading the rows)."""
    if conn.dialect.name == "postgresql":
        driver = conn.connection.driver_connection
        assert driver is not None
        return driver.cursor(binary=True)
    return conn.connection.cursor()


def _naive(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(tzinfo=None)


def _seal(
    stamped: Sequence[tuple[Event, datetime]], seq: int, prev: str
) -> tuple[list[EntryRow], str]:
    """The rows of `stamped` sealed as entries `seq`, `seq + 1`, ... chained from `prev` (hex),
    and the last one's leaf hash (hex).

    The canonical text is assembled here from its cached frame (`entry_frame`) and the details'
    text, and hashed, without an EntryShape and an Entry per event: a batched append of events
    with their own details spent half its time building those objects. Events the fast path
    does not hold (details beyond it, a lone surrogate, seq past 2^53) are sealed by
    `Entry.create`, the reference; tests compare the two byte for byte.
    """
    rows: list[EntryRow] = []
    stamps: dict[datetime, tuple[str, datetime]] = {}
    # Events of a group share their details mapping: its text is made once (every event, and
    # so every mapping keyed by identity, lives until this call returns).
    texts: dict[int, str | None] = {}
    sha256 = hashlib.sha256
    for event, ts in stamped:
        stamp = stamps.get(ts)
        if stamp is None:
            stamp = stamps[ts] = (format_ts(ts), _naive(ts))
        ts_text, naive = stamp
        actor, action, outcome, subject = event.actor, event.action, event.outcome, event.subject
        data = None
        if event.simple and seq_is_simple(seq):
            frame = entry_frame(ts_text, actor, action, outcome.value, event.reason)
            details = event.details
            key = id(details)
            if key in texts:
                text = texts[key]
            else:
                text = texts[key] = details_json(dict(details))
            if frame is not None and text is not None:
                before, after, middle, tail = frame
                # A UUID's text and prev's hex need no JSON escaping.
                who = "null" if subject is None else f'"{subject}"'
                data = f'{before}{text}{after}"{prev}"{middle}{seq},"subject":{who}{tail}'.encode()
                leaf = sha256(b"\x00" + data).digest()
        if data is None:
            entry = Entry.create(seq, ts, prev, event, ts_text)
            data, leaf = entry.canonical, entry.leaf_hash
        rows.append((seq, naive, actor, action, subject, outcome.value, data, leaf))
        prev = leaf.hex()
        seq += 1
    return rows, prev


def _entries(
    stamped: Sequence[tuple[Event, datetime]], rows: Sequence[EntryRow], prev: str
) -> list[Entry]:
    """The Entry values of sealed `rows`, the first chained to `prev` (hex)."""
    entries = []
    for (event, ts), (seq, _, actor, action, subject, _, data, leaf) in zip(
        stamped, rows, strict=True
    ):
        entries.append(Entry(seq, ts, actor, action, subject, event.outcome, event.reason,
                             event.details, prev, data, leaf))  # fmt: skip
        prev = leaf.hex()
    return entries


@dataclass(frozen=True, slots=True)
class Head:
    """The log's current size, root and last leaf hash (hex)."""

    size: int
    root: bytes
    last_hash: str


class _StoredNodes:
    """`NodeSource` over the node table, recomputing small subtrees from leaf hashes."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def node_hashes(self, ids: Sequence[NodeId]) -> list[bytes]:
        found: dict[NodeId, bytes] = {}
        # Driver SQL: a proof is a few dozen key lookups, and building SQLAlchemy expressions
        # for them costs more than running them. ORs of key equalities and ranges are planned
        # as primary-key lookups by both databases.
        mark = "?" if self._conn.dialect.paramstyle == "qmark" else "%s"
        stored = [n for n in ids if n[0] >= NODE_MIN_LEVEL]
        small = [n for n in ids if n[0] < NODE_MIN_LEVEL]
        spans = [(i << lv, (i + 1) << lv) for lv, i in small]
        parts, params = [], []
        if stored:
            where = " OR ".join([f"(level = {mark} AND idx = {mark})"] * len(stored))
            # Only placeholders are formatted into the SQL; every value is a bound parameter.
            parts.append(f"SELECT level, idx, hash FROM audit_node WHERE {where}")  # noqa: S608
            params += [v for n in stored for v in n]
        if spans:
            where = " OR ".join([f"(seq >= {mark} AND seq < {mark})"] * len(spans))
            parts.append(f"SELECT -1, seq, leaf_hash FROM audit_entry WHERE {where}")  # noqa: S608
            params += [v for sp in spans for v in sp]
        leaves: dict[int, bytes] = {}
        if parts:
            # One round trip: on a busy server each costs milliseconds.
            sql = " UNION ALL ".join(parts)
            for level, idx, h in self._conn.exec_driver_sql(sql, tuple(params)):
                if level < 0:
                    leaves[idx] = bytes(h)
                else:
                    found[(level, idx)] = bytes(h)
        for (lv, i), (a, b) in zip(small, spans, strict=True):
            if any(s not in leaves for s in range(a, b)):
                continue
            frontier = Frontier()
            for s in range(a, b):
                frontier.append(leaves[s])
            found[(lv, i)] = frontier.root()
        missing = [n for n in ids if n not in found]
        if missing:
            raise LogStateError(f"stored Merkle node {missing[0]} is missing")
        return [found[n] for n in ids]


_BLOCK = 1 << NODE_MIN_LEVEL
PROOF_SQL_KINDS = ("nodes", "span", "leaves")
PROOF_SQL = {
    # Driver SQL with the keys as one array parameter: thousands of keys per statement without
    # a placeholder each (SQLite reads them with json_each, PostgreSQL as an array). Only a
    # constant, the block width, is formatted in; every value is a bound parameter.
    "sqlite": {
        "nodes": "SELECT idx, hash FROM audit_node"
        " WHERE level = ? AND idx IN (SELECT value FROM json_each(?))",
        "span": "SELECT idx, hash FROM audit_node WHERE level = ? AND idx BETWEEN ? AND ?",
        "leaves": "SELECT e.seq, e.leaf_hash FROM json_each(?) AS b CROSS JOIN audit_entry AS e"  # noqa: S608
        f" ON e.seq >= b.value * {_BLOCK} AND e.seq < (b.value + 1) * {_BLOCK}",
    },
    "postgresql": {
        # The keys joined, not `idx = ANY(...)`: that one the planner ran as a filter over the
        # level's whole range (the keys as no index condition), which grows with the log.
        "nodes": "SELECT idx, hash FROM audit_node"
        " WHERE level = %s AND idx IN (SELECT unnest(%s::bigint[]))",
        "span": "SELECT idx, hash FROM audit_node WHERE level = %s AND idx BETWEEN %s AND %s",
        "leaves": "SELECT e.seq, e.leaf_hash FROM unnest(%s::bigint[]) AS b(v)"  # noqa: S608
        f" JOIN audit_entry AS e ON e.seq >= b.v * {_BLOCK} AND e.seq < (b.v + 1) * {_BLOCK}",
    },
}
"""The statements `inclusion_proofs` reads stored nodes (by key, or a dense span of a level)
and blocks of leaf hashes with, by dialect (the benchmark shows their plans)."""

_DENSE = 4
"""A level whose wanted nodes are over a quarter of their span is read as one range."""


def _subtree(leaves: dict[int, bytes], start: int, width: int) -> bytes:
    """Hash of the perfect subtree of the `width` leaves from `start` (a power of two)."""
    try:
        level = [leaves[s] for s in range(start, start + width)]
    except KeyError as exc:
        raise LogStateError(f"stored leaf hash {exc.args[0]} is missing") from None
    sha256 = hashlib.sha256
    while len(level) > 1:
        pairs = zip(level[::2], level[1::2], strict=True)
        level = [sha256(b"\x01" + a + b).digest() for a, b in pairs]
    return level[0]


def _fold(hashes: Sequence[bytes]) -> bytes:
    """Root of an aligned range from its perfect subtrees, left to right (as `range_hashes`)."""
    acc = hashes[-1]
    for left in reversed(hashes[:-1]):
        acc = node_hash(left, acc)
    return acc


class AuditLog:
    """The audit log stored in the tables of `audit_log.schema`."""

    def __init__(self, clock: Clock = _utc_now) -> None:
        self._clock = clock

    def append(self, bind: Connection | Session, events: Iterable[Event]) -> list[Entry]:
        """Append `events` in the caller's transaction and return their entries; never commits."""
        events = list(events)
        if not all(isinstance(e, Event) for e in events):
            raise InvalidEventError("append takes Event values")
        if not events:
            return []
        ts = self._clock()
        stamped = [(e, ts) for e in events]
        rows, first_prev = self._append(_conn(bind), stamped)
        return _entries(stamped, rows, first_prev)

    def append_stamped(
        self, bind: Connection | Session, stamped: Iterable[tuple[Event, datetime]]
    ) -> int:
        """Append each event stamped with its own instant, in order, in the caller's transaction;
        returns how many entries were appended. Never commits.

        For a writer that gathers the events of several actions into one append (a group
        commit): each entry keeps the time of its action. Unlike `append` it makes no Entry
        values: such writers only need the entries stored, and making the values cost a
        quarter of sealing them.
        """
        stamped = list(stamped)
        for event, ts in stamped:
            if not isinstance(event, Event):
                raise InvalidEventError("append_stamped takes (Event, datetime) pairs")
            if not isinstance(ts, datetime) or ts.tzinfo is None:
                raise InvalidEventError("an entry's time must be a timezone-aware datetime")
        if not stamped:
            return 0
        return len(self._append(_conn(bind), stamped)[0])

    def _append(
        self, conn: Connection, stamped: list[tuple[Event, datetime]]
    ) -> tuple[list[EntryRow], str]:
        """Seal and store `stamped` after the head; the rows stored and the head's leaf hash
        (hex) they were chained to."""
        frontier, first_prev = self._lock_head(conn)
        rows, prev = _seal(stamped, frontier.size, first_prev)
        # The tree a level at a time once the chain is sealed, not a Python call per leaf.
        nodes = frontier.extend([row[7] for row in rows], NODE_MIN_LEVEL)
        self._store(conn, frontier, prev, rows, nodes)
        return rows, first_prev

    def append_alike(
        self, bind: Connection | Session, groups: Iterable[tuple[Event, Sequence[UUID]]]
    ) -> int:
        """Append each (event, subjects) group's event about each of its subjects; returns how
        many entries were appended.

        The entries are those of `append([e.about(s) for e, subjects in groups for s in
        subjects])`, sealed without an Event and an Entry object per subject: a sweep records
        tens of thousands of such entries per minute, and building those objects cost a third
        of sealing them.
        """
        groups = [(event, list(subjects)) for event, subjects in groups]
        for event, subjects in groups:
            if not isinstance(event, Event):
                raise InvalidEventError("append_alike takes Event values")
            if not all(isinstance(s, UUID) for s in subjects):
                raise InvalidEventError("subject must be a UUID or None")
        total = sum(len(subjects) for _, subjects in groups)
        if not total:
            return 0
        conn = _conn(bind)
        ts = self._clock()
        ts_text = format_ts(ts)
        shapes = [Entry.shape(event, ts_text) for event, _ in groups]
        # What does not depend on the head is prepared before locking it: on PostgreSQL every
        # writer of the log waits while the head is held.
        tails = [
            [f',"subject":"{subject}"{shape.tail}' for subject in subjects]
            for (_, subjects), shape in zip(groups, shapes, strict=True)
            if shape is not None
        ]
        frontier, prev = self._lock_head(conn)
        if None in shapes or not seq_is_simple(frontier.size + total):
            # Details beyond the fast path, or seq numbers past 2^53: the general way.
            events = [event.about(s) for event, subjects in groups for s in subjects]
            return len(self._append(conn, [(e, ts) for e in events])[0])
        naive = _naive(ts)
        rows: list[EntryRow] = []
        leaves: list[bytes] = []
        seq = frontier.size
        sha256 = hashlib.sha256
        for (event, subjects), shape, ends in zip(groups, shapes, tails, strict=True):
            assert shape is not None
            actor, action, outcome = event.actor, event.action, event.outcome.value
            head, middle = shape.head, shape.middle
            for subject, end in zip(subjects, ends, strict=True):
                # shaped_entry_json, inlined: prev is hex and the rest was quoted above.
                data = f'{head}"{prev}"{middle}{seq}{end}'.encode()
                leaf = sha256(b"\x00" + data).digest()
                leaves.append(leaf)
                rows.append((seq, naive, actor, action, subject, outcome, data, leaf))
                prev = leaf.hex()
                seq += 1
        nodes = frontier.extend(leaves, NODE_MIN_LEVEL)
        self._store(conn, frontier, prev, rows, nodes)
        return len(rows)

    def _lock_head(self, conn: Connection) -> tuple[Frontier, str]:
        """Lock the head row for this transaction; its frontier and last leaf hash (hex)."""
        if conn.dialect.name == "sqlite":
            # The driver's own cursor: one append per audited request, and SQLAlchemy's
            # statement machinery cost more than SQLite's read of the row. (SQLite has no row
            # locks: the writer's BEGIN IMMEDIATE is the lock.)
            driver = conn.connection.driver_connection
            assert driver is not None
            found = driver.execute(_SQLITE_HEAD, (HEAD_ID,)).fetchone()
            if found is None:
                raise LogStateError("the audit_head row is missing: run the database migrations")
            size, last_hash, frontier = found
            return Frontier.from_bytes(size, frontier), last_hash
        head = conn.execute(_LOCK_HEAD).one_or_none()
        if head is None:
            raise LogStateError("the audit_head row is missing: run the database migrations")
        return Frontier.from_bytes(head.size, head.frontier), head.last_hash

    @staticmethod
    def _store(
        conn: Connection,
        frontier: Frontier,
        prev: str,
        rows: Sequence[EntryRow],
        nodes: Sequence[NodeRow],
    ) -> None:
        """Insert sealed entries and completed nodes, and move the head past them."""
        store_rows(conn, rows, nodes, (frontier.size, prev, frontier.to_bytes()))

    def head(self, bind: Connection | Session) -> Head:
        """The current head (not locked: a consistent snapshot in the caller's transaction)."""
        q = select(audit_head).where(audit_head.c.id == HEAD_ID)
        row = _conn(bind).execute(q).one_or_none()
        if row is None:
            raise LogStateError("the audit_head row is missing: run the database migrations")
        frontier = Frontier.from_bytes(row.size, row.frontier)
        return Head(row.size, frontier.root(), row.last_hash)

    def _size(self, conn: Connection, size: int | None) -> int:
        current = self.head(conn).size
        if size is None:
            return current
        if not 0 <= size <= current:
            raise LogStateError(f"tree size {size} is not within the log's {current} entries")
        return size

    def root(self, bind: Connection | Session, size: int | None = None) -> bytes:
        """Merkle root of the first `size` entries (default: all)."""
        conn = _conn(bind)
        return root(self._size(conn, size), _StoredNodes(conn))

    def inclusion_proof(
        self, bind: Connection | Session, seq: int, size: int | None = None
    ) -> InclusionProof:
        """Proof that entry `seq` is in the tree of `size` entries (default: all)."""
        conn = _conn(bind)
        size = self._size(conn, size)
        if not 0 <= seq < size:
            raise LogStateError(f"entry {seq} is not within a tree of {size} entries")
        ranges = inclusion_ranges(seq, size)
        *hashes, leaf, tree_root = range_hashes([*ranges, (seq, seq + 1), (0, size)],
                                                _StoredNodes(conn))  # fmt: skip
        return InclusionProof(seq, size, leaf, tuple(hashes), tree_root)

    def inclusion_proofs(
        self,
        bind: Connection | Session,
        seqs: Sequence[int],
        size: int,
        chunk: int = 5000,
        *,
        expected_root: bytes | None = None,
    ) -> list[InclusionProof]:
        """Proofs that each entry of `seqs` is in the tree of `size` entries, read together;
        with `expected_root`, all of them verified against it (`RootMismatchError` if not).

        The same proofs as `inclusion_proof`, for many entries at once (an access request's
        trail), computed by `prove_many`: the leaf hashes of each entry's block of
        2^NODE_MIN_LEVEL are read by `seq` range, and only the stored nodes that no entry's
        ancestor is (`outside_nodes`), by `level` and `idx`, `chunk` keys per statement; the
        entries' ancestors are hashed once each, up to the root. Comparing that root with a
        signed one verifies every returned proof in full (see `prove_many`), so a stored node
        or leaf hash changed in the database is refused, not handed out.
        """
        conn = _conn(bind)
        size = self._size(conn, size)
        for seq in seqs:
            if not 0 <= seq < size:
                raise LogStateError(f"entry {seq} is not within a tree of {size} entries")
        if not seqs:
            return []
        outside = outside_nodes(seqs, size, NODE_MIN_LEVEL)
        # The node at the tree's right edge is incomplete: when it is an outside node, its hash
        # is the root of its range's perfect subtrees.
        partial: dict[NodeId, list[NodeId]] = {}
        for level, idx in outside:
            if (idx + 1) << level > size:
                partial[(level, idx)] = perfect_subtrees(idx << level, size)
        perfect = set(outside).difference(partial).union(*partial.values())
        stored = {n for n in perfect if n[0] >= NODE_MIN_LEVEL}
        small = perfect - stored  # only subtrees of a partial node, in the last block
        blocks = {seq >> NODE_MIN_LEVEL for seq in seqs}
        blocks.update((idx << level) >> NODE_MIN_LEVEL for level, idx in small)
        known, leaves = self._stored_hashes(conn, stored, blocks, chunk)
        for level, idx in small:
            known[(level, idx)] = _subtree(leaves, idx << level, 1 << level)
        for node, parts in partial.items():
            known[node] = _fold([known[n] for n in parts])
        try:
            tree_root, paths = prove_many(seqs, size, leaves, known, NODE_MIN_LEVEL)
        except KeyError as exc:
            raise LogStateError(f"stored Merkle hash {exc.args[0]} is missing") from None
        if expected_root is not None and tree_root != expected_root:
            raise RootMismatchError(
                "the entries' inclusion proofs root mismatch", expected_root, tree_root
            )
        return [
            InclusionProof(seq, size, leaves[seq], path, tree_root)
            for seq, path in zip(seqs, paths, strict=True)
        ]

    @staticmethod
    def _stored_hashes(
        conn: Connection, nodes: set[NodeId], blocks: set[int], chunk: int
    ) -> tuple[dict[NodeId, bytes], dict[int, bytes]]:
        """Hashes of the stored `nodes` by id, and the leaf hashes of `blocks` by seq."""
        by_level: dict[int, list[int]] = {}
        for level, idx in nodes:
            by_level.setdefault(level, []).append(idx)
        # Driver SQL with the keys as one array parameter: thousands of keys per statement
        # without a placeholder each (SQLite reads them with json_each, PostgreSQL as an array).
        # Leaf hashes are read by block of 2^NODE_MIN_LEVEL: one index range per block instead
        # of one lookup per leaf.
        sqlite = conn.dialect.name == "sqlite"
        node_sql, span_sql, leaf_sql = (PROOF_SQL[conn.dialect.name][k] for k in PROOF_SQL_KINDS)

        def param(ids: list[int]) -> object:
            return json.dumps(ids) if sqlite else ids

        known: dict[NodeId, bytes] = {}
        leaves: dict[int, bytes] = {}
        cursor = _raw_cursor(conn)
        try:
            for level, ids in sorted(by_level.items()):
                ids.sort()
                if len(ids) * _DENSE > ids[-1] - ids[0] + 1:
                    # Most of the level's nodes in the span are wanted (the upper levels of
                    # many proofs): one range read in key order beats a probe per key.
                    cursor.execute(span_sql, (level, ids[0], ids[-1]))
                    want = set(ids)
                    known.update(
                        ((level, idx), bytes(h)) for idx, h in cursor.fetchall() if idx in want
                    )
                    continue
                for i in range(0, len(ids), chunk):
                    cursor.execute(node_sql, (level, param(ids[i : i + chunk])))
                    known.update(((level, idx), bytes(h)) for idx, h in cursor.fetchall())
            ordered = sorted(blocks)
            for i in range(0, len(ordered), chunk):
                cursor.execute(leaf_sql, (param(ordered[i : i + chunk]),))
                # (seq, hash) rows straight into the dict: both drivers return bytes for a
                # blob, and a Python step per row was a fifth of the trail's time.
                leaves.update(cursor.fetchall())
        finally:
            cursor.close()
        missing = nodes - known.keys()
        if missing:
            raise LogStateError(f"stored Merkle node {min(missing)} is missing")
        return known, leaves

    def consistency_proof(
        self, bind: Connection | Session, size1: int, size2: int | None = None
    ) -> ConsistencyProof:
        """Proof that the first `size1` entries are a prefix of the first `size2` (default: all)."""
        conn = _conn(bind)
        size2 = self._size(conn, size2)
        if not 0 < size1 <= size2:
            raise LogStateError(f"consistency needs 0 < size1 <= size2, got {size1} and {size2}")
        ranges = consistency_ranges(size1, size2) if size1 < size2 else []
        *hashes, root1, root2 = range_hashes([*ranges, (0, size1), (0, size2)],
                                             _StoredNodes(conn))  # fmt: skip
        return ConsistencyProof(size1, size2, tuple(hashes), root1, root2)

    def entries(
        self,
        bind: Connection | Session,
        since: int = 0,
        subject: UUID | None = None,
        chunk: int = 1000,
    ) -> Iterator[Entry]:
        """Entries from seq `since` on (optionally of one subject), read in chunks of `chunk`."""
        conn = _conn(bind)
        last = since - 1
        while True:
            q = select(audit_entry.c.seq, audit_entry.c.canonical).where(audit_entry.c.seq > last)
            if subject is not None:
                q = q.where(audit_entry.c.subject == subject)
            rows = conn.execute(q.order_by(audit_entry.c.seq).limit(chunk)).all()
            for row in rows:
                yield Entry.decode(row.canonical)
            if len(rows) < chunk:
                return
            last = rows[-1].seq

    def entries_stamped(
        self, bind: Connection | Session, since: datetime, *, outcome: Outcome | None = None
    ) -> Iterator[Entry]:
        """Entries stamped at or after `since` (optionally with one outcome), in seq order."""
        t = audit_entry.c
        q = select(t.canonical).where(t.ts >= _naive(since))
        if outcome is not None:
            q = q.where(t.outcome == outcome.value)
        for canonical in _conn(bind).execute(q.order_by(t.seq)).scalars():
            yield Entry.decode(bytes(canonical))

    def seq_range(
        self, bind: Connection | Session, start: datetime, end: datetime
    ) -> tuple[int, int] | None:
        """First and last seq of the entries stamped within [start, end), if there are any."""
        t = audit_entry.c
        q = select(func.min(t.seq), func.max(t.seq)).where(
            t.ts >= _naive(start), t.ts < _naive(end)
        )
        first, last = _conn(bind).execute(q).one()
        return None if first is None or last is None else (int(first), int(last))

    def entry_rows(
        self, bind: Connection | Session, first: int, last: int, chunk: int = 10000
    ) -> Iterator[list[EntryBytes]]:
        """Stored rows of entries `first`..`last` in seq order, `chunk` rows at a time, as read.

        Nothing is checked or decoded: the caller copies the bytes and checks what it needs (a
        missing entry shows as a gap in the seqs, or as fewer rows than asked for).
        """
        conn = _conn(bind)
        t = audit_entry.c
        q = select(t.seq, t.canonical, t.leaf_hash, t.actor, t.outcome)
        lo = first
        while lo <= last:
            rows = conn.execute(q.where(t.seq >= lo, t.seq <= last).order_by(t.seq).limit(chunk))
            chunk_rows = [(r.seq, r.canonical, r.leaf_hash, r.actor, r.outcome) for r in rows]
            if not chunk_rows:
                return
            yield chunk_rows
            lo = chunk_rows[-1][0] + 1

    def stored_chunks(
        self, bind: Connection | Session, width: int = 4096
    ) -> Iterator[StoredChunk | StoredEntry]:
        """Every stored entry in seq order, for verification: each full range of `width`
        entries as one `StoredChunk`, read in one row of an aggregate query, and from the first
        range that is not full (the end of the log, or a gap) the rows of `stored_entries`.

        Reading a range as one row costs the driver, and verification, no Python object per
        entry; the database joins the values (on PostgreSQL the server, beside this process).
        """
        conn = _conn(bind)
        sql = _CHUNK_SQL[conn.dialect.name]
        cursor = _raw_cursor(conn)

        def read(lo: int) -> Any:
            cursor.execute(sql, (lo, lo + width))
            return cursor.fetchone()

        # The next range is read in a thread while the caller checks this one: both drivers let
        # go of the GIL while the database works (SQLite joins the values inside its step), and
        # the connection serializes its statements (SQLite's serialized mode, psycopg's lock).
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="audit-verify-read")
        lo = 0
        try:
            pending = pool.submit(read, lo)
            while True:
                count, *values = pending.result()
                if count != width:
                    break
                pending = pool.submit(read, lo + width)
                # seq is a unique integer: `width` rows in a range of `width` are all of it.
                canonical, hashes, actions, actors, outcomes, stamps, subjects = (
                    b"" if v is None else bytes(v) for v in values
                )
                yield StoredChunk(lo, count, canonical, hashes, actions, actors, outcomes,
                                  stamps, subjects, self._range(conn, lo, width))  # fmt: skip
                lo += width
        finally:
            pool.shutdown()
            cursor.close()
        yield from self.stored_entries(conn, since=lo)

    def _range(self, conn: Connection, first: int, width: int) -> Callable[[], list[StoredEntry]]:
        def rows() -> list[StoredEntry]:
            return list(islice(self.stored_entries(conn, width, since=first), width))

        return rows

    def stored_entries(
        self, bind: Connection | Session, chunk: int = 10000, *, since: int = 0
    ) -> Iterator[StoredEntry]:
        """Every stored row from seq `since` on, in seq order, as read (for verification), in
        chunks of `chunk`.

        Reads through the driver with the columns rendered by the database in the text form the
        hashed bytes hold, so verification compares strings and no per-row type conversion runs
        (on PostgreSQL in the binary protocol, so the bytes are not sent as hex).
        """
        conn = _conn(bind)
        sql = _STORED_SQL[conn.dialect.name]
        cursor = _raw_cursor(conn)
        try:
            last = since - 1
            while True:
                cursor.execute(sql, (last, chunk))
                rows = cursor.fetchall()
                yield from rows
                if len(rows) < chunk:
                    return
                last = rows[-1][0]
        finally:
            cursor.close()

    def stored_nodes_differ(
        self, bind: Connection | Session, nodes: Sequence[tuple[int, int, bytes]]
    ) -> NodeId | None:
        """The first of the rebuilt `nodes` whose stored hash differs or is missing, if any.

        One driver query per call, its rows in (level, idx) order compared with the rebuilt
        nodes sorted the same way: verification calls this for every few thousand entries.
        """
        conn = _conn(bind)
        if self._nodes_as_stored(conn, nodes):
            return None
        wanted = sorted(node for node in nodes if node[0] >= NODE_MIN_LEVEL)
        if not wanted:
            return None
        spans: dict[int, tuple[int, int]] = {}
        for lv, i, _ in wanted:
            lo, hi = spans.get(lv, (i, i))
            spans[lv] = (min(lo, i), max(hi, i))
        mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        where = " OR ".join([f"(level = {mark} AND idx BETWEEN {mark} AND {mark})"] * len(spans))
        params = tuple(v for lv, (lo, hi) in spans.items() for v in (lv, lo, hi))
        # Only placeholders are formatted into the SQL; every value is a bound parameter.
        sql = f"SELECT level, idx, hash FROM audit_node WHERE {where} ORDER BY level, idx"  # noqa: S608
        stored = [(lv, i, bytes(h)) for lv, i, h in conn.exec_driver_sql(sql, params)]
        if stored == wanted:
            return None
        have = {(lv, i): h for lv, i, h in stored}
        for lv, i, h in wanted:
            if have.get((lv, i)) != h:
                return (lv, i)
        return None

    @staticmethod
    def _nodes_as_stored(conn: Connection, nodes: Sequence[tuple[int, int, bytes]]) -> bool:
        """True when, level by level, the rebuilt `nodes` are a run of consecutive indexes
        whose hashes joined are the stored ones read joined (one aggregate row a level, in
        one statement); False leaves it to the node-by-node comparison, which names a node.
        Verification rebuilds the nodes of each level in index order, so that is the case
        while they are intact."""
        runs: dict[int, tuple[int, list[int], list[bytes]]] = {}
        for level, idx, h in nodes:
            if level < NODE_MIN_LEVEL:
                continue
            run = runs.get(level)
            if run is None:
                runs[level] = (idx, [idx], [h])
            else:
                run[1].append(idx)
                run[2].append(h)
        if not runs:
            return True
        for first, idxs, _ in runs.values():
            if idxs != list(range(first, first + len(idxs))):
                return False
        sql = " UNION ALL ".join([_NODE_RUN_SQL[conn.dialect.name]] * len(runs))
        params: list[int] = []
        for level, (first, idxs, _) in runs.items():
            params += (level, level, first, first + len(idxs) - 1)
        cursor = _raw_cursor(conn)
        try:
            cursor.execute(sql, params)
            stored = {level: (count, joined) for level, count, joined in cursor.fetchall()}
        finally:
            cursor.close()
        for level, (_, idxs, hashes) in runs.items():
            count, joined = stored.get(level, (0, None))
            if count != len(idxs) or joined is None or bytes(joined) != b"".join(hashes):
                return False
        return True

    def sign_checkpoint(
        self, bind: Connection | Session, signer: Signer, origin: str
    ) -> tuple[Checkpoint, str]:
        """Sign the current head as a checkpoint note and store it; returns both."""
        conn = _conn(bind)
        head = self.head(conn)
        checkpoint = Checkpoint(origin, head.size, head.root)
        note = sign_note(checkpoint.body(), signer)
        conn.execute(
            insert(audit_checkpoint).values(
                size=head.size, root=head.root, created_at=_naive(self._clock()), note=note
            )
        )
        return checkpoint, note

    def checkpoint_notes(self, bind: Connection | Session) -> Iterator[str]:
        """Every stored checkpoint note, oldest first."""
        q = select(audit_checkpoint.c.note).order_by(audit_checkpoint.c.id)
        yield from _conn(bind).execute(q).scalars()

    def latest_checkpoint(self, bind: Connection | Session) -> str | None:
        """The most recently stored checkpoint note, if any."""
        q = select(audit_checkpoint.c.note).order_by(audit_checkpoint.c.id.desc()).limit(1)
        return _conn(bind).execute(q).scalar_one_or_none()

    def latest_checkpoint_time(self, bind: Connection | Session) -> datetime | None:
        """When the most recent checkpoint was stored (UTC), if any (for monitoring)."""
        q = select(func.max(audit_checkpoint.c.created_at))
        at = _conn(bind).execute(q).scalar_one_or_none()
        return None if at is None else at.replace(tzinfo=UTC)

    def checkpoint_at(self, bind: Connection | Session, at: datetime) -> tuple[str, int] | None:
        """The checkpoint that was the latest stored at instant `at`: its note and size, if any."""
        c = audit_checkpoint.c
        q = select(c.note, c.size).where(c.created_at <= _naive(at)).order_by(c.id.desc()).limit(1)
        row = _conn(bind).execute(q).one_or_none()
        return None if row is None else (row.note, row.size)

    def verify(
        self,
        bind: Connection | Session,
        *,
        verifier: Verifier,
        origin: str,
        witnessed: Iterable[str] = (),
        progress: Callable[[int], None] | None = None,
        chunk: int = 4096,
    ) -> Report:
        """Verify the whole stored log; run it in one snapshot (REPEATABLE READ on PostgreSQL).

        Entries are read `chunk` at a time as `stored_chunks`."""
        conn = _conn(bind)
        return verify_log(
            self.stored_chunks(conn, chunk),
            verifier=verifier,
            origin=origin,
            # Only the size: a damaged frontier must be reported by verification, not crash it.
            head_size=conn.execute(select(audit_head.c.size)).scalar() or 0,
            checkpoints=list(self.checkpoint_notes(conn)),
            witnessed=witnessed,
            check_nodes=lambda nodes: self.stored_nodes_differ(conn, nodes),
            node_min_level=NODE_MIN_LEVEL,
            progress=progress,
        )
