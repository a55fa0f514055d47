"""Access control cost: authorization decisions/s, and audited reads next to bare reads.

Prints medians of several runs measured side by side in one process:
- `decide` calls/s in process (a principal with three grants, the allowing one last);
- audited single-candidate reads/s through the gateway (authorize with the subject's country,
  read, append the audit entry, commit: one transaction per read) on SQLite and, with --pg, on
  PostgreSQL, next to the same reads of the same rows without authorization and audit (one
  transaction per read, too, with the same prebuilt statement), and their ratio. Bare and audited
  reads are interleaved one by one, so that load from other processes hits both alike.

Usage: python bench/access.py [--pg postgresql+psycopg://postgres@127.0.0.1:5432/test]
       [--reads 500] [--runs 5] [--decisions 200000]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import Engine, bindparam, select

from audit_log import Event
from retention.access import (
    GrantStatus,
    GrantView,
    Permission,
    PrincipalView,
    Role,
    decide,
    grants,
    principals,
)
from retention.config import load_config
from retention.install import Installation, bootstrap_principals
from retention.store import Candidate, connect, record, transaction
from retention.subjects import Gateway
from retention.testing import DatabaseFactory

CANDIDATES = 2000


def _median(fn: Callable[[], float], runs: int) -> float:
    return statistics.median(fn() for _ in range(runs))


def decisions_per_second(n: int) -> float:
    at = datetime.now(UTC)
    me = PrincipalView(uuid.uuid4(), "rita")
    later = at + timedelta(days=30)
    views = [
        GrantView(uuid.uuid4(), me.id, Role.AUDITOR, None, GrantStatus.ACTIVE, later),
        GrantView(uuid.uuid4(), me.id, Role.RECRUITER, frozenset({"DE"}), GrantStatus.ACTIVE, at),
        GrantView(uuid.uuid4(), me.id, Role.RECRUITER, frozenset({"NL", "RO"}), GrantStatus.ACTIVE, later),
    ]  # fmt: skip
    read = Permission.CANDIDATE_READ
    start = time.perf_counter()
    for _ in range(n):
        decide(me, views, read, "NL", at)
    return n / (time.perf_counter() - start)


def _installation(url: str, workdir: Path) -> Installation:
    data = workdir / uuid.uuid4().hex[:8]
    (data / "documents").mkdir(parents=True)
    return Installation(load_config(data, url, env={}), connect(url))


def _seed(inst: Installation) -> tuple[uuid.UUID, list[uuid.UUID]]:
    issued = bootstrap_principals(inst)
    admin = issued[Role.ADMIN].principal_id
    rec = principals.create_principal(inst.engine, admin, "rita", "human")
    grant = grants.grant_access(inst.engine, admin, "rita", "recruiter", "NL", "30d", "bench")
    grants.approve_grant(inst.engine, issued[Role.DPO].principal_id, str(grant.id))
    now = datetime.now(UTC)
    ids = [uuid.uuid4() for _ in range(CANDIDATES)]
    rows = [
        {"id": i, "country": "NL", "status": "in_process", "first_name": "Ana",
         "last_name": "Pop", "email": f"{i.hex[:10]}@example.org", "created_at": now,
         "updated_at": now}
        for i in ids
    ]  # fmt: skip
    with transaction(inst.engine) as conn:
        conn.execute(Candidate.__table__.insert(), rows)  # type: ignore[attr-defined]
    return rec.principal_id, ids


# The gateway's own statement, prebuilt the same way, so only authorization and audit differ.
BY_ID = select(Candidate).where(Candidate.id == bindparam("subject_id"))


def paired_reads(
    engine: Engine, gateway: Gateway, ids: list[uuid.UUID]
) -> tuple[float, float, float]:
    """Bare reads, audited reads and bare audit appends (one per transaction) on the same
    subjects, interleaved one by one so that load from other processes on this shared machine
    hits all alike; returns the three rates per second."""
    bare = audited = append = 0.0
    clock = time.perf_counter
    for subject in ids:
        t0 = clock()
        with transaction(engine) as conn:
            row = conn.execute(BY_ID, {"subject_id": subject}).first()
        t1 = clock()
        gateway.show(subject)
        t2 = clock()
        with transaction(engine) as conn:
            record(conn, Event(actor="bench", action="bench.append", subject=subject))
        t3 = clock()
        assert row is not None
        bare, audited, append = bare + t1 - t0, audited + t2 - t1, append + t3 - t2
    return len(ids) / bare, len(ids) / audited, len(ids) / append


def bench_backend(name: str, url: str, workdir: Path, reads: int, runs: int) -> None:
    inst = _installation(url, workdir)
    recruiter, ids = _seed(inst)
    gateway = Gateway(inst.engine, recruiter, inst.config.documents_dir)
    rng = random.Random(7)
    rates = [paired_reads(inst.engine, gateway, rng.sample(ids, reads)) for _ in range(runs)]
    b, a, e = (statistics.median(r[i] for r in rates) for i in range(3))
    print(
        f"{name:<10} bare reads/s {b:>7,.0f}   audited reads/s {a:>6,.0f}   ratio {b / a:4.2f}x"
        f"   (audit append alone, one per transaction: {e:,.0f}/s)"
    )
    inst.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg", help="PostgreSQL server URL (postgresql+psycopg://...)")
    parser.add_argument("--reads", type=int, default=500)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--decisions", type=int, default=200_000)
    args = parser.parse_args()
    rate = _median(lambda: decisions_per_second(args.decisions), args.runs)
    print(f"decide(): {rate:,.0f} decisions/s (median of {args.runs} x {args.decisions:,})")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        sqlite = DatabaseFactory(work / "sqlite")
        (work / "sqlite").mkdir()
        try:
            bench_backend("sqlite", sqlite.migrated(), work, args.reads, args.runs)
        finally:
            sqlite.close()
        if args.pg:
            pg = DatabaseFactory(work / "pg", args.pg)
            try:
                bench_backend("postgresql", pg.migrated(), work, args.reads, args.runs)
            finally:
                pg.close()


if __name__ == "__main__":
    main()
