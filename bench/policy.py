"""Benchmark the policy engine: Python evaluation records/s, and the compiled SQL due-selection
over N stored candidates on SQLite and (when GDPR_TEST_DATABASE_URL is set) PostgreSQL.

Two SQL figures per backend:
- select due: the due records' id, policy, rule and action written to a table inside the
  database (what a sweep does with its work list), next to the raw limit measured in the same
  run: the same INSERT ... SELECT copying every candidate's id with no policy at all;
- fetch: every decision column of every due record fetched into Python through SQLAlchemy.
Candidate ids are random UUIDs, as stored ones are: the consent join then probes in random
order, as it does in production.

Data (`--data`): `demo` (the default) is the demo's own generator (`gdpr demo seed`: every
country, status and consent history a user's data has, the mix bench/sweep.py runs on), seen
at its seeding instant; `synthetic` is the older uniform mix (12 countries, 4 statuses, a
`--span-days` backlog), kept as a second figure.

Run: PYTHONPATH=. python bench/policy.py [--rows 1000000] [--runs 5] [--data demo|synthetic]
     [--span-days 1460]
Prints medians of several runs.
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
from typing import Any

import sqlalchemy as sa

from policies import Consent, Record, evaluator_for, load_default_policy_set
from retention.demo import generate_batches
from retention.demo.synthetic import CANDIDATE_COLUMNS, CONSENT_COLUMNS
from retention.store import connect
from tests.policy_db import candidate, consent, decision_query, metadata, postgres_engine

COUNTRIES = ["NL", "DE", "FR", "ES", "IT", "PL", "AT", "BE", "GB", "AE", "SE", "IE"]
STATUSES = ["in_process", "rejected", "withdrawn", "hired"]
AT = datetime(2026, 6, 1, tzinfo=UTC)


def synthetic(n: int, seed: int = 7, *, span_days: int = 4 * 365) -> list[Record]:
    """Candidates applied over the `span_days` before AT: 4 years is a first sweep over a
    backlog (most records due); a few months is the steady state of nightly sweeps."""
    rnd = random.Random(seed)
    base = AT - timedelta(days=span_days)
    out = []
    for _ in range(n):
        applied = base + timedelta(seconds=rnd.randrange(span_days * 86400))
        decided = applied + timedelta(days=rnd.randrange(90))
        status = rnd.choice(STATUSES)
        consents: tuple[Consent, ...] = ()
        if rnd.random() < 0.2:
            consents = (Consent("talent_pool", decided, decided + timedelta(days=730), None),)
        out.append(
            Record(
                str(uuid.UUID(int=rnd.getrandbits(128), version=4)),
                rnd.choice(COUNTRIES),
                status,
                applied,
                None if status == "in_process" else decided,
                decided + timedelta(days=rnd.randrange(30)),
                consents,
            )
        )
    return out


def demo(n: int, seed: int = 5) -> list[Record]:
    """n candidates from the demo generator (as `gdpr demo seed --seed 5` writes them) at AT,
    with their consents, as the records the policies decide."""
    cand = {name: i for i, name in enumerate(CANDIDATE_COLUMNS)}
    cons = {name: i for i, name in enumerate(CONSENT_COLUMNS)}
    stamps: dict[str | None, datetime | None] = {None: None}

    def at(text: str | None) -> datetime | None:
        value = stamps.get(text, AT)
        if value is AT:
            assert text is not None
            value = stamps[text] = datetime.fromisoformat(text).replace(tzinfo=UTC)
        return value

    out = []
    for batch in generate_batches(n, seed=seed, now=AT, document_fraction=0.0):
        consents: dict[str, list[Consent]] = {}
        for row in batch.consents:
            consents.setdefault(row[cons["candidate_id"]], []).append(
                Consent(row[cons["purpose"]], at(row[cons["given_at"]]),
                        at(row[cons["expires_at"]]), at(row[cons["withdrawn_at"]]))
            )  # fmt: skip
        for row in batch.candidates:
            cid = row[cand["id"]]
            out.append(
                Record(str(uuid.UUID(cid)), row[cand["country"]], row[cand["status"]],
                       at(row[cand["applied_at"]]), at(row[cand["decided_at"]]),
                       at(row[cand["last_activity_at"]]), tuple(consents.get(cid, ())))
            )  # fmt: skip
    return out


def bench_python(records: list[Record], runs: int) -> tuple[float, float]:
    """Records/s by wall clock and by this process's CPU time (the machine is shared)."""
    ev = evaluator_for(load_default_policy_set())
    wall, cpu = [], []
    for _ in range(runs):
        t, c = time.perf_counter(), time.process_time()
        for r in records:
            ev.evaluate(r, AT)
        wall.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return len(records) / statistics.median(wall), len(records) / statistics.median(cpu)


