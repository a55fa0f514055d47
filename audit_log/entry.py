"""Audit events (what a caller records) and entries (what the log stores), with their exact bytes.

An entry is the JSON object {seq, ts, actor, action, subject, outcome, reason, details, prev}; its
bytes are the RFC 8785 canonical encoding and its hash is the RFC 9162 leaf hash of those bytes.
Because `prev` (the leaf hash of entry seq-1) is inside the bytes, the leaf hashes form the hash
chain and also the leaves of the Merkle tree. The string form of `ts` is fixed here once (`YYYY-MM-
DDTHH:MM:SS.ffffffZ`), so that what is hashed is exactly what is read back.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum, StrEnum
from types import MappingProxyType
from typing import Any
from uuid import UUID

from audit_log.canonical import (
    EntryShape,
    entry_json,
    entry_shape,
    has_bmp_keys,
    seq_is_simple,
    shaped_entry_json,
)
from audit_log.errors import InvalidEventError, PersonalDataError
from audit_log.merkle import leaf_hash
from audit_log.personal_data import looks_personal

GENESIS_PREV = "0" * 64
_MAX_SAFE_INT = 2**53 - 1
_MAX_DEPTH = 8
_TS_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"

JSONValue = str | int | bool | None | list["JSONValue"] | dict[str, "JSONValue"]


class Outcome(StrEnum):
    """How the recorded action ended."""

    OK = "ok"
    DENIED = "denied"
    ERROR = "error"


def format_ts(at: datetime) -> str:
    """The one string form of an instant in the log: UTC, microseconds, 'Z'."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise InvalidEventError("timestamps must be timezone-aware")
    return at.astimezone(UTC).strftime(_TS_FORMAT)


def parse_ts(text: str) -> datetime:
    """Read back an instant written by `format_ts`."""
    return datetime.strptime(text, _TS_FORMAT).replace(tzinfo=UTC)


def _json_safe(value: Any, path: str, depth: int) -> JSONValue:
    """Return `value` as a JSON value that hashes the same forever, or refuse it."""
    if type(value) is str:
        kind = looks_personal(value)
        if kind is not None:
            raise PersonalDataError(f"{path} looks like {kind}; refer to subjects by UUID only")
        return value
    if depth > _MAX_DEPTH:
        raise InvalidEventError(f"{path} is nested too deeply")
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, Enum):
        return _json_safe(value.value, path, depth)
    if isinstance(value, int):
        # Integers beyond 2^53 lose precision in JSON readers: keep their digits as a string.
        return value if -_MAX_SAFE_INT <= value <= _MAX_SAFE_INT else str(value)
    if isinstance(value, str):
        kind = looks_personal(value)
        if kind is not None:
            raise PersonalDataError(f"{path} looks like {kind}; refer to subjects by UUID only")
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidEventError(f"{path} is not a finite number")
        # Floats format differently across encoders; a fixed decimal string hashes the same forever.
        return repr(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise InvalidEventError(f"{path} is not a finite number")
        return str(value)
    if isinstance(value, datetime):
        return format_ts(value)
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, Mapping):
        out: dict[str, JSONValue] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidEventError(f"{path} has a key that is not a string")
            if looks_personal(key) is not None:
                raise PersonalDataError(f"{path} has a key that looks like personal data")
            out[key] = _json_safe(item, f"{path}.{key}", depth + 1)
        return out
    if isinstance(value, list | tuple):
        return [_json_safe(item, f"{path}[{i}]", depth + 1) for i, item in enumerate(value)]
    raise InvalidEventError(f"{path} has a type JSON cannot hold: {type(value).__name__}")


def _text(value: object, name: str, limit: int) -> str:
    if not isinstance(value, str) or not value or len(value) > limit:
        raise InvalidEventError(f"{name} must be a non-empty string of at most {limit} characters")
    return value


