"""An installation: a data directory, its database at the newest schema, and its keys.

`initialize` creates one (the only path that runs without a token) and refuses to touch an existing
one; `open_installation` is how every other command gets an engine, after checking that the
directory and the schema are what this version of the engine expects. Failing early here turns
"no such table" tracebacks into one line that says which command to run.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, inspect
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from retention.config import Config, parse_database_url
from retention.errors import InstallationError
from retention.store import GroupCommit, connect, migrate

__all__ = [
    "Installation",
    "initialize",
    "open_installation",
    "write_secret",
]

MARKER = ".gdpr-installation"

# Steps that later capabilities add to `gdpr init` (keys, bootstrap principals). Each receives the
# new installation and returns lines to show the user; they run after the schema exists.
InitStep = Callable[["Installation"], list[str]]


@dataclass(frozen=True)
class Installation:
    config: Config
    engine: Engine
    # Audited reads share append transactions under concurrency (the HTTP API sets it; the
    # CLI, one action per process, records in the action's transaction).
    audit_group: GroupCommit | None = None


def write_secret(path: Path, data: bytes) -> None:
    """Create `path` with mode 0600 atomically (never world-readable, not even for an instant)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def initialize(
    config: Config, steps: list[InitStep] | None = None
) -> tuple[Installation, list[str]]:
    """Create the data directory, migrate a new database to head, run the init steps.

    Refuses an existing installation. On any failure nothing created here is left behind.
    """
    root = config.data_dir
    if (root / MARKER).exists():
        raise InstallationError(
            f"{root} already holds an installation: use 'gdpr db upgrade', or choose another --data-dir"
        )
    if root.exists() and not root.is_dir():
        raise InstallationError(f"{root} exists and is not a directory: choose another --data-dir")
    created_root = not root.exists()
    try:
        root.mkdir(parents=True, exist_ok=True, mode=0o700)
        # An existing directory keeps its mode otherwise: personal data in a 0777 folder.
        root.chmod(0o700)
        probe = root / ".write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        if created_root:
            shutil.rmtree(root, ignore_errors=True)
        raise InstallationError(
            f"cannot write to data directory {root} ({exc.strerror}): fix permissions or pass --data-dir"
        ) from None
    with _undo_on_failure(root, created_root, config):
        _create_private_database_file(config)
        engine = connect(config.database_url)
        _require_empty_database(engine, config)
        migrate.upgrade(engine)
        for sub in (config.documents_dir, config.keys_dir, config.witness_file.parent):
            sub.mkdir(parents=True, exist_ok=True, mode=0o700)
        installation = Installation(config, engine)
        lines: list[str] = []
        for step in steps or []:
            lines.extend(step(installation))
        write_secret(root / MARKER, b"gdpr-compliance-engine installation\n")
    return installation, lines


def _create_private_database_file(config: Config) -> None:
    """Create an SQLite database file 0600 before SQLite does (it would follow the umask).

    SQLite gives the -wal and -shm files the mode of the database file, so they follow.
    """
    url = parse_database_url(config.database_url)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return
    path = Path(url.database)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    path.chmod(0o600)


@contextlib.contextmanager
def _undo_on_failure(root: Path, created_root: bool, config: Config) -> Iterator[None]:
    before = set(root.iterdir())
    try:
        yield
    except BaseException:
        # Nothing half-made may remain: a retry of `gdpr init` must start from a clean slate.
        if not config.is_default_sqlite:
            with contextlib.suppress(Exception):
                migrate.downgrade(connect(config.database_url), "base")
        if created_root:
            shutil.rmtree(root, ignore_errors=True)
        else:
            for path in set(root.iterdir()) - before:
                if path.is_dir():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink(missing_ok=True)
        raise


def _require_empty_database(engine: Engine, config: Config) -> None:
    try:
        tables = inspect(engine).get_table_names()
    except OperationalError:
        raise InstallationError(
            "cannot connect to the database: check GDPR_DATABASE_URL and that the server is running"
        ) from None
    if tables:
        raise InstallationError(
            "the database already has tables: use 'gdpr db upgrade' for an existing installation, "
            "or point GDPR_DATABASE_URL at an empty database"
        )


def open_installation(config: Config, *, require_head: bool = True) -> Installation:
    """Open an existing installation; refuse a missing one or a schema older than the code."""
    if not (config.data_dir / MARKER).exists():
        raise InstallationError(
            f"no installation in {config.data_dir}: run 'gdpr init' first (or pass --data-dir)"
        )
    if config.data_dir.stat().st_mode & stat.S_IWOTH:
        raise InstallationError(
            f"data directory {config.data_dir} is writable by others: "
            f"run 'chmod 700 {config.data_dir}'"
        )
    engine = connect(config.database_url)
    if require_head:
        try:
            current = migrate.current_revision(engine)
        except SQLAlchemyError:
            raise InstallationError(
                "cannot connect to the database: check GDPR_DATABASE_URL and that the server is running"
            ) from None
        head = migrate.head_revision()
        if current != head:
            raise InstallationError(
                f"the database schema is at {current or 'nothing'}, this version needs {head}: "
                "run 'gdpr db upgrade'"
            )
    return Installation(config, engine)


def secret_is_private(path: Path) -> bool:
    """True when `path` is readable by its owner only (no group or other bits)."""
    mode = path.stat().st_mode
    return not mode & (stat.S_IRWXG | stat.S_IRWXO)
