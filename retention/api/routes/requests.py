"""`/v1/requests`: the register of data-subject requests (GDPR Art. 15-21) over HTTP.

The `gdpr request` commands as endpoints, each calling one operation of `retention.operations`
(the register authorizes `request:manage` and audits every change). A subject is found by e-mail
address or ATS reference in the body, never the URL. Every change takes `at`, the instant it
happened (default now, never later), as `--at` does. Access and portability packages are written
under the data directory (`<data dir>/packages/`); the response names the folder and the digest.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Literal, Self

from fastapi import APIRouter, Query
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from retention.access import PrincipalView
from retention.api.auth import PrincipalDep
from retention.api.problems import ProblemKind, problems
from retention.api.state import ClockDep, InstallationDep
from retention.clock import Clock
from retention.install import Installation
from retention.operations import (
    ApproveRequest,
    DueRequests,
    ExtendRequest,
    Fulfilment,
    FulfilRequest,
    LiftRestriction,
    ListRequests,
    OpenRequest,
    PauseRequest,
    RefuseRequest,
    RequestChange,
    RequestView,
    ResumeRequest,
    ShowRequest,
    VerifyRequest,
    WithdrawRequest,
    change_request,
    fulfil_request,
    lift_restriction,
    list_requests,
    open_request,
    requests_due,
    show_request,
)
from retention.store import RequestType

__all__ = ["DataRequest", "RequestList", "router"]

router = APIRouter(prefix="/requests", tags=["requests"])

RequestKind = Literal[
    "access", "rectification", "erasure", "restriction", "portability", "objection"
]
Channel = Literal["email", "web", "letter", "phone", "in-person"]
CHANGE = problems(
    ProblemKind.BAD_REQUEST, ProblemKind.FORBIDDEN, ProblemKind.NOT_FOUND, ProblemKind.CONFLICT
)


class RequestEventOut(BaseModel):
    kind: str
    at: datetime
    recorded_at: datetime
    note: str | None


class DataRequest(BaseModel):
    """A request as the register holds it (no contact details, no identity-check method)."""

    id: uuid.UUID
    type: str
    subject: uuid.UUID
    country: str
    channel: str
    status: str
    received_at: datetime
    due_on: date
    due_at: datetime
    extended: bool
    extended_at: datetime | None
    extension_reason: str | None
    verified_at: datetime | None
    approved_at: datetime | None
    closed_at: datetime | None
    refusal_ground: str | None
    duplicate_of: uuid.UUID | None
    events: list[RequestEventOut] = []

    @classmethod
    def of(cls, view: RequestView) -> Self:
        return cls(
            id=view.id, type=view.type, subject=view.subject, country=view.country,
            channel=view.channel, status=view.status, received_at=view.received_at,
            due_on=view.due_on, due_at=view.due_at, extended=view.extended_at is not None,
            extended_at=view.extended_at, extension_reason=view.extension_reason,
            verified_at=view.verified_at, approved_at=view.approved_at,
            closed_at=view.closed_at, refusal_ground=view.refusal_ground,
            duplicate_of=view.duplicate_of,
            events=[
                RequestEventOut(kind=e.kind, at=e.at, recorded_at=e.recorded_at, note=e.note)
                for e in view.events
            ],
        )  # fmt: skip


class RequestList(BaseModel):
    items: list[DataRequest]
    next: str | None = None


class FulfilmentOut(BaseModel):
    request: DataRequest
    package: str | None = None
    sha256: str | None = None
    done: dict[str, str | int | bool | list[str]] | None = None

    @classmethod
    def of(cls, done: Fulfilment) -> Self:
        return cls(
            request=DataRequest.of(done.request),
            package=None if done.path is None else str(done.path),
            sha256=done.sha256,
            done=None if done.details is None else dict(done.details),
        )


class DueItemOut(BaseModel):
    id: uuid.UUID
    type: str
    country: str
    status: str
    due_on: date
    extended: bool


class DueOut(BaseModel):
    overdue: list[DueItemOut]
    due_within_7_days: list[DueItemOut]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")

    at: AwareDatetime | None = Field(default=None, description="When it happened; default now.")


class OpenBody(_Body):
    """Open a request about a subject named by id, e-mail address or ATS reference."""

    # Exactly one way to name the subject, stated in the schema as well as checked below.
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "oneOf": [
                {"required": ["subject"], "properties": {"subject": {"type": "string"}}},
                {"required": ["email"], "properties": {"email": {"type": "string"}}},
                {"required": ["external_ref"], "properties": {"external_ref": {"type": "string"}}},
            ]
        },
    )

    type: RequestKind
    received_at: AwareDatetime
    subject: uuid.UUID | None = None
    email: str | None = Field(default=None, min_length=3, max_length=320)
    external_ref: str | None = Field(default=None, min_length=1, max_length=128)
    channel: Channel = "email"

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        if sum(v is not None for v in (self.subject, self.email, self.external_ref)) != 1:
            raise ValueError("give exactly one of subject, email or external_ref")
        return self


class VerifyBody(_Body):
    method: str = Field(min_length=1, max_length=200)


class ReasonBody(_Body):
    reason: str = Field(min_length=1, max_length=1000)


class RefuseBody(_Body):
    ground: str = Field(min_length=1, max_length=1000)


class FulfilBody(_Body):
    changes: dict[str, str] = Field(default_factory=dict, description="Rectification: fields.")
    purpose: str | None = Field(default=None, max_length=64, description="Objection.")


@router.post("", status_code=201, summary="Open a data-subject request", responses=CHANGE)
def post_request(
    body: OpenBody, installation: InstallationDep, principal: PrincipalDep, clock: ClockDep
) -> DataRequest:
    """Register a received request; its deadline follows Art. 12(3) (needs request:manage)."""
    request = OpenRequest(
        type=RequestType(body.type), received_at=body.received_at, subject_id=body.subject,
        email=body.email, external_ref=body.external_ref, channel=body.channel, at=body.at,
    )  # fmt: skip
    return DataRequest.of(open_request(installation, principal, request, clock=clock))


@router.get("", summary="List requests by deadline", responses=CHANGE)
def get_requests(
    installation: InstallationDep,
    principal: PrincipalDep,
    clock: ClockDep,
    status: str | None = Query(default=None, max_length=16),
    overdue: bool = False,
    due_within_days: int | None = Query(default=None, ge=0, le=365),
) -> RequestList:
    """Requests in the countries where the caller manages requests."""
    within = None if due_within_days is None else timedelta(days=due_within_days)
    request = ListRequests(status=status, overdue=overdue, due_within=within)
    found = list_requests(installation, principal, request, clock=clock)
    return RequestList(items=[DataRequest.of(r) for r in found])


@router.get("/due", summary="Overdue and due within 7 days (no personal data)", responses=CHANGE)
def get_due(installation: InstallationDep, principal: PrincipalDep, clock: ClockDep) -> DueOut:
    """The scheduler's daily due list, for dashboards (ids, types, countries, deadlines)."""
    due = requests_due(installation, principal, DueRequests(), clock=clock)

    def out(items: tuple) -> list[DueItemOut]:  # type: ignore[type-arg]
        return [
            DueItemOut(id=i.id, type=i.type, country=i.country, status=i.status, due_on=i.due_on,
                       extended=i.extended)
            for i in items
        ]  # fmt: skip

    return DueOut(overdue=out(due.overdue), due_within_7_days=out(due.due_soon))


