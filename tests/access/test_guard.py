"""The guarded unit of work: a refusal undoes the work, commits its denial, then raises."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import Connection, select

from audit_log import Event, Outcome
from retention.access import Permission, Refused, check_permission, guarded
from retention.errors import AccessDenied
from retention.store import Candidate
from tests.access_support import World, audit_rows


class TestGuarded:
    def test_refusal_undoes_work_and_commits_denial(self, world: World) -> None:
        """Writes made before a refusal are rolled back; the denied entry is committed."""
        subject = uuid.uuid4()

        def work(conn: Connection) -> None:
            conn.execute(
                Candidate.__table__.update()
                .where(Candidate.__table__.c.id == world.nl)
                .values(city="Nowhere")
            )
            event = Event("tester", "test.refuse", subject, Outcome.DENIED, "no")
            raise Refused(event, AccessDenied("access denied: no"))

        with pytest.raises(AccessDenied, match="access denied: no"):
            guarded(world.engine, work)
        with world.engine.connect() as conn:
            city = conn.execute(select(Candidate.city).where(Candidate.id == world.nl)).scalar()
        assert city == "Cluj"
        assert audit_rows(world.engine, subject=subject)[-1].outcome == "denied"


class TestCheckPermission:
    def test_allowed_and_denied(self, world: World) -> None:
        """The DPO holds audit:read everywhere; a recruiter's attempt is denied and audited."""
        at = world.clock()
        decision = check_permission(
            world.engine, world.dpo.principal_id, Permission.AUDIT_READ, action="audit.show", at=at
        )
        assert decision.allowed
        with pytest.raises(AccessDenied, match="audit:read in every country"):
            check_permission(
                world.engine,
                world.recruiter.principal_id,
                Permission.AUDIT_READ,
                action="audit.show",
                at=at,
            )
        entry = audit_rows(world.engine, action="audit.show")[-1]
        assert (entry.actor, entry.outcome) == (str(world.recruiter.principal_id), "denied")
