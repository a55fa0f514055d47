"""Benchmark data-subject requests: the access package of a subject with many audit entries in a
large log, and the due list over many requests, next to the raw limits of this machine.

- Access package: a log of --log-entries entries (default 10,000,000) of which --subject-entries
  (default 10,000) are about one subject, spread evenly, built through the audit log's own
  batched append (hash chain and Merkle nodes real). Timed: the whole `request fulfil` of an
  access request (authorize, read the record, sign a checkpoint, the subject's entries with an
  inclusion proof each, JSON and HTML written), medians of --runs; next to the raw limit: the
  driver reading the subject's rows through its index. The query plans are printed: no scan of
  the log. With several --log-entries (1000000,4000000) the growth from the smallest to the
  largest is printed (a plan that scans would grow with the log).
- Due list: --requests (default 100,000) requests, 2% still open; `due_list` (overdue and due in
  7 days) next to the same SELECT through the driver; plan printed.

Wall time and this process's CPU time are both printed: on a shared machine the wall time
includes waiting for a core (and, on PostgreSQL, the server's work, which the CPU figure omits).

Seeding ten million entries takes minutes: with --keep DIR the seeded installation of each log
size (its SQLite file, or on PostgreSQL a database named after the URL's, suffixed with the size)
is kept in DIR and reused by the next run with the same DIR, sizes and backend (each run adds a
few entries: its requests and checkpoints). Drop the PostgreSQL ones with --drop-kept.

Run: PYTHONPATH=. python bench/requests.py [--log-entries 10000000] [--subject-entries 10000]
     [--requests 100000] [--runs 3] [--backend sqlite|postgresql] [--part access|due|both]
     [--keep DIR [--drop-kept]]
PostgreSQL: --backend postgresql with GDPR_TEST_DATABASE_URL (postgresql+psycopg://...).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import Connection, create_engine, make_url, text

from audit_log import AuditLog, Event
from audit_log.store import PROOF_SQL
from retention.access import PrincipalView, Role
from retention.audit import log as auditing
from retention.config import load_config
from retention.install import MARKER, Installation, bootstrap_principals
from retention.operations import requests as ops
from retention.requests import due_list
from retention.requests.due import due_query
from retention.requests.trail import subject_entries_query
from retention.store import Candidate, RequestType, bulk_insert, connect, migrate
from retention.testing import DatabaseFactory

CHUNK = 20000


def installation_on(url: str, root: Path) -> Installation:
    data = root / "data"
    for sub in ("documents", "keys", "witness"):
        (data / sub).mkdir(parents=True, exist_ok=True)
    (data / MARKER).write_text("bench\n")
    (data / "gdpr.toml").write_text('timezone = "Europe/Bucharest"\n[requests]\ncalendar = "RO"\n')
    engine = connect(url)
    inst = Installation(load_config(data, url, env={}), engine)
    auditing.create_signing_key(inst)
    return inst


def build_log(inst: Installation, total: int, subject: uuid.UUID, per_subject: int) -> float:
    """Append `total` entries, every (total // per_subject)-th about `subject`; seconds taken."""
    log = AuditLog()
    stride = max(total // per_subject, 1)
    reader = Event(
        actor=str(uuid.uuid4()), action="candidate.read", reason="NL hiring",
        details={"allowed_by": str(uuid.uuid4()), "permission": "candidate:read"},
    )  # fmt: skip
    t = time.perf_counter()
    done = 0
    while done < total:
        n = min(CHUNK, total - done)
        subjects = [subject if (done + i) % stride == 0 else uuid.uuid4() for i in range(n)]
        with inst.engine.begin() as conn:
            log.append_alike(conn, [(reader, subjects)])
        done += n
        if done % 1_000_000 == 0:
            print(f"  ... {done:,} entries ({time.perf_counter() - t:.0f} s)", flush=True)
    return time.perf_counter() - t


def plan(conn: Connection, statement: object) -> list[str]:
    compiled = statement.compile(conn, compile_kwargs={"literal_binds": True})  # type: ignore[attr-defined]
    sql = str(compiled)
    if conn.dialect.name == "sqlite":
        return [
            " ".join(str(c) for c in r[1:])
            for r in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}")
        ]
    return [r[0] for r in conn.exec_driver_sql(f"EXPLAIN (ANALYZE, BUFFERS, TIMING OFF) {sql}")]


def proof_plan_params(conn: Connection, seqs: list[int], size: int) -> list[tuple[str, tuple]]:
    """Parameters like those `inclusion_proofs` binds for this subject (level 4 probes, the
    densest level's span, the leaves' blocks), for EXPLAIN."""
    from audit_log.merkle import inclusion_nodes

    sqlite = conn.dialect.name == "sqlite"
    level4 = sorted({i for s in seqs for lv, i in inclusion_nodes(s, size) if lv == 4})
    top = max(lv for lv, _ in inclusion_nodes(seqs[0], size))
    blocks = sorted({s >> 4 for s in seqs})

    def array(ids: list[int]) -> object:
        return json.dumps(ids) if sqlite else ids

    return [("nodes", (4, array(level4[:5000]))), ("span", (top - 2, 0, 3)),
            ("leaves", (array(blocks[:5000]),))]  # fmt: skip


def driver_plan(conn: Connection, sql: str, params: tuple) -> list[str]:
    cursor = conn.connection.cursor()
    try:
        if conn.dialect.name == "sqlite":
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
            return [" ".join(str(c) for c in r[1:]) for r in cursor.fetchall()]
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS, TIMING OFF) {sql}", params)
        return [r[0] for r in cursor.fetchall()]
    finally:
        cursor.close()


