"""Data-subject requests as service operations: open, list, show, each state change, fulfil.

One operation per `gdpr request` command. Each builds the register (`retention.requests.Register`)
and, where personal data is read or changed, the audited gateway as the given principal; the
register authorizes `request:manage` in the subject's country inside the transaction that changes
and audits. A change may be dated `at` an earlier instant (never a later one) and its rules apply
at that instant.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from audit_log import Event
from retention.access import PrincipalView
from retention.clock import Clock, utc_now
from retention.errors import BadInput, NotFound
from retention.install import Installation
from retention.operations.subjects import gateway_for
from retention.requests import DueList, Fulfiller, Fulfilment, Register, RequestView, due_list
from retention.store import RequestType, record, transaction

__all__ = [
    "ApproveRequest",
    "DueList",
    "DueRequests",
    "ExtendRequest",
    "FulfilRequest",
    "Fulfilment",
    "LiftRestriction",
    "ListRequests",
    "OpenRequest",
    "PauseRequest",
    "RefuseRequest",
    "RequestChange",
    "RequestView",
    "ResumeRequest",
    "ShowRequest",
    "VerifyRequest",
    "WithdrawRequest",
    "approve_request",
    "change_request",
    "extend_request",
    "fulfil_request",
    "lift_restriction",
    "list_requests",
    "open_request",
    "pause_request",
    "refuse_request",
    "requests_due",
    "resume_request",
    "show_request",
    "verify_request",
    "withdraw_request",
]


# --- requests -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class OpenRequest:
    type: RequestType
    received_at: datetime
    subject_id: uuid.UUID | None = None
    email: str | None = None
    external_ref: str | None = None
    channel: str = "email"
    at: datetime | None = None


@dataclass(frozen=True)
class ListRequests:
    status: str | None = None
    overdue: bool = False
    due_within: timedelta | None = None


@dataclass(frozen=True)
class ShowRequest:
    request_id: uuid.UUID


@dataclass(frozen=True)
class VerifyRequest:
    request_id: uuid.UUID
    method: str
    at: datetime | None = None


@dataclass(frozen=True)
class PauseRequest:
    request_id: uuid.UUID
    reason: str
    at: datetime | None = None


@dataclass(frozen=True)
class ResumeRequest:
    request_id: uuid.UUID
    at: datetime | None = None


@dataclass(frozen=True)
class ExtendRequest:
    request_id: uuid.UUID
    reason: str
    at: datetime | None = None


@dataclass(frozen=True)
class RefuseRequest:
    request_id: uuid.UUID
    ground: str
    at: datetime | None = None


@dataclass(frozen=True)
class WithdrawRequest:
    request_id: uuid.UUID
    at: datetime | None = None


@dataclass(frozen=True)
class ApproveRequest:
    request_id: uuid.UUID
    at: datetime | None = None


@dataclass(frozen=True)
class FulfilRequest:
    request_id: uuid.UUID
    at: datetime | None = None
    out: Path | None = None  # access, portability: the folder the package is written in
    changes: Mapping[str, str | None] = field(default_factory=dict)  # rectification
    purpose: str | None = None  # objection


@dataclass(frozen=True)
class LiftRestriction:
    request_id: uuid.UUID
    at: datetime | None = None


@dataclass(frozen=True)
class DueRequests:
    """Open requests overdue, or due within the next seven days (there is nothing to choose)."""


# --- operations ---------------------------------------------------------------------------------


def register_for(
    installation: Installation, principal: PrincipalView, *, clock: Clock = utc_now
) -> Register:
    return Register.of(installation.engine, installation.config, principal.id, clock)


def _fulfiller(installation: Installation, principal: PrincipalView, clock: Clock) -> Fulfiller:
    return Fulfiller(
        register_for(installation, principal, clock=clock),
        gateway_for(installation, principal, clock=clock),
        installation.config,
    )


def open_request(
    installation: Installation,
    principal: PrincipalView,
    request: OpenRequest,
    *,
    clock: Clock = utc_now,
) -> RequestView:
    """Register a request (needs request:manage in the subject's country); by e-mail or ATS
    reference, the subject is found through the audited gateway first."""
    given = [request.subject_id, request.email, request.external_ref]
    if sum(v is not None for v in given) != 1:
        raise BadInput("give exactly one of --subject, --email or --external-ref")
    subject = request.subject_id
    contact = request.email
    if subject is None:
        found = gateway_for(installation, principal, clock=clock).find(
            email=request.email,
            external_ref=request.external_ref,
            reason=f"data-subject request ({request.type.value})",
        )
        if not found:
            raise NotFound("no subject you may read matches: give --subject UUID")
        if len(found) > 1:
            raise BadInput(f"{len(found)} subjects match: give --subject UUID")
        subject = found[0]["id"]
    assert subject is not None
    return register_for(installation, principal, clock=clock).open(
        request.type,
        subject,
        received_at=request.received_at,
        channel=request.channel,
        contact=contact,
        at=request.at,
    )


def list_requests(
    installation: Installation,
    principal: PrincipalView,
    request: ListRequests,
    *,
    clock: Clock = utc_now,
) -> list[RequestView]:
    """Requests by deadline, in the countries where `principal` manages requests."""
    return register_for(installation, principal, clock=clock).list(
        status=request.status, overdue=request.overdue, due_within=request.due_within
    )


def show_request(
    installation: Installation,
    principal: PrincipalView,
    request: ShowRequest,
    *,
    clock: Clock = utc_now,
) -> RequestView:
    """One request with its events."""
    return register_for(installation, principal, clock=clock).show(request.request_id)


RequestChange = (
    VerifyRequest
    | PauseRequest
    | ResumeRequest
    | ExtendRequest
    | RefuseRequest
    | WithdrawRequest
    | ApproveRequest
)
"""A state change of a request: a register method, with the note it records if any."""

_CHANGES: Mapping[type, Callable[[Register, Any], RequestView]] = {
    # Identity confirmed, and how (the method, never the documents).
    VerifyRequest: lambda reg, r: reg.verify(r.request_id, r.method, at=r.at),
    # Waiting on the requester: the deadline does not move.
    PauseRequest: lambda reg, r: reg.pause(r.request_id, r.reason, at=r.at),
    ResumeRequest: lambda reg, r: reg.resume(r.request_id, at=r.at),
    # Three months from receipt instead of one: once, before the deadline, with its reason.
    ExtendRequest: lambda reg, r: reg.extend(r.request_id, r.reason, at=r.at),
    RefuseRequest: lambda reg, r: reg.refuse(r.request_id, r.ground, at=r.at),
    WithdrawRequest: lambda reg, r: reg.withdraw(r.request_id, at=r.at),
    # A second principal approves an erasure (not its opener or verifier).
    ApproveRequest: lambda reg, r: reg.approve(r.request_id, at=r.at),
}


def change_request(
    installation: Installation,
    principal: PrincipalView,
    request: RequestChange,
    *,
    clock: Clock = utc_now,
) -> RequestView:
    """Apply one state change (verify, pause, resume, extend, refuse, withdraw, approve): the
    register authorizes, applies the change's rules at `request.at` and audits it."""
    change = _CHANGES.get(type(request))
    if change is None:
        raise TypeError(f"{type(request).__name__} is not a request change")
    return change(register_for(installation, principal, clock=clock), request)


# The operation each command names: one path for all of them.
verify_request = pause_request = resume_request = extend_request = change_request
refuse_request = withdraw_request = approve_request = change_request


def fulfil_request(
    installation: Installation,
    principal: PrincipalView,
    request: FulfilRequest,
    *,
    clock: Clock = utc_now,
) -> Fulfilment:
    """Answer a verified request through its type's audited action path."""
    return _fulfiller(installation, principal, clock).fulfil(
        request.request_id,
        at=request.at,
        out=request.out,
        changes=request.changes,
        purpose=request.purpose,
    )


def lift_restriction(
    installation: Installation,
    principal: PrincipalView,
    request: LiftRestriction,
    *,
    clock: Clock = utc_now,
) -> Fulfilment:
    """End a fulfilled restriction: the subject is unblocked if the restriction blocked it."""
    return _fulfiller(installation, principal, clock).lift(request.request_id, at=request.at)


def requests_due(
    installation: Installation,
    principal: PrincipalView,
    request: DueRequests,
    *,
    clock: Clock = utc_now,
) -> DueList:
    """The scheduler's daily due list: ids, types, countries and deadlines (no personal data),
    so, like the expiry check, open to any authenticated principal; the counts are audited."""
    with transaction(installation.engine) as conn:
        now = clock()
        found = due_list(conn, now)
        record(
            conn,
            Event(actor=str(principal.id), action="request.due", details=found.counts()),
            at=now,
        )
    return found
