"""The demo's sweep story: a held due subject survives the sweep unchanged."""

from __future__ import annotations

from datetime import UTC, datetime

from policies import load_default_policy_set
from retention.demo.sweep import demo_sweep
from retention.install import Installation
from tests.sweep_world import seed

AT = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


class TestDemoSweep:
    def test_plan_hold_sweep_counts(self, installation: Installation) -> None:
        """The held subject is untouched; counts before and after reflect the sweep."""
        seed(installation, 300, AT)
        demo = demo_sweep(
            installation, load_default_policy_set(), actor="dpo", at=AT, clock=lambda: AT
        )
        assert demo.held_subject is not None and demo.held_untouched
        assert demo.result.acted == demo.plan.due - 1
        assert demo.after.subjects == demo.before.subjects - demo.result.deleted
        assert demo.after.anonymized == demo.result.anonymized
        assert any("untouched" in line for line in demo.lines())
