"""Apply a verified inbound event to the engine's records, as far as the rules allow.

One event, one call, in the caller's transaction (with the delivery-id check and the audit entry):
- a candidate event creates or updates the subject (`external_ref` `NAME:<source id>`) and the
  application it carries; the candidate's status and dates follow its applications (any hired:
  `hired`; else any active: `in_process`; else `rejected`/`withdrawn`, decided when the last of
  them was). An event older than the newest one applied (by the event's own timestamp) changes
  nothing; an event without a timestamp of its own (several of Greenhouse's) is applied in the
  order it arrives.
- `deleted` erases the subject here (rows now, files after commit), audited as deleted at the
  source, and tells every other target; `merged` folds the duplicate into the surviving record;
  `anonymized` clears the fields the source anonymized; `application_deleted` drops the
  application.
- The rules: nothing re-enters an anonymized or erased subject (the link to the source survives
  as a keyed hash, see `retention.store.integration_tables`); a blocked subject (restricted
  processing) takes no changes but may be erased; under a legal hold nothing is erased,
  anonymized or overwritten, only status, dates and new applications are recorded. Each refusal
  is an audit entry without personal data.

The audit actor is the source (`integration:NAME`): the signature over the request is its
credential, and what it may do is the INTEGRATION role's candidate:write, plus erasure of
records it is itself the source of.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, delete, func, select, update

from audit_log import Event, Outcome
from retention.config import Integration
from retention.countries import parse_country
from retention.integration.events import (
    PERSON_FIELDS,
    ApplicationFacts,
    EventKind,
    InboundEvent,
)
from retention.integration.outbox import write_outbox
from retention.store import (
    Application,
    Candidate,
    CandidateStatus,
    Consent,
    Document,
    DriverSQL,
    IntegrationLink,
    LegalHold,
    queue_documents,
    record,
    table_of,
)

__all__ = ["Applied", "Effect", "actor_of", "apply_event", "first_delivery", "link_key"]

_candidates = table_of(Candidate)
_applications = table_of(Application)
_links = table_of(IntegrationLink)
_holds = table_of(LegalHold)
_consents = table_of(Consent)
_documents = table_of(Document)

UNSPECIFIED_POSITION = "unspecified"

# The hot path's statements, built once: building a Core statement and its cache key on every
# event cost more than SQLite's work for it.
_lk = _links.c
_LINK = select(_lk.subject_id, _lk.application_id, _lk.event_at).where(
    _lk.source == bindparam("source"), _lk.kind == bindparam("kind"), _lk.key == bindparam("key")
)
_SUBJECT = select(_candidates).where(_candidates.c.id == bindparam("subject")).with_for_update()
_HELD = select(func.count()).where(
    _holds.c.subject_id == bindparam("subject"), _holds.c.released_at.is_(None)
)
# The statements every new candidate runs go to the driver (`DriverSQL`): through SQLAlchemy
# their parameter and result processing cost more than SQLite's work for them.
# What a candidate event needs to know first, in one statement instead of three: the link of
# its candidate, the record an import may already hold under its external_ref (unique), and
# the link of its application (each at most one row: the links' key is their primary key).
_FIRST_LOOK = (
    "SELECT cl.subject_id, cl.event_at, c.id, al.subject_id, al.application_id, al.event_at"
    " FROM (SELECT 1) AS one"
    " LEFT OUTER JOIN integration_link AS cl"
    " ON cl.source = ? AND cl.kind = 'candidate' AND cl.\"key\" = ?"
    " LEFT OUTER JOIN candidate AS c ON c.external_ref = ?"
    " LEFT OUTER JOIN integration_link AS al"
    " ON al.source = ? AND al.kind = 'application' AND al.\"key\" = ?"
)
_FIRST_DELIVERY = (
    "INSERT INTO integration_delivery (source, delivery_id, received_at) VALUES (?, ?, ?)"
    " ON CONFLICT DO NOTHING RETURNING delivery_id"
)
_CANDIDATE_COLUMNS = (
    "id", "external_ref", "country", "status", *PERSON_FIELDS, "applied_at", "decided_at",
    "last_activity_at", "created_at", "updated_at",
)  # fmt: skip
_INSERT_CANDIDATE = (
    f"INSERT INTO candidate ({', '.join(_CANDIDATE_COLUMNS)})"  # noqa: S608 (constant names)
    f" VALUES ({', '.join('?' * len(_CANDIDATE_COLUMNS))})"
)
_INSERT_APPLICATION = (
    "INSERT INTO application (candidate_id, position, status, applied_at, decided_at)"
    " VALUES (?, ?, ?, ?, ?) RETURNING id"
)
_LINK_VALUES = "(?, ?, ?, ?, ?, ?)"
_LINK_INTO = (
    'INSERT INTO integration_link (source, kind, "key", subject_id, application_id, event_at)'
)
_INSERT_LINKS = {n: f"{_LINK_INTO} VALUES {', '.join([_LINK_VALUES] * n)}" for n in (1, 2)}
_STATUS_ORDER = (
    CandidateStatus.HIRED,
    CandidateStatus.IN_PROCESS,
    CandidateStatus.REJECTED,
    CandidateStatus.WITHDRAWN,
)


class Effect:
    CREATED = "created"
    UPDATED = "updated"
    ERASED = "erased"
    MERGED = "merged"
    ANONYMIZED = "anonymized"
    APPLICATION_DELETED = "application_deleted"
    STALE = "stale"
    UNKNOWN = "unknown"  # about a record the engine never had
    IGNORED = "ignored"
    REFUSED = "refused"


@dataclass(frozen=True)
class Applied:
    effect: str
    subject: uuid.UUID | None = None
    reason: str | None = None
    fields: tuple[str, ...] = ()
    outbox: int = 0
    files: bool = False  # document files were queued for removal after commit
    extra: Mapping[str, Any] = field(default_factory=dict)


def actor_of(integration: Integration) -> str:
    return f"integration:{integration.name}"


def link_key(secret: bytes, kind: str, source_id: str) -> str:
    """The keyed hash a source record is known by here."""
    return hmac.new(secret, f"{kind}:{source_id}".encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class _Link:
    """A link row as `_Context.link` returns it."""

    subject_id: uuid.UUID
    application_id: int | None
    event_at: datetime | None


_UNLOOKED = object()  # the application's link was not looked up yet


@dataclass
class _Context:
    conn: Connection
    integration: Integration
    secret: bytes
    targets: Sequence[Integration]
    event: InboundEvent
    at: datetime
    delivery_id: str
    sql: DriverSQL

    def key(self, kind: str, source_id: str) -> str:
        return link_key(self.secret, kind, source_id)

    def link(self, kind: str, source_id: str) -> Any:
        params = {"source": self.integration.name, "kind": kind, "key": self.key(kind, source_id)}
        return self.conn.execute(_LINK, params).one_or_none()

    def subject(self, subject_id: uuid.UUID) -> Any:
        return self.conn.execute(_SUBJECT, {"subject": subject_id}).one_or_none()

    def held(self, subject_id: uuid.UUID) -> bool:
        return bool(self.conn.execute(_HELD, {"subject": subject_id}).scalar_one())

    def audit(self, applied: Applied) -> Applied:
        details: dict[str, Any] = {
            "source": self.integration.name,
            "event": self.event.type,
            "delivery": self.delivery_id,
            "effect": applied.effect,
        }
        if applied.fields:
            details["fields"] = list(applied.fields)
        details.update(applied.extra)
        refused = applied.effect == Effect.REFUSED
        action = "candidate.erase" if applied.effect == Effect.ERASED else "integration.event"
        record(
            self.conn,
            Event(
                actor=actor_of(self.integration),
                action=action,
                subject=applied.subject,
                outcome=Outcome.DENIED if refused else Outcome.OK,
                reason=applied.reason or "",
                details=details,
            ),
            at=self.at,
        )
        return applied

    def refuse(self, subject: uuid.UUID | None, reason: str) -> Applied:
        return self.audit(Applied(Effect.REFUSED, subject, reason))


def first_delivery(conn: Connection, source: str, delivery_id: str, at: datetime) -> bool:
    """Record `delivery_id` of `source`, in the caller's transaction: False if it was there
    already (a redelivery, acknowledged without acting again). One statement decides; RETURNING,
    not a row count (psycopg reports -1 for an INSERT ... ON CONFLICT)."""
    sql = DriverSQL(conn)
    return (
        sql.execute(_FIRST_DELIVERY, (source, delivery_id, sql.instant(at))).fetchone() is not None
    )


def apply_event(
    conn: Connection,
    integration: Integration,
    event: InboundEvent,
    *,
    secret: bytes,
    targets: Sequence[Integration],
    at: datetime,
    delivery_id: str,
) -> Applied:
    """Apply `event` from `integration` in the caller's transaction and audit what it did."""
    ctx = _Context(conn, integration, secret, targets, event, at, delivery_id, DriverSQL(conn))
    if event.kind in (EventKind.PING, EventKind.IGNORED) or event.candidate_id is None:
        return Applied(Effect.IGNORED)
    handler = _HANDLERS[event.kind]
    return handler(ctx, event.candidate_id)


