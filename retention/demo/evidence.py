"""The evidence pack in `gdpr demo`: export the demo period's pack, verify it offline, show it.

Kept apart from the export itself: the demo chooses a period, a place and an actor for a fresh
installation and turns the verification report into lines for a person; the export knows none of
that. `demo_step` has the shape of `retention.demo.tour.DemoStep`.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

from policies import PolicySet, load_default_policy_set
from retention.clock import Clock, utc_now
from retention.demo.steps import StepReport
from retention.evidence import (
    ExportRequest,
    ExportResult,
    PolicyTexts,
    export_pack,
    load_signer,
    policy_texts,
)
from retention.install import Installation

__all__ = ["DEMO_ACTOR", "demo_evidence", "demo_step"]

DEMO_ACTOR = "gdpr-demo"


def demo_evidence(
    installation: Installation,
    *,
    start: date,
    end: date,
    out: Path,
    actor: str,
    policy_set: PolicySet | None = None,
    policies: PolicyTexts | None = None,
    clock: Clock = utc_now,
) -> tuple[ExportResult, list[str]]:
    """`gdpr demo`'s last step: export the demo period's pack, verify it offline, say so.

    `policies` defaults to the texts of `policy_set`. Raises `CheckFailed` if the pack does not
    verify (it always should); returns the result and the lines to show, ending with the command
    an auditor would run.
    """
    if policies is None and policy_set is not None:
        policies = policy_texts(policy_set)
    result = export_pack(
        installation,
        ExportRequest(start, end, out, actor),
        signer=load_signer(installation),
        policies=policies,
        policy_set=policy_set,
        clock=clock,
    )
    report = result.verification
    assert report is not None  # export_pack verifies by default
    lines = [
        f"Evidence pack for {start.isoformat()} to {end.isoformat()}: {result.path}",
        *(f"  {line}" for line in report.summary().splitlines()),
        f"  an auditor runs: gdpr evidence verify {result.path} --key <verifier key file>",
    ]
    return result, lines


def demo_step(installation: Installation, now: datetime) -> StepReport:
    """`gdpr demo` step (a `retention.demo.tour.DemoStep`): export and verify the last 30 days.

    The pack goes to `<data dir>/evidence/`; the period runs to today, so the demo's own audit
    entries (seeding, access, checkpoint) are in it.
    """
    zone = installation.config.zone
    today = max(now, utc_now()).astimezone(zone).date()
    result, lines = demo_evidence(
        installation,
        start=now.astimezone(zone).date() - timedelta(days=30),
        end=today,
        out=installation.config.data_dir / "evidence",
        actor=DEMO_ACTOR,
        policy_set=load_default_policy_set(),
    )
    return StepReport("evidence", lines, result)
