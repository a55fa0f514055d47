"""The ASGI layer around every request: request id, audit channel, headers, the last-resort 500,
and the access log line.

Each request gets a fresh request id (generated here, never taken from the client: it goes into
audit entries), returned in `X-Request-ID`. The whole request runs inside
`retention.store.recorded_via("api", request_id)`, so every audit entry it writes (allowed,
denied, failed authentication) carries the channel and the request id, without any operation
knowing about HTTP. Every response gets `X-Content-Type-Options: nosniff` and, unless a route set
its own, `Cache-Control: no-store` (responses carry personal data by default). An exception no
handler mapped becomes a 500 problem naming only its type. One structlog line per request:
request id, principal id, method, route template, status, duration; never the path's values,
the query or a body.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from retention.api.problems import ProblemKind, problem_response
from retention.logs import get_logger
from retention.store import recorded_via

__all__ = ["CHANNEL", "RequestContext", "route_template"]

CHANNEL = "api"
REQUEST_ID_HEADER = "X-Request-ID"

log = get_logger("retention.api.access")


def route_template(scope: Scope) -> str:
    """The matched route's template (`/v1/candidates/{candidate_id}`), or a fixed marker."""
    route: Any = scope.get("route")
    path = getattr(route, "path_format", None) or getattr(route, "path", None)
    return str(path) if path else "(unmatched)"


class RequestContext:
    """Pure ASGI middleware (no task switch, so context variables reach the endpoint)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = str(uuid.uuid4())
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = int(message["status"])
                headers = MutableHeaders(scope=message)
                headers[REQUEST_ID_HEADER] = request_id
                headers["X-Content-Type-Options"] = "nosniff"
                if "cache-control" not in headers:
                    headers["Cache-Control"] = "no-store"
            await send(message)

        try:
            with recorded_via(CHANNEL, request_id):
                await self.app(scope, receive, send_with_headers)
        except Exception as exc:
            log.error("request.failed", request_id=request_id, error=type(exc).__name__)
            if response_started:
                return
            response = problem_response(
                request_id, ProblemKind.INTERNAL, f"internal error ({type(exc).__name__})"
            )
            await response(scope, receive, send_with_headers)
        finally:
            log.info(
                "request",
                request_id=request_id,
                principal_id=state.get("principal_id"),
                method=scope.get("method"),
                route=route_template(scope),
                status=status,
                duration_ms=round((time.perf_counter() - started) * 1000, 2),
            )
