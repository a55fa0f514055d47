"""The access demo: one allowed and one denied read, both in the audit log."""

from __future__ import annotations

import pytest

from retention.access import Role
from retention.demo.access import run_access_demo
from retention.errors import BadInput
from retention.install import Installation, bootstrap_principals
from retention.testing import FixedClock
from tests.access_support import add_candidate, audit_rows


class TestAccessDemo:
    def test_allowed_and_denied_reads_are_audited(
        self, installation: Installation, clock: FixedClock
    ) -> None:
        """The recruiter enrolls, its grant is approved by the DPO, it reads NL and not DE."""
        issued = bootstrap_principals(installation, clock=clock)
        admin, dpo = issued[Role.ADMIN].principal_id, issued[Role.DPO].principal_id
        nl = add_candidate(installation.engine, "NL", clock())
        de = add_candidate(installation.engine, "DE", clock())
        demo = run_access_demo(installation, admin, dpo, country="NL", clock=clock)
        assert (demo.allowed_subject, demo.denied_subject) == (nl, de)
        assert audit_rows(installation.engine, subject=nl)[-1].outcome == "ok"
        assert audit_rows(installation.engine, subject=de)[-1].outcome == "denied"
        assert "access denied" in demo.lines[-1]
        actions = [r.action for r in audit_rows(installation.engine, outcome="ok")]
        assert actions.index("principal.enroll") < actions.index("access.approve")
        assert all("gdpr_" not in line and "enroll_" not in line for line in demo.lines)

    def test_needs_two_countries(self, installation: Installation, clock: FixedClock) -> None:
        """Without candidates in two countries the demo says what to do."""
        issued = bootstrap_principals(installation, clock=clock)
        admin, dpo = issued[Role.ADMIN].principal_id, issued[Role.DPO].principal_id
        with pytest.raises(BadInput, match="two countries"):
            run_access_demo(installation, admin, dpo, clock=clock)
