"""Document files are unlinked only after the commit that dropped their rows."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from retention.demo.population import generate, insert_population
from retention.install import Installation
from retention.store import (
    document_path,
    queue_documents,
    remove_pending,
    staged_files,
    transaction,
)

AT = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


class TestPendingFiles:
    def test_rollback_keeps_row_and_file(self, installation: Installation) -> None:
        """A transaction that queued files and rolled back leaves rows, files and no queue."""
        docs = installation.config.documents_dir
        pop = generate(30, AT, document_share=1.0)
        with staged_files(docs) as files, transaction(installation.engine) as conn:
            insert_population(conn, pop, files=files)
        ids = [c["id"] for c in pop.candidates]
        with pytest.raises(RuntimeError), transaction(installation.engine) as conn:
            queue_documents(conn, ids, at=AT, run_id=None)
            raise RuntimeError("crash before commit")
        assert remove_pending(installation.engine, docs) == 0
        assert all(document_path(docs, d["id"]).exists() for d in pop.documents)

    def test_files_go_after_commit_and_missing_ones_are_fine(
        self, installation: Installation
    ) -> None:
        """After commit the queue empties and the files are gone, even if one was gone already."""
        docs = installation.config.documents_dir
        pop = generate(30, AT, document_share=1.0)
        with staged_files(docs) as files, transaction(installation.engine) as conn:
            insert_population(conn, pop, files=files)
        document_path(docs, pop.documents[0]["id"]).unlink()
        with transaction(installation.engine) as conn:
            n = queue_documents(conn, [c["id"] for c in pop.candidates], at=AT, run_id=None)
        assert n == len(pop.documents)
        assert all(document_path(docs, d["id"]).exists() for d in pop.documents[1:])
        assert remove_pending(installation.engine, docs) == n
        assert not any(docs.iterdir())
