"""Bulk deletes on SQLite that do the foreign keys' ON DELETE CASCADE themselves, set-based.

With `foreign_keys=ON`, SQLite runs each foreign key's action as a little program per deleted
row: for every candidate a sweep deletes, one probe and delete in each of the half-dozen tables
that reference `candidate`, and again in the tables that reference those. A batch of 6,500
deletions spent half its delete statement's time there (70 of 140 ms), more than the rows'
own removal. So a sweep batch runs with foreign keys off (`foreign_keys_off`), and its deletes
(`delete_cascading`) first delete, one set-based statement per table, every row that the
cascades would have deleted, deepest first, then the rows themselves.

What cascades is read from the database's own catalog (`PRAGMA foreign_key_list` of every
table), so that a table added later with a foreign key to a subject table is covered without
anyone remembering this module. Only what a cascade can do is done by hand: when any key that
reaches the deleted table (directly or through a cascade) is composite, part of a cycle, or has
another action than CASCADE (RESTRICT, NO ACTION, SET NULL: those must refuse or rewrite, not
delete), `foreign_keys_off` leaves the foreign keys on and SQLite does it all as before; and a
`delete_cascading` that finds foreign keys off and such a key raises rather than orphan rows.
With foreign keys on, `delete_cascading` is a plain DELETE and SQLite cascades.

The SQL is built from the catalog's table and column names (quoted identifiers), never from
input; the ids are the one bound parameter.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, Table, delete

from retention.store.engine import is_sqlite
from retention.store.id_sets import among

__all__ = ["CascadeUnsupported", "delete_cascading", "foreign_keys_off"]

_IDS = "(SELECT value FROM json_each(?))"


class CascadeUnsupported(RuntimeError):
    """A key reaching the table is not a plain single-column ON DELETE CASCADE."""


@dataclass(frozen=True)
class _Key:
    """A foreign key: `child.column` references `parent.parent_column`."""

    child: str
    column: str
    parent: str
    parent_column: str


@dataclass(frozen=True)
class _Catalog:
    """The keys referencing each table (by parent table name), and the unsupported ones."""

    referencing: dict[str, tuple[_Key, ...]]
    unsupported: frozenset[str]  # parent tables some key of which we cannot cascade by hand


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _read_catalog(driver: Any) -> _Catalog:
    cursor = driver.execute
    tables = [
        r[0]
        for r in cursor(
            "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        ).fetchall()
    ]
    referencing: dict[str, list[_Key]] = {}
    unsupported: set[str] = set()
    for child in tables:
        keys: dict[int, list[tuple[object, ...]]] = {}
        for row in cursor(f"PRAGMA foreign_key_list({_quote(child)})").fetchall():
            keys.setdefault(row[0], []).append(row)
        for parts in keys.values():
            # (id, seq, parent table, from, to, on_update, on_delete, match)
            parent = str(parts[0][2])
            on_delete = str(parts[0][6]).upper()
            if len(parts) != 1 or on_delete != "CASCADE":
                unsupported.add(parent)
                continue
            to = parts[0][4]
            if to is None:  # the parent's primary key
                pk = [r[1] for r in cursor(f"PRAGMA table_info({_quote(parent)})") if r[5]]
                if len(pk) != 1:
                    unsupported.add(parent)
                    continue
                to = pk[0]
            key = _Key(child, str(parts[0][3]), parent, str(to))
            referencing.setdefault(parent, []).append(key)
    return _Catalog({p: tuple(k) for p, k in referencing.items()}, frozenset(unsupported))


def _catalog(conn: Connection) -> _Catalog:
    """The catalog of `conn`'s database, read once per schema version and connection."""
    driver = conn.connection.driver_connection
    assert driver is not None
    version = driver.execute("PRAGMA schema_version").fetchone()[0]
    info = conn.connection.info
    cached = info.get(_CATALOG)
    if cached is None or cached[0] != version:
        cached = info[_CATALOG] = (version, _read_catalog(driver))
    return cached[1]


_CATALOG = "retention.store.cascade.catalog"  # in the DBAPI connection's info


class _AnyRow(dict[str, str]):
    """table -> the SELECT of any one of its rows, made on first use."""

    def __missing__(self, table: str) -> str:
        sql = self[table] = f"SELECT 1 FROM {_quote(table)} LIMIT 1"  # noqa: S608
        return sql


