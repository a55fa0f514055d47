"""Audit log throughput against the raw limits of this machine, on SQLite and PostgreSQL.

Prints, per backend, medians of several runs measured side by side in one process:
- batched append entries/s (`append_stamped`, as the engine's writers append) next to a raw
  driver insert of the same pre-hashed rows (sqlite3 executemany / psycopg COPY) into an
  identical table without triggers, and their ratio;
- one-entry-per-transaction appends/s;
- full verification entries/s next to a raw read-and-hash of the same rows, and next to the raw
  minimum a verification must do (read+hash, plus reading the columns it compares and hashing
  the Merkle tree's interior nodes once), and both ratios (see `bench_verify`);
- inclusion-proof time on a log of --proof-entries entries (default 1,000,000).

Usage: python bench/audit.py [--pg postgresql+psycopg://postgres@127.0.0.1:5432/test]
       [--entries 20000] [--runs 5] [--proof-entries 1000000]
"""

from __future__ import annotations

import argparse
import hashlib
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import Connection, Engine, select

from audit_log import AuditLog, Event, Signer
from audit_log.merkle import leaf_hashes, parent_hashes
from audit_log.schema import audit_entry
from audit_log.store import _CHUNK_SQL
from retention.store import connect
from retention.testing import DatabaseFactory

BATCH = 1000
CHUNK = 4096  # entries a verification reads in one row (`AuditLog.verify`'s default)
SIGNER = Signer.generate("bench/audit")
RAW_TABLE = """CREATE TABLE raw_entry (seq {seq} PRIMARY KEY, ts {ts} NOT NULL,
 actor VARCHAR(200) NOT NULL, action VARCHAR(100) NOT NULL, subject {uuid}, outcome VARCHAR(8)
 NOT NULL, canonical {blob} NOT NULL, leaf_hash {blob} NOT NULL)"""


def _events(n: int) -> list[Event]:
    return [
        Event("sweep", "retention.delete", uuid4(), reason="policy NL closed-application",
              details={"rule": "closed-application", "policy": "NL", "run": 42, "i": i})
        for i in range(n)
    ]  # fmt: skip


def _median(fn: Callable[[], float], runs: int) -> float:
    return statistics.median(fn() for _ in range(runs))


def _fresh(factory: DatabaseFactory) -> Engine:
    engine = connect(factory.migrated())
    sqlite = engine.dialect.name == "sqlite"
    with engine.begin() as conn:
        # The same key as audit_entry: on SQLite the rowid itself (migration 0012).
        conn.exec_driver_sql(RAW_TABLE.format(
            seq="INTEGER" if sqlite else "BIGINT", ts="DATETIME" if sqlite else "TIMESTAMP", uuid="CHAR(32)" if sqlite else "UUID",
            blob="BLOB" if sqlite else "BYTEA"))  # fmt: skip
        conn.exec_driver_sql("CREATE INDEX ix_raw_subject ON raw_entry (subject)")
    return engine


def bench_append(factory: DatabaseFactory, n: int) -> tuple[float, float]:
    """(audit entries/s, raw entries/s) for n entries in batches of BATCH, fresh database."""
    engine = _fresh(factory)
    events = _events(n)
    log = AuditLog()
    t = time.perf_counter()
    for i in range(0, n, BATCH):
        with engine.begin() as conn:
            # As the engine's writers append (retention.store.audit.record): stamped, no
            # Entry values back.
            at = datetime.now(UTC)
            log.append_stamped(conn, [(e, at) for e in events[i : i + BATCH]])
    ours = n / (time.perf_counter() - t)
    with engine.connect() as conn:
        e = audit_entry.c
        rows = conn.execute(select(e.seq, e.ts, e.actor, e.action, e.subject, e.outcome,
                                   e.canonical, e.leaf_hash).order_by(e.seq)).all()  # fmt: skip
    sqlite = engine.dialect.name == "sqlite"
    t = time.perf_counter()
    for i in range(0, n, BATCH):
        with engine.begin() as conn:
            driver = conn.connection.driver_connection
            chunk = rows[i : i + BATCH]
            if sqlite:
                driver.executemany(
                    "INSERT INTO raw_entry VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [(r[0], r[1].strftime("%Y-%m-%d %H:%M:%S.%f"), r[2], r[3], r[4].hex,
                      *r[5:]) for r in chunk],
                )  # fmt: skip
            else:
                with driver.cursor() as cur, cur.copy("COPY raw_entry FROM STDIN") as cp:
                    for r in chunk:
                        cp.write_row(r)
    raw = n / (time.perf_counter() - t)
    engine.dispose()
    return ours, raw


