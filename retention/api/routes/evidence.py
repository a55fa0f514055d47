"""`/v1/evidence`: evidence packs for auditors, exported in the background, as `gdpr evidence
export --zip` writes them.

Starting an export is authorized at once (evidence:export for the country, or every country; a
denial is audited) and answers 202 with the job; the export then runs in a thread of the server
(its `evidence.export` entry and the checkpoint it signs are the CLI's) and records its outcome
under the data directory, so a poll from any worker process of the host finds it. The download
is audited (`evidence.download`, with the pack's SHA-256) before the first byte is sent.
"""

from __future__ import annotations

import base64
import uuid
from datetime import date, datetime
from typing import Self

from fastapi import APIRouter, Request, Response, status
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator

from retention.api.auth import PrincipalDep
from retention.api.background import BackgroundDep, background_lifespan
from retention.api.problems import ProblemKind, problems
from retention.api.state import ClockDep, InstallationDep
from retention.countries import country_code
from retention.operations import (
    DownloadEvidence,
    ExportJob,
    ShowEvidenceExport,
    StartEvidenceExport,
    download_evidence,
    evidence_export_job,
    start_evidence_export,
)

__all__ = ["ExportJobOut", "ExportStart", "router"]

router = APIRouter(prefix="/evidence", tags=["evidence"], lifespan=background_lifespan)

ZIP = "application/zip"


class ExportStart(BaseModel):
    """The period's first and last day, inclusive, in the installation's timezone."""

    model_config = ConfigDict(extra="forbid", populate_by_name=False)

    start: date = Field(alias="from", description="First day (YYYY-MM-DD)")
    end: date = Field(alias="to", description="Last day, inclusive")
    country: str | None = Field(default=None, min_length=2, max_length=2)

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.end < self.start:
            raise ValueError("'to' is before 'from'")
        return self


class ExportJobOut(BaseModel):
    """An export: running, then done (download the pack) or failed (with the reason)."""

    id: uuid.UUID
    status: str = Field(description="running, done or failed")
    requested_by: uuid.UUID
    start: date = Field(description="First day of the period")
    end: date = Field(description="Last day of the period")
    country: str | None
    created_at: datetime
    finished_at: datetime | None
    size: int | None = Field(description="Bytes of the .zip, once done")
    sha256: str | None = Field(description="Hex SHA-256 of the .zip, once done")
    fingerprint: str | None = Field(description="Give it to the auditor on another channel")
    verifier_key: str | None
    error: str | None

    @classmethod
    def of(cls, job: ExportJob) -> Self:
        return cls(
            id=job.id,
            status=job.status.value,
            requested_by=job.requested_by,
            start=job.start,
            end=job.end,
            country=job.country,
            created_at=job.created_at,
            finished_at=job.finished_at,
            size=job.size,
            sha256=job.sha256,
            fingerprint=job.fingerprint,
            verifier_key=job.verifier_key,
            error=job.error,
        )


@router.post(
    "/exports",
    operation_id="startEvidenceExport",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Start exporting the evidence pack of a period (evidence:export; audited)",
    responses={
        **problems(ProblemKind.BAD_REQUEST, ProblemKind.FORBIDDEN, ProblemKind.UNAVAILABLE),
        202: {
            "description": "Started; poll the job at the Location header",
            "links": {
                "GetExport": {
                    "operationId": "getEvidenceExport",
                    "parameters": {"job_id": "$response.body#/id"},
                },
                "DownloadPack": {
                    "operationId": "downloadEvidencePack",
                    "parameters": {"job_id": "$response.body#/id"},
                },
            },
        },
    },
)
def post_export(
    body: ExportStart,
    request: Request,
    response: Response,
    installation: InstallationDep,
    principal: PrincipalDep,
    clock: ClockDep,
    background: BackgroundDep,
) -> ExportJobOut:
    country = None if body.country is None else country_code(body.country, "country")
    start = StartEvidenceExport(body.start, body.end, country)
    started = start_evidence_export(installation, principal, start, clock=clock)
    background.start(started.run, name=f"evidence-{started.job.id}")
    response.headers["Location"] = f"{request.url.path}/{started.job.id}"
    return ExportJobOut.of(started.job)


@router.get(
    "/exports/{job_id}",
    operation_id="getEvidenceExport",
    summary="Poll an export (evidence:export)",
    responses=problems(ProblemKind.FORBIDDEN, ProblemKind.NOT_FOUND),
)
def get_export(
    job_id: uuid.UUID, installation: InstallationDep, principal: PrincipalDep, clock: ClockDep
) -> ExportJobOut:
    job = evidence_export_job(installation, principal, ShowEvidenceExport(job_id), clock=clock)
    return ExportJobOut.of(job)


@router.get(
    "/exports/{job_id}/pack",
    operation_id="downloadEvidencePack",
    response_class=FileResponse,
    summary="Download the finished pack as a .zip (evidence:export; audited)",
    responses={
        **problems(ProblemKind.FORBIDDEN, ProblemKind.NOT_FOUND, ProblemKind.CONFLICT),
        200: {
            "content": {ZIP: {"schema": {"type": "string", "format": "binary"}}},
            "description": "The signed, self-verifying pack (`gdpr evidence verify` checks it)",
        },
    },
)
def get_pack(
    job_id: uuid.UUID, installation: InstallationDep, principal: PrincipalDep, clock: ClockDep
) -> FileResponse:
    """409 while the export runs or after it failed."""
    pack = download_evidence(installation, principal, DownloadEvidence(job_id), clock=clock)
    digest = base64.b64encode(bytes.fromhex(pack.sha256)).decode()
    return FileResponse(
        pack.path,
        media_type=ZIP,
        filename=pack.filename,
        headers={"Repr-Digest": f"sha-256=:{digest}:"},
    )
