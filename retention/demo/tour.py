"""`gdpr demo`: the whole product working end to end on a fresh installation.

It creates an installation in its own data directory, fills it with seeded candidates and
summarizes what is there. Later capabilities (sweep, audit verification, evidence) add their
steps through `DemoStep`, so the demo always shows everything the engine does. A directory is
marked as made by the demo, and only such a directory is ever wiped (`fresh=True`): the demo must
never be a way to delete a real installation.
"""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, and_, func, or_, select, text

from retention.access import Role, find_principal_by_name
from retention.audit import log as auditing
from retention.clock import Clock, as_utc, utc_now
from retention.config import Config
from retention.demo.access import run_access_demo
from retention.demo.evidence import demo_step as evidence_step
from retention.demo.seeding import Progress, SeedReport, seed_candidates
from retention.demo.steps import DemoStep, StepReport
from retention.demo.sweep import sweep_step
from retention.errors import CheckFailed, InstallationError
from retention.install import MARKER, InitStep, Installation, initialize
from retention.operations import BootstrapPrincipal, InitRecorder
from retention.store import Application, Candidate, Consent, Document, connect, migrate, table_of

__all__ = [
    "DEMO_MARKER",
    "DemoRequest",
    "DemoStep",
    "DemoSummary",
    "InventorySummary",
    "StepReport",
    "demo",
    "inventory",
    "run_demo",
]

DEMO_MARKER = ".gdpr-demo"
DEFAULT_CANDIDATES = 10_000


@dataclass(frozen=True)
class InventorySummary:
    """What an installation holds, in counts only (no personal data)."""

    candidates: int
    by_country: dict[str, int]
    by_status: dict[str, int]
    applications: int
    consents_active: int
    consents_expired: int
    consents_withdrawn: int
    documents: int
    document_bytes: int


@dataclass(frozen=True)
class DemoSummary:
    data_dir: str
    seed: SeedReport
    inventory: InventorySummary
    notes: list[str] = field(default_factory=list)
    steps: dict[str, Any] = field(default_factory=dict)
    verifier_key: str | None = None
    principals: tuple[BootstrapPrincipal, ...] = ()

    def to_json(self) -> dict[str, Any]:
        # `notes` are display lines of the same facts as `steps`, `verifier_key`, `principals`.
        inv = self.inventory
        return {
            "data_dir": self.data_dir,
            "seed": self.seed,
            "candidates": inv.candidates,
            "by_country": inv.by_country,
            "by_status": inv.by_status,
            "applications": inv.applications,
            "consents": {
                "active": inv.consents_active,
                "expired": inv.consents_expired,
                "withdrawn": inv.consents_withdrawn,
            },
            "documents": inv.documents,
            "document_bytes": inv.document_bytes,
            "verifier_key": self.verifier_key,
            "principals": list(self.principals),
            "steps": self.steps,
        }


@dataclass(frozen=True)
class DemoRequest:
    candidates: int = DEFAULT_CANDIDATES
    seed: int = 0
    fresh: bool = False


def demo(
    config: Config,
    request: DemoRequest,
    *,
    progress: Progress | None = None,
    clock: Clock = utc_now,
) -> DemoSummary:
    """`gdpr demo`: a fresh demo installation with the whole product shown on it.

    Needs no principal: it makes its own installation, and acts as the principals it creates.
    """
    recorder = InitRecorder(clock)
    summary = run_demo(
        config,
        candidates=request.candidates,
        seed=request.seed,
        now=clock(),
        fresh=request.fresh,
        init_steps=recorder.steps(),
        steps=product_steps(),
        progress=progress,
    )
    return dataclasses.replace(
        summary, verifier_key=recorder.verifier_key, principals=recorder.principals()
    )


def run_demo(
    config: Config,
    *,
    candidates: int = DEFAULT_CANDIDATES,
    seed: int = 0,
    now: datetime | None = None,
    fresh: bool = False,
    init_steps: Sequence[InitStep] = (),
    steps: Sequence[DemoStep] = (),
    progress: Progress | None = None,
) -> DemoSummary:
    """Create a demo installation in `config.data_dir`, seed it, run the steps, summarize."""
    now = as_utc(now or utc_now())
    _clear(config, fresh)
    installation, notes = initialize(config, steps=list(init_steps))
    (config.data_dir / DEMO_MARKER).write_text("created by gdpr demo; gdpr demo --fresh wipes it\n")
    report = seed_candidates(
        installation.engine, config.documents_dir, candidates, seed=seed, now=now, progress=progress
    )
    done: dict[str, Any] = {}
    for step in steps:
        step_report = step(installation, now)
        notes.extend(step_report.lines)
        done[step_report.name] = step_report.data
    summary = inventory(installation.engine, now)
    installation.engine.dispose()
    return DemoSummary(str(config.data_dir), report, summary, notes, done)


