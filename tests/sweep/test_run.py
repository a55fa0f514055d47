"""The sweep: acts on exactly the due subjects, once, under holds, crashes and concurrency."""

from __future__ import annotations

import random
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import structlog
from sqlalchemy import String, Text, func, inspect, select

from audit_log.schema import audit_entry
from policies import load_default_policy_set
from retention.audit import sign_checkpoint
from retention.audit.log import create_signing_key, verify_installation
from retention.config import load_config
from retention.errors import BadInput
from retention.install import MARKER, Installation
from retention.logs import configure_logging
from retention.store import Candidate, Document, SweepRun, connect, is_postgresql, transaction
from retention.store.sweep_tables import PendingDeletion
from retention.sweep import POSTGRESQL_WORKERS, run_sweep
from retention.sweep.anonymization import Anonymizer
from retention.sweep.holds import list_holds, release_hold
from retention.testing import DatabaseFactory
from tests.sweep_world import (
    audited_actions,
    expected_actions,
    once_each,
    seed,
    start_sweep,
)

AT = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
POLICIES = load_default_policy_set()


def make_installation(factory: DatabaseFactory, root: Path) -> Installation:
    data_dir = root / "data"
    for sub in ("documents", "keys", "witness"):
        (data_dir / sub).mkdir(parents=True, mode=0o700)
    (data_dir / MARKER).write_text("test installation\n")
    url = factory.migrated()
    return Installation(load_config(data_dir, url, env={}), connect(url))


def signed_installation(factory: DatabaseFactory, root: Path) -> Iterator[Installation]:
    """An installation with a signing key for audit verification; disposed after the test."""
    installation = make_installation(factory, root)
    create_signing_key(installation)
    yield installation
    installation.engine.dispose()


@pytest.fixture
def world(any_factory: DatabaseFactory, tmp_path: Path) -> Iterator[Installation]:
    """An installation on each backend."""
    yield from signed_installation(any_factory, tmp_path)


@pytest.fixture
def pg_world(pg_factory: DatabaseFactory, tmp_path: Path) -> Iterator[Installation]:
    """An installation on PostgreSQL, whatever the run's backend (several sweep workers)."""
    yield from signed_installation(pg_factory, tmp_path)


@pytest.fixture
def sqlite_world(sqlite_factory: DatabaseFactory, tmp_path: Path) -> Iterator[Installation]:
    """An installation on SQLite, whatever the run's backend."""
    yield from signed_installation(sqlite_factory, tmp_path)


def sweep(installation: Installation, **kw: object) -> object:
    return run_sweep(installation, POLICIES, actor="scheduler", at=AT, **kw)  # type: ignore[arg-type]


def assert_files_consistent(installation: Installation) -> None:
    docs_dir = installation.config.documents_dir
    with installation.engine.connect() as conn:
        rows = set(conn.execute(select(Document.__table__.c.id)).scalars())
        pending = conn.execute(select(func.count()).select_from(PendingDeletion)).scalar_one()
    on_disk = {uuid.UUID(p.name) for p in docs_dir.iterdir()}
    assert pending == 0
    assert rows == on_disk, "every document row has its file and every file its row"


def assert_audit_verifies(installation: Installation) -> None:
    sign_checkpoint(installation)
    report = verify_installation(installation)
    assert report.ok, report.problem


class TestDifferential:
    def test_acted_on_exactly_what_the_evaluator_calls_due(
        self, installation: Installation
    ) -> None:
        """The subjects and actions of the sweep equal the Python evaluator's due set at `at`."""
        pop, held = seed(installation, 1500, AT, holds=25)
        expected = expected_actions(POLICIES, pop, held, AT)
        assert expected and len(set(expected.values())) == 4
        result = sweep(installation, batch_size=200)
        acted = once_each(audited_actions(installation))
        assert acted == expected
        assert result.acted == len(expected)

    def test_second_run_does_nothing(self, installation: Installation) -> None:
        """Running the sweep again at the same instant finds nothing left to do."""
        seed(installation, 400, AT)
        first = sweep(installation)
        second = sweep(installation)
        assert first.acted > 0
        assert (second.selected, second.acted) == (0, 0)


class _FailingAnonymizer(Anonymizer):
    """Replacement values, until the `fail_at`-th batch: that one fails mid-action."""

    def __init__(self, fail_at: int) -> None:
        super().__init__()
        self.calls = 0
        self.fail_at = fail_at

    def replacements(self, subjects: Sequence[tuple[uuid.UUID, str]]) -> list[dict[str, Any]]:
        self.calls += 1
        if self.calls == self.fail_at:
            raise RuntimeError("injected failure")
        return super().replacements(subjects)


