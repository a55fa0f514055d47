"""Tests of policies.sql_consent: the join to the consent given last per purpose, in Core."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from policies import join_latest_consents, outerjoin_latest_consents

META = sa.MetaData()
SUBJECT = sa.Table("subject", META, sa.Column("id", sa.Integer, primary_key=True))
CONSENT = sa.Table(
    "consent",
    META,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("candidate_id", sa.Integer),
    sa.Column("purpose", sa.String),
    sa.Column("given_at", sa.DateTime),
)


def _engine() -> sa.Engine:
    engine = sa.create_engine("sqlite://")
    META.create_all(engine)
    with engine.begin() as conn:
        conn.execute(sa.insert(SUBJECT), [{"id": 1}, {"id": 2}, {"id": 3}])
        conn.execute(
            sa.insert(CONSENT),
            [
                {"id": 10, "candidate_id": 1, "purpose": "pool", "given_at": datetime(2025, 1, 1)},
                {"id": 11, "candidate_id": 1, "purpose": "pool", "given_at": datetime(2025, 6, 1)},
                {"id": 12, "candidate_id": 1, "purpose": "mail", "given_at": datetime(2024, 1, 1)},
                # A tie on given_at: the highest id counts.
                {"id": 13, "candidate_id": 2, "purpose": "pool", "given_at": datetime(2025, 3, 1)},
                {"id": 14, "candidate_id": 2, "purpose": "pool", "given_at": datetime(2025, 3, 1)},
            ],
        )
    return engine


class TestOuterjoinLatestConsents:
    def test_latest_consent_per_purpose_of_each_subject(self) -> None:
        """Each subject joins its last-given consent per purpose; one without any joins NULL."""
        joined, consent = outerjoin_latest_consents(
            SUBJECT, SUBJECT.c.id, CONSENT, ["pool", "mail", "pool"]
        )
        q = (
            sa.select(SUBJECT.c.id, consent("pool", "id"), consent("mail", "id"))
            .select_from(joined)
            .order_by(SUBJECT.c.id)
        )
        with _engine().connect() as conn:
            assert [tuple(r) for r in conn.execute(q)] == [
                (1, 11, 12),
                (2, 14, None),
                (3, None, None),
            ]

    def test_subjects_not_needing_consents_join_none(self) -> None:
        """Where `needed` is false the subject joins no consent at all."""
        joined, consent = outerjoin_latest_consents(
            SUBJECT, SUBJECT.c.id, CONSENT, ["pool"], needed=SUBJECT.c.id != 1
        )
        q = (
            sa.select(SUBJECT.c.id, consent("pool", "id"))
            .select_from(joined)
            .order_by(SUBJECT.c.id)
        )
        with _engine().connect() as conn:
            assert [tuple(r) for r in conn.execute(q)] == [(1, None), (2, 14), (3, None)]

    def test_same_rows_as_join_latest_consents(self) -> None:
        """The FROM-clause form selects what the SELECT form does."""
        joined, consent = outerjoin_latest_consents(SUBJECT, SUBJECT.c.id, CONSENT, ["pool"])
        from_form = sa.select(SUBJECT.c.id, consent("pool", "given_at")).select_from(joined)
        base, accessor = join_latest_consents(
            sa.select(SUBJECT.c.id), SUBJECT.c.id, CONSENT, ["pool"]
        )
        select_form = sa.select(SUBJECT.c.id, accessor("pool", "given_at")).select_from(
            base.get_final_froms()[0]
        )
        with _engine().connect() as conn:
            assert sorted(conn.execute(from_form).all()) == sorted(conn.execute(select_form).all())
