"""The installation's configuration: one immutable object, read once at start-up.

Where things live comes from the command line or the environment (`--data-dir` /
GDPR_DATA_DIR, GDPR_DATABASE_URL); the rest (timezone, schedule, log name, key and witness paths)
from an optional `gdpr.toml` in the data directory. Reading it once and passing the frozen value
down keeps every module free of environment look-ups and makes tests explicit.
"""

from __future__ import annotations

import os
import re
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
from sqlalchemy import make_url
from sqlalchemy.engine import URL
from sqlalchemy.exc import ArgumentError

from retention.errors import BadInput

__all__ = [
    "CONFIG_FILE",
    "DEFAULT_DATA_DIR",
    "INTEGRATION_FIELDS",
    "MAX_SWEEP_WORKERS",
    "ApiSettings",
    "Config",
    "ConsentSettings",
    "Integration",
    "IntegrationKind",
    "MailConfig",
    "MailSecurity",
    "RequestSettings",
    "Schedule",
    "check_api_workers",
    "default_sqlite_url",
    "load_config",
    "parse_bind",
    "parse_database_url",
]

DEFAULT_DATA_DIR = "gdpr-data"
CONFIG_FILE = "gdpr.toml"
MAX_SWEEP_WORKERS = 16
SWEEP_BATCH_RANGE = (1_000, 100_000)
"""Subjects per sweep batch that `[sweep] batch_size` may set (the sweep's default is 10,000)."""
MAX_API_WORKERS = 64


@dataclass(frozen=True)
class ApiSettings:
    """`[api]` of gdpr.toml: how `gdpr serve` listens and what it allows (see README, HTTP API).

    Rate limits are per worker process and per minute (0 turns one off); `metrics_token_path`
    is a 0600 file whose token /metrics accepts from other hosts (loopback needs none).
    """

    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    public_url: str | None = None
    cors_origins: tuple[str, ...] = ()
    metrics_token_path: Path | None = None
    max_body_bytes: int = 1 << 20
    principal_rate_per_minute: int = 1200
    source_rate_per_minute: int = 2400
    auth_failures_per_minute: int = 30
    group_commit: bool = True
    keep_exports_days: int = 7  # finished evidence exports (job and .zip) kept this long


@dataclass(frozen=True)
class Schedule:
    """Cron expressions (crontab syntax, in `Config.timezone`) of the scheduler's jobs."""

    sweep: str = "0 2 * * *"
    checkpoint: str = "0 * * * *"
    expiries: str = "30 1 * * *"
    deliver: str = "*/5 * * * *"
    consent: str = "0 9 * * *"  # the daily renewal campaign (asks, reminders, expiries)


class IntegrationKind(StrEnum):
    """How a system talks: Greenhouse's own webhooks and Harvest API, or Standard Webhooks."""

    GREENHOUSE = "greenhouse"
    STANDARD_WEBHOOKS = "standard-webhooks"


_INTEGRATION_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
_INTEGRATION_KEYS = frozenset(
    {
        "kind",
        "secret_file",
        "country",
        "fields",
        "url",
        "on_behalf_of",
        "api_key_file",
        "rate",
        "concurrency",
        "dead_after_hours",
        "timeout_seconds",
    }
)
# The engine's fields a source's own field names may be mapped onto (`[integration.NAME.fields]`).
INTEGRATION_FIELDS = frozenset(
    {"first_name", "last_name", "email", "phone", "city", "notes", "country"}
)


@dataclass(frozen=True)
class Integration:
    """One system that holds a copy: `[integration.NAME]` in gdpr.toml.

    Every integration is a source (it signs what it posts to the engine with `secret_file`); one
    with a `url` is also a target that erasures, anonymizations and blocks are delivered to. The
    secret files are read when used (`retention.integration.secrets`), never here.
    """

    name: str
    kind: IntegrationKind
    secret_file: Path
    country: str | None = None
    # (source field, engine field) pairs: the source's own names for the engine's fields.
    fields: tuple[tuple[str, str], ...] = ()
    url: str | None = None
    on_behalf_of: str | None = None  # Greenhouse: the user the Harvest API audits the change as
    api_key_file: Path | None = None  # Greenhouse target: the Harvest API key
    rate: float = 20.0  # deliveries per second, at most
    concurrency: int = 4  # deliveries in flight, at most
    dead_after: timedelta = timedelta(hours=72)
    timeout_seconds: float = 10.0

    @property
    def is_target(self) -> bool:
        return self.url is not None

    @property
    def ref_prefix(self) -> str:
        """What `external_ref` of a record that came from this source starts with."""
        return f"{self.name}:"


