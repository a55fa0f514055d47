"""The access decision: a pure function from a principal, its grants and a request to yes or no.

Deny by default: only an active, approved, unexpired, unrevoked grant of a role that includes the
permission, covering the subject's country, allows; a disabled principal gets nothing. Keeping the
decision free of I/O makes it exhaustively testable, fast enough to run on every operation (so a
grant that expires during a long command stops it), and explainable by `gdpr access check`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from retention.access.permissions import ROLE_PERMISSIONS, Permission, Role

__all__ = ["ALL_COUNTRIES", "Decision", "GrantStatus", "GrantView", "PrincipalView", "decide"]

ALL_COUNTRIES = "*"


class GrantStatus(StrEnum):
    PENDING = "pending"
    ACTIVE = "active"


@dataclass(frozen=True, slots=True)
class PrincipalView:
    """Who asks: enough of a principal to decide (no secrets)."""

    id: UUID
    name: str
    disabled_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class GrantView:
    """One grant as the decision sees it. `countries` None means every country ('*')."""

    id: UUID
    principal_id: UUID
    role: Role
    countries: frozenset[str] | None
    status: GrantStatus
    expires_at: datetime
    revoked_at: datetime | None = None
    # Derived once, because `decide` runs on every operation and in tight loops.
    permissions: frozenset[Permission] = field(init=False, repr=False, compare=False)
    label: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "permissions", ROLE_PERMISSIONS[self.role])
        object.__setattr__(self, "label", f"grant {self.id} ({self.role})")

    def covers(self, country: str | None) -> bool:
        # A request about no single country (None) needs a grant for all of them.
        if self.countries is None:
            return True
        return country is not None and country in self.countries

    @property
    def countries_text(self) -> str:
        return ALL_COUNTRIES if self.countries is None else ",".join(sorted(self.countries))


@dataclass(frozen=True, slots=True)
class Decision:
    """The answer, with the grant that allowed it or the reason it was denied."""

    allowed: bool
    grant_id: UUID | None
    denial: str = ""
    role: Role | None = None
    grant: GrantView | None = None

    @property
    def reason(self) -> str:
        """Why: the allowing grant, or the closest miss (built only when asked)."""
        if self.grant is not None:
            return f"allowed by {self.grant.label[:-1]}, countries {self.grant.countries_text})"
        return self.denial


def decide(
    principal: PrincipalView,
    grants: Iterable[GrantView],
    permission: Permission,
    country: str | None,
    at: datetime,
) -> Decision:
    """Decide whether `principal` may use `permission` on a subject of `country` at instant `at`.

    `country` None asks for the permission everywhere (a request about no single subject). The
    denial reason names the closest miss, so `access check` can say what to fix.
    """
    if principal.disabled_at is not None and principal.disabled_at <= at:
        return Decision(False, None, "the principal is disabled")
    miss: str | None = None
    miss_rank = -1
    principal_id = principal.id
    for grant in grants:
        if permission not in grant.permissions or grant.principal_id != principal_id:
            continue
        # Rank the misses so the explanation points at the most relevant grant.
        if grant.revoked_at is not None and grant.revoked_at <= at:
            rank, why = 1, "was revoked"
        elif grant.expires_at <= at:
            rank, why = 2, "expired"
        elif grant.status is not GrantStatus.ACTIVE:
            rank, why = 3, "is pending approval"
        elif not grant.covers(country):
            where = "every country" if country is None else country
            rank, why = 4, f"covers {grant.countries_text}, not {where}"
        else:
            return Decision(True, grant.id, "", grant.role, grant)
        if rank > miss_rank:
            miss, miss_rank = f"{grant.label} {why}", rank
    return Decision(False, None, miss or f"no grant gives {permission}")
