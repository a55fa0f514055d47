"""The access review: expiring, unused (from the audit log), privileged, pending, idle."""

from __future__ import annotations

from datetime import timedelta

import pytest

from retention.access import grants, principals
from retention.access.review import review_access
from retention.errors import AccessDenied
from retention.results import json_data
from retention.subjects import Gateway
from tests.access_support import World


class TestReview:
    def test_expiring_and_unused(self, world: World) -> None:
        """Used grants are not 'unused'; 20 days on the 30-day recruiter grant is expiring."""
        admin = world.admin.principal_id
        principals.create_principal(world.engine, admin, "idle", "service", clock=world.clock)
        world.clock.advance(timedelta(days=20))
        Gateway(
            world.engine,
            world.recruiter.principal_id,
            world.installation.config.documents_dir,
            world.clock,
        ).show(world.nl)
        world.clock.advance(timedelta(days=11))
        review = review_access(world.engine, admin, clock=world.clock)
        # The recruiter grant expired at day 30: nothing of it is listed any more.
        assert str(world.recruiter_grant) not in {str(g.id) for g in review.expiring}
        assert (
            "idle" in review.principals_without_grant and "rita" in review.principals_without_grant
        )
        # Bootstrap grants are older than 30 days; the admin's was used at day 0 only.
        unused = {g.principal for g in review.unused}
        assert "admin" in unused

    def test_expiring_within_14_days(self, world: World) -> None:
        """A grant ending in 10 days is listed as expiring, with its last use."""
        world.clock.advance(timedelta(days=20))
        gw = Gateway(
            world.engine,
            world.recruiter.principal_id,
            world.installation.config.documents_dir,
            world.clock,
        )
        gw.show(world.nl)
        review = review_access(world.engine, world.admin.principal_id, clock=world.clock)
        (item,) = [g for g in review.expiring if g.id == world.recruiter_grant]
        assert item.last_used_at == world.clock()

    def test_privileged_and_pending(self, world: World) -> None:
        """Pending privileged grants show under both headings, with their grantor."""
        g = grants.grant_access(
            world.engine,
            world.admin.principal_id,
            "rita",
            "admin",
            "*",
            "30d",
            "cover",
            clock=world.clock,
        )
        review = review_access(world.engine, world.dpo.principal_id, clock=world.clock)
        assert [p.id for p in review.pending] == [g.id]
        assert review.pending[0].granted_by == "admin"
        assert {p.principal for p in review.privileged} == {"admin", "dpo", "rita"}

    def test_recruiter_may_not_review(self, world: World) -> None:
        """Reviewing access needs access:manage, access:approve or audit:read."""
        with pytest.raises(AccessDenied):
            review_access(world.engine, world.recruiter.principal_id, clock=world.clock)

    def test_per_principal_issuer_approver_and_flags(self, world: World) -> None:
        """Each principal shows its credential issuer; two-person grants are flagged."""
        review = review_access(world.engine, world.dpo.principal_id, clock=world.clock)
        by_name = {p.name: p for p in review.principals}
        rita = by_name["rita"]
        assert rita.credential_issued_by == ["admin"]
        assert [(g.granted_by, g.approved_by) for g in rita.grants] == [("admin", "dpo")]
        assert len(rita.flags) == 1 and "not three different people" in rita.flags[0]
        assert by_name["admin"].credential_issued_by == ["gdpr init"]
        assert json_data(review)["principals"][0]["name"] == "admin"

    def test_suspended_grant_shows_as_pending_without_approver(self, world: World) -> None:
        """After someone else rotates rita's token her grant is pending, its approver cleared."""
        principals.rotate_token(world.engine, world.admin.principal_id, "rita", clock=world.clock)
        review = review_access(world.engine, world.dpo.principal_id, clock=world.clock)
        (pending,) = review.pending
        assert (pending.id, pending.approved_by) == (world.recruiter_grant, None)
        (rita,) = [p for p in review.principals if p.name == "rita"]
        assert rita.flags == []  # nothing active to flag
