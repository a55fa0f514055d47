"""`/v1/candidates`: personal data of data subjects, every access audited by the operation.

The model router: request and response models beside the endpoints, each endpoint a plain `def`
(run in the threadpool: the engine is synchronous) that calls exactly one operation of
`retention.operations` with the installation, the authenticated principal and a request value.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Self

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from retention.api.auth import PrincipalDep
from retention.api.etags import IfMatchHeader, etag, expected_versions
from retention.api.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery, Page, decode_cursor
from retention.api.params import ReasonHeader, RequiredReasonHeader
from retention.api.problems import ApiProblem, ProblemKind, problems
from retention.api.state import ClockDep, InstallationDep
from retention.operations import (
    CandidateView,
    ConsentView,
    EraseCandidate,
    ExportCandidate,
    FindCandidates,
    ListConsents,
    RecordConsent,
    ShowCandidate,
    UpdateCandidate,
    UpsertCandidate,
    WithdrawConsent,
    erase_candidate,
    export_candidate,
    find_candidates,
    list_consents,
    record_consent,
    show_candidate,
    update_candidate,
    upsert_candidate,
    withdraw_consent,
)

__all__ = [
    "Candidate",
    "CandidateChanges",
    "CandidateList",
    "CandidateSearch",
    "CandidateUpsert",
    "CandidateWritten",
    "Consent",
    "ConsentGiven",
    "ConsentWithdrawn",
    "Erasure",
    "router",
]

router = APIRouter(prefix="/candidates", tags=["candidates"])

# The engine's own rules (retention.subjects.consents), stated in the schema too.
PURPOSE = r"^[a-z][a-z0-9_]{0,63}$"
NOTICE = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"


class Candidate(BaseModel):
    """A data subject's record, as an authorized reader sees it."""

    id: uuid.UUID
    external_ref: str | None
    country: str = Field(min_length=2, max_length=2)
    status: str
    first_name: str | None
    last_name: str | None
    email: str | None
    phone: str | None
    city: str | None
    notes: str | None
    applied_at: datetime | None
    decided_at: datetime | None
    last_activity_at: datetime | None
    anonymized_at: datetime | None
    blocked_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, view: CandidateView) -> Self:
        return cls.model_validate(dict(view.fields))


class CandidateList(BaseModel):
    items: list[Candidate]


# Neither side of the @ holds an @, a control character or white space. Spelled out, not `\s`:
# its meaning differs between the dialects that read this pattern (pydantic's Rust regex counts
# U+0085 as space, ECMA-262, which the OpenAPI schema means and schemathesis generates by, counts
# U+FEFF and not U+0085), so a client following the schema could be refused.
_ADDRESS_PART = r"[^@\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]+"


class CandidateSearch(BaseModel):
    """Find by e-mail address or ATS reference: in a body, so addresses never reach a URL."""

    # The schema says "exactly one of", as the validator does (schemathesis checks both agree).
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "oneOf": [
                {"required": ["email"], "properties": {"email": {"type": "string"}}},
                {"required": ["external_ref"], "properties": {"external_ref": {"type": "string"}}},
            ]
        },
    )

    email: str | None = Field(
        default=None, max_length=320, pattern=f"^{_ADDRESS_PART}@{_ADDRESS_PART}$"
    )
    external_ref: str | None = Field(default=None, pattern=r"^[\x21-\x7e]{1,128}$")

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        if (self.email is None) == (self.external_ref is None):
            raise ValueError("give exactly one of email or external_ref")
        return self


class ContactFields(BaseModel):
    """Contact fields to set; null or "" clears one. Only the fields sent are changed."""

    model_config = ConfigDict(extra="forbid")

    first_name: str | None = Field(default=None, max_length=200)
    last_name: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=64)
    city: str | None = Field(default=None, max_length=200)

    def changes(self) -> dict[str, str]:
        # The engine clears a field given as "" (the CLI's convention); null means the same here.
        return {name: getattr(self, name) or "" for name in sorted(self.model_fields_set)}


class CandidateChanges(ContactFields):
    """A partial update of a candidate's contact fields."""


class CandidateUpsert(ContactFields):
    """Create the candidate an ATS knows as `external_ref`, or update its contact fields."""

    external_ref: str = Field(min_length=1, max_length=128, pattern=r"^[\x21-\x7e]+$")
    country: str = Field(pattern=r"^[A-Za-z]{2}$", description="ISO 3166-1 alpha-2")

    def changes(self) -> dict[str, str]:
        return {k: v for k, v in super().changes().items() if k not in ("external_ref", "country")}


class CandidateWritten(BaseModel):
    """What a write returns to a principal that may not read the candidate (an integration)."""

    id: uuid.UUID
    updated: list[str]


