"""`ETag` and `If-Match`: a change is made only to the version of a resource the client read.

A resource that can be changed answers with `ETag: "<version>"` (the operation's version of
the record, e.g. `CandidateView.version`). Its update endpoint declares
`if_match: IfMatchHeader` and passes `expected_versions(if_match)` to the operation, which
checks it in the transaction that changes the record (no gap between check and write) and
raises `StaleVersion` when it moved: 412. Without `If-Match` the update is refused with 428
(a client must say what it is changing); `If-Match: *` accepts any current version.
Comparison is strong (RFC 9110 13.1.1): weak tags never match.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Header

from retention.api.problems import ApiProblem, ProblemKind

__all__ = ["IfMatchHeader", "etag", "expected_versions"]

IfMatchHeader = Annotated[
    str | None,
    Header(
        alias="If-Match",
        max_length=2000,
        description='The ETag of the version you read, like "3f2a..."; * for any.',
    ),
]


def etag(version: str) -> str:
    return f'"{version}"'


def expected_versions(if_match: str | None) -> frozenset[str] | None:
    """The versions `If-Match` accepts (None: any); 428 without the header."""
    if if_match is None or not if_match.strip():
        raise ApiProblem(
            ProblemKind.PRECONDITION_REQUIRED,
            "send If-Match with the ETag of the version you read (or * for any)",
        )
    if if_match.strip() == "*":
        return None
    versions = set()
    for tag in if_match.split(","):
        tag = tag.strip()
        if len(tag) >= 2 and tag.startswith('"') and tag.endswith('"'):
            versions.add(tag[1:-1])
    return frozenset(versions)
