"""The service layer: every operation a front end (the CLI, the HTTP API, the scheduler) may call.

Each is `operation(installation, principal, request) -> result`: it authenticates nothing (the
front end did), authorizes, acts and audits in one transaction, and raises the typed errors of
`retention.errors`.
"""

from __future__ import annotations

from retention.operations import access, intake, policies, subjects
from retention.operations.audit import (
    CheckpointResult,
    ConsistencyRequest,
    EntriesRequest,
    InclusionRequest,
    LogVerification,
    SignCheckpoint,
    VerifierKey,
    VerifyLog,
    actor_names,
    audit_entries,
    consistency_proof,
    inclusion_proof,
    sign_checkpoint,
    verifier_key,
    verify_log,
)
from retention.operations.evidence import (
    ExportEvidence,
    VerifyEvidence,
    export_evidence,
    verify_evidence,
)
from retention.operations.expiries import CheckExpiries, expiry_check
from retention.operations.holds import (
    ListHolds,
    PlaceHold,
    ReleaseHold,
    list_holds,
    place_hold,
    release_hold,
)
from retention.operations.install import (
    BootstrapPrincipal,
    HardenDatabase,
    HardenResult,
    InitInstallation,
    InitRecorder,
    InitResult,
    SchemaStatus,
    SchemaUpgrade,
    harden_database,
    init_installation,
    schema_status,
    upgrade_schema,
)
from retention.operations.reviews import DecideReview, ListReviews, decide_review, list_reviews
from retention.operations.sweeps import PlanSweep, RunSweep, plan_sweep, sweep

__all__ = [
    "BootstrapPrincipal",
    "CheckExpiries",
    "CheckpointResult",
    "ConsistencyRequest",
    "DecideReview",
    "EntriesRequest",
    "ExportEvidence",
    "HardenDatabase",
    "HardenResult",
    "InclusionRequest",
    "InitInstallation",
    "InitRecorder",
    "InitResult",
    "ListHolds",
    "ListReviews",
    "LogVerification",
    "PlaceHold",
    "PlanSweep",
    "ReleaseHold",
    "RunSweep",
    "SchemaStatus",
    "SchemaUpgrade",
    "SignCheckpoint",
    "VerifierKey",
    "VerifyEvidence",
    "VerifyLog",
    "access",
    "actor_names",
    "audit_entries",
    "consistency_proof",
    "decide_review",
    "expiry_check",
    "export_evidence",
    "harden_database",
    "inclusion_proof",
    "init_installation",
    "intake",
    "list_holds",
    "list_reviews",
    "place_hold",
    "plan_sweep",
    "policies",
    "release_hold",
    "schema_status",
    "sign_checkpoint",
    "subjects",
    "sweep",
    "upgrade_schema",
    "verifier_key",
    "verify_evidence",
    "verify_log",
]
