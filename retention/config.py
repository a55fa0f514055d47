"""The installation's configuration: one immutable object, read once at start-up.

Where things live comes from the command line or the environment (`--data-dir` /
GDPR_DATA_DIR, GDPR_DATABASE_URL); the rest (timezone, schedule, log name, key and witness paths)
from an optional `gdpr.toml` in the data directory. Reading it once and passing the frozen value
down keeps every module free of environment look-ups and makes tests explicit.
"""

from __future__ import annotations

import os
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import make_url
from sqlalchemy.engine import URL
from sqlalchemy.exc import ArgumentError

from retention.errors import BadInput

__all__ = [
    "CONFIG_FILE",
    "DEFAULT_DATA_DIR",
    "MAX_SWEEP_WORKERS",
    "Config",
    "ConsentSettings",
    "MailConfig",
    "MailSecurity",
    "Schedule",
    "default_sqlite_url",
    "load_config",
    "parse_database_url",
]

DEFAULT_DATA_DIR = "gdpr-data"
CONFIG_FILE = "gdpr.toml"
MAX_SWEEP_WORKERS = 16


@dataclass(frozen=True)
class Schedule:
    """Cron expressions (crontab syntax, in `Config.timezone`) of the scheduler's jobs."""

    sweep: str = "0 2 * * *"
    checkpoint: str = "0 * * * *"
    expiries: str = "30 1 * * *"
    consent: str = "0 9 * * *"  # the daily renewal campaign (asks, reminders, expiries)


class MailSecurity(StrEnum):
    NONE = "none"
    STARTTLS = "starttls"
    TLS = "tls"


@dataclass(frozen=True)
class MailConfig:
    """`[mail]`: the SMTP server renewal e-mails go through. The password is read from a 0600
    file when a message is sent, never kept in gdpr.toml."""

    host: str
    port: int
    security: MailSecurity
    sender: str
    username: str | None = None
    password_file: Path | None = None
    timeout: float = 30.0

    def password(self) -> str | None:
        if self.password_file is None:
            return None
        return self.password_file.read_text(encoding="utf-8").strip()


@dataclass(frozen=True)
class ConsentSettings:
    """`[consent]`: limits of renewal campaigns and the controller named in consent receipts."""

    max_messages: int = 3  # per candidate and campaign (one consent's renewal)
    send_attempts: int = 5  # temporary SMTP failures before a message is given up
    retry_minutes: int = 30  # first retry delay; doubles per attempt
    link_days: int = (
        45  # how long an answer link stays valid (capped at the consent's expiry + 30d)
    )
    controller: str = "The controller (set [consent] controller in gdpr.toml)"
    controller_contact: str = ""
    controller_address: str = ""
    controller_email: str = ""
    controller_url: str = ""
    policy_url: str = ""
    storage_locations: tuple[str, ...] = ("EU",)
    recipients: tuple[str, ...] = ()


