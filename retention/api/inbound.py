"""`POST /v1/integrations/{name}/events` answered before FastAPI's routing.

The inbound route is the API's busiest (every change in every source, hundreds a second), and
what FastAPI and Starlette do around its endpoint cost as much as the endpoint's own work on the
event loop: the exception middleware and its wrappers, the router walking every route's pattern
(and checking its routes' version on each request), the route's own request and response
wrapping. `InboundEvents` is a pure ASGI layer, the innermost of the app's middleware, so the
request context (request id, audit channel, headers, the access log line, metrics), the body
rules (JSON only, 413) and idempotency keys act on these requests as on any other. It matches
exactly what the route's template matches (POST, one path segment for the name), marks the scope
with the route (the log line and metrics name its template) and calls the route's endpoint
itself; an exception is answered by the app's own exception handler for it (the same RFC 9457
problems), and whatever has none goes on to the request context's 500. Every other request,
this path with another method included (405 with `Allow`), goes on to FastAPI.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["InboundEvents"]

Endpoint = Callable[[str, Request], Awaitable[Response]]


class InboundEvents:
    """Answer `POST {prefix}{route.path}` (one `{name}` segment) with `endpoint`."""

    def __init__(self, app: ASGIApp, route: APIRoute, prefix: str, endpoint: Endpoint) -> None:
        self.app = app
        self.route = route
        self.endpoint = endpoint
        template = prefix + route.path
        head, marker, tail = template.partition("{name}")
        if not marker or "{" in head + tail:
            raise ValueError(f"{template}: one {{name}} parameter expected")
        self.head, self.tail = head, tail

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        name = self._name(scope)
        if name is None:
            await self.app(scope, receive, send)
            return
        scope["route"] = self.route
        scope["path_params"] = {"name": name}
        request = Request(scope, receive)
        try:
            response = await self.endpoint(name, request)
        except Exception as exc:
            handler = _handler_for(scope, exc)
            if handler is None:
                raise
            response = await handler(request, exc)
        await response(scope, receive, send)

    def _name(self, scope: Scope) -> str | None:
        """The `{name}` of a POST to this route's path (as Starlette would match it), or None."""
        if scope["type"] != "http" or scope["method"] != "POST":
            return None
        path: str = scope["path"]
        head, tail = self.head, self.tail
        if len(path) <= len(head) + len(tail) or not path.startswith(head):
            return None
        if not path.endswith(tail):
            return None
        name = path[len(head) : len(path) - len(tail)]
        return None if "/" in name else name


def _handler_for(scope: Scope, exc: Exception) -> Any:
    """The app's exception handler for `exc`'s class or its nearest base, as Starlette's
    exception middleware finds it. A handler of `Exception` itself is not one of those
    (Starlette gives it to its outermost layer, which the request context never lets an
    exception reach)."""
    handlers = getattr(scope.get("app"), "exception_handlers", None) or {}
    for cls in type(exc).__mro__:
        if cls is Exception:
            return None
        if cls in handlers:
            return handlers[cls]
    return None
