"""One way for every result to become JSON data: `to_json()`, RFC 3339 UTC instants with `Z`.

Front ends (the CLI's `--json`, the HTTP API) print what `json_data` returns and nothing else, so a
program reading any command sees the same shapes: objects for results, one array for a list,
instants as `2026-12-01T18:55:30.900000Z`, UUIDs and enums as their text. A result type implements
`to_json()` when its JSON is not simply its fields (a dataclass without it is turned into an
object of its fields).
"""

from __future__ import annotations

import dataclasses
import enum
import uuid
from collections.abc import Mapping
from datetime import UTC, date, datetime
from pathlib import PurePath
from typing import Any, Protocol, TypeAlias, runtime_checkable

__all__ = ["JSONData", "Result", "json_data", "rfc3339"]

JSONData: TypeAlias = dict[str, Any] | list[Any] | str | int | float | bool | None


@runtime_checkable
class Result(Protocol):
    """A value a front end renders: it knows its own JSON."""

    def to_json(self) -> JSONData: ...


def rfc3339(at: datetime) -> str:
    """An instant as RFC 3339 in UTC with `Z`, microseconds kept (naive values are refused)."""
    if at.tzinfo is None or at.tzinfo.utcoffset(at) is None:
        raise ValueError("naive datetime: instants are timezone-aware UTC")
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def json_data(value: Any) -> JSONData:
    """`value` as plain JSON data (dict, list, str, number, bool, None), recursively."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Result):
        return json_data(value.to_json())
    if isinstance(value, datetime):
        return rfc3339(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return json_data(value.value)
    if isinstance(value, uuid.UUID | PurePath):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): json_data(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value) if isinstance(value, set | frozenset) else value
        return [json_data(v) for v in items]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: json_data(getattr(value, f.name)) for f in dataclasses.fields(value)}
    raise TypeError(f"{type(value).__name__} has no JSON form: give it to_json()")
