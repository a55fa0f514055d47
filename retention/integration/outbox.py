"""The transactional outbox: what the engine did, written down in the transaction that did it.

Every anonymization, deletion, block and erasure writes one outbox row per target configured
(`[integration.NAME]` with a `url`) in the same transaction as the action and its audit entry, so
a committed action always has its messages and a rolled-back one never does. The rows are written
set-based, one `INSERT ... SELECT` per (action, target) over the batch's id set, reading the
record's `external_ref` before the action clears or deletes it; a Greenhouse target only gets the
subjects that came from it (it can act only on its own ids). The worker
(`retention.integration.delivery`) delivers them after commit.

The action's audit entry is appended after the rows in the same transaction, so its seq is not
known yet: a row keeps `after_seq`, the log's size when it was written, and the worker resolves
the entry (`seq >= after_seq`, same subject, same action) the first time it claims the row.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import BigInteger, Connection, Integer, String, and_, insert, literal, select

from audit_log import AuditLog
from retention.config import Integration, IntegrationKind
from retention.store import (
    Candidate,
    MessageState,
    OutboxMessage,
    TZDateTime,
    among,
    flush_deferred,
    table_of,
)

__all__ = ["ACTIONS", "write_outbox"]

# The engine's actions that are told to targets, and the audit action of each.
ACTIONS = {
    "anonymize": "candidate.anonymize",
    "delete": "candidate.delete",
    "block": "candidate.block",
    "erase": "candidate.erase",
}

_outbox = table_of(OutboxMessage)
_candidates = table_of(Candidate)


def _log_size(conn: Connection) -> int:
    flush_deferred(conn)  # entries a group commit's earlier units recorded count too
    return AuditLog().head(conn).size


def write_outbox(
    conn: Connection,
    targets: Sequence[Integration],
    action: str,
    subject_ids: Sequence[uuid.UUID],
    *,
    at: datetime,
    exclude: str | None = None,
) -> int:
    """Write the messages of `action` on `subject_ids` for every target; returns rows written.

    Call it in the action's transaction, before the action changes the rows (anonymization
    clears `external_ref`, deletion removes it). `exclude` names a target not to tell (the
    source that told the engine about the erasure in the first place).
    """
    if action not in ACTIONS:
        raise ValueError(f"not an outbox action: {action}")
    chosen = [
        t
        for t in targets
        if t.is_target
        and t.name != exclude
        # Harvest has no restriction of processing: a block is not sent to Greenhouse.
        and not (t.kind is IntegrationKind.GREENHOUSE and action == "block")
    ]
    if not chosen or not subject_ids:
        return 0
    after = _log_size(conn)
    c = _candidates.c
    written = 0
    for target in chosen:
        where = among(conn, c.id, subject_ids)
        if target.kind is IntegrationKind.GREENHOUSE:
            # Harvest can only act on its own candidates: those whose ref is NAME:<id>.
            where = and_(where, c.external_ref.like(f"{target.ref_prefix}%"))
        rows = select(
            literal(target.name, String()),
            c.id,
            c.external_ref,
            literal(action, String()),
            literal(after, BigInteger()),
            literal(MessageState.PENDING.value, String()),
            literal(0, Integer()),
            literal(at, TZDateTime()),
            literal(at, TZDateTime()),
        ).where(where)
        result = conn.execute(
            insert(_outbox).from_select(
                [
                    "target",
                    "subject_id",
                    "source_ref",
                    "action",
                    "after_seq",
                    "state",
                    "attempts",
                    "next_at",
                    "created_at",
                ],
                rows,
            )
        )
        written += max(result.rowcount, 0)
    return written
