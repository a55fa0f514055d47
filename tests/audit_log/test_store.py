"""Tests of audit_log.store on real databases: appends, reads, proofs, concurrency, crashes."""

from __future__ import annotations

import itertools
import multiprocessing
import os
import signal
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest
from sqlalchemy import Engine, func, insert, select
from sqlalchemy.orm import Session

from audit_log import (
    AuditLog,
    Event,
    InvalidEventError,
    LogStateError,
    Outcome,
    Signer,
    verify_log,
)
from audit_log.merkle import leaf_hash
from audit_log.schema import audit_entry, audit_node
from audit_log.verify import _stored_chunk_intact
from retention.store import Candidate, connect
from retention.testing import DatabaseFactory, FixedClock
from tests.audit_support import drop_audit_triggers
from tests.merkle_reference import mth, path, subproof

SIGNER = Signer.generate("test.example/audit")
ORIGIN = "test.example/audit"


def _events(n: int, tag: str = "t") -> list[Event]:
    return [Event("svc", "candidate.read", UUID(int=i + 1), details={"tag": tag, "i": i})
            for i in range(n)]  # fmt: skip


@pytest.fixture
def any_engine(any_factory: DatabaseFactory):
    eng = connect(any_factory.migrated())
    yield eng
    eng.dispose()


def _verify(engine: Engine):
    with engine.connect() as conn:
        return AuditLog().verify(conn, verifier=SIGNER.verifier, origin=ORIGIN)


