"""The access decision: a pure function from a principal, its grants and a request to yes or no.

Deny by default: only an active, approved, unexpired, unrevoked grant of a role that includes the
permission, covering the subject's country, allows; a disabled principal gets nothing. Keeping the
decision free of I/O makes it exhaustively testable, fast enough to run on every operation (so a
grant that expires during a long command stops it), and explainable by `gdpr access check`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from retention.permissions import ROLE_PERMISSIONS, Permission, Role

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
    reason: str
    role: Role | None = None


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
    for grant in grants:
        if grant.principal_id != principal.id or permission not in ROLE_PERMISSIONS[grant.role]:
            continue
        # Rank the reasons so the explanation points at the most relevant grant.
        if grant.revoked_at is not None and grant.revoked_at <= at:
            rank, why = 1, f"grant {grant.id} ({grant.role}) was revoked"
        elif grant.expires_at <= at:
            rank, why = 2, f"grant {grant.id} ({grant.role}) expired"
        elif grant.status is not GrantStatus.ACTIVE:
            rank, why = 3, f"grant {grant.id} ({grant.role}) is pending approval"
        elif not grant.covers(country):
            where = "every country" if country is None else country
            rank = 4
            why = f"grant {grant.id} ({grant.role}) covers {grant.countries_text}, not {where}"
        else:
            return Decision(
                True,
                grant.id,
                f"allowed by grant {grant.id} ({grant.role}, countries {grant.countries_text})",
                grant.role,
            )
        if rank > miss_rank:
            miss, miss_rank = why, rank
    return Decision(False, None, miss or f"no grant gives {permission}")
