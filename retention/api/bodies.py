"""Request bodies: JSON only (415 otherwise) and at most `[api] max_body_bytes` (413).

Checked before anything reads the body: a declared `Content-Length` over the limit is refused
at once, and a body sent in chunks is counted as it is read, so a client cannot make a worker
buffer more than the limit. Applies to POST, PUT and PATCH; a body must be `application/json`
or a `+json` type (`application/merge-patch+json`), except on the public pages for people under
`/v1/public/` (the consent answer page), whose plain HTML forms work without JavaScript and so
post `application/x-www-form-urlencoded`, and only that.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from retention.api.problems import ProblemKind, problem_response

__all__ = ["BodyRules"]

_WITH_BODY = frozenset({"POST", "PUT", "PATCH"})
PUBLIC_PAGES = "/v1/public/"
_FORM = "application/x-www-form-urlencoded"


def is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def is_form(content_type: str) -> bool:
    return content_type.split(";", 1)[0].strip().lower() == _FORM


class BodyRules:
    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _WITH_BODY:
            await self.app(scope, receive, send)
            return
        request_id = scope.get("state", {}).get("request_id")
        headers = Headers(scope=scope)
        length = headers.get("content-length")
        declared = int(length) if length is not None and length.isdigit() else None
        if declared is not None and declared > self.max_body_bytes:
            await self._too_large(request_id, scope, receive, send)
            return
        has_body = bool(declared) or "transfer-encoding" in headers
        content_type = headers.get("content-type", "")
        if str(scope.get("path", "")).startswith(PUBLIC_PAGES):
            accepted, expected = is_form(content_type), _FORM
        else:
            accepted, expected = is_json(content_type), "application/json"
        if has_body and not accepted:
            await problem_response(
                request_id,
                ProblemKind.UNSUPPORTED_MEDIA_TYPE,
                f"send the body as {expected}",
            )(scope, receive, send)
            return
        seen = 0
        started = refused = False

        async def counted() -> Message:
            nonlocal seen, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body_bytes and not started:
                    # Answer now; the app sees a client that went away (and its answer is
                    # dropped), so nothing more of the body is read or buffered.
                    refused = True
                    await self._too_large(request_id, scope, receive, send)
                    return {"type": "http.disconnect"}
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            if refused:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        await self.app(scope, counted, watched)

    async def _too_large(
        self, request_id: object, scope: Scope, receive: Receive, send: Send
    ) -> None:
        await problem_response(
            request_id if isinstance(request_id, str) else None,
            ProblemKind.CONTENT_TOO_LARGE,
            f"request body larger than {self.max_body_bytes} bytes",
        )(scope, receive, send)
