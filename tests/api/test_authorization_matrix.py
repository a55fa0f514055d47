"""Every endpoint of the app with no token, a bad token and each built-in role: the status, and
the audit entries (a denial is always on the record, tagged with the API channel and request id;
a personal-data endpoint records the allowed access too).

The endpoints are enumerated from the app itself, so a new route without a row in `SPECS` fails
`test_every_route_has_a_spec`. Each call builds its own target (a hold to release, a principal
to disable), so an allowed call never spoils the next principal's.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from retention.access import Permission, PrincipalView, Role, grants, principals
from retention.access.permissions import ROLE_PERMISSIONS
from retention.api import create_app
from retention.audit import log as auditing
from retention.evidence import ExportJob, JobStatus, create_job, file_sha256, job_dir
from retention.install import Installation
from retention.operations import RunSweep, sweep
from retention.store import transaction
from retention.sweep import lease_holder
from retention.sweep.holds import place_hold
from retention.sweep.review_queue import ReviewRequest, enqueue
from tests.access_support import World, add_candidate, create_enrolled
from tests.api.conftest import audit_entries, bearer, unlimited

P = Permission
BAD_TOKEN = "gdpr_" + "B" * 43


@dataclass
class Matrix:
    """The access world, with a principal of every built-in role, and a few targets."""

    world: World
    tokens: dict[Role, str]
    run_id: uuid.UUID
    job_id: uuid.UUID
    counter: Iterator[int]

    @property
    def engine(self) -> Any:
        return self.world.engine

    def fresh(self) -> str:
        return f"p{next(self.counter)}"

    def new_principal(self) -> uuid.UUID:
        admin = self.world.admin.principal_id
        return principals.create_principal(
            self.engine, admin, self.fresh(), "human", clock=self.world.clock
        ).principal_id

    def pending_grant(self) -> uuid.UUID:
        admin = self.world.admin.principal_id
        target = create_enrolled(self.engine, admin, self.fresh(), self.world.clock)
        grant = grants.grant_access(
            self.engine, admin, target.name, "auditor", "*", "30d", "audit", clock=self.world.clock
        )
        return grant.id


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    params: dict[str, Any] | None = None
    json: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Spec:
    make: Callable[[Matrix], Call]
    ok: int
    allowed: frozenset[Role] = frozenset()
    public: bool = False  # answers the same whoever calls (or does not authenticate)
    personal: bool = False  # personal data: the allowed access is audited too
    settle: Callable[[Matrix], None] | None = None
    ok_roles: frozenset[Role] = field(default=frozenset())


def having(*permissions: Permission, everywhere: bool = True) -> frozenset[Role]:
    """Roles with any of `permissions` (the recruiter's grant covers only NL: not everywhere)."""
    roles = {r for r, ps in ROLE_PERMISSIONS.items() if ps & set(permissions)}
    if everywhere:
        roles.discard(Role.RECRUITER)
    return frozenset(roles)


def wait_lease_free(m: Matrix) -> None:
    deadline = time.monotonic() + 60
    while lease_holder(m.world.installation, clock=m.world.clock) is not None:
        assert time.monotonic() < deadline, "the sweep did not end"
        time.sleep(0.05)
    time.sleep(0.05)  # the run's thread ends after it released the lease


def queued_review(m: Matrix) -> uuid.UUID:
    subject = add_candidate(m.engine, "NL", m.world.clock())
    with transaction(m.engine) as conn:
        request = ReviewRequest(subject, "NL", "NL", "hired", None)
        enqueue(conn, [request], at=m.world.clock(), policy_hash="h" * 64, run_id=None)
    return subject


def nl_candidate(m: Matrix) -> uuid.UUID:
    """A NL subject of its own (with a talent_pool consent), for a call that changes it."""
    return add_candidate(m.engine, "NL", m.world.clock())


CANDIDATE_WRITERS = having(P.CANDIDATE_WRITE, everywhere=False)
CONSENT_WRITERS = having(P.CONSENT_WRITE, everywhere=False)


def placed_hold(m: Matrix) -> uuid.UUID:
    with transaction(m.engine) as conn:
        hold = place_hold(
            conn, m.world.nl, case_ref=m.fresh(), reason="case", actor="dpo", clock=m.world.clock
        )
    return hold.id


def enrollment_code(m: Matrix) -> str:
    admin = m.world.admin.principal_id
    return principals.create_principal(
        m.engine, admin, m.fresh(), "human", clock=m.world.clock
    ).code


RECEIVED = "2026-11-20T10:00:00Z"
MANAGERS = having(P.REQUEST_MANAGE)


def request_row(m: Matrix, kind: str = "access", status: str = "open") -> uuid.UUID:
    """A request about a fresh NL subject, opened and (status verified) verified by someone
    else than the DPO, so that the DPO may approve it (four eyes)."""
    from datetime import UTC, datetime

    from retention.store import DataRequest

    subject = add_candidate(m.engine, "NL", m.world.clock())
    rid = uuid.uuid4()
    received = datetime(2026, 11, 20, 10, tzinfo=UTC)
    verified = status == "verified"
    with transaction(m.engine) as conn:
        conn.execute(
            DataRequest.__table__.insert().values(
                id=rid, type=kind, subject_id=subject, country="NL", channel="email",
                status=status, received_at=received, due_on=date(2026, 12, 21),
                due_at=datetime(2026, 12, 21, 22, tzinfo=UTC), opened_by=uuid.uuid4(),
                created_at=received, verified_at=received if verified else None,
                verified_by=uuid.uuid4() if verified else None,
            )
        )  # fmt: skip
    return rid


def fulfilled_restriction(m: Matrix) -> uuid.UUID:
    from retention.operations import FulfilRequest, fulfil_request

    rid = request_row(m, "restriction", "verified")
    dpo = PrincipalView(m.world.dpo.principal_id, "dpo")
    fulfil_request(m.world.installation, dpo, FulfilRequest(rid), clock=m.world.clock)
    return rid


def change(path: str, body: dict[str, Any] | None = None, **row: str) -> Spec:
    """A state change of a fresh request: allowed to whoever manages requests."""
    return Spec(
        lambda m: Call("POST", f"/v1/requests/{request_row(m, **row)}/{path}", json=body or {}),
        200,
        MANAGERS,
    )


READERS_OF_ACCESS = having(P.ACCESS_MANAGE, P.ACCESS_APPROVE, P.AUDIT_READ)
PERIOD = {"from": "2026-11-01", "to": "2026-11-30"}

SPECS: dict[tuple[str, str], Spec] = {
    ("GET", "/healthz"): Spec(lambda m: Call("GET", "/healthz"), 200, public=True),
    ("GET", "/readyz"): Spec(lambda m: Call("GET", "/readyz"), 200, public=True),
    # Not loopback (the test client's host is "testclient") and no metrics token configured.
    ("GET", "/metrics"): Spec(lambda m: Call("GET", "/metrics"), 403, public=True),
    ("GET", "/v1/candidates/{candidate_id}"): Spec(
        lambda m: Call("GET", f"/v1/candidates/{m.world.nl}"),
        200,
        having(P.CANDIDATE_READ, everywhere=False),
        personal=True,
    ),
    ("POST", "/v1/candidates/search"): Spec(
        lambda m: Call("POST", "/v1/candidates/search", json={"external_ref": "ATS-404"}),
        200,
        having(P.CANDIDATE_READ, everywhere=False),
    ),
    ("POST", "/v1/candidates"): Spec(
        lambda m: Call(
            "POST",
            "/v1/candidates",
            json={"external_ref": f"ATS-{m.fresh()}", "country": "NL", "city": "Delft"},
        ),
        201,
        CANDIDATE_WRITERS,
        personal=True,
    ),
    ("PATCH", "/v1/candidates/{candidate_id}"): Spec(
        lambda m: Call(
            "PATCH",
            f"/v1/candidates/{nl_candidate(m)}",
            json={"city": "Leiden"},
            headers={"If-Match": "*"},
        ),
        200,
        CANDIDATE_WRITERS,
        personal=True,
    ),
    ("GET", "/v1/candidates/{candidate_id}/export"): Spec(
        lambda m: Call("GET", f"/v1/candidates/{m.world.nl}/export"),
        200,
        having(P.CANDIDATE_EXPORT, everywhere=False),
        personal=True,
    ),
    ("DELETE", "/v1/candidates/{candidate_id}"): Spec(
        lambda m: Call(
            "DELETE", f"/v1/candidates/{nl_candidate(m)}", headers={"GDPR-Reason": "DSR-1"}
        ),
        200,
        having(P.CANDIDATE_ERASE, everywhere=False),
        personal=True,
    ),
    ("GET", "/v1/candidates/{candidate_id}/consents"): Spec(
        lambda m: Call("GET", f"/v1/candidates/{m.world.nl}/consents"),
        200,
        having(P.CANDIDATE_READ, everywhere=False),
        personal=True,
    ),
    ("POST", "/v1/candidates/{candidate_id}/consents"): Spec(
        lambda m: Call(
            "POST",
            f"/v1/candidates/{nl_candidate(m)}/consents",
            json={"purpose": "talent_pool", "notice": "v2", "channel": "web form"},
        ),
        201,
        CONSENT_WRITERS,
        personal=True,
    ),
    ("POST", "/v1/candidates/{candidate_id}/consents/withdraw"): Spec(
        lambda m: Call(
            "POST",
            f"/v1/candidates/{nl_candidate(m)}/consents/withdraw",
            json={"purpose": "talent_pool"},
        ),
        200,
        CONSENT_WRITERS,
        personal=True,
    ),
    ("POST", "/v1/holds"): Spec(
        lambda m: Call(
            "POST",
            "/v1/holds",
            json={"subject_id": str(m.world.nl), "case_ref": m.fresh(), "reason": "case"},
        ),
        201,
        having(P.HOLD_MANAGE),
    ),
    ("POST", "/v1/holds/{hold_id}/release"): Spec(
        lambda m: Call("POST", f"/v1/holds/{placed_hold(m)}/release", json={"reason": "closed"}),
        200,
        having(P.HOLD_MANAGE),
    ),
    ("GET", "/v1/holds"): Spec(lambda m: Call("GET", "/v1/holds"), 200, having(P.HOLD_MANAGE)),
    ("GET", "/v1/reviews"): Spec(
        lambda m: Call("GET", "/v1/reviews"), 200, having(P.CANDIDATE_ERASE)
    ),
    ("POST", "/v1/reviews/{subject_id}/decision"): Spec(
        lambda m: Call(
            "POST",
            f"/v1/reviews/{queued_review(m)}/decision",
            json={"decision": "keep", "keep_until": "2027-06-01", "reason": "claim"},
        ),
        200,
        having(P.CANDIDATE_ERASE),
        personal=True,
    ),
    ("GET", "/v1/sweep/plan"): Spec(
        lambda m: Call("GET", "/v1/sweep/plan"), 200, having(P.SWEEP_PLAN)
    ),
    ("GET", "/v1/sweep/runs"): Spec(
        lambda m: Call("GET", "/v1/sweep/runs"), 200, having(P.SWEEP_PLAN)
    ),
    ("GET", "/v1/sweep/runs/{run_id}"): Spec(
        lambda m: Call("GET", f"/v1/sweep/runs/{m.run_id}"), 200, having(P.SWEEP_PLAN)
    ),
    ("POST", "/v1/sweep/runs"): Spec(
        lambda m: Call("POST", "/v1/sweep/runs", json={"limit": 1}),
        202,
        having(P.SWEEP_RUN),
        settle=wait_lease_free,
    ),
    ("GET", "/v1/audit/checkpoint"): Spec(
        lambda m: Call("GET", "/v1/audit/checkpoint"), 200, having(P.AUDIT_READ)
    ),
    ("POST", "/v1/audit/checkpoints"): Spec(
        lambda m: Call("POST", "/v1/audit/checkpoints"), 201, having(P.AUDIT_VERIFY)
    ),
    ("GET", "/v1/audit/verifier-key"): Spec(
        lambda m: Call("GET", "/v1/audit/verifier-key"), 200, public=True
    ),
    ("GET", "/v1/audit/proofs/inclusion"): Spec(
        lambda m: Call("GET", "/v1/audit/proofs/inclusion", params={"seq": 1}),
        200,
        having(P.AUDIT_READ),
    ),
    ("GET", "/v1/audit/proofs/consistency"): Spec(
        lambda m: Call("GET", "/v1/audit/proofs/consistency", params={"from": 1}),
        200,
        having(P.AUDIT_READ),
    ),
    ("GET", "/v1/audit/entries"): Spec(
        lambda m: Call("GET", "/v1/audit/entries", params={"limit": 2}),
        200,
        having(P.AUDIT_READ),
    ),
    ("POST", "/v1/evidence/exports"): Spec(
        lambda m: Call("POST", "/v1/evidence/exports", json=PERIOD),
        202,
        having(P.EVIDENCE_EXPORT),
    ),
    ("GET", "/v1/evidence/exports/{job_id}"): Spec(
        lambda m: Call("GET", f"/v1/evidence/exports/{m.job_id}"),
        200,
        having(P.EVIDENCE_EXPORT),
    ),
    ("GET", "/v1/evidence/exports/{job_id}/pack"): Spec(
        lambda m: Call("GET", f"/v1/evidence/exports/{m.job_id}/pack"),
        200,
        having(P.EVIDENCE_EXPORT),
    ),
    ("POST", "/v1/access/principals"): Spec(
        lambda m: Call("POST", "/v1/access/principals", json={"name": m.fresh(), "kind": "human"}),
        201,
        having(P.ACCESS_MANAGE),
    ),
    ("GET", "/v1/access/principals"): Spec(
        lambda m: Call("GET", "/v1/access/principals"),
        200,
        having(P.ACCESS_MANAGE, P.AUDIT_READ),
    ),
    ("POST", "/v1/access/principals/{principal_id}/disable"): Spec(
        lambda m: Call(
            "POST", f"/v1/access/principals/{m.new_principal()}/disable", json={"reason": "left"}
        ),
        200,
        having(P.ACCESS_MANAGE),
    ),
    ("POST", "/v1/access/principals/{principal_id}/rotate-token"): Spec(
        lambda m: Call("POST", f"/v1/access/principals/{m.new_principal()}/rotate-token"),
        200,
        having(P.ACCESS_MANAGE),
    ),
    # A source authenticates by its signature, not a bearer token: an unknown one is 401 to all.
    ("POST", "/v1/integrations/{name}/events"): Spec(
        lambda m: Call("POST", "/v1/integrations/nosuch/events", json={"action": "ping"}),
        401,
        public=True,
    ),
    # The consent answer page: the link is the credential; a bogus one gets the neutral page.
    ("GET", "/v1/public/consent/{token}"): Spec(
        lambda m: Call("GET", "/v1/public/consent/not-a-link"), 404, public=True
    ),
    ("POST", "/v1/public/consent/{token}"): Spec(
        lambda m: Call("POST", "/v1/public/consent/not-a-link"), 404, public=True
    ),
    ("POST", "/v1/access/enroll"): Spec(
        lambda m: Call("POST", "/v1/access/enroll", json={"code": enrollment_code(m)}),
        200,
        public=True,
    ),
    ("POST", "/v1/access/grants"): Spec(
        lambda m: Call(
            "POST",
            "/v1/access/grants",
            json={
                "principal_id": str(m.new_principal()),
                "role": "recruiter",
                "countries": "NL",
                "expires": "30d",
                "reason": "hiring",
            },
        ),
        201,
        having(P.ACCESS_MANAGE),
    ),
    ("POST", "/v1/access/grants/{grant_id}/approve"): Spec(
        lambda m: Call("POST", f"/v1/access/grants/{m.pending_grant()}/approve"),
        200,
        having(P.ACCESS_APPROVE),
    ),
    ("POST", "/v1/access/grants/{grant_id}/revoke"): Spec(
        lambda m: Call(
            "POST", f"/v1/access/grants/{m.pending_grant()}/revoke", json={"reason": "no"}
        ),
        200,
        having(P.ACCESS_MANAGE),
    ),
    ("GET", "/v1/access/grants"): Spec(
        lambda m: Call("GET", "/v1/access/grants"), 200, READERS_OF_ACCESS
    ),
    ("GET", "/v1/access/check"): Spec(
        lambda m: Call(
            "GET",
            "/v1/access/check",
            params={
                "principal_id": str(m.world.recruiter.principal_id),
                "permission": "candidate:read",
            },
        ),
        200,
        READERS_OF_ACCESS,
    ),
    ("GET", "/v1/access/review"): Spec(
        lambda m: Call("GET", "/v1/access/review"), 200, READERS_OF_ACCESS
    ),
    ("POST", "/v1/requests"): Spec(
        lambda m: Call(
            "POST",
            "/v1/requests",
            json={
                "type": "access",
                "received_at": RECEIVED,
                "subject": str(add_candidate(m.engine, "NL", m.world.clock())),
            },
        ),
        201,
        MANAGERS,
    ),
    ("GET", "/v1/requests"): Spec(lambda m: Call("GET", "/v1/requests"), 200, MANAGERS),
    # Ids, types and deadlines only: like the expiry check, any authenticated principal.
    ("GET", "/v1/requests/due"): Spec(
        lambda m: Call("GET", "/v1/requests/due"), 200, frozenset(Role)
    ),
    ("GET", "/v1/requests/{request_id}"): Spec(
        lambda m: Call("GET", f"/v1/requests/{request_row(m)}"), 200, MANAGERS
    ),
    ("POST", "/v1/requests/{request_id}/verify"): change("verify", {"method": "reply"}),
    ("POST", "/v1/requests/{request_id}/pause"): change("pause", {"reason": "scope"}),
    ("POST", "/v1/requests/{request_id}/resume"): change("resume", status="paused"),
    ("POST", "/v1/requests/{request_id}/extend"): change("extend", {"reason": "complex"}),
    ("POST", "/v1/requests/{request_id}/refuse"): change("refuse", {"ground": "Art. 12(5)"}),
    ("POST", "/v1/requests/{request_id}/withdraw"): change("withdraw"),
    ("POST", "/v1/requests/{request_id}/approve"): change(
        "approve", kind="erasure", status="verified"
    ),
    ("POST", "/v1/requests/{request_id}/fulfil"): Spec(
        lambda m: Call("POST", f"/v1/requests/{request_row(m, status='verified')}/fulfil", json={}),
        200,
        MANAGERS,
        personal=True,
    ),
    ("POST", "/v1/requests/{request_id}/lift"): Spec(
        lambda m: Call("POST", f"/v1/requests/{fulfilled_restriction(m)}/lift", json={}),
        200,
        MANAGERS,
    ),
}


def app_routes(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path) of every route of the app, through included routers too."""

    def walk(routes: Any) -> Iterator[tuple[str, Any]]:
        for route in routes:
            contexts = getattr(route, "effective_route_contexts", None)
            if contexts is not None:  # FastAPI >= 0.16x keeps included routers as branches
                for context in contexts():
                    yield context.path, context.original_route
            else:
                yield route.path, route

    out = set()
    for path, route in walk(app.routes):
        if path == app.openapi_url:
            continue  # the schema itself: public by design
        for method in getattr(route, "methods", None) or ():
            if method != "HEAD":
                out.add((method, path))
    return out


def build_matrix(installation: Installation, world: World) -> Matrix:
    clock = world.clock
    engine = installation.engine
    auditing.create_signing_key(installation)
    admin, dpo = world.admin.principal_id, world.dpo.principal_id
    tokens = {Role.ADMIN: world.admin.token, Role.DPO: world.dpo.token}
    tokens[Role.RECRUITER] = world.recruiter.token
    for role in (Role.AUDITOR, Role.SCHEDULER, Role.INTEGRATION):
        issued = create_enrolled(engine, admin, f"the-{role.value}", clock)
        grant = grants.grant_access(
            engine, admin, issued.name, role.value, "*", "30d", "matrix", clock=clock
        )
        if grant.status == "pending":
            grants.approve_grant(engine, dpo, str(grant.id), clock=clock)
        tokens[role] = issued.token
    auditing.sign_checkpoint(installation, clock)
    done = sweep(installation, PrincipalView(dpo, "dpo"), RunSweep(limit=1), clock=clock)
    assert done.run_id is not None
    job_id = uuid.uuid4()
    job = ExportJob(
        id=job_id,
        status=JobStatus.DONE,
        requested_by=dpo,
        start=date(2026, 11, 1),
        end=date(2026, 11, 30),
        country=None,
        created_at=clock(),
        finished_at=clock() + timedelta(seconds=1),
        pack="pack.zip",
    )
    create_job(installation.config, job)
    pack = job_dir(installation.config, job_id) / "pack.zip"
    pack.write_bytes(b"PK\x05\x06" + b"\0" * 18)  # an empty zip: the route sends what is there
    from dataclasses import replace

    from retention.evidence import save_job

    save_job(installation.config, replace(job, size=22, sha256=file_sha256(pack)))
    counter = iter(range(10**6))
    return Matrix(world, tokens, done.run_id, job_id, counter)


@pytest.fixture
def matrix(installation: Installation, world: World) -> Matrix:
    return build_matrix(installation, world)


def test_every_route_has_a_spec(installation: Installation) -> None:
    app = create_app(installation)
    assert app_routes(app) == set(SPECS), "add the new route to SPECS with its expected statuses"


def entries_of(m: Matrix, request_id: str) -> list[dict[str, Any]]:
    return [
        e
        for e in audit_entries(m.engine)
        if e.get("details", {}).get("via", {}).get("request_id") == request_id
    ]


def check_route(route: tuple[str, str], client: TestClient, m: Matrix) -> list[str]:
    """The route with every caller; what went wrong, one line each."""
    spec = SPECS[route]
    callers: list[tuple[str, dict[str, str], int]] = [
        ("no token", {}, spec.ok if spec.public else 401),
        ("bad token", bearer(BAD_TOKEN), spec.ok if spec.public else 401),
    ]
    for role in Role:
        expected = spec.ok if spec.public or role in spec.allowed else 403
        callers.append((role.value, bearer(m.tokens[role]), expected))
    problems: list[str] = []
    where = f"{route[0]} {route[1]}"
    for who, headers, expected in callers:
        call = spec.make(m)
        response = client.request(
            call.method,
            call.path,
            params=call.params,
            json=call.json,
            headers={**call.headers, **headers},
        )
        if response.status_code != expected:
            problems.append(f"{where} as {who}: {response.status_code}, not {expected}")
            continue
        request_id = response.headers["X-Request-ID"]
        if spec.settle is not None and response.status_code < 300:
            spec.settle(m)
        recorded = entries_of(m, request_id)
        if expected == 403 and not spec.public:
            if [e["outcome"] for e in recorded] != ["denied"]:
                problems.append(f"{where} as {who}: denial not on record once ({recorded})")
            elif recorded[0]["details"]["via"]["channel"] != "api":
                problems.append(f"{where} as {who}: denial not tagged with the api channel")
        if spec.personal and expected < 300:
            if not any(e["outcome"] == "ok" for e in recorded):
                problems.append(f"{where} as {who}: allowed access not on record")
            if not all(e["details"]["via"]["channel"] == "api" for e in recorded):
                problems.append(f"{where} as {who}: entry not tagged with the api channel")
    return problems


def test_every_route_with_every_caller(installation: Installation, matrix: Matrix) -> None:
    """One world for all routes (each call builds its own target): a route's failures are
    listed together with every other's, by route and caller."""
    app = create_app(unlimited(installation), clock=matrix.world.clock)
    problems: list[str] = []
    with TestClient(app, raise_server_exceptions=False) as client:
        for route in sorted(SPECS):
            problems += check_route(route, client, matrix)
    assert problems == []
