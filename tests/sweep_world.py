"""Shared helpers of the sweep tests: a seeded installation, the Python reference, sweeps in
subprocesses, and what the audit log says was done. Not a test module."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections import Counter
from datetime import datetime
from pathlib import Path

from sqlalchemy import select

from audit_log.schema import audit_entry
from policies import Consent, Hold, PolicySet, Record, evaluate
from retention.demo.population import Population, generate, insert_population
from retention.install import Installation
from retention.store import staged_files, transaction
from retention.sweep import place_hold
from retention.sweep.selection import ACTIONS

ROOT = Path(__file__).resolve().parent.parent


def seed(
    installation: Installation, n: int, at: datetime, *, seed: int = 1, holds: int = 0
) -> tuple[Population, set[uuid.UUID]]:
    """Insert a population with document files; place `holds` holds on due-looking subjects."""
    pop = generate(n, at, seed=seed, document_share=0.2)
    docs = installation.config.documents_dir
    with staged_files(docs) as files, transaction(installation.engine) as conn:
        insert_population(conn, pop, files=files)
    held: set[uuid.UUID] = set()
    candidates = [c for c in pop.candidates if c["status"] in ("rejected", "withdrawn")]
    with transaction(installation.engine) as conn:
        for c in candidates[:holds]:
            place_hold(
                conn, c["id"], case_ref="CASE-A", reason="litigation", actor="dpo", clock=lambda: at
            )
            held.add(c["id"])
    return pop, held


def records(pop: Population, held: set[uuid.UUID], at: datetime) -> list[Record]:
    consents: dict[uuid.UUID, list[Consent]] = {}
    for c in pop.consents:
        consents.setdefault(c["candidate_id"], []).append(
            Consent(c["purpose"], c["given_at"], c["expires_at"], c["withdrawn_at"])
        )
    return [
        Record(
            str(c["id"]),
            c["country"],
            c["status"],
            c["applied_at"],
            c["decided_at"],
            c["last_activity_at"],
            tuple(consents.get(c["id"], ())),
            (Hold(at, None),) if c["id"] in held else (),
        )
        for c in pop.candidates
    ]


def expected_actions(
    policy_set: PolicySet, pop: Population, held: set[uuid.UUID], at: datetime
) -> dict[uuid.UUID, str]:
    """What the Python evaluator says is due at `at`: subject -> action."""
    out = {}
    for record in records(pop, held, at):
        decision = evaluate(policy_set, record, at)
        if getattr(decision, "due", False) and decision.action in ACTIONS:
            out[uuid.UUID(record.id)] = decision.action
    return out


def audited_actions(installation: Installation) -> list[tuple[uuid.UUID, str]]:
    """(subject, action) of every candidate.* entry in the audit log, in log order."""
    e = audit_entry.c
    q = select(e.subject, e.action).where(e.action.like("candidate.%")).order_by(e.seq)
    with installation.engine.connect() as conn:
        return [(row.subject, row.action.split(".", 1)[1]) for row in conn.execute(q)]


def once_each(pairs: list[tuple[uuid.UUID, str]]) -> dict[uuid.UUID, str]:
    """The audited actions as a mapping, after checking no subject was acted on twice."""
    counts = Counter(s for s, _ in pairs)
    twice = [s for s, n in counts.items() if n > 1]
    assert not twice, f"{len(twice)} subjects acted on more than once, e.g. {twice[:3]}"
    return dict(pairs)


SWEEP_SCRIPT = """
import sys
from datetime import datetime
from policies import load_default_policy_set
from retention.config import load_config
from retention.store import connect
from retention.install import Installation
from retention.logs import configure_logging
from retention.sweep import run_sweep
configure_logging(json=True)
data_dir, url, at, batch = sys.argv[1], sys.argv[2], datetime.fromisoformat(sys.argv[3]), int(sys.argv[4])
config = load_config(data_dir, url, env={})
installation = Installation(config, connect(url))
result = run_sweep(installation, load_default_policy_set(), actor="scheduler", at=at, batch_size=batch)
print(result.status, result.acted, flush=True)
"""


def start_sweep(installation: Installation, at: datetime, batch: int) -> subprocess.Popen[str]:
    """A sweep in its own process (to be killed, or raced against another)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    url = installation.engine.url.render_as_string(hide_password=False)
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            SWEEP_SCRIPT,
            str(installation.config.data_dir),
            url,
            at.isoformat(),
            str(batch),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
