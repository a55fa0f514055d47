"""What an evidence pack reads from the database besides the audit log: holds, reviews, grants,
consents and the figures of the report, as set-based Core queries.

The tables belong to other capabilities (legal holds, the sweep's review queue, access control),
some of which a given installation may not have yet; reading them by reflection, by name, keeps the
evidence pack from importing their ORM models and lets an export name exactly what was absent
instead of failing. Only the columns are reflected: queries need nothing else, and reflecting
indexes makes SQLAlchemy warn on stderr about the expression index on candidate e-mails. Only UUIDs, countries, statuses, principals' names and instants leave here:
free-text reasons and case notes may hold personal data and are never selected.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Column,
    Connection,
    MetaData,
    Table,
    and_,
    case,
    distinct,
    func,
    inspect,
    or_,
    select,
)
from sqlalchemy.sql.elements import ColumnElement

from audit_log import format_ts
from policies import PolicySet
from retention.consent import REPORT_HEADER, renewal_figures
from retention.sweep import decisions

__all__ = [
    "CONSENTS_HEADER",
    "GRANTS_HEADER",
    "HOLDS_HEADER",
    "RENEWALS_HEADER",
    "REQUESTS_HEADER",
    "REVIEWS_HEADER",
    "Bounds",
    "CoverageRow",
    "Due",
    "Sources",
]

HOLDS_HEADER = (
    "hold_id",
    "subject",
    "country",
    "case_ref",
    "placed_by",
    "placed_at",
    "released_at",
    "released_by",
)
REVIEWS_HEADER = (
    "review_id",
    "subject",
    "country",
    "policy",
    "rule",
    "policy_hash",
    "run_id",
    "queued_at",
    "decided_at",
    "decided_by",
    "decision",
    "keep_until",
)
CONSENTS_HEADER = ("purpose", "country", "given", "withdrawn", "expired")
REQUESTS_HEADER = (
    "request_id",
    "type",
    "country",
    "received",
    "due",
    "extended",
    "closed",
    "outcome",
    "days_taken",
    "on_time",
)
RENEWALS_HEADER = REPORT_HEADER
GRANTS_HEADER = (
    "principal",
    "principal_id",
    "role",
    "countries",
    "status",
    "granted_by",
    "approved_by",
    "granted_at",
    "approved_at",
    "expires_at",
    "revoked_at",
    "revoked_by",
)


@dataclass(frozen=True, slots=True)
class Bounds:
    """The period as naive UTC instants [start, end), the database's representation."""

    start: datetime
    end: datetime
    country: str | None

    @classmethod
    def of(cls, start: datetime, end: datetime, country: str | None) -> Bounds:
        return cls(_naive(start), _naive(end), country)


@dataclass(frozen=True, slots=True)
class CoverageRow:
    """Consent coverage of one country and purpose at the end of the period."""

    country: str
    purpose: str
    subjects: int
    covered: int


@dataclass(frozen=True, slots=True)
class Due:
    """Backlog of one country: due and waiting, due but held, undecidable by the policies."""

    due: int
    held: int
    undecided: int


