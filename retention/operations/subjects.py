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
from retention.countries import country_code
from retention.install import Installation
from retention.results import JSONData
from retention.subjects import ErasureResult, ExportResult, Gateway, candidate_version, consents

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
    "UpsertCandidate",
    "UpsertResult",
    "WithdrawConsent",
    "erase_candidate",
    "export_candidate",
    "find_candidates",
    "list_consents",
    "record_consent",
    "show_candidate",
    "update_candidate",
    "upsert_candidate",
    "withdraw_consent",
]


# --- results ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CandidateView:
    """A subject's record (its candidate columns), as an authorized reader sees it."""

    fields: Mapping[str, Any]
    written_version: str | None = None  # a write's result says its version (maybe no record)

    @property
    def id(self) -> uuid.UUID:
        value: uuid.UUID = self.fields["id"]
        return value

    @property
    def version(self) -> str:
        """The record's version (`If-Match` of a later change); a write-only result says it."""
        if self.written_version is not None:
            return self.written_version
        return candidate_version(self.fields)

    @property
    def is_record(self) -> bool:
        """Whether this is the whole record (a write-only principal gets only id and fields)."""
        return "country" in self.fields

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
    if_version: frozenset[str] | None = None  # change only a record still at one of these


@dataclass(frozen=True)
class UpsertCandidate:
    """Create or update the subject an ATS knows by `external_ref`."""

    external_ref: str
    country: str
    changes: Mapping[str, str | None]
    reason: str | None = None


@dataclass(frozen=True)
class UpsertResult:
    created: bool
    candidate: CandidateView


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
        installation.engine,
        principal.id,
        installation.config.documents_dir,
        clock=clock,
        audit_group=installation.audit_group,
        targets=installation.config.targets,
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
    fields, version = gateway.update_versioned(
        request.subject_id,
        request.changes,
        reason=request.reason,
        expected_versions=request.if_version,
    )
    return CandidateView(fields, version)


def upsert_candidate(
    installation: Installation,
    principal: PrincipalView,
    request: UpsertCandidate,
    *,
    clock: Clock = utc_now,
) -> UpsertResult:
    """Create the subject with this ATS reference, or update its contact fields (needs
    candidate:write in its country); a creation is audited as candidate.create."""
    gateway = gateway_for(installation, principal, clock=clock)
    created, fields, version = gateway.upsert(
        request.external_ref, country_code(request.country, "country"), request.changes,
        reason=request.reason,
    )  # fmt: skip
    return UpsertResult(created, CandidateView(fields, version))


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
