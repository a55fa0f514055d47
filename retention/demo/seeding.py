"""Seeding: demo candidates added to an installation in one transaction, files included.

`gdpr demo seed` and `gdpr demo` call `seed_candidates`: it generates rows
(`retention.demo.synthetic`), writes the CV files to the document store and the rows through
the bulk path (`retention.store.bulk_load`), all or nothing: the files are staged and enter the
store only after the commit, so after any failure (Ctrl-C or kill included) none remains. For
large counts, child processes generate the next chunks while this one writes (they are started
with `spawn`, so scripts calling this need the usual `if __name__ == "__main__":` guard).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import Connection, Engine, select

from retention.access import Permission, PrincipalView, check_permission
from retention.clock import Clock, as_utc, utc_now
from retention.demo.synthetic import (
    DEFAULT_DOCUMENT_FRACTION,
    external_ref_prefix,
    generate_batches,
)
from retention.errors import BadInput
from retention.install import Installation
from retention.logs import get_logger
from retention.store import (
    Candidate,
    bulk_insert,
    bulk_load_settings,
    recover_staged,
    staged_files,
    table_of,
    transaction,
)

__all__ = [
    "DEFAULT_DOCUMENT_FRACTION",
    "PARALLEL_FROM",
    "Progress",
    "SeedDemo",
    "SeedReport",
    "default_workers",
    "seed_candidates",
    "seed_demo",
]

log = get_logger(__name__)

PARALLEL_FROM = 100_000  # below this, starting generator processes costs more than it saves
Progress = Callable[[int], None]


@dataclass(frozen=True)
class SeedReport:
    candidates: int
    applications: int
    consents: int
    documents: int
    document_bytes: int
    seed: int
    now: datetime


@dataclass(frozen=True)
class SeedDemo:
    """`count` candidates from `seed`; `document_fraction` of them get a CV file."""

    count: int
    seed: int = 0
    document_fraction: float = DEFAULT_DOCUMENT_FRACTION


def seed_demo(
    installation: Installation,
    principal: PrincipalView,
    request: SeedDemo,
    *,
    progress: Progress | None = None,
    clock: Clock = utc_now,
) -> SeedReport:
    """`gdpr demo seed`: add demo candidates to an installation, as a principal holding
    candidate:write in every country (a denial is audited)."""
    check_permission(
        installation.engine,
        principal.id,
        Permission.CANDIDATE_WRITE,
        action="candidate.seed",
        at=clock(),
    )
    return seed_candidates(
        installation.engine,
        installation.config.documents_dir,
        request.count,
        seed=request.seed,
        now=clock(),
        document_fraction=request.document_fraction,
        progress=progress,
    )


def seed_candidates(
    engine: Engine,
    documents_dir: Path,
    count: int,
    *,
    seed: int = 0,
    now: datetime | None = None,
    document_fraction: float = DEFAULT_DOCUMENT_FRACTION,
    workers: int | None = None,
    progress: Progress | None = None,
) -> SeedReport:
    """Add `count` demo candidates in one transaction; nothing remains if it fails midway.

    Refuses a seed whose candidates are already in the database (their external references
    would collide): use another seed. `workers` child processes generate rows while this one
    writes (default: automatic, none for small counts where starting them costs more).
    """
    now = as_utc(now or utc_now())
    if workers is None:
        workers = default_workers(count)
    totals = {"candidates": 0, "applications": 0, "consents": 0, "documents": 0, "bytes": 0}
    recover_staged(engine, documents_dir)
    # Files are staged and move into the store only after the commit (retention.store.staged_files).
    with (
        staged_files(documents_dir) as staged,
        transaction(engine) as conn,
        bulk_load_settings(conn),
    ):
        _refuse_existing_seed(conn, seed)
        for batch in generate_batches(
            count, seed=seed, now=now, document_fraction=document_fraction, workers=workers
        ):
            for name, content in batch.files:
                staged.write(name, content)
            for table, columns, rows in batch.rows():
                bulk_insert(conn, table, columns, rows)
            totals["candidates"] += len(batch.candidates)
            totals["applications"] += len(batch.applications)
            totals["consents"] += len(batch.consents)
            totals["documents"] += len(batch.documents)
            totals["bytes"] += sum(len(content) for _, content in batch.files)
            if progress is not None:
                progress(len(batch.candidates))
    log.info("demo.seeded", seed=seed, **totals)
    return SeedReport(
        candidates=totals["candidates"],
        applications=totals["applications"],
        consents=totals["consents"],
        documents=totals["documents"],
        document_bytes=totals["bytes"],
        seed=seed,
        now=now,
    )


def default_workers(count: int) -> int:
    """Generator processes for `count` candidates: none below PARALLEL_FROM, else cores - 1."""
    if count < PARALLEL_FROM:
        return 0
    return max(1, min(4, (os.cpu_count() or 1) - 1))


def _refuse_existing_seed(conn: Connection, seed: int) -> None:
    ref = table_of(Candidate).c.external_ref
    first = conn.execute(select(ref).where(ref == f"{external_ref_prefix(seed)}0")).first()
    if first is not None:
        raise BadInput(
            f"demo candidates of seed {seed} are already in the database: pass another --seed"
        )
