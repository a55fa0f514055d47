"""The register of data-subject requests: opening, the state machine, and each change audited.

A request moves through a small state machine; every change is one unit of work that locks the
request row, authorizes `request:manage` in the subject's country (as the transaction sees the
grants), checks the rule of the change *at the instant it happened* (`at`, which may be earlier
than now, never later), updates the row, appends an event and one audit entry `request.<change>`
with the request id, type and dates (never the requester's contact). The entry's own timestamp is
when it was recorded; `details.at` is when it happened.

    open --verify--> verified --fulfil--> fulfilled
      |  \\              |
      |   pause <-> resume (back to open or verified; the deadline does not move)
      +--- extend (once, before the deadline), refuse (with its ground), withdraw --> closed
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, and_, func, insert, or_, select, update

from audit_log import Event
from retention.access import Decision, GrantStatus, Permission, guarded, load_access, require
from retention.clock import Clock, utc_now
from retention.config import Config
from retention.errors import BadInput, NotFound
from retention.requests.deadlines import (
    EXTENDED_MONTHS,
    STANDARD_MONTHS,
    Deadline,
    WorkingCalendar,
    deadline,
)
from retention.store import (
    Candidate,
    DataRequest,
    RequestEvent,
    RequestStatus,
    RequestType,
    check_reason,
    record,
    table_of,
)

__all__ = [
    "CHANNELS",
    "CLOSED",
    "DUPLICATE_WINDOW",
    "EventView",
    "Register",
    "RequestView",
    "parse_instant",
    "parse_request_id",
    "parse_type",
]

CHANNELS = ("email", "web", "letter", "phone", "in-person")
CLOSED = frozenset({RequestStatus.FULFILLED, RequestStatus.REFUSED, RequestStatus.WITHDRAWN})
DUPLICATE_WINDOW = timedelta(days=30)
S = RequestStatus


def parse_type(text: str) -> RequestType:
    try:
        return RequestType(text)
    except ValueError:
        raise BadInput(
            f"unknown request type (choose one of: {', '.join(t.value for t in RequestType)})"
        ) from None


def parse_request_id(text: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError:
        raise BadInput("request id must be a UUID") from None


def parse_instant(text: str, zone: ZoneInfo, what: str) -> datetime:
    """An ISO 8601 instant with its offset (2026-12-01T09:30:00Z), or a day (2026-12-01): its
    first instant in the controller's timezone."""
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time(0), tzinfo=zone).astimezone(UTC)
        value = datetime.fromisoformat(text)
    except ValueError:
        raise BadInput(f"{what} must be an instant like 2026-12-01T09:30:00Z or a day") from None
    if value.tzinfo is None:
        raise BadInput(f"{what}: give the instant with its offset, e.g. 2026-12-01T09:30:00Z")
    return value.astimezone(UTC)


@dataclass(frozen=True)
class EventView:
    kind: str
    at: datetime
    recorded_at: datetime
    actor: uuid.UUID
    note: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "at": self.at.isoformat(),
            "recorded_at": self.recorded_at.isoformat(),
            "actor": str(self.actor),
            "note": self.note,
        }


