"""Shared set-up for the access tests: principals with grants and a few candidates, for real.

Not a test module: the access, gateway, consent and CLI tests build the same small world (an admin
and a DPO from the bootstrap, a recruiter scoped to NL, candidates in NL, DE and a blocked one in
NL) through the engine's own functions, so no test depends on hand-written rows for access.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func, select

from audit_log.schema import audit_entry
from retention.access import Role, grants, principals
from retention.install import Installation, bootstrap_principals
from retention.store import Application, Candidate, Consent, Document, transaction
from retention.testing import FixedClock


@dataclass
class World:
    installation: Installation
    clock: FixedClock
    admin: principals.IssuedToken
    dpo: principals.IssuedToken
    recruiter: principals.IssuedToken
    recruiter_grant: uuid.UUID
    nl: uuid.UUID
    de: uuid.UUID
    blocked: uuid.UUID

    @property
    def engine(self) -> Engine:
        return self.installation.engine


def add_candidate(engine: Engine, country: str, at: datetime, **fields: Any) -> uuid.UUID:
    cid = uuid.uuid4()
    values = {
        "id": cid,
        "country": country,
        "status": "in_process",
        "first_name": "Ana",
        "last_name": "Pop",
        "email": f"ana.{cid.hex[:8]}@example.org",
        "phone": "+40 721 000 111",
        "city": "Cluj",
        "applied_at": at,
        "last_activity_at": at,
        "created_at": at,
        "updated_at": at,
        **fields,
    }
    with transaction(engine) as conn:
        conn.execute(Candidate.__table__.insert().values(**values))
        conn.execute(
            Application.__table__.insert().values(
                candidate_id=cid, position="Engineer", status="in_process", applied_at=at
            )
        )
        conn.execute(
            Consent.__table__.insert().values(
                candidate_id=cid,
                purpose="talent_pool",
                notice_version="v1",
                channel="web form",
                given_at=at,
            )
        )
        conn.execute(
            Document.__table__.insert().values(
                id=uuid.uuid4(),
                candidate_id=cid,
                kind="cv",
                media_type="application/pdf",
                sha256="ab" * 32,
                size=3,
                created_at=at,
            )
        )
    return cid


def create_enrolled(
    engine: Engine, creator: uuid.UUID, name: str, clock: FixedClock, kind: str = "human"
) -> principals.IssuedToken:
    """Create a principal as `creator` and redeem its enrollment code, as the person would."""
    created = principals.create_principal(engine, creator, name, kind, clock=clock)
    return principals.enroll(engine, created.code, clock=clock)


def build_world(installation: Installation, clock: FixedClock) -> World:
    issued = bootstrap_principals(installation, clock=clock)
    admin, dpo = issued[Role.ADMIN], issued[Role.DPO]
    engine = installation.engine
    recruiter = create_enrolled(engine, admin.principal_id, "rita", clock)
    grant = grants.grant_access(
        engine, admin.principal_id, "rita", "recruiter", "NL", "30d", "NL hiring", clock=clock
    )
    grants.approve_grant(engine, dpo.principal_id, str(grant.id), clock=clock)
    at = clock()
    return World(
        installation=installation,
        clock=clock,
        admin=admin,
        dpo=dpo,
        recruiter=recruiter,
        recruiter_grant=grant.id,
        nl=add_candidate(engine, "NL", at),
        de=add_candidate(engine, "DE", at),
        blocked=add_candidate(engine, "NL", at, blocked_at=at),
    )


def audit_rows(engine: Engine, **where: Any) -> list[Any]:
    """Audit entries (seq order), optionally filtered by actor/action/subject/outcome."""
    t = audit_entry.c
    query = select(t.seq, t.actor, t.action, t.subject, t.outcome, t.canonical)
    for key, value in where.items():
        query = query.where(getattr(t, key) == value)
    with engine.connect() as conn:
        return list(conn.execute(query.order_by(t.seq)).all())


def audit_count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(audit_entry)).scalar_one())


def snapshot(engine: Engine) -> dict[str, list[Any]]:
    """Every row of the data tables (not the audit log), to assert that nothing changed."""
    from retention.store import Grant, Principal, Token

    out: dict[str, list[Any]] = {}
    with engine.connect() as conn:
        for model in (Candidate, Application, Consent, Document, Principal, Token, Grant):
            table = model.__table__
            rows = conn.execute(select(table).order_by(*table.primary_key.columns)).all()
            out[table.name] = [tuple(r) for r in rows]
    return out
