"""Helpers for testing code that uses the engine: a fixed clock and throwaway databases.

Public, as structlog's `testing` module is: integrators test their retention policies and import
jobs against a real, migrated database without writing this plumbing, and the engine's own test
suite uses exactly the same pieces. Databases are real (a SQLite file, or a fresh PostgreSQL
database created from a migrated template and dropped afterwards); nothing is mocked.
"""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, make_url, text
from sqlalchemy.engine import URL

from retention.clock import as_utc
from retention.store import connect, migrate

__all__ = ["DatabaseFactory", "FixedClock"]


@dataclass
class FixedClock:
    """A clock that returns `now` until told to move; pass it wherever a `Clock` is accepted."""

    now: datetime

    def __post_init__(self) -> None:
        self.now = as_utc(self.now)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> datetime:
        self.now = self.now + delta
        return self.now


class DatabaseFactory:
    """Makes fresh databases at the newest schema, fast, by copying a migrated template.

    With `server_url` (a PostgreSQL URL) each database is `CREATE DATABASE ... TEMPLATE`; without,
    each is a copy of a migrated SQLite file in `workdir`. Call `close()` to drop the template.
    """

    def __init__(self, workdir: Path, server_url: str | None = None) -> None:
        self.workdir = workdir
        self.server: URL | None = make_url(server_url) if server_url else None
        self._template: str | None = None
        self._created: list[str] = []

    @property
    def dialect(self) -> str:
        return "postgresql" if self.server else "sqlite"

    def empty(self) -> str:
        """A URL of a new, empty database (no tables)."""
        if self.server is None:
            return f"sqlite:///{self.workdir / f'db-{uuid.uuid4().hex[:12]}.sqlite3'}"
        name = f"gdpr_test_{uuid.uuid4().hex[:16]}"
        self._admin(f'CREATE DATABASE "{name}"')
        self._created.append(name)
        return self.server.set(database=name).render_as_string(hide_password=False)

    def migrated(self) -> str:
        """A URL of a new database already at the newest schema."""
        template = self._ensure_template()
        if self.server is None:
            target = self.workdir / f"db-{uuid.uuid4().hex[:12]}.sqlite3"
            shutil.copyfile(template, target)
            return f"sqlite:///{target}"
        name = f"gdpr_test_{uuid.uuid4().hex[:16]}"
        self._admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        self._created.append(name)
        return self.server.set(database=name).render_as_string(hide_password=False)

    def copy(self, url: str) -> str:
        """A URL of a new database holding what the (idle) database at `url` holds.

        SQLite: the file, its WAL folded in first; PostgreSQL: `CREATE DATABASE ... TEMPLATE`,
        which needs no other session on `url`'s database. Dropped by `close()` like the others.
        """
        parsed = make_url(url)
        if self.server is None:
            assert parsed.database is not None
            raw = sqlite3.connect(parsed.database, isolation_level=None)
            try:
                raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                raw.close()
            target = self.workdir / f"db-{uuid.uuid4().hex[:12]}.sqlite3"
            shutil.copyfile(parsed.database, target)
            return f"sqlite:///{target}"
        name = f"gdpr_test_{uuid.uuid4().hex[:16]}"
        self._admin(f'CREATE DATABASE "{name}" TEMPLATE "{parsed.database}"')
        self._created.append(name)
        return self.server.set(database=name).render_as_string(hide_password=False)

    def close(self) -> None:
        """Drop every database this factory created, the template included."""
        if self.server is not None:
            for name in reversed(self._created):
                with contextlib.suppress(Exception):
                    self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self._created.clear()
        self._template = None

    def _ensure_template(self) -> str:
        if self._template is not None:
            return self._template
        if self.server is None:
            path = self.workdir / "template.sqlite3"
            engine = connect(f"sqlite:///{path}")
            migrate.upgrade(engine)
            # Fold the WAL into the main file so a plain file copy carries the whole schema.
            engine.dispose()
            raw = sqlite3.connect(path, isolation_level=None)
            raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            raw.execute("PRAGMA journal_mode=DELETE")
            raw.close()
            self._template = str(path)
        else:
            url = self.empty()
            engine = connect(url)
            migrate.upgrade(engine)
            engine.dispose()
            self._template = make_url(url).database
        assert self._template is not None
        return self._template

    def _admin(self, statement: str) -> None:
        assert self.server is not None
        engine = create_engine(self.server, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                conn.execute(text(statement))
        finally:
            engine.dispose()
