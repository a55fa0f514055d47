"""Evidence packs as a front end asks for them: export a period (evidence:export), verify a pack.

The export authorizes inside the transaction that seals the period (the same transaction appends
the `evidence.export` entry and signs the checkpoint covering it), so a denial is audited and
nothing is sealed, signed or written. Verification is pure: it reads a pack and a key, needs no
database and no principal.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy import Connection

from audit_log import Event
from retention.access import (
    Decision,
    Permission,
    PrincipalView,
    check_permission,
    guarded,
    require,
)
from retention.clock import Clock, utc_now
from retention.errors import BadInput, CheckFailed, EngineError, NotFound
from retention.evidence import (
    EXPORT_ACTION,
    INTERRUPTED,
    ExportJob,
    ExportRequest,
    ExportResult,
    JobStatus,
    PackReport,
    create_job,
    expired_jobs,
    export_pack,
    file_sha256,
    interrupted,
    job_dir,
    load_job,
    load_signer,
    policy_texts,
    remove_job,
    save_job,
    this_process,
    verify_path,
)
from retention.install import Installation, load_installation_policies
from retention.logs import get_logger
from retention.store import record

__all__ = [
    "DOWNLOAD_ACTION",
    "DownloadEvidence",
    "EvidenceDownload",
    "ExportEvidence",
    "ExportJob",
    "ShowEvidenceExport",
    "StartEvidenceExport",
    "StartedEvidenceExport",
    "VerifyEvidence",
    "download_evidence",
    "evidence_export_job",
    "export_evidence",
    "start_evidence_export",
    "verify_evidence",
]

DOWNLOAD_ACTION = "evidence.download"

log = get_logger("retention.evidence")


@dataclass(frozen=True)
class ExportEvidence:
    """The period's first and last day (inclusive, installation timezone), where the pack goes."""

    start: date
    end: date
    out: Path
    country: str | None = None
    zip: bool = False


@dataclass(frozen=True)
class VerifyEvidence:
    """A pack folder or .zip, and the verifier key file obtained on another channel (if any)."""

    pack: Path
    key_file: Path | None = None


def export_evidence(
    installation: Installation,
    principal: PrincipalView,
    request: ExportEvidence,
    *,
    clock: Clock = utc_now,
    progress: Callable[[int], None] | None = None,
) -> ExportResult:
    """Write the signed, self-verifying evidence pack of the period (see `retention.evidence`)."""
    policy_set = load_installation_policies(installation.config)

    def authorize(conn: Connection) -> Decision:
        return require(
            conn,
            principal.id,
            Permission.EVIDENCE_EXPORT,
            at=clock(),
            action=EXPORT_ACTION,
            country=request.country,
        )

    return export_pack(
        installation,
        ExportRequest(
            start=request.start,
            end=request.end,
            out=request.out,
            actor=str(principal.id),
            country=request.country,
            zip=request.zip,
        ),
        signer=load_signer(installation),
        policies=policy_texts(policy_set),
        policy_set=policy_set,
        clock=clock,
        progress=progress,
        authorize=authorize,
        unit=guarded,
    )


def verify_evidence(request: VerifyEvidence) -> PackReport:
    """Verify a pack offline, against the given key file or else the pack's own key."""
    key = None
    if request.key_file is not None:
        try:
            key = request.key_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise BadInput(f"cannot read key file {request.key_file} ({exc})") from None
    return verify_path(request.pack, key)


# --- exports in the background (the HTTP API): start, poll, download -------------------------


@dataclass(frozen=True)
class StartEvidenceExport:
    """The period's first and last day (inclusive, installation timezone), one country or all."""

    start: date
    end: date
    country: str | None = None


@dataclass(frozen=True)
class StartedEvidenceExport:
    """A recorded job, authorized, ready to work: call `run()` once, in the thread that is to
    write the pack; it returns the job's final record (done, or failed with the reason)."""

    job: ExportJob
    run: Callable[[], ExportJob]


@dataclass(frozen=True)
class ShowEvidenceExport:
    job_id: uuid.UUID


@dataclass(frozen=True)
class DownloadEvidence:
    job_id: uuid.UUID


@dataclass(frozen=True)
class EvidenceDownload:
    """The finished pack to send, as the audit entry of its download describes it."""

    path: Path
    filename: str
    size: int
    sha256: str


