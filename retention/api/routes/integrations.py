"""`/v1/integrations/{name}/events`: where every source posts its signed events.

No bearer token: the signature over the raw body is the source's credential, so the body is read
as bytes before anything parses it (a re-serialized body would not verify).
Unlike every other endpoint this one is an `async def`: it is the busiest route (every change in
every source), and a thread per request cost more than the event itself. The signature is
checked and the body parsed on the event loop (microseconds, nothing blocks), and the unit of
work is handed to the installation's group commit, whose one writer thread runs the waiting
requests' units in shared transactions (`receive_event_async`); each request is answered once
its own event committed. The body is read and the state found here rather than through
dependencies, and the receipt is written as JSON directly: FastAPI's work per dependency and
its response validation were a visible share of an event's cost (the OpenAPI document still
declares the route's path parameter and `EventReceipt`). For the same reason the app calls
`receive` itself before FastAPI's routing (`retention.api.inbound`), inside the same middleware
as every route; FastAPI's route stays for the OpenAPI document and for the other methods (405).
A refused request is a 401 (unknown source, bad signature, stale timestamp) or a 400 (verified
but not an event of the source's format); `receive_event` has audited it, without the payload.
A replayed delivery id and an event the rules do not let through are acknowledged (200): the
source must not retry them.
"""

from __future__ import annotations

import json
import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel

from retention.api.problems import ApiProblem, ProblemKind, problems
from retention.api.state import api_state
from retention.operations import ReceiptStatus, receive_event_async

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
    response_model=EventReceipt,
    responses=problems(
        ProblemKind.BAD_REQUEST, ProblemKind.CONTENT_TOO_LARGE, ProblemKind.UNAUTHORIZED
    ),
)
async def receive(name: str, request: Request) -> Response:
    """Verify the signature over the exact bytes received, dedupe, apply, audit."""
    body = await _raw_body(request)
    state = await api_state(request)
    headers = dict(request.headers.items())
    receipt = await receive_event_async(state.installation, name, headers, body, clock=state.clock)
    if receipt.status is ReceiptStatus.UNAUTHENTICATED:
        raise ApiProblem(ProblemKind.UNAUTHORIZED, receipt.reason or "not from the source")
    if receipt.status is ReceiptStatus.MALFORMED:
        raise ApiProblem(ProblemKind.BAD_REQUEST, receipt.reason or "not an event")
    # EventReceipt's JSON, as FastAPI would have written it (a subject is a UUID already).
    content = {
        "status": "duplicate" if receipt.status is ReceiptStatus.DUPLICATE else "accepted",
        "effect": receipt.effect,
        "subject": receipt.subject,
    }
    return Response(json.dumps(content, separators=(",", ":")), media_type="application/json")
