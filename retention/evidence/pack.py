"""The evidence pack's format: its files, its manifest, and the rows derived from audit entries.

An evidence pack is a folder an auditor checks offline, so its layout is a contract shared by the
exporter (`evidence_export`), the offline verifier (`evidence_verify`) and the step-by-step
instructions in VERIFY.md. Everything both sides must compute identically lives here and only
here: the file names, the manifest's JSON form and the bytes it is signed as, and the rule that
turns the audit entries of the period into `retention-actions.csv`. Pure: no database, no clock.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import IO, Any

__all__ = [
    "ACTIONS_HEADER",
    "COLUMN",
    "FORMAT",
    "RETENTION_ACTIONS",
    "FileDigest",
    "HashingWriter",
    "Manifest",
    "PackFile",
    "PackPeriod",
    "action_prefixes",
    "action_row",
    "csv_line",
    "fingerprint",
    "pack_name",
    "parse_entry_line",
]

FORMAT = "gdpr-evidence-pack/1"
"""Written into every manifest; a verifier refuses formats it does not know."""

RETENTION_ACTIONS: tuple[str, ...] = (
    "candidate.anonymize",
    "candidate.delete",
    "candidate.block",
    "candidate.review",
)
"""Audit actions that are retention actions: one line of retention-actions.csv each."""
_RETENTION_SET = frozenset(RETENTION_ACTIONS)


def action_prefixes(actions: Iterable[str] = RETENTION_ACTIONS) -> tuple[bytes, ...]:
    """How the canonical bytes of an entry of these actions start ("action" sorts first), so a
    reader parses only those lines."""
    return tuple(b'{"action":"' + a.encode() + b'"' for a in actions)


ACTIONS_HEADER: tuple[str, ...] = (
    "seq",
    "date",
    "subject",
    "country",
    "policy",
    "rule",
    "action",
    "outcome",
    "policy_hash",
    "cite",
    "run_id",
    "review_id",
)
"""Columns of retention-actions.csv; `country` is empty when the entry does not name one."""

COLUMN = {name: i for i, name in enumerate(ACTIONS_HEADER)}
"""Position of each retention-actions.csv column."""


class PackFile(StrEnum):
    """The files of a pack (policy texts go under `policies/`)."""

    AUDIT_LOG = "audit-log.jsonl"
    CHECKPOINT = "checkpoint.txt"
    PROOFS = "proofs.json"
    VERIFIER_KEY = "verifier-key.txt"
    ACTIONS = "retention-actions.csv"
    HOLDS = "holds.csv"
    REVIEWS = "reviews.csv"
    ACCESS = "access.csv"
    CONSENTS = "consents.csv"
    PROPAGATION = "propagation.csv"
    REQUESTS = "requests.csv"
    CONSENT_RENEWALS = "consent-renewals.csv"
    REPORT = "report.html"
    VERIFY = "VERIFY.md"
    MANIFEST = "manifest.json"
    MANIFEST_SIG = "manifest.sig"


POLICIES_DIR = "policies"


def pack_name(start: date, end: date, made: date) -> str:
    """`EVIDENCE_<from>_<to>_<YYYYMMDD>`: the folder (and zip) name of a pack."""
    return f"EVIDENCE_{start.isoformat()}_{end.isoformat()}_{made.strftime('%Y%m%d')}"


def fingerprint(verifier_key_file: bytes) -> str:
    """SHA-256 of verifier-key.txt as `sha256sum` prints it, so anyone can recompute it."""
    return hashlib.sha256(verifier_key_file).hexdigest()


@dataclass(frozen=True, slots=True)
class FileDigest:
    """One file of the pack as the manifest lists it."""

    path: str
    sha256: str
    size: int


class HashingWriter:
    """A binary file that hashes and counts what is written, so a 1 GB log is read only once."""

    def __init__(self, fh: IO[bytes]) -> None:
        self._fh = fh
        self._hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> None:
        self._fh.write(data)
        self._hash.update(data)
        self.size += len(data)

    def digest(self, path: str) -> FileDigest:
        return FileDigest(path, self._hash.hexdigest(), self.size)


@dataclass(frozen=True, slots=True)
class PackPeriod:
    """What a pack covers: dates (inclusive), their UTC bounds, and the entries in them.

    `first_seq`/`last_seq` are None when no entry falls in the period; `prior_seq` is the entry
    just before the period that audit-log.jsonl starts with (None when the period starts the log).
    """

    start_date: str
    end_date: str
    timezone: str
    start: str
    end: str
    country: str | None
    first_seq: int | None
    last_seq: int | None
    prior_seq: int | None

    @property
    def entries(self) -> int:
        if self.first_seq is None or self.last_seq is None:
            return 0
        return self.last_seq - self.first_seq + 1


@dataclass(frozen=True, slots=True)
class Manifest:
    """manifest.json: what the pack holds, every file's digest, and how it was made."""

    origin: str
    created_at: str
    period: PackPeriod
    checkpoint_size: int
    retention_actions: tuple[str, ...]
    files: tuple[FileDigest, ...]
    format: str = FORMAT
    generator: str = "gdpr-compliance-engine"
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_bytes(self) -> bytes:
        """The exact bytes of manifest.json, which are also the text manifest.sig signs.

        ASCII and without blank lines, so that the file is a valid signed-note text as is.
        """
        obj = {
            "format": self.format,
            "generator": self.generator,
            "origin": self.origin,
            "created_at": self.created_at,
            "period": {
                "from": self.period.start_date,
                "to": self.period.end_date,
                "timezone": self.period.timezone,
                "start": self.period.start,
                "end": self.period.end,
                "country": self.period.country,
                "first_seq": self.period.first_seq,
                "last_seq": self.period.last_seq,
                "prior_seq": self.period.prior_seq,
            },
            "checkpoint_size": self.checkpoint_size,
            "retention_actions": list(self.retention_actions),
            "files": [{"path": f.path, "sha256": f.sha256, "size": f.size} for f in self.files],
            **dict(self.extra),
        }
        return (json.dumps(obj, indent=2, ensure_ascii=True) + "\n").encode("ascii")

    @classmethod
    def from_bytes(cls, data: bytes) -> Manifest:
        """Read manifest.json; raises ValueError (with the field) when it is malformed."""
        obj = json.loads(data)
        if not isinstance(obj, dict):
            raise ValueError("manifest is not a JSON object")
        if obj.get("format") != FORMAT:
            raise ValueError(f"unknown pack format {obj.get('format')!r}, want {FORMAT!r}")
        p = obj["period"]
        period = PackPeriod(
            start_date=str(p["from"]),
            end_date=str(p["to"]),
            timezone=str(p["timezone"]),
            start=str(p["start"]),
            end=str(p["end"]),
            country=_opt_str(p.get("country")),
            first_seq=_opt_int(p.get("first_seq"), "first_seq"),
            last_seq=_opt_int(p.get("last_seq"), "last_seq"),
            prior_seq=_opt_int(p.get("prior_seq"), "prior_seq"),
        )
        files = tuple(
            FileDigest(str(f["path"]), str(f["sha256"]), _int(f["size"], "size"))
            for f in obj["files"]
        )
        known = {"format", "generator", "origin", "created_at", "period", "checkpoint_size"}
        known |= {"retention_actions", "files"}
        return cls(
            origin=str(obj["origin"]),
            created_at=str(obj["created_at"]),
            period=period,
            checkpoint_size=_int(obj["checkpoint_size"], "checkpoint_size"),
            retention_actions=tuple(str(a) for a in obj["retention_actions"]),
            files=files,
            generator=str(obj.get("generator", "")),
            extra={k: v for k, v in obj.items() if k not in known},
        )


