"""What the pack reads besides the log: grants, holds, reviews, consents, backlog, on real tables."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert

from retention.evidence.sources import GRANTS_HEADER, HOLDS_HEADER, Bounds, Sources
from retention.install import Installation
from retention.store import Consent, LegalHold, ReviewItem
from retention.testing import FixedClock
from tests.access_support import add_candidate, build_world

START = datetime(2026, 9, 1, tzinfo=UTC)
END = datetime(2026, 11, 1, tzinfo=UTC)


def col(header: tuple[str, ...], row: object, name: str) -> str:
    return row[header.index(name)]  # type: ignore[index]


class TestGrants:
    def test_grants_in_force_with_names(self, installation: Installation) -> None:
        """Grants in force during the period are listed with principals' names and scopes."""
        world = build_world(installation, FixedClock(START + timedelta(days=3)))
        with installation.engine.connect() as conn:
            rows = Sources(conn).grants(Bounds.of(START, END, None))
        who = {(col(GRANTS_HEADER, r, "principal"), col(GRANTS_HEADER, r, "role")) for r in rows}
        assert who == {("admin", "admin"), ("dpo", "dpo"), ("rita", "recruiter")}
        rita = next(r for r in rows if col(GRANTS_HEADER, r, "principal") == "rita")
        assert col(GRANTS_HEADER, rita, "countries") == "NL"
        assert col(GRANTS_HEADER, rita, "granted_by") == "admin"
        assert col(GRANTS_HEADER, rita, "principal_id") == str(world.recruiter.principal_id)

    def test_country_filter_keeps_all_country_grants(self, installation: Installation) -> None:
        """With a country, grants scoped elsewhere are left out; all-country grants stay."""
        build_world(installation, FixedClock(START + timedelta(days=3)))
        with installation.engine.connect() as conn:
            rows = Sources(conn).grants(Bounds.of(START, END, "DE"))
        assert {col(GRANTS_HEADER, r, "principal") for r in rows} == {"admin", "dpo"}

    def test_grants_outside_the_period(self, installation: Installation) -> None:
        """A grant made after the period is not in it."""
        build_world(installation, FixedClock(END + timedelta(days=1)))
        with installation.engine.connect() as conn:
            assert Sources(conn).grants(Bounds.of(START, END, None)) == []


class TestHoldsAndReviews:
    def test_holds_active_in_the_period_without_reasons(self, installation: Installation) -> None:
        """Holds active during the period are listed by UUID; one released before it is not;
        the free-text reason never leaves the database."""
        subject = add_candidate(installation.engine, "NL", START - timedelta(days=90))
        rows = [
            {
                "id": uuid.uuid4(),
                "subject_id": subject,
                "case_ref": ref,
                "reason": "Claim by Jan Jansen",
                "placed_by": "dpo",
                "placed_at": START - timedelta(days=60),
                "released_at": released,
            }
            for ref, released in (("A-1", None), ("A-2", START - timedelta(days=1)))
        ]
        with installation.engine.begin() as conn:
            conn.execute(insert(LegalHold.__table__), rows)  # type: ignore[attr-defined]
        with installation.engine.connect() as conn:
            src = Sources(conn)
            holds = list(src.holds(Bounds.of(START, END, None)))
            held = src.held_subjects(Bounds.of(START, END, None))
        assert [col(HOLDS_HEADER, h, "case_ref") for h in holds] == ["A-1"]
        assert col(HOLDS_HEADER, holds[0], "subject") == str(subject)
        assert col(HOLDS_HEADER, holds[0], "country") == "NL"
        assert "Jansen" not in repr(holds)
        assert held == {"NL": 1}

    def test_open_reviews_are_backlog(self, installation: Installation) -> None:
        """Review items undecided at the end of the period count as backlog, oldest first."""
        queued = START + timedelta(days=2)
        with installation.engine.begin() as conn:
            conn.execute(
                insert(ReviewItem.__table__),  # type: ignore[attr-defined]
                [
                    {
                        "id": uuid.uuid4(),
                        "subject_id": uuid.uuid4(),
                        "country": "FR",
                        "policy": "FR",
                        "rule": "talent-pool",
                        "policy_hash": "ab" * 32,
                        "queued_at": queued,
                        "reason": "private words",
                    }
                ],
            )
        with installation.engine.connect() as conn:
            src = Sources(conn)
            reviews = list(src.reviews(Bounds.of(START, END, None)))
            backlog = src.open_reviews(Bounds.of(START, END, None))
        assert len(reviews) == 1 and "private words" not in repr(reviews)
        assert backlog == {"FR": (1, "2026-09-03T00:00:00.000000Z")}


class TestConsents:
    def test_counts_and_coverage(self, installation: Installation) -> None:
        """Consents given, withdrawn and expired in the period are counted per purpose and
        country; coverage counts subjects with a consent in force at the end."""
        engine = installation.engine
        a = add_candidate(engine, "NL", START - timedelta(days=30))
        b = add_candidate(engine, "NL", START - timedelta(days=30))
        rows = [
            (a, START + timedelta(days=1), None, None),
            (b, START + timedelta(days=1), START + timedelta(days=20), None),
            (b, START - timedelta(days=400), None, START + timedelta(days=5)),
        ]
        with engine.begin() as conn:
            conn.execute(
                insert(Consent.__table__),  # type: ignore[attr-defined]
                [
                    {
                        "candidate_id": s,
                        "purpose": "events",
                        "notice_version": "v1",
                        "channel": "web",
                        "given_at": given,
                        "withdrawn_at": withdrawn,
                        "expires_at": expires,
                    }
                    for s, given, withdrawn, expires in rows
                ],
            )
        with engine.connect() as conn:
            src = Sources(conn)
            counts = src.consents(Bounds.of(START, END, None))
            coverage = src.coverage(Bounds.of(START, END, None))
        # add_candidate gives each subject a talent_pool consent before the period.
        assert counts == [["events", "NL", 2, 1, 1]]
        got = [(c.country, c.purpose, c.subjects, c.covered) for c in coverage]
        assert got == [("NL", "events", 2, 1), ("NL", "talent_pool", 2, 2)]
