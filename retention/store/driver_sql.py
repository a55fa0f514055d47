"""Small hot-path statements straight to the driver of the current connection, in storage form.

SQLAlchemy's execute of a small, prepared Core statement (its cache lookup, a bind processor per
value, the result's metadata) costs several times SQLite's own work for it: an inbound event's
five statements spent more in SQLAlchemy than in the database. `DriverSQL(conn)` runs SQL with
`?` placeholders on the driver connection SQLAlchemy holds for `conn` (so in the caller's
transaction), the way the bulk paths do (`bulk_load`, the audit log's rows, the sweep's
anonymization). Values go in as SQLAlchemy's types would have stored them and come back as they
would have read them: on SQLite a UUID is 32 hex digits and an instant naive UTC text with six
fractional digits (`Uuid`, `TZDateTime`); on PostgreSQL the driver's own uuid and a naive UTC
timestamp. A driver error is raised as SQLAlchemy's exception of the same kind (an
`IntegrityError` stays an `IntegrityError`), so callers catch what they caught before.

The SQL is the callers' constants, never built from input; every value is a bound parameter.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

__all__ = ["DriverSQL"]

_pg_text: dict[str, str] = {}  # the `%s` form of each statement, made once


class DriverSQL:
    """The driver connection of `conn`, with its dialect's storage forms."""

    __slots__ = ("_dbapi", "_raw", "sqlite")

    def __init__(self, conn: Connection) -> None:
        raw = conn.connection.driver_connection
        assert raw is not None
        self._raw: Any = raw
        self._dbapi: Any = conn.dialect.dbapi
        self.sqlite = conn.dialect.name == "sqlite"

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """Run `sql` (`?` placeholders) with `params` in storage form; the driver's cursor."""
        if not self.sqlite:
            text = _pg_text.get(sql)
            if text is None:
                text = _pg_text[sql] = sql.replace("?", "%s")
            sql = text
        try:
            return self._raw.execute(sql, params)
        except self._dbapi.Error as exc:
            raise DBAPIError.instance(sql, params, exc, self._dbapi.Error) from exc

    def uuid(self, value: UUID | None) -> Any:
        """A UUID as the `Uuid` column stores it."""
        if value is None or not self.sqlite:
            return value
        return value.hex

    def instant(self, value: datetime | None) -> Any:
        """An aware instant as the `TZDateTime` column stores it (naive UTC)."""
        if value is None:
            return None
        if value.tzinfo is UTC:  # the engine's clock and parsed `Z` times: nothing to convert
            naive = value.replace(tzinfo=None)
        elif value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
            raise ValueError("naive datetime given to a UTC column")
        else:
            naive = value.astimezone(UTC).replace(tzinfo=None)
        # SQLAlchemy's SQLite DATETIME form: 'YYYY-MM-DD HH:MM:SS.ffffff' (four-digit year).
        return naive.isoformat(" ", "microseconds") if self.sqlite else naive

    def read_uuid(self, stored: Any) -> UUID | None:
        """A `Uuid` column's value as read back."""
        if stored is None or isinstance(stored, UUID):
            return stored
        return UUID(hex=stored)

    def read_instant(self, stored: Any) -> datetime | None:
        """A `TZDateTime` column's value as read back (aware, UTC)."""
        if stored is None:
            return None
        if isinstance(stored, str):
            stored = datetime.fromisoformat(stored)
        return stored.replace(tzinfo=UTC)  # type: ignore[no-any-return]
