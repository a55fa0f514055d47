"""The join to "the consent given last per purpose" that the compiled rules read consents from.

DESIGN.md: where a subject has several consents for one purpose (renewals), the one given last
counts. The caller owns the consent table; this builds, in Core, one ranked subquery per purpose
and the ColumnMap accessor over them, so every caller joins consents the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import FromClause, Select, and_, func, select
from sqlalchemy.sql.elements import ColumnElement

_FIELDS = ("given_at", "expires_at", "withdrawn_at")


def latest_consent(consent: FromClause, purpose: str, *, subject: str = "candidate_id") -> Any:
    """Subquery: per subject, the consent for `purpose` with the greatest given_at.

    Ties on given_at are broken by the highest `id` when the table has one.
    """
    order = [consent.c.given_at.desc()]
    if "id" in consent.c:
        order.append(consent.c.id.desc())
    ranked = (
        select(
            consent.c[subject].label("subject"),
            *(consent.c[f] for f in _FIELDS),
            func.row_number().over(partition_by=consent.c[subject], order_by=order).label("rank"),
        )
        .where(consent.c.purpose == purpose, consent.c.given_at.is_not(None))
        .subquery()
    )
    return select(ranked).where(ranked.c.rank == 1).subquery(f"consent_{purpose}")


def join_latest_consents(
    query: Select[Any],
    subject_id: ColumnElement[Any],
    consent: FromClause,
    purposes: Iterable[str],
    *,
    subject: str = "candidate_id",
) -> tuple[Select[Any], Callable[[str, str], ColumnElement[Any]]]:
    """Outer-join the latest consent of each purpose; returns the query and the accessor."""
    subs = {}
    for purpose in sorted(set(purposes)):
        sub = latest_consent(consent, purpose, subject=subject)
        query = query.outerjoin(sub, and_(sub.c.subject == subject_id))
        subs[purpose] = sub

    def accessor(purpose: str, field: str) -> ColumnElement[Any]:
        return subs[purpose].c[field]  # type: ignore[no-any-return]

    return query, accessor
