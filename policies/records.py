"""The record a policy decides: the facts of one candidate the rules may look at, and nothing else.

Kept free of the ORM so the evaluator stays pure; `retention` (or a JSON line given to
`gdpr policy evaluate`) fills it. Instants are timezone-aware UTC.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .errors import PolicyError


class RecordFormatError(PolicyError):
    """A record given as JSON does not have the documented shape."""


@dataclass(frozen=True, slots=True)
class Consent:
    """One consent given for a purpose; renewals are further Consents for the same purpose."""

    purpose: str
    given_at: datetime | None
    expires_at: datetime | None = None
    withdrawn_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Hold:
    """A legal hold; active from placed_at (if known) until released_at (if any)."""

    placed_at: datetime | None = None
    released_at: datetime | None = None

    def active(self, at: datetime) -> bool:
        started = self.placed_at is None or self.placed_at <= at
        return started and (self.released_at is None or self.released_at > at)


@dataclass(frozen=True, slots=True)
class Record:
    """The facts of one candidate that rules may use."""

    id: str
    country: str | None
    status: str | None
    applied_at: datetime | None = None
    decided_at: datetime | None = None
    last_activity_at: datetime | None = None
    consents: tuple[Consent, ...] = ()
    holds: tuple[Hold, ...] = ()

    def latest_consent(self, purpose: str) -> Consent | None:
        """The consent for `purpose` given last (renewals supersede); None if never given."""
        best: Consent | None = None
        for c in self.consents:
            if (
                c.purpose == purpose
                and c.given_at is not None
                and (best is None or best.given_at is None or c.given_at >= best.given_at)
            ):
                best = c
        return best


def parse_instant(value: str | None, what: str = "instant") -> datetime | None:
    """ISO 8601 to aware UTC; a value without offset is read as UTC."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise RecordFormatError(f"{what} must be an ISO 8601 string or null")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise RecordFormatError(f"{what} is not an ISO 8601 instant: {value!r}") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def format_instant(value: datetime | None) -> str | None:
    """Aware UTC instant to ISO 8601 with a Z (microseconds only when present)."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _hold(raw: Any) -> Hold:
    # A hold given only by its id (or as true) is taken as active.
    if isinstance(raw, Mapping):
        return Hold(
            parse_instant(raw.get("placed_at"), "holds.placed_at"),
            parse_instant(raw.get("released_at"), "holds.released_at"),
        )
    return Hold()


def record_from_json(raw: Any) -> Record:
    """Build a Record from the JSON shape of `gdpr policy evaluate`."""
    if not isinstance(raw, Mapping) or "id" not in raw:
        raise RecordFormatError("a record must be a JSON object with an id")
    consents = []
    for c in raw.get("consents") or ():
        if not isinstance(c, Mapping) or "purpose" not in c:
            raise RecordFormatError(f"record {raw['id']}: a consent needs a purpose")
        consents.append(
            Consent(
                str(c["purpose"]),
                parse_instant(c.get("given_at"), "consents.given_at"),
                parse_instant(c.get("expires_at"), "consents.expires_at"),
                parse_instant(c.get("withdrawn_at"), "consents.withdrawn_at"),
            )
        )
    return Record(
        id=str(raw["id"]),
        country=raw.get("country"),
        status=raw.get("status"),
        applied_at=parse_instant(raw.get("applied_at"), "applied_at"),
        decided_at=parse_instant(raw.get("decided_at"), "decided_at"),
        last_activity_at=parse_instant(raw.get("last_activity_at"), "last_activity_at"),
        consents=tuple(consents),
        holds=tuple(_hold(h) for h in raw.get("holds") or ()),
    )
