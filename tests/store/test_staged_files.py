"""Staged document files enter the store after the commit, and a dead writer's are finished."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import pytest

from retention.demo.population import generate, insert_population
from retention.install import Installation
from retention.store import StagedFiles, recover_staged, staged_files, transaction

AT = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def _died(staged: StagedFiles) -> None:
    """What a killed process leaves: the folder, its files, and no lock held."""
    os.close(staged._lock)


class TestStagedFiles:
    def test_files_appear_only_after_commit(self, installation: Installation) -> None:
        """Inside the transaction the store holds no file; after the commit it holds them all."""
        docs = installation.config.documents_dir
        pop = generate(20, AT, document_share=1.0)
        with staged_files(docs) as files, transaction(installation.engine) as conn:
            insert_population(conn, pop, files=files)
            assert [p for p in docs.iterdir() if not p.name.startswith(".")] == []
        assert sorted(p.name for p in docs.iterdir()) == sorted(str(d["id"]) for d in pop.documents)

    def test_rollback_removes_the_staged_files(self, installation: Installation) -> None:
        """A failed transaction leaves neither a file nor the staging folder."""
        docs = installation.config.documents_dir
        with (
            pytest.raises(RuntimeError),
            staged_files(docs) as files,
            transaction(installation.engine) as conn,
        ):
            insert_population(conn, generate(10, AT, document_share=1.0), files=files)
            raise RuntimeError("fails before commit")
        assert list(docs.iterdir()) == []

    def test_recovery_keeps_committed_files_and_deletes_the_rest(
        self, installation: Installation
    ) -> None:
        """A writer that died after its commit gets its files moved in; one that died before
        gets them deleted."""
        docs = installation.config.documents_dir
        committed = generate(10, AT, seed=1, document_share=1.0)
        lost_files = StagedFiles(docs)
        for doc in generate(10, AT, seed=3, document_share=1.0).documents:
            lost_files.write(str(doc["id"]), b"CV")
        _died(lost_files)
        kept = StagedFiles(docs)
        with transaction(installation.engine) as conn:
            insert_population(conn, committed, files=kept)
        _died(kept)
        assert recover_staged(installation.engine, docs) == 10
        assert sorted(p.name for p in docs.iterdir()) == sorted(
            str(d["id"]) for d in committed.documents
        )

    def test_recovery_skips_a_live_writer(self, installation: Installation) -> None:
        """A staging folder whose writer still holds its lock is left alone."""
        docs = installation.config.documents_dir
        with staged_files(docs) as files:
            files.write("f0c1d8e2-0000-4000-8000-000000000000", b"CV")
            assert recover_staged(installation.engine, docs) == 0
            assert sorted(p.name for p in files.folder.iterdir()) == [
                ".lock",
                "f0c1d8e2-0000-4000-8000-000000000000",
            ]
        assert [p.name for p in docs.iterdir()] == ["f0c1d8e2-0000-4000-8000-000000000000"]
