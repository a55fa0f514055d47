"""The suite's shared fixtures: real databases, an installation on them, a fixed clock, a world.

Layout: `tests/<package>/test_<module>.py` tests one module of `retention/<package>/` (or of
`policies/`, `audit_log/`); `tests/test_<module>.py` the foundation modules; `tests/cli/` the `gdpr`
commands, always through `tests/cli_support.py` (the one runner). Set-up shared by several packages
lives in `tests/*_support.py` (access world, evidence packs, sweep world), `tests/policy_db.py` and
`tests/merkle_reference.py`; fixtures of one package in its own conftest.py.

The whole suite runs against one backend per run: SQLite by default, PostgreSQL when
GDPR_TEST_DATABASE_URL points at a server (each test gets its own database, created from a migrated
template and dropped afterwards). Tests that need PostgreSQL whatever the run (concurrency across
processes, triggers) use `pg_factory`, which skips with a reason on a machine without it, and
fails under CI=true, where a missing PostgreSQL is a broken CI, not a reason to skip.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import structlog
from sqlalchemy import Engine

from retention.config import Config, load_config
from retention.install import MARKER, Installation
from retention.store import connect
from retention.testing import DatabaseFactory, FixedClock
from tests.access_support import World, build_world

PG_URL = os.environ.get("GDPR_TEST_DATABASE_URL")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def pytest_report_header(config: pytest.Config) -> str:
    return f"gdpr backend: {'postgresql' if PG_URL else 'sqlite'}"


@pytest.fixture(scope="session")
def db_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DatabaseFactory]:
    """Databases of this run's backend."""
    factory = DatabaseFactory(tmp_path_factory.mktemp("db"), PG_URL)
    yield factory
    factory.close()


@pytest.fixture(scope="session")
def sqlite_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DatabaseFactory]:
    factory = DatabaseFactory(tmp_path_factory.mktemp("sqlite"))
    yield factory
    factory.close()


@pytest.fixture(scope="session")
def pg_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DatabaseFactory]:
    """PostgreSQL databases whatever the run's backend; skip (fail under CI) without a server."""
    url = PG_URL or os.environ.get("GDPR_TEST_PG_URL")
    if not url:
        if IN_CI:
            pytest.fail("CI=true but GDPR_TEST_DATABASE_URL is not set: PostgreSQL is required")
        pytest.skip("PostgreSQL not configured: set GDPR_TEST_DATABASE_URL to run this test")
    factory = DatabaseFactory(tmp_path_factory.mktemp("pg"), url)
    yield factory
    factory.close()


@pytest.fixture(params=["postgresql"] if PG_URL else ["sqlite", "postgresql"])
def any_factory(request: pytest.FixtureRequest) -> DatabaseFactory:
    """Both backends, for tests that must hold on each (concurrency, triggers).

    The SQLite run covers both (PostgreSQL through GDPR_TEST_PG_URL); the PostgreSQL run only
    PostgreSQL, so CI does not repeat the SQLite half.
    """
    name = "sqlite_factory" if request.param == "sqlite" else "pg_factory"
    return request.getfixturevalue(name)


@pytest.fixture
def engine(db_factory: DatabaseFactory) -> Iterator[Engine]:
    """An engine on a fresh database at the newest schema."""
    eng = connect(db_factory.migrated())
    yield eng
    eng.dispose()


@pytest.fixture
def config(tmp_path: Path, engine: Engine) -> Config:
    """A configuration whose data directory is under tmp_path and whose database is `engine`'s."""
    data_dir = tmp_path / "data"
    for sub in ("documents", "keys", "witness"):
        (data_dir / sub).mkdir(parents=True, mode=0o700)
    (data_dir / MARKER).write_text("test installation\n")
    return load_config(data_dir, engine.url.render_as_string(hide_password=False), env={})


@pytest.fixture
def installation(config: Config, engine: Engine) -> Installation:
    return Installation(config, engine)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 11, 22, 12, 0, tzinfo=UTC))


@pytest.fixture
def world(installation: Installation, clock: FixedClock) -> World:
    """The bootstrap admin and DPO, a NL recruiter (rita) and three candidates (NL, DE, a blocked
    NL) on `installation`, made at `clock`'s time (a module may override `clock`)."""
    return build_world(installation, clock)


@pytest.fixture
def database_env(db_factory: DatabaseFactory) -> dict[str, str | None]:
    """Environment for CLI runs on the run's backend: an empty PostgreSQL database, or the data
    dir's own SQLite file; no inherited data dir or token."""
    return {
        "GDPR_DATABASE_URL": db_factory.empty() if PG_URL else None,
        "GDPR_DATA_DIR": None,
        "GDPR_TOKEN": None,
    }


@pytest.fixture(autouse=True)
def _fresh_structlog() -> Iterator[None]:
    """Commands run in-process bind structlog to pytest's captured stderr; unbind after each test
    so a later test never writes to a closed capture."""
    yield
    structlog.reset_defaults()
