"""Is this request really from the source? Signatures over the exact bytes that arrived.

Greenhouse: `Signature: sha256 <hex HMAC-SHA256(secret key, raw body)>`, the body as sent (with its
unicode escapes), compared in constant time. Standard Webhooks: HMAC-SHA256 over
`{webhook-id}.{webhook-timestamp}.{body}` with the base64 secret, `webhook-signature` holding one
or more space-separated `v1,<base64>` values (several while the sender rotates its secret), the
timestamp within 5 minutes of the engine's clock. The signing itself is the `standardwebhooks`
library's; the tolerance is checked here against the injected clock, so tests and the library
agree on what "now" is. Nothing is parsed before the signature holds.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from standardwebhooks.webhooks import Webhook

__all__ = [
    "TOLERANCE",
    "BadSignature",
    "Verified",
    "greenhouse_signature",
    "verify_greenhouse",
    "verify_standard_webhooks",
]

TOLERANCE = timedelta(minutes=5)
MAX_DELIVERY_ID = 200


class BadSignature(Exception):
    """The request is not from the source; `reason` is a short code, never request data."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Verified:
    delivery_id: str
    sent_at: datetime | None = None  # Standard Webhooks: the signed timestamp


def _header(headers: Mapping[str, str], name: str) -> str | None:
    wanted = name.lower()
    return next((v for k, v in headers.items() if k.lower() == wanted), None)


def _delivery_id(value: str | None) -> str:
    if not value or len(value) > MAX_DELIVERY_ID or not value.isprintable():
        raise BadSignature("missing or malformed delivery id")
    return value


def greenhouse_signature(secret: str, body: bytes) -> str:
    """The `Signature` header Greenhouse sends for `body` (used by tests and the bench too)."""
    return "sha256 " + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_greenhouse(secret: str, headers: Mapping[str, str], body: bytes) -> Verified:
    header = _header(headers, "Signature")
    if header is None:
        raise BadSignature("missing signature")
    algorithm, _, digest = header.strip().partition(" ")
    if algorithm != "sha256" or not digest:
        raise BadSignature("malformed signature")
    expected = greenhouse_signature(secret, body).partition(" ")[2]
    if not hmac.compare_digest(expected.encode(), digest.strip().lower().encode()):
        raise BadSignature("signature mismatch")
    return Verified(_delivery_id(_header(headers, "Greenhouse-Event-ID")))


def verify_standard_webhooks(
    secrets: Sequence[str], headers: Mapping[str, str], body: bytes, *, now: datetime
) -> Verified:
    msg_id = _header(headers, "webhook-id")
    stamp = _header(headers, "webhook-timestamp")
    signatures = _header(headers, "webhook-signature")
    if not (msg_id and stamp and signatures):
        raise BadSignature("missing webhook headers")
    try:
        sent_at = datetime.fromtimestamp(int(stamp), tz=UTC)
    except (ValueError, OverflowError, OSError):
        raise BadSignature("malformed timestamp") from None
    if abs(now - sent_at) > TOLERANCE:
        raise BadSignature("timestamp outside tolerance")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise BadSignature("body is not UTF-8") from None
    passed = []
    for value in signatures.split():
        version, _, sig = value.partition(",")
        if version != "v1":
            continue
        try:
            passed.append(base64.b64decode(sig, validate=True))
        except binascii.Error:
            continue
    for secret in secrets:
        expected = Webhook(secret).sign(msg_id, sent_at, text).partition(",")[2]
        digest = base64.b64decode(expected)
        if any(hmac.compare_digest(digest, p) for p in passed):
            return Verified(_delivery_id(msg_id), sent_at)
    raise BadSignature("signature mismatch")
