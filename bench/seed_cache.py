"""Seeded demo databases kept as templates, so that a benchmark run copies one instead of seeding.

Seeding 1,000,000 demo candidates takes minutes, and every run of a benchmark that changes the
data (a sweep) needs a fresh copy; a copy takes seconds: a file copy on SQLite, `CREATE DATABASE
... TEMPLATE` on PostgreSQL, hard links for the document files (the sweep only unlinks them, so
the template's own links stay). A template is keyed by everything that shapes its rows: the
backend, the number of candidates, the demo seed, the instant the demo is generated at, the
schema's head revision and the source of the demo generator; change any of them and the next run
seeds afresh. Without a cache directory templates live in the run's temporary directory and are
dropped with it; with one (`--cache DIR`) they outlive the run: SQLite files and document trees
in DIR, PostgreSQL databases named `gdpr_bench_seed_<key>` on the server, all removed by
`drop_all` (`--drop-cache`).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import create_engine, make_url, text
from sqlalchemy.engine import URL

import retention.demo
from retention.store import connect, migrate
from retention.testing import DatabaseFactory

__all__ = ["SeedCache", "Seeded"]

_PREFIX = "gdpr_bench_seed_"
_DONE = "complete"  # written last: a template without it was cut short and is made again


@dataclass(frozen=True)
class Seeded:
    """A fresh database holding a seeded template's rows, and its own document directory."""

    url: str
    documents: Path
    seeded_now: bool  # False when the template existed already
    summary: str  # what the seeding reported (counts), kept with the template


Seed = Callable[[str, Path], str]  # (database URL, documents dir) -> summary line


class SeedCache:
    """Templates of seeded databases on one backend (see the module docstring)."""

    def __init__(
        self, factory: DatabaseFactory, workdir: Path, cache_dir: Path | None = None
    ) -> None:
        self.factory = factory
        self.root = (cache_dir or workdir / "seed-cache").resolve()
        self.keep = cache_dir is not None
        self.workdir = workdir
        self._made: list[str] = []  # PostgreSQL templates to drop at close() when not kept

    def instance(self, n: int, seed: int, at: datetime, make: Seed, documents: Path) -> Seeded:
        """A new database like the template of (n, seed, at), seeded first if there is none,
        with the template's document files linked into `documents` (which must not exist)."""
        key = self.key(n, seed, at)
        where = self.root / key
        seeded_now = not (where / _DONE).exists() or not self._template_exists(key, where)
        if seeded_now:
            self._seed(key, where, make)
        url = self.factory.copy(self._template_url(key, where))
        shutil.copytree(where / "documents", documents, copy_function=os.link)
        summary = (where / _DONE).read_text()
        return Seeded(url, documents, seeded_now, summary)

    def key(self, n: int, seed: int, at: datetime) -> str:
        """The template's name: a digest of everything its rows depend on."""
        digest = hashlib.sha256()
        for part in (self.factory.dialect, str(n), str(seed), at.isoformat()):
            digest.update(part.encode() + b"\0")
        digest.update(migrate.head_revision().encode() + b"\0")
        package = Path(retention.demo.__file__).parent
        for source in sorted(package.glob("*.py")):
            digest.update(source.name.encode() + b"\0" + source.read_bytes())
        return f"{self.factory.dialect}-{n}-{digest.hexdigest()[:12]}"

    def close(self) -> None:
        """Drop the PostgreSQL templates made by this run unless they are kept."""
        if not self.keep:
            for name in self._made:
                self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self._made.clear()

    def drop_all(self) -> list[str]:
        """Remove every kept template: the cache directory and this backend's template databases."""
        dropped: list[str] = []
        if self.factory.server is not None:
            engine = create_engine(self.factory.server)
            try:
                with engine.connect() as conn:
                    names = conn.execute(
                        text("SELECT datname FROM pg_database WHERE datname LIKE :p"),
                        {"p": _PREFIX.replace("_", r"\_") + "%"},
                    ).scalars()
                    dropped = list(names)
            finally:
                engine.dispose()
            for name in dropped:
                self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        for path in self.root.glob(f"{self.factory.dialect}-*"):
            shutil.rmtree(path)
            dropped.append(str(path))
        return dropped

    def _seed(self, key: str, where: Path, make: Seed) -> None:
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(where)
        (where / "documents").mkdir(parents=True)
        if self.factory.server is None:
            url = f"sqlite:///{where / 'template.sqlite3'}"
            engine = connect(url)
            try:
                migrate.upgrade(engine)
            finally:
                engine.dispose()
        else:
            name = _PREFIX + key.split("-")[-1]
            self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            template = make_url(self.factory.migrated()).database
            self._admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
            self._made.append(name)
            url = self._server_url(name)
        summary = make(url, where / "documents")
        if self.factory.server is None:
            # Fold the WAL in: the template is one self-contained file to copy.
            raw = sqlite3.connect(where / "template.sqlite3", isolation_level=None)
            try:
                raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                raw.close()
        (where / _DONE).write_text(summary)

    def _template_exists(self, key: str, where: Path) -> bool:
        if self.factory.server is None:
            return (where / "template.sqlite3").exists()
        engine = create_engine(self.factory.server)
        try:
            with engine.connect() as conn:
                found = conn.execute(
                    text("SELECT 1 FROM pg_database WHERE datname = :n"),
                    {"n": _PREFIX + key.split("-")[-1]},
                ).first()
        finally:
            engine.dispose()
        return found is not None

    def _template_url(self, key: str, where: Path) -> str:
        if self.factory.server is None:
            return f"sqlite:///{where / 'template.sqlite3'}"
        return self._server_url(_PREFIX + key.split("-")[-1])

    def _server_url(self, name: str) -> str:
        server: URL | None = self.factory.server
        assert server is not None
        return server.set(database=name).render_as_string(hide_password=False)

    def _admin(self, statement: str) -> None:
        assert self.factory.server is not None
        engine = create_engine(self.factory.server, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                conn.execute(text(statement))
        finally:
            engine.dispose()