_KEEP_RE = re.compile(r"[1-9]\d{0,3}[dwmy]")
_PROCESSOR_RE = re.compile(r"[^\x00-\x1f]{1,200}")


@dataclass(frozen=True)
class RequestSettings:
    """`[requests]`: the working calendar of Art. 12(3) deadlines, how long closed requests are
    kept, and the processors an access answer names as recipients."""

    calendar: str | None = None  # "RO", "DE-BY"; None: Saturdays and Sundays only
    keep_closed: str = "3y"  # a duration after closure (30d, 6m, 3y)
    processors: tuple[str, ...] = ()


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
    sweep_batch_size: int | None = None  # None: the sweep's default
    api: ApiSettings = field(default_factory=ApiSettings)
    integrations: tuple[Integration, ...] = ()

    def integration(self, name: str) -> Integration | None:
        return next((i for i in self.integrations if i.name == name), None)

    @property
    def targets(self) -> tuple[Integration, ...]:
        """The integrations that erasures and the other actions are delivered to."""
        return tuple(i for i in self.integrations if i.is_target)

    requests: RequestSettings = field(default_factory=RequestSettings)
    mail: MailConfig | None = None  # None: no [mail], renewal campaigns queue nothing
    consent: ConsentSettings = field(default_factory=ConsentSettings)

    @property
    def is_default_sqlite(self) -> bool:
        return self.database_url == default_sqlite_url(self.data_dir)

    @property
    def public_url(self) -> str | None:
        """`[api] public_url`: where the public pages (consent answer links) are reached."""
        return self.api.public_url

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
        "deliver",
        "consent",
    }:
        raise BadInput(
            f"{CONFIG_FILE}: [schedule] takes only sweep, checkpoint, expiries, deliver and consent"
        )
    sweep = settings.get("sweep", {})
    return Config(
        sweep_workers=_sweep_workers(sweep, url),
        sweep_batch_size=_sweep_batch_size(sweep),
        data_dir=root,
        database_url=url,
        timezone=timezone,
        log_name=str(settings.get("log_name", "gdpr")),
        log_origin=str(settings.get("log_origin", "gdpr-compliance-engine/audit")),
        signing_key_path=_path(settings.get("signing_key"), root),
        witness_path=_path(settings.get("witness_file"), root),
        schedule=Schedule(**{k: str(v) for k, v in sched.items()}),
        api=_api_settings(settings.get("api", {}), url, root),
        requests=_requests(settings.get("requests", {})),
        integrations=_integrations(settings.get("integration", {}), root),
        mail=_mail(settings.get("mail"), root),
        consent=_consent(settings.get("consent", {})),
    )


def _integrations(section: object, root: Path) -> tuple[Integration, ...]:
    if not isinstance(section, dict):
        raise BadInput(f"{CONFIG_FILE}: [integration.NAME] sections expected")
    return tuple(_integration(name, values, root) for name, values in sorted(section.items()))


