"""Evidence exports that run in the background: their records under the data directory.

A front end that cannot hold a request open for a whole export (the HTTP API) records a job,
`<data_dir>/exports/<job id>/job.json`, and writes the pack as a .zip beside it. The record is
replaced atomically (write a temporary file, rename), so any request of any worker process on
the host reads either the old or the new state: running, then done (with the pack's name, size,
SHA-256, fingerprint and verifier key) or failed (with the engine's one-line message). Nothing in
a record is personal data: ids, dates, a country code, hashes, the host and process running it.

Two things keep the folder honest over months of use. A job whose process is gone (the server was
killed or restarted mid-export) would otherwise say "running" forever: `interrupted` tells it from
one still running, by the owner's host and process id, or by an age no export reaches. And packs
are kept only so long (`[api] keep_exports_days`): `expired_jobs` names the finished ones past
it, which `remove_job` deletes with their pack.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

from retention.config import Config
from retention.errors import NotFound

__all__ = [
    "ExportJob",
    "JobStatus",
    "create_job",
    "expired_jobs",
    "file_sha256",
    "interrupted",
    "job_dir",
    "load_job",
    "remove_job",
    "save_job",
    "this_process",
]

_RECORD = "job.json"
# No export of this engine runs for a day; a "running" record older than that is a lost process
# whose pid the system has since given to another.
MAX_RUNNING = timedelta(hours=24)
INTERRUPTED = "interrupted: the server stopped before the export finished; start it again"


class JobStatus(StrEnum):
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True)
class ExportJob:
    id: uuid.UUID
    status: JobStatus
    requested_by: uuid.UUID
    start: date
    end: date
    country: str | None
    created_at: datetime
    finished_at: datetime | None = None
    pack: str | None = None  # the .zip's file name in the job's folder
    size: int | None = None
    sha256: str | None = None
    fingerprint: str | None = None
    verifier_key: str | None = None
    error: str | None = None
    owner_host: str | None = None  # where the export runs, while it runs
    owner_pid: int | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            out[f.name] = value.isoformat() if isinstance(value, date) else value
            if isinstance(value, uuid.UUID):
                out[f.name] = str(value)
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ExportJob:
        def instant(v: Any) -> datetime | None:
            return None if v is None else datetime.fromisoformat(v)

        return cls(
            id=uuid.UUID(data["id"]),
            status=JobStatus(data["status"]),
            requested_by=uuid.UUID(data["requested_by"]),
            start=date.fromisoformat(data["start"]),
            end=date.fromisoformat(data["end"]),
            country=data["country"],
            created_at=datetime.fromisoformat(data["created_at"]),
            finished_at=instant(data["finished_at"]),
            pack=data["pack"],
            size=data["size"],
            sha256=data["sha256"],
            fingerprint=data["fingerprint"],
            verifier_key=data["verifier_key"],
            error=data["error"],
            owner_host=data.get("owner_host"),
            owner_pid=data.get("owner_pid"),
        )


def this_process() -> tuple[str, int]:
    """The host and process id a running job records as its owner."""
    return socket.gethostname(), os.getpid()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: no signal sent, only whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, under another user
    return True


def interrupted(job: ExportJob, now: datetime) -> bool:
    """Whether a job recorded as running will never finish: its process on this host is gone,
    or it has been "running" longer than any export takes. A job of another host sharing the
    folder is judged by its age only."""
    if job.status is not JobStatus.RUNNING:
        return False
    if now - job.created_at > MAX_RUNNING:
        return True
    host, _ = this_process()
    return job.owner_host == host and job.owner_pid is not None and not _alive(job.owner_pid)


def _exports_dir(config: Config) -> Path:
    return config.data_dir / "exports"


def job_dir(config: Config, job_id: uuid.UUID) -> Path:
    return _exports_dir(config) / str(job_id)


def save_job(config: Config, job: ExportJob) -> ExportJob:
    """Replace the job's record atomically."""
    folder = job_dir(config, job.id)
    tmp = folder / f".{_RECORD}.{uuid.uuid4().hex[:8]}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(job.to_json(), f, sort_keys=True)
    tmp.replace(folder / _RECORD)
    return job


def create_job(config: Config, job: ExportJob) -> ExportJob:
    """Make the job's folder (0700) and its first record."""
    _exports_dir(config).mkdir(mode=0o700, exist_ok=True)
    job_dir(config, job.id).mkdir(mode=0o700)
    return save_job(config, job)


def load_job(config: Config, job_id: uuid.UUID) -> ExportJob:
    try:
        text = (job_dir(config, job_id) / _RECORD).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NotFound(f"no evidence export {job_id}") from None
    return ExportJob.from_json(json.loads(text))


def expired_jobs(config: Config, now: datetime, keep: timedelta) -> Iterator[ExportJob]:
    """Finished jobs (done or failed) whose end lies more than `keep` before `now`. A folder
    without a readable record is not ours to judge and is left alone."""
    folder = _exports_dir(config)
    if not folder.is_dir():
        return
    for entry in sorted(folder.iterdir()):
        try:
            job = ExportJob.from_json(json.loads((entry / _RECORD).read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if job.status is JobStatus.RUNNING or job.finished_at is None:
            continue
        if now - job.finished_at > keep:
            yield job


def remove_job(config: Config, job_id: uuid.UUID) -> None:
    """Delete a job's folder: its record and its pack."""
    shutil.rmtree(job_dir(config, job_id), ignore_errors=True)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
