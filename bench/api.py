"""HTTP API throughput: audited single-candidate reads next to a bare read of the same row.

For each configuration a real `gdpr serve`-style server (uvicorn on loopback, the app factory
`bench.api:bench_app`, which adds a bare endpoint that exists only here) runs in its own
process(es), and `wrk` (Debian's, in another process; 16 connections, 2 threads) loads it:

- audited: `GET /v1/candidates/{id}` with a recruiter's bearer token: rate limits, token check,
  authorization with the subject's country, the read, the audit entry committed before the
  response (group commit on or off);
- bare: `GET /bench/bare/{id}`: the same row through the same engine, app and middleware, with
  no token, no authorization and no audit.

Runs alternate bare and audited (so load from other processes on this shared machine hits both
alike); medians of several runs of reads/s and p50/p99 latency, and the audited/bare ratio.
Data: the demo generator's candidates (`gdpr demo seed`). PostgreSQL runs with 1 and 2 worker
processes.

    python bench/api.py [--candidates 20000] [--runs 5] [--seconds 4]
        [--pg postgresql+psycopg://postgres@127.0.0.1:5432/test] [--only sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from fastapi import APIRouter, FastAPI
from sqlalchemy import Engine, bindparam, select

from retention.access import Role, grants, principals
from retention.api import create_app
from retention.api.routes.candidates import Candidate as CandidateOut
from retention.api.state import InstallationDep
from retention.audit.log import create_signing_key
from retention.config import load_config
from retention.demo import seed_candidates
from retention.install import MARKER, Installation, bootstrap_principals
from retention.store import Candidate, connect, reader_for, transaction
from retention.testing import DatabaseFactory

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime.now(UTC)
BY_ID = select(Candidate).where(Candidate.id == bindparam("subject_id"))

bare_router = APIRouter(prefix="/bench", tags=["benchmark"])


_readers: dict[int, Engine] = {}


@bare_router.get("/bare/{candidate_id}")
def bare(candidate_id: uuid.UUID, installation: InstallationDep) -> CandidateOut:
    """The same row, no authorization, no audit: the benchmark's reference (never in production).

    Read in a read transaction (on SQLite a deferred one: no write lock), the cheapest way."""
    engine = installation.engine
    reader = _readers.setdefault(id(engine), reader_for(engine))
    with transaction(reader) as conn:
        row = conn.execute(BY_ID, {"subject_id": candidate_id}).one()
    return CandidateOut.model_validate({c: getattr(row, c) for c in Candidate.model_fields})


def bench_app() -> FastAPI:
    """`gdpr serve`'s app plus the bare endpoint (mounted at the root, outside /v1)."""
    app = create_app(load_config())
    app.include_router(bare_router)
    return app


@dataclass
class Run:
    rps: float
    p50_ms: float
    p99_ms: float


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def prepare(url: str, workdir: Path, candidates: int) -> tuple[Path, str, str]:
    """An installation with demo candidates; (data dir, a recruiter's token, an NL subject)."""
    data = workdir / "data"
    for sub in ("documents", "keys", "witness"):
        (data / sub).mkdir(parents=True, mode=0o700, exist_ok=True)
    data.chmod(0o700)
    (data / MARKER).write_text("bench installation\n")
    engine = connect(url)
    installation = Installation(load_config(data, url, env={}), engine)
    create_signing_key(installation)
    issued = bootstrap_principals(installation)
    admin, dpo = issued[Role.ADMIN].principal_id, issued[Role.DPO].principal_id
    seed_candidates(engine, data / "documents", candidates, seed=7, now=NOW, document_fraction=0)
    created = principals.create_principal(engine, admin, "rita", "human")
    token = principals.enroll(engine, created.code).token
    grant = grants.grant_access(engine, admin, "rita", "recruiter", "NL", "30d", "bench")
    grants.approve_grant(engine, dpo, str(grant.id))
    with engine.connect() as conn:
        subject = conn.execute(
            select(Candidate.id).where(Candidate.country == "NL", Candidate.blocked_at.is_(None))
        ).scalar()
    engine.dispose()
    assert subject is not None, "the demo data has no NL candidate"
    return data, token, str(subject)


def configure(data: Path, group_commit: bool) -> None:
    (data / "gdpr.toml").write_text(
        "[api]\n"
        f"group_commit = {'true' if group_commit else 'false'}\n"
        "principal_rate_per_minute = 0\n"
        "source_rate_per_minute = 0\n"
    )


