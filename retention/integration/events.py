"""What a source says happened, in one shape whatever the source: `InboundEvent`.

Parsers turn a verified body into events: `parse_greenhouse` for Greenhouse's web hooks (the
`action` and `payload` of its documented candidate and application events), `parse_generic`
for the engine's own format, posted by any other system signed per Standard Webhooks:

    {"type": "candidate.updated", "timestamp": "2026-11-22T12:00:00Z",
     "data": {"candidate": {"id": "c-17", "first_name": "...", "last_name": "...",
                            "email": "...", "phone": "...", "city": "...", "country": "NL"},
              "application": {"id": "a-3", "position": "Data engineer",
                              "status": "rejected", "applied_at": "...", "decided_at": "..."}}}

Types: `candidate.updated` (the candidate, and optionally one application), `application.updated`
(the same, the application required), `application.deleted`, `candidate.deleted`,
`candidate.merged` (`data.candidate.id` merged into `data.merged_into`), `candidate.anonymized`
(`data.fields`: engine field names the source has anonymized), `ping`. The source's field names
may differ: `[integration.NAME.fields]` maps them onto the engine's. A body that does not have
this shape raises `Malformed`, whose message names the problem and never a value.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

__all__ = [
    "ApplicationFacts",
    "EventKind",
    "InboundEvent",
    "Malformed",
    "parse_generic",
    "parse_greenhouse",
]

PERSON_FIELDS = ("first_name", "last_name", "email", "phone", "city", "notes")
APPLICATION_STATUSES = {
    "active": "in_process",
    "in_process": "in_process",
    "rejected": "rejected",
    "withdrawn": "withdrawn",
    "hired": "hired",
}
MAX_ID = 100


class Malformed(ValueError):
    """The body is not an event of the source's format (the message holds no value from it)."""


class EventKind(StrEnum):
    PING = "ping"
    CANDIDATE = "candidate"  # created or changed (with an application, maybe)
    APPLICATION_DELETED = "application_deleted"
    DELETED = "deleted"  # the candidate was deleted at the source
    MERGED = "merged"  # candidate_id merged into merged_into at the source
    ANONYMIZED = "anonymized"  # the source anonymized some of its fields
    IGNORED = "ignored"  # an event of no concern to retention (jobs, offers...)


@dataclass(frozen=True)
class ApplicationFacts:
    id: str
    status: str | None = None  # an engine status (in_process, rejected, withdrawn, hired)
    position: str | None = None
    applied_at: datetime | None = None
    decided_at: datetime | None = None


@dataclass(frozen=True)
class InboundEvent:
    kind: EventKind
    type: str  # the source's own name of the event, for the audit entry
    candidate_id: str | None = None
    occurred_at: datetime | None = None  # the event's own time, when the source gives one
    person: Mapping[str, str | None] = field(default_factory=dict)  # engine field -> value
    country: str | None = None
    application: ApplicationFacts | None = None
    application_ids: tuple[str, ...] = ()  # deleted with the candidate / the application
    merged_into: str | None = None
    anonymized_fields: tuple[str, ...] = ()


