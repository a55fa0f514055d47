"""`gdpr evidence export`: write a self-verifying evidence pack of one period for an auditor.

The export is itself audited: one transaction appends the `evidence.export` entry, signs a fresh
checkpoint covering it (so the checkpoint covers every entry of the period), fixes the period's
seq range and computes the inclusion and consistency proofs (`evidence_seal`); it commits before
any file is written, so a pack never shows more than the log admits. The entries are then copied
from a read snapshot that takes no write lock (`evidence_stream`), and the other tables read from
another (`evidence_sources`); the report, the instructions and the signed manifest follow. The
pack is built in a hidden folder and renamed into place only when complete and signed; the result
is verified as an auditor would (`evidence_verify`) before the export reports success.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import uuid
import zipfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine

from audit_log import Signer, append_witness, format_ts, parse_ts, sign_note
from policies import PolicySet
from retention.audit import log as auditing
from retention.clock import Clock, utc_now
from retention.errors import BadInput, CheckFailed
from retention.evidence.howto import render_instructions
from retention.evidence.pack import (
    ACTIONS_HEADER,
    RETENTION_ACTIONS,
    CsvWriter,
    FileDigest,
    HashingWriter,
    Manifest,
    PackFile,
    PackPeriod,
    fingerprint,
    pack_name,
    write_csv,
)
from retention.evidence.policies import PolicyTexts, policy_texts, write_policies
from retention.evidence.report import ReportData, render_report
from retention.evidence.seal import EXPORT_ACTION, Sealed, SealRequest, period_bounds, seal_period
from retention.evidence.sources import (
    CONSENTS_HEADER,
    GRANTS_HEADER,
    HOLDS_HEADER,
    RENEWALS_HEADER,
    REQUESTS_HEADER,
    REVIEWS_HEADER,
    Bounds,
    Due,
    Sources,
)
from retention.evidence.stream import StreamStats, copy_entries
from retention.evidence.verify import PackReport, verify_pack
from retention.install import Installation
from retention.integration import PROPAGATION_HEADER, propagation

__all__ = [
    "EXPORT_ACTION",
    "ExportRequest",
    "ExportResult",
    "PolicyTexts",
    "export_pack",
    "load_signer",
    "period_bounds",
    "policy_texts",
]


ACCESS_HEADER = ("kind", *GRANTS_HEADER, "allowed", "denied")
_FIRST_DAY = date.min + timedelta(days=1)
_LAST_DAY = date.max - timedelta(days=1)

Unit = Callable[[Engine, Callable[[Connection], Any]], Any]
"""Runs one unit of work in a transaction (e.g. access control's `guarded`)."""


@dataclass(frozen=True, slots=True)
class ExportRequest:
    """One export: dates inclusive, in the installation's timezone; an optional country."""

    start: date
    end: date
    out: Path
    actor: str
    country: str | None = None
    zip: bool = False

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise BadInput("--to is before --from: give the period's first and last day")
        # The period's bounds are midnights in the installation's zone, the last one the day
        # after --to: at the ends of the calendar they do not exist.
        if self.start < _FIRST_DAY:
            raise BadInput(f"--from must be {_FIRST_DAY} or later")
        if self.end > _LAST_DAY:
            raise BadInput(f"--to must be {_LAST_DAY} or earlier")
        if self.country is not None and (len(self.country) != 2 or not self.country.isalpha()):
            raise BadInput("--country takes an ISO 3166-1 alpha-2 code such as NL")


@dataclass(frozen=True, slots=True)
class ExportResult:
    """Where the pack went and what an operator should hand over with it."""

    path: Path
    verifier_key: str
    fingerprint: str
    period: PackPeriod
    checkpoint_size: int
    files: int
    action_rows: int
    verification: PackReport | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "verifier_key": self.verifier_key,
            "fingerprint": self.fingerprint,
            "from": self.period.start_date,
            "to": self.period.end_date,
            "country": self.period.country,
            "first_seq": self.period.first_seq,
            "last_seq": self.period.last_seq,
            "entries": self.period.entries,
            "checkpoint_size": self.checkpoint_size,
            "files": self.files,
            "action_rows": self.action_rows,
            "verified": None if self.verification is None else self.verification.ok,
        }


