"""`/v1/candidates`: personal data of data subjects, every access audited by the operation.

The model router: request and response models beside the endpoints, each endpoint a plain `def`
(run in the threadpool: the engine is synchronous) that calls exactly one operation of
`retention.operations` with the installation, the authenticated principal and a request value.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Self

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, model_validator

from retention.api.auth import PrincipalDep
from retention.api.params import ReasonHeader
from retention.api.problems import ProblemKind, problems
from retention.api.state import ClockDep, InstallationDep
from retention.operations import (
    CandidateView,
    FindCandidates,
    ShowCandidate,
    find_candidates,
    show_candidate,
)

__all__ = ["Candidate", "CandidateList", "CandidateSearch", "router"]

router = APIRouter(prefix="/candidates", tags=["candidates"])


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


class CandidateSearch(BaseModel):
    """Find by e-mail address or ATS reference: in a body, so addresses never reach a URL."""

    model_config = ConfigDict(extra="forbid")

    email: str | None = Field(default=None, min_length=3, max_length=320)
    external_ref: str | None = Field(default=None, min_length=1, max_length=128)

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        if (self.email is None) == (self.external_ref is None):
            raise ValueError("give exactly one of email or external_ref")
        return self


@router.get(
    "/{candidate_id}",
    summary="Read one candidate (audited)",
    responses=problems(ProblemKind.BAD_REQUEST, ProblemKind.FORBIDDEN, ProblemKind.NOT_FOUND),
)
def get_candidate(
    candidate_id: uuid.UUID,
    installation: InstallationDep,
    principal: PrincipalDep,
    clock: ClockDep,
    reason: ReasonHeader = None,
) -> Candidate:
    """The record, returned only after the read is on the audit record (needs candidate:read)."""
    view = show_candidate(installation, principal, ShowCandidate(candidate_id, reason), clock=clock)
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