def _integration(name: str, values: object, root: Path) -> Integration:
    where = f"{CONFIG_FILE}: [integration.{name}]"
    if not _INTEGRATION_NAME.fullmatch(name):
        raise BadInput(f"{where}: a name is 1-63 lower-case letters, digits and '-'")
    if not isinstance(values, dict):
        raise BadInput(f"{where}: must be a table")
    unknown = set(values) - _INTEGRATION_KEYS
    if unknown:
        raise BadInput(f"{where}: unknown key '{sorted(unknown)[0]}'")
    try:
        kind = IntegrationKind(str(values.get("kind")))
    except ValueError:
        raise BadInput(f"{where}: kind must be greenhouse or standard-webhooks") from None
    secret = _path(values.get("secret_file"), root)
    if secret is None:
        raise BadInput(f"{where}: secret_file is required (a file of mode 0600)")
    country = values.get("country")
    if country is not None and (
        not isinstance(country, str) or not re.fullmatch(r"[A-Z]{2}", country)
    ):
        raise BadInput(f"{where}: country must be an ISO 3166-1 alpha-2 code such as NL")
    fields = values.get("fields", {})
    if not isinstance(fields, dict) or not all(
        isinstance(k, str) and v in INTEGRATION_FIELDS for k, v in fields.items()
    ):
        raise BadInput(
            f"{where}: fields maps the source's field names onto "
            f"{', '.join(sorted(INTEGRATION_FIELDS))}"
        )
    url = values.get("url")
    if url is not None and (not isinstance(url, str) or not re.fullmatch(r"https?://[^\s]+", url)):
        raise BadInput(f"{where}: url must be an http(s) URL")
    on_behalf_of = values.get("on_behalf_of")
    api_key = _path(values.get("api_key_file"), root)
    if (
        kind is IntegrationKind.GREENHOUSE
        and url is not None
        and (on_behalf_of is None or api_key is None)
    ):
        raise BadInput(
            f"{where}: a Greenhouse target needs on_behalf_of (a Greenhouse user id) and "
            "api_key_file (the Harvest API key, mode 0600)"
        )
    rate = values.get("rate", 20.0)
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 < rate <= 10_000:
        raise BadInput(f"{where}: rate is deliveries per second, above 0 and at most 10000")
    concurrency = values.get("concurrency", 4)
    if type(concurrency) is not int or not 1 <= concurrency <= 64:
        raise BadInput(f"{where}: concurrency must be a whole number from 1 to 64")
    dead = values.get("dead_after_hours", 72)
    if isinstance(dead, bool) or not isinstance(dead, int | float) or not 0 < dead <= 24 * 90:
        raise BadInput(f"{where}: dead_after_hours must be above 0 and at most 2160 (90 days)")
    timeout = values.get("timeout_seconds", 10.0)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 < timeout <= 300:
        raise BadInput(f"{where}: timeout_seconds must be above 0 and at most 300")
    return Integration(
        name=name,
        kind=kind,
        secret_file=secret,
        country=country,
        fields=tuple(sorted((str(k), str(v)) for k, v in fields.items())),
        url=url.rstrip("/") if url else None,
        on_behalf_of=None if on_behalf_of is None else str(on_behalf_of),
        api_key_file=api_key,
        rate=float(rate),
        concurrency=concurrency,
        dead_after=timedelta(hours=float(dead)),
        timeout_seconds=float(timeout),
    )


_API_KEYS = {
    "bind",
    "workers",
    "public_url",
    "cors_origins",
    "metrics_token_file",
    "max_body_bytes",
    "principal_rate_per_minute",
    "source_rate_per_minute",
    "auth_failures_per_minute",
    "group_commit",
    "keep_exports_days",
}


def _api_settings(section: object, url: str, root: Path) -> ApiSettings:
    if not isinstance(section, dict) or not set(section) <= _API_KEYS:
        raise BadInput(f"{CONFIG_FILE}: [api] takes only {', '.join(sorted(_API_KEYS))}")
    defaults = ApiSettings()
    host, port = defaults.host, defaults.port
    if "bind" in section:
        host, port = parse_bind(str(section["bind"]), f"{CONFIG_FILE}: [api] bind")
    workers = _whole(section, "workers", defaults.workers, 1, MAX_API_WORKERS)
    check_api_workers(workers, url, f"{CONFIG_FILE}: [api] workers")
    public_url = section.get("public_url")
    if public_url is not None and not (
        isinstance(public_url, str) and public_url.startswith(("https://", "http://"))
    ):
        raise BadInput(f"{CONFIG_FILE}: [api] public_url must be an http(s) URL")
    origins = section.get("cors_origins", [])
    if not isinstance(origins, list) or not all(
        isinstance(o, str) and o.startswith(("https://", "http://")) and o.count("/") == 2
        for o in origins
    ):
        raise BadInput(
            f"{CONFIG_FILE}: [api] cors_origins must be a list of origins like "
            "'https://backoffice.example.org' (scheme and host, no path)"
        )
    group_commit = section.get("group_commit", defaults.group_commit)
    if not isinstance(group_commit, bool):
        raise BadInput(f"{CONFIG_FILE}: [api] group_commit must be true or false")
    return ApiSettings(
        host=host,
        port=port,
        workers=workers,
        public_url=public_url.rstrip("/") if isinstance(public_url, str) else None,
        cors_origins=tuple(origins),
        metrics_token_path=_path(section.get("metrics_token_file"), root),
        max_body_bytes=_whole(section, "max_body_bytes", defaults.max_body_bytes, 1024, 1 << 30),
        principal_rate_per_minute=_whole(
            section, "principal_rate_per_minute", defaults.principal_rate_per_minute, 0, 10**7
        ),
        source_rate_per_minute=_whole(
            section, "source_rate_per_minute", defaults.source_rate_per_minute, 0, 10**7
        ),
        auth_failures_per_minute=_whole(
            section, "auth_failures_per_minute", defaults.auth_failures_per_minute, 0, 10**7
        ),
        group_commit=group_commit,
        keep_exports_days=_whole(section, "keep_exports_days", defaults.keep_exports_days, 1, 3650),
    )


