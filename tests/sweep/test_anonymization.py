"""Bulk anonymization: every personal column replaced or cleared, statistics kept, irreversible."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from retention.demo.population import generate, insert_population
from retention.errors import LockBroken
from retention.install import Installation
from retention.store import Application, Candidate, Consent, Document, transaction
from retention.store.sweep_tables import PendingDeletion
from retention.sweep import PHONE_PLACEHOLDER
from retention.sweep.anonymization import Anonymizer, anonymize, locale_for

AT = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


class TestLocales:
    def test_country_to_faker_locale(self) -> None:
        """Names come from the subject's own locale, with a fallback for countries Faker lacks."""
        assert locale_for("DE") == "de_AT" or locale_for("DE").startswith("de_")
        assert locale_for("NL") == "nl_NL"
        assert locale_for("GB") == "en_GB"
        assert locale_for("ZZ") == "en_US"

    def test_pools_are_built_once_per_locale(self) -> None:
        """Two countries of one locale share a pool; names are drawn from it."""
        anonymizer = Anonymizer(pool_size=20)
        assert anonymizer.pools("AT") is anonymizer.pools("AT")
        firsts, lasts = anonymizer.pools("RO")
        rows = anonymizer.replacements([(i, "RO") for i in range(50)])  # type: ignore[misc]
        assert {r["b_first"] for r in rows} <= set(firsts)
        assert {r["b_last"] for r in rows} <= set(lasts)
        assert len({r["b_email"] for r in rows}) == 50


class TestAnonymize:
    def test_personal_data_replaced_statistics_kept(self, installation: Installation) -> None:
        """Names, contact, free text, ATS ref, consents and documents go; country and status stay."""
        pop = generate(60, AT, document_share=0.5)
        with transaction(installation.engine) as conn:
            insert_population(conn, pop)
        subjects = [(c["id"], c["country"]) for c in pop.candidates]
        with transaction(installation.engine) as conn:
            done = anonymize(conn, subjects, at=AT, anonymizer=Anonymizer(pool_size=30))
        assert sorted(done) == sorted(s for s, _ in subjects)
        t = Candidate.__table__
        with installation.engine.connect() as conn:
            rows = {r.id: r for r in conn.execute(select(t))}
            docs = conn.execute(select(func.count()).select_from(Document.__table__)).scalar_one()
            pending = conn.execute(
                select(func.count()).select_from(PendingDeletion.__table__)
            ).scalar_one()
            consents = conn.execute(
                select(func.count()).select_from(Consent.__table__)
            ).scalar_one()
            apps = conn.execute(select(Application.__table__)).all()
        for seeded in pop.candidates:
            row = rows[seeded["id"]]
            assert row.country == seeded["country"] and row.status == seeded["status"]
            assert row.first_name != seeded["first_name"] and row.last_name != seeded["last_name"]
            assert row.email.startswith("anon-") and row.email.endswith("@invalid.example")
            assert row.phone == PHONE_PLACEHOLDER
            assert (row.city, row.notes, row.external_ref) == (None, None, None)
            assert row.anonymized_at == AT
            assert row.applied_at == seeded["applied_at"].replace(
                day=1, hour=0, minute=0, second=0, microsecond=0
            )
        assert all(a.applied_at.day == 1 and a.applied_at.hour == 0 for a in apps)
        assert (docs, consents) == (0, 0)
        assert pending == len(pop.documents) > 0

    def test_second_call_changes_nothing(self, installation: Installation) -> None:
        """An already anonymized subject is skipped and reported as not done."""
        pop = generate(5, AT)
        with transaction(installation.engine) as conn:
            insert_population(conn, pop)
        subjects = [(c["id"], c["country"]) for c in pop.candidates]
        with transaction(installation.engine) as conn:
            anonymize(conn, subjects, at=AT, anonymizer=Anonymizer(pool_size=10))
        with transaction(installation.engine) as conn:
            assert anonymize(conn, subjects, at=AT, anonymizer=Anonymizer(pool_size=10)) == []

    def test_locked_promise_broken_raises(self, installation: Installation) -> None:
        """With `locked`, a subject already anonymized makes the batch fail instead of skipping."""
        pop = generate(3, AT)
        with transaction(installation.engine) as conn:
            insert_population(conn, pop)
        subjects = [(c["id"], c["country"]) for c in pop.candidates]
        with transaction(installation.engine) as conn:
            anonymize(conn, subjects[:1], at=AT, anonymizer=Anonymizer(pool_size=10))
        with pytest.raises(LockBroken), transaction(installation.engine) as conn:
            anonymize(conn, subjects, at=AT, anonymizer=Anonymizer(pool_size=10), locked=True)
        t = Candidate.__table__
        with installation.engine.connect() as conn:
            done = conn.execute(select(func.count()).where(t.c.anonymized_at.is_not(None)))
            assert done.scalar_one() == 1, "the failed batch changed nothing"
