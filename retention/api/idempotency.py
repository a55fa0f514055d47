"""`Idempotency-Key` on every POST: a retry gets the first response, never a second action.

How it works, without any router doing anything:

1. `IdempotencyKeys` (ASGI middleware) sees a POST with the header, checks the key (1-255
   printable ASCII characters), reads the body (`BodyRules` bounds it) and puts the request's
   fingerprint (method, path, query, body) in the scope.
2. Authentication (`retention.api.auth`) claims the key for the principal before the endpoint
   runs: a key answered before replays the first response (`Idempotent-Replayed: true`; the
   replay is audited, naming the first request id); one used with another request is 422; one
   whose first request is still running is 409.
3. After the endpoint, the middleware stores the response (2xx and the definite 4xx: 400, 403,
   404, 412, 422) sealed with AES-GCM under a key derived from the client's key, or releases
   the claim (401, 409, 429, 5xx: a retry runs again). Keys expire after 24 hours.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import uuid
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from retention.api.problems import ApiProblem, ProblemKind, problem_response
from retention.clock import Clock
from retention.install import Installation
from retention.logs import get_logger
from retention.store import idempotency

__all__ = [
    "IDEMPOTENCY_HEADER",
    "REPLAYED_HEADER",
    "IdempotencyKeys",
    "PendingKey",
    "Replayed",
    "claim_for",
    "replay_response",
]

IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
_KEY_RE = re.compile(r"[\x21-\x7e]{1,255}")
STORED_STATUSES = frozenset({400, 403, 404, 412, 422}) | frozenset(range(200, 300))
_KEPT_HEADERS = ("content-type", "etag", "location", "cache-control")

log = get_logger("retention.api")


@dataclass(frozen=True)
class PendingKey:
    key: str
    fingerprint: str


@dataclass
class ClaimedKey:
    key: str
    key_hash: str
    principal_id: str
    installation: Installation


class Replayed(Exception):
    """Raised by authentication to answer with the stored first response."""

    def __init__(self, response: Response) -> None:
        super().__init__("replayed")
        self.response = response


def _key_hash(principal_id: str, key: str) -> str:
    return hashlib.sha256(f"{principal_id}\x1f{key}".encode()).hexdigest()


def _cipher(principal_id: str, key: str) -> AESGCM:
    return AESGCM(hashlib.sha256(f"gdpr-idempotency\x1f{principal_id}\x1f{key}".encode()).digest())


def seal(
    principal_id: str, key: str, status: int, headers: list[tuple[str, str]], body: bytes
) -> bytes:
    payload = json.dumps(
        {"status": status, "headers": headers, "body": base64.b64encode(body).decode("ascii")}
    ).encode()
    nonce = os.urandom(12)
    return nonce + _cipher(principal_id, key).encrypt(nonce, payload, None)


def unseal(principal_id: str, key: str, sealed: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
    try:
        payload = _cipher(principal_id, key).decrypt(sealed[:12], sealed[12:], None)
    except InvalidTag:
        raise ApiProblem(ProblemKind.CONFLICT, "the stored response cannot be read") from None
    data = json.loads(payload)
    return int(data["status"]), [tuple(h) for h in data["headers"]], base64.b64decode(data["body"])


def replay_response(status: int, headers: list[tuple[str, str]], body: bytes) -> Response:
    response = Response(body, status_code=status)
    response.headers.update(dict(headers))
    response.headers[REPLAYED_HEADER] = "true"
    return response


def claim_for(
    request: Request, principal_id: str, installation: Installation, clock: Clock
) -> None:
    """Step 2, called by authentication once the principal is known."""
    state = request.scope.setdefault("state", {})
    pending = state.get("idempotency")
    if not isinstance(pending, PendingKey):
        return
    key_hash = _key_hash(principal_id, pending.key)
    result = idempotency.claim(
        installation.engine,
        key_hash,
        uuid.UUID(principal_id),
        request.url.path[:200],
        pending.fingerprint,
        str(state.get("request_id")),
        clock(),
    )
    if result.claim is idempotency.Claim.CLAIMED:
        state["idempotency_claim"] = ClaimedKey(pending.key, key_hash, principal_id, installation)
        return
    if result.claim is idempotency.Claim.MISMATCH:
        raise ApiProblem(
            ProblemKind.IDEMPOTENCY_MISMATCH,
            "this Idempotency-Key was used for another request: use a new key",
        )
    if result.claim is idempotency.Claim.IN_PROGRESS:
        raise ApiProblem(
            ProblemKind.CONFLICT,
            "the first request with this Idempotency-Key is still running: retry later",
            headers={"Retry-After": "1"},
        )
    assert result.sealed is not None
    raise Replayed(replay_response(*unseal(principal_id, pending.key, result.sealed)))


class IdempotencyKeys:
    """Steps 1 and 3 (pure ASGI middleware, inside `RequestContext`)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        raw = dict(scope["headers"]).get(IDEMPOTENCY_HEADER.lower().encode())
        if raw is None:
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        key = raw.decode("latin-1")
        if not _KEY_RE.fullmatch(key):
            await problem_response(
                state.get("request_id"),
                ProblemKind.BAD_REQUEST,
                "Idempotency-Key must be 1-255 printable ASCII characters",
            )(scope, receive, send)
            return
        body = bytearray()
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = bool(message.get("more_body"))  # bounded by BodyRules, outside
        fingerprint = hashlib.sha256(
            b"\x1f".join(
                [b"POST", scope["path"].encode(), scope.get("query_string", b""), bytes(body)]
            )
        ).hexdigest()
        state["idempotency"] = PendingKey(key, fingerprint)
        sent = False

        async def replay_body() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()

        status = 500
        headers: list[tuple[str, str]] = []
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal status, headers
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = [
                    (k.decode("latin-1"), v.decode("latin-1"))
                    for k, v in message.get("headers", [])
                    if k.decode("latin-1").lower() in _KEPT_HEADERS
                ]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body"):
                    # Stored before the client has the response: its retry then replays.
                    await settle()
            await send(message)

        settled = False

        async def settle() -> None:
            nonlocal settled
            claimed = state.get("idempotency_claim")
            if settled or not isinstance(claimed, ClaimedKey):
                return
            settled = True
            await run_in_threadpool(_settle, claimed, status, headers, b"".join(chunks))

        try:
            await self.app(scope, replay_body, capture)
        finally:
            if not settled and isinstance(state.get("idempotency_claim"), ClaimedKey):
                status = 500  # no complete response: a retry must run again
                await settle()


def _settle(claimed: ClaimedKey, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
    engine = claimed.installation.engine
    try:
        if status in STORED_STATUSES:
            sealed = seal(claimed.principal_id, claimed.key, status, headers, body)
            idempotency.complete(engine, claimed.key_hash, status, sealed)
        else:
            idempotency.release(engine, claimed.key_hash)
    except Exception as exc:  # the response stands; the key stays claimed until it expires
        log.error("idempotency.settle_failed", error=type(exc).__name__)
