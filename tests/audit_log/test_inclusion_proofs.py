"""Many inclusion proofs read together are exactly the proofs read one by one, and the RFC's."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import Engine, select

from audit_log import AuditLog, Event
from audit_log.schema import audit_entry
from retention.store import connect, record
from retention.testing import DatabaseFactory
from tests import merkle_reference as ref


@pytest.fixture(scope="module")
def log_engine(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Engine:
    from tests.conftest import PG_URL

    factory = DatabaseFactory(tmp_path_factory.mktemp("proofs"), PG_URL)
    request.addfinalizer(factory.close)
    engine = connect(factory.migrated())
    request.addfinalizer(engine.dispose)
    with engine.begin() as conn:
        record(conn, *[Event(actor="a", action="x", subject=uuid.uuid4()) for _ in range(300)])
    return engine


@pytest.mark.parametrize("size", [1, 2, 15, 16, 17, 100, 255, 256, 257, 300])
@pytest.mark.parametrize("chunk", [1, 7, 5000])
def test_batch_equals_single_and_reference(log_engine: Engine, size: int, chunk: int) -> None:
    """Every entry of trees of every shape, in keys chunks of any size."""
    log = AuditLog()
    with log_engine.connect() as conn:
        leaves = [bytes(h) for h in conn.execute(
            select(audit_entry.c.leaf_hash).where(audit_entry.c.seq < size).order_by(audit_entry.c.seq)
        ).scalars()]  # fmt: skip
        seqs = [*range(0, size, 3), size - 1]
        proofs = log.inclusion_proofs(conn, seqs, size, chunk=chunk)
        for seq, proof in zip(seqs, proofs, strict=True):
            assert proof == log.inclusion_proof(conn, seq, size)
            assert list(proof.hashes) == ref.path(seq, leaves)
            assert proof.root == ref.mth(leaves)
            proof.verify()


def test_out_of_range(log_engine: Engine) -> None:
    from audit_log import LogStateError

    with log_engine.connect() as conn, pytest.raises(LogStateError, match="not within"):
        AuditLog().inclusion_proofs(conn, [10], 10)
