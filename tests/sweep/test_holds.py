"""Legal holds: placed on existing subjects, released once, audited, visible to the sweep."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from audit_log.schema import audit_entry
from retention.demo.population import generate, insert_population
from retention.errors import BadInput, NotFound
from retention.install import Installation
from retention.store import Candidate, transaction
from retention.sweep import place_hold
from retention.sweep.holds import active_hold_exists, list_holds, release_hold

AT = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


@pytest.fixture
def subject(installation: Installation) -> uuid.UUID:
    pop = generate(3, AT)
    with transaction(installation.engine) as conn:
        insert_population(conn, pop)
    return pop.candidates[0]["id"]


def held(installation: Installation, subject: uuid.UUID) -> bool:
    c = Candidate.__table__.c
    q = select(active_hold_exists(c.id)).where(c.id == subject)
    with installation.engine.connect() as conn:
        return bool(conn.execute(q).scalar_one())


class TestPlaceAndRelease:
    def test_place_then_release(self, installation: Installation, subject: uuid.UUID) -> None:
        """A placed hold is active and listed; once released it is neither."""
        with transaction(installation.engine) as conn:
            hold = place_hold(conn, subject, case_ref="C-1", reason="claim", actor="dpo")
        assert held(installation, subject)
        with transaction(installation.engine) as conn:
            assert [h.id for h in list_holds(conn)] == [hold.id]
            released = release_hold(conn, hold.id, reason="settled", actor="dpo")
        assert released.released_by == "dpo" and not released.active
        assert not held(installation, subject)
        with transaction(installation.engine) as conn:
            assert list_holds(conn) == []
            assert [h.id for h in list_holds(conn, include_released=True)] == [hold.id]

    def test_identical_second_hold_is_refused(
        self, installation: Installation, subject: uuid.UUID
    ) -> None:
        """A second active hold for the same case is refused; another case, or the same case
        after release, is a new hold."""
        with transaction(installation.engine) as conn:
            first = place_hold(conn, subject, case_ref="C-1", reason="claim", actor="dpo")
        with pytest.raises(BadInput) as info, transaction(installation.engine) as conn:
            place_hold(conn, subject, case_ref="C-1", reason="claim", actor="dpo")
        assert info.value.message == (
            f"subject {subject} already has an active hold for this case ({first.id})"
        )
        with transaction(installation.engine) as conn:
            place_hold(conn, subject, case_ref="C-2", reason="claim", actor="dpo")
            release_hold(conn, first.id, reason="settled", actor="dpo")
            place_hold(conn, subject, case_ref="C-1", reason="reopened", actor="dpo")
            assert sorted(h.case_ref for h in list_holds(conn)) == ["C-1", "C-2"]

    def test_every_change_is_audited(self, installation: Installation, subject: uuid.UUID) -> None:
        """Placing and releasing each append one entry naming the subject by UUID."""
        with transaction(installation.engine) as conn:
            hold = place_hold(conn, subject, case_ref="C-1", reason="claim", actor="dpo")
            release_hold(conn, hold.id, reason="settled", actor="dpo")
        q = select(audit_entry.c.action, audit_entry.c.subject).order_by(audit_entry.c.seq)
        with installation.engine.connect() as conn:
            rows = conn.execute(q).all()
        assert [(a, s) for a, s in rows] == [("hold.place", subject), ("hold.release", subject)]

    def test_unknown_subject_is_refused(self, installation: Installation) -> None:
        """A hold needs an existing subject."""
        with pytest.raises(NotFound), transaction(installation.engine) as conn:
            place_hold(conn, uuid.uuid4(), case_ref="C-1", reason="claim", actor="dpo")

    def test_release_twice_is_refused(self, installation: Installation, subject: uuid.UUID) -> None:
        """A released hold cannot be released again."""
        with transaction(installation.engine) as conn:
            hold = place_hold(conn, subject, case_ref="C-1", reason="claim", actor="dpo")
            release_hold(conn, hold.id, reason="settled", actor="dpo")
        with (
            pytest.raises(BadInput, match="already released"),
            transaction(installation.engine) as conn,
        ):
            release_hold(conn, hold.id, reason="again", actor="dpo")

    def test_empty_reason_is_refused(self, installation: Installation, subject: uuid.UUID) -> None:
        """A hold without a reason is bad input."""
        with pytest.raises(BadInput), transaction(installation.engine) as conn:
            place_hold(conn, subject, case_ref="C-1", reason="  ", actor="dpo")
