"""Anonymization of subjects in bulk: what stays is statistics, nothing that points to a person.

A batch of subjects is anonymized with a handful of set-based statements, whatever its size:
names become plausible names of the subject's locale, drawn at random from pools that Faker fills
once per locale and process (a Faker call per row would cost more than the whole UPDATE); e-mail
and phone become non-routable placeholders; city, notes and the ATS reference (a key back to the
person in another system) become NULL; instants are coarsened to the first of their month;
consents and documents go (document rows now, their files after commit, see
`retention.store.pending_files`). Country, status, applications' positions and the coarse dates stay for
statistics. Nothing maps the old values to the new ones: the random choices come from the OS, so
the result cannot be reversed, not even by this code.
"""

from __future__ import annotations

import functools
import os
import random
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from faker import Faker
from faker.config import AVAILABLE_LOCALES
from sqlalchemy import Connection, bindparam, select, text, update
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement

from retention.errors import LockBroken
from retention.store import (
    Application,
    Candidate,
    Consent,
    Document,
    TZDateTime,
    among,
    delete_cascading,
    is_postgresql,
    queue_documents,
    sqlite_stamp,
    table_of,
    text_array,
    uuid_array,
)

__all__ = [
    "PHONE_PLACEHOLDER",
    "Anonymizer",
    "MonthStart",
    "anonymize",
    "locale_for",
    "placeholder_email",
]

PHONE_PLACEHOLDER = "+000000000000"
EMAIL_DOMAIN = "invalid.example"  # RFC 2606/6761: .invalid and example.* never route mail
POOL_SIZE = 400
# Only the person provider: Faker's default loads every provider of the locale, which costs
# tens of milliseconds per locale, and names come from the person provider alone.
_NAME_PROVIDERS = ["faker.providers.person"]
_TOKEN_BYTES = 8  # of an e-mail placeholder's random part
_DRAW_BYTES = 4  # per pool pick: 2^32 draws reduced modulo a pool of hundreds, bias < 1e-7

_candidates = table_of(Candidate)
_documents = table_of(Document)
_consents = table_of(Consent)
_applications = table_of(Application)

# Where the country's own locale is not the first `xx_CC` Faker offers, or it offers none.
_LOCALE_OVERRIDES = {
    "BE": "nl_BE",
    "CH": "de_CH",
    "LU": "fr_CH",
    "IE": "en_IE",
    "QA": "ar_AA",
    "GB": "en_GB",
    "US": "en_US",
    "CA": "en_CA",
    "DK": "da_DK",
}


@functools.lru_cache(maxsize=512)
def locale_for(country: str) -> str:
    """The Faker locale whose names suit a subject of `country` (en_US when Faker has none)."""
    if country in _LOCALE_OVERRIDES:
        return _LOCALE_OVERRIDES[country]
    matches = sorted(loc for loc in AVAILABLE_LOCALES if loc.endswith(f"_{country}"))
    return matches[0] if matches else "en_US"


def placeholder_email(token: str) -> str:
    return f"anon-{token}@{EMAIL_DOMAIN}"


class MonthStart(ColumnElement[datetime]):
    """SQL: the first instant of the month of a naive-UTC timestamp column (NULL stays NULL)."""

    inherit_cache = True
    type = TZDateTime()

    def __init__(self, column: ColumnElement[Any]) -> None:
        self.column = column


@compiles(MonthStart)
def _month_start_pg(element: MonthStart, compiler: SQLCompiler, **kw: Any) -> str:
    return f"date_trunc('month', {compiler.process(element.column, **kw)})"


@compiles(MonthStart, "sqlite")
def _month_start_sqlite(element: MonthStart, compiler: SQLCompiler, **kw: Any) -> str:
    # The project's one stored text form of an instant, 6 fractional digits included.
    return f"strftime('%Y-%m-01 00:00:00.000000', {compiler.process(element.column, **kw)})"


