"""Benchmark the sweep: subjects anonymized per second with their audit entries, next to a raw
set-based UPDATE of the same rows without audit, and the dry-run plan time.

Seeds N candidates that are all due for anonymization (EU-baseline countries, rejected more than
six months before the instant), then on each backend: the dry-run plan, the sweep (anonymize +
one audit entry per subject + progress + lease, in batches), and a raw UPDATE of the same rows
(names, contact data, free text and coarse dates in one statement, no audit), and prints the
ratio. PostgreSQL runs when GDPR_TEST_DATABASE_URL (or --pg URL) is set.

With --runs N each backend is seeded and swept N times (a fresh database each time) and the
medians are printed, each run's sweep rate next to the raw UPDATE rate of the same run: the
machine may be shared, and the ratio moves less than either figure.

Run: PYTHONPATH=. python bench/sweep.py [--rows 1000000] [--batch 10000] [--workers N] [--runs 3]
     [--backend sqlite|postgresql|both]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select, text, update

from policies import load_default_policy_set
from retention.config import load_config
from retention.install import Installation
from retention.store import Candidate, connect, is_postgresql, transaction
from retention.sweep import (
    BATCH_SIZE,
    PHONE_PLACEHOLDER,
    POSTGRESQL_WORKERS,
    MonthStart,
    make_plan,
    run_sweep,
)
from retention.testing import DatabaseFactory

AT = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
COUNTRIES = ("AT", "BE", "SE", "FI", "DK", "PT", "HU", "SK", "SI", "NO")
COLUMNS = [
    "id",
    "external_ref",
    "country",
    "status",
    "first_name",
    "last_name",
    "email",
    "phone",
    "city",
    "notes",
    "applied_at",
    "decided_at",
    "last_activity_at",
    "created_at",
    "updated_at",
]


def rows(n: int, seed: int = 11) -> list[tuple[Any, ...]]:
    """Candidates due for anonymization: rejected 7 to 36 months before AT."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        decided = AT - timedelta(days=210 + rng.randrange(900), seconds=rng.randrange(86400))
        applied = decided - timedelta(days=rng.randrange(60))
        out.append(
            (
                uuid.UUID(int=rng.getrandbits(128), version=4),
                f"ATS-{i:08d}",
                COUNTRIES[i % len(COUNTRIES)],
                "rejected",
                f"First{i}",
                f"Last{i}",
                f"person{i}@mail.example.com",
                f"+43{rng.randrange(10**9, 10**10)}",
                "Vienna",
                f"notes about candidate {i}",
                applied,
                decided,
                decided,
                applied,
                decided,
            )
        )
    return out


def _naive(v: datetime) -> datetime:
    return v.astimezone(UTC).replace(tzinfo=None)


def insert(engine: Engine, data: list[tuple[Any, ...]]) -> None:
    """Bulk load: COPY on PostgreSQL, executemany of storage-form values on SQLite."""
    with transaction(engine) as conn:
        if is_postgresql(engine):
            driver = conn.connection.driver_connection
            assert driver is not None
            copy = f"COPY candidate ({', '.join(COLUMNS)}) FROM STDIN"
            with driver.cursor() as cur, cur.copy(copy) as cp:
                for r in data:
                    cp.write_row([_naive(v) if isinstance(v, datetime) else v for v in r])
            return
        fmt = "%Y-%m-%d %H:%M:%S.%f"
        prepared = [
            tuple(
                v.hex
                if isinstance(v, uuid.UUID)
                else v.astimezone(UTC).strftime(fmt)
                if isinstance(v, datetime)
                else v
                for v in r
            )
            for r in data
        ]
        marks = ", ".join("?" for _ in COLUMNS)
        conn.connection.driver_connection.executemany(  # type: ignore[union-attr]
            f"INSERT INTO candidate ({', '.join(COLUMNS)}) VALUES ({marks})", prepared
        )


def raw_update(engine: Engine) -> tuple[int, float]:
    """The same anonymization as one set-based UPDATE, without audit or name pools."""
    c = Candidate.__table__.c
    stmt = (
        update(Candidate.__table__)
        .where(c.anonymized_at.is_not(None))
        .values(
            first_name="Anon",
            last_name="Anon",
            email="anon@invalid.example",
            phone=PHONE_PLACEHOLDER,
            city=None,
            notes=None,
            external_ref=None,
            applied_at=MonthStart(c.applied_at),
            decided_at=MonthStart(c.decided_at),
            last_activity_at=MonthStart(c.last_activity_at),
            created_at=MonthStart(c.created_at),
            anonymized_at=AT,
            updated_at=AT,
        )
    )
    t = time.perf_counter()
    with transaction(engine) as conn:
        n = conn.execute(stmt).rowcount
    return n, time.perf_counter() - t


