"""`/v1/integrations/{name}/events`: where every source posts its signed events.

No bearer token: the signature over the raw body is the source's credential, so the body is read
as bytes before anything parses it (a re-serialized body would not verify): an async dependency
(`RawBody`) reads it on the event loop, and the endpoint is a plain `def` like every other, run in
the threadpool (the engine is synchronous).
A refused request is a 401 (unknown source, bad signature, stale timestamp) or a 400 (verified
but not an event of the source's format); `receive_event` has audited it, without the payload.
A replayed delivery id and an event the rules do not let through are acknowledged (200): the
source must not retry them.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel

from retention.api.problems import ApiProblem, ProblemKind, problems
from retention.api.state import StateDep
from retention.operations import ReceiptStatus, receive_event

__all__ = ["EventReceipt", "RawBody", "router"]

router = APIRouter(prefix="/integrations", tags=["integrations"])
MAX_BODY = 1024 * 1024


class EventReceipt(BaseModel):
    """The event was taken: applied (`effect` says how) or a delivery already seen."""

    status: Literal["accepted", "duplicate"]
    effect: str | None = None
    subject: uuid.UUID | None = None


async def _raw_body(request: Request) -> bytes:
    """The request body exactly as received (refused unread when it says it is too large)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY:
        raise ApiProblem(ProblemKind.CONTENT_TOO_LARGE, f"an event is at most {MAX_BODY} bytes")
    body = await request.body()
    if len(body) > MAX_BODY:
        raise ApiProblem(ProblemKind.CONTENT_TOO_LARGE, f"an event is at most {MAX_BODY} bytes")
    return body


RawBody = Annotated[bytes, Depends(_raw_body)]


@router.post(
    "/{name}/events",
    summary="Receive a source's signed event (Greenhouse or Standard Webhooks)",
    responses=problems(
        ProblemKind.BAD_REQUEST, ProblemKind.CONTENT_TOO_LARGE, ProblemKind.UNAUTHORIZED
    ),
)
def receive(name: str, body: RawBody, request: Request, state: StateDep) -> EventReceipt:
    """Verify the signature over the exact bytes received, dedupe, apply, audit."""
    # The app's state as one dependency (not InstallationDep and ClockDep): FastAPI's work per
    # dependency was a visible share of an event's cost on this, the busiest route.
    headers = dict(request.headers.items())
    receipt = receive_event(state.installation, name, headers, body, clock=state.clock)
    if receipt.status is ReceiptStatus.UNAUTHENTICATED:
        raise ApiProblem(ProblemKind.UNAUTHORIZED, receipt.reason or "not from the source")
    if receipt.status is ReceiptStatus.MALFORMED:
        raise ApiProblem(ProblemKind.BAD_REQUEST, receipt.reason or "not an event")
    return EventReceipt(
        status="duplicate" if receipt.status is ReceiptStatus.DUPLICATE else "accepted",
        effect=receipt.effect,
        subject=uuid.UUID(receipt.subject) if receipt.subject else None,
    )