def start_evidence_export(
    installation: Installation,
    principal: PrincipalView,
    request: StartEvidenceExport,
    *,
    clock: Clock = utc_now,
) -> StartedEvidenceExport:
    """Authorize evidence:export now (a denial is audited), record the job, and return the
    export to run: the pack goes into the job's folder as a .zip (see `retention.evidence.jobs`)."""
    if request.end < request.start:
        raise BadInput("the period ends before it starts: 'from' must be on or before 'to'")
    config = installation.config
    check_permission(
        installation.engine,
        principal.id,
        Permission.EVIDENCE_EXPORT,
        action=EXPORT_ACTION,
        country=request.country,
        at=clock(),
    )
    load_signer(installation)  # no signing key: say so now, not in a failed job
    _prune_exports(installation, clock())
    host, pid = this_process()
    job = create_job(
        config,
        ExportJob(
            id=uuid.uuid4(),
            status=JobStatus.RUNNING,
            requested_by=principal.id,
            start=request.start,
            end=request.end,
            country=request.country,
            created_at=clock(),
            owner_host=host,
            owner_pid=pid,
        ),
    )

    def run() -> ExportJob:
        folder = job_dir(config, job.id)
        export = ExportEvidence(
            request.start, request.end, folder / "pack", country=request.country, zip=True
        )
        try:
            result = export_evidence(installation, principal, export, clock=clock)
            path = result.path
            final = dataclasses.replace(
                job,
                status=JobStatus.DONE,
                finished_at=clock(),
                pack=str(path.relative_to(folder)),
                size=path.stat().st_size,
                sha256=file_sha256(path),
                fingerprint=result.fingerprint,
                verifier_key=result.verifier_key,
                owner_host=None,
                owner_pid=None,
            )
        except EngineError as exc:
            final = dataclasses.replace(
                job,
                status=JobStatus.FAILED,
                finished_at=clock(),
                error=exc.message,
                owner_host=None,
                owner_pid=None,
            )
        except Exception as exc:  # driver messages may quote data: the type only
            log.error("evidence.job_failed", job=str(job.id), error=type(exc).__name__)
            final = dataclasses.replace(
                job,
                status=JobStatus.FAILED,
                finished_at=clock(),
                error=f"internal error ({type(exc).__name__})",
                owner_host=None,
                owner_pid=None,
            )
        return save_job(config, final)

    return StartedEvidenceExport(job, run)


def _prune_exports(installation: Installation, now: datetime) -> None:
    """Delete finished jobs past `[api] keep_exports_days`, with their packs: a pack is a copy
    of what the log and a new export give again, and a folder that only grows fills the disk."""
    config = installation.config
    keep = timedelta(days=config.api.keep_exports_days)
    removed = 0
    for job in expired_jobs(config, now, keep):
        remove_job(config, job.id)
        removed += 1
    if removed:
        log.info("evidence.exports_pruned", count=removed)


def _job_or_none(installation: Installation, job_id: uuid.UUID, now: datetime) -> ExportJob | None:
    """The job's record; a job whose process is gone is recorded as failed, once."""
    try:
        job = load_job(installation.config, job_id)
    except NotFound:
        return None
    if interrupted(job, now):
        job = save_job(
            installation.config,
            dataclasses.replace(
                job,
                status=JobStatus.FAILED,
                finished_at=now,
                error=INTERRUPTED,
                owner_host=None,
                owner_pid=None,
            ),
        )
        log.warning("evidence.job_interrupted", job=str(job.id))
    return job


def evidence_export_job(
    installation: Installation,
    principal: PrincipalView,
    request: ShowEvidenceExport,
    *,
    clock: Clock = utc_now,
) -> ExportJob:
    """A job's record (evidence:export for the job's country, every country if unknown)."""
    job = _job_or_none(installation, request.job_id, clock())
    check_permission(
        installation.engine,
        principal.id,
        Permission.EVIDENCE_EXPORT,
        action="evidence.job",
        country=None if job is None else job.country,
        at=clock(),
    )
    if job is None:
        raise NotFound(f"no evidence export {request.job_id}")
    return job


def download_evidence(
    installation: Installation,
    principal: PrincipalView,
    request: DownloadEvidence,
    *,
    clock: Clock = utc_now,
) -> EvidenceDownload:
    """Authorize, and record the download (`evidence.download`, with the pack's SHA-256) before
    the pack is sent; 409 (CheckFailed) while the job runs or after it failed."""
    job = _job_or_none(installation, request.job_id, clock())

    def work(conn: Connection) -> EvidenceDownload:
        require(
            conn,
            principal.id,
            Permission.EVIDENCE_EXPORT,
            at=clock(),
            action=DOWNLOAD_ACTION,
            country=None if job is None else job.country,
        )
        if job is None:
            raise NotFound(f"no evidence export {request.job_id}")
        if job.status is JobStatus.RUNNING:
            raise CheckFailed(f"evidence export {job.id} is still running: poll it, then download")
        if job.status is JobStatus.FAILED or job.pack is None or job.sha256 is None:
            raise CheckFailed(f"evidence export {job.id} failed: {job.error}")
        path = job_dir(installation.config, job.id) / job.pack
        download = EvidenceDownload(path, path.name, job.size or 0, job.sha256)
        event = Event(
            actor=str(principal.id),
            action=DOWNLOAD_ACTION,
            details={
                "job": str(job.id),
                "from": job.start.isoformat(),
                "to": job.end.isoformat(),
                "country": job.country,
                "sha256": job.sha256,
                "size": job.size,
            },
        )
        record(conn, event, at=clock())
        return download

    return guarded(installation.engine, work)