@router.get("/{request_id}", summary="One request and its history", responses=CHANGE)
def get_request(
    request_id: uuid.UUID, installation: InstallationDep, principal: PrincipalDep, clock: ClockDep
) -> DataRequest:
    return DataRequest.of(
        show_request(installation, principal, ShowRequest(request_id), clock=clock)
    )


_CHANGE_ROUTES: tuple[tuple[str, type[_Body], str, Callable[..., RequestChange]], ...] = (
    # (the path's last segment, the body, the summary, the operation's request: the body's
    # fields after the id, as the request's dataclass orders them)
    ("verify", VerifyBody, "Identity confirmed", VerifyRequest),
    ("pause", ReasonBody, "Pause (the deadline does not move)", PauseRequest),
    ("resume", _Body, "Resume a paused request", ResumeRequest),
    ("extend", ReasonBody, "Extend to three months (once)", ExtendRequest),
    ("refuse", RefuseBody, "Refuse, with the ground", RefuseRequest),
    ("withdraw", _Body, "The requester withdrew it", WithdrawRequest),
    ("approve", _Body, "Second principal approves an erasure", ApproveRequest),
)


def _change_route(
    name: str, body_type: type[_Body], summary: str, make: Callable[..., RequestChange]
) -> None:
    """`POST /{request_id}/NAME`: one state change through `change_request`."""
    notes = [f for f in body_type.model_fields if f != "at"]

    def endpoint(
        request_id: uuid.UUID,
        body: _Body,
        installation: Installation,
        principal: PrincipalView,
        clock: Clock,
    ) -> DataRequest:
        request = make(request_id, *(getattr(body, f) for f in notes), body.at)
        return DataRequest.of(change_request(installation, principal, request, clock=clock))

    # The annotations FastAPI reads, as objects (this module's are strings) and per route.
    endpoint.__annotations__ = {
        "request_id": uuid.UUID, "body": body_type, "installation": InstallationDep,
        "principal": PrincipalDep, "clock": ClockDep, "return": DataRequest,
    }  # fmt: skip
    endpoint.__name__ = endpoint.__qualname__ = f"post_{name}"  # the operation id stays
    router.add_api_route(
        f"/{{request_id}}/{name}", endpoint, methods=["POST"], summary=summary, responses=CHANGE
    )


for _route in _CHANGE_ROUTES:
    _change_route(*_route)


@router.post("/{request_id}/fulfil", summary="Answer a verified request", responses=CHANGE)
def post_fulfil(
    request_id: uuid.UUID,
    body: FulfilBody,
    installation: InstallationDep,
    principal: PrincipalDep,
    clock: ClockDep,
) -> FulfilmentOut:
    """Through the request type's audited action path; access and portability packages are
    written under `<data dir>/packages/`."""
    view = show_request(installation, principal, ShowRequest(request_id), clock=clock)
    out = None
    if view.type in (RequestType.ACCESS, RequestType.PORTABILITY):
        out = installation.config.data_dir / "packages"
        out.mkdir(mode=0o700, exist_ok=True)
    request = FulfilRequest(
        request_id, at=body.at, out=out, changes=dict(body.changes), purpose=body.purpose
    )
    return FulfilmentOut.of(fulfil_request(installation, principal, request, clock=clock))


@router.post("/{request_id}/lift", summary="Lift a restriction", responses=CHANGE)
def post_lift(
    request_id: uuid.UUID,
    body: _Body,
    installation: InstallationDep,
    principal: PrincipalDep,
    clock: ClockDep,
) -> FulfilmentOut:
    request = LiftRestriction(request_id, body.at)
    return FulfilmentOut.of(lift_restriction(installation, principal, request, clock=clock))
