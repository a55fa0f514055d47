"""Synthetic populations of subjects, for tests and benchmarks of the sweep.

Reproducible from a seed and spread over the shipped policies' cases: every status, countries with
and without a policy, missing anchors, talent-pool consents (some renewed, some withdrawn) and
documents. Every personal value is unique to its subject (a random tag in it), so a test can search
the whole database, the audit log and the logs for the values of one subject and know that a hit
is a leak, not a coincidence. Rows are inserted in bulk, a few statements per thousand subjects.
"""

from __future__ import annotations

import hashlib
import random
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, insert

from retention.store import (
    Application,
    Candidate,
    Consent,
    Document,
    StagedFiles,
    table_of,
)

__all__ = ["COUNTRIES", "Population", "generate", "insert_population"]

# Countries with a shipped policy, weighted; "US" has none (an error row in the plan).
COUNTRIES: tuple[tuple[str, int], ...] = (
    ("DE", 20),
    ("FR", 15),
    ("NL", 10),
    ("ES", 10),
    ("RO", 10),
    ("IT", 8),
    ("PL", 8),
    ("GB", 6),
    ("SE", 4),
    ("AT", 4),
    ("US", 2),
    ("AE", 3),
)
_STATUSES = (("rejected", 45), ("withdrawn", 15), ("in_process", 25), ("hired", 15))
_FIRST = ("Ana", "Jan", "Marie", "Luca", "Sofia", "Piotr", "Elena", "Tom", "Ines", "Omar")
_LAST = ("Popescu", "Jansen", "Martin", "Rossi", "Garcia", "Nowak", "Smith", "Muller", "Haddad")
_CITIES = ("Bucharest", "Amsterdam", "Paris", "Madrid", "Berlin", "Rome", "Warsaw", "London")
_DAY = timedelta(days=1)


@dataclass(frozen=True)
class Population:
    candidates: list[dict[str, Any]]
    applications: list[dict[str, Any]]
    consents: list[dict[str, Any]]
    documents: list[dict[str, Any]]

    def personal_values(self, subject_id: uuid.UUID) -> list[str]:
        """The unique personal values seeded for one subject (what must vanish with it)."""
        row = next(c for c in self.candidates if c["id"] == subject_id)
        return [
            row[k] for k in ("first_name", "last_name", "email", "phone", "notes", "external_ref")
        ]


def _weighted(rng: random.Random, table: Sequence[tuple[str, int]]) -> str:
    return rng.choices([k for k, _ in table], weights=[w for _, w in table])[0]


def generate(n: int, at: datetime, *, seed: int = 1, document_share: float = 0.1) -> Population:
    """`n` subjects whose events spread over the four years before `at`."""
    rng = random.Random(seed)
    countries = rng.choices([c for c, _ in COUNTRIES], weights=[w for _, w in COUNTRIES], k=n)
    statuses = rng.choices([s for s, _ in _STATUSES], weights=[w for _, w in _STATUSES], k=n)
    cands: list[dict[str, Any]] = []
    apps: list[dict[str, Any]] = []
    consents: list[dict[str, Any]] = []
    docs: list[dict[str, Any]] = []
    for i in range(n):
        sid = uuid.UUID(int=rng.getrandbits(128), version=4)
        tag = f"{rng.getrandbits(40):010x}"
        status = statuses[i]
        applied = at - timedelta(seconds=rng.randrange(4 * 365 * 86400))
        decided = None
        if status != "in_process" and rng.random() > 0.02:  # 2% lack their decision date
            decided = applied + timedelta(seconds=rng.randrange(90 * 86400))
        last = max(filter(None, (applied, decided))) + _DAY * rng.randrange(60)
        first, last_name = rng.choice(_FIRST), rng.choice(_LAST)
        cands.append(
            {
                "id": sid,
                "external_ref": f"ATS-{tag}",
                "country": countries[i],
                "status": status,
                "first_name": f"{first}{tag[:5]}",
                "last_name": f"{last_name}{tag[5:]}",
                "email": f"{first.lower()}.{tag}@mail.example.com",
                "phone": f"+4{rng.randrange(10**10, 10**11)}",
                "city": rng.choice(_CITIES),
                "notes": f"Interview notes {tag}: strong candidate",
                "applied_at": applied,
                "decided_at": decided,
                "last_activity_at": min(last, at),
                "anonymized_at": None,
                "blocked_at": None,
                "created_at": applied,
                "updated_at": min(last, at),
            }
        )
        apps.append(
            {
                "candidate_id": sid,
                "position": rng.choice(("Engineer", "Analyst", "Designer", "Nurse")),
                "status": status,
                "applied_at": applied,
                "decided_at": decided,
            }
        )
        if rng.random() < 0.3:
            consents.extend(_consents(rng, sid, applied, at))
        if rng.random() < document_share:
            docs.append(_document(rng, sid, applied))
    return Population(cands, apps, consents, docs)


def _consents(
    rng: random.Random, sid: uuid.UUID, applied: datetime, at: datetime
) -> Iterator[dict[str, Any]]:
    given = applied + _DAY * rng.randrange(1, 30)
    renewals = 2 if rng.random() < 0.2 else 1
    for k in range(renewals):
        withdrawn = None
        if k == renewals - 1 and rng.random() < 0.15:
            withdrawn = min(given + _DAY * rng.randrange(1, 300), at)
        yield {
            "candidate_id": sid,
            "purpose": "talent_pool",
            "notice_version": "2025-01",
            "channel": "web",
            "given_at": min(given, at),
            "expires_at": given + _DAY * 730,
            "withdrawn_at": withdrawn,
        }
        given = given + _DAY * rng.randrange(100, 400)


def _document(rng: random.Random, sid: uuid.UUID, applied: datetime) -> dict[str, Any]:
    body = f"CV of subject {sid}".encode()
    return {
        "id": uuid.UUID(int=rng.getrandbits(128), version=4),
        "candidate_id": sid,
        "kind": "cv",
        "media_type": "text/plain",
        "sha256": hashlib.sha256(body).hexdigest(),
        "size": len(body),
        "created_at": applied,
    }


def insert_population(
    conn: Connection, pop: Population, *, files: StagedFiles | None = None, chunk: int = 5000
) -> None:
    """Insert the population in the caller's transaction; stage its document files if asked.

    Staged files enter the document store when the caller's transaction has committed
    (`with staged_files(documents_dir) as files, transaction(engine) as conn:`).
    """
    for table, rows in (
        (table_of(Candidate), pop.candidates),
        (table_of(Application), pop.applications),
        (table_of(Consent), pop.consents),
        (table_of(Document), pop.documents),
    ):
        for start in range(0, len(rows), chunk):
            part = rows[start : start + chunk]
            if part:
                conn.execute(insert(table), part)
    if files is not None:
        for doc in pop.documents:
            files.write(str(doc["id"]), f"CV of subject {doc['candidate_id']}".encode())