def start(data: Path, url: str, workers: int, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "GDPR_DATA_DIR": str(data), "GDPR_DATABASE_URL": url}
    code = (
        f"import sys; sys.path.insert(0, {str(ROOT)!r})\n"
        "from retention.api.server import serve\n"
        "from retention.config import load_config\n"
        "from retention.logs import configure_logging\n"
        "import logging; configure_logging(json=True, level=logging.WARNING)\n"
        f"serve(load_config(), port={port}, workers={workers}, factory='bench.api:bench_app')\n"
    )
    server = subprocess.Popen(
        [sys.executable, "-c", code], env=env, cwd=ROOT,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    stop = time.monotonic() + 60
    while time.monotonic() < stop:
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    server.kill()
    raise SystemExit("the server did not become ready")


def stop_server(server: subprocess.Popen[bytes]) -> None:
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    found = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if found is None:
        raise SystemExit(f"wrk printed a latency this does not read: {text!r}")
    return float(found.group(1)) * _UNITS[found.group(2)]


def wrk(url: str, seconds: int, token: str | None) -> Run:
    args = ["wrk", "-t2", "-c16", f"-d{seconds}s", "--latency", url]
    if token:
        args[1:1] = ["-H", f"Authorization: Bearer {token}"]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        raise SystemExit(f"{non2xx.group(1)} requests failed: {url}\n{out}")
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p50 = re.search(r"^\s*50%\s+(\S+)", out, re.M)
    p99 = re.search(r"^\s*99%\s+(\S+)", out, re.M)
    if rps is None or p50 is None or p99 is None:
        raise SystemExit(f"wrk printed what this does not read:\n{out}")
    return Run(float(rps.group(1)), _ms(p50.group(1)), _ms(p99.group(1)))


def measure(
    name: str, data: Path, url: str, token: str, subject: str, workers: int, group: bool,
    runs: int, seconds: int,
) -> tuple[Run, Run]:  # fmt: skip
    configure(data, group)
    port = free_port()
    server = start(data, url, workers, port)
    base = f"http://127.0.0.1:{port}"
    try:
        wrk(f"{base}/bench/bare/{subject}", 1, None)  # warm up both paths
        wrk(f"{base}/v1/candidates/{subject}", 1, token)
        bares, audited = [], []
        for _ in range(runs):
            bares.append(wrk(f"{base}/bench/bare/{subject}", seconds, None))
            audited.append(wrk(f"{base}/v1/candidates/{subject}", seconds, token))
    finally:
        stop_server(server)
    b, a = _median_run(bares), _median_run(audited)
    print(
        f"{name:<34} bare {b.rps:>6,.0f}/s p50 {b.p50_ms:5.1f} p99 {b.p99_ms:6.1f} ms | "
        f"audited {a.rps:>6,.0f}/s p50 {a.p50_ms:5.1f} p99 {a.p99_ms:6.1f} ms | "
        f"audited/bare {a.rps / b.rps:4.2f}",
        flush=True,
    )
    return b, a


def _median_run(runs: list[Run]) -> Run:
    return Run(
        *(statistics.median(getattr(r, f) for r in runs) for f in ("rps", "p50_ms", "p99_ms"))
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=4)
    parser.add_argument("--pg", default=os.environ.get("GDPR_TEST_DATABASE_URL"))
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk")
    print(
        f"{os.cpu_count()} CPUs; wrk -t2 -c16, {args.runs} runs of {args.seconds} s each, medians"
    )
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if args.only in (None, "sqlite"):
            (work / "sqlite").mkdir()
            factory = DatabaseFactory(work / "sqlite")
            url = factory.migrated()
            data, token, subject = prepare(url, work / "s", args.candidates)
            for group in (True, False):
                measure(f"SQLite, 1 worker, group commit {'on' if group else 'off'}",
                        data, url, token, subject, 1, group, args.runs, args.seconds)  # fmt: skip
            factory.close()
        if args.pg and args.only in (None, "postgresql"):
            (work / "pg").mkdir()
            factory = DatabaseFactory(work / "pg", args.pg)
            url = factory.migrated()
            data, token, subject = prepare(url, work / "p", args.candidates)
            results = {}
            for workers, group in ((1, True), (1, False), (2, True)):
                results[workers, group] = measure(
                    f"PostgreSQL, {workers} worker(s), group commit {'on' if group else 'off'}",
                    data, url, token, subject, workers, group, args.runs, args.seconds,
                )  # fmt: skip
            one, two = results[1, True][1].rps, results[2, True][1].rps
            print(f"PostgreSQL audited reads, 2 workers / 1 worker: {two / one:4.2f}x")
            factory.close()


if __name__ == "__main__":
    main()
