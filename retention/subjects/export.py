"""What a data subject's export holds (GDPR Art. 15 access, Art. 20 portability), as JSON.

Everything the engine holds about one subject: the record, applications, consents and the
documents with their hashes, under a versioned format name. Capabilities that know more about
a subject (the retention policy decision, once the policies package lands) add themselves as an
`ExportSection`; the gateway (`Gateway.export_sections`) passes them in. Building the document is
kept apart from the gateway so that what an export contains can be read in one place.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Connection, select

from retention.store import Application, Candidate, Consent, Document

__all__ = ["EXPORT_FORMAT", "ExportSection", "candidate_dict", "export_document"]

EXPORT_FORMAT = "gdpr-subject-export/1"


class ExportSection(Protocol):
    """More of what is held about a subject, added to its export under `name`.

    The extension point for the policy decision: `build` gets the transaction, the subject's
    row and the export instant, and returns JSON-serializable data (no secrets).
    """

    name: str

    def build(self, conn: Connection, subject: Any, at: datetime) -> Any: ...


def candidate_dict(row: Any) -> dict[str, Any]:
    """The candidate columns of a row (which may carry more columns)."""
    return {c: getattr(row, c) for c in Candidate.model_fields}


def export_document(
    conn: Connection, subject: Any, at: datetime, sections: Sequence[ExportSection] = ()
) -> dict[str, Any]:
    """Everything held about `subject`, as the JSON object written by `gdpr candidate export`."""
    sid = subject.id

    def rows(model: Any, column: Any, order: Any) -> list[dict[str, Any]]:
        found = conn.execute(select(model).where(column == sid).order_by(order)).all()
        return [{c: getattr(r, c) for c in model.model_fields} for r in found]

    document: dict[str, Any] = {
        "format": EXPORT_FORMAT,
        "generated_at": at.isoformat(),
        "subject": candidate_dict(subject),
        "applications": rows(Application, Application.candidate_id, Application.id),
        "consents": rows(Consent, Consent.candidate_id, Consent.given_at),
        "documents": rows(Document, Document.candidate_id, Document.created_at),
    }
    for section in sections:
        document[section.name] = section.build(conn, subject, at)
    return document
