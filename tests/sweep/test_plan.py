"""The dry run counts what the sweep would do, audits itself, and changes nothing."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from sqlalchemy import select

from audit_log.schema import audit_entry
from policies import RecordError, evaluate, load_default_policy_set
from retention.install import Installation
from retention.store import Candidate, transaction
from retention.sweep import make_plan
from tests.sweep_world import expected_actions, records, seed

AT = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
POLICIES = load_default_policy_set()


class TestPlan:
    def test_counts_match_the_evaluator(self, installation: Installation) -> None:
        """Due per action, held and error counts equal the Python evaluator's."""
        pop, held = seed(installation, 800, AT, holds=12)
        expected = expected_actions(POLICIES, pop, held, AT)
        held_due = held & expected_actions(POLICIES, pop, set(), AT).keys()
        errors = Counter(
            o.cause.value
            for r in records(pop, held, AT)
            if isinstance(o := evaluate(POLICIES, r, AT), RecordError)
        )
        with transaction(installation.engine) as conn:
            plan = make_plan(conn, POLICIES, at=AT, actor="dpo")
        assert plan.by_action() == dict(Counter(expected.values()))
        assert plan.held == len(held_due) > 0
        plan_errors: Counter[str] = Counter()
        for e in plan.errors:
            plan_errors[e.cause] += e.count
        assert plan_errors == errors
        assert plan.subjects == 800 and plan.policy_hash == POLICIES.content_hash

    def test_country_filter_and_nothing_changes(self, installation: Installation) -> None:
        """A plan for one country counts only it, changes no subject, and is audited once."""
        seed(installation, 300, AT)
        c = Candidate.__table__
        with installation.engine.connect() as conn:
            before = conn.execute(select(c).order_by(c.c.id)).all()
        with transaction(installation.engine) as conn:
            plan = make_plan(conn, POLICIES, at=AT, actor="dpo", country="NL")
        assert {r.country for r in plan.rows} == {"NL"}
        with installation.engine.connect() as conn:
            after = conn.execute(select(c).order_by(c.c.id)).all()
            actions = conn.execute(select(audit_entry.c.action)).scalars().all()
        assert before == after
        assert actions == ["sweep.plan"]
