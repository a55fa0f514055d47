"""Copying the period's audit entries into a pack: the bytes as stored, checked and counted once.

The entries are the bulk of a pack (a million of them is a few hundred megabytes), so they are read
in keyset chunks from one read snapshot (no write lock: appenders carry on) and each is written,
hashed for the manifest, checked against its stored leaf hash and its link to the previous entry,
and, if it is a retention action, turned into its retention-actions.csv row and counted for the
report, in the same pass. Memory stays constant whatever the period's size.
"""

from __future__ import annotations

import binascii
import hashlib
import re
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, select

from audit_log import GENESIS_PREV, AuditLog
from retention.errors import CheckFailed
from retention.evidence.pack import (
    COLUMN as _C,
)
from retention.evidence.pack import (
    CsvWriter,
    HashingWriter,
    PackPeriod,
    action_prefixes,
    action_row,
    parse_entry_line,
)
from retention.store import Candidate, table_of

__all__ = ["StreamStats", "copy_entries"]

_CHUNK = 10_000
_RUN_VERIFY = "run 'gdpr audit verify' before exporting evidence"
# Canonical JSON sorts keys: the top-level prev is the one followed by "reason".
_PREV_RE = re.compile(rb',"prev":"([0-9a-f]{64})","reason":"')
_ACTION_PREFIXES = action_prefixes()


@dataclass
class StreamStats:
    """What copying the entries gathered for the report."""

    lines: int = 0
    action_rows: int = 0
    by_month: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    allowed: Counter[str] = field(default_factory=Counter)
    denied: Counter[str] = field(default_factory=Counter)
    policy_hashes: set[str] = field(default_factory=set)
    first_leaf: bytes | None = None
    last_leaf: bytes | None = None


def copy_entries(
    conn: Connection,
    period: PackPeriod,
    zone: ZoneInfo,
    log_out: HashingWriter,
    actions: CsvWriter,
    progress: Callable[[int], None] | None = None,
) -> StreamStats:
    """Copy entries prior..last as stored, checking every hash and link on the way.

    A chunk is checked as a whole (its hashes against the stored ones in one comparison, its
    links found in one regex pass and compared with the hashes before them in another); only a
    chunk that fails is looked at entry by entry, to name the entry at fault.
    """
    stats = StreamStats()
    if period.first_seq is None or period.last_seq is None:
        return stats
    lo = period.first_seq if period.prior_seq is None else period.prior_seq
    hi = period.last_seq
    sha256 = hashlib.sha256
    # The hex leaf hash the next entry's prev must hold; None for the prior entry (unchecked).
    expected: bytes | None = GENESIS_PREV.encode() if period.prior_seq is None else None
    outcomes: Counter[tuple[str, str]] = Counter()
    for rows in AuditLog().entry_rows(conn, lo, hi, _CHUNK):
        if rows[0][0] != lo or rows[-1][0] != lo + len(rows) - 1:
            raise CheckFailed(f"audit entries from {lo} on are missing from the database")
        datas = [bytes(r[1]) for r in rows]
        leaves = [sha256(b"\x00" + d).digest() for d in datas]
        if b"".join(leaves) != b"".join(bytes(r[2]) for r in rows):
            bad = next(r[0] for r, leaf in zip(rows, leaves, strict=True) if bytes(r[2]) != leaf)
            raise CheckFailed(f"audit entry {bad} does not match its hash: {_RUN_VERIFY}")
        body = b"\n".join(datas)
        first = 0 if expected is not None else 1
        links = _PREV_RE.findall(body)
        want = (expected or b"") + binascii.hexlify(b"".join(leaves[:-1]))
        if len(links) != len(datas) or b"".join(links[first:]) != want:
            _find_broken_link(rows, datas, leaves, expected)
        log_out.write(body + b"\n")
        period_rows = rows[first:]
        if period_rows:
            stats.first_leaf = stats.first_leaf or leaves[first]
            stats.last_leaf = leaves[-1]
            outcomes.update((r[3], r[4]) for r in period_rows)
        chunk_actions = []
        for data in datas[first:]:
            if data.startswith(_ACTION_PREFIXES):
                row = action_row(parse_entry_line(data), period.country)
                if row is not None:
                    actions.write(row)
                    chunk_actions.append(row)
        _count(chunk_actions, conn, zone, stats)
        expected = leaves[-1].hex().encode()
        stats.lines += len(rows)
        lo += len(rows)
        if progress is not None:
            progress(stats.lines)
    if lo <= hi:
        raise CheckFailed(f"audit entries from {lo} on are missing from the database")
    for (actor, outcome), n in outcomes.items():
        if outcome == "ok":
            stats.allowed[actor] += n
        elif outcome == "denied":
            stats.denied[actor] += n
    stats.action_rows = actions.rows
    return stats


def _find_broken_link(
    rows: Sequence[Any], datas: list[bytes], leaves: list[bytes], expected: bytes | None
) -> None:
    """Name the first entry of a chunk whose prev is not the previous entry's hash."""
    for row, data, leaf in zip(rows, datas, leaves, strict=True):
        if expected is not None:
            at = data.rfind(b',"prev":"')
            if at < 0 or data[at + 9 : at + 73] != expected:
                raise CheckFailed(
                    f"audit entry {row[0]} does not link to entry {row[0] - 1}: {_RUN_VERIFY}"
                )
        expected = leaf.hex().encode()


def _count(rows: list[list[str]], conn: Connection, zone: ZoneInfo, s: StreamStats) -> None:
    """Count a chunk's action rows for the report's chart and backlog.

    Entries that name no country get the subject's country from the database when the subject
    still exists (the report is a summary, not a proof; the CSV keeps the entry's own words).
    """
    missing = {row[_C["subject"]] for row in rows if not row[_C["country"]] and row[_C["subject"]]}
    found: dict[str, str] = {}
    if missing:
        c = table_of(Candidate).c
        ids = [uuid.UUID(m) for m in missing]
        found = {str(i): cc for i, cc in conn.execute(select(c.id, c.country).where(c.id.in_(ids)))}
    for row in rows:
        country = row[_C["country"]] or found.get(row[_C["subject"]], "--")
        at = datetime.fromisoformat(row[_C["date"]].replace("Z", "+00:00"))
        s.by_month[(at.astimezone(zone).strftime("%Y-%m"), country, row[_C["action"]])] += 1
        if row[_C["outcome"]] == "error":
            s.errors[country] += 1
        if row[_C["policy_hash"]]:
            s.policy_hashes.add(row[_C["policy_hash"]])