# --- candidate and application changes ---------------------------------------------------


def _candidate_event(ctx: _Context, source_id: str) -> Applied:
    event = ctx.event
    ref = f"{ctx.integration.ref_prefix}{source_id}"
    facts = event.application
    sql, name = ctx.sql, ctx.integration.name
    app_key = ctx.key("application", facts.id) if facts else ""
    found = sql.execute(
        _FIRST_LOOK, (name, ctx.key("candidate", source_id), ref, name, app_key)
    ).fetchone()
    linked, last, adopted, app_subject, app_id, app_at = found
    app_link: Any = None
    app_subject_id = sql.read_uuid(app_subject)
    if app_subject_id is not None:
        app_link = _Link(app_subject_id, app_id, sql.read_instant(app_at))
    if linked is None:
        if adopted is None:
            return _create(ctx, source_id, app_link)
        subject_id = sql.read_uuid(adopted)
        assert subject_id is not None
        _link(ctx, "candidate", source_id, subject_id, None)
        last = None
    else:
        subject_id, last = sql.read_uuid(linked), sql.read_instant(last)
        assert subject_id is not None
    row = ctx.subject(subject_id)
    if row is None:
        return ctx.refuse(subject_id, "the subject was erased here; the event is not applied")
    if row.anonymized_at is not None:
        return ctx.refuse(
            subject_id, "the subject is anonymized; no personal data re-enters its record"
        )
    if row.blocked_at is not None:
        return ctx.refuse(subject_id, "the subject is blocked (restricted processing)")
    if event.occurred_at and last and event.occurred_at < last:
        return ctx.audit(Applied(Effect.STALE, subject_id, "older than the state already stored"))
    held = ctx.held(subject_id)
    changes: dict[str, Any] = {}
    if not held:
        for name, value in event.person.items():
            if getattr(row, name) != value:
                changes[name] = value
        country = _country(ctx)
        if event.country and country and country != row.country:
            changes["country"] = country
    fields = sorted(changes)
    if event.application is not None:
        _upsert_application(ctx, subject_id, event.application, app_link)
        fields.append("application")
    changes.update(_status_from_applications(ctx, subject_id, row))
    changes["last_activity_at"] = _latest(row.last_activity_at, event.occurred_at or ctx.at)
    changes["updated_at"] = ctx.at
    ctx.conn.execute(update(_candidates).where(_candidates.c.id == subject_id).values(**changes))
    _touch(ctx, "candidate", source_id)
    reason = "under legal hold: personal fields kept as they were" if held else None
    return ctx.audit(Applied(Effect.UPDATED, subject_id, reason, tuple(fields)))


