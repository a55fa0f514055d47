"""Helpers for testing code that uses the engine: a fixed clock and throwaway databases on SQLite or
PostgreSQL, created and dropped per test.
"""

from __future__ import annotations

from retention.testing.installations import DatabaseFactory, FixedClock

__all__ = ["DatabaseFactory", "FixedClock"]