def _count(values: Any) -> list[tuple[str, int]]:
    counts: dict[str, int] = {}
    for v in values:
        counts[str(v)] = counts.get(str(v), 0) + 1
    return list(counts.items())


def fill(engine: sa.Engine, records: list[Record]) -> None:
    metadata.drop_all(engine)
    metadata.create_all(engine)
    rows = [
        (r.id, r.country, r.status, r.applied_at, r.decided_at, r.last_activity_at) for r in records
    ]
    crow = [
        (r.id, c.purpose, c.given_at, c.expires_at, c.withdrawn_at)
        for r in records
        for c in r.consents
    ]
    naive = lambda v: None if v is None else v.astimezone(UTC).replace(tzinfo=None)  # noqa: E731
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            raw = conn.connection.driver_connection
            with raw.cursor() as cur:
                with cur.copy(
                    f"COPY {candidate.name} (id, country, status, applied_at, decided_at,"
                    " last_activity_at) FROM STDIN"
                ) as cp:
                    for r in rows:
                        cp.write_row((*r[:3], *map(naive, r[3:])))
                with cur.copy(
                    f"COPY {consent.name} (candidate_id, purpose, given_at, expires_at,"
                    " withdrawn_at) FROM STDIN"
                ) as cp:
                    for c in crow:
                        cp.write_row((*c[:2], *map(naive, c[2:])))
        else:
            conn.execute(
                candidate.insert(),
                [
                    dict(
                        zip(
                            [
                                "id",
                                "country",
                                "status",
                                "applied_at",
                                "decided_at",
                                "last_activity_at",
                            ],
                            r,
                            strict=True,
                        )
                    )
                    for r in rows
                ],
            )
            conn.execute(
                consent.insert(),
                [
                    dict(
                        zip(
                            ["candidate_id", "purpose", "given_at", "expires_at", "withdrawn_at"],
                            c,
                            strict=True,
                        )
                    )
                    for c in crow
                ],
            )
        if engine.dialect.name == "postgresql":
            conn.execute(sa.text(f"ANALYZE {candidate.name}"))
            conn.execute(sa.text(f"ANALYZE {consent.name}"))


due_table = sa.Table(
    "policy_due",
    sa.MetaData(),
    sa.Column("id", sa.String(36)),
    sa.Column("policy", sa.String(40)),
    sa.Column("rule", sa.String(80)),
    sa.Column("action", sa.String(20)),
)


def _timed(engine: sa.Engine, runs: int, work: Any) -> tuple[float, float, int]:
    """Median wall and client-CPU seconds of `work(conn)` (rolled back), and its count."""
    wall, cpu, count = [], [], 0
    for _ in range(runs):
        with engine.connect() as conn:
            t, c = time.perf_counter(), time.process_time()
            with conn.begin() as tx:
                count = work(conn)
                tx.rollback()
            wall.append(time.perf_counter() - t)
            cpu.append(time.process_time() - c)
    return statistics.median(wall), statistics.median(cpu), count


def _written(conn: sa.Connection, insert: Any, params: dict[str, Any]) -> int:
    conn.execute(insert, params)
    return conn.execute(sa.select(sa.func.count()).select_from(due_table)).scalar_one()