def _create(ctx: _Context, source_id: str, app_link: Any = _UNLOOKED) -> Applied:
    event = ctx.event
    country = _country(ctx)
    if country is None:
        return ctx.refuse(
            None,
            f"no country: the event names none and integration {ctx.integration.name} "
            "has no default country",
        )
    subject_id = uuid.uuid4()
    at = event.occurred_at or ctx.at
    facts = event.application
    status = (facts.status if facts else None) or CandidateStatus.IN_PROCESS.value
    decided = None
    if status != CandidateStatus.IN_PROCESS.value and facts is not None:
        decided = facts.decided_at or at
    sql, person = ctx.sql, event.person
    stamp = sql.instant(ctx.at)
    ctx.sql.execute(
        _INSERT_CANDIDATE,
        (
            sql.uuid(subject_id),
            f"{ctx.integration.ref_prefix}{source_id}",
            country,
            status,
            *[person.get(f) for f in PERSON_FIELDS],
            sql.instant((facts.applied_at if facts else None) or at),
            sql.instant(decided),
            sql.instant(at),
            stamp,
            stamp,
        ),
    )
    # The new record's links go in together, after its application: one statement, not two.
    links = [_link_row(ctx, "candidate", source_id, subject_id, None, event.occurred_at)]
    fields = sorted(event.person)
    if facts is not None:
        _upsert_application(ctx, subject_id, facts, app_link, links=links)
        fields.append("application")
    _insert_links(ctx, links)
    return ctx.audit(Applied(Effect.CREATED, subject_id, None, tuple(fields)))


