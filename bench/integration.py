"""Benchmark the ATS integration: inbound events applied, outbound deliveries, the sweep's outbox.

Three figures, each next to its raw limit measured in the same run:

- inbound: signed Greenhouse events (the documented candidate_stage_change payload, a new
  candidate id and delivery id each) verified, deduplicated and applied per second through the
  real HTTP API (uvicorn on a loopback port, `POST /v1/integrations/greenhouse/events`), next to
  the service operation alone, the same server refusing an unknown source (its HTTP stack's
  limit), and HMAC verification plus JSON parsing alone.
- outbound: outbox messages delivered per second by the worker to a loopback Standard Webhooks
  receiver (another process: asyncio streams speaking just enough HTTP/1.1, verifying each
  signature; ~0.1 ms of CPU a request, several times less than any Python client's) over 16
  concurrent connections, every confirmation recorded and audited. Raw limit: the same number
  of signed POSTs by the worker's own client (retention.integration.transport: one event loop,
  16 keep-alive connections), no database; beside it, the threaded client the worker had before
  (16 threads over one urllib3 pool), for comparison.
- sweep: the same seeded demo database (copied, so both runs act on the same rows) swept without
  targets and with two (a generic one and a Greenhouse one); the ratio is the outbox's cost. Runs
  alternate (without, with, with, without...) and medians are printed, on a machine that others
  share.

Run: PYTHONPATH=. python bench/integration.py [--rows 1000000] [--runs 3] [--events 3000]
     [--messages 20000] [--backend sqlite|postgresql|both] [--skip sweep,inbound,outbound]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import urllib3
from sqlalchemy import create_engine, insert, make_url, select
from standardwebhooks.webhooks import Webhook

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import retention.sweep.run as sweep_run
from policies import load_default_policy_set
from retention.access import PrincipalView
from retention.config import load_config
from retention.demo import seed_candidates
from retention.install import MARKER, Installation, bootstrap_principals
from retention.integration import greenhouse_signature
from retention.integration.transport import Pool
from retention.operations import DeliverMessages, deliver_messages, receive_event
from retention.store import Candidate, MessageState, OutboxMessage, connect, table_of, transaction
from retention.sweep import run_sweep
from retention.testing import DatabaseFactory

AT = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
DEMO_SEED = 5
GH_SECRET = "bench-greenhouse-secret-0123456789abcdef"
WHSEC = "whsec_" + base64.b64encode(b"bench-standard-webhooks-secret32").decode()
EXAMPLE = (
    Path(__file__).resolve().parent.parent
    / "tests/integration/data/greenhouse/candidate_stage_change.json"
).read_bytes()

# The loopback receiver: another process, asyncio streams speaking just enough HTTP/1.1 (keep-
# alive, Content-Length), verifying every signature with the standardwebhooks library. Python's
# http.server (a thread per connection, the email parser per request) was the slower side.
RECEIVER = textwrap.dedent(
    """
    import asyncio, sys
    from standardwebhooks.webhooks import Webhook
    hook = Webhook(sys.argv[1])
    OK = b"HTTP/1.1 200 OK\\r\\ncontent-length: 2\\r\\n\\r\\n{}"
    BAD = b"HTTP/1.1 401 Unauthorized\\r\\ncontent-length: 2\\r\\n\\r\\n{}"

    async def serve(reader, writer):
        try:
            while True:
                head = await reader.readuntil(b"\\r\\n\\r\\n")
                lines = head.decode("latin-1").split("\\r\\n")[1:]
                headers = dict(l.split(": ", 1) for l in lines if ": " in l)
                headers = {k.lower(): v for k, v in headers.items()}
                body = await reader.readexactly(int(headers.get("content-length", 0)))
                try:
                    hook.verify(body, headers)
                    writer.write(OK)
                except Exception:
                    writer.write(BAD)
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    async def main():
        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        print(server.sockets[0].getsockname()[1], flush=True)
        await server.serve_forever()

    asyncio.run(main())
    """
)


def write_private(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(0o600)


def installation_with(
    url: str, data_dir: Path, targets: str = "", *, sources: bool = True
) -> Installation:
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "documents").mkdir(exist_ok=True)
    (data_dir / MARKER).write_text("bench installation\n")  # what open_installation looks for
    write_private(data_dir / "gh.secret", GH_SECRET + "\n")
    write_private(data_dir / "wh.secret", WHSEC + "\n")
    write_private(data_dir / "harvest.key", "bench-key\n")
    toml = ""
    if sources:
        toml += (
            '[integration.greenhouse]\nkind = "greenhouse"\nsecret_file = "gh.secret"\n'
            'country = "NL"\n'
        )
    (data_dir / "gdpr.toml").write_text(toml + targets)
    return Installation(load_config(data_dir, url, env={}), connect(url))


def median(values: list[float]) -> float:
    return statistics.median(values)


# --- inbound ----------------------------------------------------------------------------------


# `gdpr serve` itself (its uvicorn options, its JSON logs, its app factory), on one worker.
SERVER = textwrap.dedent(
    """
    import sys
    from retention.api.server import serve
    from retention.config import load_config
    config = load_config(sys.argv[1], sys.argv[2], env={})
    serve(config, host="127.0.0.1", port=int(sys.argv[3]), workers=1)
    """
)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(inst: Installation) -> tuple[subprocess.Popen[bytes], str]:
    """The real HTTP API (uvicorn, one worker: SQLite has one writer) on a loopback port."""
    port = free_port()
    url = inst.engine.url.render_as_string(hide_password=False)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(inst.config.data_dir), url, str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            httpx.get(f"{base}/openapi.json", timeout=1)
            return proc, base
        except httpx.TransportError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("the API server did not start")


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used so far (Linux /proc): on a shared machine
    the server's CPU per event says more about its cost than the wall clock does."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def signed_events(n: int, offset: int) -> list[tuple[bytes, dict[str, str]]]:
    data = json.loads(EXAMPLE)
    out = []
    for i in range(offset, offset + n):
        data["payload"]["application"]["candidate"]["id"] = 10_000_000 + i
        data["payload"]["application"]["id"] = 20_000_000 + i
        body = json.dumps(data).encode()
        headers = {
            "Signature": greenhouse_signature(GH_SECRET, body),
            "Greenhouse-Event-ID": f"evt-{i}",
            "Content-Type": "application/json",
        }
        out.append((body, headers))
    return out


def post_all(
    base: str,
    events: list[tuple[bytes, dict[str, str]]],
    clients: int,
    path: str = "/v1/integrations/greenhouse/events",
) -> list[int]:
    """POST each event from `clients` threads over as many keep-alive connections (urllib3:
    the cheapest Python client here, so that the load generator takes as little as it can of
    the CPU the server shares with it)."""
    client = urllib3.PoolManager(maxsize=clients, block=True, retries=False)
    url = f"{base}{path}"

    def post(item: tuple[bytes, dict[str, str]]) -> int:
        return client.request("POST", url, body=item[0], headers=item[1]).status

    with ThreadPoolExecutor(clients) as pool:
        statuses = list(pool.map(post, events))
    client.clear()
    return statuses


def client_limit(events: list[tuple[bytes, dict[str, str]]], clients: int) -> float:
    """The load generator's own ceiling: the same posts to a peer that answers at once (the
    outbound bench's asyncio receiver, which refuses these unsigned-for-it bodies with a 401)."""
    proc, port = start_receiver()
    try:
        t = time.perf_counter()
        statuses = post_all(f"http://127.0.0.1:{port}", events, clients, "/hooks")
        rate = len(events) / (time.perf_counter() - t)
    finally:
        proc.terminate()
        proc.wait()
    assert set(statuses) == {401}, set(statuses)
    return rate


