"""Art. 12(3) deadlines counted per Regulation 1182/71: month ends, weekends, holidays, zones."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from retention.requests.deadlines import (
    EXTENDED_MONTHS,
    STANDARD_MONTHS,
    WorkingCalendar,
    add_months,
    deadline,
)

BUCHAREST = ZoneInfo("Europe/Bucharest")
RO = WorkingCalendar.of("RO")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# (id, received (UTC), months, nominal day, due day)
CASES = [
    ("plain", utc(2026, 6, 10, 9), 1, date(2026, 7, 10), date(2026, 7, 10)),
    ("month end: 31 Mar -> 30 Apr", utc(2026, 3, 31, 9), 1, date(2026, 4, 30), date(2026, 4, 30)),
    (
        "31 Jan -> 29 Feb in a leap year",
        utc(2028, 1, 31, 9),
        1,
        date(2028, 2, 29),
        date(2028, 2, 29),
    ),
    (
        "31 Jan -> 28 Feb in a common year",
        utc(2025, 1, 31, 9),
        1,
        date(2025, 2, 28),
        date(2025, 2, 28),
    ),
    (
        "29 Jan -> 28 Feb, a Saturday -> Monday 2 Mar",
        utc(2026, 1, 29, 9),
        1,
        date(2026, 2, 28),
        date(2026, 3, 2),
    ),
    ("on a Saturday -> Monday", utc(2026, 2, 7, 9), 1, date(2026, 3, 7), date(2026, 3, 9)),
    ("on a Sunday -> Monday", utc(2026, 2, 8, 9), 1, date(2026, 3, 8), date(2026, 3, 9)),
    (
        "on a national holiday (Children's Day, Tue 1 Jun 2027)",
        utc(2027, 5, 1, 9),
        1,
        date(2027, 6, 1),
        date(2027, 6, 2),
    ),
    (
        "holiday next to a weekend (Labour Day, Fri 1 May 2026)",
        utc(2026, 4, 1, 9),
        1,
        date(2026, 5, 1),
        date(2026, 5, 4),
    ),
    (
        "Orthodox Good Friday to Easter Monday 2026",
        utc(2026, 3, 10, 9),
        1,
        date(2026, 4, 10),
        date(2026, 4, 14),
    ),
    (
        "two holidays in a row (30 Nov, 1 Dec 2026)",
        utc(2026, 10, 30, 9),
        1,
        date(2026, 11, 30),
        date(2026, 12, 2),
    ),
    (
        "Christmas then a weekend (25-27 Dec 2026)",
        utc(2026, 11, 25, 9),
        1,
        date(2026, 12, 25),
        date(2026, 12, 28),
    ),
    (
        "late evening UTC is the next day in Bucharest",
        utc(2026, 6, 14, 21, 30),
        1,
        date(2026, 7, 15),
        date(2026, 7, 15),
    ),
    (
        "22:30 UTC on 31 Mar is 1 Apr in Bucharest",
        utc(2026, 3, 31, 22, 30),
        1,
        date(2026, 5, 1),
        date(2026, 5, 4),
    ),
    (
        "extended: three months from receipt",
        utc(2026, 1, 31, 9),
        3,
        date(2026, 4, 30),
        date(2026, 4, 30),
    ),
    (
        "extended to 28 Feb, a Saturday",
        utc(2025, 11, 30, 9),
        3,
        date(2026, 2, 28),
        date(2026, 3, 2),
    ),
    ("extended across the year end", utc(2026, 10, 31, 9), 3, date(2027, 1, 31), date(2027, 2, 1)),
]


class TestDeadline:
    @pytest.mark.parametrize(
        ("received", "months", "nominal", "due"),
        [c[1:] for c in CASES],
        ids=[c[0] for c in CASES],
    )
    def test_due_day(self, received: datetime, months: int, nominal: date, due: date) -> None:
        """The nominal day clamps to the month's end; the due day is the next working day."""
        found = deadline(received, BUCHAREST, RO, months=months)
        assert (found.nominal, found.due_on) == (nominal, due)

    def test_receipt_date_is_taken_in_the_controller_zone(self) -> None:
        """21:30 UTC on 14 June is 15 June in Bucharest but still 14 June in UTC."""
        at = utc(2026, 6, 14, 21, 30)
        assert deadline(at, BUCHAREST, RO, months=1).received_on == date(2026, 6, 15)
        assert deadline(at, ZoneInfo("UTC"), RO, months=1).due_on == date(2026, 7, 14)

    def test_ends_with_the_last_hour_of_the_day_in_the_zone(self) -> None:
        """Due 15 July (EEST, UTC+3): overdue from 21:00 UTC that day, not before."""
        found = deadline(utc(2026, 6, 14, 21, 30), BUCHAREST, RO, months=1)
        assert found.ends_at == utc(2026, 7, 15, 21, 0)
        assert not found.overdue(utc(2026, 7, 15, 20, 59, 59))
        assert found.overdue(utc(2026, 7, 15, 21, 0))

    def test_end_of_day_in_winter_time(self) -> None:
        """Due 9 March (EET, UTC+2): the day ends at 22:00 UTC."""
        assert deadline(utc(2026, 2, 7, 9), BUCHAREST, RO, months=1).ends_at == utc(2026, 3, 9, 22)

    def test_without_a_calendar_only_weekends_move_the_day(self) -> None:
        """No [requests] calendar: Labour Day is a working day, Saturday is not."""
        none = WorkingCalendar.of(None)
        assert deadline(utc(2026, 4, 1, 9), BUCHAREST, none, months=1).due_on == date(2026, 5, 1)
        assert deadline(utc(2026, 2, 7, 9), BUCHAREST, none, months=1).due_on == date(2026, 3, 9)

    def test_subdivision_holidays(self) -> None:
        """Epiphany (6 Jan) is a holiday in Bavaria, not in Berlin."""
        at = utc(2026, 12, 6, 9)  # -> Wed 6 Jan 2027
        zone = ZoneInfo("Europe/Berlin")
        assert deadline(at, zone, WorkingCalendar.of("DE-BY"), months=1).due_on == date(2027, 1, 7)
        assert deadline(at, zone, WorkingCalendar.of("DE-BE"), months=1).due_on == date(2027, 1, 6)

    def test_naive_receipt_is_refused(self) -> None:
        with pytest.raises(ValueError, match="timezone-aware"):
            deadline(datetime(2026, 1, 1), BUCHAREST, RO, months=1)

    def test_month_counts(self) -> None:
        assert (STANDARD_MONTHS, EXTENDED_MONTHS) == (1, 3)


class TestAddMonths:
    @pytest.mark.parametrize(
        ("day", "months", "want"),
        [
            (date(2026, 1, 31), 1, date(2026, 2, 28)),
            (date(2028, 1, 31), 1, date(2028, 2, 29)),
            (date(2026, 8, 31), 6, date(2027, 2, 28)),
            (date(2026, 12, 15), 1, date(2027, 1, 15)),
            (date(2026, 11, 30), 3, date(2027, 2, 28)),
        ],
    )
    def test_clamps_to_the_month_end(self, day: date, months: int, want: date) -> None:
        assert add_months(day, months) == want