class TestWorkers:
    @pytest.mark.parametrize("workers", [2, 3])
    def test_workers_share_the_list_and_act_once_each(
        self, pg_world: Installation, workers: int
    ) -> None:
        """Workers of one run take disjoint batches: each due subject is acted on once."""
        pop, held = seed(pg_world, 1500, AT, holds=10)
        expected = expected_actions(POLICIES, pop, held, AT)
        result = sweep(pg_world, batch_size=40, workers=workers)
        assert result.status == "completed" and result.acted == len(expected)
        assert result.batches >= workers
        assert once_each(audited_actions(pg_world)) == expected
        assert_files_consistent(pg_world)
        assert_audit_verifies(pg_world)

    def test_a_failing_worker_fails_the_run_and_loses_nothing(self, pg_world: Installation) -> None:
        """One worker's error stops the others after their batch; the next run finishes."""
        pop, held = seed(pg_world, 1500, AT)
        expected = expected_actions(POLICIES, pop, held, AT)
        with pytest.raises(RuntimeError, match="injected failure"):
            sweep(pg_world, batch_size=40, workers=2, anonymizer=_FailingAnonymizer(3))
        with pg_world.engine.connect() as conn:
            runs = conn.execute(select(SweepRun.__table__.c.status)).scalars().all()
        assert runs == ["failed"]
        partial = once_each(audited_actions(pg_world))
        assert 0 < len(partial) < len(expected)
        rest = sweep(pg_world)
        assert rest.status == "completed"
        assert once_each(audited_actions(pg_world)) == expected
        assert_files_consistent(pg_world)
        assert_audit_verifies(pg_world)

    @pytest.mark.parametrize("workers", [0, 17])
    def test_worker_count_out_of_range_is_bad_input(
        self, installation: Installation, workers: int
    ) -> None:
        with pytest.raises(BadInput, match="workers must be 1 to 16"):
            sweep(installation, workers=workers)

    def test_sqlite_takes_one_worker(self, sqlite_world: Installation) -> None:
        """SQLite has a single writer: asking for more workers is refused before any work."""
        seed(sqlite_world, 50, AT)
        with pytest.raises(BadInput, match="single writer"):
            sweep(sqlite_world, workers=2)
        with sqlite_world.engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(SweepRun)).scalar_one() == 0


class TestStop:
    def test_stop_flag_ends_the_run_after_a_whole_batch(self, installation: Installation) -> None:
        """A stop request is honoured between batches: committed work stays, the rest waits.

        Each worker (several share a run on PostgreSQL) ends the batch it is in.
        """
        import threading

        seed(installation, 600, AT)
        stop = threading.Event()
        seen: list[int] = []

        def progress(done: int, total: int) -> None:
            seen.append(done)
            if done > 0:
                stop.set()

        first = sweep(installation, batch_size=50, stop=stop, progress=progress)
        workers = POSTGRESQL_WORKERS if is_postgresql(installation.engine) else 1
        assert first.status == "stopped" and 1 <= first.batches <= workers
        assert first.acted <= 50 * first.batches
        rest = sweep(installation)
        assert rest.status == "completed"
        assert len(once_each(audited_actions(installation))) == first.acted + rest.acted


class TestHolds:
    def test_held_subjects_are_untouched_until_released(self, installation: Installation) -> None:
        """A held subject keeps every value through a sweep; after release it is acted on."""
        pop, held = seed(installation, 600, AT, holds=10)
        due_if_released = held & expected_actions(POLICIES, pop, set(), AT).keys()
        assert due_if_released
        c = Candidate.__table__
        with installation.engine.connect() as conn:
            before = {r.id: tuple(r) for r in conn.execute(select(c).where(c.c.id.in_(held)))}
        sweep(installation)
        acted = dict(audited_actions(installation))
        assert not held & acted.keys()
        with installation.engine.connect() as conn:
            after = {r.id: tuple(r) for r in conn.execute(select(c).where(c.c.id.in_(held)))}
        assert after == before
        with transaction(installation.engine) as conn:
            for hold in list_holds(conn):
                release_hold(conn, hold.id, reason="case closed", actor="dpo")
        result = sweep(installation)
        assert result.acted == len(due_if_released)
        assert due_if_released <= dict(audited_actions(installation)).keys()


