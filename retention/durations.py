"""Calendar durations on the command line (`30d`, `4w`, `24m`, `2y`) and instants they reach.

Grant expiries and consent validity are given as durations from now, read as calendar durations
the way the policy language reads them: a month is a calendar month, clamped to the month's end
(Aug 31 + 6 months = Feb 28/29), and the time of day is kept. An ISO date or instant is accepted
too, for an expiry on a fixed day.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from retention.errors import BadInput

__all__ = [
    "MAX_YEARS_AHEAD",
    "Duration",
    "add_months",
    "check_within_years",
    "parse_duration",
    "resolve_expiry",
]

# How far ahead a consent may expire or a review decision keep a subject: a DPO revisits both
# within this many years (a 9999-day consent is a consent without end, which Art. 7 does not know).
MAX_YEARS_AHEAD = 10

_DURATION_RE = re.compile(r"(\d{1,4})([dwmy])")


@dataclass(frozen=True, slots=True)
class Duration:
    days: int = 0
    months: int = 0

    def after(self, at: datetime) -> datetime:
        return add_months(at, self.months) + timedelta(days=self.days)


def add_months(at: datetime, months: int) -> datetime:
    month0 = at.month - 1 + months
    year, month = at.year + month0 // 12, month0 % 12 + 1
    day = min(at.day, calendar.monthrange(year, month)[1])
    return at.replace(year=year, month=month, day=day)


def parse_duration(text: str, option: str) -> Duration:
    match = _DURATION_RE.fullmatch(text.strip())
    if match is None:
        raise BadInput(
            f"{option} must be a duration like 30d, 4w, 6m or 1y, or a date like 2027-01-31"
        )
    n, unit = int(match.group(1)), match.group(2)
    if n == 0:
        raise BadInput(f"{option} must be a positive duration")
    return {
        "d": Duration(days=n),
        "w": Duration(days=7 * n),
        "m": Duration(months=n),
        "y": Duration(months=12 * n),
    }[unit]


def resolve_expiry(text: str, at: datetime, option: str = "--expires") -> datetime:
    """The instant `text` names: `at` plus a duration, or an ISO date (end of day UTC) or instant."""
    if _DURATION_RE.fullmatch(text.strip()):
        try:
            return parse_duration(text, option).after(at)
        except (ValueError, OverflowError):  # past year 9999
            raise BadInput(f"{option} is too far away") from None
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime(day.year, day.month, day.day, 23, 59, 59, tzinfo=UTC)
        value = datetime.fromisoformat(text)
    except ValueError:
        parse_duration(text, option)  # raises the message that explains both forms
        raise
    if value.tzinfo is None:
        raise BadInput(f"{option}: give the instant with a timezone, e.g. 2027-01-31T12:00:00Z")
    return value.astimezone(UTC)


def check_within_years(
    value: datetime, at: datetime, option: str, years: int = MAX_YEARS_AHEAD
) -> datetime:
    """`value` if it lies after `at` and at most `years` calendar years later; else BadInput."""
    if value <= at:
        raise BadInput(f"{option} must be in the future")
    if value > add_months(at, 12 * years):
        raise BadInput(f"{option} is more than {years} years away: give at most {years}y")
    return value
