"""Personal data as service operations: show, find, export, update and erase a data subject, and
record, withdraw and list consents.

Each operation opens the audited gateway (`retention.subjects.Gateway`) as the given principal:
the gateway authorizes with the subject's country inside the transaction that acts and audits,
so no front end builds a gateway, or decides anything about access, itself.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from retention.access import PrincipalView
from retention.clock import Clock, utc_now
from retention.install import Installation
from retention.results import JSONData
from retention.subjects import ErasureResult, ExportResult, Gateway, consents

__all__ = [
    "CandidateView",
    "ConsentView",
    "ConsentWithdrawal",
    "EraseCandidate",
    "ErasureResult",
    "ExportCandidate",
    "ExportResult",
    "FindCandidates",
    "ListConsents",
    "RecordConsent",
    "ShowCandidate",
    "UpdateCandidate",
    "WithdrawConsent",
    "erase_candidate",
    "export_candidate",
    "find_candidates",
    "list_consents",
    "record_consent",
    "show_candidate",
    "update_candidate",
    "withdraw_consent",
]


# --- results ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CandidateView:
    """A subject's record (its candidate columns), as an authorized reader sees it."""

    fields: Mapping[str, Any]

    @property
    def id(self) -> uuid.UUID:
        value: uuid.UUID = self.fields["id"]
        return value

    def to_json(self) -> JSONData:
        return dict(self.fields)


@dataclass(frozen=True)
class ConsentView:
    """One consent row: given, with the notice version shown, maybe expired or withdrawn."""

    id: int
    candidate_id: uuid.UUID
    purpose: str
    notice_version: str
    channel: str
    given_at: datetime
    expires_at: datetime | None = None
    withdrawn_at: datetime | None = None
    notice_hash: str | None = None

    @classmethod
    def of(cls, row: Mapping[str, Any]) -> ConsentView:
        return cls(
            id=row["id"],
            candidate_id=row["candidate_id"],
            purpose=row["purpose"],
            notice_version=row["notice_version"],
            channel=row["channel"],
            given_at=row["given_at"],
            expires_at=row.get("expires_at"),
            withdrawn_at=row.get("withdrawn_at"),
            notice_hash=row.get("notice_hash"),
        )


@dataclass(frozen=True)
class ConsentWithdrawal:
    subject: uuid.UUID
    purpose: str
    withdrawn: int


# --- requests -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ShowCandidate:
    subject_id: uuid.UUID
    reason: str | None = None  # required for a blocked subject (and only a DPO may then read)


@dataclass(frozen=True)
class FindCandidates:
    email: str | None = None
    external_ref: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class ExportCandidate:
    subject_id: uuid.UUID
    out: Path | None  # None: the document comes back in the result (for standard output)
    reason: str | None = None


@dataclass(frozen=True)
class UpdateCandidate:
    subject_id: uuid.UUID
    changes: Mapping[str, str | None]  # contact field -> new value ('' clears it)
    reason: str | None = None


@dataclass(frozen=True)
class EraseCandidate:
    subject_id: uuid.UUID
    reason: str


@dataclass(frozen=True)
class RecordConsent:
    subject_id: uuid.UUID
    purpose: str
    notice: str
    channel: str
    expires: str | None = None  # a validity such as 24m
    language: str | None = None  # of the notice shown: picks its hash among the translations


@dataclass(frozen=True)
class WithdrawConsent:
    subject_id: uuid.UUID
    purpose: str


@dataclass(frozen=True)
class ListConsents:
    subject_id: uuid.UUID


# --- operations ---------------------------------------------------------------------------------


def gateway_for(
    installation: Installation, principal: PrincipalView, *, clock: Clock = utc_now
) -> Gateway:
    """The audited path to personal data as `principal` (for operations in this layer)."""
    return Gateway(
        installation.engine, principal.id, installation.config.documents_dir, clock=clock
    )


def show_candidate(
    installation: Installation,
    principal: PrincipalView,
    request: ShowCandidate,
    *,
    clock: Clock = utc_now,
) -> CandidateView:
    """One subject's record (needs candidate:read in its country); returned once audited."""
    gateway = gateway_for(installation, principal, clock=clock)
    return CandidateView(gateway.show(request.subject_id, reason=request.reason))


def find_candidates(
    installation: Installation,
    principal: PrincipalView,
    request: FindCandidates,
    *,
    clock: Clock = utc_now,
) -> list[CandidateView]:
    """Subjects matching an e-mail or ATS reference that `principal` may read."""
    gateway = gateway_for(installation, principal, clock=clock)
    found = gateway.find(
        email=request.email, external_ref=request.external_ref, reason=request.reason
    )
    return [CandidateView(d) for d in found]


def export_candidate(
    installation: Installation,
    principal: PrincipalView,
    request: ExportCandidate,
    *,
    clock: Clock = utc_now,
) -> ExportResult:
    """Write everything held about a subject to a new file, or return it when `out` is None
    (needs candidate:export)."""
    gateway = gateway_for(installation, principal, clock=clock)
    return gateway.export(request.subject_id, request.out, reason=request.reason)


def update_candidate(
    installation: Installation,
    principal: PrincipalView,
    request: UpdateCandidate,
    *,
    clock: Clock = utc_now,
) -> CandidateView:
    """Change contact fields (needs candidate:write); returns the record as it now is."""
    gateway = gateway_for(installation, principal, clock=clock)
    return CandidateView(gateway.update(request.subject_id, request.changes, reason=request.reason))


def erase_candidate(
    installation: Installation,
    principal: PrincipalView,
    request: EraseCandidate,
    *,
    clock: Clock = utc_now,
) -> ErasureResult:
    """Erase a subject on request (needs candidate:erase; refused under a legal hold)."""
    gateway = gateway_for(installation, principal, clock=clock)
    return gateway.erase(request.subject_id, reason=request.reason)


def record_consent(
    installation: Installation,
    principal: PrincipalView,
    request: RecordConsent,
    *,
    clock: Clock = utc_now,
) -> ConsentView:
    """Record a consent given now (needs consent:write in the subject's country)."""
    row = consents.record_consent(
        gateway_for(installation, principal, clock=clock),
        request.subject_id,
        purpose=request.purpose,
        notice=request.notice,
        channel=request.channel,
        expires=request.expires,
        language=request.language,
    )
    return ConsentView.of(row)


def withdraw_consent(
    installation: Installation,
    principal: PrincipalView,
    request: WithdrawConsent,
    *,
    clock: Clock = utc_now,
) -> ConsentWithdrawal:
    """Withdraw the subject's consents for a purpose still in force (needs consent:write)."""
    count = consents.withdraw_consent(
        gateway_for(installation, principal, clock=clock),
        request.subject_id,
        purpose=request.purpose,
    )
    return ConsentWithdrawal(request.subject_id, request.purpose, count)


def list_consents(
    installation: Installation,
    principal: PrincipalView,
    request: ListConsents,
    *,
    clock: Clock = utc_now,
) -> list[ConsentView]:
    """A subject's consent history, oldest first (a read of personal data: audited)."""
    rows = consents.list_consents(
        gateway_for(installation, principal, clock=clock), request.subject_id
    )
    return [ConsentView.of(r) for r in rows]