def bench_single(factory: DatabaseFactory, n: int) -> float:
    """One-entry-per-transaction appends/s."""
    engine = _fresh(factory)
    events = _events(n)
    log = AuditLog()
    t = time.perf_counter()
    for ev in events:
        with engine.begin() as conn:
            log.append(conn, [ev])
    rate = n / (time.perf_counter() - t)
    engine.dispose()
    return rate


def bench_verify(factory: DatabaseFactory, n: int, runs: int) -> tuple[tuple[float, float], ...]:
    """(verification, raw read+hash, raw verify minimum) over one log of n entries, each as
    (entries/s of wall time, entries/s of CPU time of this process).

    Both raw limits read through the driver as verification does (the binary protocol on
    PostgreSQL, so bytea is not sent as hex), in one statement:
    - read+hash: seq, bytes and stored hash of every row, each leaf hashed once and compared;
    - verify minimum: what verification cannot do without, read as it reads: each range of
      CHUNK entries as one row (bytes, stored hashes and the queryable columns it must compare
      with the bytes, each joined by the database), every leaf hashed once and compared, and
      the n - 1 interior nodes of the Merkle tree hashed once each (the signed checkpoint's
      root is rebuilt from them). Reading the columns out of the bytes and comparing them,
      checking the chain links and seqs and comparing the stored nodes are left out, so this
      is below what any verification can reach (and it reads in this thread only).
    Both hash as verification does, the cheapest way hashlib offers: each hash from a copy of a
    SHA-256 state that has taken in the prefix (0x00 for a leaf, 0x01 for a node), not a new
    state over the prefix joined to the data (`merkle.leaf_hashes`, `merkle.parent_hashes`).
    """
    engine = _fresh(factory)
    log = AuditLog()
    events = _events(n)
    for i in range(0, n, BATCH):
        with engine.begin() as conn:
            log.append(conn, events[i : i + BATCH])
    with engine.begin() as conn:
        log.sign_checkpoint(conn, SIGNER, "bench")
    sqlite = engine.dialect.name == "sqlite"
    rows_sql = "SELECT seq, canonical, leaf_hash FROM audit_entry ORDER BY seq"
    chunk_sql = _CHUNK_SQL[engine.dialect.name]

    def ours() -> None:
        with engine.connect() as conn:
            report = log.verify(conn, verifier=SIGNER.verifier, origin="bench")
        assert report.ok, report.problem

    def cursor(conn: Connection) -> Any:
        driver = conn.connection.driver_connection
        return driver.cursor() if sqlite else driver.cursor(binary=True)

    def raw() -> None:
        with engine.connect() as conn:
            cur = cursor(conn)
            cur.execute(rows_sql)
            zero = hashlib.sha256(b"\x00").copy
            bad = 0
            for _, c, h in cur:
                leaf = zero()
                leaf.update(c)
                bad += leaf.digest() != bytes(h)
            cur.close()
        assert bad == 0

    def minimum() -> None:
        with engine.connect() as conn:
            cur = cursor(conn)
            leaves: list[bytes] = []
            bad, lo = 0, 0
            while True:  # the ranges as verification reads them, without its reader thread
                cur.execute(chunk_sql, (lo, lo + CHUNK))
                count, canonical, stored, *_columns = cur.fetchone()
                if not count:
                    break
                hashes = leaf_hashes(bytes(canonical).split(b"\n"))
                bad += b"".join(hashes) != bytes(stored)
                leaves += hashes
                lo += CHUNK
            cur.close()
        level = leaves
        while len(level) > 1:
            odd = level[-1:] if len(level) % 2 else []
            level = parent_hashes(level[: len(level) & ~1]) + odd
        assert bad == 0

    # The three in turn, run after run, so that a change of load on the machine hits all three.
    walls: list[list[float]] = [[], [], []]
    cpus: list[list[float]] = [[], [], []]
    for _ in range(runs):
        for i, fn in enumerate((ours, raw, minimum)):
            t, c = time.perf_counter(), time.process_time()
            fn()
            walls[i].append(n / (time.perf_counter() - t))
            cpus[i].append(n / (time.process_time() - c))
    result = tuple(
        (statistics.median(w), statistics.median(c)) for w, c in zip(walls, cpus, strict=True)
    )
    engine.dispose()
    return result