@dataclass(frozen=True)
class RequestView:
    """A request as the register holds it (its personal columns left out)."""

    id: uuid.UUID
    type: str
    subject: uuid.UUID
    country: str
    channel: str
    status: str
    received_at: datetime
    due_on: date
    due_at: datetime
    extended_at: datetime | None
    extension_reason: str | None
    verified_at: datetime | None
    approved_at: datetime | None
    approved_by: uuid.UUID | None
    closed_at: datetime | None
    refusal_ground: str | None
    duplicate_of: uuid.UUID | None
    opened_by: uuid.UUID
    verified_by: uuid.UUID | None
    events: tuple[EventView, ...] = field(default=())

    @classmethod
    def of(cls, row: Any, events: Sequence[EventView] = ()) -> RequestView:
        return cls(
            id=row.id,
            type=row.type,
            subject=row.subject_id,
            country=row.country,
            channel=row.channel,
            status=row.status,
            received_at=row.received_at,
            due_on=row.due_on,
            due_at=row.due_at,
            extended_at=row.extended_at,
            extension_reason=row.extension_reason,
            verified_at=row.verified_at,
            approved_at=row.approved_at,
            approved_by=row.approved_by,
            closed_at=row.closed_at,
            refusal_ground=row.refusal_ground,
            duplicate_of=row.duplicate_of,
            opened_by=row.opened_by,
            verified_by=row.verified_by,
            events=tuple(events),
        )

    @property
    def closed(self) -> bool:
        return self.closed_at is not None

    def overdue(self, at: datetime) -> bool:
        return not self.closed and at >= self.due_at

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": str(self.id),
            "type": self.type,
            "subject": str(self.subject),
            "country": self.country,
            "channel": self.channel,
            "status": self.status,
            "received_at": self.received_at.isoformat(),
            "due_on": self.due_on.isoformat(),
            "due_at": self.due_at.isoformat(),
            "extended": self.extended_at is not None,
            "extended_at": _iso(self.extended_at),
            "extension_reason": self.extension_reason,
            "verified_at": _iso(self.verified_at),
            "approved_at": _iso(self.approved_at),
            "closed_at": _iso(self.closed_at),
            "refusal_ground": self.refusal_ground,
            "duplicate_of": None if self.duplicate_of is None else str(self.duplicate_of),
        }
        if self.events:
            out["events"] = [e.to_json() for e in self.events]
        return out


