"""The one JSON convention of results."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from enum import StrEnum
from pathlib import Path

import pytest

from retention.results import json_data, rfc3339


class Colour(StrEnum):
    RED = "red"


@dataclass(frozen=True)
class Plain:
    at: datetime
    colour: Colour
    tags: frozenset[str]


@dataclass(frozen=True)
class Custom:
    n: int

    def to_json(self) -> dict[str, int]:
        return {"count": self.n}


class TestRfc3339:
    def test_utc_with_z_and_microseconds(self) -> None:
        """An instant prints in UTC with Z, whatever its offset."""
        at = datetime(2026, 12, 1, 20, 55, 30, 900000, tzinfo=timezone(timedelta(hours=2)))
        assert rfc3339(at) == "2026-12-01T18:55:30.900000Z"

    def test_naive_refused(self) -> None:
        """A naive datetime is a bug, not an instant."""
        with pytest.raises(ValueError, match="naive"):
            rfc3339(datetime(2026, 12, 1))


class TestJsonData:
    def test_nested_values(self) -> None:
        """Dataclasses, enums, sets, UUIDs, paths and dates become plain JSON data."""
        key = uuid.UUID(int=1)
        value = {
            "plain": Plain(datetime(2026, 1, 2, tzinfo=UTC), Colour.RED, frozenset({"b", "a"})),
            "custom": [Custom(3)],
            key: (Path("/x"), date(2026, 2, 28)),
        }
        assert json_data(value) == {
            "plain": {"at": "2026-01-02T00:00:00.000000Z", "colour": "red", "tags": ["a", "b"]},
            "custom": [{"count": 3}],
            str(key): ["/x", "2026-02-28"],
        }

    def test_unknown_type_refused(self) -> None:
        """An object without a JSON form fails loudly instead of printing its repr."""
        with pytest.raises(TypeError, match="no JSON form"):
            json_data(object())
