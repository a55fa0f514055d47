"""Calendar durations for expiries: month-end clamping, time kept, one clear error."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from retention.durations import add_months, parse_duration, resolve_expiry
from retention.errors import BadInput

AT = datetime(2026, 8, 31, 9, 30, tzinfo=UTC)


class TestDurations:
    def test_month_end_clamps(self) -> None:
        """Aug 31 + 6 months is Feb 28 (Feb 29 in a leap year), time of day kept."""
        assert add_months(AT, 6) == datetime(2027, 2, 28, 9, 30, tzinfo=UTC)
        assert add_months(datetime(2027, 8, 31, tzinfo=UTC), 6) == datetime(2028, 2, 29, tzinfo=UTC)

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("30d", datetime(2026, 9, 30, 9, 30, tzinfo=UTC)),
            ("2w", datetime(2026, 9, 14, 9, 30, tzinfo=UTC)),
            ("24m", datetime(2028, 8, 31, 9, 30, tzinfo=UTC)),
            ("1y", datetime(2027, 8, 31, 9, 30, tzinfo=UTC)),
            ("2027-01-31", datetime(2027, 1, 31, 23, 59, 59, tzinfo=UTC)),
            ("2027-01-31T12:00:00+02:00", datetime(2027, 1, 31, 10, tzinfo=UTC)),
        ],
    )
    def test_resolve(self, text: str, expected: datetime) -> None:
        """Durations count from the instant; dates mean the end of that day in UTC."""
        assert resolve_expiry(text, AT) == expected

    @pytest.mark.parametrize("text", ["", "5", "d5", "-1d", "1.5m", "x" * 10_000, "2027-13-01"])
    def test_bad(self, text: str) -> None:
        """Anything else is one BadInput naming both accepted forms."""
        with pytest.raises(BadInput, match="must be a duration like 30d"):
            resolve_expiry(text, AT)

    def test_naive_instant_refused(self) -> None:
        """An instant without timezone is refused rather than guessed."""
        with pytest.raises(BadInput, match="with a timezone"):
            resolve_expiry("2027-01-31T12:00:00", AT)

    def test_zero_refused(self) -> None:
        """A zero duration is not an expiry."""
        with pytest.raises(BadInput, match="positive"):
            parse_duration("0m", "--expires")
