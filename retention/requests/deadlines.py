"""The Art. 12(3) deadline of a data-subject request, computed as Regulation 1182/71 counts time.

Pure functions, no I/O. A request received at an instant is answered by the end of a day:
- the receipt's date in the controller's timezone (Art. 3(1): the day of the event is not counted);
- the same day of the month one month later (three months once extended), or that month's last day
  when it has no such day (Art. 3(2)(c));
- moved to the next working day when it falls on a Saturday, a Sunday or a public holiday of the
  controller's calendar country (Art. 3(4));
- ending with the last hour of that day in the controller's timezone (Art. 3(2)(c)): the request
  is overdue from the first instant of the following day there.
Pausing a request records why; it never moves the deadline.
"""

from __future__ import annotations

import calendar
import functools
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays

__all__ = [
    "EXTENDED_MONTHS",
    "STANDARD_MONTHS",
    "Deadline",
    "WorkingCalendar",
    "add_months",
    "deadline",
]

STANDARD_MONTHS = 1  # Art. 12(3): "within one month of receipt"
EXTENDED_MONTHS = 3  # "extended by two further months": three months from receipt


def add_months(day: date, months: int) -> date:
    """The same day of the month `months` later, or that month's last day (Art. 3(2)(c))."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


@dataclass(frozen=True)
class WorkingCalendar:
    """The controller's working days: Monday to Friday, less the public holidays of a country
    (and of a subdivision, such as DE-BY, when one is configured)."""

    country: str | None  # None: Saturdays and Sundays only
    subdivision: str | None = None

    @classmethod
    def of(cls, code: str | None) -> WorkingCalendar:
        """The calendar of a code checked by the configuration: "RO", "DE-BY", or None."""
        if code is None:
            return cls(None)
        country, _, subdivision = code.partition("-")
        return cls(country, subdivision or None)

    def is_working_day(self, day: date) -> bool:
        return day.weekday() < 5 and day not in self._holidays(day.year)

    def _holidays(self, year: int) -> holidays.HolidayBase | dict[date, str]:
        return {} if self.country is None else _holidays(self.country, self.subdivision, year)

    def holiday_name(self, day: date) -> str | None:
        found = self._holidays(day.year).get(day)
        return None if found is None else str(found)

    def on_or_after(self, day: date) -> date:
        """`day` if it is a working day, else the next one (Art. 3(4))."""
        while not self.is_working_day(day):
            day += timedelta(days=1)
        return day

    @property
    def code(self) -> str | None:
        if self.country is None or self.subdivision is None:
            return self.country
        return f"{self.country}-{self.subdivision}"


@functools.cache
def _holidays(country: str, subdivision: str | None, year: int) -> holidays.HolidayBase:
    return holidays.country_holidays(country, subdiv=subdivision, years=year)


@dataclass(frozen=True)
class Deadline:
    """When a request must be answered: the last day, and the instant that day ends (UTC)."""

    received_on: date  # the receipt's date in the controller's timezone
    nominal: date  # before the working-day rule
    due_on: date
    ends_at: datetime  # the first instant after `due_on` in the controller's timezone, in UTC

    def overdue(self, at: datetime) -> bool:
        return at >= self.ends_at

    def days_left(self, at: datetime, zone: ZoneInfo) -> int:
        return (self.due_on - at.astimezone(zone).date()).days


def deadline(
    received_at: datetime, zone: ZoneInfo, working: WorkingCalendar, *, months: int
) -> Deadline:
    """The deadline of a request received at `received_at`, `months` months on (1 or 3)."""
    if received_at.tzinfo is None:
        raise ValueError("received_at must be timezone-aware")
    received_on = received_at.astimezone(zone).date()
    nominal = add_months(received_on, months)
    due_on = working.on_or_after(nominal)
    # The end of the day in the controller's zone: midnight of the next day there (a DST change
    # on that night is handled by the zone, not by adding 24 hours).
    ends = datetime.combine(due_on + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
    return Deadline(received_on, nominal, due_on, ends)
