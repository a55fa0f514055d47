"""A set of subject ids as ONE bound parameter, for bulk statements on a batch of subjects.

`column IN (:a, :b, ...)` with thousands of ids makes SQLAlchemy render and process a parameter
per id on every statement, which costs more than the database's work. Here the whole set is one
value: a JSON array read with `json_each` on SQLite (ids as the 32 hex digits SQLite stores), a
`uuid[]` compared with `= ANY(...)` on PostgreSQL, sent as the text of an array literal that the
server casts: psycopg's array adapter checks every element against a regular expression, which
cost more per id than the statement.
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
    Text,
    Uuid,
    any_,
    bindparam,
    cast,
    func,
    literal_column,
    select,
)
from sqlalchemy.dialects.postgresql import ARRAY

__all__ = ["among", "text_array", "uuid_array"]


def uuid_array(ids: Sequence[uuid.UUID]) -> str:
    """The text of a PostgreSQL array literal of `ids` (a UUID's text needs no quoting)."""
    return "{" + ",".join(map(str, ids)) + "}"


def text_array(values: Sequence[str]) -> str:
    """The text of a PostgreSQL array literal of `values`, every element quoted and escaped."""
    if not values:
        return "{}"
    quoted = (v.replace("\\", "\\\\").replace('"', '\\"') for v in values)
    return '{"' + '","'.join(quoted) + '"}'


def among(
    conn: Connection, column: ColumnElement[Any], ids: Sequence[uuid.UUID]
) -> ColumnElement[bool]:
    """SQL: `column` is one of `ids` (a UUID column of the connection's dialect)."""
    if conn.dialect.name == "postgresql":
        return column == any_(cast(bindparam(None, uuid_array(ids), type_=Text()), ARRAY(Uuid())))
    values: BindParameter[str] = bindparam(None, json.dumps([i.hex for i in ids]))
    return column.in_(select(literal_column("value")).select_from(func.json_each(values)))