def _clear(config: Config, fresh: bool) -> None:
    root = config.data_dir
    if not (root / MARKER).exists():
        return
    if not (root / DEMO_MARKER).exists():
        raise InstallationError(
            f"{root} holds an installation not made by the demo: choose another --data-dir"
        )
    if not fresh:
        raise InstallationError(
            f"{root} already holds a demo: pass --fresh to recreate it, or choose another --data-dir"
        )
    if not config.is_default_sqlite:
        # The database lives elsewhere (GDPR_DATABASE_URL): empty it through the migrations.
        engine = connect(config.database_url)
        try:
            migrate.downgrade(engine, "base")
            # alembic keeps its (now empty) version table; init wants an empty database.
            with engine.begin() as conn:
                conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
        finally:
            engine.dispose()
    shutil.rmtree(root)


def inventory(engine: Engine, now: datetime) -> InventorySummary:
    """Counts per country and status, applications, consents by state and documents."""
    cand = table_of(Candidate)
    cons = table_of(Consent)
    doc = table_of(Document)
    app = table_of(Application)
    with engine.connect() as conn:
        by_country: dict[str, int] = dict(
            conn.execute(select(cand.c.country, func.count()).group_by(cand.c.country)).all()
        )
        by_status: dict[str, int] = dict(
            conn.execute(select(cand.c.status, func.count()).group_by(cand.c.status)).all()
        )
        applications = conn.execute(select(func.count()).select_from(app)).scalar_one()
        withdrawn = conn.execute(
            select(func.count()).where(cons.c.withdrawn_at.is_not(None))
        ).scalar_one()
        active = conn.execute(
            select(func.count()).where(
                and_(
                    cons.c.withdrawn_at.is_(None),
                    or_(cons.c.expires_at.is_(None), cons.c.expires_at > now),
                )
            )
        ).scalar_one()
        expired = conn.execute(
            select(func.count()).where(
                and_(cons.c.withdrawn_at.is_(None), cons.c.expires_at <= now)
            )
        ).scalar_one()
        documents, size = conn.execute(select(func.count(), func.sum(doc.c.size))).one()
    return InventorySummary(
        candidates=sum(by_country.values()),
        by_country=dict(sorted(by_country.items())),
        by_status=dict(sorted(by_status.items())),
        applications=applications,
        consents_active=active,
        consents_expired=expired,
        consents_withdrawn=withdrawn,
        documents=documents,
        document_bytes=int(size or 0),
    )


def access_step(installation: Installation, now: datetime) -> StepReport:
    """A recruiter scoped to one country reads a candidate there (allowed) and elsewhere (denied)."""
    # `gdpr init` names the bootstrap principals after their roles.
    admin = find_principal_by_name(installation.engine, Role.ADMIN.value)
    dpo = find_principal_by_name(installation.engine, Role.DPO.value)
    shown = run_access_demo(installation, admin, dpo)
    data = {
        "recruiter": shown.recruiter,
        "grant": shown.grant,
        "country": shown.country,
        "allowed_subject": shown.allowed_subject,
        "denied_subject": shown.denied_subject,
    }
    return StepReport("access", shown.lines, data)


def audit_step(installation: Installation, now: datetime) -> StepReport:
    """Sign a checkpoint of the log, then verify the whole log against it and the witness file."""
    checkpoint, _note = auditing.sign_checkpoint(installation)
    report = auditing.verify_installation(installation)
    if not report.ok:
        raise CheckFailed(f"audit log verification failed: {report.problem}")
    lines = [
        f"Signed checkpoint of {checkpoint.size:,} audit entries "
        f"(verifier key: {auditing.pubkey(installation)}).",
        f"Audit log verified: {report.size:,} entries, chain and Merkle root match "
        f"{report.checkpoints} signed and {report.witnessed} witnessed checkpoints.",
    ]
    data = {
        "checkpoint_size": checkpoint.size,
        "verified_entries": report.size,
        "checkpoints": report.checkpoints,
        "witnessed": report.witnessed,
    }
    return StepReport("audit", lines, data)


def product_steps() -> list[DemoStep]:
    """The steps after seeding that show the whole product: access, sweep, audit, evidence."""
    return [access_step, sweep_step, audit_step, evidence_step]
