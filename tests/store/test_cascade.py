"""Deletes that cascade by hand, with foreign keys off, delete what SQLite's cascades would."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError

from retention.demo.population import generate, insert_population
from retention.store import (
    Candidate,
    CascadeUnsupported,
    Consent,
    delete_cascading,
    foreign_keys_off,
    table_of,
    transaction,
)

AT = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
STAMP = "2026-11-22 12:00:00.000000"
_candidates = table_of(Candidate)
_consents = table_of(Consent)


@pytest.fixture
def sqlite_engine(engine: Engine) -> Engine:
    if engine.dialect.name != "sqlite":
        pytest.skip("foreign keys off is SQLite's")
    return engine


def _populate(engine: Engine) -> list[uuid.UUID]:
    """Subjects with rows in every table that references a candidate or a consent."""
    pop = generate(30, AT, document_share=0.5)
    with transaction(engine) as conn:
        insert_population(conn, pop)
        consents = conn.exec_driver_sql("SELECT id, candidate_id FROM consent").all()
        assert consents
        for consent_id, candidate_id in consents:
            conn.exec_driver_sql(
                "INSERT INTO consent_event (candidate_id, consent_id, purpose, kind, at, channel,"
                " method, actor) VALUES (?, ?, 'talent_pool', 'given', ?, 'web', 'form', 'test')",
                (candidate_id, consent_id, STAMP),
            )
            conn.exec_driver_sql(
                "INSERT INTO mail_outbox (id, candidate_id, consent_id, purpose, step, language,"
                " status, attempts, queued_at, next_attempt_at, link_expires_at)"
                " VALUES (?, ?, ?, 'talent_pool', 1, 'en', 'queued', 0, ?, ?, ?)",
                (uuid.uuid4().hex, candidate_id, consent_id, STAMP, STAMP, STAMP),
            )
        for c in pop.candidates[:10]:
            conn.exec_driver_sql(
                "INSERT INTO mail_undeliverable (candidate_id, address_sha256, at, error)"
                " VALUES (?, ?, ?, 'bounced')",
                (c["id"].hex, "0" * 64, STAMP),
            )
    return [c["id"] for c in pop.candidates]


def _counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        tables = conn.exec_driver_sql(
            "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        ).scalars()
        return {t: conn.exec_driver_sql(f'SELECT count(*) FROM "{t}"').scalar_one() for t in tables}


def _orphans(engine: Engine) -> list[tuple[str, ...]]:
    with engine.connect() as conn:
        return [tuple(map(str, r)) for r in conn.exec_driver_sql("PRAGMA foreign_key_check")]


def _foreign_keys(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.exec_driver_sql("PRAGMA foreign_keys").scalar_one())


# Every table that references a candidate or a consent, each with a candidate_id column.
_OWNED = (
    "application",
    "consent",
    "consent_event",
    "document",
    "mail_outbox",
    "mail_undeliverable",
)


def _owned_by(engine: Engine, ids: list[uuid.UUID]) -> dict[str, int]:
    marks = ", ".join("?" for _ in ids)
    with engine.connect() as conn:
        return {
            t: conn.exec_driver_sql(
                f'SELECT count(*) FROM "{t}" WHERE candidate_id IN ({marks})',
                tuple(i.hex for i in ids),
            ).scalar_one()
            for t in _OWNED
        }


def test_by_hand_deletes_what_the_cascades_delete(sqlite_engine: Engine) -> None:
    """Half the subjects deleted by hand with foreign keys off take exactly their own rows
    along, no orphan stays, and SQLite's cascades then find only the other half's rows."""
    ids = _populate(sqlite_engine)
    half, rest = ids[: len(ids) // 2], ids[len(ids) // 2 :]
    before, owned = _counts(sqlite_engine), _owned_by(sqlite_engine, half)
    assert all(owned[t] for t in _OWNED if t != "document") and owned["document"] >= 0
    with foreign_keys_off(sqlite_engine, ["candidate", "consent"]) as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 0
        assert delete_cascading(conn, _candidates, "id", half) == len(half)
    after = _counts(sqlite_engine)
    assert _orphans(sqlite_engine) == []
    assert _foreign_keys(sqlite_engine) == 1  # on again for the pool's next user
    assert after["candidate"] == before["candidate"] - len(half)
    assert {t: before[t] - after[t] for t in _OWNED} == owned

    with foreign_keys_off(sqlite_engine, ["consent"]) as conn:  # consents alone, with theirs
        delete_cascading(conn, _consents, "candidate_id", rest[:3])
    assert _orphans(sqlite_engine) == []
    assert _owned_by(sqlite_engine, rest[:3])["consent_event"] == 0

    with transaction(sqlite_engine) as conn:  # foreign keys on: SQLite cascades
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1
        assert delete_cascading(conn, _candidates, "id", rest) == len(rest)
    assert all(_counts(sqlite_engine)[t] == 0 for t in (*_OWNED, "candidate"))


def test_foreign_keys_on_again_after_a_rollback(sqlite_engine: Engine) -> None:
    ids = _populate(sqlite_engine)
    with (
        pytest.raises(RuntimeError, match="boom"),
        foreign_keys_off(sqlite_engine, ["candidate"]) as conn,
    ):
        delete_cascading(conn, _candidates, "id", ids)
        raise RuntimeError("boom")
    assert _foreign_keys(sqlite_engine) == 1
    assert _counts(sqlite_engine)["candidate"] == len(ids)


def test_a_key_that_does_not_cascade_keeps_foreign_keys_on(sqlite_engine: Engine) -> None:
    """A RESTRICT key to candidate: foreign keys stay on and SQLite refuses the delete; by hand
    with foreign keys off, the delete refuses too instead of leaving orphans."""
    ids = _populate(sqlite_engine)
    with transaction(sqlite_engine) as conn:
        conn.execute(
            text(
                "CREATE TABLE keeps (id INTEGER PRIMARY KEY, candidate_id CHAR(32) NOT NULL"
                " REFERENCES candidate (id) ON DELETE RESTRICT)"
            )
        )
        conn.exec_driver_sql("INSERT INTO keeps (candidate_id) VALUES (?)", (ids[0].hex,))
    with pytest.raises(IntegrityError), foreign_keys_off(sqlite_engine, ["candidate"]) as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1
        delete_cascading(conn, _candidates, "id", ids[:1])
    with sqlite_engine.connect() as conn:
        driver = conn.connection.driver_connection
        assert driver is not None
        driver.execute("PRAGMA foreign_keys=OFF")
        try:
            with conn.begin(), pytest.raises(CascadeUnsupported):
                delete_cascading(conn, _candidates, "id", ids[:1])
        finally:
            driver.execute("PRAGMA foreign_keys=ON")
    assert _counts(sqlite_engine)["candidate"] == len(ids)


def test_a_key_to_a_table_deleted_plainly_keeps_foreign_keys_on(sqlite_engine: Engine) -> None:
    """A table the caller deletes from without `delete_cascading`, once referenced by a key,
    is deleted from with foreign keys on (SQLite's cascades), not orphaning the referrers."""
    with foreign_keys_off(sqlite_engine, ["candidate"], ["sweep_item"]) as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 0
    with transaction(sqlite_engine) as conn:
        conn.exec_driver_sql(
            "CREATE TABLE item_notes (id INTEGER PRIMARY KEY, run_id CHAR(32) NOT NULL,"
            " position BIGINT NOT NULL, FOREIGN KEY (run_id, position)"
            " REFERENCES sweep_item (run_id, position) ON DELETE CASCADE)"
        )
    with foreign_keys_off(sqlite_engine, ["candidate"], ["sweep_item"]) as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1
