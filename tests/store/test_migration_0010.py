"""Migration 0010_consent: the consent history is append-only, and starts from existing rows."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import DBAPIError

from retention.store import (
    Candidate,
    ConsentEvent,
    ConsentEventKind,
    append_event,
    connect,
    transaction,
)
from retention.testing import DatabaseFactory

AT = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture
def filled(any_factory: DatabaseFactory) -> Engine:
    engine = connect(any_factory.migrated())
    cid = uuid.uuid4()
    with transaction(engine) as conn:
        conn.execute(Candidate.__table__.insert().values(id=cid, country="NL", status="rejected"))
        append_event(
            conn,
            candidate_id=cid,
            purpose="talent_pool",
            kind=ConsentEventKind.GIVEN,
            at=AT,
            channel="web form",
            method="recorded",
            actor="test",
        )
    return engine


class TestAppendOnly:
    def test_update_refused(self, filled: Engine) -> None:
        with pytest.raises(DBAPIError, match="append-only"), transaction(filled) as conn:
            conn.execute(text("UPDATE consent_event SET kind = 'renewed'"))
        with transaction(filled) as conn:
            kinds = conn.execute(select(ConsentEvent.__table__.c.kind)).scalars().all()
        assert kinds == ["given"]

    def test_erasure_cascades(self, filled: Engine) -> None:
        """Events go with their subject (erasure), the only way they ever leave."""
        with transaction(filled) as conn:
            conn.execute(Candidate.__table__.delete())
            assert conn.execute(select(ConsentEvent.__table__)).all() == []