_ANY_ROW = _AnyRow()


def _statements(catalog: _Catalog, table: str, column: str) -> list[tuple[str, str]]:
    """The (table, DELETE)s, deepest first, that do by hand what deleting the rows of `table`
    whose `column` is one of the parameter's ids would cascade to, and that delete itself."""
    out: list[tuple[str, str]] = []

    def visit(table: str, column: str, source: str, path: tuple[str, ...]) -> None:
        """The rows of `table` whose `column` is IN `source` (a subquery), children first."""
        if table in catalog.unsupported:
            raise CascadeUnsupported(f"a foreign key to {table} is not a single-column CASCADE")
        for key in catalog.referencing.get(table, ()):
            if key.child in path:
                raise CascadeUnsupported(f"foreign keys cycle through {key.child}")
            if key.parent_column == column:  # children of the ids themselves: no detour
                child_source = source
            else:
                child_source = (
                    f"(SELECT {_quote(key.parent_column)} FROM {_quote(table)}"  # noqa: S608
                    f" WHERE {_quote(column)} IN {source})"
                )
            visit(key.child, key.column, child_source, (*path, key.child))
        out.append((table, f"DELETE FROM {_quote(table)} WHERE {_quote(column)} IN {source}"))  # noqa: S608

    visit(table, column, _IDS, (table,))
    return out


def _foreign_keys_on(conn: Connection) -> bool:
    driver = conn.connection.driver_connection
    assert driver is not None
    return bool(driver.execute("PRAGMA foreign_keys").fetchone()[0])


def delete_cascading(conn: Connection, table: Table, column: str, ids: Sequence[uuid.UUID]) -> int:
    """Delete the rows of `table` whose UUID `column` is one of `ids`, with everything their
    foreign keys' cascades delete; returns the number of `table` rows deleted.

    With foreign keys on (and on PostgreSQL), one DELETE and the database cascades; off, the
    cascades by hand first (see the module docstring).
    """
    if not is_sqlite(conn) or _foreign_keys_on(conn):
        return int(conn.execute(delete(table).where(among(conn, table.c[column], ids))).rowcount)
    param = (json.dumps([i.hex for i in ids]),)
    driver = conn.connection.driver_connection
    assert driver is not None
    rowcount = 0
    for target, sql in _statements(_catalog(conn), table.name, column):
        # An empty table has nothing to delete, and the statement would still select the ids
        # of its parent rows (a consent's reminders: a probe per consent of the batch).
        if target != table.name and driver.execute(_ANY_ROW[target]).fetchone() is None:
            continue
        # Through SQLAlchemy's driver SQL, not the driver itself: a handful of statements per
        # batch, and the engine's statement events (the batch plans' test) see them.
        rowcount = conn.exec_driver_sql(sql, param).rowcount
    return int(rowcount)


@contextlib.contextmanager
def foreign_keys_off(
    engine: Engine, tables: Iterable[str], plain: Iterable[str] = ()
) -> Iterator[Connection]:
    """A transaction (BEGIN IMMEDIATE on SQLite) in which the caller deletes rows of `tables`
    only through `delete_cascading`, and rows of `plain` with plain DELETEs: with foreign keys
    off when every key reaching `tables` can be cascaded by hand and no key references `plain`,
    on otherwise (and always on PostgreSQL, where this is a plain transaction).

    The connection's foreign keys are on again before it goes back to the pool; if they cannot
    be turned on, the connection is discarded instead.
    """
    with engine.connect() as conn:
        off = is_sqlite(engine) and _can_cascade(conn, tables, plain)
        driver = conn.connection.driver_connection
        assert driver is not None
        if off:
            # Outside any transaction: inside one, SQLite ignores this pragma.
            driver.execute("PRAGMA foreign_keys=OFF")
        try:
            with conn.begin():
                yield conn
        finally:
            if off:
                try:
                    driver.execute("PRAGMA foreign_keys=ON")
                except BaseException:
                    conn.invalidate()
                    raise


def _can_cascade(conn: Connection, tables: Iterable[str], plain: Iterable[str]) -> bool:
    catalog = _catalog(conn)
    if any(catalog.referencing.get(t) or t in catalog.unsupported for t in plain):
        return False
    for table in tables:
        try:
            _statements(catalog, table, "id")
        except CascadeUnsupported:
            return False
    return True
