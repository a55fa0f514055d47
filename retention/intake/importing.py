"""Importing candidates from an ATS export (CSV or JSONL): all valid rows or nothing at all.

The file is checked before anything is written (text, UTF-8, a CSV with the required header or
JSON lines); a file that fails that is bad input and changes nothing. Then every row is parsed
(`retention.intake.rows`): valid rows are upserted by external_ref in set-based batches, invalid
ones go to a rejects file with their line number and a reason free of personal data. The whole
import is one transaction: a crash, a database error or Ctrl-C leaves the database as before,
and the rejects file appears only once the import has committed.

Choices where the issue is silent:
- identical duplicate rows are imported once (counted as duplicates); a second row with the same
  external_ref but different values is rejected, so nothing is silently overwritten by order;
- a candidate already anonymized or blocked is not updated (the row is rejected): re-importing
  would bring back personal data that the engine erased or restricted;
- the talent-pool consent columns add a consent row, or update the expiry of the one with the
  same given_at (a renewal in the ATS is a new given_at, hence a new row);
- the rejects file holds the rejected rows' values (to fix and re-import), is created 0600, and
  prefixes formula-looking values with an apostrophe so opening it in a spreadsheet is safe; its
  path (given or the default) must not exist, and can never be the input itself.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import os
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, insert, select, update

from audit_log import Event
from retention.access import guarded
from retention.clock import as_utc, utc_now
from retention.errors import BadInput
from retention.intake.export_files import RawRow, detect_format, open_text, read_rows
from retention.intake.rows import (
    COLUMNS,
    CandidateRecord,
    RowRejected,
    parse_row,
)
from retention.logs import get_logger
from retention.store import Candidate, Consent, bulk_load_settings, table_of
from retention.store import record as audit_record

__all__ = ["ImportReport", "import_candidates"]

log = get_logger(__name__)

BATCH = 5_000
TALENT_POOL = "talent_pool"
IMPORT_NOTICE = "ats-import"
IMPORT_CHANNEL = "ats_import"

candidate_t = table_of(Candidate)
consent_t = table_of(Consent)


@dataclass(frozen=True)
class ImportReport:
    file: str
    format: str
    rows: int
    inserted: int
    updated: int
    duplicates: int
    rejected: int
    consents_added: int
    consents_updated: int
    rejects_file: str | None
    ignored_columns: tuple[str, ...]
    seconds: float

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "format": self.format,
            "rows": self.rows,
            "inserted": self.inserted,
            "updated": self.updated,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "consents_added": self.consents_added,
            "consents_updated": self.consents_updated,
            "rejects_file": self.rejects_file,
            "ignored_columns": list(self.ignored_columns),
            # Timings are for people watching throughput; more digits would be noise.
            "seconds": round(self.seconds, 3),
            "rows_per_second": round(self.rows_per_second),
        }


@dataclass
class _Counts:
    rows: int = 0
    inserted: int = 0
    updated: int = 0
    duplicates: int = 0
    rejected: int = 0
    consents_added: int = 0
    consents_updated: int = 0


Authorizer = Callable[[Connection, datetime], Event]
"""Authorizes an import inside its transaction (raising `Refused` on a denial) and returns the
caller's `candidate.import` event, to which the import adds its counts."""