def bench(
    name: str, factory: DatabaseFactory, n: int, batch: int, workers: int | None, workdir: Path
) -> tuple[float, float, float]:
    """One seeded run; returns (sweep subjects/s, raw UPDATE rows/s, plan seconds)."""
    url = factory.migrated()
    engine = connect(url)
    data_dir = workdir / f"data-{name}-{uuid.uuid4().hex[:8]}"
    (data_dir / "documents").mkdir(parents=True)
    installation = Installation(load_config(data_dir, url, env={}), engine)
    t = time.perf_counter()
    insert(engine, rows(n))
    if is_postgresql(engine):
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE candidate"))
    print(f"[{name}] seeded {n:,} candidates in {time.perf_counter() - t:.1f} s")
    policy_set = load_default_policy_set()
    t = time.perf_counter()
    with transaction(engine) as conn:
        plan = make_plan(conn, policy_set, at=AT, actor="bench")
    plan_s = time.perf_counter() - t
    print(f"[{name}] dry-run plan: {plan_s:.2f} s ({plan.due:,} due of {plan.subjects:,})")
    t = time.perf_counter()
    result = run_sweep(
        installation, policy_set, actor="bench", at=AT, batch_size=batch, workers=workers
    )
    sweep_s = time.perf_counter() - t
    with engine.connect() as conn:
        audited = conn.execute(
            text("SELECT count(*) FROM audit_entry WHERE action = 'candidate.anonymize'")
        ).scalar_one()
        anonymized = conn.execute(
            select(func.count()).where(Candidate.__table__.c.anonymized_at.is_not(None))
        ).scalar_one()
    rate = result.anonymized / sweep_s
    used = workers or (POSTGRESQL_WORKERS if is_postgresql(engine) else 1)
    print(
        f"[{name}] sweep: {result.anonymized:,} anonymized with {audited:,} audit entries "
        f"in {sweep_s:.1f} s = {rate:,.0f} subjects/s (batch {batch}, {result.batches} batches, "
        f"{used} worker(s))"
    )
    assert anonymized == result.anonymized == audited == n
    raw_n, raw_s = raw_update(engine)
    raw_rate = raw_n / raw_s
    print(
        f"[{name}] raw set-based UPDATE of the same {raw_n:,} rows, no audit: {raw_s:.1f} s = "
        f"{raw_rate:,.0f} rows/s; sweep/raw = {rate / raw_rate:.2f}"
    )
    print(
        f"[{name}] reference: pganonymize 200,000 rows in 55 s = 3,636 rows/s; "
        f"the sweep (with audit) is {rate / 3636:.1f}x that"
    )
    engine.dispose()
    return rate, raw_rate, plan_s


def runs(name: str, factory: DatabaseFactory, args: argparse.Namespace, workdir: Path) -> None:
    """`args.runs` seeded runs on one backend, then their medians."""
    results = [
        bench(
            name,
            factory,
            args.rows,
            args.batch,
            args.workers if name != "sqlite" else None,
            workdir,
        )
        for _ in range(args.runs)
    ]
    if args.runs > 1:
        rates, raws, plans = zip(*results, strict=True)
        ratios = [r / w for r, w, _ in results]
        print(
            f"[{name}] median of {args.runs} runs: sweep {statistics.median(rates):,.0f} "
            f"subjects/s, raw {statistics.median(raws):,.0f} rows/s, sweep/raw "
            f"{statistics.median(ratios):.2f} (runs: {', '.join(f'{r:,.0f}' for r in rates)}), "
            f"plan {statistics.median(plans):.2f} s"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=BATCH_SIZE)
    parser.add_argument(
        "--workers", type=int, help="sweep workers (default: the engine's, 2 on PostgreSQL)"
    )
    parser.add_argument("--runs", type=int, default=1, help="seeded runs per backend (medians)")
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--pg", default=os.environ.get("GDPR_TEST_DATABASE_URL"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        if args.backend in ("sqlite", "both"):
            factory = DatabaseFactory(workdir)
            try:
                runs("sqlite", factory, args, workdir)
            finally:
                factory.close()
        if args.backend in ("postgresql", "both"):
            if not args.pg:
                print("[postgresql] skipped: set GDPR_TEST_DATABASE_URL or pass --pg")
                return
            factory = DatabaseFactory(workdir, args.pg)
            try:
                runs("postgresql", factory, args, workdir)
            finally:
                factory.close()


if __name__ == "__main__":
    main()