class TestAppend:
    def test_entries_chain_and_come_back(self, any_engine: Engine) -> None:
        """Appended entries get consecutive seqs, chain by prev, and read back identical."""
        log = AuditLog(FixedClock(datetime(2026, 5, 1, 8, 0, 0, 123456, tzinfo=UTC)))
        with any_engine.begin() as conn:
            first = log.append(conn, _events(3))
            second = log.append(conn, _events(2, "u"))
        entries = first + second
        assert [e.seq for e in entries] == [0, 1, 2, 3, 4]
        assert entries[0].prev == "0" * 64
        assert all(b.prev == a.leaf_hash.hex() for a, b in itertools.pairwise(entries))
        with any_engine.connect() as conn:
            assert list(AuditLog().entries(conn)) == entries
            assert [e.seq for e in AuditLog().entries(conn, since=3)] == [3, 4]
            assert [e.seq for e in AuditLog().entries(conn, subject=UUID(int=2))] == [1, 4]
        assert entries[0].ts == datetime(2026, 5, 1, 8, 0, 0, 123456, tzinfo=UTC)

    @pytest.mark.parametrize(
        "details",
        [{"rule": "default", "n": 3}, {"\U0001f600 key": "beyond the fast path"}],
        ids=["fast-path", "reference-encoder"],
    )
    def test_append_alike_seals_what_append_would(
        self, any_factory: DatabaseFactory, details: dict[str, object]
    ) -> None:
        """Events about many subjects each: the same entries, nodes and head as `append`."""
        template = Event("svc", "candidate.anonymize", UUID(int=1), reason="r", details=details)
        other = Event("svc", "candidate.delete", UUID(int=1), reason="r", details={"rule": "x"})
        groups = [(template, [UUID(int=i) for i in range(1, 30)]),
                  (other, [UUID(int=i) for i in range(30, 40)])]  # fmt: skip
        clock = FixedClock(datetime(2026, 5, 1, 8, 0, tzinfo=UTC))
        stored = []
        for alike in (False, True):
            engine = connect(any_factory.migrated())
            with engine.begin() as conn:
                AuditLog(clock).append(conn, _events(5))
                if alike:
                    assert AuditLog(clock).append_alike(conn, groups) == 39
                else:
                    events = [e.about(s) for e, subjects in groups for s in subjects]
                    AuditLog(clock).append(conn, events)
            with engine.connect() as conn:
                entries = conn.execute(select(audit_entry).order_by(audit_entry.c.seq)).all()
                nodes = conn.execute(select(audit_node).order_by(*audit_node.c)).all()
                stored.append((entries, nodes, AuditLog().head(conn)))
            assert _verify(engine).ok
            engine.dispose()
        assert stored[0] == stored[1]
        assert stored[1][2].size == 44

    def test_append_alike_refuses_what_is_not_a_uuid(self, any_engine: Engine) -> None:
        """A subject that is not a UUID is refused and nothing is appended."""
        event = Event("svc", "candidate.anonymize", UUID(int=1))
        with pytest.raises(InvalidEventError), any_engine.begin() as conn:
            AuditLog().append_alike(conn, [(event, [UUID(int=2), "not-a-uuid"])])  # type: ignore[list-item]
        with any_engine.begin() as conn:
            assert AuditLog().append_alike(conn, [(event, [])]) == 0
            assert AuditLog().head(conn).size == 0

    def test_refused_event_leaves_the_transaction_usable(self, any_engine: Engine) -> None:
        """An event the encoder refuses, late in a batch big enough to be streamed (a COPY on
        PostgreSQL), is refused before anything is written: the caller's transaction goes on,
        and nothing of the refused batch is stored."""
        refused = Event("svc", "candidate.read", UUID(int=99), details={"note": "\ud800"})
        with any_engine.begin() as conn:
            AuditLog().append(conn, _events(3))
            with pytest.raises(InvalidEventError):
                AuditLog().append(conn, [*_events(600, "lost"), refused])
            AuditLog().append(conn, _events(40, "after"))
        with any_engine.connect() as conn:
            tags = [e.details["tag"] for e in AuditLog().entries(conn)]
        assert tags == ["t"] * 3 + ["after"] * 40
        assert _verify(any_engine).ok

    def test_session_and_rollback(self, any_engine: Engine) -> None:
        """Appending through an ORM session commits with it and vanishes with its rollback."""
        with Session(any_engine) as s, s.begin():
            AuditLog().append(s, _events(2))
        with pytest.raises(RuntimeError), Session(any_engine) as s, s.begin():
            AuditLog().append(s, _events(5))
            raise RuntimeError("action failed")
        with any_engine.connect() as conn:
            assert AuditLog().head(conn).size == 2
        assert _verify(any_engine).ok

    def test_nodes_stored_for_large_subtrees_only(self, any_engine: Engine) -> None:
        """Only subtrees of 16 leaves or more are stored, each exactly once."""
        with any_engine.begin() as conn:
            AuditLog().append(conn, _events(100))
            levels = conn.execute(select(audit_node.c.level, func.count()).group_by(
                audit_node.c.level)).all()  # fmt: skip
        assert dict(levels) == {4: 6, 5: 3, 6: 1}

    def test_missing_head_row_is_reported(self, any_engine: Engine) -> None:
        """Without the migration's head row, append says which command to run."""
        with any_engine.begin() as conn:
            conn.exec_driver_sql("DROP TABLE audit_head")
            conn.exec_driver_sql(
                "CREATE TABLE audit_head (id SMALLINT PRIMARY KEY, size BIGINT, "
                "last_hash VARCHAR(64), frontier BYTEA)".replace(
                    "BYTEA", "BLOB" if any_engine.dialect.name == "sqlite" else "BYTEA"
                )
            )
        with (
            pytest.raises(LogStateError, match="run the database migrations"),
            any_engine.begin() as c,
        ):
            AuditLog().append(c, _events(1))