def inbound_once(
    factory: DatabaseFactory, workdir: Path, events: int, clients: int
) -> dict[str, float]:
    """One run on a fresh installation: every inbound figure, measured side by side."""
    inst = installation_with(factory.migrated(), workdir / f"in-{uuid.uuid4().hex[:6]}")
    batch = signed_events(events, 0)
    t = time.perf_counter()
    for b, h in batch:
        hmac.compare_digest(
            hmac.new(GH_SECRET.encode(), b, hashlib.sha256).hexdigest(), h["Signature"][7:]
        )
        json.loads(b)
    raw = events / (time.perf_counter() - t)
    # The service operation alone (what the route calls), on events of their own.
    direct = signed_events(events, events)
    t = time.perf_counter()
    for b, h in direct:
        assert receive_event(inst, "greenhouse", h, b).effect == "created"
    service = events / (time.perf_counter() - t)
    client = client_limit(batch, clients)
    proc, base = start_server(inst)
    try:
        post_all(base, signed_events(50, 10 * events), clients)  # warm up
        t, cpu = time.perf_counter(), cpu_seconds(proc.pid)
        statuses = post_all(base, batch, clients)
        rate = events / (time.perf_counter() - t)
        per_event_ms = (cpu_seconds(proc.pid) - cpu) / events * 1000
        assert set(statuses) == {200}, set(statuses)
        t = time.perf_counter()
        statuses = post_all(base, batch[:1000], clients)
        dup = min(events, 1000) / (time.perf_counter() - t)
        # No such source: refused and audited, the server's cheapest path through the route.
        t = time.perf_counter()
        bare = post_all(base, [(b"{}", {"content-type": "application/json"})] * 1000, clients)
        http_limit = 1000 / (time.perf_counter() - t)
        assert set(bare) == {401}, set(bare)
    finally:
        proc.terminate()
        proc.wait()
    inst.engine.dispose()
    return {
        "rate": rate,
        "cpu_ms": per_event_ms,
        "dup": dup,
        "service": service,
        "refusing": http_limit,
        "client": client,
        "raw": raw,
        "of_service": rate / service,
        "of_client": rate / client,
    }


