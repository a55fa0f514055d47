"""The audit log as a front end asks for it: checkpoints, the verifier key, proofs, entries and
full verification.

Reading operations (audit:read) and verification (audit:verify) authorize in a transaction that
records a denial, then read in a snapshot of their own that takes no write lock: a verification of
millions of entries must not hold appenders off. Signing a checkpoint (audit:verify) authorizes
and stores the note in one transaction, and appends it to the witness file after the commit. The
verifier key is public and needs no principal.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from sqlalchemy import Connection

from audit_log import Checkpoint, ConsistencyProof, Entry, InclusionProof, Report
from retention.access import Permission, PrincipalView, check_permission, guarded, require
from retention.audit import log as auditing
from retention.clock import Clock, utc_now
from retention.errors import NotFound
from retention.install import Installation

__all__ = [
    "CheckpointResult",
    "ConsistencyRequest",
    "EntriesRequest",
    "InclusionRequest",
    "LatestCheckpoint",
    "LogVerification",
    "SignCheckpoint",
    "VerifierKey",
    "VerifyLog",
    "actor_names",
    "audit_entries",
    "consistency_proof",
    "inclusion_proof",
    "latest_checkpoint",
    "sign_checkpoint",
    "verifier_key",
    "verify_log",
]

# (entries checked, entries in the log)
VerifyProgress = Callable[[int, int], None]


@dataclass(frozen=True)
class SignCheckpoint:
    """Sign the log's current head (there is nothing to choose)."""


@dataclass(frozen=True)
class LatestCheckpoint:
    """The most recently signed checkpoint (there is nothing to choose)."""


@dataclass(frozen=True)
class InclusionRequest:
    seq: int
    size: int | None = None  # the whole log


@dataclass(frozen=True)
class ConsistencyRequest:
    size1: int
    size2: int | None = None  # the whole log


@dataclass(frozen=True)
class EntriesRequest:
    since: int = 0
    subject: UUID | None = None


@dataclass(frozen=True)
class VerifyLog:
    """Verify the whole log against the key, the stored and the witnessed checkpoints."""


@dataclass(frozen=True)
class CheckpointResult:
    origin: str
    size: int
    note: str


@dataclass(frozen=True)
class VerifierKey:
    verifier_key: str


@dataclass(frozen=True)
class LogVerification:
    """The verification report; `failure` is the one-line message when it found a problem."""

    report: Report

    @property
    def ok(self) -> bool:
        return bool(self.report.ok)

    @property
    def failure(self) -> str | None:
        problem = self.report.problem
        if problem is None:
            return None
        at = "" if problem.seq is None else f" at seq {problem.seq}"
        return f"audit log verification failed: {problem.kind}{at}: {problem.detail}"

    def to_json(self) -> dict[str, Any]:
        r, problem = self.report, self.report.problem
        return {
            "ok": r.ok,
            "size": r.size,
            "root": base64.b64encode(r.root).decode(),
            "checkpoints": r.checkpoints,
            "witnessed": r.witnessed,
            "problem": None
            if problem is None
            else {"kind": str(problem.kind), "seq": problem.seq, "detail": problem.detail},
        }


def _require_everywhere(
    installation: Installation,
    principal: PrincipalView,
    permission: Permission,
    action: str,
    clock: Clock,
) -> None:
    check_permission(installation.engine, principal.id, permission, action=action, at=clock())


def sign_checkpoint(
    installation: Installation,
    principal: PrincipalView,
    request: SignCheckpoint,
    *,
    clock: Clock = utc_now,
) -> CheckpointResult:
    """Sign the current head, store the note, then append it to the witness file."""
    config = installation.config

    def work(conn: Connection) -> tuple[Checkpoint, str]:
        require(conn, principal.id, Permission.AUDIT_VERIFY, at=clock(), action="audit.checkpoint")
        return auditing.store_checkpoint(conn, config, clock)

    checkpoint, note = guarded(installation.engine, work)
    auditing.witness_checkpoint(config, note)
    return CheckpointResult(checkpoint.origin, checkpoint.size, note)


def latest_checkpoint(
    installation: Installation,
    principal: PrincipalView,
    request: LatestCheckpoint,
    *,
    clock: Clock = utc_now,
) -> CheckpointResult:
    """The latest signed checkpoint note as stored (audit:read); NotFound before the first."""
    _require_everywhere(
        installation, principal, Permission.AUDIT_READ, "audit.checkpoint.read", clock
    )
    note = auditing.latest_checkpoint(installation)
    if note is None:
        raise NotFound("no checkpoint has been signed yet: run 'gdpr audit checkpoint'")
    origin, size = note.split("\n", 2)[:2]
    return CheckpointResult(origin, int(size), note)


def verifier_key(installation: Installation) -> VerifierKey:
    """The verifier key in note format: public, meant to be published and handed to auditors."""
    return VerifierKey(auditing.pubkey(installation))


def inclusion_proof(
    installation: Installation,
    principal: PrincipalView,
    request: InclusionRequest,
    *,
    clock: Clock = utc_now,
) -> InclusionProof:
    """Proof that entry `seq` is in the log of `size` entries."""
    _require_everywhere(installation, principal, Permission.AUDIT_READ, "audit.proof", clock)
    return auditing.inclusion(installation, request.seq, request.size)


def consistency_proof(
    installation: Installation,
    principal: PrincipalView,
    request: ConsistencyRequest,
    *,
    clock: Clock = utc_now,
) -> ConsistencyProof:
    """Proof that the log of `size1` entries is a prefix of the log of `size2`."""
    _require_everywhere(installation, principal, Permission.AUDIT_READ, "audit.consistency", clock)
    return auditing.consistency(installation, request.size1, request.size2)


def audit_entries(
    installation: Installation,
    principal: PrincipalView,
    request: EntriesRequest,
    *,
    clock: Clock = utc_now,
) -> Iterator[Entry]:
    """Entries in seq order, streamed; authorized now, before the first entry is read."""
    _require_everywhere(installation, principal, Permission.AUDIT_READ, "audit.show", clock)
    return auditing.entries(installation, since=request.since, subject=request.subject)


def actor_names(
    installation: Installation,
    principal: PrincipalView,
    request: EntriesRequest,
    *,
    clock: Clock = utc_now,
) -> dict[str, str]:
    """Each principal's name by the UUID text entries record as their actor (needs audit:read),
    so that a person reading entries as text sees names; JSON keeps the UUIDs."""
    _require_everywhere(installation, principal, Permission.AUDIT_READ, "audit.show", clock)
    return auditing.principal_names(installation)


def verify_log(
    installation: Installation,
    principal: PrincipalView,
    request: VerifyLog,
    *,
    progress: VerifyProgress | None = None,
    clock: Clock = utc_now,
) -> LogVerification:
    """Recompute every hash and link, rebuild the root, check signed and witnessed checkpoints."""
    _require_everywhere(installation, principal, Permission.AUDIT_VERIFY, "audit.verify", clock)
    if progress is None:
        return LogVerification(auditing.verify_installation(installation))
    total = auditing.log_size(installation)
    return LogVerification(
        auditing.verify_installation(installation, progress=lambda done: progress(done, total))
    )