def _country(ctx: _Context) -> str | None:
    if ctx.event.country:
        code = parse_country(ctx.event.country)
        if code:
            return code
    return ctx.integration.country


def _latest(a: datetime | None, b: datetime | None) -> datetime | None:
    present = [x for x in (a, b) if x is not None]
    return max(present) if present else None


def _link(
    ctx: _Context,
    kind: str,
    source_id: str,
    subject_id: uuid.UUID,
    application_id: int | None,
    *,
    event_at: datetime | None = None,
) -> None:
    _insert_links(ctx, [_link_row(ctx, kind, source_id, subject_id, application_id, event_at)])


_LinkRow = tuple[str, str, str, Any, int | None, Any]


def _link_row(
    ctx: _Context,
    kind: str,
    source_id: str,
    subject_id: uuid.UUID,
    application_id: int | None,
    event_at: datetime | None,
) -> _LinkRow:
    """A link row in storage form (`_INSERT_LINKS`' column order)."""
    sql = ctx.sql
    return (
        ctx.integration.name,
        kind,
        ctx.key(kind, source_id),
        sql.uuid(subject_id),
        application_id,
        sql.instant(event_at),
    )


def _insert_links(ctx: _Context, rows: Sequence[_LinkRow]) -> None:
    ctx.sql.execute(_INSERT_LINKS[len(rows)], [value for row in rows for value in row])


def _touch(ctx: _Context, kind: str, source_id: str) -> None:
    """Record the event's own time on the link (never moving it back)."""
    if ctx.event.occurred_at is None:
        return
    lk = _links.c
    ctx.conn.execute(
        update(_links)
        .where(
            lk.source == ctx.integration.name,
            lk.kind == kind,
            lk.key == ctx.key(kind, source_id),
            (lk.event_at.is_(None)) | (lk.event_at < ctx.event.occurred_at),
        )
        .values(event_at=ctx.event.occurred_at)
    )


def _upsert_application(
    ctx: _Context,
    subject_id: uuid.UUID,
    facts: ApplicationFacts,
    link: Any = _UNLOOKED,
    *,
    links: list[_LinkRow] | None = None,
) -> None:
    """Create or update the application `facts` describe; `link` is its link row if the caller
    looked it up already (None: there is none). A new application's link is added to `links`
    when given (the caller inserts them), else inserted here."""
    if link is _UNLOOKED:
        link = ctx.link("application", facts.id)
    values: dict[str, Any] = {}
    if facts.status:
        values["status"] = facts.status
    if facts.position:
        values["position"] = facts.position
    if facts.applied_at:
        values["applied_at"] = facts.applied_at
    if facts.status in ("rejected", "withdrawn", "hired"):
        values["decided_at"] = facts.decided_at or ctx.event.occurred_at or ctx.at
    elif facts.status == "in_process":
        values["decided_at"] = None
    if link is not None and link.application_id is not None:
        if link.event_at and ctx.event.occurred_at and ctx.event.occurred_at < link.event_at:
            return
        exists = ctx.conn.execute(
            update(_applications)
            .where(_applications.c.id == link.application_id)
            .values(candidate_id=subject_id, **values)
        ).rowcount
        if exists:
            _touch(ctx, "application", facts.id)
            return
        ctx.conn.execute(
            delete(_links).where(
                _links.c.source == ctx.integration.name,
                _links.c.kind == "application",
                _links.c.key == ctx.key("application", facts.id),
            )
        )
    sql = ctx.sql
    row = (
        sql.uuid(subject_id),
        values.get("position", UNSPECIFIED_POSITION),
        values.get("status", CandidateStatus.IN_PROCESS.value),
        sql.instant(values.get("applied_at")),
        sql.instant(values.get("decided_at")),
    )
    new_id = int(sql.execute(_INSERT_APPLICATION, row).fetchone()[0])
    if links is None:
        _link(ctx, "application", facts.id, subject_id, new_id, event_at=ctx.event.occurred_at)
    else:
        links.append(
            _link_row(ctx, "application", facts.id, subject_id, new_id, ctx.event.occurred_at)
        )


