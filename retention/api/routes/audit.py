"""`/v1/audit`: the tamper-evident log for auditors, through `retention.operations` as
`gdpr audit` does.

The latest signed checkpoint and a freshly signed one are the C2SP signed note, `text/plain`,
byte for byte what `gdpr audit checkpoint` prints; the verifier key is public (no token), as
`gdpr audit pubkey`. Proofs are the CLI's JSON (hashes in base64). Entries are read by cursor:
from `since` (a seq), optionally of one subject, a page at a time; `next` continues after the
last entry shown. Entries hold no personal data: subjects appear by UUID.
"""

from __future__ import annotations

import itertools
import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, status
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field

from retention.api.auth import PrincipalDep
from retention.api.pagination import (
    DEFAULT_LIMIT,
    CursorQuery,
    LimitQuery,
    Page,
    decode_cursor,
    encode_cursor,
)
from retention.api.problems import ApiProblem, ProblemKind, problems
from retention.api.state import ClockDep, InstallationDep
from retention.operations import (
    ConsistencyRequest,
    EntriesRequest,
    InclusionRequest,
    LatestCheckpoint,
    SignCheckpoint,
    audit_entries,
    consistency_proof,
    inclusion_proof,
    latest_checkpoint,
    sign_checkpoint,
    verifier_key,
)
from retention.results import json_data

__all__ = ["ConsistencyProofOut", "EntryOut", "InclusionProofOut", "router"]

router = APIRouter(prefix="/audit", tags=["audit"])

MAX_SEQ = 2**62  # beyond any log; keeps generated numbers inside the database's BIGINT

NOTE = {
    "content": {"text/plain": {"schema": {"type": "string"}}},
    "description": "A C2SP signed note: origin, size, root hash, blank line, signature lines.",
}


class InclusionProofOut(BaseModel):
    """Entry `leaf_index` is in the tree of `tree_size` entries whose root is `root`."""

    leaf_index: int
    tree_size: int
    leaf_hash: str = Field(description="base64")
    hashes: list[str] = Field(description="base64, RFC 6962 / 9162 order")
    root: str = Field(description="base64")


class ConsistencyProofOut(BaseModel):
    """The tree of `size1` entries (root `root1`) is a prefix of the tree of `size2`."""

    size1: int
    size2: int
    hashes: list[str]
    root1: str
    root2: str


class EntryOut(BaseModel):
    """One entry as it was hashed (its canonical JSON), with its leaf hash in hex."""

    seq: int
    ts: datetime
    actor: str
    action: str
    subject: uuid.UUID | None
    outcome: str
    reason: str
    details: dict[str, Any]
    prev: str
    leaf_hash: str


def _note(text: str, status_code: int = 200) -> PlainTextResponse:
    return PlainTextResponse(text, status_code=status_code, headers={"Cache-Control": "no-cache"})


@router.get(
    "/checkpoint",
    response_class=PlainTextResponse,
    summary="The latest signed checkpoint (audit:read)",
    responses={
        **problems(ProblemKind.FORBIDDEN, ProblemKind.NOT_FOUND),
        200: NOTE,
    },
)
def get_checkpoint(
    installation: InstallationDep, principal: PrincipalDep, clock: ClockDep
) -> PlainTextResponse:
    """404 until a first checkpoint is signed (`gdpr audit checkpoint`, the scheduler)."""
    done = latest_checkpoint(installation, principal, LatestCheckpoint(), clock=clock)
    return _note(done.note)


@router.post(
    "/checkpoints",
    status_code=status.HTTP_201_CREATED,
    response_class=PlainTextResponse,
    summary="Sign the current head, store it and witness it (audit:verify)",
    responses={
        **problems(ProblemKind.FORBIDDEN, ProblemKind.UNAVAILABLE),
        201: NOTE,
    },
)
def post_checkpoint(
    installation: InstallationDep, principal: PrincipalDep, clock: ClockDep
) -> PlainTextResponse:
    """`gdpr audit checkpoint`: the new note, exactly as the CLI prints it."""
    done = sign_checkpoint(installation, principal, SignCheckpoint(), clock=clock)
    return _note(done.note, status.HTTP_201_CREATED)


