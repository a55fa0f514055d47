"""Calendar arithmetic and null-skipping extremes as SQL, rendered per dialect.

The SQL compiler needs `instant + N months` with the same month-end clamping as Python. PostgreSQL
`timestamp + interval 'N months'` clamps. SQLite 3.40's `date(x, '+N months')` does not (Jan 31 +
1 month gives Mar 3), so on SQLite the value is built from the first of the target month, the day
clamped to that month's last day, and the stored time of day (with microseconds) appended as text;
naive UTC text 'YYYY-MM-DD HH:MM:SS.ffffff' then compares correctly as a string.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Boolean, DateTime, String
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import TypeDecorator

from .schema import Unit


class NaiveUTC(TypeDecorator[datetime]):
    """Aware UTC in Python, naive UTC in the database (the project's storage convention).

    On SQLite the value is the text 'YYYY-MM-DD HH:MM:SS.ffffff' (what SQLAlchemy's DateTime
    stores), handled directly as text: `fromisoformat` is several times faster than the generic
    regex parse, which matters when a sweep reads a million decisions.
    """

    impl = DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: Any) -> Any:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String())
        return dialect.type_descriptor(DateTime())

    def process_bind_param(self, value: datetime | None, dialect: Any) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("policies need timezone-aware instants")
        naive = value.astimezone(UTC).replace(tzinfo=None)
        if dialect.name == "sqlite":
            return naive.isoformat(sep=" ", timespec="microseconds")
        return naive

    def process_result_value(self, value: Any, dialect: Any) -> datetime | None:
        if value is None:
            return None
        parsed: datetime = datetime.fromisoformat(value) if isinstance(value, str) else value
        return parsed.replace(tzinfo=UTC)


class AddDuration(ColumnElement[datetime]):
    """`instant + amount unit`, calendar-exact on every dialect."""

    inherit_cache = False
    type = NaiveUTC()

    def __init__(self, instant: ColumnElement[Any], amount: int, unit: str) -> None:
        self.instant = instant
        self.amount = int(amount)
        self.unit = Unit(unit)

    @property
    def months(self) -> int:
        return {Unit.MONTHS: 1, Unit.YEARS: 12}.get(self.unit, 0) * self.amount

    @property
    def days(self) -> int:
        return {Unit.DAYS: 1, Unit.WEEKS: 7}.get(self.unit, 0) * self.amount


class Extreme(ColumnElement[datetime]):
    """The earliest or latest of several instants, skipping nulls; null when all are null."""

    inherit_cache = False
    type = NaiveUTC()

    def __init__(self, kind: str, terms: list[ColumnElement[Any]]) -> None:
        self.kind = kind
        self.terms = terms


@compiles(AddDuration)
def _add_default(element: AddDuration, compiler: SQLCompiler, **kw: Any) -> str:
    x = compiler.process(element.instant, **kw)
    # amounts are ints from the parsed policy, never user text: safe to inline.
    if element.months:
        return f"({x} + interval '{element.months} months')"
    return f"({x} + interval '{element.days} days')"


@compiles(AddDuration, "sqlite")
def _add_sqlite(element: AddDuration, compiler: SQLCompiler, **kw: Any) -> str:
    x = compiler.process(element.instant, **kw)
    # Only the date part goes through date(): SQLite rounds fractional seconds to milliseconds,
    # so '23:59:59.999999' would roll over into the next day.
    day = f"substr({x}, 1, 10)"
    if element.days:
        return f"(date({day}, '+{element.days} days') || substr({x}, 11))"
    n = element.months
    first = f"substr(date({day}, 'start of month', '+{n} months'), 1, 8)"
    last_day = f"strftime('%d', {day}, 'start of month', '+{n + 1} months', '-1 day')"
    return f"({first} || min(substr({x}, 9, 2), {last_day}) || substr({x}, 11))"


@compiles(Extreme)
def _extreme_default(element: Extreme, compiler: SQLCompiler, **kw: Any) -> str:
    terms = ", ".join(compiler.process(t, **kw) for t in element.terms)
    return f"{'least' if element.kind == 'earliest' else 'greatest'}({terms})"


@compiles(Extreme, "sqlite")
def _extreme_sqlite(element: Extreme, compiler: SQLCompiler, **kw: Any) -> str:
    # SQLite's scalar min/max return NULL if any argument is NULL; rotate coalesce so each slot
    # holds its own term or, if null, another one, which leaves the extreme of the non-nulls.
    texts = [compiler.process(t, **kw) for t in element.terms]
    rotations = ["coalesce(" + ", ".join(texts[i:] + texts[:i]) + ")" for i in range(len(texts))]
    return f"{'min' if element.kind == 'earliest' else 'max'}({', '.join(rotations)})"


class Reached(ColumnElement[bool]):
    """`instant + amount unit <= at` for a non-null instant, mostly without per-row arithmetic.

    Selecting due records among millions, the calendar arithmetic of `AddDuration` was most of
    the statement's cost. Rewritten as a comparison of the stored instant with bounds that depend
    on `at` alone (the database computes them once per statement), it leaves the arithmetic to
    the few rows whose outcome the bounds cannot settle:
    - days and weeks: `instant <= at - days`, exact (naive UTC has no daylight saving);
    - months: with S = the first of at's month minus N months, an instant before S lands in an
      earlier month than at's (due), one on or after the first of the next month lands in a
      later month (not due), and only the instants of the month starting at S, about one row in
      fifty for a four-year spread, go through the exact clamped `AddDuration`.
    """

    inherit_cache = False
    type = Boolean()

    def __init__(
        self, instant: ColumnElement[Any], amount: int, unit: str, at: ColumnElement[Any]
    ) -> None:
        self.instant = instant
        self.at = at
        self.step = AddDuration(instant, amount, unit)


@compiles(Reached)
def _reached_default(element: Reached, compiler: SQLCompiler, **kw: Any) -> str:
    x = compiler.process(element.instant, **kw)
    # Typed, so that a literal instant (statements compiled with literal binds) is no
    # `unknown` for date_trunc and interval arithmetic to guess at.
    at = f"CAST({compiler.process(element.at, **kw)} AS TIMESTAMP WITHOUT TIME ZONE)"
    n = element.step.months
    if not n:
        return f"({x} <= {at} - interval '{element.step.days} days')"
    exact = f"{compiler.process(element.step, **kw)} <= {at}"
    start = f"date_trunc('month', {at})"
    return (
        f"(CASE WHEN {x} < {start} - interval '{n} months' THEN true"
        f" WHEN {x} >= {start} - interval '{n - 1} months' THEN false ELSE {exact} END)"
    )


@compiles(Reached, "sqlite")
def _reached_sqlite(element: Reached, compiler: SQLCompiler, **kw: Any) -> str:
    x = compiler.process(element.instant, **kw)
    at = compiler.process(element.at, **kw)
    day = f"substr({at}, 1, 10)"
    n = element.step.months
    if not n:
        return f"({x} <= (date({day}, '-{element.step.days} days') || substr({at}, 11)))"
    exact = f"{compiler.process(element.step, **kw)} <= {at}"
    # Text 'YYYY-MM-DD HH:MM:SS.ffffff' compares below 'YYYY-MM-01' exactly when its day is
    # earlier: the bounds need no time part.
    # CASE, not OR: SQLite 3.40 computes both sides of an OR used as a value.
    return (
        f"(CASE WHEN {x} < date({day}, 'start of month', '-{n} months') THEN 1"
        f" WHEN {x} >= date({day}, 'start of month', '-{n - 1} months') THEN 0"
        f" ELSE {exact} END)"
    )