def _status_from_applications(ctx: _Context, subject_id: uuid.UUID, row: Any) -> dict[str, Any]:
    a = _applications.c
    apps = ctx.conn.execute(
        select(a.status, a.applied_at, a.decided_at).where(a.candidate_id == subject_id)
    ).all()
    if not apps:
        return {}
    statuses = {r.status for r in apps}
    status = next((s for s in _STATUS_ORDER if s.value in statuses), CandidateStatus.IN_PROCESS)
    out: dict[str, Any] = {"status": status.value}
    applied = [r.applied_at for r in apps if r.applied_at is not None]
    if applied:
        out["applied_at"] = min(applied)
    if status is CandidateStatus.IN_PROCESS:
        out["decided_at"] = None
    else:
        decided = [r.decided_at for r in apps if r.status == status.value and r.decided_at]
        out["decided_at"] = max(decided) if decided else (row.decided_at or ctx.at)
    return out


# --- deletion, merge, anonymization at the source ------------------------------------------


def _deleted(ctx: _Context, source_id: str) -> Applied:
    link = ctx.link("candidate", source_id)
    if link is None:
        return ctx.audit(Applied(Effect.UNKNOWN, None, "no record of this source candidate"))
    subject_id = link.subject_id
    row = ctx.subject(subject_id)
    if row is None:
        return ctx.audit(Applied(Effect.STALE, subject_id, "already erased here"))
    if ctx.held(subject_id):
        return ctx.refuse(
            subject_id, "deleted at the source; kept here under legal hold (Art. 17(3)(e))"
        )
    counts = _erase(ctx, subject_id)
    return ctx.audit(
        Applied(
            Effect.ERASED,
            subject_id,
            "deleted at the source",
            outbox=counts.pop("outbox"),
            files=counts["documents"] > 0,
            extra={"deleted_at_source": True, **counts},
        )
    )


def _erase(ctx: _Context, subject_id: uuid.UUID) -> dict[str, int]:
    conn = ctx.conn
    outbox = write_outbox(
        conn, ctx.targets, "erase", [subject_id], at=ctx.at, exclude=ctx.integration.name
    )

    def count(table: Any) -> int:
        return int(
            conn.execute(
                select(func.count()).where(table.c.candidate_id == subject_id)
            ).scalar_one()
        )

    counts = {
        "applications": count(_applications),
        "consents": count(_consents),
        "documents": count(_documents),
    }
    queue_documents(conn, [subject_id], at=ctx.at, run_id=None)
    conn.execute(delete(_candidates).where(_candidates.c.id == subject_id))
    return {**counts, "outbox": outbox}


