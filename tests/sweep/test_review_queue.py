"""The review queue: one open item per subject, DPO decisions acted on and audited."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from audit_log.schema import audit_entry
from policies import load_default_policy_set
from retention.demo.population import generate, insert_population
from retention.errors import BadInput, NotFound
from retention.install import Installation
from retention.store import Candidate, ReviewDecision, transaction
from retention.sweep import run_sweep
from retention.sweep.review_queue import ReviewRequest, decide, enqueue, list_reviews
from retention.testing import FixedClock

AT = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def queued(installation: Installation, n: int = 4) -> list:  # type: ignore[type-arg]
    pop = generate(n, AT)
    with transaction(installation.engine) as conn:
        insert_population(conn, pop)
        requests = [
            ReviewRequest(c["id"], c["country"], "EU", "hired", "cite") for c in pop.candidates
        ]
        enqueue(conn, requests, at=AT, policy_hash="h" * 64, run_id=None)
    return pop.candidates


class TestQueue:
    def test_one_open_item_per_subject(self, installation: Installation) -> None:
        """Queuing a subject that already waits for review adds nothing."""
        subjects = queued(installation)
        with transaction(installation.engine) as conn:
            again = [ReviewRequest(subjects[0]["id"], "DE", "DE", "hired", None)]
            assert enqueue(conn, again, at=AT, policy_hash="h" * 64, run_id=None) == []
            assert len(list_reviews(conn)) == len(subjects)


class TestDecide:
    def test_delete_decision_deletes_and_audits(self, installation: Installation) -> None:
        """Deciding delete removes the subject and records review.decide and candidate.delete."""
        subject = queued(installation)[0]["id"]
        with transaction(installation.engine) as conn:
            view = decide(conn, subject, ReviewDecision.DELETE, reason="done", actor="dpo")
        assert view.decision == "delete" and view.decided_by == "dpo"
        with installation.engine.connect() as conn:
            gone = conn.execute(
                select(Candidate.__table__).where(Candidate.__table__.c.id == subject)
            ).first()
            actions = (
                conn.execute(select(audit_entry.c.action).order_by(audit_entry.c.seq))
                .scalars()
                .all()
            )
        assert gone is None
        assert actions == ["review.decide", "candidate.delete"]

    def test_keep_needs_a_future_date(self, installation: Installation) -> None:
        """keep-until without a date, or with a past one, is bad input."""
        subject = queued(installation)[0]["id"]
        with pytest.raises(BadInput), transaction(installation.engine) as conn:
            decide(
                conn,
                subject,
                ReviewDecision.KEEP,
                reason="r",
                actor="dpo",
                keep_until=AT - timedelta(days=1),
                clock=lambda: AT,
            )

    def test_keep_is_bounded_to_ten_years(self, installation: Installation) -> None:
        """keep-until 9999-12-31 is refused: a DPO decides again within ten years."""
        subject = queued(installation)[0]["id"]
        with pytest.raises(BadInput) as info, transaction(installation.engine) as conn:
            decide(
                conn,
                subject,
                ReviewDecision.KEEP,
                reason="r",
                actor="dpo",
                keep_until=datetime(9999, 12, 31, tzinfo=UTC),
                clock=lambda: AT,
            )
        assert info.value.message == "keep-until is more than 10 years away: give at most 10y"

    def test_no_open_review(self, installation: Installation) -> None:
        """Deciding a subject without an open item is refused."""
        subject = queued(installation)[0]["id"]
        with transaction(installation.engine) as conn:
            decide(conn, subject, ReviewDecision.ANONYMIZE, reason="r", actor="dpo")
        with pytest.raises(NotFound), transaction(installation.engine) as conn:
            decide(conn, subject, ReviewDecision.ANONYMIZE, reason="r", actor="dpo")

    def test_kept_subject_is_left_alone_until_the_date(self, installation: Installation) -> None:
        """A sweep before keep-until skips the subject; a sweep after it queues it again."""
        policies = load_default_policy_set()
        pop = generate(300, AT)
        with transaction(installation.engine) as conn:
            insert_population(conn, pop)
        clock = FixedClock(AT)
        run_sweep(installation, policies, actor="s", at=AT, clock=clock)
        with transaction(installation.engine) as conn:
            item = list_reviews(conn)[0]
            decide(
                conn,
                item.subject_id,
                ReviewDecision.KEEP,
                reason="still needed",
                actor="dpo",
                keep_until=AT + timedelta(days=30),
                clock=clock,
            )
        later = AT + timedelta(days=10)
        clock.now = later
        assert run_sweep(installation, policies, actor="s", at=later, clock=clock).reviewed == 0
        after = AT + timedelta(days=31)
        clock.now = after
        result = run_sweep(installation, policies, actor="s", at=after, clock=clock)
        with transaction(installation.engine) as conn:
            reopened = [i for i in list_reviews(conn) if i.subject_id == item.subject_id]
        assert result.reviewed >= 1 and len(reopened) == 1
