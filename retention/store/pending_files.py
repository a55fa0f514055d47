"""Document files leave the disk only after the transaction that dropped their rows committed.

Unlinking inside the transaction would lose the file of a row that a rollback brings back; keeping
the file until some later cleanup would leave personal data on disk with nothing pointing at it.
So the transaction that drops document rows also inserts their ids into `pending_deletion`; after
commit the files are unlinked and only then are the queue rows deleted. A crash anywhere leaves
either the row with its file, or a queue row whose file may already be gone: the next sweep calls
`remove_pending` and finishes the job (unlinking a missing file is not an error).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from sqlalchemy import Connection, Engine, bindparam, delete, insert, literal, select

from retention.store.cascade import delete_cascading
from retention.store.engine import TZDateTime, table_of, transaction
from retention.store.id_sets import among
from retention.store.subject_tables import Document
from retention.store.sweep_tables import PendingDeletion

__all__ = ["document_path", "queue_documents", "remove_pending"]

_documents = table_of(Document)
_pending = table_of(PendingDeletion)


def document_path(documents_dir: Path, document_id: uuid.UUID) -> Path:
    """Where the document store keeps a document's bytes."""
    return documents_dir / str(document_id)


def queue_documents(
    conn: Connection, subject_ids: Sequence[uuid.UUID], *, at: datetime, run_id: uuid.UUID | None
) -> int:
    """Queue the subjects' document files for unlinking and drop their rows; returns how many."""
    if not subject_ids:
        return 0
    owned = select(
        _documents.c.id, literal(run_id, _pending.c.run_id.type), literal(at, TZDateTime())
    ).where(among(conn, _documents.c.candidate_id, subject_ids))
    conn.execute(insert(_pending).from_select(["document_id", "run_id", "queued_at"], owned))
    return delete_cascading(conn, _documents, "candidate_id", subject_ids)


def remove_pending(engine: Engine, documents_dir: Path, *, chunk: int = 5000) -> int:
    """Unlink every queued file, then forget it; returns how many queue rows were finished.

    Call it only outside a transaction that queued files (after its commit).
    """
    done = 0
    while True:
        with engine.connect() as conn:
            q = select(_pending.c.document_id).order_by(_pending.c.document_id).limit(chunk)
            ids = list(conn.execute(q).scalars())
        if not ids:
            return done
        for document_id in ids:
            document_path(documents_dir, document_id).unlink(missing_ok=True)
        with transaction(engine) as conn:
            # Counted as deleted here, not as read above: sweep workers finishing batches at
            # once may read, unlink and forget the same queued files.
            done += conn.execute(
                delete(_pending).where(
                    _pending.c.document_id.in_(bindparam("ids", expanding=True))
                ),
                {"ids": ids},
            ).rowcount
        if len(ids) < chunk:
            return done