def _merged(ctx: _Context, source_id: str) -> Applied:
    into = ctx.event.merged_into
    assert into is not None
    dup = ctx.link("candidate", source_id)
    if dup is None:
        return ctx.audit(Applied(Effect.UNKNOWN, None, "no record of the merged candidate"))
    dup_row = ctx.subject(dup.subject_id)
    if dup_row is None:
        return ctx.audit(Applied(Effect.STALE, dup.subject_id, "already erased here"))
    primary = ctx.link("candidate", into)
    if dup_row.anonymized_at is not None or dup_row.blocked_at is not None:
        return ctx.refuse(dup.subject_id, "the merged subject is anonymized or blocked")
    if ctx.held(dup.subject_id):
        return ctx.refuse(dup.subject_id, "the merged subject is under legal hold")
    lk = _links.c
    if primary is None:
        # Only the duplicate is known here: it becomes the surviving record.
        ctx.conn.execute(
            update(_links)
            .where(lk.source == ctx.integration.name, lk.kind == "candidate")
            .where(lk.key == ctx.key("candidate", source_id))
            .values(key=ctx.key("candidate", into))
        )
        ctx.conn.execute(
            update(_candidates)
            .where(_candidates.c.id == dup.subject_id)
            .values(external_ref=f"{ctx.integration.ref_prefix}{into}", updated_at=ctx.at)
        )
        return ctx.audit(Applied(Effect.MERGED, dup.subject_id, None, ("external_ref",)))
    survivor = ctx.subject(primary.subject_id)
    if survivor is None or survivor.anonymized_at is not None or survivor.blocked_at is not None:
        return ctx.refuse(
            dup.subject_id, "the surviving subject is erased, anonymized or blocked here"
        )
    for table in (_applications, _consents, _documents):
        ctx.conn.execute(
            update(table)
            .where(table.c.candidate_id == dup.subject_id)
            .values(candidate_id=primary.subject_id)
        )
    ctx.conn.execute(
        update(_links).where(lk.subject_id == dup.subject_id).values(subject_id=primary.subject_id)
    )
    ctx.conn.execute(
        delete(_links).where(
            lk.source == ctx.integration.name,
            lk.kind == "candidate",
            lk.key == ctx.key("candidate", source_id),
        )
    )
    ctx.conn.execute(delete(_candidates).where(_candidates.c.id == dup.subject_id))
    status = _status_from_applications(ctx, primary.subject_id, survivor)
    if status:
        ctx.conn.execute(
            update(_candidates).where(_candidates.c.id == primary.subject_id).values(**status)
        )
    return ctx.audit(
        Applied(
            Effect.MERGED,
            primary.subject_id,
            None,
            ("applications", "consents", "documents"),
            extra={"merged_subject": str(dup.subject_id)},
        )
    )


def _anonymized(ctx: _Context, source_id: str) -> Applied:
    link = ctx.link("candidate", source_id)
    if link is None:
        return ctx.audit(Applied(Effect.UNKNOWN, None, "no record of this source candidate"))
    row = ctx.subject(link.subject_id)
    if row is None or row.anonymized_at is not None:
        return ctx.audit(Applied(Effect.STALE, link.subject_id, "already anonymized or erased"))
    if ctx.held(link.subject_id):
        return ctx.refuse(link.subject_id, "anonymized at the source; kept under legal hold")
    fields = tuple(f for f in ctx.event.anonymized_fields if getattr(row, f) is not None)
    if fields:
        ctx.conn.execute(
            update(_candidates)
            .where(_candidates.c.id == link.subject_id)
            .values(updated_at=ctx.at, **dict.fromkeys(fields))
        )
    return ctx.audit(Applied(Effect.ANONYMIZED, link.subject_id, None, fields))


def _application_deleted(ctx: _Context, source_id: str) -> Applied:
    link = ctx.link("candidate", source_id)
    if link is None:
        return ctx.audit(Applied(Effect.UNKNOWN, None, "no record of this source candidate"))
    row = ctx.subject(link.subject_id)
    if row is None or row.anonymized_at is not None or row.blocked_at is not None:
        return ctx.refuse(link.subject_id, "the subject is erased, anonymized or blocked here")
    if ctx.held(link.subject_id):
        return ctx.refuse(link.subject_id, "the subject is under legal hold")
    removed = 0
    for app_id in ctx.event.application_ids:
        app = ctx.link("application", app_id)
        if app is None or app.application_id is None:
            continue
        removed += ctx.conn.execute(
            delete(_applications).where(
                _applications.c.id == app.application_id,
                _applications.c.candidate_id == link.subject_id,
            )
        ).rowcount
    status = _status_from_applications(ctx, link.subject_id, row)
    if status:
        ctx.conn.execute(
            update(_candidates).where(_candidates.c.id == link.subject_id).values(**status)
        )
    return ctx.audit(
        Applied(Effect.APPLICATION_DELETED, link.subject_id, None, extra={"removed": removed})
    )


_HANDLERS = {
    EventKind.CANDIDATE: _candidate_event,
    EventKind.DELETED: _deleted,
    EventKind.MERGED: _merged,
    EventKind.ANONYMIZED: _anonymized,
    EventKind.APPLICATION_DELETED: _application_deleted,
}