@dataclass(frozen=True)
class Config:
    data_dir: Path
    database_url: str
    timezone: str = "UTC"
    log_name: str = "gdpr"
    log_origin: str = "gdpr-compliance-engine/audit"
    signing_key_path: Path | None = None
    witness_path: Path | None = None
    schedule: Schedule = field(default_factory=Schedule)
    sweep_workers: int | None = None  # None: the sweep's default for the database
    mail: MailConfig | None = None  # None: no [mail], renewal campaigns queue nothing
    consent: ConsentSettings = field(default_factory=ConsentSettings)
    public_url: str | None = None  # [api] public_url: where answer links point

    @property
    def is_default_sqlite(self) -> bool:
        return self.database_url == default_sqlite_url(self.data_dir)

    @property
    def documents_dir(self) -> Path:
        return self.data_dir / "documents"

    @property
    def keys_dir(self) -> Path:
        return self.data_dir / "keys"

    @property
    def signing_key_file(self) -> Path:
        return self.signing_key_path or self.keys_dir / "checkpoint-signing.key"

    @property
    def verifier_key_file(self) -> Path:
        return self.keys_dir / "checkpoint-verifier.pub"

    @property
    def witness_file(self) -> Path:
        return self.witness_path or self.data_dir / "witness" / "checkpoints.log"

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def load_config(
    data_dir: str | os.PathLike[str] | None = None,
    database_url: str | None = None,
    env: Mapping[str, str] | None = None,
) -> Config:
    """Build the configuration from explicit values, then the environment, then gdpr.toml."""
    env = os.environ if env is None else env
    root = Path(data_dir or env.get("GDPR_DATA_DIR") or DEFAULT_DATA_DIR).expanduser().absolute()
    url = database_url or env.get("GDPR_DATABASE_URL") or default_sqlite_url(root)
    parse_database_url(url)
    settings = _read_toml(Path(env["GDPR_CONFIG"]) if "GDPR_CONFIG" in env else root / CONFIG_FILE)
    timezone = str(settings.get("timezone", "UTC"))
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise BadInput(
            f"{CONFIG_FILE}: unknown timezone '{timezone}': use an IANA name like Europe/Bucharest"
        ) from None
    sched = settings.get("schedule", {})
    if not isinstance(sched, dict) or not set(sched) <= {
        "sweep",
        "checkpoint",
        "expiries",
        "consent",
    }:
        raise BadInput(
            f"{CONFIG_FILE}: [schedule] takes only sweep, checkpoint, expiries and consent"
        )
    return Config(
        sweep_workers=_sweep_workers(settings.get("sweep", {}), url),
        data_dir=root,
        database_url=url,
        timezone=timezone,
        log_name=str(settings.get("log_name", "gdpr")),
        log_origin=str(settings.get("log_origin", "gdpr-compliance-engine/audit")),
        signing_key_path=_path(settings.get("signing_key"), root),
        witness_path=_path(settings.get("witness_file"), root),
        schedule=Schedule(**{k: str(v) for k, v in sched.items()}),
        mail=_mail(settings.get("mail"), root),
        consent=_consent(settings.get("consent", {})),
        public_url=_public_url(settings.get("api", {})),
    )


_MAIL_KEYS = {"host", "port", "security", "username", "password_file", "sender", "timeout"}


def _mail(section: object, root: Path) -> MailConfig | None:
    if section is None:
        return None
    where = f"{CONFIG_FILE}: [mail]"
    if not isinstance(section, dict) or not set(section) <= _MAIL_KEYS:
        raise BadInput(f"{where} takes only {', '.join(sorted(_MAIL_KEYS))}")
    host, sender = section.get("host"), section.get("sender")
    if not isinstance(host, str) or not host.strip():
        raise BadInput(f"{where} host is required (the SMTP server's name)")
    if not isinstance(sender, str) or "@" not in sender or any(c in sender for c in "\r\n"):
        raise BadInput(f"{where} sender is required: an address like privacy@example.com")
    try:
        security = MailSecurity(section.get("security", "starttls"))
    except ValueError:
        raise BadInput(f"{where} security must be none, starttls or tls") from None
    default_port = {MailSecurity.NONE: 25, MailSecurity.STARTTLS: 587, MailSecurity.TLS: 465}
    port = section.get("port", default_port[security])
    if type(port) is not int or not 1 <= port <= 65535:
        raise BadInput(f"{where} port must be a whole number from 1 to 65535")
    timeout = section.get("timeout", 30)
    if type(timeout) not in (int, float) or not 0 < timeout <= 300:
        raise BadInput(f"{where} timeout must be seconds, more than 0 and at most 300")
    username = section.get("username")
    if username is not None and (not isinstance(username, str) or not username):
        raise BadInput(f"{where} username must be a non-empty string")
    password_file = _path(section.get("password_file"), root)
    if password_file is not None:
        try:
            mode = password_file.stat().st_mode
        except OSError:
            raise BadInput(f"{where} password_file {password_file} cannot be read") from None
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise BadInput(
                f"{where} password_file {password_file} is readable by others: chmod 600 it"
            )
    if (username is None) != (password_file is None):
        raise BadInput(f"{where} username and password_file go together")
    return MailConfig(
        host=host,
        port=port,
        security=security,
        sender=sender,
        username=username,
        password_file=password_file,
        timeout=float(timeout),
    )