def bench_proof(factory: DatabaseFactory, size: int, samples: int = 200) -> tuple[float, float]:
    """(median ms, p95 ms) of an inclusion proof for a random entry in a log of `size` entries."""
    engine = _fresh(factory)
    log = AuditLog()
    chunk = 20000
    template = _events(chunk)
    for i in range(0, size, chunk):
        with engine.begin() as conn:
            log.append(conn, template[: min(chunk, size - i)])
    times = []
    with engine.connect() as conn:
        for _ in range(samples):
            seq = random.randrange(size)
            t = time.perf_counter()
            proof = log.inclusion_proof(conn, seq, size)
            times.append((time.perf_counter() - t) * 1000)
            proof.verify()
    engine.dispose()
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95)]


def run(name: str, factory: DatabaseFactory, args: argparse.Namespace) -> None:
    n, runs = args.entries, args.runs
    appends = [bench_append(factory, n) for _ in range(runs)]
    ours = statistics.median(a for a, _ in appends)
    raw = statistics.median(r for _, r in appends)
    print(f"[{name}] batched append ({BATCH}/tx, {n} entries, median of {runs}): "
          f"{ours:,.0f} entries/s vs raw {raw:,.0f} rows/s -> ratio {ours / raw:.2f}")  # fmt: skip
    single = _median(lambda: bench_single(factory, args.single), runs)
    print(f"[{name}] one entry per transaction: {single:,.0f} appends/s")
    (v_ours, c_ours), (v_raw, c_raw), (v_min, c_min) = bench_verify(factory, n, runs)
    print(f"[{name}] full verification: {v_ours:,.0f} entries/s vs raw read+hash "
          f"{v_raw:,.0f} rows/s -> ratio {v_ours / v_raw:.2f}; vs raw verify minimum "
          f"{v_min:,.0f} rows/s -> ratio {v_ours / v_min:.2f}")  # fmt: skip
    if name == "sqlite":  # all the work is in this process: CPU time is less at the mercy of load
        print(f"[{name}] the same in CPU time: {c_ours:,.0f} vs {c_raw:,.0f} -> ratio "
              f"{c_ours / c_raw:.2f}; vs {c_min:,.0f} -> ratio {c_ours / c_min:.2f}")  # fmt: skip
    if args.proof_entries:
        med, p95 = bench_proof(factory, args.proof_entries)
        print(f"[{name}] inclusion proof on {args.proof_entries:,} entries: "
              f"median {med:.2f} ms, p95 {p95:.2f} ms")  # fmt: skip
    sys.stdout.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg", help="PostgreSQL server URL (postgresql+psycopg://...)")
    parser.add_argument("--entries", type=int, default=20000)
    parser.add_argument("--single", type=int, default=500)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--proof-entries", type=int, default=1_000_000)
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.only != "postgresql":
            factory = DatabaseFactory(Path(tmp))
            run("sqlite", factory, args)
            factory.close()
        if args.pg and args.only != "sqlite":
            factory = DatabaseFactory(Path(tmp), args.pg)
            try:
                run("postgresql", factory, args)
            finally:
                factory.close()


if __name__ == "__main__":
    main()
