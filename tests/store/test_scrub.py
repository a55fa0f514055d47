"""No readable copy of an erased subject stays in the SQLite database file or its WAL."""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path

import pytest

from tests.cli_support import gdpr, init_as_dpo

# A few hundred subjects already split and merge B-tree pages on load and on erasure.
SUBJECTS = 400


def _emails(db: Path) -> dict[str, str]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        rows = conn.execute("SELECT id, email FROM candidate WHERE email IS NOT NULL").fetchall()
    return {str(uuid.UUID(str(i))): e for i, e in rows}


def _readable(db: Path, gone: set[str], live: set[str]) -> list[str]:
    """The e-mails of `gone` subjects found as bytes in the database file or its WAL."""
    # A gone address inside a live one (ana.albu@ in mariana.albu@) is no remnant.
    wanted = {e for e in gone if not any(e in other for other in live)}
    found = []
    for path in (db, db.with_name(db.name + "-wal")):
        if path.exists():
            data = path.read_bytes()
            found += [f"{path.name}: {e}" for e in sorted(wanted) if e.encode() in data]
    return found


@pytest.fixture
def seeded(tmp_path: Path) -> tuple[dict[str, str | None], Path]:
    env: dict[str, str | None] = {"GDPR_DATABASE_URL": None, "GDPR_DATA_DIR": None}
    data = tmp_path / "data"
    init_as_dpo(env, data)
    code, _, err = gdpr(env, "--data-dir", str(data), "demo", "seed", "--candidates", str(SUBJECTS))
    assert code == 0, err
    return env, data


def test_sweep_and_erase_leave_no_copy(seeded: tuple[dict[str, str | None], Path]) -> None:
    """After seed + sweep and after `candidate erase`, no e-mail of a removed or anonymized
    subject is readable in gdpr.sqlite3 or gdpr.sqlite3-wal."""
    env, data = seeded
    db = data / "gdpr.sqlite3"
    # An idle connection keeps the WAL file: the last connection to close would fold it away.
    keeper = sqlite3.connect(db)
    try:
        before = _emails(db)
        code, _, err = gdpr(env, "--data-dir", str(data), "sweep")
        assert code == 0, err
        after = _emails(db)
        gone = {e for i, e in before.items() if after.get(i) != e}
        assert len(gone) > SUBJECTS // 4
        assert _readable(db, gone, set(after.values())) == []

        subject, email = next(iter(after.items()))
        code, _, err = gdpr(
            env, "--data-dir", str(data), "candidate", "erase", subject, "--reason", "DSR-7"
        )
        assert code == 0, err
        left = _emails(db)
        assert subject not in left
        assert _readable(db, {email}, set(left.values())) == []
    finally:
        keeper.close()