def open_verified(inst: Installation, dpo: PrincipalView, subject: uuid.UUID) -> uuid.UUID:
    received = datetime.now(UTC) - timedelta(days=2)
    opened = ops.open_request(
        inst, dpo, ops.OpenRequest(RequestType.ACCESS, received, subject_id=subject)
    )
    ops.verify_request(inst, dpo, ops.VerifyRequest(opened.id, "reply from known address"))
    return opened.id


def seeded(
    url: str, root: Path, total: int, per_subject: int
) -> tuple[Installation, uuid.UUID, uuid.UUID]:
    """An installation whose log holds `total` entries, `per_subject` of them about one subject:
    the one kept under `root` (see --keep) if there is one, else a new one; with the dpo's and
    the subject's ids."""
    marker = root / "seeded.json"
    if marker.exists():
        kept = json.loads(marker.read_text())
        engine = connect(kept["url"])
        # A log kept by an older schema is brought to the head, as an upgrade would do it.
        if migrate.current_revision(engine) != migrate.head_revision():
            t = time.perf_counter()
            migrate.upgrade(engine)
            print(f"  migrated the kept log to {migrate.head_revision()} in "
                  f"{time.perf_counter() - t:.0f} s")  # fmt: skip
        inst = Installation(load_config(root / "data", kept["url"], env={}), engine)
        print(f"  reusing the seeded log kept in {root}")
        return inst, uuid.UUID(kept["dpo"]), uuid.UUID(kept["subject"])
    inst = installation_on(url, root)
    dpo = bootstrap_principals(inst)[Role.DPO].principal_id
    subject = uuid.uuid4()
    now = datetime.now(UTC)
    with inst.engine.begin() as conn:
        conn.execute(Candidate.__table__.insert().values(
            id=subject, country="NL", status="rejected", first_name="Ana", last_name="Pop",
            email="ana@example.org", applied_at=now - timedelta(days=20),
            decided_at=now - timedelta(days=10), last_activity_at=now - timedelta(days=10),
            created_at=now, updated_at=now,
        ))  # fmt: skip
    built = build_log(inst, total, subject, per_subject)
    print(f"  log of {total:,} entries built in {built:.0f} s ({total / built:,.0f} entries/s)")
    with inst.engine.begin() as conn:
        if inst.engine.dialect.name == "postgresql":
            conn.exec_driver_sql("ANALYZE audit_entry")
        else:
            conn.exec_driver_sql("ANALYZE")
    marker.write_text(json.dumps({"url": url, "dpo": str(dpo), "subject": str(subject)}))
    return inst, dpo, subject