@dataclass
class Anonymizer:
    """Replacement values: random picks from per-locale name pools built on first use."""

    pool_size: int = POOL_SIZE
    _rng: random.Random = field(default_factory=random.SystemRandom, repr=False)
    _pools: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = field(
        default_factory=dict, repr=False
    )
    # Sweep workers share one anonymizer: a locale's pool is built once, by one of them (Faker
    # imports the locale's provider module, and imports in two threads at once are best avoided).
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def pools(self, country: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(first names, last names) of the country's locale."""
        locale = locale_for(country)
        pool = self._pools.get(locale)
        if pool is None:
            with self._lock:
                pool = self._pools.get(locale)
                if pool is None:
                    fake = Faker(locale, providers=_NAME_PROVIDERS)
                    fake.seed_instance(self._rng.getrandbits(64))
                    firsts = tuple({fake.first_name() for _ in range(self.pool_size)})
                    lasts = tuple({fake.last_name() for _ in range(self.pool_size)})
                    pool = self._pools[locale] = (firsts, lasts)
        return pool

    def replacements(self, subjects: Sequence[tuple[uuid.UUID, str]]) -> list[dict[str, Any]]:
        """One row of new values per (subject id, country).

        The randomness of the whole batch is read from the OS in one call: one read per pick
        (as `SystemRandom` and `secrets` do) cost more than the database's work per row.
        """
        pools = {country: self.pools(country) for country in {c for _, c in subjects}}
        step = 2 * _DRAW_BYTES + _TOKEN_BYTES
        entropy = os.urandom(step * len(subjects))
        tokens = entropy.hex()
        from_bytes = int.from_bytes
        rows = []
        for i, (subject_id, country) in enumerate(subjects):
            firsts, lasts = pools[country]
            at = i * step
            first = from_bytes(entropy[at : at + _DRAW_BYTES]) % len(firsts)
            last = from_bytes(entropy[at + _DRAW_BYTES : at + 2 * _DRAW_BYTES]) % len(lasts)
            token = tokens[2 * (at + 2 * _DRAW_BYTES) : 2 * (at + step)]
            rows.append(
                {
                    "b_id": subject_id,
                    "b_first": firsts[first],
                    "b_last": lasts[last],
                    "b_email": placeholder_email(token),
                }
            )
        return rows


def anonymize(
    conn: Connection,
    subjects: Sequence[tuple[uuid.UUID, str]],
    *,
    at: datetime,
    anonymizer: Anonymizer,
    run_id: uuid.UUID | None = None,
    locked: bool = False,
) -> list[uuid.UUID]:
    """Anonymize (subject id, country) pairs in the caller's transaction; never commits.

    Returns the ids actually anonymized: a subject already anonymized (or gone) is skipped, so
    the caller audits only what happened. With `locked`, the caller promises that it locked
    every subject's row in this transaction and then saw it present and not anonymized (as the
    sweep's batch decision does); the check is then not run again, and the UPDATE, which still
    touches only rows not anonymized, must change every subject or `LockBroken` is raised.
    """
    if not subjects:
        return []
    if locked:
        todo = list(subjects)
    else:
        ids = [s for s, _ in subjects]
        c = _candidates.c
        # Which are still to do, under the transaction's lock (BEGIN IMMEDIATE / FOR UPDATE).
        todo_q = (
            select(c.id, c.country)
            .where(among(conn, c.id, ids), c.anonymized_at.is_(None))
            .with_for_update()
        )
        todo = [(r.id, r.country) for r in conn.execute(todo_q)]
        if not todo:
            return []
    todo_ids = [s for s, _ in todo]
    queue_documents(conn, todo_ids, at=at, run_id=run_id)
    # With the events and reminders of those consents (see `delete_cascading`).
    delete_cascading(conn, _consents, "candidate_id", todo_ids)
    a = _applications.c
    conn.execute(
        update(_applications)
        .where(among(conn, a.candidate_id, todo_ids))
        .values(applied_at=MonthStart(a.applied_at), decided_at=MonthStart(a.decided_at))
    )
    rows = anonymizer.replacements(todo)
    if is_postgresql(conn):
        changed = _update_candidates_pg(conn, rows, at)
    else:
        changed = _update_candidates(conn, rows, at)
    if changed != len(rows):
        raise LockBroken(f"{len(rows) - changed} of {len(rows)} subjects changed under the lock")
    return todo_ids


_SQLITE_UPDATE = """
UPDATE candidate SET
    first_name = ?, last_name = ?, email = ?, phone = ?,
    city = NULL, notes = NULL, external_ref = NULL,
    applied_at = strftime('%Y-%m-01 00:00:00.000000', applied_at),
    decided_at = strftime('%Y-%m-01 00:00:00.000000', decided_at),
    last_activity_at = strftime('%Y-%m-01 00:00:00.000000', last_activity_at),
    created_at = strftime('%Y-%m-01 00:00:00.000000', created_at),
    anonymized_at = ?, updated_at = ?
WHERE id = ? AND anonymized_at IS NULL
"""


def _update_candidates(conn: Connection, rows: list[dict[str, Any]], at: datetime) -> int:
    """The driver's executemany of one prepared UPDATE keyed by id, values in storage form.

    SQLAlchemy's per-row parameter processing would cost more than SQLite's work; the values
    here are already what TZDateTime and Uuid store (naive UTC text, 32 hex digits). Returns
    the number of rows changed.
    """
    driver = conn.connection.driver_connection
    assert driver is not None
    stamp = sqlite_stamp(at)
    cursor = driver.executemany(
        _SQLITE_UPDATE,
        [
            (
                r["b_first"],
                r["b_last"],
                r["b_email"],
                PHONE_PLACEHOLDER,
                stamp,
                stamp,
                r["b_id"].hex,
            )
            for r in rows
        ],
    )
    return int(cursor.rowcount)


def _update_candidates_pg(conn: Connection, rows: list[dict[str, Any]], at: datetime) -> int:
    """One UPDATE ... FROM unnest(arrays) per batch: a single round trip on PostgreSQL.

    The `= ANY` beside the join lets the planner find the batch's rows by id (or filter them
    in one pass); with the join alone it hashed the whole table for every batch. The arrays
    travel as literal text (see `retention.store.id_sets`).
    """
    stmt = text(
        """
        UPDATE candidate AS c SET
            first_name = v.first_name, last_name = v.last_name, email = v.email,
            phone = :phone, city = NULL, notes = NULL, external_ref = NULL,
            applied_at = date_trunc('month', c.applied_at),
            decided_at = date_trunc('month', c.decided_at),
            last_activity_at = date_trunc('month', c.last_activity_at),
            created_at = date_trunc('month', c.created_at),
            anonymized_at = :at, updated_at = :at
        FROM unnest(CAST(:ids AS uuid[]), CAST(:firsts AS text[]), CAST(:lasts AS text[]),
                    CAST(:emails AS text[])) AS v(id, first_name, last_name, email)
        WHERE c.id = v.id AND c.id = ANY(CAST(:ids AS uuid[])) AND c.anonymized_at IS NULL
        """
    ).bindparams(bindparam("at", type_=TZDateTime()))
    result = conn.execute(
        stmt,
        {
            "phone": PHONE_PLACEHOLDER,
            "at": at,
            "ids": uuid_array([r["b_id"] for r in rows]),
            "firsts": text_array([r["b_first"] for r in rows]),
            "lasts": text_array([r["b_last"] for r in rows]),
            "emails": text_array([r["b_email"] for r in rows]),
        },
    )
    return int(result.rowcount)
