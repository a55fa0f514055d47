"""Deletion cascades and queues files; blocking marks the subject once."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from retention.demo.population import generate, insert_population
from retention.install import Installation
from retention.store import Application, Candidate, Consent, Document, transaction
from retention.store.sweep_tables import PendingDeletion
from retention.sweep.deletion import block, delete_subjects

AT = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def count(installation: Installation, table: object) -> int:
    with installation.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


class TestDelete:
    def test_subject_and_everything_it_owns_go(self, installation: Installation) -> None:
        """Applications, consents and document rows go with the candidate; files are queued."""
        pop = generate(40, AT, document_share=0.5)
        with transaction(installation.engine) as conn:
            insert_population(conn, pop)
        ids = [c["id"] for c in pop.candidates]
        with transaction(installation.engine) as conn:
            assert sorted(delete_subjects(conn, ids, at=AT, run_id=None)) == sorted(ids)
        for table in (Candidate, Application, Consent, Document):
            assert count(installation, table.__table__) == 0
        assert count(installation, PendingDeletion.__table__) == len(pop.documents)
        with transaction(installation.engine) as conn:
            assert delete_subjects(conn, ids, at=AT, run_id=None) == []


class TestBlock:
    def test_block_sets_blocked_at_once(self, installation: Installation) -> None:
        """A second block of the same subject changes nothing and reports nothing."""
        pop = generate(3, AT)
        with transaction(installation.engine) as conn:
            insert_population(conn, pop)
        ids = [c["id"] for c in pop.candidates]
        with transaction(installation.engine) as conn:
            assert sorted(block(conn, ids, at=AT)) == sorted(ids)
        with transaction(installation.engine) as conn:
            assert block(conn, ids, at=AT) == []
        c = Candidate.__table__.c
        with installation.engine.connect() as conn:
            assert set(conn.execute(select(c.blocked_at)).scalars()) == {AT}