@router.get(
    "/verifier-key",
    response_class=PlainTextResponse,
    summary="The verifier key of the checkpoints (public: no token)",
    responses={
        422: problems()[422],
        503: problems(ProblemKind.UNAVAILABLE)[503],
        200: {
            "content": {"text/plain": {"schema": {"type": "string"}}},
            "description": "The verifier key in note format, as `gdpr audit pubkey` prints it",
        },
    },
)
def get_verifier_key(installation: InstallationDep) -> PlainTextResponse:
    key = verifier_key(installation)
    return PlainTextResponse(
        key.verifier_key + "\n", headers={"Cache-Control": "public, max-age=300"}
    )


@router.get(
    "/proofs/inclusion",
    summary="Inclusion proof of entry `seq` in the log of `size` entries (audit:read)",
    responses=problems(ProblemKind.BAD_REQUEST, ProblemKind.FORBIDDEN, ProblemKind.CONFLICT),
)
def get_inclusion_proof(
    installation: InstallationDep,
    principal: PrincipalDep,
    clock: ClockDep,
    seq: Annotated[int, Query(ge=0, le=MAX_SEQ, description="The entry's seq.")],
    size: Annotated[
        int | None, Query(ge=1, le=MAX_SEQ, description="Tree size (default: the whole log).")
    ] = None,
) -> InclusionProofOut:
    proof = inclusion_proof(installation, principal, InclusionRequest(seq, size), clock=clock)
    return InclusionProofOut.model_validate(json_data(proof))


@router.get(
    "/proofs/consistency",
    summary="Consistency proof: the log of `from` entries is a prefix of the log of `to`",
    responses=problems(ProblemKind.BAD_REQUEST, ProblemKind.FORBIDDEN, ProblemKind.CONFLICT),
)
def get_consistency_proof(
    installation: InstallationDep,
    principal: PrincipalDep,
    clock: ClockDep,
    size1: Annotated[int, Query(alias="from", ge=1, le=MAX_SEQ, description="Older size.")],
    size2: Annotated[
        int | None, Query(alias="to", ge=1, le=MAX_SEQ, description="Newer size (default: now).")
    ] = None,
) -> ConsistencyProofOut:
    request = ConsistencyRequest(size1, size2)
    proof = consistency_proof(installation, principal, request, clock=clock)
    return ConsistencyProofOut.model_validate(json_data(proof))


@router.get(
    "/entries",
    summary="Entries in seq order from `since`, optionally of one subject (audit:read)",
    responses=problems(ProblemKind.BAD_REQUEST, ProblemKind.FORBIDDEN),
)
def get_entries(
    installation: InstallationDep,
    principal: PrincipalDep,
    clock: ClockDep,
    since: Annotated[int, Query(ge=0, le=MAX_SEQ, description="First seq to show.")] = 0,
    subject: Annotated[uuid.UUID | None, Query(description="Only entries about it.")] = None,
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
) -> Page[EntryOut]:
    """A page of entries; pass `next` as `cursor` (with the same `subject`) for the following."""
    position = decode_cursor(cursor)
    if position is not None:
        if not isinstance(position, int) or isinstance(position, bool) or position < 0:
            raise ApiProblem(ProblemKind.BAD_REQUEST, "malformed cursor")
        since = position + 1
    stream = audit_entries(installation, principal, EntriesRequest(since, subject), clock=clock)
    try:
        taken = list(itertools.islice(stream, limit + 1))
    finally:
        close = getattr(stream, "close", None)
        if close is not None:
            close()  # ends the read snapshot
    items = [EntryOut.model_validate(json_data(e)) for e in taken[:limit]]
    more = len(taken) > limit
    return Page[EntryOut](items=items, next=encode_cursor(items[-1].seq) if more else None)
