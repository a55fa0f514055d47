"""One row of an ATS candidate export, checked and normalized, or rejected with a safe reason.

Real exports are messy, and a wrong value silently stored is worse than a rejected row: a
rejected candidate without a decision date would never become due for deletion. So every field
is parsed strictly into what the engine stores, and a row that cannot be is rejected with a
reason that names the column and the rule but never the value (the value is personal data and
reasons end up in terminals and logs).

Choices where exports disagree (documented in `gdpr import candidates --help`):
- dates: `YYYY-MM-DD` and `DD.MM.YYYY` are midnight UTC; ISO 8601 instants with an offset are
  converted to UTC, without one they are taken as UTC;
- spreadsheet formulas: a value starting with `=` or `@`, or with `+` or `-` (except a phone
  number starting with `+`), is refused rather than stripped, because stripping turns
  `=HYPERLINK(...)` into plausible garbage; a leading apostrophe (a spreadsheet's escape for
  literal text) is removed first;
- status spellings map to the four statuses; a decided status needs decided_at;
- last_activity_at, when empty, is the latest of the row's other events.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from retention.countries import parse_country
from retention.errors import BadInput
from retention.fields import CONTACT_FIELDS, FieldRejected, check_contact, clean_text
from retention.store import CandidateStatus

__all__ = [
    "COLUMNS",
    "REQUIRED_COLUMNS",
    "CandidateRecord",
    "RowRejected",
    "normalize_column",
    "parse_row",
]

COLUMNS: tuple[str, ...] = (
    "external_ref",
    "country",
    "status",
    "first_name",
    "last_name",
    "email",
    "phone",
    "city",
    "applied_at",
    "decided_at",
    "last_activity_at",
    "talent_pool_consent_given_at",
    "talent_pool_consent_expires_at",
)
REQUIRED_COLUMNS: tuple[str, ...] = ("external_ref", "country", "status")
_TEXT_LIMITS = {
    "external_ref": 128,
    "first_name": 200,
    "last_name": 200,
    "email": 320,
    "phone": 64,
    "city": 200,
}
_FUTURE_SLACK = timedelta(days=1)  # exports written in a zone ahead of UTC

_STATUS_SPELLINGS: dict[str, CandidateStatus] = {}
for _status, _spellings in {
    CandidateStatus.IN_PROCESS: (
        "in process",
        "in progress",
        "active",
        "open",
        "new",
        "applied",
        "pending",
        "screening",
        "interview",
        "interviewing",
        "offer",
        "offered",
    ),
    CandidateStatus.REJECTED: (
        "rejected",
        "declined",
        "refused",
        "not selected",
        "unsuccessful",
        "disqualified",
        "turned down",
    ),
    CandidateStatus.WITHDRAWN: (
        "withdrawn",
        "withdrew",
        "candidate withdrew",
        "retracted",
        "cancelled",
        "canceled",
    ),
    CandidateStatus.HIRED: ("hired", "accepted", "offer accepted", "employed", "placed", "started"),
}.items():
    for _spelling in _spellings:
        _STATUS_SPELLINGS[_spelling] = _status

_DOTTED_DATE = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class RowRejected(BadInput):
    """A row that cannot be imported; the message names the column and rule, never the value."""


@dataclass(frozen=True)
class CandidateRecord:
    external_ref: str
    country: str
    status: CandidateStatus
    first_name: str | None
    last_name: str | None
    email: str | None
    phone: str | None
    city: str | None
    applied_at: datetime | None
    decided_at: datetime | None
    last_activity_at: datetime | None
    consent_given_at: datetime | None
    consent_expires_at: datetime | None


def normalize_column(name: str) -> str:
    """'First Name', 'first-name', '\\ufeffFIRST_NAME' -> 'first_name'."""
    return re.sub(r"[\s\-]+", "_", name.replace("\ufeff", "").strip().lower())


def parse_row(raw: Mapping[str, str | None], now: datetime) -> CandidateRecord:
    """Check and normalize one row (keys already normalized); raise RowRejected when invalid."""
    try:
        values = {column: _clean(column, raw.get(column)) for column in COLUMNS}
    except FieldRejected as exc:
        raise RowRejected(exc.message) from None
    for column in REQUIRED_COLUMNS:
        if values[column] is None:
            raise RowRejected(f"{column} is missing")
    for column, limit in _TEXT_LIMITS.items():
        value = values[column]
        if value is not None and len(value) > limit:
            raise RowRejected(f"{column} is longer than {limit} characters")
    country = parse_country(values["country"] or "")
    if country is None:
        raise RowRejected("country is not a supported country code or name")
    status = _STATUS_SPELLINGS.get(re.sub(r"[\s_\-]+", " ", (values["status"] or "").lower()))
    if status is None:
        raise RowRejected("status is not one of in_process, rejected, withdrawn, hired")
    try:
        contact = {field: check_contact(field, values[field]) for field in CONTACT_FIELDS}
    except FieldRejected as exc:
        raise RowRejected(exc.message) from None
    email, phone = contact["email"], contact["phone"]
    instants = {
        column: _instant(column, values[column], now)
        for column in COLUMNS
        if column.endswith("_at")
    }
    applied, decided = instants["applied_at"], instants["decided_at"]
    given, expires = (
        instants["talent_pool_consent_given_at"],
        instants["talent_pool_consent_expires_at"],
    )
    if status is not CandidateStatus.IN_PROCESS and decided is None:
        raise RowRejected(f"decided_at is required when status is {status.value}")
    if applied and decided and decided < applied:
        raise RowRejected("decided_at is before applied_at")
    if expires is not None and given is None:
        raise RowRejected("talent_pool_consent_expires_at needs talent_pool_consent_given_at")
    if given and expires and expires <= given:
        raise RowRejected("talent_pool_consent_expires_at is not after the consent was given")
    last = instants["last_activity_at"] or max(
        (t for t in (applied, decided, given) if t is not None), default=None
    )
    return CandidateRecord(
        external_ref=values["external_ref"] or "",
        country=country,
        status=status,
        first_name=contact["first_name"],
        last_name=contact["last_name"],
        email=email,
        phone=phone,
        city=contact["city"],
        applied_at=applied,
        decided_at=decided,
        last_activity_at=last,
        consent_given_at=given,
        consent_expires_at=expires,
    )


def _clean(column: str, value: object) -> str | None:
    return clean_text(column, value)


def _instant(column: str, text: str | None, now: datetime) -> datetime | None:
    if text is None:
        return None
    value = _parse_instant(text)
    if value is None:
        raise RowRejected(
            f"{column} is not a date (use YYYY-MM-DD, DD.MM.YYYY or an ISO 8601 instant)"
        )
    if value.year < 1970:
        raise RowRejected(f"{column} is before 1970")
    if column != "talent_pool_consent_expires_at" and value > now + _FUTURE_SLACK:
        raise RowRejected(f"{column} is in the future")
    return value


def _parse_instant(text: str) -> datetime | None:
    try:
        if _ISO_DATE.fullmatch(text):
            return datetime.fromisoformat(text).replace(tzinfo=UTC)
        dotted = _DOTTED_DATE.fullmatch(text)
        if dotted:
            day, month, year, hour, minute, second = dotted.groups()
            return datetime(
                int(year),
                int(month),
                int(day),
                int(hour or 0),
                int(minute or 0),
                int(second or 0),
                tzinfo=UTC,
            )
        if text[:4].isdigit() and text[4:5] == "-":
            parsed = datetime.fromisoformat(text)
            if parsed.tzinfo is None:
                return parsed.replace(tzinfo=UTC)
            return parsed.astimezone(UTC)
    except ValueError:
        return None
    return None
