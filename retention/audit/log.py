"""The installation's audit log: its signing key, checkpoints, witness file, proofs, verification.

`audit_log` knows nothing of installations; this module binds it to one: the Ed25519 key created by
`gdpr init` (a 0600 file in the data directory, or a path from gdpr.toml), the log origin from the
configuration, and the witness file outside the database. It also maps the audit package's errors
to the engine's, so the CLI keeps its one place for messages and exit codes. Reads that must see
one consistent log (verification, proofs) run in a read snapshot that does not block appenders.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Callable, Iterator
from uuid import UUID

from sqlalchemy import Connection, create_engine, event, select

from audit_log import (
    AuditError,
    AuditLog,
    Checkpoint,
    ConsistencyProof,
    Entry,
    InclusionProof,
    LogStateError,
    NoteError,
    ProofError,
    Report,
    SignatureError,
    Signer,
    Verifier,
    append_witness,
    generate_signing_key,
    read_witness,
)
from retention.clock import Clock, utc_now
from retention.config import Config
from retention.errors import BadInput, CheckFailed, InstallationError
from retention.install import Installation, secret_is_private, write_secret
from retention.store import Principal, is_sqlite, table_of

__all__ = [
    "consistency",
    "create_signing_key",
    "engine_errors",
    "entries",
    "inclusion",
    "latest_checkpoint",
    "load_signer",
    "load_verifier",
    "log_size",
    "pubkey",
    "read_snapshot",
    "sign_checkpoint",
    "store_checkpoint",
    "verify_installation",
    "witness_checkpoint",
]


@contextlib.contextmanager
def engine_errors() -> Iterator[None]:
    """Turn `audit_log` errors into the engine's typed errors (messages never hold personal data)."""
    try:
        yield
    except (SignatureError, ProofError) as exc:
        raise CheckFailed(str(exc)) from None
    except (LogStateError, NoteError) as exc:
        raise BadInput(str(exc)) from None
    except AuditError as exc:
        raise BadInput(str(exc)) from None


def create_signing_key(installation: Installation) -> list[str]:
    """`gdpr init` step: create the checkpoint signing key (0600) and its verifier key file."""
    config = installation.config
    with engine_errors():
        private, public = generate_signing_key(config.log_origin)
    write_secret(config.signing_key_file, private)
    config.verifier_key_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    # Public, so readable by all (0644), but never writable by others whatever the umask.
    fd = os.open(config.verifier_key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(public + "\n")
    return [f"Checkpoint verifier key: {public}"]


def load_signer(config: Config) -> Signer:
    """The installation's signing key; refuse a missing or group/world-readable key file."""
    path = config.signing_key_file
    try:
        if not secret_is_private(path):
            raise InstallationError(f"signing key {path} is readable by others: chmod 600 it")
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError):
        raise InstallationError(
            f"cannot read signing key {path}: run 'gdpr init' or set signing_key in gdpr.toml"
        ) from None
    with engine_errors():
        return Signer.from_string(text)


def load_verifier(config: Config) -> Verifier:
    """The installation's verifier key (public; kept beside the signing key)."""
    path = config.verifier_key_file
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        raise InstallationError(f"cannot read verifier key {path}: run 'gdpr init'") from None
    with engine_errors():
        return Verifier.from_string(text)


@contextlib.contextmanager
def read_snapshot(installation: Installation) -> Iterator[Connection]:
    """A connection that sees one consistent state of the database and takes no write lock.

    The engine opens SQLite transactions with BEGIN IMMEDIATE, which would hold appenders off for
    a whole verification; here a deferred BEGIN gives a WAL read snapshot instead. PostgreSQL runs
    the read in REPEATABLE READ, READ ONLY.
    """
    engine = installation.engine
    if is_sqlite(engine):
        reader = create_engine(engine.url, hide_parameters=True, connect_args={"timeout": 30})

        @event.listens_for(reader, "connect")
        def _connect(dbapi: sqlite3.Connection, _record: object) -> None:
            dbapi.isolation_level = None

        @event.listens_for(reader, "begin")
        def _begin(conn: Connection) -> None:
            conn.exec_driver_sql("BEGIN")

        try:
            with reader.connect() as conn, conn.begin():
                yield conn
        finally:
            reader.dispose()
        return
    options = {"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
    with engine.connect().execution_options(**options) as conn, conn.begin():
        yield conn


def sign_checkpoint(installation: Installation, clock: Clock = utc_now) -> tuple[Checkpoint, str]:
    """Sign the current head, store the note, then append it to the witness file."""
    with installation.engine.begin() as conn:
        checkpoint, note = store_checkpoint(conn, installation.config, clock)
    witness_checkpoint(installation.config, note)
    return checkpoint, note


def store_checkpoint(
    conn: Connection, config: Config, clock: Clock = utc_now
) -> tuple[Checkpoint, str]:
    """Sign the current head and store the note in `conn`'s transaction (the caller commits,
    then calls `witness_checkpoint`)."""
    signer = load_signer(config)
    with engine_errors():
        return AuditLog(clock).sign_checkpoint(conn, signer, config.log_origin)


def witness_checkpoint(config: Config, note: str) -> None:
    """Append a committed checkpoint note to the witness file.

    Only after the commit: a witnessed checkpoint the database never stored would be a false alarm.
    """
    append_witness(config.witness_file, note)


def verify_installation(
    installation: Installation, progress: Callable[[int], None] | None = None
) -> Report:
    """Verify the whole log against the installation's key, its checkpoints and the witness file."""
    config = installation.config
    verifier = load_verifier(config)
    with engine_errors(), read_snapshot(installation) as conn:
        return AuditLog().verify(
            conn,
            verifier=verifier,
            origin=config.log_origin,
            witnessed=read_witness(config.witness_file),
            progress=progress,
        )


def log_size(installation: Installation) -> int:
    """Number of entries in the log."""
    with engine_errors(), read_snapshot(installation) as conn:
        return AuditLog().head(conn).size


def inclusion(installation: Installation, seq: int, size: int | None = None) -> InclusionProof:
    """Proof that entry `seq` is in the log of `size` entries (default: the current log)."""
    with engine_errors(), read_snapshot(installation) as conn:
        return AuditLog().inclusion_proof(conn, seq, size)


def consistency(
    installation: Installation, size1: int, size2: int | None = None
) -> ConsistencyProof:
    """Proof that the log of `size1` entries is a prefix of the log of `size2` (default: now)."""
    with engine_errors(), read_snapshot(installation) as conn:
        return AuditLog().consistency_proof(conn, size1, size2)


def entries(
    installation: Installation, since: int = 0, subject: UUID | None = None
) -> Iterator[Entry]:
    """Entries from seq `since` on, optionally of one subject, streamed in seq order."""
    with engine_errors(), read_snapshot(installation) as conn:
        yield from AuditLog().entries(conn, since=since, subject=subject)


def latest_checkpoint(installation: Installation) -> str | None:
    """The most recently signed and stored checkpoint note, if any."""
    with engine_errors(), read_snapshot(installation) as conn:
        return AuditLog().latest_checkpoint(conn)


def principal_names(installation: Installation) -> dict[str, str]:
    """Each principal's name by the UUID text that entries record as their actor."""
    t = table_of(Principal)
    with engine_errors(), read_snapshot(installation) as conn:
        return {str(i): name for i, name in conn.execute(select(t.c.id, t.c.name))}


def pubkey(installation: Installation) -> str:
    """The verifier key in note format, for auditors."""
    return str(load_verifier(installation.config))
