"""What a message looks like on the wire, per kind of target.

The generic target gets a Standard Webhooks-signed POST per subject and action:

    {"type": "subject.erase", "timestamp": "...",
     "data": {"message": "msg_17", "subject": "<uuid>", "source": "greenhouse", "source_id": "265772",
              "action": "erase", "policy": "NL", "rule": "closed-application",
              "policy_hash": "...", "audit_seq": 4711, "at": "..."}}

with `webhook-id` (the message's stable id, also sent as `Idempotency-Key`), `webhook-timestamp`
and `webhook-signature` signed with the target's `whsec_` secret. A Greenhouse target gets the
Harvest API call the action implies: `DELETE /v1/candidates/{id}` for a deletion or an erasure,
`PUT /v1/candidates/{id}/anonymize?fields=...` for an anonymization, with Basic authentication
(the API key as user name), `On-Behalf-Of` and `Idempotency-Key`. Harvest has no restriction of
processing, so blocks are not sent to it (`outbox.enqueue` writes none).
"""

from __future__ import annotations

import base64
import functools
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from standardwebhooks.webhooks import Webhook

from retention.config import Integration, IntegrationKind
from retention.results import rfc3339

__all__ = ["GREENHOUSE_ANONYMIZE_FIELDS", "Message", "Request", "message_id", "request_for"]

# What the engine's anonymization removes, in Harvest's anonymize field names: the person's
# identity and contact data, what they wrote or was written about them, and their files.
GREENHOUSE_ANONYMIZE_FIELDS = (
    "full_name",
    "current_company",
    "current_title",
    "phone_numbers",
    "email_addresses",
    "emails",
    "social_media_links",
    "websites",
    "addresses",
    "location",
    "headline",
    "education",
    "employment",
    "attachments",
    "notes",
    "rejection_notes",
    "application_questions",
    "referral_questions",
    "custom_candidate_fields",
    "custom_application_fields",
    "activity_items",
    "innotes",
    "inmails",
    "scorecards_and_interviews",
    "offers",
    "all_offer_versions",
    "follow_up_reminders",
)
USER_AGENT = "gdpr-compliance-engine"


def message_id(row_id: int) -> str:
    """A message's stable id: the webhook id and Idempotency-Key of every attempt."""
    return f"msg_{row_id}"


@dataclass(frozen=True)
class Message:
    """An outbox row joined with its audit entry, ready to be sent."""

    id: int
    target: str
    subject: uuid.UUID
    source_ref: str | None
    action: str
    audit_seq: int | None
    attempts: int
    created_at: datetime
    entry: dict[str, Any]  # the action's audit entry (no personal data in it)
    retried_at: datetime | None = None

    @property
    def age_from(self) -> datetime:
        """Where the dead-letter age counts from: written, or last put back by a retry."""
        return self.retried_at or self.created_at

    @property
    def message_id(self) -> str:
        return message_id(self.id)


@dataclass(frozen=True)
class Request:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes | None


@functools.lru_cache(maxsize=64)
def _signer(secret: str) -> Webhook:
    """The library's signer of `secret` (it decodes the secret once, not once a message)."""
    return Webhook(secret)


def _generic(target: Integration, secret: str, msg: Message, now: datetime) -> Request:
    details = msg.entry.get("details") or {}
    source, _, source_id = (msg.source_ref or "").partition(":")
    payload = {
        "type": f"subject.{msg.action}",
        "timestamp": rfc3339(now),
        "data": {
            "message": msg.message_id,
            "subject": str(msg.subject),
            "source": source or None,
            "source_id": source_id or None,
            "action": msg.action,
            "policy": details.get("policy"),
            "rule": details.get("rule"),
            "policy_hash": details.get("policy_hash"),
            "audit_seq": msg.audit_seq,
            "at": msg.entry.get("ts"),
        },
    }
    body = json.dumps(payload, separators=(",", ":"), sort_keys=True)
    signature = _signer(secret).sign(msg.message_id, now, body)
    assert target.url is not None
    return Request(
        "POST",
        target.url,
        {
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            "webhook-id": msg.message_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": signature,
            "idempotency-key": msg.message_id,
        },
        body.encode(),
    )


def _greenhouse(target: Integration, api_key: str, msg: Message) -> Request:
    assert target.url is not None and target.on_behalf_of is not None
    candidate = (msg.source_ref or "").partition(":")[2]
    auth = base64.b64encode(f"{api_key}:".encode()).decode()
    headers = {
        "authorization": f"Basic {auth}",
        "on-behalf-of": target.on_behalf_of,
        "idempotency-key": msg.message_id,
        "user-agent": USER_AGENT,
    }
    if msg.action == "anonymize":
        fields = ",".join(GREENHOUSE_ANONYMIZE_FIELDS)
        url = f"{target.url}/v1/candidates/{candidate}/anonymize?fields={fields}"
        return Request("PUT", url, headers, None)
    return Request("DELETE", f"{target.url}/v1/candidates/{candidate}", headers, None)


def request_for(target: Integration, credential: str, msg: Message, now: datetime) -> Request:
    """The HTTP request that tells `target` about `msg` (credential: its secret or API key)."""
    if target.kind is IntegrationKind.GREENHOUSE:
        return _greenhouse(target, credential, msg)
    return _generic(target, credential, msg, now)
