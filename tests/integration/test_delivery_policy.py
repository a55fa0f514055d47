"""Backoff with full jitter and Retry-After, the pure parts of the delivery worker."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from retention.integration.delivery import BASE_DELAY, MAX_DELAY, backoff, retry_after

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def test_backoff_doubles_within_jitter_and_is_capped() -> None:
    rng = random.Random(1)
    for attempt in range(1, 20):
        cap = min(MAX_DELAY, BASE_DELAY * 2 ** (attempt - 1))
        wait = backoff(attempt, rng)
        assert cap / 2 <= wait <= cap


def test_retry_after_in_seconds_or_as_an_http_date() -> None:
    assert retry_after("7", NOW) == timedelta(seconds=7)
    assert retry_after("Sun, 22 Nov 2026 12:00:30 GMT", NOW) == timedelta(seconds=30)
    assert retry_after("Sun, 22 Nov 2026 11:00:00 GMT", NOW) == timedelta(0)
    assert retry_after("soon", NOW) is None and retry_after(None, NOW) is None
