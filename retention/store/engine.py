"""The one database module: engine creation, the UTC datetime type, and the unit of work.

SQLite (a file in the data directory) is the embedded default and PostgreSQL the production store;
everything dialect-specific about connecting lives here so the rest of the engine writes portable
SQLAlchemy. On SQLite every transaction starts with BEGIN IMMEDIATE (the documented SQLAlchemy
recipe), because the driver's legacy mode would begin lazily and fail with "database is locked" on
the first write of a read-then-write transaction; BEGIN IMMEDIATE also serializes audit appends.
Helpers never commit: `transaction()` is the unit of work and owns the commit.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, DateTime, Engine, Table, create_engine, event, inspect
from sqlalchemy.engine import URL, ExceptionContext
from sqlalchemy.exc import DBAPIError, NoSuchModuleError
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeDecorator
from sqlmodel import SQLModel

from retention.config import default_sqlite_url, parse_database_url
from retention.errors import BadInput

__all__ = [
    "TZDateTime",
    "connect",
    "default_sqlite_url",
    "is_postgresql",
    "is_sqlite",
    "parse_database_url",
    "reader_for",
    "session",
    "sqlite_stamp",
    "table_of",
    "transaction",
]

SQLITE_MMAP_BYTES = 1 << 30
SQLITE_BUSY_TIMEOUT_S = 30
SQLITE_CACHE_KIB = 64 * 1024  # per connection
SQLITE_WAL_AUTOCHECKPOINT_PAGES = 100_000


def table_of(model: type[SQLModel]) -> Table:
    """The Core `Table` of a SQLModel table class, for set-based statements.

    SQLModel does not declare `Model.__table__` to type checkers; this is the one typed way to it.
    (Column attributes used in expressions are typed through `sqlmodel.col(Model.field)`.)
    """
    table = inspect(model).local_table
    if not isinstance(table, Table):
        raise TypeError(f"{model.__name__} is not a SQLModel table class")
    return table


class TZDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in Python, naive UTC in the database.

    Naive storage keeps one representation on both dialects (SQLite text 'YYYY-MM-DD
    HH:MM:SS.ffffff', PostgreSQL `timestamp without time zone`), so compiled policy SQL does
    calendar arithmetic without a session timezone shifting it.
    """

    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


def sqlite_stamp(at: datetime) -> str:
    """`at` as TZDateTime stores it on SQLite (naive UTC text, six fractional digits), for the
    few bulk writes that hand values to the driver themselves."""
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def is_sqlite(bind: Engine | Connection) -> bool:
    return bind.dialect.name == "sqlite"


def is_postgresql(bind: Engine | Connection) -> bool:
    return bind.dialect.name == "postgresql"


def connect(url: str | URL, *, echo: bool = False) -> Engine:
    """Create an engine for `url` with the engine's connection rules applied.

    Create engines after fork (or dispose in the child): pooled connections must not cross
    processes. A failed statement's error never carries its parameters (`hide_parameters`):
    they are names, addresses and notes, and errors reach logs and tracebacks.
    """
    parsed = parse_database_url(url) if isinstance(url, str) else url
    try:
        if parsed.get_backend_name() == "sqlite":
            return _sqlite_engine(parsed, echo=echo)
        return _postgresql_engine(parsed, echo=echo)
    except NoSuchModuleError:
        raise BadInput(f"no driver for database URL scheme '{parsed.drivername}'") from None


def _postgresql_engine(url: URL, *, echo: bool) -> Engine:
    # No JIT: the compiled policy expressions are large CASE trees that run once per row, and
    # LLVM spent 9 s compiling them for a selection whose execution takes 2 s.
    engine = create_engine(
        url,
        echo=echo,
        hide_parameters=True,
        pool_pre_ping=True,
        connect_args={"options": "-c jit=off"},
    )
    event.listen(engine, "handle_error", _without_row_values, retval=True)
    return engine


def _without_row_values(context: ExceptionContext) -> BaseException | None:
    """The error of a refused statement with PostgreSQL's primary message only.

    Its DETAIL quotes the refused row or key ("Failing row contains (...)", "Key (email)=(...)
    already exists"): personal data, in an error that reaches logs and tracebacks. The primary
    message names the constraint, which is what a reader needs; the whole diagnostic stays on
    the driver's `diag` for code that asks.
    """
    found = context.sqlalchemy_exception
    orig = context.original_exception
    primary = getattr(getattr(orig, "diag", None), "message_primary", None)
    if not isinstance(found, DBAPIError) or not primary or str(orig) == primary:
        return None
    orig.args = (primary,)
    return type(found)(
        found.statement,
        found.params,
        orig,
        hide_parameters=True,
        connection_invalidated=found.connection_invalidated,
        code=found.code,
        ismulti=found.ismulti,
    )


def reader_for(engine: Engine) -> Engine:
    """An engine for reads beside `engine`'s writes: on SQLite its transactions begin deferred
    (a WAL read snapshot that takes no write lock) and refuse writes; on PostgreSQL, `engine`.

    The caller disposes a SQLite reader it made (`engine is not reader_for(...)`).
    """
    if not is_sqlite(engine):
        return engine
    return _sqlite_engine(engine.url, echo=bool(engine.echo), begin="BEGIN", query_only=True)


def _sqlite_engine(
    url: URL, *, echo: bool, begin: str = "BEGIN IMMEDIATE", query_only: bool = False
) -> Engine:
    engine = create_engine(
        url,
        echo=echo,
        hide_parameters=True,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False},
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the driver (see module docstring).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        # Erased personal data must not linger in free pages: SQLite overwrites deleted content.
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_S * 1000}")
        if url.database and url.database != ":memory:":
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            # Reads through a memory map skip a system call and a copy per page: the sweep's
            # selection probes consents and holds in random order, a million times a night.
            cursor.execute(f"PRAGMA mmap_size={SQLITE_MMAP_BYTES}")
            # Checkpoint every ~400 MB of WAL instead of every 4 MB: a sweep batch writes
            # thousands of index pages, and at the default each commit copied them all back
            # and synced the file (a third of a batch's time); most are written again by the
            # next batches, and one checkpoint then copies the page once. Random UUID keys put
            # a batch's index entries on as many pages as the batch has subjects, up to the
            # index's size: at 1,000,000 candidates a batch of 10,000 wrote 2.5 WAL frames per
            # subject (0.9 at 100,000), so at ~40 MB every batch's commit ran a checkpoint of
            # its own and the commit's share of a batch grew with the table.
            cursor.execute(f"PRAGMA wal_autocheckpoint={SQLITE_WAL_AUTOCHECKPOINT_PAGES}")
        # The default 2 MB page cache is smaller than one sweep batch's index pages, so a
        # batch spilled dirty pages to the WAL mid-transaction and read them back. Memory is
        # taken only as pages are used.
        cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
        if query_only:
            cursor.execute("PRAGMA query_only=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql(begin)

    return engine


@contextlib.contextmanager
def transaction(engine: Engine) -> Iterator[Connection]:
    """One unit of work on a Core connection: commit on success, roll back on any error."""
    with engine.begin() as conn:
        yield conn


@contextlib.contextmanager
def session(engine: Engine) -> Iterator[Session]:
    """One unit of work as an ORM session: commit on success, roll back on any error."""
    with Session(engine, expire_on_commit=False) as s, s.begin():
        yield s