def load_signer(installation: Installation) -> Signer:
    """The installation's checkpoint signing key: the pack is signed with the same key."""
    return auditing.load_signer(installation.config)


def export_pack(
    installation: Installation,
    request: ExportRequest,
    *,
    signer: Signer,
    policies: PolicyTexts | None = None,
    policy_set: PolicySet | None = None,
    clock: Clock = utc_now,
    verify: bool = True,
    progress: Callable[[int], None] | None = None,
    authorize: Callable[[Connection], object] | None = None,
    unit: Unit | None = None,
) -> ExportResult:
    """Write the evidence pack of `request`'s period under `request.out`; see the module doc.

    `authorize` runs first inside the export's transaction (access control's `require`, which
    raises on a denial); `unit` runs that transaction (access control's `guarded`, which commits
    a denial before raising); by default a plain transaction. With `policy_set`, the report's
    backlog counts what is due, held and undecidable when the pack is made.
    """
    cfg = installation.config
    made = clock().astimezone(cfg.zone).date()
    name = pack_name(request.start, request.end, made)
    final = request.out / (name + ".zip" if request.zip else name)
    # lexists: a dangling symlink is a name taken too; with --zip the folder is written first.
    for taken in {final, request.out / name}:
        if os.path.lexists(taken):
            raise BadInput(f"{taken} already exists: remove it or choose another --out")
    if not request.out.parent.is_dir():
        # Only the last component is created: a typo must not build a tree at the root.
        raise BadInput(
            f"{request.out.parent} is not a directory: create it or choose another --out"
        )
    try:
        request.out.mkdir(exist_ok=True)
    except OSError as exc:
        raise BadInput(f"cannot create {request.out} ({exc.strerror})") from None
    start, end = period_bounds(request.start, request.end, cfg.zone)
    sealed = (unit or _plain_unit)(
        installation.engine,
        lambda conn: seal_period(
            conn,
            log_origin=installation.config.log_origin,
            timezone=installation.config.timezone,
            request=SealRequest(
                request.start, request.end, request.country, request.actor, request.zip
            ),
            bounds=(start, end),
            signer=signer,
            clock=clock,
            authorize=authorize,
        ),
    )
    append_witness(cfg.witness_file, sealed.checkpoint_note)
    work = request.out / f".{name}.partial-{uuid.uuid4().hex[:8]}"
    work.mkdir(mode=0o700)
    try:
        result = _write(installation, sealed, signer, policies, policy_set, work, clock, progress)
        result_path = request.out / name
        work.rename(result_path)
        report = verify_pack(result_path, str(signer.verifier)) if verify else None
        if report is not None and not report.ok:
            raise CheckFailed(
                f"the pack written to {result_path} does not verify: {report.problems[0]}"
            )
        if request.zip:
            _zip(result_path, final)
            shutil.rmtree(result_path)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return ExportResult(
        path=final,
        verifier_key=str(signer.verifier),
        fingerprint=result.fingerprint,
        period=sealed.period,
        checkpoint_size=sealed.checkpoint.size,
        files=result.files,
        action_rows=result.action_rows,
        verification=report,
    )


def _plain_unit(engine: Engine, work: Callable[[Connection], Sealed]) -> Sealed:
    with engine.begin() as conn:
        return work(conn)


@dataclass(frozen=True)
class _Written:
    fingerprint: str
    files: int
    action_rows: int


