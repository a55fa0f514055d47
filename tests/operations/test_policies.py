"""The policy operations: pure ones on files, and the explanation of one stored subject."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from retention.access import PrincipalView
from retention.errors import AccessDenied
from retention.install import Installation
from retention.operations import policies as ops
from retention.results import json_data
from retention.testing import FixedClock
from tests.access_support import World, audit_rows, build_world

AT = datetime(2025, 9, 28, 10, tzinfo=UTC)


class TestPure:
    def test_shipped_packs_check_clean(self) -> None:
        """The shipped packs have no findings; the JSON is an empty array."""
        result = ops.check_policies(ops.CheckPolicies())
        assert result.ok and json_data(result) == []

    def test_evaluate_is_one_array_in_file_order(self) -> None:
        """Each record gets one outcome, blank lines skipped; undecided ones are counted."""
        lines = [
            json.dumps(
                {"id": "a", "country": "NL", "status": "rejected", "decided_at": "2025-08-31"}
            ),
            "",
            json.dumps({"id": "b", "country": "US", "status": "rejected"}),
        ]
        result = ops.evaluate_records(ops.EvaluateRecords(lines, AT))
        data = json_data(result)
        assert isinstance(data, list) and [d["id"] for d in data] == ["a", "b"]
        assert result.undecided == 1 and data[1] == {
            "id": "b",
            "error": "no policy covers country US",
        }

    def test_shipped_policy_tests_pass(self) -> None:
        """The shipped packs' tests all pass."""
        report = ops.run_policy_tests(ops.RunPolicyTests())
        assert report.passed > 0 and json_data(report) == {"passed": report.passed, "failed": []}


class TestExplain:
    @pytest.fixture
    def world(self, installation: Installation, clock: FixedClock) -> World:
        return build_world(installation, clock)

    def test_explain_needs_candidate_read(self, world: World) -> None:
        """An admin cannot read a subject's facts through explain; the attempt is audited."""
        admin = PrincipalView(world.admin.principal_id, world.admin.name)
        with pytest.raises(AccessDenied, match="candidate:read"):
            ops.explain_subject(world.installation, admin, ops.ExplainSubject(world.nl))
        assert audit_rows(world.engine, action="policy.explain")[-1].outcome == "denied"

    def test_explain_renders_outcome_and_trace(self, world: World) -> None:
        """A DPO's explanation renders the outcome and the trace lines."""
        dpo = PrincipalView(world.dpo.principal_id, world.dpo.name)
        trace = ops.explain_subject(
            world.installation, dpo, ops.ExplainSubject(world.nl, AT), clock=world.clock
        )
        data = json_data(trace)
        assert isinstance(data, dict) and data["outcome"]["id"] == str(world.nl)
        assert data["trace"][0].startswith(f"subject {world.nl} at ")