class Consent(BaseModel):
    id: int
    candidate_id: uuid.UUID
    purpose: str
    notice_version: str
    channel: str
    given_at: datetime
    expires_at: datetime | None
    withdrawn_at: datetime | None

    @classmethod
    def of(cls, view: ConsentView) -> Self:
        return cls.model_validate(view, from_attributes=True)


class ConsentGiven(BaseModel):
    """A consent given now, with the version of the notice the person saw."""

    model_config = ConfigDict(extra="forbid")

    purpose: str = Field(pattern=PURPOSE, description="A lowercase name like talent_pool")
    notice: str = Field(pattern=NOTICE, description="Notice version, like 2026-01 or v3")
    channel: str = Field(min_length=1, max_length=64, description="Where, like 'web form'")
    expires: str | None = Field(default=None, max_length=16, description="A validity like 24m")


class ConsentWithdrawal(BaseModel):
    model_config = ConfigDict(extra="forbid")

    purpose: str = Field(pattern=PURPOSE)


class ConsentWithdrawn(BaseModel):
    subject: uuid.UUID
    purpose: str
    withdrawn: int


class Erasure(BaseModel):
    subject: uuid.UUID
    applications: int
    consents: int
    documents: int
    files_removed: int


def _written(view: CandidateView, response: Response) -> Candidate | CandidateWritten:
    response.headers["ETag"] = etag(view.version)
    if view.is_record:
        return Candidate.of(view)
    return CandidateWritten(id=view.id, updated=list(view.fields["updated"]))


@router.get(
    "/{candidate_id}",
    summary="Read one candidate (audited)",
    responses=problems(ProblemKind.BAD_REQUEST, ProblemKind.FORBIDDEN, ProblemKind.NOT_FOUND),
)
def get_candidate(
    candidate_id: uuid.UUID,
    response: Response,
    installation: InstallationDep,
    principal: PrincipalDep,
    clock: ClockDep,
    reason: ReasonHeader = None,
) -> Candidate:
    """The record, returned only after the read is on the audit record (needs candidate:read).

    Its `ETag` is what a later PATCH sends as `If-Match`."""
    view = show_candidate(installation, principal, ShowCandidate(candidate_id, reason), clock=clock)
    response.headers["ETag"] = etag(view.version)
    return Candidate.of(view)


@router.post(
    "/search",
    summary="Find candidates by e-mail or ATS reference (audited)",
    responses=problems(ProblemKind.BAD_REQUEST, ProblemKind.FORBIDDEN),
)
def search_candidates(
    body: CandidateSearch,
    installation: InstallationDep,
    principal: PrincipalDep,
    clock: ClockDep,
    reason: ReasonHeader = None,
) -> CandidateList:
    """Matches this principal may read; others are withheld and audited as denied attempts."""
    request = FindCandidates(email=body.email, external_ref=body.external_ref, reason=reason)
    found = find_candidates(installation, principal, request, clock=clock)
    return CandidateList(items=[Candidate.of(v) for v in found])


@router.post(
    "",
    summary="Create or update a candidate by its ATS reference (audited)",
    status_code=201,
    responses={
        200: {"model": Candidate | CandidateWritten, "description": "Updated (it existed)"},
        **problems(ProblemKind.BAD_REQUEST, ProblemKind.FORBIDDEN, ProblemKind.CONFLICT),
    },
)
def upsert(
    body: CandidateUpsert,
    request: Request,
    response: Response,
    installation: InstallationDep,
    principal: PrincipalDep,
    clock: ClockDep,
    reason: ReasonHeader = None,
) -> Candidate | CandidateWritten:
    """201 and `Location` when created, 200 when the reference existed (needs candidate:write
    in the country). The record comes back to a principal that may read it, else its id."""
    upsert_request = UpsertCandidate(body.external_ref, body.country, body.changes(), reason)
    done = upsert_candidate(installation, principal, upsert_request, clock=clock)
    if done.created:
        response.headers["Location"] = f"{request.url.path.rstrip('/')}/{done.candidate.id}"
    else:
        response.status_code = 200
    return _written(done.candidate, response)


@router.patch(
    "/{candidate_id}",
    summary="Change contact fields (If-Match required; audited)",
    responses=problems(
        ProblemKind.BAD_REQUEST,
        ProblemKind.FORBIDDEN,
        ProblemKind.NOT_FOUND,
        ProblemKind.PRECONDITION_FAILED,
        ProblemKind.PRECONDITION_REQUIRED,
    ),
)
def patch_candidate(
    candidate_id: uuid.UUID,
    body: CandidateChanges,
    response: Response,
    installation: InstallationDep,
    principal: PrincipalDep,
    clock: ClockDep,
    if_match: IfMatchHeader = None,
    reason: ReasonHeader = None,
) -> Candidate | CandidateWritten:
    """Only if the record is still the version of `If-Match` (412 otherwise, 428 without it)."""
    versions = expected_versions(if_match)
    request = UpdateCandidate(candidate_id, body.changes(), reason, versions)
    return _written(update_candidate(installation, principal, request, clock=clock), response)


