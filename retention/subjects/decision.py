"""The retention decision for one stored subject, as the DPO asks for it: "why this record?".

The sweep decides in SQL for millions of rows; this module answers for one subject in Python,
with the same policy set, by loading the subject's facts (statuses, instants, consents, holds)
into a `policies.Record` and asking the evaluator for its trace. Reading a subject's facts is an
access to personal data, so it goes through the gateway and is audited like any read.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select
from sqlmodel import col

from policies import Consent as ConsentFact
from policies import Explanation, Hold, PolicySet, Record, explain
from retention.access import Permission
from retention.store import Consent, LegalHold
from retention.subjects.gateway import Gateway, SubjectWork

__all__ = ["explain_subject", "subject_record", "trace_subject"]


def subject_record(conn: Connection, subject: Any) -> Record:
    """The policy facts of a stored candidate row: no personal data, only what rules may use."""
    consents = conn.execute(
        select(
            col(Consent.purpose),
            col(Consent.given_at),
            col(Consent.expires_at),
            col(Consent.withdrawn_at),
        )
        .where(Consent.candidate_id == subject.id)
        .order_by(col(Consent.given_at), col(Consent.id))
    ).all()
    holds = conn.execute(
        select(col(LegalHold.placed_at), col(LegalHold.released_at)).where(
            LegalHold.subject_id == subject.id
        )
    ).all()
    return Record(
        id=str(subject.id),
        country=subject.country,
        status=subject.status,
        applied_at=subject.applied_at,
        decided_at=subject.decided_at,
        last_activity_at=subject.last_activity_at,
        consents=tuple(
            ConsentFact(c.purpose, c.given_at, c.expires_at, c.withdrawn_at) for c in consents
        ),
        holds=tuple(Hold(h.placed_at, h.released_at) for h in holds),
    )


def trace_subject(
    conn: Connection, policy_set: PolicySet, subject: Any, at: datetime
) -> Explanation:
    """The decision trace of a candidate row already read in an authorized unit of work."""
    return explain(policy_set, subject_record(conn, subject), at)


def explain_subject(
    gateway: Gateway,
    policy_set: PolicySet,
    subject_id: uuid.UUID,
    at: datetime,
    *,
    reason: str | None = None,
) -> Explanation:
    """Trace the decision on `subject_id` at `at`; authorized and audited as a read."""

    def work(conn: Connection, subject: Any, _now: datetime) -> SubjectWork[Explanation]:
        trace = explain(policy_set, subject_record(conn, subject), at)
        return SubjectWork(trace, {"policy_hash": policy_set.content_hash})

    return gateway.on_subject(
        subject_id, Permission.CANDIDATE_READ, "policy.explain", work, reason=reason
    )