_SILENCE_KEYS = {"renew_on_silence", "auto_renew", "renew_without_answer"}
_INT_KEYS = {"max_messages": 20, "send_attempts": 20, "retry_minutes": 1440, "link_days": 365}
_TEXT_KEYS = {
    "controller",
    "controller_contact",
    "controller_address",
    "controller_email",
    "controller_url",
    "policy_url",
}
_LIST_KEYS = {"storage_locations", "recipients"}


def _consent(section: object) -> ConsentSettings:
    where = f"{CONFIG_FILE}: [consent]"
    if not isinstance(section, dict):
        raise BadInput(f"{where} must be a table")
    silent = _SILENCE_KEYS & set(section)
    if silent:
        raise BadInput(
            f"{where} {sorted(silent)[0]} is refused: silence never renews a consent "
            "(GDPR Art. 4(11), 7: a clear affirmative act); without an answer it expires"
        )
    unknown = set(section) - set(_INT_KEYS) - _TEXT_KEYS - _LIST_KEYS
    if unknown:
        raise BadInput(f"{where} has unknown key {sorted(unknown)[0]}")
    values: dict[str, Any] = {}
    for key, top in _INT_KEYS.items():
        if key in section:
            v = section[key]
            if type(v) is not int or not 1 <= v <= top:
                raise BadInput(f"{where} {key} must be a whole number from 1 to {top}")
            values[key] = v
    for key in _TEXT_KEYS & set(section):
        if not isinstance(section[key], str) or len(section[key]) > 500:
            raise BadInput(f"{where} {key} must be a string of at most 500 characters")
        values[key] = section[key]
    for key in _LIST_KEYS & set(section):
        v = section[key]
        if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
            raise BadInput(f"{where} {key} must be a list of strings")
        values[key] = tuple(v)
    return ConsentSettings(**values)


def _public_url(section: object) -> str | None:
    # Only public_url is read here; the HTTP API's own keys of [api] are its business.
    if not isinstance(section, dict):
        raise BadInput(f"{CONFIG_FILE}: [api] must be a table")
    url = section.get("public_url")
    if url is None:
        return None
    if not isinstance(url, str) or not url.startswith(("https://", "http://")):
        raise BadInput(f"{CONFIG_FILE}: [api] public_url must be an http(s) URL")
    return url.rstrip("/")


def _sweep_workers(section: object, url: str) -> int | None:
    if not isinstance(section, dict) or not set(section) <= {"workers"}:
        raise BadInput(f"{CONFIG_FILE}: [sweep] takes only workers")
    workers = section.get("workers")
    if workers is None:
        return None
    if type(workers) is not int or not 1 <= workers <= MAX_SWEEP_WORKERS:
        raise BadInput(
            f"{CONFIG_FILE}: [sweep] workers must be a whole number from 1 to {MAX_SWEEP_WORKERS}"
        )
    if workers > 1 and parse_database_url(url).get_backend_name() != "postgresql":
        raise BadInput(
            f"{CONFIG_FILE}: [sweep] workers above 1 need PostgreSQL (SQLite has one writer)"
        )
    return workers


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        return {}
    except tomllib.TOMLDecodeError as exc:
        raise BadInput(f"{path}: not valid TOML ({exc}); fix or remove the file") from None
    except OSError as exc:
        raise BadInput(f"{path}: cannot read ({exc.strerror})") from None


def _path(value: object, root: Path) -> Path | None:
    if value is None:
        return None
    p = Path(str(value)).expanduser()
    return p if p.is_absolute() else root / p


def default_sqlite_url(data_dir: os.PathLike[str] | str) -> str:
    return f"sqlite:///{os.fspath(data_dir)}/gdpr.sqlite3"


def parse_database_url(url: str) -> URL:
    """Parse and check a database URL, mapping every way it can be wrong to one clear error."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise BadInput(
            "database URL is not valid: use sqlite:///PATH or postgresql+psycopg://USER@HOST/DB"
        ) from None
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise BadInput(
            f"database '{parsed.get_backend_name()}' is not supported: use SQLite or PostgreSQL"
        )
    if parsed.get_backend_name() == "postgresql" and parsed.get_driver_name() != "psycopg":
        raise BadInput(
            "PostgreSQL URLs must use the psycopg 3 driver: postgresql+psycopg://USER@HOST/DB"
        )
    return parsed
