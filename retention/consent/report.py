"""Renewal figures per country and purpose, for `gdpr consent report` and the evidence pack.

Counts only (no subject is named): consents in force expiring within 30 days, consents asked to
renew, reminded, renewed, withdrawn, expired without an answer after being asked, and the renewal
rate (renewed / asked). Each figure is one grouped statement over the events and the current
state; optional bounds restrict the events to a period (the evidence pack's).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, distinct, exists, func, or_, select

from retention.store import Candidate, Consent, ConsentEvent, table_of

__all__ = ["REPORT_HEADER", "RenewalFigures", "renewal_figures"]

REPORT_HEADER = (
    "country",
    "purpose",
    "expiring_30d",
    "asked",
    "reminded",
    "renewed",
    "withdrawn",
    "expired_unanswered",
    "renewal_rate",
)

_c = table_of(Consent)
_cand = table_of(Candidate)
_ev = table_of(ConsentEvent)


@dataclass(frozen=True)
class RenewalFigures:
    country: str
    purpose: str
    expiring_30d: int = 0
    asked: int = 0
    reminded: int = 0
    renewed: int = 0
    withdrawn: int = 0
    expired_unanswered: int = 0

    @property
    def renewal_rate(self) -> float | None:
        return round(self.renewed / self.asked, 4) if self.asked else None

    def row(self) -> tuple[Any, ...]:
        rate = "" if self.renewal_rate is None else f"{self.renewal_rate:.4f}"
        return (
            self.country,
            self.purpose,
            self.expiring_30d,
            self.asked,
            self.reminded,
            self.renewed,
            self.withdrawn,
            self.expired_unanswered,
            rate,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            **dict(zip(REPORT_HEADER, self.row(), strict=True)),
            "renewal_rate": self.renewal_rate,
        }


def _events(
    conn: Connection, where: list[Any], start: datetime | None, end: datetime | None, *, count: Any
) -> dict[tuple[str, str], int]:
    q = (
        select(_cand.c.country, _ev.c.purpose, count)
        .select_from(_ev.join(_cand, _cand.c.id == _ev.c.candidate_id))
        .where(*where)
        .group_by(_cand.c.country, _ev.c.purpose)
    )
    if start is not None:
        q = q.where(_ev.c.at >= start)
    if end is not None:
        q = q.where(_ev.c.at < end)
    return {(r[0], r[1]): int(r[2]) for r in conn.execute(q)}


def renewal_figures(
    conn: Connection,
    at: datetime,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    country: str | None = None,
) -> list[RenewalFigures]:
    """The figures per (country, purpose), sorted; events within [start, end) when given."""
    newer = _c.alias("newer")
    latest = ~exists().where(
        newer.c.candidate_id == _c.c.candidate_id,
        newer.c.purpose == _c.c.purpose,
        or_(
            newer.c.given_at > _c.c.given_at,
            and_(newer.c.given_at == _c.c.given_at, newer.c.id > _c.c.id),
        ),
    )
    expiring_q = (
        select(_cand.c.country, _c.c.purpose, func.count())
        .select_from(_c.join(_cand, _cand.c.id == _c.c.candidate_id))
        .where(
            _cand.c.anonymized_at.is_(None),
            _c.c.withdrawn_at.is_(None),
            _c.c.expires_at > at,
            _c.c.expires_at <= at + timedelta(days=30),
            latest,
        )
        .group_by(_cand.c.country, _c.c.purpose)
    )
    expiring = {(r[0], r[1]): int(r[2]) for r in conn.execute(expiring_q)}
    distinct_consents = func.count(distinct(_ev.c.consent_id))
    asked = _events(
        conn,
        [_ev.c.kind == "requested", _ev.c.method == "renewal-ask"],
        start,
        end,
        count=distinct_consents,
    )
    reminded = _events(
        conn,
        [_ev.c.kind == "requested", _ev.c.method == "renewal-reminder"],
        start,
        end,
        count=distinct_consents,
    )
    renewed = _events(
        conn, [_ev.c.kind == "renewed", _ev.c.renews.is_not(None)], start, end, count=func.count()
    )
    withdrawn = _events(conn, [_ev.c.kind == "withdrawn"], start, end, count=func.count())
    req = _ev.alias("req")
    expired = _events(
        conn,
        [
            _ev.c.kind == "expired",
            exists().where(req.c.consent_id == _ev.c.consent_id, req.c.kind == "requested"),
        ],
        start,
        end,
        count=func.count(),
    )
    keys = set(expiring) | set(asked) | set(reminded) | set(renewed) | set(withdrawn) | set(expired)
    out = [
        RenewalFigures(
            country=k[0],
            purpose=k[1],
            expiring_30d=expiring.get(k, 0),
            asked=asked.get(k, 0),
            reminded=reminded.get(k, 0),
            renewed=renewed.get(k, 0),
            withdrawn=withdrawn.get(k, 0),
            expired_unanswered=expired.get(k, 0),
        )
        for k in sorted(keys)
        if country is None or k[0] == country
    ]
    return out