class TestNoPersonalDataRemains:
    def test_seeded_values_are_gone_from_tables_audit_and_logs(
        self, installation: Installation, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """No seeded personal value of an anonymized or deleted subject is found anywhere."""
        pop, _ = seed(installation, 500, AT)
        configure_logging(json=True, level=10)
        try:
            sweep(installation)
        finally:
            structlog.reset_defaults()
        logs = capsys.readouterr().err
        acted = dict(audited_actions(installation))
        gone = [s for s, a in acted.items() if a in ("anonymize", "delete")]
        assert gone
        values = {v for s in gone for v in pop.personal_values(s)}
        engine = installation.engine
        found = []
        with engine.connect() as conn:
            schema = inspect(conn)
            for table in schema.get_table_names():
                for col in schema.get_columns(table):
                    if isinstance(col["type"], String | Text):
                        q = f'SELECT "{col["name"]}" FROM "{table}"'
                        for (value,) in conn.exec_driver_sql(q):
                            if value in values:
                                found.append(f"{table}.{col['name']}")
            blobs = conn.execute(select(audit_entry.c.canonical)).scalars().all()
        audit_text = b"\n".join(bytes(b) for b in blobs).decode()
        assert found == []
        assert [v for v in values if v in audit_text] == []
        assert [v for v in values if v in logs] == []
        assert "sweep.batch" in logs


def wait_for_batches(world: Installation, proc: subprocess.Popen[str], n: int) -> bool:
    """Wait until the sweep `proc` runs committed `n` batches; False if it ended first.

    Its run is the one running that was not there before (a killed run stays `running` until
    the next sweep retires it). Read through the driver: the engine's BEGIN IMMEDIATE would
    queue behind the sweep's writes on SQLite and see its progress too late.
    """

    def running() -> list[tuple[object, int]]:
        conn = world.engine.raw_connection()
        try:
            cur = conn.cursor()
            cur.execute("SELECT id, batches FROM retention_run WHERE status = 'running'")
            rows = [(i, b) for i, b in cur.fetchall()]
            conn.rollback()
            return rows
        finally:
            conn.close()

    before = {i for i, _ in running()}
    while proc.poll() is None:
        if any(b >= n for i, b in running() if i not in before):
            return True
        time.sleep(0.005)
    return False


class TestCrashes:
    def test_kill_at_random_points_then_finish_exactly_once(self, world: Installation) -> None:
        """Sweeps killed with SIGKILL mid-run, then restarted, act on every due subject once."""
        pop, held = seed(world, 2500, AT, holds=5)
        expected = expected_actions(POLICIES, pop, held, AT)
        rng = random.Random(7)
        kills = 0
        for _ in range(3):
            # Killed after a random number of its batches committed, at a random instant of the
            # next one: a kill timed from the start could miss a sweep that finished first.
            proc = start_sweep(world, AT, batch=40)
            if wait_for_batches(world, proc, rng.randint(1, 8)):
                time.sleep(rng.uniform(0.0, 0.05))
                proc.send_signal(signal.SIGKILL)
                kills += 1
            proc.wait()
        final = start_sweep(world, AT, batch=40)
        _, err = final.communicate(timeout=300)
        assert final.returncode == 0, err[-2000:]
        assert once_each(audited_actions(world)) == expected
        assert kills >= 1
        with world.engine.connect() as conn:
            statuses = conn.execute(select(SweepRun.__table__.c.status)).scalars().all()
        assert statuses[-1:] != ["running"] and "running" not in statuses
        assert_files_consistent(world)
        assert_audit_verifies(world)


class TestConcurrency:
    def test_two_sweeps_started_together_never_act_twice(self, world: Installation) -> None:
        """Two sweep processes racing: each due subject is acted on exactly once."""
        pop, held = seed(world, 1500, AT)
        expected = expected_actions(POLICIES, pop, held, AT)
        procs = [start_sweep(world, AT, batch=25) for _ in range(2)]
        outs = [p.communicate(timeout=300) for p in procs]
        assert [p.returncode for p in procs] == [0, 0], [e[-2000:] for _, e in outs]
        statuses = sorted(out.split()[0] for out, _ in outs)
        assert statuses in (["completed", "skipped"], ["completed", "completed"])
        assert once_each(audited_actions(world)) == expected
        assert_files_consistent(world)
        assert_audit_verifies(world)