def import_candidates(
    engine: Engine,
    path: Path,
    *,
    rejects_path: Path | None = None,
    now: datetime | None = None,
    on_batch: Callable[[int], None] | None = None,
    authorize: Authorizer | None = None,
) -> ImportReport:
    """Import a CSV or JSONL candidate export in one transaction; see the module docstring.

    With `authorize`, the import is authorized first in its own transaction, and its counts are
    appended to the audit log in it: the decision, the rows and their record commit together,
    and a denial is committed (by `guarded`) with nothing else.
    """
    started = time.perf_counter()
    now = as_utc(now or utc_now())
    rejects_path = rejects_path or path.with_name(path.name + ".rejects.csv")
    _refuse_taken(rejects_path, path)
    rejects = _Rejects(rejects_path)
    counts = _Counts()
    seen: dict[str, tuple[int, CandidateRecord]] = {}

    def unit(conn: Connection) -> tuple[str, list[str]]:
        audit_as = authorize(conn, now) if authorize is not None else None
        fmt = detect_format(path)
        with open_text(path) as text, bulk_load_settings(conn):
            rows, ignored = read_rows(text, fmt, path)
            pending: list[tuple[int, RawRow, CandidateRecord]] = []
            for line, raw in rows:
                counts.rows += 1
                try:
                    if isinstance(raw, RowRejected):
                        raise raw
                    record = parse_row(raw, now)
                    earlier = seen.get(record.external_ref)
                    if earlier is not None:
                        if earlier[1] == record:
                            counts.duplicates += 1
                            continue
                        raise RowRejected(
                            f"external_ref repeats line {earlier[0]} with different values"
                        )
                    seen[record.external_ref] = (line, record)
                except RowRejected as exc:
                    rejects.add(line, exc.message, raw if isinstance(raw, Mapping) else {})
                    counts.rejected += 1
                    continue
                pending.append((line, raw, record))
                if len(pending) >= BATCH:
                    _flush(conn, pending, now, counts, rejects)
                    pending = []
                    if on_batch is not None:
                        on_batch(counts.rows)
            _flush(conn, pending, now, counts, rejects)
            if on_batch is not None:
                on_batch(counts.rows)
            if audit_as is not None:
                details = {**audit_as.details, **vars(counts), "format": fmt}
                audit_record(conn, dataclasses.replace(audit_as, details=details), at=now)
        return fmt, ignored

    try:
        # No savepoint: a denial comes before the first write, so there is nothing to undo.
        fmt, ignored = guarded(engine, unit, savepoint=False)
        rejects.commit()
    except BaseException:
        rejects.discard()
        raise
    report = ImportReport(
        file=str(path),
        format=fmt,
        rejects_file=str(rejects.path) if counts.rejected else None,
        ignored_columns=tuple(ignored),
        seconds=time.perf_counter() - started,
        **vars(counts),
    )
    log.info(
        "import.finished",
        format=fmt,
        rows=counts.rows,
        inserted=counts.inserted,
        updated=counts.updated,
        duplicates=counts.duplicates,
        rejected=counts.rejected,
    )
    return report


# --- writing: set-based upserts ------------------------------------------------------------------


def _flush(
    conn: Connection,
    pending: Sequence[tuple[int, RawRow, CandidateRecord]],
    now: datetime,
    counts: _Counts,
    rejects: _Rejects,
) -> None:
    if not pending:
        return
    refs = [record.external_ref for _, _, record in pending]
    existing = {
        row.external_ref: row
        for row in conn.execute(
            select(
                candidate_t.c.id,
                candidate_t.c.anonymized_at,
                candidate_t.c.blocked_at,
                *(candidate_t.c[name] for name in _COMPARED),
            ).where(candidate_t.c.external_ref.in_(refs))
        )
    }
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    ids: dict[str, uuid.UUID] = {}
    for line, raw, record in pending:
        found = existing.get(record.external_ref)
        if found is not None and (found.anonymized_at or found.blocked_at):
            state = "anonymized" if found.anonymized_at else "blocked"
            rejects.add(line, f"candidate {found.id} is {state}: it is not re-imported", raw)
            counts.rejected += 1
            continue
        values = _candidate_values(record, now)
        if found is None:
            ids[record.external_ref] = values["id"] = uuid.uuid4()
            values["created_at"] = now
            inserts.append(values)
        else:
            ids[record.external_ref] = found.id
            if all(getattr(found, name) == values[name] for name in _COMPARED):
                continue  # the same row again: not an update (its consents still are checked)
            values["b_id"] = found.id
            updates.append(values)
    if inserts:
        conn.execute(insert(candidate_t), inserts)
    if updates:
        conn.execute(update(candidate_t).where(candidate_t.c.id == bindparam("b_id")), updates)
    counts.inserted += len(inserts)
    counts.updated += len(updates)
    _upsert_consents(conn, [r for _, _, r in pending if r.external_ref in ids], ids, counts)


# The columns an import writes, apart from updated_at: a row equal in all of them is unchanged.
_COMPARED = (
    "external_ref",
    "country",
    "status",
    "first_name",
    "last_name",
    "email",
    "phone",
    "city",
    "applied_at",
    "decided_at",
    "last_activity_at",
)


