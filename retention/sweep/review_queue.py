"""The review queue: subjects a rule hands to a person instead of acting on them itself.

The sweep queues a subject whose due action is `review` (one open item per subject, enforced by a
partial unique index); a DPO decides each item: anonymize now, delete now, or keep until a date.
Until that date the sweep leaves the subject alone entirely; after it the rules apply again (and
may queue it again). Decisions run in the caller's transaction with their audit entries; files of
a deleted or anonymized subject leave after commit (`retention.store.pending_files`).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Row,
    Uuid,
    bindparam,
    literal,
    select,
    text,
    update,
)

from audit_log import Event
from retention.clock import Clock, utc_now
from retention.durations import check_within_years
from retention.errors import BadInput, NotFound
from retention.results import rfc3339
from retention.store import (
    Candidate,
    ReviewDecision,
    ReviewItem,
    TZDateTime,
    among,
    exists_per_row,
    is_postgresql,
    record,
    sqlite_stamp,
    table_of,
    text_array,
    uuid_array,
)
from retention.sweep.anonymization import Anonymizer, anonymize
from retention.sweep.deletion import delete_subjects

__all__ = [
    "ReviewRequest",
    "ReviewView",
    "decide",
    "enqueue",
    "kept_until_after",
    "list_reviews",
    "review_open",
]

_items = table_of(ReviewItem)
_candidates = table_of(Candidate)


@dataclass(frozen=True)
class ReviewRequest:
    """A subject a rule sends to review, with the rule that did."""

    subject_id: uuid.UUID
    country: str
    policy: str
    rule: str
    cite: str | None


@dataclass(frozen=True)
class ReviewView:
    id: uuid.UUID
    subject_id: uuid.UUID
    country: str
    policy: str
    rule: str
    cite: str | None
    queued_at: datetime
    decided_at: datetime | None
    decided_by: str | None
    decision: str | None
    keep_until: datetime | None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "subject": str(self.subject_id),
            "country": self.country,
            "policy": self.policy,
            "rule": self.rule,
            "cite": self.cite,
            "queued_at": rfc3339(self.queued_at),
            "decided_at": rfc3339(self.decided_at) if self.decided_at else None,
            "decided_by": self.decided_by,
            "decision": self.decision,
            "keep_until": rfc3339(self.keep_until) if self.keep_until else None,
        }


def review_open(
    subject_id: ColumnElement[uuid.UUID], *, probe: bool = False
) -> ColumnElement[bool]:
    """SQL: the subject has an undecided review item (`probe`: see `exists_per_row`)."""
    i = _items.c
    found = select(literal(1)).where(i.subject_id == subject_id, i.decided_at.is_(None))
    return exists_per_row(found, probe=probe)


def kept_until_after(
    subject_id: ColumnElement[uuid.UUID],
    at: datetime | ColumnElement[datetime],
    *,
    probe: bool = False,
) -> ColumnElement[bool]:
    """SQL: a DPO decided to keep the subject until after `at` (`probe`: see `exists_per_row`)."""
    i = _items.c
    found = select(literal(1)).where(
        i.subject_id == subject_id,
        i.decision == ReviewDecision.KEEP.value,
        i.keep_until > at,
    )
    return exists_per_row(found, probe=probe)


def enqueue(
    conn: Connection,
    requests: Sequence[ReviewRequest],
    *,
    at: datetime,
    policy_hash: str,
    run_id: uuid.UUID | None,
) -> list[uuid.UUID]:
    """Open an item for each subject without one; returns the subjects newly queued."""
    if not requests:
        return []
    i = _items.c
    wanted = [r.subject_id for r in requests]
    already = set(
        conn.execute(
            select(i.subject_id).where(among(conn, i.subject_id, wanted), i.decided_at.is_(None))
        ).scalars()
    )
    todo = [r for r in requests if r.subject_id not in already]
    if todo and is_postgresql(conn):
        _insert_pg(conn, todo, at=at, policy_hash=policy_hash, run_id=run_id)
    elif todo:
        _insert_sqlite(conn, todo, at=at, policy_hash=policy_hash, run_id=run_id)
    return [r.subject_id for r in todo]


_INSERT_SQLITE = (
    "INSERT INTO review_item"
    " (id, subject_id, country, policy, rule, cite, policy_hash, run_id, queued_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def _insert_sqlite(
    conn: Connection,
    requests: Sequence[ReviewRequest],
    *,
    at: datetime,
    policy_hash: str,
    run_id: uuid.UUID | None,
) -> None:
    """The driver's executemany, values in storage form (UUIDs as 32 hex digits, naive UTC
    text): SQLAlchemy's processing of each row's parameters cost more than SQLite's insert."""
    driver = conn.connection.driver_connection
    assert driver is not None
    stamp = sqlite_stamp(at)
    run = run_id.hex if run_id is not None else None
    driver.executemany(
        _INSERT_SQLITE,
        [
            (uuid.uuid4().hex, r.subject_id.hex, r.country, r.policy, r.rule, r.cite,
             policy_hash, run, stamp)
            for r in requests
        ],
    )  # fmt: skip