def bench_access(url: str, root: Path, total: int, per_subject: int, runs: int) -> dict[str, float]:
    inst, dpo_id, subject = seeded(url, root, total, per_subject)
    dpo = PrincipalView(dpo_id, "dpo")
    with inst.engine.connect() as conn:
        size = AuditLog().head(conn).size
        query = subject_entries_query(subject, size)
        for line in plan(conn, query):
            print(f"  plan (subject's entries): {line}")
        seqs = [r.seq for r in conn.execute(query)]
        for kind, params in proof_plan_params(conn, seqs, size):
            for line in driver_plan(conn, PROOF_SQL[conn.dialect.name][kind], params):
                print(f"  plan (proofs, {kind}): {line}")
        raw_times = []
        for _ in range(runs):
            t = time.perf_counter()
            n = len(conn.execute(query).all())
            raw_times.append(time.perf_counter() - t)
    times, cpu = [], []
    out = root / "out"
    out.mkdir(exist_ok=True)
    for _ in range(runs):
        rid = open_verified(inst, dpo, subject)
        t, c = time.perf_counter(), time.process_time()
        done = ops.fulfil_request(inst, dpo, ops.FulfilRequest(rid, out=out))
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    size_mb = sum(f.stat().st_size for f in done.path.iterdir() if f.is_file()) / 1e6  # type: ignore[union-attr]
    inst.engine.dispose()
    return {
        "entries": float(n),
        "raw": statistics.median(raw_times),
        "package": statistics.median(times),
        "cpu": statistics.median(cpu),  # this process's CPU: the figure a shared machine moves less
        "mb": size_mb,
    }


def bench_due(url: str, root: Path, count: int, runs: int) -> None:
    inst = installation_on(url, root)
    now = datetime.now(UTC)
    rnd = random.Random(7)
    rows = []
    for i in range(count):
        received = now - timedelta(days=rnd.randrange(0, 3 * 365), seconds=rnd.randrange(86400))
        due_at = received + timedelta(days=31)
        closed = None if i % 50 == 0 else received + timedelta(days=rnd.randrange(1, 40))
        status = "open" if closed is None else "fulfilled"
        rows.append((
            uuid.uuid4(), "access", uuid.uuid4(), "NL", "email", status, received,
            due_at.date(), due_at, closed, uuid.uuid4(), received,
        ))  # fmt: skip
    names = ("id", "type", "subject_id", "country", "channel", "status", "received_at", "due_on",
             "due_at", "closed_at", "opened_by", "created_at")  # fmt: skip
    pg = inst.engine.dialect.name == "postgresql"

    def stored(r: tuple) -> tuple:
        if pg:
            return tuple(v.replace(tzinfo=None) if isinstance(v, datetime) else v for v in r)
        return tuple(
            v.hex if isinstance(v, uuid.UUID) else
            v.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f") if isinstance(v, datetime) else
            v.isoformat() if isinstance(v, date) else v
            for v in r
        )  # fmt: skip

    with inst.engine.begin() as conn:
        bulk_insert(conn, "data_request", names, [stored(r) for r in rows])
    with inst.engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE data_request" if pg else "ANALYZE")
    with inst.engine.connect() as conn:
        for line in plan(conn, due_query(now)):
            print(f"  plan (due list): {line}")
        ours, raw = [], []
        sql = str(due_query(now).compile(conn, compile_kwargs={"literal_binds": True}))
        for _ in range(max(runs, 5)):
            t = time.perf_counter()
            found = due_list(conn, now)
            ours.append(time.perf_counter() - t)
            t = time.perf_counter()
            conn.exec_driver_sql(sql).all()
            raw.append(time.perf_counter() - t)
    o, r = statistics.median(ours), statistics.median(raw)
    print(f"  due list over {count:,} requests ({count // 50:,} open): "
          f"{len(found.overdue):,} overdue, {len(found.due_soon):,} due in 7 days: "
          f"{o * 1000:.1f} ms vs raw SELECT {r * 1000:.1f} ms -> ratio {o / r:.2f}")  # fmt: skip
    inst.engine.dispose()