def _candidate_values(record: CandidateRecord, now: datetime) -> dict[str, Any]:
    return {
        "external_ref": record.external_ref,
        "country": record.country,
        "status": record.status.value,
        "first_name": record.first_name,
        "last_name": record.last_name,
        "email": record.email,
        "phone": record.phone,
        "city": record.city,
        "applied_at": record.applied_at,
        "decided_at": record.decided_at,
        "last_activity_at": record.last_activity_at,
        "updated_at": now,
    }


def _upsert_consents(
    conn: Connection,
    records: Sequence[CandidateRecord],
    ids: Mapping[str, uuid.UUID],
    counts: _Counts,
) -> None:
    wanted = [(ids[r.external_ref], r) for r in records if r.consent_given_at is not None]
    if not wanted:
        return
    have = {
        (row.candidate_id, row.given_at): row
        for row in conn.execute(
            select(
                consent_t.c.id,
                consent_t.c.candidate_id,
                consent_t.c.given_at,
                consent_t.c.expires_at,
            )
            .where(consent_t.c.candidate_id.in_([cid for cid, _ in wanted]))
            .where(consent_t.c.purpose == TALENT_POOL)
        )
    }
    inserts, updates = [], []
    for cid, record in wanted:
        found = have.get((cid, record.consent_given_at))
        if found is None:
            inserts.append(
                {
                    "candidate_id": cid,
                    "purpose": TALENT_POOL,
                    "notice_version": IMPORT_NOTICE,
                    "channel": IMPORT_CHANNEL,
                    "given_at": record.consent_given_at,
                    "expires_at": record.consent_expires_at,
                    "withdrawn_at": None,
                }
            )
        elif found.expires_at != record.consent_expires_at:
            updates.append({"b_id": found.id, "expires_at": record.consent_expires_at})
    if inserts:
        conn.execute(insert(consent_t), inserts)
    if updates:
        conn.execute(
            update(consent_t)
            .where(consent_t.c.id == bindparam("b_id"))
            .values(expires_at=bindparam("expires_at")),
            updates,
        )
    counts.consents_added += len(inserts)
    counts.consents_updated += len(updates)


# --- the rejects file ----------------------------------------------------------------------------


def _refuse_taken(rejects_path: Path, source: Path) -> None:
    """Refuse a rejects path that is the input (by resolved path or inode) or exists at all."""
    same = rejects_path.resolve() == source.resolve()
    if not same and rejects_path.exists():
        same = os.path.samefile(rejects_path, source)
    if same:
        raise BadInput(f"{rejects_path} is the file being imported: pass another --rejects")
    if os.path.lexists(rejects_path):
        raise BadInput(f"{rejects_path} already exists: remove it or pass another --rejects")


class _Rejects:
    """Rejected rows, written to a temporary file and moved into place only after the commit."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        self._fh: io.TextIOWrapper | None = None
        self._writer: Any = None

    def add(self, line: int, reason: str, raw: RawRow) -> None:
        if self._writer is None:
            try:
                fd = os.open(self._tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            except OSError as exc:
                raise BadInput(
                    f"cannot write the rejects file {self.path} ({exc.strerror}): pass --rejects"
                ) from None
            self._fh = open(fd, "w", encoding="utf-8", newline="")  # noqa: SIM115
            self._writer = csv.writer(self._fh)
            self._writer.writerow(["line", "reason", *COLUMNS])
        self._writer.writerow([line, reason, *(_defuse(raw.get(c)) for c in COLUMNS)])

    def commit(self) -> None:
        if self._fh is not None:
            self._fh.close()
            try:  # link, not replace: a file that appeared meanwhile is not overwritten
                os.link(self._tmp, self.path)
            except FileExistsError:
                self.path = self._tmp  # the rows are committed: keep their rejects under this name
                return
            self._tmp.unlink()

    def discard(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._tmp.unlink(missing_ok=True)


def _defuse(value: str | None) -> str:
    # OWASP CSV injection advice: a cell starting like a formula gets a leading apostrophe.
    text = "" if value is None else str(value)
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
