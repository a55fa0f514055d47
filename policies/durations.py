"""Calendar arithmetic shared by the evaluator: days, weeks, months clamped to the month's end.

DESIGN.md fixes the meaning: Aug 31 + 6 months = Feb 28/29, years are 12 months, time of day is
kept. Python's timedelta has no months, so month addition is done here, once.
"""

from __future__ import annotations

from calendar import monthrange
from collections.abc import Callable
from datetime import datetime, timedelta

from .schema import Unit


def add_months(instant: datetime, months: int) -> datetime:
    """Add calendar months, clamping the day to the last day of the target month."""
    index = instant.month - 1 + months
    year, month = instant.year + index // 12, index % 12 + 1
    day = instant.day
    if day > 28:  # only the last days of a month can need clamping
        day = min(day, monthrange(year, month)[1])
    return instant.replace(year=year, month=month, day=day)


def shifter(amount: int, unit: str) -> Callable[[datetime], datetime]:
    """A function adding this duration, resolved once (the evaluator's hot path)."""
    if unit in (Unit.DAYS, Unit.WEEKS):
        delta = timedelta(days=amount * (7 if unit == Unit.WEEKS else 1))
        return lambda instant: instant + delta
    months = amount * (12 if unit == Unit.YEARS else 1)
    if unit not in (Unit.MONTHS, Unit.YEARS):
        raise ValueError(f"unknown unit {unit!r}")
    return lambda instant: add_months(instant, months)


def add_duration(instant: datetime, amount: int, unit: str) -> datetime:
    """Add `amount` calendar `unit`s (a schema.Unit value) to an instant."""
    if unit == Unit.DAYS:
        return instant + timedelta(days=amount)
    if unit == Unit.WEEKS:
        return instant + timedelta(days=7 * amount)
    if unit == Unit.MONTHS:
        return add_months(instant, amount)
    if unit == Unit.YEARS:
        return add_months(instant, 12 * amount)
    raise ValueError(f"unknown unit {unit!r}")