def _int(value: Any, name: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"{name} must be an integer")
    return value


def _opt_int(value: Any, name: str) -> int | None:
    return None if value is None else _int(value, name)


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


_SAFE_PATH = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?$")


def safe_relative_path(path: str) -> bool:
    """True for the plain relative paths a pack may list (no '..', no absolute, one level deep)."""
    return bool(_SAFE_PATH.match(path)) and ".." not in path


_decode = json.JSONDecoder().decode


def parse_entry_line(line: bytes) -> dict[str, Any]:
    """The JSON object of one audit-log.jsonl line (without its newline)."""
    try:
        obj = _decode(line.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ValueError("entry is not UTF-8") from exc
    if not isinstance(obj, dict):
        raise ValueError("entry is not a JSON object")
    return obj


def action_row(entry: Mapping[str, Any], country: str | None) -> list[str] | None:
    """The retention-actions.csv row of an audit entry, or None when it is not one of them.

    With a country filter, only actions whose details name that country are rows: the verifier
    must be able to decide membership from the entry alone, without the database.
    """
    action = entry.get("action")
    if action not in _RETENTION_SET:
        return None
    details = entry.get("details")
    if not isinstance(details, Mapping):
        details = {}
    entry_country = _cell(details.get("country"))
    if country is not None and entry_country != country:
        return None
    get = details.get
    values = (
        entry.get("seq"),
        entry.get("ts"),
        entry.get("subject"),
        entry_country,
        get("policy"),
        get("rule"),
        action.removeprefix("candidate."),
        entry.get("outcome"),
        get("policy_hash"),
        get("cite"),
        get("run_id", get("run")),
        get("review"),
    )
    # Most cells are already strings: convert only the others (this runs once per action).
    return [v if v.__class__ is str else "" if v is None else _cell(v) for v in values]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int):
        return str(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def csv_line(row: Sequence[object]) -> bytes:
    """One CSV record, UTF-8, '\\n'-terminated, quoted only where needed (RFC 4180 style)."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(["" if v is None else v for v in row])
    return buf.getvalue().encode("utf-8")


class CsvWriter:
    """Writes CSV records to a HashingWriter, header first."""

    def __init__(self, out: HashingWriter, header: Sequence[str]) -> None:
        self._out = out
        self._buf = io.StringIO()
        self._csv = csv.writer(self._buf, lineterminator="\n")
        self.rows = 0
        self.write(header, count=False)

    def write(self, row: Sequence[object], *, count: bool = True) -> None:
        self._csv.writerow(["" if v is None else v for v in row])
        self._out.write(self._buf.getvalue().encode("utf-8"))
        self._buf.seek(0)
        self._buf.truncate()
        if count:
            self.rows += 1


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[object]]) -> FileDigest:
    """Write a whole CSV file and return its digest (path relative to the pack root)."""
    with path.open("wb") as fh:
        out = HashingWriter(fh)
        writer = CsvWriter(out, header)
        for row in rows:
            writer.write(row)
    return out.digest(path.name)
