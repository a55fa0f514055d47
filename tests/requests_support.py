"""Shared set-up for the request tests: the access world on a Bucharest controller with the RO
calendar, a second DPO (for four eyes), the signing key, and a document file for a candidate."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from retention.access import PrincipalView, grants
from retention.access.principals import IssuedToken
from retention.audit import log as auditing
from retention.config import Integration, IntegrationKind, RequestSettings
from retention.install import Installation
from retention.store import Document
from retention.testing import FixedClock
from tests.access_support import World, build_world, create_enrolled


def view(issued: IssuedToken) -> PrincipalView:
    return PrincipalView(issued.principal_id, issued.name)


@dataclass
class RequestWorld:
    world: World
    installation: Installation
    dpo: PrincipalView
    dpo2: PrincipalView
    recruiter: PrincipalView
    dpo2_token: str = ""


def build_request_world(installation: Installation, clock: FixedClock) -> RequestWorld:
    config = dataclasses.replace(
        installation.config,
        timezone="Europe/Bucharest",
        requests=RequestSettings(calendar="RO", processors=("Acme ATS (hosting)",)),
        integrations=(
            Integration("workday", IntegrationKind.STANDARD_WEBHOOKS, Path("/nonexistent")),
        ),
    )
    inst = Installation(config, installation.engine)
    auditing.create_signing_key(inst)
    world = build_world(inst, clock)
    engine = inst.engine
    dora = create_enrolled(engine, world.admin.principal_id, "dora", clock)
    grant = grants.grant_access(
        engine, world.admin.principal_id, "dora", "dpo", "NL,DE", "30d", "second DPO", clock=clock
    )
    grants.approve_grant(engine, world.dpo.principal_id, str(grant.id), clock=clock)
    with engine.connect() as conn:
        doc = conn.execute(select(Document.id).where(Document.candidate_id == world.nl)).scalar()
    (config.documents_dir / str(doc)).write_bytes(b"%PDF")
    return RequestWorld(
        world, inst, view(world.dpo), view(dora), view(world.recruiter), dpo2_token=dora.token
    )