def _load(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise Malformed("the body is not JSON") from None
    if not isinstance(data, dict):
        raise Malformed("the body is not a JSON object")
    return data


def _obj(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Malformed(f"{what} must be an object")
    return value


def _id(value: Any, what: str) -> str:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise Malformed(f"{what} must be a string or an integer")
    text = str(value)
    if not text or len(text) > MAX_ID or not text.isprintable() or " " in text:
        raise Malformed(f"{what} must be 1-{MAX_ID} printable characters without spaces")
    return text


def _instant(value: Any, what: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise Malformed(f"{what} must be an ISO 8601 instant")
    try:
        at = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise Malformed(f"{what} must be an ISO 8601 instant") from None
    if at.tzinfo is None:
        raise Malformed(f"{what} must carry a UTC offset")
    return at.astimezone(UTC)


def _text(value: Any, what: str, limit: int = 320) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise Malformed(f"{what} must be text of at most {limit} characters")
    return value.strip() or None


def _latest(*instants: datetime | None) -> datetime | None:
    present = [i for i in instants if i is not None]
    return max(present) if present else None


def _mapped(source: Mapping[str, Any], mapping: Mapping[str, str]) -> dict[str, Any]:
    """The source object with its field names mapped onto the engine's (others kept)."""
    return {mapping.get(k, k): v for k, v in source.items()}


# --- Greenhouse -----------------------------------------------------------------------------

_GREENHOUSE_APPLICATION_EVENTS = {
    "new_candidate_application",
    "new_prospect_application",
    "application_updated",
    "candidate_stage_change",
    "reject_candidate",
    "unreject_candidate",
    "hire_candidate",
    "unhire_candidate",
}


def parse_greenhouse(body: bytes, mapping: Mapping[str, str] | None = None) -> InboundEvent:
    """One Greenhouse web hook body (already verified) as an event."""
    data = _load(body)
    action = data.get("action")
    if not isinstance(action, str) or len(action) > 64:
        raise Malformed("action must be a string")
    payload = _obj(data.get("payload", {}), "payload")
    mapping = mapping or {}
    if action == "ping":
        return InboundEvent(EventKind.PING, action)
    if action in _GREENHOUSE_APPLICATION_EVENTS:
        return _greenhouse_application(
            action, _obj(payload.get("application"), "application"), mapping
        )
    if action == "update_candidate":
        candidate = _obj(payload.get("candidate"), "candidate")
        person, country = _greenhouse_person(candidate, mapping)
        return InboundEvent(
            EventKind.CANDIDATE,
            action,
            candidate_id=_id(candidate.get("id"), "candidate.id"),
            occurred_at=_latest(
                _instant(candidate.get("updated_at"), "candidate.updated_at"),
                _instant(candidate.get("last_activity"), "candidate.last_activity"),
            ),
            person=person,
            country=country,
        )
    if action == "delete_candidate":
        person = _obj(payload.get("person"), "person")
        ids: Any = person.get("deleted_application_ids") or person.get("application_ids") or []
        if not isinstance(ids, list):
            raise Malformed("person.deleted_application_ids must be a list")
        return InboundEvent(
            EventKind.DELETED,
            action,
            candidate_id=_id(person.get("id"), "person.id"),
            application_ids=tuple(_id(i, "application id") for i in ids),
        )
    if action == "merge_candidate":
        person = _obj(payload.get("person"), "person")
        return InboundEvent(
            EventKind.MERGED,
            action,
            candidate_id=_id(person.get("id"), "person.id"),
            merged_into=_id(person.get("new_candidate_id"), "person.new_candidate_id"),
        )
    if action == "delete_application":
        application = _obj(payload.get("application"), "application")
        return InboundEvent(
            EventKind.APPLICATION_DELETED,
            action,
            candidate_id=_id(application.get("candidate_id"), "application.candidate_id"),
            application_ids=(_id(application.get("id"), "application.id"),),
        )
    if action == "candidate_anonymized":
        fields = payload.get("anonymized_fields", [])
        if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
            raise Malformed("anonymized_fields must be a list of names")
        return InboundEvent(
            EventKind.ANONYMIZED,
            action,
            candidate_id=_id(payload.get("candidate_id"), "candidate_id"),
            anonymized_fields=tuple(
                sorted({f for name in fields for f in _GREENHOUSE_ANONYMIZED.get(name, ())})
            ),
        )
    return InboundEvent(EventKind.IGNORED, action)


# Greenhouse's anonymize field names and the engine fields they clear.
_GREENHOUSE_ANONYMIZED: dict[str, tuple[str, ...]] = {
    "full_name": ("first_name", "last_name"),
    "emails": ("email",),
    "email_addresses": ("email",),
    "phone_numbers": ("phone",),
    "addresses": ("city",),
    "location": ("city",),
    "notes": ("notes",),
}


def _first_value(items: Any, what: str) -> str | None:
    if items is None:
        return None
    if not isinstance(items, list):
        raise Malformed(f"{what} must be a list")
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("value"), str):
            return _text(item["value"], what)
    return None


def _greenhouse_person(
    candidate: Mapping[str, Any], mapping: Mapping[str, str]
) -> tuple[dict[str, str | None], str | None]:
    person: dict[str, str | None] = {
        "first_name": _text(candidate.get("first_name"), "candidate.first_name", 200),
        "last_name": _text(candidate.get("last_name"), "candidate.last_name", 200),
        "email": _first_value(candidate.get("email_addresses"), "candidate.email_addresses"),
        "phone": _first_value(candidate.get("phone_numbers"), "candidate.phone_numbers"),
    }
    country = None
    # Mapped custom fields: `[integration.NAME.fields]` names a custom field's key.
    custom = candidate.get("custom_fields")
    if isinstance(custom, dict):
        for key, engine_field in mapping.items():
            entry = custom.get(key)
            value = entry.get("value") if isinstance(entry, dict) else entry
            if engine_field == "country":
                country = _text(value, f"custom field {key}", 100)
            elif isinstance(value, str | None):
                person[engine_field] = _text(value, f"custom field {key}", 1000)
    return {k: v for k, v in person.items() if k in candidate or v is not None}, country


def _greenhouse_application(
    action: str, application: Mapping[str, Any], mapping: Mapping[str, str]
) -> InboundEvent:
    candidate = _obj(application.get("candidate"), "application.candidate")
    person, country = _greenhouse_person(candidate, mapping)
    status = application.get("status")
    if action == "hire_candidate":
        status = status or "hired"
    if status is not None and status not in APPLICATION_STATUSES:
        raise Malformed("application.status must be active, rejected or hired")
    rejected_at = _instant(application.get("rejected_at"), "application.rejected_at")
    last_activity = _instant(application.get("last_activity_at"), "application.last_activity_at")
    jobs = application.get("jobs")
    position = None
    if isinstance(jobs, list) and jobs and isinstance(jobs[0], dict):
        position = _text(jobs[0].get("name"), "application.jobs[].name", 200)
    engine_status = APPLICATION_STATUSES[status] if status else None
    offer = application.get("offer")
    resolved = (
        _instant(offer.get("resolved_at"), "application.offer.resolved_at")
        if isinstance(offer, dict)
        else None
    )
    decided = rejected_at if engine_status == "rejected" else None
    if engine_status == "hired":
        decided = resolved
    return InboundEvent(
        EventKind.CANDIDATE,
        action,
        candidate_id=_id(candidate.get("id"), "application.candidate.id"),
        occurred_at=_latest(last_activity, rejected_at, resolved),
        person=person,
        country=country,
        application=ApplicationFacts(
            id=_id(application.get("id"), "application.id"),
            status=engine_status,
            position=position,
            applied_at=_instant(application.get("applied_at"), "application.applied_at"),
            decided_at=decided,
        ),
    )


# --- the generic format ---------------------------------------------------------------------

GENERIC_TYPES = (
    "candidate.updated",
    "application.updated",
    "application.deleted",
    "candidate.deleted",
    "candidate.merged",
    "candidate.anonymized",
    "ping",
)


def parse_generic(body: bytes, mapping: Mapping[str, str] | None = None) -> InboundEvent:
    """One event of the engine's generic format (see the module docstring)."""
    data = _load(body)
    kind = data.get("type")
    if kind not in GENERIC_TYPES:
        raise Malformed(f"type must be one of {', '.join(GENERIC_TYPES)}")
    if kind == "ping":
        return InboundEvent(EventKind.PING, kind)
    occurred = _instant(data.get("timestamp"), "timestamp")
    if occurred is None:
        raise Malformed("timestamp is required")
    payload = _obj(data.get("data"), "data")
    candidate = _mapped(_obj(payload.get("candidate"), "data.candidate"), mapping or {})
    candidate_id = _id(candidate.get("id"), "data.candidate.id")
    if kind == "candidate.deleted":
        return InboundEvent(EventKind.DELETED, kind, candidate_id, occurred)
    if kind == "candidate.merged":
        into = _id(payload.get("merged_into"), "data.merged_into")
        return InboundEvent(EventKind.MERGED, kind, candidate_id, occurred, merged_into=into)
    if kind == "candidate.anonymized":
        fields = payload.get("fields", [])
        if not isinstance(fields, list) or not set(fields) <= set(PERSON_FIELDS):
            raise Malformed(f"data.fields must list fields of {', '.join(PERSON_FIELDS)}")
        return InboundEvent(
            EventKind.ANONYMIZED, kind, candidate_id, occurred, anonymized_fields=tuple(fields)
        )
    application = payload.get("application")
    if kind == "application.deleted":
        app = _obj(application, "data.application")
        return InboundEvent(
            EventKind.APPLICATION_DELETED,
            kind,
            candidate_id,
            occurred,
            application_ids=(_id(app.get("id"), "data.application.id"),),
        )
    if kind == "application.updated" and application is None:
        raise Malformed("data.application is required")
    person = {
        f: _text(candidate[f], f"data.candidate.{f}", 1000 if f == "notes" else 320)
        for f in PERSON_FIELDS
        if f in candidate
    }
    facts = None
    if application is not None:
        app = _obj(application, "data.application")
        status = app.get("status")
        if status is not None and status not in APPLICATION_STATUSES:
            raise Malformed("data.application.status must be active, rejected, withdrawn or hired")
        facts = ApplicationFacts(
            id=_id(app.get("id"), "data.application.id"),
            status=APPLICATION_STATUSES[status] if status else None,
            position=_text(app.get("position"), "data.application.position", 200),
            applied_at=_instant(app.get("applied_at"), "data.application.applied_at"),
            decided_at=_instant(app.get("decided_at"), "data.application.decided_at"),
        )
    return InboundEvent(
        EventKind.CANDIDATE,
        kind,
        candidate_id,
        occurred,
        person=person,
        country=_text(candidate.get("country"), "data.candidate.country", 100),
        application=facts,
    )
