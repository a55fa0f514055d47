"""The join to "the consent given last per purpose" that the compiled rules read consents from.

DESIGN.md: where a subject has several consents for one purpose (renewals), the one given last
counts. The caller owns the consent table; this builds, in Core, one outer join per purpose and
the ColumnMap accessor over it, so every caller joins consents the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import FromClause, Select, and_, case, exists, or_
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import NamedFromClause

ConsentColumns = Callable[[str, str], ColumnElement[Any]]
"""(purpose, field) -> that column of the consent given last for the purpose (`ColumnMap.consent`)."""


def latest_consent(
    consent: FromClause, purpose: str, *, subject: str = "candidate_id"
) -> NamedFromClause:
    """An alias of the consent table, to be outer-joined on `latest_consent_on`."""
    return consent.alias(f"consent_{purpose}")


def latest_consent_on(
    latest: FromClause,
    consent: FromClause,
    subject_id: ColumnElement[Any],
    purpose: str,
    subject: str,
) -> ColumnElement[bool]:
    """Join condition: this subject's consent for `purpose` with no later-given one.

    An anti-join rather than a window function: with an index on
    consent (candidate_id, purpose, given_at) it is one index probe per subject. Ties on
    given_at are broken by the highest `id` when the table has one.
    """
    newer = consent.alias(f"newer_{purpose}")
    later = newer.c.given_at > latest.c.given_at
    if "id" in consent.c:
        later = or_(later, and_(newer.c.given_at == latest.c.given_at, newer.c.id > latest.c.id))
    return and_(
        latest.c[subject] == subject_id,
        latest.c.purpose == purpose,
        latest.c.given_at.is_not(None),
        ~exists().where(newer.c[subject] == latest.c[subject], newer.c.purpose == purpose, later),
    )


def subject_key(
    subject_id: ColumnElement[Any], needed: ColumnElement[bool] | None
) -> ColumnElement[Any]:
    """The join key: the subject's id where its consents are `needed`, else NULL.

    A NULL key matches nothing, and SQLite then skips the index probe altogether (a condition
    on the subject alone in the ON clause would still probe first).
    """
    return subject_id if needed is None else case((needed, subject_id), else_=None)


def outerjoin_latest_consents(
    from_: FromClause,
    subject_id: ColumnElement[Any],
    consent: FromClause,
    purposes: Iterable[str],
    *,
    subject: str = "candidate_id",
    needed: ColumnElement[bool] | None = None,
) -> tuple[FromClause, ConsentColumns]:
    """`from_` outer-joined to the latest consent of each purpose; returns the join and accessor.

    As `join_latest_consents`, for a caller that builds its FROM clause itself (a subquery of
    the subjects, say) rather than a SELECT.
    """
    aliases: dict[str, NamedFromClause] = {}
    key = subject_key(subject_id, needed)
    joined = from_
    for purpose in sorted(set(purposes)):
        latest = latest_consent(consent, purpose, subject=subject)
        joined = joined.outerjoin(latest, latest_consent_on(latest, consent, key, purpose, subject))
        aliases[purpose] = latest

    def accessor(purpose: str, field: str) -> ColumnElement[Any]:
        return aliases[purpose].c[field]

    return joined, accessor


def join_latest_consents(
    query: Select[Any],
    subject_id: ColumnElement[Any],
    consent: FromClause,
    purposes: Iterable[str],
    *,
    subject: str = "candidate_id",
    needed: ColumnElement[bool] | None = None,
) -> tuple[Select[Any], ConsentColumns]:
    """Outer-join the latest consent of each purpose; returns the query and the accessor.

    With `needed` (see `consent_needed`), rows for which it is false join no consent at all.
    """
    aliases: dict[str, NamedFromClause] = {}
    key = subject_key(subject_id, needed)
    for purpose in sorted(set(purposes)):
        latest = latest_consent(consent, purpose, subject=subject)
        on = latest_consent_on(latest, consent, key, purpose, subject)
        query = query.outerjoin(latest, on)
        aliases[purpose] = latest

    def accessor(purpose: str, field: str) -> ColumnElement[Any]:
        return aliases[purpose].c[field]

    return query, accessor
