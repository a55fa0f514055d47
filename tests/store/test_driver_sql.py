"""DriverSQL: what it writes is what SQLAlchemy reads back, and driver errors are SQLAlchemy's."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError

from retention.store import Candidate, DriverSQL, table_of, transaction

_INSERT = (
    "INSERT INTO candidate (id, external_ref, country, status, first_name, applied_at,"
    " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)


def test_values_round_trip_through_sqlalchemy(engine: Engine) -> None:
    subject = uuid.uuid4()
    applied = datetime(999, 1, 2, 3, 4, 5, 6, tzinfo=UTC)  # a three-digit year, microseconds
    made = datetime(2026, 11, 22, 14, 0, tzinfo=timezone(timedelta(hours=2)))
    with transaction(engine) as conn:
        sql = DriverSQL(conn)
        stamp = sql.instant(made)
        sql.execute(
            _INSERT,
            (sql.uuid(subject), "gh:1", "NL", "in_process", "Ioana?", sql.instant(applied),
             stamp, stamp),
        )  # fmt: skip
        c = table_of(Candidate).c
        row = conn.execute(
            select(c.id, c.first_name, c.applied_at, c.created_at, c.decided_at).where(
                c.external_ref == "gh:1"
            )
        ).one()
        assert tuple(row) == (subject, "Ioana?", applied, made.astimezone(UTC), None)
        found = sql.execute("SELECT id, applied_at, decided_at FROM candidate").fetchone()
        assert sql.read_uuid(found[0]) == subject
        assert sql.read_instant(found[1]) == applied and sql.read_instant(found[2]) is None


def test_a_naive_instant_is_refused(engine: Engine) -> None:
    with transaction(engine) as conn, pytest.raises(ValueError, match="naive"):
        DriverSQL(conn).instant(datetime(2026, 1, 1))


def test_a_constraint_violation_is_sqlalchemys_integrity_error(engine: Engine) -> None:
    """What `receive_event` catches to run a unit again (PostgreSQL, concurrent requests)."""
    with pytest.raises(IntegrityError), transaction(engine) as conn:
        sql = DriverSQL(conn)
        now = sql.instant(datetime.now(UTC))
        for _ in range(2):
            sql.execute(_INSERT, (sql.uuid(uuid.uuid4()), "gh:2", "NL", "in_process", None,
                                  None, now, now))  # fmt: skip