def inbound(factory: DatabaseFactory, workdir: Path, events: int, clients: int, runs: int) -> None:
    name = "postgresql" if factory.server else "sqlite"
    results = [inbound_once(factory, workdir, events, clients) for _ in range(runs)]
    m = {key: median([r[key] for r in results]) for key in results[0]}
    print(
        f"[{name}] inbound through `gdpr serve` (uvicorn, 1 worker, {clients} client "
        f"connections; median of {runs} runs): {m['rate']:,.0f} events/s applied ({events:,} "
        f"new candidates with an application, each verified, deduplicated and audited; the "
        f"server's CPU {m['cpu_ms']:.2f} ms an event), {m['dup']:,.0f}/s replays acknowledged; "
        f"the service operation alone {m['service']:,.0f}/s; the same server refusing an "
        f"unknown source {m['refusing']:,.0f}/s; the client alone (against a peer that answers "
        f"at once) {m['client']:,.0f}/s; raw limit (HMAC + JSON parse) {m['raw']:,.0f}/s; "
        f"ratios (each run's own): {m['of_service']:.2f} of the service operation, "
        f"{m['of_client']:.2f} of the client's limit; aim >= 500/s on SQLite"
    )


# --- outbound ---------------------------------------------------------------------------------


def start_receiver() -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(
        [sys.executable, "-c", RECEIVER, WHSEC], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    port = int(proc.stdout.readline())
    return proc, port


def outbound(factory: DatabaseFactory, workdir: Path, messages: int, runs: int) -> None:
    proc, port = start_receiver()
    url = f"http://127.0.0.1:{port}/hooks"
    try:
        raw_rates, threaded_rates, rates, cpus = [], [], [], []
        for _ in range(runs):
            raw_rates.append(raw_posts(url, messages))
            threaded_rates.append(threaded_posts(url, messages))
            cpu = time.process_time()
            rates.append(worker_run(factory, workdir, url, messages))
            cpus.append((time.process_time() - cpu) / messages * 1000)
        db = "postgresql" if factory.server else "sqlite"
        rate, raw = median(rates), median(raw_rates)
        print(
            f"[{db}] outbound: {rate:,.0f} deliveries/s by the worker (16 connections, "
            f"{messages:,} messages, each confirmed, recorded and audited; its process's CPU "
            f"{median(cpus):.3f} ms a delivery, seeding the outbox included; median of {runs}); "
            f"raw limit (signed POSTs by the worker's client, one event loop over 16 keep-alive "
            f"connections, no database) {raw:,.0f}/s, ratio {rate / raw:.2f}; the threaded "
            f"urllib3 client (16 threads, one pool) {median(threaded_rates):,.0f}/s; "
            "aim >= 1,000/s"
        )
    finally:
        proc.terminate()
        proc.wait()


def _signed(hook: Webhook, body: str, i: int) -> dict[str, str]:
    now = datetime.now(UTC)
    mid = f"msg_{i}"
    return {
        "webhook-id": mid,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": hook.sign(mid, now, body),
        "content-type": "application/json",
    }


def raw_posts(url: str, n: int) -> float:
    """Signed POSTs by the worker's own client (one event loop, a pool of 16 keep-alive
    connections, 16 requests in flight), no database: what this machine's Python can send to
    the receiver the way the worker sends."""
    hook = Webhook(WHSEC)
    body = json.dumps({"type": "subject.erase", "data": {"subject": str(uuid.uuid4())}})

    async def send_all() -> tuple[list[int], float]:
        pool = Pool(url, size=16, timeout=10)
        todo = iter(range(n))
        statuses: list[int] = []

        async def work() -> None:
            for i in todo:
                response = await pool.request("POST", url, _signed(hook, body, i), body.encode())
                statuses.append(response.status)

        t = time.perf_counter()
        await asyncio.gather(*(work() for _ in range(16)))
        seconds = time.perf_counter() - t
        pool.close()
        return statuses, seconds

    statuses, seconds = asyncio.run(send_all())
    assert set(statuses) == {200}, set(statuses)
    return n / seconds


def threaded_posts(url: str, n: int) -> float:
    """The same POSTs from 16 threads over one urllib3 pool of 16 keep-alive connections: the
    worker's client before it moved to one event loop."""
    hook = Webhook(WHSEC)
    client = urllib3.PoolManager(maxsize=16, block=True, retries=False)
    body = json.dumps({"type": "subject.erase", "data": {"subject": str(uuid.uuid4())}})

    def post(i: int) -> int:
        return client.request(
            "POST", url, body=body.encode(), headers=_signed(hook, body, i)
        ).status

    with ThreadPoolExecutor(16) as pool:
        t = time.perf_counter()
        statuses = list(pool.map(post, range(n)))
        seconds = time.perf_counter() - t
    client.clear()
    assert set(statuses) == {200}, set(statuses)
    return n / seconds


def worker_run(factory: DatabaseFactory, workdir: Path, url: str, n: int) -> float:
    target = (
        f'[integration.hrbox]\nkind = "standard-webhooks"\nsecret_file = "wh.secret"\n'
        f'url = "{url}"\nconcurrency = 16\nrate = 10000\n'
    )
    inst = installation_with(
        factory.migrated(), workdir / f"out-{uuid.uuid4().hex[:6]}", target, sources=False
    )
    issued = bootstrap_principals(inst)
    dpo = next(v for k, v in issued.items() if k.value == "dpo")
    principal = PrincipalView(dpo.principal_id, dpo.name)
    outbox = table_of(OutboxMessage)
    subject = uuid.uuid4()
    now = datetime.now(UTC)
    with transaction(inst.engine) as conn:
        conn.execute(
            insert(outbox),
            [
                {
                    "target": "hrbox",
                    "subject_id": subject,
                    "source_ref": f"ats:{i}",
                    "action": "erase",
                    "after_seq": 0,
                    "audit_seq": 0,
                    "state": MessageState.PENDING.value,
                    "attempts": 0,
                    "next_at": now,
                    "created_at": now,
                }
                for i in range(n)
            ],
        )
    t = time.perf_counter()
    done = deliver_messages(inst, principal, DeliverMessages())
    seconds = time.perf_counter() - t
    delivered = done.delivered.get("hrbox", 0)
    if delivered != n:
        print(f"  ({n - delivered} of {n} failed once (left for a retry): {done.to_json()})")
    inst.engine.dispose()
    return delivered / seconds


# --- sweep with and without outbox rows -------------------------------------------------------


def copy_database(url: str, factory: DatabaseFactory, workdir: Path) -> str:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        assert parsed.database is not None
        raw = create_engine(url)
        with raw.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        raw.dispose()
        target = workdir / f"copy-{uuid.uuid4().hex[:8]}.sqlite3"
        shutil.copyfile(parsed.database, target)
        return f"sqlite:///{target}"
    assert factory.server is not None
    name = f"gdpr_test_{uuid.uuid4().hex[:16]}"
    factory._admin(f'CREATE DATABASE "{name}" TEMPLATE "{parsed.database}"')
    factory._created.append(name)
    return factory.server.set(database=name).render_as_string(hide_password=False)


TARGETS = (
    '[integration.hrbox]\nkind = "standard-webhooks"\nsecret_file = "wh.secret"\n'
    'url = "http://127.0.0.1:9/hooks"\n\n'
    '[integration.greenhouse]\nkind = "greenhouse"\nsecret_file = "gh.secret"\n'
    'url = "http://127.0.0.1:9"\non_behalf_of = "1"\napi_key_file = "harvest.key"\n'
)


class _OutboxTimer:
    """Seconds spent in the sweep's outbox statements (the bench wraps the sweep's own call)."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def __enter__(self) -> _OutboxTimer:
        self.original = sweep_run.write_outbox

        def timed(*args: Any, **kwargs: Any) -> int:
            t = time.perf_counter()
            try:
                return self.original(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - t

        sweep_run.write_outbox = timed  # type: ignore[assignment]
        return self

    def __exit__(self, *exc: object) -> None:
        sweep_run.write_outbox = self.original  # type: ignore[assignment]


def sweep_once(url: str, data_dir: Path, targets: str) -> tuple[float, int, int, float, float]:
    inst = installation_with(url, data_dir, targets, sources=False)
    # Greenhouse ids on a tenth of the subjects, so its target's statement selects rows too.
    c = table_of(Candidate).c
    with transaction(inst.engine) as conn:
        if inst.engine.dialect.name == "sqlite":
            conn.exec_driver_sql(
                "UPDATE candidate SET external_ref = 'greenhouse:' || substr(external_ref, 5) "
                "WHERE rowid % 10 = 0"
            )
        else:
            conn.exec_driver_sql(
                "UPDATE candidate SET external_ref = 'greenhouse:' || substr(external_ref, 5) "
                "WHERE abs(hashtext(id::text)) % 10 = 0"
            )
    policy_set = load_default_policy_set()
    t = time.perf_counter()
    with _OutboxTimer() as outbox_time:
        result = run_sweep(inst, policy_set, actor="bench", at=AT)
    seconds = time.perf_counter() - t
    with transaction(inst.engine) as conn:
        rows = len(conn.execute(select(table_of(OutboxMessage).c.id)).all())
        _ = c
    inst.engine.dispose()
    assert result.status == "completed", result
    return result.acted / seconds, result.acted, rows, outbox_time.seconds, seconds


def sweep_compare(factory: DatabaseFactory, workdir: Path, n: int, runs: int) -> None:
    url = factory.migrated()
    engine = connect(url)
    seed_dir = workdir / f"seed-{uuid.uuid4().hex[:6]}"
    (seed_dir / "documents").mkdir(parents=True)
    t = time.perf_counter()
    seed_candidates(engine, seed_dir / "documents", n, seed=DEMO_SEED, now=AT)
    engine.dispose()
    name = "postgresql" if factory.server else "sqlite"
    print(f"[{name}] seeded {n:,} demo candidates in {time.perf_counter() - t:.0f} s")
    without, with_, shares = [], [], []
    order = ["without", "with", "with", "without"] * ((runs + 1) // 2)
    acted = rows = 0
    for i, kind in enumerate(order[: 2 * runs]):
        copy = copy_database(url, factory, workdir)
        data_dir = workdir / f"sweep-{i}"
        shutil.copytree(seed_dir, data_dir)
        rate, acted, written, in_outbox, total = sweep_once(
            copy, data_dir, TARGETS if kind == "with" else ""
        )
        (with_ if kind == "with" else without).append(rate)
        extra = ""
        if kind == "with":
            rows = written
            shares.append(in_outbox / total)
            extra = f"; outbox statements {in_outbox:.2f} s of {total:.1f} s"
        print(f"[{name}]   sweep {kind} targets: {rate:,.0f} subjects/s ({acted:,} acted{extra})")
        if factory.server is None:
            os.unlink(make_url(copy).database or "")
    a, b = median(without), median(with_)
    print(
        f"[{name}] sweep of {n:,} demo subjects ({acted:,} acted): {a:,.0f} subjects/s without "
        f"targets, {b:,.0f}/s with two ({rows:,} outbox rows); slowdown "
        f"{(a - b) / a * 100:.1f}% (median of {len(without)} each, alternating runs); the "
        f"outbox statements themselves took {median(shares) * 100:.1f}% of the sweep's time "
        "(the figure noise on a shared machine does not move); aim <= 10%"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--clients", type=int, default=8, help="inbound client connections")
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="sqlite")
    parser.add_argument("--pg", default=os.environ.get("GDPR_TEST_DATABASE_URL"))
    parser.add_argument("--skip", default="", help="comma-separated: inbound,outbound,sweep")
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    backends: list[tuple[str, str | None]] = []
    if args.backend in ("sqlite", "both"):
        backends.append(("sqlite", None))
    if args.backend in ("postgresql", "both"):
        if not args.pg:
            print("[postgresql] skipped: set GDPR_TEST_DATABASE_URL or pass --pg")
        else:
            backends.append(("postgresql", args.pg))
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        for _name, server in backends:
            factory = DatabaseFactory(workdir, server)
            try:
                if "inbound" not in skip:
                    inbound(factory, workdir, args.events, args.clients, args.runs)
                if "outbound" not in skip:
                    outbound(factory, workdir, args.messages, args.runs)
                if "sweep" not in skip:
                    sweep_compare(factory, workdir, args.rows, args.runs)
            finally:
                factory.close()
    _ = threading


if __name__ == "__main__":
    main()