def _write(
    installation: Installation,
    sealed: Sealed,
    signer: Signer,
    policies: PolicyTexts | None,
    policy_set: PolicySet | None,
    work: Path,
    clock: Clock,
    progress: Callable[[int], None] | None,
) -> _Written:
    cfg = installation.config
    period = sealed.period
    digests: list[FileDigest] = []
    with (
        (work / PackFile.AUDIT_LOG).open("wb") as log_fh,
        (work / PackFile.ACTIONS).open("wb") as act_fh,
        auditing.read_snapshot(installation) as conn,
    ):
        log_out, act_out = HashingWriter(log_fh), HashingWriter(act_fh)
        actions = CsvWriter(act_out, ACTIONS_HEADER)
        stream = copy_entries(conn, period, cfg.zone, log_out, actions, progress)
    digests += [log_out.digest(PackFile.AUDIT_LOG), act_out.digest(PackFile.ACTIONS)]
    _check_proofs_match(sealed, stream)

    digests.append(_write_bytes(work, PackFile.CHECKPOINT, sealed.checkpoint_note.encode()))
    proofs = json.dumps(sealed.proofs, indent=2, sort_keys=True).encode() + b"\n"
    digests.append(_write_bytes(work, PackFile.PROOFS, proofs))
    key_bytes = (str(signer.verifier) + "\n").encode()
    digests.append(_write_bytes(work, PackFile.VERIFIER_KEY, key_bytes))
    fp = fingerprint(key_bytes)

    bounds = Bounds.of(parse_ts(period.start), parse_ts(period.end), period.country)
    with auditing.read_snapshot(installation) as conn:
        src = Sources(conn)
        digests.append(write_csv(work / PackFile.HOLDS, HOLDS_HEADER, list(src.holds(bounds))))
        reviews = list(src.reviews(bounds))
        digests.append(write_csv(work / PackFile.REVIEWS, REVIEWS_HEADER, reviews))
        grants = src.grants(bounds)
        consents = src.consents(bounds)
        coverage = src.coverage(bounds)
        made_at = clock()
        renewals = src.renewals(bounds, made_at)
        now = Bounds.of(made_at, made_at, period.country)
        open_reviews = src.open_reviews(now)
        if policy_set is not None:
            due = src.due(policy_set, made_at, period.country)
        else:
            due = {cc: Due(0, n, 0) for cc, n in src.held_subjects(now).items()}
        spread = propagation(conn, cfg.targets, parse_ts(period.start), parse_ts(period.end))
        requests = src.requests(bounds, cfg.zone)
        requests_overdue = src.overdue_requests(made_at, period.country)
        names = src.principal_names()
        run_hashes = src.run_policy_hashes(bounds)
        missing = list(dict.fromkeys(src.missing))
    activity = [
        (names.get(who, who), who if who in names else "", stream.allowed[who], stream.denied[who])
        for who in sorted(set(stream.allowed) | set(stream.denied))
    ]
    access_rows: list[list[object]] = [["grant", *g, "", ""] for g in grants]
    blank = [""] * (len(GRANTS_HEADER) - 2)
    access_rows += [["activity", name, pid, *blank, ok, no] for name, pid, ok, no in activity]
    digests.append(write_csv(work / PackFile.ACCESS, ACCESS_HEADER, access_rows))
    digests.append(write_csv(work / PackFile.CONSENTS, CONSENTS_HEADER, consents))
    spread_rows = [p.row() for p in spread]
    digests.append(write_csv(work / PackFile.PROPAGATION, PROPAGATION_HEADER, spread_rows))
    digests.append(write_csv(work / PackFile.REQUESTS, REQUESTS_HEADER, requests))
    digests.append(write_csv(work / PackFile.CONSENT_RENEWALS, RENEWALS_HEADER, renewals))
    referenced = stream.policy_hashes | run_hashes
    policy_files = write_policies(work, policies, referenced)
    digests += policy_files
    if policies is None:
        missing.append("policies/: no policy set was given to the export")

    data = ReportData(
        origin=cfg.log_origin,
        period=period,
        created_at=format_ts(clock()),
        fingerprint=fp,
        verifier_key=str(signer.verifier),
        checkpoint_size=sealed.checkpoint.size,
        checkpoint_root=_b64(sealed.checkpoint.root),
        consistency_from=(sealed.proofs["consistency"] or {}).get("proof", {}).get("size1"),
        policy_set_hash=policies.set_hash if policies else None,
        policy_files=tuple((d.path, d.sha256) for d in policy_files),
        referenced_policy_hashes=tuple(sorted(referenced)),
        actions_by_month=dict(stream.by_month),
        action_rows=stream.action_rows,
        backlog=_backlog(due, open_reviews, stream.errors, policy_set is not None),
        backlog_at=format_ts(made_at),
        coverage=tuple(coverage),
        consents=tuple(tuple(r) for r in consents),
        propagation=tuple(tuple(r) for r in spread_rows),
        renewals=tuple(tuple(r) for r in renewals),
        grants=tuple(tuple(g) for g in grants),
        activity=tuple((name, ok, no) for name, _, ok, no in activity),
        holds_count=_rows_in(work / PackFile.HOLDS),
        reviews_count=len(reviews),
        requests=tuple(tuple(r) for r in requests),
        requests_overdue=requests_overdue,
        missing=tuple(missing),
    )
    digests.append(_write_bytes(work, PackFile.REPORT, render_report(data).encode()))
    howto = render_instructions(origin=cfg.log_origin, fingerprint=fp, period=period)
    digests.append(_write_bytes(work, PackFile.VERIFY, howto.encode()))

    manifest = Manifest(
        origin=cfg.log_origin,
        created_at=data.created_at,
        period=period,
        checkpoint_size=sealed.checkpoint.size,
        retention_actions=RETENTION_ACTIONS,
        files=tuple(sorted(digests, key=lambda d: d.path)),
    )
    raw = manifest.to_bytes()
    (work / PackFile.MANIFEST).write_bytes(raw)
    (work / PackFile.MANIFEST_SIG).write_text(sign_note(raw.decode("ascii"), signer))
    return _Written(fp, len(digests), stream.action_rows)


