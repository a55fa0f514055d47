"""The subject export document: everything held, in a named format, extensible by sections."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from retention.install import Installation
from retention.store import Candidate
from retention.subjects.export import EXPORT_FORMAT, export_document
from retention.testing import FixedClock
from tests.access_support import add_candidate


class PolicySection:
    """A stand-in for the policy decision section the policies package will add."""

    name = "retention_decision"

    def build(self, conn: Connection, subject: Any, at: datetime) -> Any:
        return {"country": subject.country, "at": at.isoformat()}


class TestExportDocument:
    def test_contents_and_sections(self, installation: Installation, clock: FixedClock) -> None:
        """The document lists record, applications, consents, documents, then added sections."""
        cid = add_candidate(installation.engine, "RO", clock())
        with installation.engine.connect() as conn:
            row = conn.execute(select(Candidate).where(Candidate.id == cid)).one()
            doc = export_document(conn, row, clock(), [PolicySection()])
        assert doc["format"] == EXPORT_FORMAT
        assert doc["subject"]["email"] == row.email
        assert [len(doc[k]) for k in ("applications", "consents", "documents")] == [1, 1, 1]
        assert doc["retention_decision"] == {"country": "RO", "at": clock().isoformat()}
