"""Benchmark: `gdpr demo seed` against raw bulk insert of the same rows, and import rows/s.

For each run, two fresh databases at the newest schema:
- seeding: `retention.demo.seeding.seed_candidates` end to end (generation, CV files, bulk insert,
  commit), the code path of `gdpr demo seed`;
- raw: the same rows (same seed and instant) generated beforehand, untimed, then only their
  insertion timed through the bare driver: sqlite3 `executemany` with the same connection
  settings, or psycopg `COPY ... FROM STDIN` on PostgreSQL, one transaction.
The ratio seeding/raw says how close the seeding path comes to the machine's limit (aim >= 0.5).
With --import-rows, a CSV of that many rows is generated and `import_candidates` timed.

    python bench/seed.py --candidates 1000000 --backend sqlite --runs 3
    python bench/seed.py --candidates 1000000 --backend postgresql --runs 3
    python bench/seed.py --candidates 0 --import-rows 100000
"""

from __future__ import annotations

import argparse
import csv
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg
from sqlalchemy import make_url

from retention.demo import CANDIDATE_COLUMNS, generate_batches, seed_candidates
from retention.intake import COLUMNS, import_candidates
from retention.logs import configure_logging
from retention.store import BULK_CACHE_KIB, connect
from retention.testing import DatabaseFactory

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
# The documented import columns without the consent pair, which this bench leaves empty.
CSV_HEADER = COLUMNS[: COLUMNS.index("talent_pool_consent_given_at")]
PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def seeding_run(factory: DatabaseFactory, work: Path, count: int, seed: int) -> float:
    engine = connect(factory.migrated())
    docs = Path(tempfile.mkdtemp(dir=work))
    try:
        started = time.perf_counter()
        seed_candidates(engine, docs, count, seed=seed, now=NOW)
        return count / (time.perf_counter() - started)
    finally:
        engine.dispose()


def raw_run(factory: DatabaseFactory, count: int, seed: int) -> float:
    url = make_url(factory.migrated())
    spent = 0.0
    if url.get_backend_name() == "sqlite":
        con = sqlite3.connect(url.database or "", isolation_level=None)
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON"):
            con.execute(f"PRAGMA {pragma}")
        con.execute(f"PRAGMA cache_size={-BULK_CACHE_KIB}")
        con.execute("BEGIN IMMEDIATE")
        for batch in generate_batches(count, seed=seed, now=NOW):
            started = time.perf_counter()
            for table, columns, rows in batch.rows():
                if rows:
                    marks = ", ".join("?" * len(columns))
                    con.executemany(
                        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows
                    )
            spent += time.perf_counter() - started
        started = time.perf_counter()
        con.execute("COMMIT")
        spent += time.perf_counter() - started
        con.close()
    else:
        dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(dsn) as con:
            for batch in generate_batches(count, seed=seed, now=NOW):
                started = time.perf_counter()
                with con.cursor() as cur:
                    for table, columns, rows in batch.rows():
                        if rows:
                            sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
                            with cur.copy(sql) as copy:
                                for row in rows:
                                    copy.write_row(row)
                spent += time.perf_counter() - started
            started = time.perf_counter()
            con.commit()
            spent += time.perf_counter() - started
    return count / spent


def write_csv(path: Path, rows: int, seed: int) -> None:
    """An ATS-like export: ';' separated, BOM, DD.MM.YYYY dates, country names, duplicates."""
    names = {"RO": "România", "DE": "Deutschland", "NL": "Nederland", "GB": "United Kingdom"}
    index = {c: i for i, c in enumerate(CANDIDATE_COLUMNS)}
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        out = csv.writer(fh, delimiter=";")
        out.writerow(CSV_HEADER)
        for batch in generate_batches(rows, seed=seed, now=NOW, document_fraction=0):
            for r in batch.candidates:
                applied = r[index["applied_at"]]
                out.writerow(
                    [
                        f"ats-{r[index['external_ref']]}",
                        names.get(r[index["country"]], r[index["country"]]),
                        r[index["status"]].replace("_", " ").title(),
                        r[index["first_name"]],
                        r[index["last_name"]],
                        r[index["email"]],
                        r[index["phone"]],
                        r[index["city"]],
                        f"{applied[8:10]}.{applied[5:7]}.{applied[0:4]}",
                        r[index["decided_at"]] or "",
                        r[index["last_activity_at"]],
                    ]
                )


def import_run(factory: DatabaseFactory, csv_path: Path) -> tuple[float, int]:
    engine = connect(factory.migrated())
    try:
        report = import_candidates(engine, csv_path, now=NOW)
        return report.rows_per_second, report.rows
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--candidates", type=int, default=100_000)
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--pg-url", default=PG_DEFAULT)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--import-rows", type=int, default=0)
    args = parser.parse_args()
    configure_logging(json=False, level=30)

    with tempfile.TemporaryDirectory(prefix="gdpr-bench-") as tmp:
        work = Path(tmp)
        factory = DatabaseFactory(work, args.pg_url if args.backend == "postgresql" else None)
        try:
            if args.candidates:
                seeded, raw = [], []
                for run in range(args.runs):
                    raw.append(raw_run(factory, args.candidates, args.seed + run))
                    seeded.append(seeding_run(factory, work, args.candidates, args.seed + run))
                    print(
                        f"run {run + 1}: seeding {seeded[-1]:,.0f}/s, raw {raw[-1]:,.0f}/s",
                        flush=True,
                    )
                s, r = statistics.median(seeded), statistics.median(raw)
                print(
                    f"{args.backend}, {args.candidates:,} candidates, median of {args.runs}: "
                    f"demo seed {s:,.0f} candidates/s, raw bulk insert {r:,.0f} candidates/s, "
                    f"ratio {s / r:.2f}"
                )
            if args.import_rows:
                csv_path = work / "export.csv"
                write_csv(csv_path, args.import_rows, args.seed)
                rates = []
                for _ in range(args.runs):
                    rate, rows = import_run(factory, csv_path)
                    rates.append(rate)
                print(
                    f"{args.backend}, import of a {rows:,}-row CSV, median of {args.runs}: "
                    f"{statistics.median(rates):,.0f} rows/s"
                )
        finally:
            factory.close()


if __name__ == "__main__":
    main()