def _check_proofs_match(sealed: Sealed, stream: StreamStats) -> None:
    inclusion = sealed.proofs["inclusion"]
    if inclusion is None:
        return
    for label, leaf in (("first", stream.first_leaf), ("last", stream.last_leaf)):
        if inclusion[label]["leaf_hash"] != _b64(leaf or b""):
            raise CheckFailed(f"the {label} entry of the period changed while exporting")


def _backlog(
    due: dict[str, Due],
    reviews: dict[str, tuple[int, str]],
    errors: Counter[str],
    evaluated: bool,
) -> tuple[tuple[str, int | str, int, int, int, str, int], ...]:
    """Report rows per country: due, held, undecidable, in review (oldest), actions in error."""
    rows = []
    for cc in sorted(set(due) | set(reviews) | set(errors)):
        d = due.get(cc, Due(0, 0, 0))
        n, oldest = reviews.get(cc, (0, ""))
        rows.append((cc, d.due if evaluated else "n/a", d.held, d.undecided, n, oldest, errors[cc]))
    return tuple(rows)


def _write_bytes(work: Path, name: str, data: bytes) -> FileDigest:
    (work / name).write_bytes(data)
    return FileDigest(name, hashlib.sha256(data).hexdigest(), len(data))


def _rows_in(path: Path) -> int:
    with path.open("rb") as fh:
        return max(sum(1 for _ in fh) - 1, 0)


def _zip(folder: Path, target: Path) -> None:
    tmp = target.with_name(target.name + ".partial")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for p in sorted(folder.rglob("*")):
            if p.is_file():
                zf.write(p, f"{folder.name}/{p.relative_to(folder).as_posix()}")
    tmp.rename(target)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