def _naive(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(tzinfo=None)


def _instant(value: datetime | None) -> str:
    return "" if value is None else format_ts(value.replace(tzinfo=UTC))


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _uuid(value: Any) -> str:
    """A UUID in its dashed form, whatever the dialect returns for a reflected UUID column."""
    if value is None:
        return ""
    try:
        return str(value if isinstance(value, uuid.UUID) else uuid.UUID(str(value)))
    except ValueError:
        return str(value)


class Sources:
    """Reads one installation's tables in the caller's connection (one consistent snapshot)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._tables = set(inspect(conn).get_table_names())
        self._meta = MetaData()
        self.missing: list[str] = []
        self._names: dict[str, str] | None = None

    def has(self, name: str) -> bool:
        return name in self._tables

    def table(self, name: str, purpose: str) -> Table | None:
        """The reflected table, or None (and a note of what could not be exported)."""
        if name not in self._tables:
            self.missing.append(f"{purpose}: table {name} does not exist in this installation")
            return None
        if name in self._meta.tables:
            return self._meta.tables[name]
        columns = inspect(self._conn).get_columns(name)
        return Table(name, self._meta, *(Column(c["name"], c["type"]) for c in columns))

    # --- holds.csv and reviews.csv ------------------------------------------------------------

    def holds(self, b: Bounds) -> Iterator[Sequence[str]]:
        """Legal holds active at some point of the period (placed before its end, not released
        before its start), with the subject's country when the subject still exists."""
        h = self.table("legal_hold", "holds.csv")
        if h is None:
            return
        cand = self.table("candidate", "holds.csv countries")
        country = cand.c.country if cand is not None else None
        cols = [h.c.id, h.c.subject_id, country, h.c.case_ref, h.c.placed_by, h.c.placed_at]
        cols += [h.c.released_at, h.c.released_by]
        q = select(*[c for c in cols if c is not None])
        if cand is not None:
            q = q.select_from(h.outerjoin(cand, cand.c.id == h.c.subject_id))
        q = q.where(
            h.c.placed_at < b.end, or_(h.c.released_at.is_(None), h.c.released_at >= b.start)
        )
        if b.country is not None and country is not None:
            q = q.where(country == b.country)
        for row in self._conn.execute(q.order_by(h.c.placed_at, h.c.id)):
            m = row._mapping
            yield [
                _uuid(m[h.c.id]),
                _uuid(m[h.c.subject_id]),
                _text(m[country]) if country is not None else "",
                _text(m[h.c.case_ref]),
                _text(m[h.c.placed_by]),
                _instant(m[h.c.placed_at]),
                _instant(m[h.c.released_at]),
                _text(m[h.c.released_by]),
            ]

    def reviews(self, b: Bounds) -> Iterator[Sequence[str]]:
        """Review items open at some point of the period (the free-text reason is left out)."""
        r = self.table("review_item", "reviews.csv")
        if r is None:
            return
        q = select(r).where(
            r.c.queued_at < b.end, or_(r.c.decided_at.is_(None), r.c.decided_at >= b.start)
        )
        if b.country is not None:
            q = q.where(r.c.country == b.country)
        for m in self._conn.execute(q.order_by(r.c.queued_at, r.c.id)).mappings():
            yield [
                _uuid(m["id"]),
                _uuid(m["subject_id"]),
                _text(m["country"]),
                _text(m.get("policy")),
                _text(m.get("rule")),
                _text(m.get("policy_hash")),
                _uuid(m.get("run_id")),
                _instant(m.get("queued_at")),
                _instant(m.get("decided_at")),
                _text(m.get("decided_by")),
                _text(m.get("decision")),
                _instant(m.get("keep_until")),
            ]

    # --- consents ----------------------------------------------------------------------------

    def consents(self, b: Bounds) -> list[Sequence[str | int]]:
        """Per purpose and country: consents given, withdrawn and expired during the period."""
        c = self.table("consent", "consents.csv")
        cand = self.table("candidate", "consents.csv countries")
        if c is None or cand is None:
            return []
        counts: dict[tuple[str, str], list[int]] = {}
        expired = and_(
            c.c.expires_at >= b.start,
            c.c.expires_at < b.end,
            or_(c.c.withdrawn_at.is_(None), c.c.withdrawn_at > c.c.expires_at),
        )
        kinds: list[ColumnElement[bool]] = [
            and_(c.c.given_at >= b.start, c.c.given_at < b.end),
            and_(c.c.withdrawn_at >= b.start, c.c.withdrawn_at < b.end),
            expired,
        ]
        for i, cond in enumerate(kinds):
            q = (
                select(c.c.purpose, cand.c.country, func.count())
                .select_from(c.join(cand, cand.c.id == c.c.candidate_id))
                .where(cond)
                .group_by(c.c.purpose, cand.c.country)
            )
            if b.country is not None:
                q = q.where(cand.c.country == b.country)
            for purpose, country, n in self._conn.execute(q):
                counts.setdefault((purpose, country), [0, 0, 0])[i] = n
        return [[p, cc, *n] for (p, cc), n in sorted(counts.items())]

    def renewals(self, b: Bounds, at: datetime) -> list[Sequence[str | int]]:
        """Renewal figures per country and purpose (`gdpr consent report`'s), events of the
        period; `expiring_30d` as of `at` (when the pack is made)."""
        if self.table("consent_event", "consent-renewals.csv") is None:
            return []
        if self.table("mail_outbox", "consent-renewals.csv") is None:
            return []
        start, end = (t if t.tzinfo else t.replace(tzinfo=UTC) for t in (b.start, b.end))
        rows = renewal_figures(self._conn, at, start=start, end=end, country=b.country)
        return [list(r.row()) for r in rows]

    def coverage(self, b: Bounds) -> list[CoverageRow]:
        """At the end of the period: subjects per country, and how many hold a consent in force
        (given before the end, neither withdrawn nor expired by then) per purpose."""
        c = self.table("consent", "consent coverage")
        cand = self.table("candidate", "consent coverage")
        if c is None or cand is None:
            return []
        alive = and_(
            cand.c.created_at < b.end,
            or_(cand.c.anonymized_at.is_(None), cand.c.anonymized_at >= b.end),
        )
        if b.country is not None:
            alive = and_(alive, cand.c.country == b.country)
        q_subjects = select(cand.c.country, func.count()).where(alive).group_by(cand.c.country)
        subjects = {cc: n for cc, n in self._conn.execute(q_subjects)}
        in_force = and_(
            c.c.given_at < b.end,
            or_(c.c.withdrawn_at.is_(None), c.c.withdrawn_at >= b.end),
            or_(c.c.expires_at.is_(None), c.c.expires_at > b.end),
        )
        q = (
            select(cand.c.country, c.c.purpose, func.count(distinct(c.c.candidate_id)))
            .select_from(c.join(cand, cand.c.id == c.c.candidate_id))
            .where(alive, in_force)
            .group_by(cand.c.country, c.c.purpose)
        )
        covered = {(cc, p): n for cc, p, n in self._conn.execute(q)}
        purposes = sorted({p for _, p in covered})
        rows = []
        for country in sorted(subjects):
            for purpose in purposes:
                rows.append(
                    CoverageRow(
                        country, purpose, subjects[country], covered.get((country, purpose), 0)
                    )
                )
        return rows

    # --- requests.csv ------------------------------------------------------------------------

    def requests(self, b: Bounds, zone: ZoneInfo) -> list[Sequence[str]]:
        """Data-subject requests open at some time in the period: received before its end and
        not closed before its start. Ids, types, countries and dates: no contact, no method.
        Days taken count calendar days in the controller's zone; on time means closed by the
        end of the due day."""
        t = self.table("data_request", "requests.csv")
        if t is None:
            return []
        c = t.c
        q = select(
            c.id, c.type, c.country, c.received_at, c.due_on, c.due_at, c.extended_at,
            c.closed_at, c.status,
        ).where(
            c.received_at < b.end, or_(c.closed_at.is_(None), c.closed_at >= b.start)
        )  # fmt: skip
        if b.country is not None:
            q = q.where(c.country == b.country)
        rows: list[Sequence[str]] = []
        for r in self._conn.execute(q.order_by(c.received_at, c.id)):
            closed = r.closed_at is not None and r.closed_at < b.end
            days = ""
            on_time = ""
            if closed:
                local = r.closed_at.replace(tzinfo=UTC).astimezone(zone).date()
                received = r.received_at.replace(tzinfo=UTC).astimezone(zone).date()
                days = str((local - received).days)
                on_time = "yes" if r.closed_at < r.due_at else "no"
            rows.append(
                [
                    _uuid(r.id),
                    r.type,
                    r.country,
                    _instant(r.received_at),
                    str(r.due_on),
                    "yes" if r.extended_at is not None else "no",
                    _instant(r.closed_at) if closed else "",
                    r.status if closed else "",
                    days,
                    on_time,
                ]
            )
        return rows

    def overdue_requests(self, at: datetime, country: str | None) -> int:
        """Open requests past their deadline at `at`."""
        if not self.has("data_request"):
            return 0
        t = self.table("data_request", "requests overdue")
        assert t is not None
        q = select(func.count()).where(t.c.closed_at.is_(None), t.c.due_at <= _naive(at))
        if country is not None:
            q = q.where(t.c.country == country)
        return int(self._conn.execute(q).scalar_one())

    # --- backlog -----------------------------------------------------------------------------

    def held_subjects(self, b: Bounds) -> dict[str, int]:
        """Subjects under an active legal hold at the end of the period, per country."""
        h = self.table("legal_hold", "backlog (holds)")
        cand = self.table("candidate", "backlog (holds)")
        if h is None or cand is None:
            return {}
        active = and_(
            h.c.placed_at < b.end, or_(h.c.released_at.is_(None), h.c.released_at >= b.end)
        )
        q = (
            select(cand.c.country, func.count(distinct(h.c.subject_id)))
            .select_from(h.join(cand, cand.c.id == h.c.subject_id))
            .where(active)
            .group_by(cand.c.country)
        )
        if b.country is not None:
            q = q.where(cand.c.country == b.country)
        return {cc: n for cc, n in self._conn.execute(q)}

    def open_reviews(self, b: Bounds) -> dict[str, tuple[int, str]]:
        """Review items still undecided at the end of the period: count and oldest, per country."""
        if not self.has("review_item"):
            return {}
        r = self.table("review_item", "backlog (reviews)")
        assert r is not None
        q = (
            select(r.c.country, func.count(), func.min(r.c.queued_at))
            .where(r.c.queued_at < b.end, or_(r.c.decided_at.is_(None), r.c.decided_at >= b.end))
            .group_by(r.c.country)
        )
        if b.country is not None:
            q = q.where(r.c.country == b.country)
        return {cc: (n, _instant(oldest)) for cc, n, oldest in self._conn.execute(q)}

    def due(self, policy_set: PolicySet, at: datetime, country: str | None) -> dict[str, Due]:
        """Per country, what the policies say at `at` about subjects not yet anonymized: due and
        waiting for the next sweep, due but held, and undecidable (no policy, missing anchor).

        The same decision query the sweep and its plan use, read only (no plan is recorded)."""
        d = decisions(policy_set, at, country=country)
        sub = d.query.subquery("decision")
        q = select(
            sub.c.country,
            func.sum(sub.c.actionable),
            func.sum(sub.c.held),
            func.sum(case((sub.c.error.is_not(None), 1), else_=0)),
        ).group_by(sub.c.country)
        out = {}
        for cc, due, held, undecided in self._conn.execute(q, d.params):
            out[cc] = Due(int(due or 0), int(held or 0), int(undecided or 0))
        return out

    # --- access ------------------------------------------------------------------------------

    def grants(self, b: Bounds) -> list[Sequence[str]]:
        """Grants in force at some point of the period (created before its end, neither expired
        nor revoked before its start), pending ones included; principals by name and id."""
        g = self.table("access_grant", "access.csv grants")
        if g is None:
            return []
        q = select(g).where(
            g.c.created_at < b.end,
            g.c.expires_at >= b.start,
            or_(g.c.revoked_at.is_(None), g.c.revoked_at >= b.start),
        )
        names = self.principal_names()
        rows: list[Sequence[str]] = []
        for m in self._conn.execute(q.order_by(g.c.created_at, g.c.id)).mappings():
            countries = _text(m["countries"])
            listed = countries.split(",")
            if b.country is not None and "*" not in listed and b.country not in listed:
                continue
            rows.append(
                [
                    names.get(_uuid(m["principal_id"]), ""),
                    _uuid(m["principal_id"]),
                    _text(m["role"]),
                    countries,
                    _text(m.get("status")),
                    names.get(_uuid(m.get("granted_by")), _uuid(m.get("granted_by"))),
                    names.get(_uuid(m.get("approved_by")), _uuid(m.get("approved_by"))),
                    _instant(m.get("created_at")),
                    _instant(m.get("approved_at")),
                    _instant(m.get("expires_at")),
                    _instant(m.get("revoked_at")),
                    names.get(_uuid(m.get("revoked_by")), _uuid(m.get("revoked_by"))),
                ]
            )
        return rows

    def run_policy_hashes(self, b: Bounds) -> set[str]:
        """Policy set hashes the sweep runs of the period evaluated against."""
        if not self.has("retention_run"):
            return set()
        r = self.table("retention_run", "sweep runs")
        assert r is not None
        q = (
            select(r.c.policy_hash)
            .distinct()
            .where(
                r.c.started_at < b.end, or_(r.c.finished_at.is_(None), r.c.finished_at >= b.start)
            )
        )
        return {h for (h,) in self._conn.execute(q) if h}

    def principal_names(self) -> dict[str, str]:
        """Principal id (dashed) -> name, for showing who acted (empty without access control)."""
        if self._names is None:
            self._names = {}
            if self.has("principal"):
                p = self.table("principal", "principal names")
                assert p is not None
                for i, n in self._conn.execute(select(p.c.id, p.c.name)):
                    self._names[_uuid(i)] = _text(n)
        return self._names
