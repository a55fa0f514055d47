"""Records coming in as a service operation: importing an ATS export as an authorized principal.

The import needs candidate:write everywhere; the decision is taken inside the import's own
transaction and recorded, with the import's counts, in the same `candidate.import` entry, so the
rows and the record of who brought them in commit together (and a denial commits alone).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import Connection

from audit_log import Event
from retention.access import Permission, PrincipalView, require
from retention.clock import Clock, utc_now
from retention.install import Installation
from retention.intake import ImportReport
from retention.intake import import_candidates as import_file

__all__ = ["ImportCandidates", "ImportReport", "import_candidates"]

_ACTION = "candidate.import"


@dataclass(frozen=True)
class ImportCandidates:
    file: Path
    rejects: Path | None = None  # default: FILE.rejects.csv beside the input


def import_candidates(
    installation: Installation,
    principal: PrincipalView,
    request: ImportCandidates,
    *,
    clock: Clock = utc_now,
    on_batch: Callable[[int], None] | None = None,
) -> ImportReport:
    """Upsert the valid rows of an export by external_ref; rejected rows go to the rejects file.

    Rejected rows are in the report, not an error: the front end decides what they mean.
    """

    def authorize(conn: Connection, at: datetime) -> Event:
        decision = require(conn, principal.id, Permission.CANDIDATE_WRITE, at=at, action=_ACTION)
        return Event(
            actor=str(principal.id), action=_ACTION, details={"allowed_by": str(decision.grant_id)}
        )

    return import_file(
        installation.engine,
        request.file,
        rejects_path=request.rejects,
        now=clock(),
        on_batch=on_batch,
        authorize=authorize,
    )