# One statement whatever the number of items: as an executemany, SQLAlchemy's processing of
# each row's parameters took longer than the server's work (80 ms of a 10,000-subject batch).
# The items' ids are the server's (random version 4 UUIDs, as uuid4() makes): made in Python,
# they and their text cost more than the insert of a sweep batch's items.
_INSERT_PG = text(
    """
    INSERT INTO review_item
        (id, subject_id, country, policy, rule, cite, policy_hash, run_id, queued_at)
    SELECT gen_random_uuid(), v.subject_id, v.country, v.policy, v.rule, v.cite,
           :policy_hash, :run_id, :at
    FROM unnest(CAST(:subjects AS uuid[]), CAST(:countries AS text[]),
                CAST(:policies AS text[]), CAST(:rules AS text[]), CAST(:cites AS text[]))
        AS v(subject_id, country, policy, rule, cite)
    """
).bindparams(bindparam("run_id", type_=Uuid()), bindparam("at", type_=TZDateTime()))


def _insert_pg(
    conn: Connection,
    requests: Sequence[ReviewRequest],
    *,
    at: datetime,
    policy_hash: str,
    run_id: uuid.UUID | None,
) -> None:
    conn.execute(
        _INSERT_PG,
        {
            "policy_hash": policy_hash,
            "run_id": run_id,
            "at": at,
            "subjects": uuid_array([r.subject_id for r in requests]),
            "countries": text_array([r.country for r in requests]),
            "policies": text_array([r.policy for r in requests]),
            "rules": text_array([r.rule for r in requests]),
            "cites": text_array([r.cite for r in requests]),
        },
    )


def list_reviews(conn: Connection, *, include_decided: bool = False) -> list[ReviewView]:
    """Review items, oldest first: open ones only unless `include_decided`."""
    q = select(_items).order_by(_items.c.queued_at, _items.c.id)
    if not include_decided:
        q = q.where(_items.c.decided_at.is_(None))
    return [_view(row) for row in conn.execute(q)]


def decide(
    conn: Connection,
    subject_id: uuid.UUID,
    decision: ReviewDecision,
    *,
    reason: str,
    actor: str,
    keep_until: datetime | None = None,
    clock: Clock = utc_now,
    anonymizer: Anonymizer | None = None,
) -> ReviewView:
    """Decide the subject's open item, act on the subject, and audit both; never commits."""
    reason = reason.strip()
    if not reason:
        raise BadInput("a review decision needs a reason")
    at = clock()
    if decision is ReviewDecision.KEEP:
        if keep_until is None or keep_until <= at:
            raise BadInput("keep-until needs a date in the future")
        check_within_years(keep_until, at, "keep-until")
    elif keep_until is not None:
        raise BadInput("a date goes only with keep-until")
    i = _items.c
    q = select(_items).where(i.subject_id == subject_id, i.decided_at.is_(None)).with_for_update()
    row = conn.execute(q).first()
    if row is None:
        raise NotFound(f"no open review for subject {subject_id}")
    events = [
        Event(
            actor=actor,
            action="review.decide",
            subject=subject_id,
            reason=reason,
            details={
                "review": str(row.id),
                "decision": decision.value,
                "keep_until": keep_until,
                "policy": row.policy,
                "rule": row.rule,
            },
        )
    ]
    if decision is ReviewDecision.ANONYMIZE:
        done = anonymize(
            conn, [(subject_id, row.country)], at=at, anonymizer=anonymizer or Anonymizer()
        )
    elif decision is ReviewDecision.DELETE:
        done = delete_subjects(conn, [subject_id], at=at, run_id=None)
    else:
        done = []
    if decision is not ReviewDecision.KEEP:
        if not done:
            raise BadInput(f"subject {subject_id} is already gone or anonymized")
        events.append(
            Event(
                actor=actor,
                action=f"candidate.{decision.value}",
                subject=subject_id,
                reason=reason,
                details={"review": str(row.id), "policy": row.policy, "rule": row.rule},
            )
        )
    conn.execute(
        update(_items)
        .where(i.id == row.id)
        .values(
            decided_at=at,
            decided_by=actor,
            decision=decision.value,
            keep_until=keep_until,
            reason=reason,
        )
    )
    record(conn, *events, at=clock())
    return _view(conn.execute(select(_items).where(i.id == row.id)).one())


def _view(row: Row[Any]) -> ReviewView:
    return ReviewView(
        row.id,
        row.subject_id,
        row.country,
        row.policy,
        row.rule,
        row.cite,
        row.queued_at,
        row.decided_at,
        row.decided_by,
        row.decision,
        row.keep_until,
    )