def _iso(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat()


Change = Callable[[Any, datetime], Mapping[str, Any]]
"""The rule of one state change: given the locked row and the instant, the columns to set (or
BadInput when the change is not allowed then)."""


@dataclass(frozen=True)
class Register:
    """The request register as one authenticated principal changes it, every change audited."""

    engine: Engine
    principal_id: uuid.UUID
    zone: ZoneInfo
    calendar: WorkingCalendar
    clock: Clock = utc_now

    @classmethod
    def of(
        cls, engine: Engine, config: Config, principal_id: uuid.UUID, clock: Clock = utc_now
    ) -> Register:
        return cls(
            engine, principal_id, config.zone, WorkingCalendar.of(config.requests.calendar), clock
        )

    def deadline(self, received_at: datetime, extended: bool = False) -> Deadline:
        months = EXTENDED_MONTHS if extended else STANDARD_MONTHS
        return deadline(received_at, self.zone, self.calendar, months=months)

    def when(self, at: datetime | None, now: datetime) -> datetime:
        """The instant a change happened: now by default, never in the future."""
        if at is None:
            return now
        if at > now:
            raise BadInput("--at is in the future: a change is recorded when it has happened")
        return at

    # --- opening ----------------------------------------------------------------------------

    def open(
        self,
        kind: RequestType,
        subject_id: uuid.UUID,
        *,
        received_at: datetime,
        channel: str,
        contact: str | None = None,
        at: datetime | None = None,
    ) -> RequestView:
        """Register a request received at `received_at` about a stored subject."""
        if channel not in CHANNELS:
            raise BadInput(f"--channel must be one of: {', '.join(CHANNELS)}")
        actor = self.principal_id

        def unit(conn: Connection) -> RequestView:
            now = self.clock()
            when = self.when(at, now)
            if received_at > when:
                raise BadInput("--received is after the instant the request was opened")
            c = table_of(Candidate).c
            country = conn.execute(select(c.country).where(c.id == subject_id)).scalar()
            decision = require(
                conn,
                actor,
                Permission.REQUEST_MANAGE,
                at=now,
                action="request.open",
                country=country,
                subject=subject_id,
            )
            if country is None:
                raise NotFound(f"no subject {subject_id}")
            due = self.deadline(received_at)
            duplicate = _duplicate_of(conn, kind, subject_id, received_at)
            rid = uuid.uuid4()
            conn.execute(
                insert(table_of(DataRequest)).values(
                    id=rid,
                    type=kind.value,
                    subject_id=subject_id,
                    country=country,
                    channel=channel,
                    status=S.OPEN.value,
                    received_at=received_at,
                    due_on=due.due_on,
                    due_at=due.ends_at,
                    duplicate_of=duplicate,
                    opened_by=actor,
                    created_at=now,
                    contact=contact,
                )
            )
            row = _locked(conn, rid)
            extra = {"channel": channel, "duplicate_of": duplicate}
            self._append(conn, row, "open", when, now, None, decision, extra)
            return RequestView.of(row)

        return guarded(self.engine, unit)

    # --- the state changes ------------------------------------------------------------------

    def verify(self, rid: uuid.UUID, method: str, at: datetime | None = None) -> RequestView:
        """Identity confirmed by `method` (the method is recorded, never the documents)."""
        method = check_reason(method, "--method", 200)

        def change(row: Any, when: datetime) -> Mapping[str, Any]:
            if row.status not in (S.OPEN, S.PAUSED) or row.verified_at is not None:
                raise BadInput(f"request {row.id} is {row.status}: only an open one is verified")
            return {
                "status": S.VERIFIED.value,
                "verified_at": when,
                "verified_by": self.principal_id,
                "verification_method": method,
            }

        # The method goes into the register, not the log: it may describe the person's papers.
        return self.change(rid, "verify", change, at=at)

    def pause(self, rid: uuid.UUID, reason: str, at: datetime | None = None) -> RequestView:
        reason = check_reason(reason)

        def change(row: Any, when: datetime) -> Mapping[str, Any]:
            if row.status not in (S.OPEN, S.VERIFIED):
                raise BadInput(f"request {row.id} is {row.status}: only an open one is paused")
            return {"status": S.PAUSED.value}

        return self.change(rid, "pause", change, at=at, note=reason)

    def resume(self, rid: uuid.UUID, at: datetime | None = None) -> RequestView:
        def change(row: Any, when: datetime) -> Mapping[str, Any]:
            if row.status != S.PAUSED:
                raise BadInput(f"request {row.id} is {row.status}: only a paused one is resumed")
            back = S.VERIFIED if row.verified_at is not None else S.OPEN
            return {"status": back.value}

        return self.change(rid, "resume", change, at=at)

    def extend(self, rid: uuid.UUID, reason: str, at: datetime | None = None) -> RequestView:
        """Three months from receipt instead of one (Art. 12(3)): once, before the deadline."""
        reason = check_reason(reason)

        def change(row: Any, when: datetime) -> Mapping[str, Any]:
            _open_or_fail(row)
            if row.extended_at is not None:
                raise BadInput(f"request {row.id} was extended already: Art. 12(3) allows once")
            if when >= row.due_at:
                raise BadInput(
                    f"request {row.id} was due on {row.due_on}: an extension must be made "
                    "before the deadline passes"
                )
            due = self.deadline(row.received_at, extended=True)
            return {
                "extended_at": when,
                "extension_reason": reason,
                "due_on": due.due_on,
                "due_at": due.ends_at,
            }

        return self.change(rid, "extend", change, at=at, note=reason)

    def refuse(self, rid: uuid.UUID, ground: str, at: datetime | None = None) -> RequestView:
        """Refuse, with the ground (Art. 12(5), 17(3)...); the requester is told it (Art. 12(4))."""
        ground = check_reason(ground, "--ground")

        def change(row: Any, when: datetime) -> Mapping[str, Any]:
            _open_or_fail(row)
            return {"status": S.REFUSED.value, "closed_at": when, "refusal_ground": ground}

        return self.change(rid, "refuse", change, at=at, note=ground)

    def withdraw(self, rid: uuid.UUID, at: datetime | None = None) -> RequestView:
        def change(row: Any, when: datetime) -> Mapping[str, Any]:
            _open_or_fail(row)
            return {"status": S.WITHDRAWN.value, "closed_at": when}

        return self.change(rid, "withdraw", change, at=at)

    def approve(self, rid: uuid.UUID, at: datetime | None = None) -> RequestView:
        """A second principal's approval of an erasure: not whoever opened or verified it."""

        def change(row: Any, when: datetime) -> Mapping[str, Any]:
            _open_or_fail(row)
            if row.type != RequestType.ERASURE:
                raise BadInput(f"request {row.id} is {row.type}: only an erasure needs approval")
            if row.status != S.VERIFIED:
                raise BadInput(f"request {row.id} is {row.status}: verify the identity first")
            if self.principal_id in (row.opened_by, row.verified_by):
                raise BadInput(
                    f"request {row.id}: the approval must come from a second principal, not the "
                    "one who opened or verified it"
                )
            return {"approved_at": when, "approved_by": self.principal_id}

        return self.change(rid, "approve", change, at=at)

    def change(
        self,
        rid: uuid.UUID,
        kind: str,
        change: Change,
        *,
        at: datetime | None = None,
        note: str | None = None,
    ) -> RequestView:
        """Apply one state change as a unit of work of its own."""

        def unit(conn: Connection) -> RequestView:
            return self.change_in(conn, rid, kind, change, at=at, now=self.clock(), note=note)

        return guarded(self.engine, unit)

    def change_in(
        self,
        conn: Connection,
        rid: uuid.UUID,
        kind: str,
        change: Change,
        *,
        at: datetime | None,
        now: datetime,
        note: str | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> RequestView:
        """Apply one state change in the caller's transaction (fulfilment runs it beside the
        action on the subject): lock, authorize, check at `at`, update, append, audit."""
        when = self.when(at, now)
        row = _locked(conn, rid)
        decision = require(
            conn,
            self.principal_id,
            Permission.REQUEST_MANAGE,
            at=now,
            action=f"request.{kind}",
            country=row.country,
            subject=row.subject_id,
        )
        last = _last_event_at(conn, rid)
        if when < row.received_at or (last is not None and when < last):
            raise BadInput(
                f"--at is before the request's {'receipt' if last is None else 'last change'}: "
                "changes are recorded in the order they happened"
            )
        values = dict(change(row, when))
        if values:  # some changes (a lift) only add their event
            t = table_of(DataRequest)
            conn.execute(update(t).where(t.c.id == rid).values(**values))
        fresh = _locked(conn, rid)
        self._append(conn, fresh, kind, when, now, note, decision, extra or {})
        return RequestView.of(fresh)

    def check(self, conn: Connection, rid: uuid.UUID, kind: str, now: datetime) -> Any:
        """The locked row, once `request:manage` is allowed on it (before a fulfilment acts)."""
        row = _locked(conn, rid)
        require(
            conn,
            self.principal_id,
            Permission.REQUEST_MANAGE,
            at=now,
            action=f"request.{kind}",
            country=row.country,
            subject=row.subject_id,
        )
        return row

    def _append(
        self,
        conn: Connection,
        row: Any,
        kind: str,
        when: datetime,
        now: datetime,
        note: str | None,
        decision: Decision,
        extra: Mapping[str, Any],
    ) -> None:
        conn.execute(
            insert(table_of(RequestEvent)).values(
                request_id=row.id, kind=kind, at=when, recorded_at=now, actor=self.principal_id,
                note=note,
            )
        )  # fmt: skip
        details = {
            "request": str(row.id),
            "type": row.type,
            "status": row.status,
            "at": when,
            "received_at": row.received_at,
            "due_on": row.due_on.isoformat(),
            "extended": row.extended_at is not None,
            "allowed_by": str(decision.grant_id),
            **{k: v for k, v in extra.items() if v is not None},
        }
        event = Event(
            actor=str(self.principal_id),
            action=f"request.{kind}",
            subject=row.subject_id,
            reason=note or "",
            details=details,
        )
        record(conn, event, at=now)

    # --- reading ----------------------------------------------------------------------------

    def list(
        self,
        *,
        status: str | None = None,
        overdue: bool = False,
        due_within: timedelta | None = None,
        limit: int = 1000,
    ) -> list[RequestView]:
        """Requests in the countries where this principal has request:manage, by deadline.

        `status` "extended" lists open requests that were extended; `overdue` and `due_within`
        list open requests only (a closed request is due no more).
        """
        if status is not None and status != "extended" and status not in set(RequestStatus):
            raise BadInput(
                "--status must be one of: "
                + ", ".join([*(s.value for s in RequestStatus), "extended"])
            )

        def unit(conn: Connection) -> list[RequestView]:
            now = self.clock()
            countries = self._countries(conn, now)
            t = table_of(DataRequest).c
            q = select(table_of(DataRequest))
            if countries is not None:
                q = q.where(t.country.in_(sorted(countries)))
            if status == "extended":
                q = q.where(t.extended_at.is_not(None), t.closed_at.is_(None))
            elif status is not None:
                q = q.where(t.status == status)
            if overdue or due_within is not None:
                q = q.where(t.closed_at.is_(None))
                bounds = []
                if overdue:
                    bounds.append(t.due_at <= now)
                if due_within is not None:
                    bounds.append(and_(t.due_at > now, t.due_at <= now + due_within))
                q = q.where(or_(*bounds))
            rows = conn.execute(q.order_by(t.due_at, t.id).limit(limit)).all()
            return [RequestView.of(r) for r in rows]

        return guarded(self.engine, unit)

    def _countries(self, conn: Connection, now: datetime) -> frozenset[str] | None:
        """Where this principal may manage requests now: None for everywhere; denied if nowhere."""
        principal, views = load_access(conn, self.principal_id)
        found: set[str] = set()
        if principal is not None and (principal.disabled_at is None or principal.disabled_at > now):
            for g in views:
                live = g.status is GrantStatus.ACTIVE and g.expires_at > now
                live = live and (g.revoked_at is None or g.revoked_at > now)
                if live and Permission.REQUEST_MANAGE in g.permissions:
                    if g.countries is None:
                        return None
                    found |= g.countries
        if not found:
            require(
                conn, self.principal_id, Permission.REQUEST_MANAGE, at=now, action="request.list"
            )
        return frozenset(found)

    def show(self, rid: uuid.UUID) -> RequestView:
        """One request with its events (needs request:manage in its subject's country)."""

        def unit(conn: Connection) -> RequestView:
            row = self.check(conn, rid, "show", self.clock())
            e = table_of(RequestEvent).c
            events = conn.execute(
                select(e.kind, e.at, e.recorded_at, e.actor, e.note)
                .where(e.request_id == rid)
                .order_by(e.id)
            ).all()
            return RequestView.of(row, [EventView(*r) for r in events])

        return guarded(self.engine, unit)


def _locked(conn: Connection, rid: uuid.UUID) -> Any:
    t = table_of(DataRequest)
    row = conn.execute(select(t).where(t.c.id == rid).with_for_update()).one_or_none()
    if row is None:
        raise NotFound(f"no request {rid}")
    return row


def _last_event_at(conn: Connection, rid: uuid.UUID) -> datetime | None:
    e = table_of(RequestEvent).c
    value: datetime | None = conn.execute(
        select(func.max(e.at)).where(e.request_id == rid)
    ).scalar()
    if value is not None and value.tzinfo is None:  # max() loses the column type on SQLite
        value = value.replace(tzinfo=UTC)
    return value


def _open_or_fail(row: Any) -> None:
    if row.closed_at is not None:
        raise BadInput(f"request {row.id} is {row.status} (closed on {row.closed_at:%Y-%m-%d})")


def _duplicate_of(
    conn: Connection, kind: RequestType, subject_id: uuid.UUID, received_at: datetime
) -> uuid.UUID | None:
    """An earlier request of the same type and subject received within 30 days, if any."""
    t = table_of(DataRequest).c
    q = (
        select(t.id)
        .where(
            t.subject_id == subject_id,
            t.type == kind.value,
            t.received_at <= received_at,
            t.received_at > received_at - DUPLICATE_WINDOW,
        )
        .order_by(t.received_at.desc())
        .limit(1)
    )
    found: uuid.UUID | None = conn.execute(q).scalar()
    return found