def _whole(section: dict[str, Any], key: str, default: int, low: int, high: int) -> int:
    value = section.get(key, default)
    if type(value) is not int or not low <= value <= high:
        raise BadInput(f"{CONFIG_FILE}: [api] {key} must be a whole number from {low} to {high}")
    return value


def parse_bind(text: str, what: str) -> tuple[str, int]:
    """`host:port` (an IPv6 host in brackets: `[::1]:8000`) as (host, port)."""
    host, sep, port_text = text.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not sep or not host or not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise BadInput(f"{what} must be HOST:PORT, like 127.0.0.1:8000")
    return host, int(port_text)


def check_api_workers(workers: int, url: str, what: str) -> None:
    """SQLite has one writer and its engine must not cross processes: one worker there."""
    if workers > 1 and parse_database_url(url).get_backend_name() != "postgresql":
        raise BadInput(f"{what} above 1 need PostgreSQL (on SQLite the API runs one worker)")


def _requests(section: object) -> RequestSettings:
    what = f"{CONFIG_FILE}: [requests]"
    if not isinstance(section, dict) or not set(section) <= {
        "calendar",
        "keep_closed",
        "processors",
    }:
        raise BadInput(f"{what} takes only calendar, keep_closed and processors")
    calendar = section.get("calendar")
    if calendar is not None:
        calendar = _calendar(calendar, what)
    keep = section.get("keep_closed", "3y")
    if not isinstance(keep, str) or not _KEEP_RE.fullmatch(keep):
        raise BadInput(f"{what} keep_closed must be a duration like 90d, 6m or 3y")
    processors = section.get("processors", [])
    if not isinstance(processors, list) or not all(
        isinstance(p, str) and _PROCESSOR_RE.fullmatch(p) for p in processors
    ):
        raise BadInput(f"{what} processors must be a list of names (at most 200 characters each)")
    return RequestSettings(calendar, keep, tuple(processors))


def _calendar(value: object, what: str) -> str:
    country, _, subdivision = str(value).strip().upper().partition("-")
    supported = holidays.list_supported_countries()
    if country not in supported:
        raise BadInput(
            f"{what} calendar: no public holidays known for '{value}': use a code like RO"
        )
    if subdivision and subdivision not in supported[country]:
        raise BadInput(f"{what} calendar: {country} has no subdivision '{subdivision}'")
    return f"{country}-{subdivision}" if subdivision else country


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


def _sweep_workers(section: object, url: str) -> int | None:
    if not isinstance(section, dict) or not set(section) <= {"workers", "batch_size"}:
        raise BadInput(f"{CONFIG_FILE}: [sweep] takes only workers and batch_size")
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


def _sweep_batch_size(section: dict[str, Any]) -> int | None:
    """Subjects per batch. Larger batches share more index pages between their deletes (on
    SQLite at 1,000,000 candidates, 40,000 per batch swept 1.37x as fast as 10,000), but every
    other writer waits for a batch's commit: on SQLite a 40,000-subject batch holds the one
    write lock for about 3 s. A setting for installations that sweep in a quiet window."""
    size = section.get("batch_size")
    if size is None:
        return None
    low, high = SWEEP_BATCH_RANGE
    if type(size) is not int or not low <= size <= high:
        raise BadInput(
            f"{CONFIG_FILE}: [sweep] batch_size must be a whole number from {low:,} to {high:,}"
        )
    return size


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