class TestProofs:
    def test_roots_and_proofs_match_reference(self, any_engine: Engine) -> None:
        """Roots and proofs served from stored nodes equal the naive RFC computation."""
        with any_engine.begin() as conn:
            for size in (1, 15, 16, 17, 31, 100, 77):
                AuditLog().append(conn, _events(size))
        with any_engine.connect() as conn:
            log = AuditLog()
            leaves = [e.leaf_hash for e in log.entries(conn)]
            n = len(leaves)
            for m in (1, 2, 16, 17, 33, 100, 255, n):
                assert log.root(conn, m) == mth(leaves[:m])
                p = log.inclusion_proof(conn, m // 2, m)
                assert list(p.hashes) == path(m // 2, leaves[:m])
                p.verify()
                c = log.consistency_proof(conn, m, n)
                assert list(c.hashes) == (subproof(m, leaves, True) if m < n else [])
                c.verify()

    def test_size_out_of_range(self, any_engine: Engine) -> None:
        """Proofs for sizes beyond the log or entries beyond the size are refused."""
        with any_engine.begin() as conn:
            AuditLog().append(conn, _events(3))
        with any_engine.connect() as conn, pytest.raises(LogStateError):
            AuditLog().inclusion_proof(conn, 3, 3)
        with any_engine.connect() as conn, pytest.raises(LogStateError):
            AuditLog().consistency_proof(conn, 2, 4)


class TestReads:
    """The reads other packages use instead of querying the tables themselves."""

    T0 = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)

    def _three_days(self, engine: Engine) -> None:
        """Two entries a day for three days (seq 0..5), one of each day's denied."""
        clock = FixedClock(self.T0)
        log = AuditLog(clock)
        with engine.begin() as conn:
            for day in range(3):
                log.append(conn, [Event(f"d{day}", "candidate.read", UUID(int=1)),
                                  Event(f"d{day}", "candidate.read", UUID(int=1),
                                        outcome=Outcome.DENIED)])  # fmt: skip
                log.sign_checkpoint(conn, SIGNER, ORIGIN)
                clock.advance(timedelta(days=1))

    def test_entries_stamped_since_an_instant(self, any_engine: Engine) -> None:
        """Entries stamped at or after the instant come back in seq order, filtered by outcome."""
        self._three_days(any_engine)
        log = AuditLog()
        with any_engine.connect() as conn:
            since = self.T0 + timedelta(days=1)
            assert [e.seq for e in log.entries_stamped(conn, since)] == [2, 3, 4, 5]
            ok = log.entries_stamped(conn, since, outcome=Outcome.OK)
            assert [(e.seq, e.actor) for e in ok] == [(2, "d1"), (4, "d2")]
            assert list(log.entries_stamped(conn, self.T0 + timedelta(days=3))) == []

    def test_seq_range_of_a_period(self, any_engine: Engine) -> None:
        """The first and last seq stamped in [start, end); None for a period without entries."""
        self._three_days(any_engine)
        log = AuditLog()
        day = timedelta(days=1)
        with any_engine.connect() as conn:
            assert log.seq_range(conn, self.T0 + day, self.T0 + 2 * day) == (2, 3)
            assert log.seq_range(conn, self.T0, self.T0 + 3 * day) == (0, 5)
            assert log.seq_range(conn, self.T0 - day, self.T0) is None

    def test_entry_rows_in_chunks(self, any_engine: Engine) -> None:
        """Rows of a seq range come back as stored, in order, `chunk` at a time."""
        self._three_days(any_engine)
        log = AuditLog()
        with any_engine.connect() as conn:
            chunks = list(log.entry_rows(conn, 1, 4, chunk=3))
            entries = {e.seq: e for e in log.entries(conn)}
        assert [[row[0] for row in c] for c in chunks] == [[1, 2, 3], [4]]
        for seq, canonical, leaf, actor, outcome in (row for c in chunks for row in c):
            assert bytes(canonical) == entries[seq].canonical
            assert bytes(leaf) == entries[seq].leaf_hash
            assert (actor, outcome) == (entries[seq].actor, entries[seq].outcome.value)

    def test_checkpoint_at_an_instant(self, any_engine: Engine) -> None:
        """The latest checkpoint stored by the instant, with its size; None before the first."""
        self._three_days(any_engine)
        log = AuditLog()
        with any_engine.connect() as conn:
            notes = list(log.checkpoint_notes(conn))
            assert log.checkpoint_at(conn, self.T0 + timedelta(hours=36)) == (notes[1], 4)
            assert log.checkpoint_at(conn, self.T0 + timedelta(days=9)) == (notes[2], 6)
            assert log.checkpoint_at(conn, self.T0 - timedelta(seconds=1)) is None


def _append_worker(url: str, batches: int, tag: str) -> None:
    engine = connect(url)  # created after the process started: engines never cross processes
    log = AuditLog()
    for b in range(batches):
        with engine.begin() as conn:
            log.append(conn, _events(1 + b % 7, tag))
    engine.dispose()


def _crash_worker(url: str, ready) -> None:
    engine = connect(url)
    conn = engine.connect()
    conn.begin()
    conn.execute(insert(Candidate.__table__).values(  # type: ignore[attr-defined]
        id=uuid4(), country="NL", status="rejected",
        created_at=datetime.now(UTC), updated_at=datetime.now(UTC)))  # fmt: skip
    AuditLog().append(conn, [Event("svc", "candidate.delete", uuid4())])
    ready.set()
    signal.pause()  # killed here, between the action and the commit


class TestProcesses:
    def test_concurrent_appends_from_four_processes(self, any_factory: DatabaseFactory) -> None:
        """Four processes appending at once leave one chain: no fork, gap or duplicate seq."""
        url = any_factory.migrated()
        ctx = multiprocessing.get_context("spawn")
        batches = 25
        procs = [ctx.Process(target=_append_worker, args=(url, batches, f"p{i}"))
                 for i in range(4)]  # fmt: skip
        for p in procs:
            p.start()
        for p in procs:
            p.join(120)
            assert p.exitcode == 0
        engine = connect(url)
        per_proc = sum(1 + b % 7 for b in range(batches))
        with engine.connect() as conn:
            seqs = conn.execute(select(audit_entry.c.seq).order_by(audit_entry.c.seq)).scalars()
            assert list(seqs) == list(range(4 * per_proc))
            tags = [e.details["tag"] for e in AuditLog().entries(conn)]
        assert all(tags.count(f"p{i}") == per_proc for i in range(4))
        assert _verify(engine).ok
        engine.dispose()

    def test_killed_process_leaves_neither_action_nor_entry(
        self, any_factory: DatabaseFactory
    ) -> None:
        """A process killed after its action and audit append, before commit, leaves neither."""
        url = any_factory.migrated()
        engine = connect(url)
        with engine.begin() as conn:
            AuditLog().append(conn, _events(2))
        ctx = multiprocessing.get_context("spawn")
        ready = ctx.Event()
        proc = ctx.Process(target=_crash_worker, args=(url, ready))
        proc.start()
        assert ready.wait(60)
        os.kill(proc.pid, signal.SIGKILL)
        proc.join(30)
        with engine.begin() as conn:
            assert conn.execute(select(func.count()).select_from(Candidate.__table__)).scalar() == 0
            assert AuditLog().head(conn).size == 2
            AuditLog().append(conn, _events(1))  # the head lock was released with the process
        assert _verify(engine).ok
        engine.dispose()


class TestVerifyStored:
    def test_leaf_hashes_stored_are_of_the_bytes(self, any_engine: Engine) -> None:
        """Stored leaf hashes are the RFC 9162 leaf hashes of the stored bytes."""
        with any_engine.begin() as conn:
            AuditLog().append(conn, _events(20))
        with any_engine.connect() as conn:
            rows = list(AuditLog().stored_entries(conn, chunk=7))
        assert [r[0] for r in rows] == list(range(20))
        assert all(leaf_hash(r[1]) == r[2] for r in rows)
        report = verify_log(rows, verifier=SIGNER.verifier, origin=ORIGIN, head_size=20)
        assert report.ok

    def test_bulk_rows_read_back_as_sealed(self, any_engine: Engine) -> None:
        """A bulk append (COPY on PostgreSQL) stores every column as sealed, awkward text too."""
        actors = ["svc\tone", "back\\slash", "line\nbreak", "plain"]
        events = [
            Event(actor=actors[i % 4], action="x.y", subject=None if i % 5 else uuid4())
            for i in range(64)
        ]
        with any_engine.begin() as conn:
            sealed = AuditLog().append(conn, events)
        e = audit_entry.c
        with any_engine.connect() as conn:
            rows = conn.execute(select(audit_entry).order_by(e.seq)).all()
        assert [
            (r.seq, r.actor, r.action, r.subject, r.outcome, bytes(r.canonical), bytes(r.leaf_hash))
            for r in rows
        ] == [
            (s.seq, s.actor, s.action, s.subject, s.outcome.value, s.canonical, s.leaf_hash)
            for s in sealed
        ]
        assert [r.ts.replace(tzinfo=UTC) for r in rows] == [s.ts for s in sealed]
        assert _verify(any_engine).ok


class TestVerifyChunks:
    """Verification reads full ranges of entries as one row each (`stored_chunks`); a change
    inside such a range is found and named as the row-by-row check names it."""

    @pytest.fixture
    def logged(self, any_engine: Engine) -> Engine:
        # Seqs 40..47 hold escapes and non-ASCII text in a column: the chunk's fast path parses
        # them as JSON, as the row-by-row check does.
        events = [
            Event(("svc", "ops\u00e9", "back\\slash", "q\"uote")[i % 4 if 40 <= i < 48 else i % 2],
                  "candidate.read", None if i % 7 == 0 else UUID(int=i + 1),
                  Outcome.OK if i % 3 else Outcome.DENIED,
                  reason="why \"quoted\"\n" if i % 5 == 0 else "", details={"i": i})
            for i in range(50)
        ]  # fmt: skip
        with any_engine.begin() as conn:
            AuditLog(FixedClock(datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC))).append(conn, events)
            AuditLog().sign_checkpoint(conn, SIGNER, ORIGIN)
        return any_engine

    def _report(self, engine: Engine, chunk: int = 8):
        with engine.connect() as conn:
            return AuditLog().verify(conn, verifier=SIGNER.verifier, origin=ORIGIN, chunk=chunk)

    def _tamper(self, engine: Engine, *statements) -> None:
        with engine.begin() as conn:
            drop_audit_triggers(conn)
            for statement in statements:
                conn.execute(statement)

    def test_chunks_verify_as_rows_do(self, logged: Engine) -> None:
        """The same log verifies read as chunks of 8 (6 of them, then 2 rows) and as rows."""
        with logged.connect() as conn:
            items = list(AuditLog().stored_chunks(conn, 8))
        assert [type(i).__name__ for i in items] == ["StoredChunk"] * 6 + ["tuple"] * 2
        prev, fast = "0" * 64, []
        for item in items[:6]:
            hashes = _stored_chunk_intact(item, item.first, prev)
            fast.append(hashes is not None)
            prev = leaf_hash(item.canonical.split(b"\n")[-1]).hex()
        assert fast == [True] * 6
        for chunk in (8, 16, 64):
            report = self._report(logged, chunk)
            assert report.ok and report.size == 50

    def test_changed_column_found_in_a_chunk(self, logged: Engine) -> None:
        """A queryable column rewritten in the middle of a chunk is found at its seq."""
        e = audit_entry.c
        self._tamper(logged, audit_entry.update().where(e.seq == 21).values(actor="someone"))
        problem = self._report(logged).problem
        assert problem is not None and (problem.kind, problem.seq) == ("changed", 21)

    @pytest.mark.parametrize("column", ["outcome", "subject", "ts", "action"])
    def test_each_column_is_compared(self, logged: Engine, column: str) -> None:
        """Each queryable column is compared with the bytes within a chunk."""
        e = audit_entry.c
        value = {"outcome": "ok", "subject": uuid4(), "ts": datetime(2026, 1, 2, 3, 4, 5, 7),
                 "action": "candidate.delete"}[column]  # fmt: skip
        self._tamper(logged, audit_entry.update().where(e.seq == 30).values({column: value}))
        problem = self._report(logged).problem
        assert problem is not None and (problem.kind, problem.seq) == ("changed", 30)

    def test_deleted_and_swapped_entries_found(self, logged: Engine) -> None:
        """A deleted entry inside a chunk is found missing; two entries of one chunk swapped
        (their seqs exchanged) are found reordered."""
        e = audit_entry.c
        with logged.connect() as conn:
            a, b = (conn.execute(select(audit_entry).where(e.seq == s)).one() for s in (17, 18))
        cols = ("ts", "actor", "action", "subject", "outcome", "canonical", "leaf_hash")
        self._tamper(
            logged,
            audit_entry.update().where(e.seq == 17).values({c: b._mapping[c] for c in cols}),
            audit_entry.update().where(e.seq == 18).values({c: a._mapping[c] for c in cols}),
        )
        problem = self._report(logged).problem
        assert problem is not None and (problem.kind, problem.seq) == ("reordered", 17)
        self._tamper(logged, audit_entry.delete().where(e.seq == 12))
        problem = self._report(logged).problem
        assert problem is not None and (problem.kind, problem.seq) == ("missing", 12)

    def test_changed_bytes_with_their_hash_found(self, logged: Engine) -> None:
        """Bytes rewritten with a matching leaf hash (the chain then breaks) are found."""
        e = audit_entry.c
        with logged.connect() as conn:
            data = bytes(conn.execute(select(e.canonical).where(e.seq == 40)).scalar_one())
        changed = data.replace(b'"i":40', b'"i":41')
        self._tamper(logged, audit_entry.update().where(e.seq == 40)
                     .values(canonical=changed, leaf_hash=leaf_hash(changed)))  # fmt: skip
        problem = self._report(logged).problem
        assert problem is not None and problem.kind == "changed" and problem.seq in (39, 40)
