"""Time as the engine sees it: always timezone-aware UTC.

One source of "now" so tests and the demo can pin the instant, and one place that refuses naive
datetimes, because a naive value silently shifted by a host timezone is a day-off retention bug.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

__all__ = ["Clock", "as_utc", "utc_now"]

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The current instant, timezone-aware UTC."""
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """Return `value` in UTC; refuse naive datetimes instead of guessing their zone."""
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise ValueError("naive datetime: an explicit timezone is required")
    return value.astimezone(UTC)