@dataclass(frozen=True, slots=True)
class Event:
    """Something to record: who did what to which subject, how it ended, and why.

    Construction validates and normalizes: `details` becomes a read-only JSON-safe mapping, and a
    reason or detail that looks like personal data is refused with `PersonalDataError`.
    """

    actor: str
    action: str
    subject: UUID | None = None
    outcome: Outcome = Outcome.OK
    reason: str = ""
    details: Mapping[str, Any] = field(default_factory=dict)
    simple: bool = field(default=False, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _text(self.actor, "actor", 200)
        _text(self.action, "action", 100)
        if self.subject is not None and not isinstance(self.subject, UUID):
            raise InvalidEventError("subject must be a UUID or None")
        object.__setattr__(self, "outcome", Outcome(self.outcome))
        if not isinstance(self.reason, str):
            raise InvalidEventError("reason must be a string")
        if looks_personal(self.reason) is not None:
            raise PersonalDataError(
                "reason looks like personal data; refer to subjects by UUID only"
            )
        if not isinstance(self.details, Mapping):
            raise InvalidEventError("details must be a mapping")
        safe = _json_safe(self.details, "details", 0)
        assert isinstance(safe, dict)  # a mapping comes back as a dict
        object.__setattr__(self, "details", MappingProxyType(safe))
        # Validated details hold only JSON-safe shapes; only keys beyond U+FFFF need JCS ordering.
        object.__setattr__(self, "simple", has_bmp_keys(safe))

    def about(self, subject: UUID) -> Event:
        """This event about `subject` instead, without validating again what already was.

        A sweep records thousands of events that differ only in their subject; validating the
        same details once per subject cost more than sealing and hashing the entries.
        """
        if not isinstance(subject, UUID):
            raise InvalidEventError("subject must be a UUID or None")
        event = object.__new__(Event)
        for name in _SHARED_FIELDS:
            object.__setattr__(event, name, getattr(self, name))
        object.__setattr__(event, "subject", subject)
        return event

    def with_details(self, extra: Mapping[str, Any]) -> Event:
        """This event with `extra` merged into its details, validating only `extra`.

        A front end tags every entry it records (the request's channel and id); validating
        the whole event again for each tag cost as much as building it.
        """
        if not isinstance(extra, Mapping):
            raise InvalidEventError("details must be a mapping")
        safe = _json_safe(extra, "details", 0)
        assert isinstance(safe, dict)
        event = object.__new__(Event)
        for name in _SHARED_FIELDS:
            object.__setattr__(event, name, getattr(self, name))
        object.__setattr__(event, "subject", self.subject)
        object.__setattr__(event, "details", MappingProxyType({**self.details, **safe}))
        object.__setattr__(event, "simple", self.simple and has_bmp_keys(safe))
        return event


_SHARED_FIELDS = tuple(f.name for f in fields(Event) if f.name != "subject")


@dataclass(frozen=True, slots=True)
class Entry:
    """One stored entry of the log, with its canonical bytes and leaf hash."""

    seq: int
    ts: datetime
    actor: str
    action: str
    subject: UUID | None
    outcome: Outcome
    reason: str
    details: Mapping[str, Any]
    prev: str
    canonical: bytes
    leaf_hash: bytes

    @classmethod
    def create(
        cls,
        seq: int,
        ts: datetime,
        prev: str,
        event: Event,
        ts_text: str | None = None,
        shape: EntryShape | None = None,
    ) -> Entry:
        """Seal `event` as entry `seq` at `ts`, chained to the leaf hash `prev` (hex).

        `ts_text` is `format_ts(ts)` when the caller already has it (one instant per batch);
        `shape` is `Entry.shape(event, ts_text)` when the caller seals many alike events.
        """
        subject = None if event.subject is None else str(event.subject)
        if shape is not None and seq_is_simple(seq):
            data = shaped_entry_json(shape, seq=seq, prev=prev, subject=subject)
        else:
            try:
                data = entry_json(
                    seq=seq,
                    ts=ts_text or format_ts(ts),
                    actor=event.actor,
                    action=event.action,
                    subject=subject,
                    outcome=event.outcome.value,
                    reason=event.reason,
                    details=dict(event.details),
                    prev=prev,
                    simple=event.simple,
                )
            except Exception as exc:  # rfc8785 raises its own types (lone surrogates, ...)
                raise InvalidEventError("event cannot be encoded as canonical JSON") from exc
        return cls(
            seq,
            ts,
            event.actor,
            event.action,
            event.subject,
            event.outcome,
            event.reason,
            event.details,
            prev,
            data,
            leaf_hash(data),
        )

    @staticmethod
    def shape(event: Event, ts_text: str) -> EntryShape | None:
        """The canonical text shared by entries of events alike to `event` at `ts_text`.

        None when such entries need the reference encoder; `create` takes it as `shape`.
        """
        if not event.simple:
            return None
        return entry_shape(
            ts=ts_text,
            actor=event.actor,
            action=event.action,
            outcome=event.outcome.value,
            reason=event.reason,
            details=dict(event.details),
        )

    @classmethod
    def decode(cls, data: bytes) -> Entry:
        """Read an entry back from its canonical bytes (the hash is recomputed, never trusted)."""
        obj = json.loads(data)
        subject = obj["subject"]
        return cls(
            seq=obj["seq"],
            ts=parse_ts(obj["ts"]),
            actor=obj["actor"],
            action=obj["action"],
            subject=None if subject is None else UUID(subject),
            outcome=Outcome(obj["outcome"]),
            reason=obj["reason"],
            details=MappingProxyType(obj["details"]),
            prev=obj["prev"],
            canonical=data,
            leaf_hash=leaf_hash(data),
        )

    def to_json(self) -> dict[str, Any]:
        """The entry as the JSON object that was hashed, plus its leaf hash in hex."""
        obj: dict[str, Any] = json.loads(self.canonical)
        obj["leaf_hash"] = self.leaf_hash.hex()
        return obj
