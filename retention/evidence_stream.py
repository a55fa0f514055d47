"""Copying the period's audit entries into a pack: the bytes as stored, checked and counted once.

The entries are the bulk of a pack (a million of them is a few hundred megabytes), so they are read
in keyset chunks from one read snapshot (no write lock: appenders carry on) and each is written,
hashed for the manifest, checked against its stored leaf hash and its link to the previous entry,
and, if it is a retention action, turned into its retention-actions.csv row and counted for the
report, in the same pass. Memory stays constant whatever the period's size.
"""

from __future__ import annotations

import hashlib
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, select

from audit_log.entry import GENESIS_PREV
from audit_log.schema import audit_entry
from retention.errors import CheckFailed
from retention.evidence_pack import (
    COLUMN as _C,
)
from retention.evidence_pack import (
    CsvWriter,
    HashingWriter,
    PackPeriod,
    action_prefixes,
    action_row,
    parse_entry_line,
)
from retention.models import Candidate

__all__ = ["StreamStats", "copy_entries"]

_CHUNK = 5000
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
    """Copy entries prior..last as stored, checking each hash and link on the way."""
    stats = StreamStats()
    if period.first_seq is None or period.last_seq is None:
        return stats
    lo = period.first_seq if period.prior_seq is None else period.prior_seq
    hi = period.last_seq
    t = audit_entry.c
    sha256 = hashlib.sha256
    expected_prev = GENESIS_PREV.encode() if period.prior_seq is None else None
    q = select(t.seq, t.canonical, t.leaf_hash, t.actor, t.outcome)
    while lo <= hi:
        rows = conn.execute(q.where(t.seq >= lo, t.seq <= hi).order_by(t.seq).limit(_CHUNK)).all()
        if not rows:
            raise CheckFailed(f"audit entry {lo} is missing from the database")
        chunk_actions: list[list[str]] = []
        for seq, canonical, stored_leaf, actor, outcome in rows:
            data = bytes(canonical)
            leaf = sha256(b"\x00" + data).digest()
            if seq != lo or leaf != bytes(stored_leaf):
                raise CheckFailed(
                    f"audit entry {lo} is missing or does not match its hash: "
                    "run 'gdpr audit verify' before exporting evidence"
                )
            if expected_prev is not None:
                at = data.rfind(b',"prev":"')
                if data[at + 9 : at + 73] != expected_prev:
                    raise CheckFailed(
                        f"audit entry {seq} does not link to entry {seq - 1}: "
                        "run 'gdpr audit verify' before exporting evidence"
                    )
                if stats.first_leaf is None:
                    stats.first_leaf = leaf
                stats.last_leaf = leaf
                if outcome == "ok":
                    stats.allowed[actor] += 1
                elif outcome == "denied":
                    stats.denied[actor] += 1
                if data.startswith(_ACTION_PREFIXES):
                    row = action_row(parse_entry_line(data), period.country)
                    if row is not None:
                        actions.write(row)
                        chunk_actions.append(row)
            log_out.write(data + b"\n")
            expected_prev = leaf.hex().encode()
            stats.lines += 1
            lo += 1
        _count(chunk_actions, conn, zone, stats)
        if progress is not None:
            progress(stats.lines)
    stats.action_rows = actions.rows
    return stats


def _count(rows: list[list[str]], conn: Connection, zone: ZoneInfo, s: StreamStats) -> None:
    """Count a chunk's action rows for the report's chart and backlog.

    Entries that name no country get the subject's country from the database when the subject
    still exists (the report is a summary, not a proof; the CSV keeps the entry's own words).
    """
    missing = {row[_C["subject"]] for row in rows if not row[_C["country"]] and row[_C["subject"]]}
    found: dict[str, str] = {}
    if missing:
        c = Candidate.__table__.c  # type: ignore[attr-defined]
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
