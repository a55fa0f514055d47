"""Deletion and restriction of subjects in bulk: the two actions that are not anonymization.

Delete removes the candidate row; its applications, consents and documents follow through the
foreign keys' ON DELETE CASCADE (in a sweep batch on SQLite, which runs with foreign keys off,
the same cascades done set-based by `retention.store.delete_cascading`), and the document files
leave after commit (see `retention.store.pending_files`). What remains of the subject is its UUID in the audit log, in legal
holds and in review decisions. Block restricts processing (GDPR Art. 18, LOPDGDD art. 32): the
record stays, `blocked_at` marks it, and the gateway lets only a DPO with a stated reason read it.
Both run in the caller's transaction, lock the rows first and return the ids they really changed,
so a subject already gone or blocked is neither changed nor audited twice. A caller that has
locked the rows itself and seen them still to do (the sweep's batch decision) passes `locked`:
the check is not run twice, and a statement that changes fewer rows than promised raises
`LockBroken`, rolling the caller's transaction back.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, select, update

from retention.errors import LockBroken
from retention.store import Candidate, among, delete_cascading, queue_documents, table_of

__all__ = ["block", "delete_subjects"]

_candidates = table_of(Candidate)


def delete_subjects(
    conn: Connection,
    subject_ids: Sequence[uuid.UUID],
    *,
    at: datetime,
    run_id: uuid.UUID | None,
    locked: bool = False,
) -> list[uuid.UUID]:
    """Delete the subjects with everything they own; returns the ids that existed."""
    if not subject_ids:
        return []
    c = _candidates.c
    if locked:
        present = list(subject_ids)
    else:
        q = select(c.id).where(among(conn, c.id, subject_ids)).with_for_update()
        present = list(conn.execute(q).scalars())
        if not present:
            return []
    queue_documents(conn, present, at=at, run_id=run_id)
    # The subject's applications, consents and the rest go with it (see `delete_cascading`).
    deleted = delete_cascading(conn, _candidates, "id", present)
    if deleted != len(present):
        raise LockBroken(f"{len(present) - deleted} of {len(present)} subjects vanished")
    return present


def block(
    conn: Connection, subject_ids: Sequence[uuid.UUID], *, at: datetime, locked: bool = False
) -> list[uuid.UUID]:
    """Restrict processing of the subjects not yet blocked; returns the ids newly blocked."""
    if not subject_ids:
        return []
    c = _candidates.c
    if locked:
        todo = list(subject_ids)
    else:
        q = select(c.id).where(among(conn, c.id, subject_ids), c.blocked_at.is_(None))
        todo = list(conn.execute(q.with_for_update()).scalars())
        if not todo:
            return []
    blocked = conn.execute(
        update(_candidates)
        .where(among(conn, c.id, todo), c.blocked_at.is_(None))
        .values(blocked_at=at, updated_at=at)
    ).rowcount
    if blocked != len(todo):
        raise LockBroken(f"{len(todo) - blocked} of {len(todo)} subjects changed under the lock")
    return todo