def bench_sql(engine: sa.Engine, runs: int) -> dict[str, tuple[float, float, int]]:
    """count (due records counted in-database), select (their work list written to a table),
    raw (every id copied to that table, no policy), fetch (everything into Python)."""
    policy_set = load_default_policy_set()
    due_table.drop(engine, checkfirst=True)
    due_table.create(engine)
    due = decision_query(policy_set, only_due=True, columns=("policy", "rule", "action")).subquery()
    select_due = due_table.insert().from_select(
        ["id", "policy", "rule", "action"],
        sa.select(due.c.id, due.c.policy, due.c.rule, due.c.action),
    )
    raw_copy = due_table.insert().from_select(
        ["id", "policy", "rule", "action"],
        sa.select(candidate.c.id, sa.literal("p"), sa.literal("r"), sa.literal("a")),
    )
    fetch = decision_query(policy_set, only_due=True)
    count_due = sa.select(sa.func.count()).select_from(due)
    return {
        "count": _timed(
            engine, runs, lambda conn: conn.execute(count_due, {"at": AT}).scalar_one()
        ),
        "select": _timed(engine, runs, lambda conn: _written(conn, select_due, {"at": AT})),
        "raw": _timed(engine, runs, lambda conn: _written(conn, raw_copy, {})),
        "fetch": _timed(engine, runs, lambda conn: len(conn.execute(fetch, {"at": AT}).all())),
    }


def report(name: str, rows: int, runs: int, r: dict[str, tuple[float, float, int]]) -> None:
    (s_wall, _, due), (raw_wall, _, copied), (f_wall, f_cpu, fetched) = (
        r["select"],
        r["raw"],
        r["fetch"],
    )
    c_wall, _, counted = r["count"]
    assert due == fetched == counted, (due, fetched, counted)
    print(
        f"{name:8} count due among {rows:,} in the database: {c_wall:.2f} s wall"
        f" ({counted:,} due; median of {runs})"
    )
    print(
        f"{name:8} select due among {rows:,}: {s_wall:.2f} s wall ({due:,} due written to a table;"
        f" median of {runs}); raw copy of all {copied:,} ids: {raw_wall:.2f} s;"
        f" ratio {s_wall / raw_wall:.1f}x raw"
    )
    print(
        f"{name:8} fetch every decision column of the {fetched:,} due into Python:"
        f" {f_wall:.2f} s wall, {f_cpu:.2f} s client CPU"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--data", choices=["demo", "synthetic"], default="demo")
    parser.add_argument(
        "--span-days",
        type=int,
        default=4 * 365,
        help="synthetic data: spread of application dates before the instant (a 4-year backlog)",
    )
    args = parser.parse_args()
    if args.data == "demo":
        records = demo(args.rows)
    else:
        records = synthetic(args.rows, span_days=args.span_days)
    sample = records[:200_000]
    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    countries = len({r.country for r in records})
    statuses = ", ".join(f"{s} {n:,}" for s, n in sorted(_count(r.status for r in records)))
    print(f"data: {args.data}, {len(records):,} candidates, {countries} countries ({statuses}),"
          f" {sum(len(r.consents) for r in records):,} consents")  # fmt: skip
    wall_rate, cpu_rate = bench_python(sample, args.runs)
    print(
        f"python evaluate: {wall_rate:,.0f} records/s wall, {cpu_rate:,.0f} records/s CPU"
        f" (median of {args.runs}, {len(sample):,} records)"
    )
    with tempfile.TemporaryDirectory() as tmp:
        # The engine's own connection rules (WAL, memory-mapped reads), as a sweep runs.
        engine = connect(f"sqlite:///{tmp}/bench.db")
        fill(engine, records)
        report("sqlite", args.rows, args.runs, bench_sql(engine, args.runs))
        engine.dispose()
    if os.environ.get("GDPR_TEST_DATABASE_URL"):
        with postgres_engine() as pg:
            assert pg is not None
            fill(pg, records)
            report("postgres", args.rows, args.runs, bench_sql(pg, args.runs))
    print(f"load average at end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