@router.get(
    "/{candidate_id}/export",
    summary="Download everything held about a candidate (GDPR Art. 15, 20; audited)",
    response_class=Response,
    responses={
        200: {"content": {"application/json": {}}, "description": "The export document"},
        **problems(ProblemKind.BAD_REQUEST, ProblemKind.FORBIDDEN, ProblemKind.NOT_FOUND),
    },
)
def export(
    candidate_id: uuid.UUID,
    installation: InstallationDep,
    principal: PrincipalDep,
    clock: ClockDep,
    reason: ReasonHeader = None,
) -> Response:
    """The export document (needs candidate:export), sent once its audit entry (with the
    document's SHA-256, also in `Digest`-like `X-Content-SHA256`) is committed."""
    request = ExportCandidate(candidate_id, None, reason)
    result = export_candidate(installation, principal, request, clock=clock)
    assert result.data is not None
    return Response(
        result.data,
        media_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="subject-{result.subject}.json"',
            "X-Content-SHA256": result.sha256,
        },
    )


@router.delete(
    "/{candidate_id}",
    summary="Erase a candidate on request (Art. 17; GDPR-Reason required; audited)",
    responses=problems(
        ProblemKind.BAD_REQUEST, ProblemKind.FORBIDDEN, ProblemKind.NOT_FOUND, ProblemKind.CONFLICT
    ),
)
def erase(
    candidate_id: uuid.UUID,
    installation: InstallationDep,
    principal: PrincipalDep,
    clock: ClockDep,
    reason: RequiredReasonHeader,
) -> Erasure:
    """Needs candidate:erase; refused (409) while a legal hold is active."""
    result = erase_candidate(
        installation, principal, EraseCandidate(candidate_id, reason), clock=clock
    )
    return Erasure.model_validate(result, from_attributes=True)


@router.get(
    "/{candidate_id}/consents",
    summary="A candidate's consent history, oldest first (audited)",
    responses=problems(ProblemKind.BAD_REQUEST, ProblemKind.FORBIDDEN, ProblemKind.NOT_FOUND),
)
def consents(
    candidate_id: uuid.UUID,
    installation: InstallationDep,
    principal: PrincipalDep,
    clock: ClockDep,
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
) -> Page[Consent]:
    """Oldest first, paginated by (given_at, id); each page is one audited read."""
    after = decode_cursor(cursor)
    if after is not None and not (
        isinstance(after, list) and len(after) == 2 and isinstance(after[1], int)
    ):
        raise ApiProblem(ProblemKind.BAD_REQUEST, "malformed cursor: pass the 'next' of a page")
    views = list_consents(installation, principal, ListConsents(candidate_id), clock=clock)
    ordered = sorted((Consent.of(v) for v in views), key=_consent_position)
    rest = [c for c in ordered if after is None or _consent_position(c) > (after[0], after[1])]
    return Page[Consent].of(rest[: limit + 1], limit, key=lambda c: list(_consent_position(c)))


def _consent_position(consent: Consent) -> tuple[str, int]:
    return (consent.given_at.isoformat(), consent.id)


@router.post(
    "/{candidate_id}/consents",
    summary="Record a consent given now (audited)",
    status_code=201,
    responses=problems(ProblemKind.BAD_REQUEST, ProblemKind.FORBIDDEN, ProblemKind.NOT_FOUND),
)
def give_consent(
    candidate_id: uuid.UUID,
    body: ConsentGiven,
    installation: InstallationDep,
    principal: PrincipalDep,
    clock: ClockDep,
) -> Consent:
    """Needs consent:write in the candidate's country."""
    request = RecordConsent(candidate_id, body.purpose, body.notice, body.channel, body.expires)
    return Consent.of(record_consent(installation, principal, request, clock=clock))


@router.post(
    "/{candidate_id}/consents/withdraw",
    summary="Withdraw the consents for a purpose (audited; open on blocked subjects)",
    responses=problems(ProblemKind.BAD_REQUEST, ProblemKind.FORBIDDEN, ProblemKind.NOT_FOUND),
)
def withdraw(
    candidate_id: uuid.UUID,
    body: ConsentWithdrawal,
    installation: InstallationDep,
    principal: PrincipalDep,
    clock: ClockDep,
) -> ConsentWithdrawn:
    """Needs consent:write; says how many consents in force were withdrawn (400 if none)."""
    request = WithdrawConsent(candidate_id, body.purpose)
    done = withdraw_consent(installation, principal, request, clock=clock)
    return ConsentWithdrawn(subject=done.subject, purpose=done.purpose, withdrawn=done.withdrawn)