def _admin(server: str, statement: str) -> None:
    engine = create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(statement))
    finally:
        engine.dispose()


def kept_database(keep: Path, server: str | None, size: int, per: int) -> tuple[str, Path]:
    """The URL and installation root of the kept log of `size` entries, migrated if new."""
    root = keep / f"{'postgresql' if server else 'sqlite'}-{size}-{per}"
    root.mkdir(parents=True, exist_ok=True)
    if (root / "seeded.json").exists():
        return "", root
    if server is None:
        url = f"sqlite:///{root / 'log.sqlite3'}"
        (root / "log.sqlite3").unlink(missing_ok=True)
    else:
        base = make_url(server)
        name = f"{base.database}_{size}_{per}"
        _admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        _admin(server, f'CREATE DATABASE "{name}"')
        url = base.set(database=name).render_as_string(hide_password=False)
    shutil.rmtree(root / "data", ignore_errors=True)
    engine = connect(url)
    migrate.upgrade(engine)
    engine.dispose()
    return url, root


def drop_kept(keep: Path, server: str | None) -> None:
    for marker in sorted(keep.glob("*/seeded.json")):
        url = json.loads(marker.read_text())["url"]
        if server is not None and url.startswith("postgresql"):
            name = make_url(url).database
            _admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            print(f"dropped {name}")
        shutil.rmtree(marker.parent)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--log-entries", default="10000000", help="comma-separated sizes")
    parser.add_argument("--subject-entries", type=int, default=10000)
    parser.add_argument("--requests", type=int, default=100000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--part", choices=("access", "due", "both"), default="both")
    parser.add_argument("--keep", type=Path, help="keep the seeded logs here and reuse them")
    parser.add_argument("--drop-kept", action="store_true", help="drop the kept databases, exit")
    args = parser.parse_args()
    pg_url = os.environ.get("GDPR_TEST_DATABASE_URL")
    if args.backend == "postgresql" and not pg_url:
        raise SystemExit("--backend postgresql needs GDPR_TEST_DATABASE_URL")
    server = pg_url if args.backend == "postgresql" else None
    if args.drop_kept:
        if args.keep is None:
            raise SystemExit("--drop-kept needs --keep DIR")
        drop_kept(args.keep, server)
        return
    with tempfile.TemporaryDirectory(prefix="bench-requests-") as tmp:
        factory = DatabaseFactory(
            Path(tmp) / "db", pg_url if args.backend == "postgresql" else None
        )
        (Path(tmp) / "db").mkdir()
        try:
            if args.part in ("due", "both"):
                print(f"[{args.backend}] due list")
                bench_due(factory.migrated(), Path(tmp) / "due", args.requests, args.runs)
            if args.part in ("access", "both"):
                results = {}
                for size in [int(s) for s in args.log_entries.split(",")]:
                    print(f"[{args.backend}] access package, log of {size:,} entries")
                    if args.keep is None:
                        url, root = factory.migrated(), Path(tmp) / f"a{size}"
                    else:
                        url, root = kept_database(args.keep, server, size, args.subject_entries)
                    r = bench_access(url, root, size, args.subject_entries, args.runs)
                    results[size] = r
                    print(f"  {r['entries']:,.0f} entries of the subject: package "
                          f"{r['package'] * 1000:,.0f} ms wall, {r['cpu'] * 1000:,.0f} ms CPU "
                          f"({r['mb']:.1f} MB) vs raw indexed read "
                          f"{r['raw'] * 1000:,.1f} ms -> ratio {r['package'] / r['raw']:.1f}; "
                          f"aim < 1000 ms", flush=True)  # fmt: skip
                if len(results) > 1:
                    lo, hi = min(results), max(results)
                    print(f"  growth {lo:,} -> {hi:,} entries ({hi / lo:.0f}x the log): package "
                          f"x{results[hi]['package'] / results[lo]['package']:.2f}, raw read "
                          f"x{results[hi]['raw'] / results[lo]['raw']:.2f}")  # fmt: skip
        finally:
            factory.close()


if __name__ == "__main__":
    main()
