"""Creating an installation and keeping its schema: `gdpr init`, `gdpr db upgrade|current|harden`.

These run before any principal exists (init) or with the database owner's credentials (the schema
commands), so they take no principal: whoever can run them already holds the data directory or
the database. `init` returns what it created as data (the verifier key, the bootstrap principals
and their tokens, shown this once) besides the lines a person reads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from retention.access import IssuedToken, Role
from retention.audit import log as auditing
from retention.clock import Clock, utc_now
from retention.config import Config
from retention.install import (
    InitStep,
    Installation,
    bootstrap_lines,
    bootstrap_principals,
    initialize,
    open_installation,
)
from retention.store import hardening, migrate

__all__ = [
    "BootstrapPrincipal",
    "HardenDatabase",
    "HardenResult",
    "InitInstallation",
    "InitRecorder",
    "InitResult",
    "SchemaStatus",
    "SchemaUpgrade",
    "harden_database",
    "init_installation",
    "schema_status",
    "upgrade_schema",
]


@dataclass(frozen=True)
class InitInstallation:
    """Create the installation that `config` describes (there is nothing else to choose)."""


@dataclass(frozen=True)
class BootstrapPrincipal:
    name: str
    role: Role
    id: str
    token: str


@dataclass(frozen=True)
class InitResult:
    data_dir: Path
    revision: str
    verifier_key: str
    principals: tuple[BootstrapPrincipal, ...]
    notes: tuple[str, ...] = field(default=(), compare=False)

    def to_json(self) -> dict[str, Any]:
        # The notes are the same facts as display lines: programs get the fields.
        return {
            "data_dir": str(self.data_dir),
            "revision": self.revision,
            "verifier_key": self.verifier_key,
            "principals": list(self.principals),
        }

    def text(self) -> str:
        return "\n".join([f"Initialized {self.data_dir} (schema {self.revision}).", *self.notes])


class InitRecorder:
    """The init steps (signing key, bootstrap principals) remembering what they created."""

    def __init__(self, clock: Clock = utc_now) -> None:
        self._clock = clock
        self.verifier_key = ""
        self.issued: dict[Role, IssuedToken] = {}

    def steps(self) -> list[InitStep]:
        return [self._signing_key, self._principals]

    def _signing_key(self, installation: Installation) -> list[str]:
        lines = auditing.create_signing_key(installation)
        self.verifier_key = auditing.pubkey(installation)
        return lines

    def _principals(self, installation: Installation) -> list[str]:
        self.issued = bootstrap_principals(installation, clock=self._clock)
        return bootstrap_lines(self.issued)

    def principals(self) -> tuple[BootstrapPrincipal, ...]:
        return tuple(
            BootstrapPrincipal(t.name, role, str(t.principal_id), t.token)
            for role, t in self.issued.items()
        )


def init_installation(
    config: Config, request: InitInstallation = InitInstallation(), *, clock: Clock = utc_now
) -> InitResult:
    """Create the data directory and database, the signing key and the first principals."""
    recorder = InitRecorder(clock)
    installation, lines = initialize(config, steps=recorder.steps())
    installation.engine.dispose()
    return InitResult(
        data_dir=config.data_dir,
        revision=migrate.head_revision(),
        verifier_key=recorder.verifier_key,
        principals=recorder.principals(),
        notes=tuple(lines),
    )


@dataclass(frozen=True)
class SchemaUpgrade:
    before: str | None
    after: str | None

    def to_json(self) -> dict[str, Any]:
        return {"from": self.before, "to": self.after}


@dataclass(frozen=True)
class SchemaStatus:
    current: str | None
    head: str

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head

    def to_json(self) -> dict[str, Any]:
        return {"current": self.current, "head": self.head, "up_to_date": self.up_to_date}


def upgrade_schema(config: Config) -> SchemaUpgrade:
    """Upgrade the database schema to this version of the engine."""
    installation = open_installation(config, require_head=False)
    before = migrate.current_revision(installation.engine)
    migrate.upgrade(installation.engine)
    return SchemaUpgrade(before, migrate.current_revision(installation.engine))


def schema_status(config: Config) -> SchemaStatus:
    """The database's schema revision and the one this version needs."""
    installation = open_installation(config, require_head=False)
    return SchemaStatus(migrate.current_revision(installation.engine), migrate.head_revision())


@dataclass(frozen=True)
class HardenDatabase:
    app_role: str


@dataclass(frozen=True)
class HardenResult:
    app_role: str
    statements: list[str]


def harden_database(installation: Installation, request: HardenDatabase) -> HardenResult:
    """Give the application role least privilege (run with the owner's credentials)."""
    return HardenResult(request.app_role, hardening.harden(installation.engine, request.app_role))
