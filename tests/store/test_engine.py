"""The database module: UTC round trips, SQLite connection rules, URL checking."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine, insert, select, text
from sqlalchemy.exc import IntegrityError, StatementError

from retention.errors import BadInput
from retention.store import Candidate, Consent, transaction
from retention.store.engine import parse_database_url


class TestTZDateTime:
    def test_aware_value_round_trips_as_utc(self, engine: Engine) -> None:
        """A non-UTC aware instant is stored as the same instant and read back in UTC."""
        bucharest = timezone(timedelta(hours=2))
        applied = datetime(2024, 2, 29, 23, 30, 0, 123456, tzinfo=bucharest)
        cid = uuid.uuid4()
        with transaction(engine) as conn:
            conn.execute(
                insert(Candidate.__table__).values(
                    id=cid,
                    country="RO",
                    status="in_process",
                    applied_at=applied,
                    created_at=applied,
                    updated_at=applied,
                )
            )
        with engine.connect() as conn:
            got = conn.execute(
                select(Candidate.__table__.c.applied_at).where(Candidate.__table__.c.id == cid)
            ).scalar_one()
        assert got == applied
        assert got.tzinfo == UTC
        assert got.hour == 21

    def test_naive_value_is_refused(self, engine: Engine) -> None:
        """A naive datetime never reaches the database: its zone would be a guess."""
        with pytest.raises(StatementError), transaction(engine) as conn:
            conn.execute(
                insert(Candidate.__table__).values(
                    id=uuid.uuid4(),
                    country="RO",
                    status="in_process",
                    created_at=datetime(2024, 1, 1),
                    updated_at=datetime(2024, 1, 1),
                )
            )


class TestConstraints:
    def test_foreign_keys_are_enforced(self, engine: Engine) -> None:
        """A consent for an unknown subject is refused on both backends (SQLite FKs are on)."""
        with pytest.raises(IntegrityError), transaction(engine) as conn:
            conn.execute(
                insert(Consent.__table__).values(
                    candidate_id=uuid.uuid4(),
                    purpose="talent_pool",
                    notice_version="v1",
                    channel="web",
                    given_at=datetime(2024, 1, 1, tzinfo=UTC),
                )
            )

    def test_unknown_status_is_refused(self, engine: Engine) -> None:
        """The status column only takes the four statuses of the data model."""
        now = datetime.now(UTC)
        with pytest.raises(IntegrityError), transaction(engine) as conn:
            conn.execute(
                insert(Candidate.__table__).values(
                    id=uuid.uuid4(), country="RO", status="ghosted", created_at=now, updated_at=now
                )
            )

    def test_error_never_carries_the_values(self, engine: Engine) -> None:
        """A refused statement's error names the statement, not its values: they are personal
        data, and errors reach logs and tracebacks."""
        now = datetime.now(UTC)
        with pytest.raises(IntegrityError) as caught, transaction(engine) as conn:
            conn.execute(
                insert(Candidate.__table__).values(
                    id=uuid.uuid4(),
                    country="RO",
                    status="ghosted",
                    email="ana.popescu@example.org",
                    first_name="Ana",
                    created_at=now,
                    updated_at=now,
                )
            )
        said = str(caught.value) + repr(caught.value) + str(caught.value.orig)
        assert "INSERT INTO candidate" in said and "candidate" in str(caught.value.orig)
        assert "ana.popescu" not in said and "Ana" not in said

    def test_duplicate_key_error_never_carries_the_key(self, engine: Engine) -> None:
        """PostgreSQL quotes a duplicate key's value in its DETAIL; the error keeps only what
        names the constraint, and is still the IntegrityError callers retry on."""
        now = datetime.now(UTC)
        row = {"country": "RO", "status": "hired", "created_at": now, "updated_at": now}
        cid = uuid.uuid4()
        with transaction(engine) as conn:
            conn.execute(insert(Candidate.__table__).values(id=cid, **row))
        with pytest.raises(IntegrityError) as caught, transaction(engine) as conn:
            conn.execute(insert(Candidate.__table__).values(id=cid, **row))
        said = str(caught.value) + repr(caught.value) + str(caught.value.orig)
        assert str(cid) not in said
        assert "candidate" in said

    def test_failed_transaction_leaves_nothing(self, engine: Engine) -> None:
        """An error inside the unit of work rolls back what it had written."""
        now = datetime.now(UTC)
        with pytest.raises(RuntimeError), transaction(engine) as conn:
            conn.execute(
                insert(Candidate.__table__).values(
                    id=uuid.uuid4(), country="RO", status="hired", created_at=now, updated_at=now
                )
            )
            raise RuntimeError("crash before commit")
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM candidate")).scalar_one() == 0


class TestDatabaseUrl:
    @pytest.mark.parametrize(
        ("url", "message"),
        [
            ("not a url", "database URL is not valid"),
            ("mysql://root@localhost/x", "database 'mysql' is not supported"),
            ("postgresql+psycopg2://postgres@localhost/x", "must use the psycopg 3 driver"),
        ],
    )
    def test_bad_urls_get_one_clear_error(self, url: str, message: str) -> None:
        """Each way a URL can be wrong is named, with what to use instead."""
        with pytest.raises(BadInput, match=message):
            parse_database_url(url)


class TestErasure:
    def test_sqlite_overwrites_deleted_content(self, engine: Engine) -> None:
        """On SQLite, deleted rows are zeroed on disk (secure_delete), not left in free pages."""
        if engine.dialect.name != "sqlite":
            pytest.skip("SQLite file format behaviour")
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA secure_delete").scalar() == 1
