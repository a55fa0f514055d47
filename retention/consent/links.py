"""The candidate's answer link: a signed, expiring token naming one outbox message, and CSRF.

A token is `base64url(message id || expiry) "." base64url(Ed25519 signature)`, signed with the
installation's key (the one that signs audit checkpoints) over a domain-separated text, so a link
can be neither forged nor stretched. It names a message, never a person. Single use is the
database's part (`mail_outbox.answered_at`, the consent's state): the token only proves the
engine issued it and that it has not expired. The answer form carries a CSRF token: an HMAC,
under a key derived from the signing key, of the message id and a random value the page set in
a SameSite=Strict cookie, so a form posted from anywhere else fails.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from audit_log import Signer, Verifier

__all__ = ["ANSWER_PATH", "LinkKeys", "LinkToken", "answer_url", "new_csrf_nonce"]

# Where the HTTP API serves the answer page, under `[api] public_url`.
ANSWER_PATH = "/v1/public/consent"

_DOMAIN = "gdpr-consent-link/v1:"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class LinkToken:
    message_id: uuid.UUID
    expires_at: datetime


def new_csrf_nonce() -> str:
    return secrets.token_urlsafe(24)


@dataclass(frozen=True)
class LinkKeys:
    """Signs and checks link tokens and CSRF values with keys derived from the installation's."""

    signer: Signer

    @property
    def verifier(self) -> Verifier:
        return self.signer.verifier

    def token(self, message_id: uuid.UUID, expires_at: datetime) -> str:
        payload = message_id.bytes + int(expires_at.timestamp()).to_bytes(8, "big")
        body = _b64(payload)
        return body + "." + _b64(self.signer.sign(_DOMAIN + body))

    def read(self, token: str, now: datetime) -> LinkToken | None:
        """The token's message and expiry, or None when it is malformed, forged or expired."""
        if len(token) > 200 or token.count(".") != 1:
            return None
        body, sig = token.split(".")
        try:
            payload, signature = _unb64(body), _unb64(sig)
        except (binascii.Error, ValueError):
            return None
        if len(payload) != 24 or len(signature) != 64:
            return None
        if not self.verifier.verify(_DOMAIN + body, signature):
            return None
        expires = datetime.fromtimestamp(int.from_bytes(payload[16:], "big"), tz=UTC)
        if expires <= now:
            return None
        return LinkToken(uuid.UUID(bytes=payload[:16]), expires)

    def _csrf_key(self) -> bytes:
        return hashlib.sha256(b"gdpr-consent-csrf/v1\n" + self.signer.seed).digest()

    def csrf(self, message_id: uuid.UUID, nonce: str) -> str:
        mac = hmac.new(self._csrf_key(), message_id.bytes + nonce.encode(), hashlib.sha256)
        return _b64(mac.digest())

    def csrf_ok(self, message_id: uuid.UUID, nonce: str | None, value: str | None) -> bool:
        if not nonce or not value or len(nonce) > 100 or len(value) > 100:
            return False
        return hmac.compare_digest(self.csrf(message_id, nonce), value)


def answer_url(public_url: str, token: str) -> str:
    """The link a renewal message carries."""
    return f"{public_url.rstrip('/')}{ANSWER_PATH}/{token}"
