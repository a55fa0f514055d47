"""A set of subject ids as ONE bound parameter, for bulk statements on a batch of subjects.

`column IN (:a, :b, ...)` with thousands of ids makes SQLAlchemy render and process a parameter
per id on every statement, which costs more than the database's work. Here the whole set is one
value: a JSON array read with `json_each` on SQLite (ids as the 32 hex digits SQLite stores), a
`uuid[]` compared with `= ANY(...)` on PostgreSQL, sent as the text of an array literal: psycopg's
array adapter checks every element against a regular expression, which cost more per id than
the statement.

On PostgreSQL the parameter must reach the server untyped (psycopg sends a `str` as `unknown`),
so that `CAST($1 AS uuid[])` gives the parameter itself the type `uuid[]`: the server parses the
literal once, when the statement is bound, and the planner sees a constant array (an index key,
or a hashed set when it filters). A parameter typed `varchar` (what SQLAlchemy renders for a
`String` bind, `$1::VARCHAR`) leaves a cast through `array_in`, which is STABLE and so is never
folded: wherever the array is not an index key, the executor parsed the 10,000-element literal
again for every row it filtered, and one UPDATE of a batch's applications took 10 s.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Connection,
    Select,
    Uuid,
    any_,
    bindparam,
    cast,
    func,
    literal_column,
    select,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.types import NullType

__all__ = ["among", "exists_per_row", "text_array", "uuid_array"]


def uuid_array(ids: Sequence[uuid.UUID]) -> str:
    """The text of a PostgreSQL array literal of `ids` (a UUID's text needs no quoting).

    Each id is written as its 32 hex digits, without hyphens (PostgreSQL reads both forms), all
    at once: `bytes.hex` puts the commas in. `str()` of each UUID, joined, took 6 ms a
    10,000-id array, and a sweep batch sends half a dozen of them; this takes under 1 ms.
    """
    return "{" + b"".join([i.bytes for i in ids]).hex(",", 16) + "}"


def text_array(values: Sequence[str | None]) -> str:
    """The text of a PostgreSQL array literal of `values`, every element quoted and escaped.

    None is the array's NULL (unquoted, so never the string 'NULL').
    """
    if not values:
        return "{}"
    quoted = (
        "NULL" if v is None else '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
        for v in values
    )
    return "{" + ",".join(quoted) + "}"


def _uuid_array_param(ids: Sequence[uuid.UUID]) -> ColumnElement[Any]:
    """SQL (PostgreSQL): `ids` as one `uuid[]` parameter, parsed once (see the module docstring)."""
    # NullType: SQLAlchemy renders no bind cast, so the cast below types the parameter itself.
    return cast(bindparam(None, uuid_array(ids), type_=NullType()), ARRAY(Uuid()))


def among(
    conn: Connection, column: ColumnElement[Any], ids: Sequence[uuid.UUID]
) -> ColumnElement[bool]:
    """SQL: `column` is one of `ids` (a UUID column of the connection's dialect)."""
    if conn.dialect.name == "postgresql":
        return column == any_(_uuid_array_param(ids))
    values: BindParameter[str] = bindparam(None, json.dumps([i.hex for i in ids]))
    return column.in_(select(literal_column("value")).select_from(func.json_each(values)))


def exists_per_row(found: Select[Any], *, probe: bool) -> ColumnElement[bool]:
    """SQL: `found` (a correlated SELECT) has a row; with `probe`, answered by one index probe
    per outer row, never by a hash of every row `found` could match.

    For a batch's few rows PostgreSQL still turned such an EXISTS into a hashed IN over the
    whole table (every open review item, which the sweep itself adds by the thousand); an
    OFFSET 0 keeps the subquery a subquery.
    """
    return (found.offset(0) if probe else found).exists()
