"""Benchmark renewal campaigns: the selection over the demo's candidates, and sending to loopback SMTP.

Two figures, each next to the raw limit of this machine measured in the same run:

- selection: `select_due` (every step of every schedule in the shipped packs, set-based) over
  N candidates from the demo generator (`gdpr demo seed`: every country and status, talent-pool
  consents of 24 months given over the past years). Raw limit: one bare COUNT of the consents
  expiring within 30 days, on the same rows. Aim: <= 3 s at 1,000,000.
- sending: M queued messages sent by `send_queued` (render both parts, sign the link, SMTP on
  one reused connection, outcome + consent event + audit entry per message in one transaction
  per batch) to an aiosmtpd server (its own process) on loopback. Raw limit: the same number of pre-rendered
  messages through smtplib on one connection to the same server, no database. Aim: >= 200/s.

Medians of --runs runs (the machine is shared).

Run: PYTHONPATH=. python bench/consent.py [--rows 1000000] [--messages 2000] [--runs 3]
     [--backend sqlite|postgresql|both]
"""

from __future__ import annotations

import argparse
import os
import smtplib
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from audit_log import Signer
from policies import load_default_policy_set
from retention.config import ConsentSettings, MailConfig, MailSecurity
from retention.consent import (
    CampaignCounts,
    LinkKeys,
    SmtpSession,
    queue_due,
    select_due,
    send_queued,
)
from retention.demo import seed_candidates
from retention.store import Consent, connect, is_postgresql, table_of, transaction
from retention.testing import DatabaseFactory

AT = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
DEMO_SEED = 5


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def seeded(factory: DatabaseFactory, n: int, workdir: Path) -> Any:
    engine = connect(factory.migrated())
    docs = workdir / f"docs-{uuid.uuid4().hex[:8]}"
    docs.mkdir()
    t = time.perf_counter()
    report = seed_candidates(engine, docs, n, seed=DEMO_SEED, now=AT, document_fraction=0.0)
    if is_postgresql(engine):
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    print(
        f"  seeded {n:,} demo candidates ({report.consents:,} consents) in {time.perf_counter() - t:.0f} s"
    )
    return engine


def selection(engine: Any, runs: int) -> tuple[float, float, int]:
    policy_set = load_default_policy_set()
    settings = ConsentSettings()
    times, raws, due = [], [], 0
    c = table_of(Consent).c
    for _ in range(runs):
        t = time.perf_counter()
        with transaction(engine) as conn:
            due = len(select_due(conn, policy_set, AT, settings))
        times.append(time.perf_counter() - t)
        t = time.perf_counter()
        with transaction(engine) as conn:
            conn.execute(
                select(func.count()).where(
                    c.purpose == "talent_pool",
                    c.withdrawn_at.is_(None),
                    c.expires_at > AT,
                    c.expires_at <= AT + timedelta(days=30),
                )
            ).scalar_one()
        raws.append(time.perf_counter() - t)
    return statistics.median(times), statistics.median(raws), due


def sending(engine: Any, messages: int, runs: int, workdir: Path) -> tuple[float, float]:
    policy_set = load_default_policy_set()
    settings = ConsentSettings(max_messages=3)
    keys = LinkKeys(Signer.generate("bench"))
    port = free_port()
    # The server in a process of its own: in this one it would share the GIL with the sender.
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "aiosmtpd",
            "-n",
            "-l",
            f"127.0.0.1:{port}",
            "-c",
            "aiosmtpd.handlers.Sink",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.1)
    mail = MailConfig("127.0.0.1", port, MailSecurity.NONE, "privacy@example.test")
    rates, raws = [], []
    try:
        with transaction(engine) as conn:
            due = select_due(conn, policy_set, AT, settings)
        due = [d for d in due if d.step == 0]
        assert len(due) >= messages * runs, f"only {len(due)} due; seed more rows"
        for r in range(runs):
            chunk = due[r * messages : (r + 1) * messages]
            with transaction(engine) as conn:
                queue_due(conn, chunk, AT, settings)
            counts = CampaignCounts()
            t = time.perf_counter()
            with SmtpSession(mail) as session:
                send_queued(
                    engine,
                    session,
                    keys,
                    public_url="https://consent.example.test",
                    sender=mail.sender,
                    settings=settings,
                    actor="bench",
                    clock=lambda: AT,
                    counts=counts,
                )
                connections = session.connections
            rates.append(counts.sent / (time.perf_counter() - t))
            assert counts.sent == len(chunk), counts
            # Raw: the same number of messages, pre-rendered, one connection, no database.
            msg = EmailMessage()
            msg["From"], msg["To"], msg["Subject"] = mail.sender, "x@example.org", "raw"
            msg.set_content("x" * 600)
            msg.add_alternative("<p>" + "x" * 900 + "</p>", subtype="html")
            t = time.perf_counter()
            with smtplib.SMTP("127.0.0.1", port) as smtp:
                for _ in range(len(chunk)):
                    smtp.send_message(msg)
            raws.append(len(chunk) / (time.perf_counter() - t))
            print(
                f"  run {r + 1}: sent {counts.sent} on {connections} connection(s), "
                f"{rates[-1]:,.0f}/s; raw {raws[-1]:,.0f}/s"
            )
    finally:
        server.terminate()
        server.wait(timeout=10)
    return statistics.median(rates), statistics.median(raws)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="sqlite")
    parser.add_argument("--pg", default=os.environ.get("GDPR_TEST_DATABASE_URL"))
    args = parser.parse_args()
    backends: list[tuple[str, str | None]] = []
    if args.backend in ("sqlite", "both"):
        backends.append(("sqlite", None))
    if args.backend in ("postgresql", "both"):
        if args.pg:
            backends.append(("postgresql", args.pg))
        else:
            print("[postgresql] skipped: set GDPR_TEST_DATABASE_URL or pass --pg")
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        for name, server in backends:
            factory = DatabaseFactory(workdir, server)
            try:
                print(f"[{name}]")
                engine = seeded(factory, args.rows, workdir)
                sel, raw, due = selection(engine, args.runs)
                print(
                    f"[{name}] selection over {args.rows:,} candidates: {sel:.2f} s "
                    f"({due:,} messages due), raw count {raw:.2f} s, selection/raw "
                    f"{sel / raw if raw else float('inf'):.1f}x (median of {args.runs}); "
                    f"aim <= 3 s: {'ok' if sel <= 3 else 'MISSED'}"
                )
                rate, raw_rate = sending(engine, args.messages, args.runs, workdir)
                print(
                    f"[{name}] sending: {rate:,.0f} messages/s, raw smtplib {raw_rate:,.0f}/s, "
                    f"ratio {rate / raw_rate:.2f} (median of {args.runs}); aim >= 200/s: "
                    f"{'ok' if rate >= 200 else 'MISSED'}"
                )
                ok = ok and sel <= 3 and rate >= 200
                engine.dispose()
            finally:
                factory.close()
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
