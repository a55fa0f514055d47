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
        """The scoped recruiter reads its country's candidate and is denied the other's."""
        admin = bootstrap_principals(installation, clock=clock)[Role.ADMIN].principal_id
        nl = add_candidate(installation.engine, "NL", clock())
        de = add_candidate(installation.engine, "DE", clock())
        demo = run_access_demo(installation, admin, country="NL", clock=clock)
        assert (demo.allowed_subject, demo.denied_subject) == (nl, de)
        assert audit_rows(installation.engine, subject=nl)[-1].outcome == "ok"
        assert audit_rows(installation.engine, subject=de)[-1].outcome == "denied"
        assert "access denied" in demo.lines[-1]

    def test_needs_two_countries(self, installation: Installation, clock: FixedClock) -> None:
        """Without candidates in two countries the demo says what to do."""
        admin = bootstrap_principals(installation, clock=clock)[Role.ADMIN].principal_id
        with pytest.raises(BadInput, match="two countries"):
            run_access_demo(installation, admin, clock=clock)
