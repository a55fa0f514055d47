"""Every operation authorizes by itself: a front end that composes no check cannot bypass it.

Each operation is called directly, as an HTTP endpoint or a careless front end would, by a
principal whose grants lack the permission: it raises `AccessDenied`, appends one `denied` entry
naming the principal and the action, and changes nothing else.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from retention.access import PrincipalView
from retention.demo import SeedDemo, seed_demo
from retention.errors import AccessDenied
from retention.install import Installation
from retention.operations import (
    ConsistencyRequest,
    DecideReview,
    EntriesRequest,
    ExportEvidence,
    InclusionRequest,
    ListHolds,
    ListReviews,
    PlaceHold,
    PlanSweep,
    ReleaseHold,
    RunSweep,
    SignCheckpoint,
    VerifyLog,
    audit_entries,
    consistency_proof,
    decide_review,
    export_evidence,
    inclusion_proof,
    list_holds,
    list_reviews,
    place_hold,
    plan_sweep,
    release_hold,
    sign_checkpoint,
    sweep,
    verify_log,
)
from retention.store import ReviewDecision
from tests.access_support import World, audit_rows, snapshot
from tests.operations.conftest import view

Call = Callable[[Installation, PrincipalView, World, Path], Any]

# (operation's audited action, call as the given principal)
CASES: list[tuple[str, Call]] = [
    (
        "hold.place",
        lambda i, p, w, _: place_hold(i, p, PlaceHold(w.nl, "CASE-1", "claim"), clock=w.clock),
    ),
    (
        "hold.release",
        lambda i, p, w, _: release_hold(i, p, ReleaseHold(uuid.uuid4(), "done"), clock=w.clock),
    ),
    ("hold.list", lambda i, p, w, _: list_holds(i, p, ListHolds(), clock=w.clock)),
    ("review.list", lambda i, p, w, _: list_reviews(i, p, ListReviews(), clock=w.clock)),
    (
        "review.decide",
        lambda i, p, w, _: decide_review(
            i, p, DecideReview(w.nl, ReviewDecision.DELETE, "done"), clock=w.clock
        ),
    ),
    ("sweep.plan", lambda i, p, w, _: plan_sweep(i, p, PlanSweep(), clock=w.clock)),
    ("sweep.run", lambda i, p, w, _: sweep(i, p, RunSweep(), clock=w.clock)),
    (
        "audit.checkpoint",
        lambda i, p, w, _: sign_checkpoint(i, p, SignCheckpoint(), clock=w.clock),
    ),
    (
        "audit.proof",
        lambda i, p, w, _: inclusion_proof(i, p, InclusionRequest(0), clock=w.clock),
    ),
    (
        "audit.consistency",
        lambda i, p, w, _: consistency_proof(i, p, ConsistencyRequest(1), clock=w.clock),
    ),
    ("audit.show", lambda i, p, w, _: audit_entries(i, p, EntriesRequest(), clock=w.clock)),
    ("audit.verify", lambda i, p, w, _: verify_log(i, p, VerifyLog(), clock=w.clock)),
    (
        "evidence.export",
        lambda i, p, w, out: export_evidence(
            i, p, ExportEvidence(date(2026, 1, 1), date(2026, 12, 31), out), clock=w.clock
        ),
    ),
    ("candidate.seed", lambda i, p, w, _: seed_demo(i, p, SeedDemo(5), clock=w.clock)),
]


@pytest.mark.parametrize(("action", "call"), CASES, ids=[a for a, _ in CASES])
def test_denied_without_the_permission(
    world: World, tmp_path: Path, action: str, call: Call
) -> None:
    """A recruiter (candidate read/write, consents, in NL) is refused, on the record, no change."""
    rita = view(world.recruiter)
    before = snapshot(world.engine)
    out = tmp_path / "out"
    with pytest.raises(AccessDenied):
        call(world.installation, rita, world, out)
    denied = audit_rows(world.engine, actor=str(rita.id), outcome="denied")
    assert [row.action for row in denied] == [action]
    assert snapshot(world.engine) == before
    assert not out.exists() or not any(out.iterdir())


def test_audit_read_is_not_audit_verify(world: World) -> None:
    """The admin may sign checkpoints (audit:verify) but not read the log (audit:read)."""
    admin = view(world.admin)
    done = sign_checkpoint(world.installation, admin, SignCheckpoint(), clock=world.clock)
    assert done.size > 0
    with pytest.raises(AccessDenied, match="audit:read"):
        list(audit_entries(world.installation, admin, EntriesRequest(), clock=world.clock))


def test_the_same_call_is_allowed_with_the_permission(world: World) -> None:
    """The DPO (hold:manage everywhere) makes the call refused to rita: it acts and audits `ok`."""
    dpo = view(world.dpo)
    placed = place_hold(
        world.installation, dpo, PlaceHold(world.nl, "CASE-2", "claim"), clock=world.clock
    )
    assert [h.id for h in list_holds(world.installation, dpo, ListHolds())] == [placed.id]
    ok = audit_rows(world.engine, actor=str(dpo.id), action="hold.place", outcome="ok")
    assert len(ok) == 1
