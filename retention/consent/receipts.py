"""Consent receipts a standard reader understands, signed so they verify offline.

For one subject and purpose the receipt file holds two documents built from the appended consent
events: an ISO/IEC TS 27560 consent record (record id, principal id, notice, language, purpose,
personal data categories, controller, storage locations, retention, jurisdiction, recipients,
withdrawal method, and per event its time, validity, type and state) and a Kantara Initiative
Consent Receipt v1.1 (`KI-CR-v1.1.0`). Both are signed together as a JWS (RFC 7515) in compact
serialization with `alg` EdDSA (RFC 8037), whose payload is the RFC 8785 canonical JSON of
`{"record": ..., "receipt": ...}`, under the installation's Ed25519 key (the one that signs audit
checkpoints). The file also carries the verifier key, in note format and as a JWK, so any JOSE
library verifies it; `verify_receipt` does it here, and checks the documents shown are exactly
the signed payload.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import rfc8785

from audit_log import Signer, Verifier, format_ts
from retention.config import ConsentSettings

__all__ = [
    "PERSONAL_DATA_CATEGORIES",
    "ReceiptCheck",
    "ReceiptInput",
    "build_documents",
    "sign_receipt",
    "verify_receipt",
]

PERSONAL_DATA_CATEGORIES = (
    "identification (name)",
    "contact details (e-mail address, phone number, city)",
    "application documents (CV, cover letter)",
    "assessment notes",
)
WITHDRAWAL_METHOD = (
    "Use the withdraw button on the page linked from any renewal e-mail, or write to the "
    "controller's privacy contact; withdrawal is as easy as giving consent (GDPR Art. 7(3))."
)
_STATE_AFTER = {
    "requested": None,  # asking changes nothing
    "given": "active",
    "renewed": "active",
    "refused": "refused",
    "withdrawn": "withdrawn",
    "expired": "expired",
}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class ReceiptInput:
    """What the receipt says, read from the database by the caller."""

    subject: uuid.UUID
    purpose: str
    jurisdiction: str
    language: str
    notice_version: str
    notice_hash: str | None
    notice_language: str | None
    retention: str  # the rule or schedule that bounds the consent, in words
    events: Sequence[Mapping[str, Any]]  # kind, at, channel, method, notice_hash, valid_until
    created_at: datetime


def _event_states(events: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    out = []
    state = "none"
    for e in events:
        state = _STATE_AFTER.get(e["kind"]) or state
        out.append(
            {
                "time": format_ts(e["at"]),
                "type": e["kind"],
                "state": state,
                "validity": {"until": format_ts(e["valid_until"]) if e["valid_until"] else None},
                "channel": e["channel"],
                "method": e["method"],
                "noticeHash": e["notice_hash"],
            }
        )
    return out


def build_documents(
    data: ReceiptInput, settings: ConsentSettings, verifier: Verifier
) -> dict[str, Any]:
    """The ISO/IEC TS 27560 record and the Kantara receipt, unsigned."""
    controller = {
        "name": settings.controller,
        "contact": settings.controller_contact,
        "address": settings.controller_address,
        "email": settings.controller_email,
        "url": settings.controller_url,
    }
    events = _event_states(data.events)
    record_id = str(uuid.uuid4())
    given = [e for e in data.events if e["kind"] in ("given", "renewed")]
    latest = given[-1] if given else None
    record = {
        "schema": "ISO/IEC TS 27560:2023 consent record",
        "recordId": record_id,
        "piiPrincipalId": str(data.subject),
        "notice": {
            "purpose": data.purpose,
            "version": data.notice_version,
            "sha256": data.notice_hash,
            "language": data.notice_language,
        },
        "language": data.language,
        "purposes": [
            {
                "purpose": data.purpose,
                "legalBasis": "GDPR Art. 6(1)(a) consent",
                "personalDataCategories": list(PERSONAL_DATA_CATEGORIES),
            }
        ],
        "personalDataCategories": list(PERSONAL_DATA_CATEGORIES),
        "controller": controller,
        "storageLocations": list(settings.storage_locations),
        "retention": data.retention,
        "jurisdiction": data.jurisdiction,
        "recipients": list(settings.recipients),
        "withdrawalMethod": WITHDRAWAL_METHOD,
        "state": events[-1]["state"] if events else "none",
        "events": events,
        "createdAt": format_ts(data.created_at),
    }
    consent_at = latest["at"] if latest else data.created_at
    receipt = {
        "version": "KI-CR-v1.1.0",
        "jurisdiction": data.jurisdiction,
        "consentTimestamp": int(consent_at.timestamp()),
        "collectionMethod": latest["method"] if latest else "none",
        "consentReceiptID": record_id,
        "publicKey": str(verifier),
        "language": data.language,
        "piiPrincipalId": str(data.subject),
        "piiControllers": [
            {
                "piiController": settings.controller,
                "onBehalf": False,
                "contact": settings.controller_contact,
                "address": settings.controller_address,
                "email": settings.controller_email,
                "phone": "",
                "piiControllerUrl": settings.controller_url,
            }
        ],
        "policyUrl": settings.policy_url,
        "services": [
            {
                "service": "recruitment",
                "purposes": [
                    {
                        "purpose": data.purpose,
                        "purposeCategory": ["recruitment: future vacancies"],
                        "consentType": "EXPLICIT",
                        "piiCategory": list(PERSONAL_DATA_CATEGORIES),
                        "primaryPurpose": False,
                        "termination": data.retention,
                        "thirdPartyDisclosure": bool(settings.recipients),
                        "thirdPartyName": ", ".join(settings.recipients),
                    }
                ],
            }
        ],
        "sensitive": False,
        "spiCat": [],
    }
    return {"record": record, "receipt": receipt}


def _jwk(verifier: Verifier) -> dict[str, str]:
    return {"kty": "OKP", "crv": "Ed25519", "x": _b64(verifier.public_key)}


def sign_receipt(documents: Mapping[str, Any], signer: Signer) -> dict[str, Any]:
    """The receipt file: the documents, their JWS, and the key that verifies it."""
    verifier = signer.verifier
    header = {"alg": "EdDSA", "kid": verifier.key_id.hex(), "typ": "consent-receipt+jws"}
    signing_input = _b64(rfc8785.dumps(header)) + "." + _b64(rfc8785.dumps(dict(documents)))
    jws = signing_input + "." + _b64(signer.sign(signing_input))
    return {
        **documents,
        "signature": {
            "format": "JWS compact (RFC 7515), alg EdDSA (RFC 8037); payload = RFC 8785 "
            "canonical JSON of {record, receipt}",
            "jws": jws,
            "verifier_key": str(verifier),
            "jwk": _jwk(verifier),
        },
    }


@dataclass(frozen=True)
class ReceiptCheck:
    ok: bool
    reason: str
    subject: str | None = None
    purpose: str | None = None
    key: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "reason": self.reason,
            "subject": self.subject,
            "purpose": self.purpose,
            "key": self.key,
        }


def verify_receipt(data: bytes, verifier: Verifier) -> ReceiptCheck:
    """Check a receipt file against `verifier`: the signature, and that what it shows is signed."""
    try:
        doc = json.loads(data)
        jws = doc["signature"]["jws"]
        header_b64, payload_b64, sig_b64 = jws.split(".")
        header = json.loads(_unb64(header_b64))
        payload = _unb64(payload_b64)
        signature = _unb64(sig_b64)
    except (ValueError, KeyError, TypeError, AttributeError, binascii.Error):
        return ReceiptCheck(False, "not a signed consent receipt (no readable JWS)")
    key = str(verifier)
    if header.get("alg") != "EdDSA":
        return ReceiptCheck(False, f"unsupported JWS alg {header.get('alg')!r}", key=key)
    if header.get("kid") != verifier.key_id.hex():
        return ReceiptCheck(False, f"signed by key {header.get('kid')}, not by {key}", key=key)
    if not verifier.verify(header_b64 + "." + payload_b64, signature):
        return ReceiptCheck(False, f"invalid signature by {key}", key=key)
    shown = {"record": doc.get("record"), "receipt": doc.get("receipt")}
    if rfc8785.dumps(shown) != payload:
        return ReceiptCheck(False, "the documents in the file differ from the signed ones", key=key)
    record = shown["record"] if isinstance(shown["record"], dict) else {}
    return ReceiptCheck(
        True,
        "signature valid; the record and receipt are the signed ones",
        subject=record.get("piiPrincipalId"),
        purpose=(record.get("notice") or {}).get("purpose"),
        key=key,
    )
