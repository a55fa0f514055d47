"""Tests of audit_log.verify over in-memory logs: each kind of damage is found and located."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from uuid import UUID

import pytest

from audit_log.checkpoint import Checkpoint
from audit_log.entry import GENESIS_PREV, Entry, Event, format_ts
from audit_log.merkle import Frontier, leaf_hash
from audit_log.note import Signer, sign_note
from audit_log.verify import (
    Problem,
    ProblemKind,
    StoredChunk,
    StoredEntry,
    _chunk_intact,
    _stored_chunk_intact,
    _Walk,
    joined_columns,
    verify_log,
)

TS = datetime(2026, 1, 1, tzinfo=UTC)
ORIGIN = "test.example/audit"
SIGNER = Signer.generate("test.example/audit")
OTHER = Signer.generate("test.example/audit")


def _log(n: int) -> list[StoredEntry]:
    rows, prev = [], GENESIS_PREV
    for seq in range(n):
        ev = Event("svc", "candidate.read", UUID(int=seq + 1), details={"i": seq})
        e = Entry.create(seq, TS, prev, ev)
        prev = e.leaf_hash.hex()
        rows.append(StoredEntry(seq, e.canonical, e.leaf_hash, joined_columns(format_ts(TS), e.actor, e.action,
                                str(e.subject), e.outcome.value)))  # fmt: skip
    return rows


def _note(rows: list[StoredEntry], size: int, signer: Signer = SIGNER) -> str:
    frontier = Frontier()
    for r in rows[:size]:
        frontier.append(r.leaf_hash)
    return sign_note(Checkpoint(ORIGIN, size, frontier.root()).body(), signer)


def _verify(rows: list[StoredEntry], head: int, cps=(), witnessed=()):
    return verify_log(rows, verifier=SIGNER.verifier, origin=ORIGIN, head_size=head,
                      checkpoints=cps, witnessed=witnessed)  # fmt: skip


def _replace(row: StoredEntry, **changes: object) -> StoredEntry:
    return row._replace(**changes)


class TestIntact:
    def test_intact_log_passes(self) -> None:
        """An untouched log with checkpoints and witnesses verifies, with the right root."""
        rows = _log(40)
        report = _verify(rows, 40, [_note(rows, 10), _note(rows, 40)], [_note(rows, 33)])
        assert report.ok and report.size == 40
        assert (report.checkpoints, report.witnessed) == (2, 1)
        frontier = Frontier()
        for r in rows:
            frontier.append(r.leaf_hash)
        assert report.root == frontier.root()

    def test_empty_log_passes(self) -> None:
        """An empty log verifies."""
        assert _verify([], 0).ok


class TestDamage:
    def test_changed_byte_located(self) -> None:
        """One changed byte in one entry is reported as changed at that seq."""
        rows = _log(20)
        data = rows[7].canonical.replace(b'"i":7', b'"i":8')
        rows[7] = _replace(rows[7], canonical=data)
        report = _verify(rows, 20)
        assert (report.problem.kind, report.problem.seq) == (ProblemKind.CHANGED, 7)

    def test_rehashed_change_located(self) -> None:
        """A change whose leaf hash was recomputed breaks the link and is located at its seq."""
        rows = _log(20)
        data = rows[7].canonical.replace(b'"i":7', b'"i":8')
        rows[7] = _replace(rows[7], canonical=data, leaf_hash=leaf_hash(data))
        report = _verify(rows, 20)
        assert (report.problem.kind, report.problem.seq) == (ProblemKind.CHANGED, 7)

    def test_changed_column_located(self) -> None:
        """A queryable column that no longer says what the bytes say is a change."""
        rows = _log(5)
        rows[3] = rows[3]._replace(
            columns=rows[3].columns.replace(UUID(int=4).hex, UUID(int=99).hex)
        )
        report = _verify(rows, 5)
        assert (report.problem.kind, report.problem.seq) == (ProblemKind.CHANGED, 3)

    def test_missing_entry_located(self) -> None:
        """A deleted entry is reported missing at its seq."""
        rows = _log(20)
        del rows[11]
        report = _verify(rows, 20)
        assert (report.problem.kind, report.problem.seq) == (ProblemKind.MISSING, 11)

    def test_swapped_entries_located(self) -> None:
        """Two entries whose contents were swapped are reported reordered at the first."""
        rows = _log(20)
        a, b = rows[4], rows[9]
        rows[4] = _replace(b, seq=4)
        rows[9] = _replace(a, seq=9)
        report = _verify(rows, 20)
        assert (report.problem.kind, report.problem.seq) == (ProblemKind.REORDERED, 4)

    def test_truncated_tail_against_checkpoint(self) -> None:
        """A log shorter than a signed checkpoint is truncated where it ends."""
        rows = _log(20)
        report = _verify(rows[:15], 15, [_note(rows, 20)])
        assert (report.problem.kind, report.problem.seq) == (ProblemKind.TRUNCATED, 15)

    def test_truncated_tail_against_head(self) -> None:
        """A log shorter than its head row is truncated where it ends."""
        rows = _log(20)
        report = _verify(rows[:18], 20)
        assert (report.problem.kind, report.problem.seq) == (ProblemKind.TRUNCATED, 18)

    def test_forgery_by_other_key(self) -> None:
        """A consistent rewrite signed by another key fails the signature and the witnesses."""
        rows = _log(20)
        witnessed = [_note(rows, 8), _note(rows, 16)]
        forged = _rewritten(rows, from_seq=10)
        report = _verify(forged, 20, [_note(forged, 20, OTHER)], witnessed)
        assert (report.problem.kind, report.problem.seq) == (ProblemKind.FORGED, 8)
        assert any(p.kind is ProblemKind.FORGED and "not signed by" in p.detail
                   for p in report.notes)  # fmt: skip

    def test_bad_signature(self) -> None:
        """A checkpoint whose signature bytes were altered is a signature problem."""
        rows = _log(4)
        note = _note(rows, 4)
        text, _, sig = note.rpartition(" ")
        bad = text + " " + ("A" if sig[10] != "A" else "B").join((sig[:10], sig[11:]))
        report = _verify(rows, 4, [bad])
        assert report.problem.kind is ProblemKind.SIGNATURE


def _rewritten(rows: list[StoredEntry], from_seq: int) -> list[StoredEntry]:
    """The same log with every entry from `from_seq` on re-created with other details."""
    out, prev = list(rows[:from_seq]), rows[from_seq - 1].leaf_hash.hex()
    for seq in range(from_seq, len(rows)):
        e = Entry.create(seq, TS, prev, Event("svc", "candidate.read", UUID(int=seq + 1),
                                              details={"i": -seq}))  # fmt: skip
        prev = e.leaf_hash.hex()
        out.append(StoredEntry(seq, e.canonical, e.leaf_hash, joined_columns(format_ts(TS), e.actor, e.action,
                               str(e.subject), e.outcome.value)))  # fmt: skip
    return out


class TestCheckpointSizes:
    @pytest.mark.parametrize("size", [1, 2, 17, 64])
    def test_checkpoint_at_every_size_matches(self, size: int) -> None:
        """A checkpoint signed at any size matches the rebuilt root at that size."""
        rows = _log(64)
        assert _verify(rows, 64, [_note(rows, size)]).ok


class TestChunks:
    """Verification reads whole chunks at once; what it finds must not depend on that."""

    def test_long_log_passes_with_checkpoints_inside_chunks(self) -> None:
        """A log of several chunks verifies against checkpoints that fall mid-chunk."""
        rows = _log(9000)
        cps = [_note(rows, 1), _note(rows, 4097), _note(rows, 8999), _note(rows, 9000)]
        report = _verify(rows, 9000, cps)
        assert report.ok and report.checkpoints == 4

    @pytest.mark.parametrize("seq", [0, 4095, 4096, 8191])
    def test_column_change_in_a_long_log_located(self, seq: int) -> None:
        """A changed column anywhere in a chunk is found at its seq."""
        rows = _log(8200)
        rows[seq] = rows[seq]._replace(columns=rows[seq].columns.replace("candidate.read", "x.y"))
        report = _verify(rows, 8200)
        assert (report.problem.kind, report.problem.seq) == (ProblemKind.CHANGED, seq)

    def test_rehashed_change_in_a_long_log_located(self) -> None:
        """A rewritten entry with a recomputed hash is found at its seq in a long log."""
        rows = _log(5000)
        data = rows[4500].canonical.replace(b'"i":4500', b'"i":4501')
        rows[4500] = _replace(rows[4500], canonical=data, leaf_hash=leaf_hash(data))
        report = _verify(rows, 5000)
        assert (report.problem.kind, report.problem.seq) == (ProblemKind.CHANGED, 4500)

    def test_details_that_look_like_an_entry_tail(self) -> None:
        """Details holding the keys of an entry's tail neither fail an intact log nor hide a
        changed column."""
        lookalike = {"a": 1, "outcome": "denied", "prev": "ab" * 32, "reason": "r", "seq": 7,
                     "subject": str(UUID(int=5)), "ts": format_ts(TS), "z": "\n\"}"}  # fmt: skip
        rows, prev = [], GENESIS_PREV
        for seq in range(50):
            ev = Event("svc", "candidate.read", UUID(int=seq + 1), details={"x": lookalike})
            e = Entry.create(seq, TS, prev, ev)
            prev = e.leaf_hash.hex()
            rows.append(StoredEntry(seq, e.canonical, e.leaf_hash, joined_columns(
                format_ts(TS), e.actor, e.action, str(e.subject), e.outcome.value)))  # fmt: skip
        assert _verify(rows, 50).ok
        rows[20] = rows[20]._replace(
            columns=rows[20].columns.replace("\x1fok\x1f", "\x1fdenied\x1f")
        )
        report = _verify(rows, 50)
        assert (report.problem.kind, report.problem.seq) == (ProblemKind.CHANGED, 20)

    def test_columns_needing_escapes_verify(self) -> None:
        """Columns with quotes, backslashes or control characters (read entry by entry) pass."""
        rows, prev = [], GENESIS_PREV
        for seq in range(30):
            ev = Event(['a"b', "c\\d", "e\tf", "plain"][seq % 4], "candidate.read")
            e = Entry.create(seq, TS, prev, ev)
            prev = e.leaf_hash.hex()
            rows.append(StoredEntry(seq, e.canonical, e.leaf_hash, joined_columns(
                format_ts(TS), e.actor, e.action, None, e.outcome.value)))  # fmt: skip
        assert _verify(rows, 30).ok


def _chunk(rows: list[StoredEntry]) -> StoredChunk:
    """`rows` as a store reads them in one row (`StoredChunk`): each column joined by newlines."""
    cols = list(zip(*(r.columns.split("\x1f") for r in rows), strict=True))
    joined = ["\n".join(c).encode() for c in cols]
    return StoredChunk(rows[0].seq, len(rows), b"\n".join(r.canonical for r in rows),
                       b"".join(r.leaf_hash for r in rows), *joined, lambda: rows)  # fmt: skip


def _rows_check(rows: list[StoredEntry], prev: str) -> Problem | None:
    """The entry-by-entry check of `rows` (following an entry of hash `prev`)."""
    walk = _Walk([], None, 1)
    first = rows[0].seq
    walk.frontier, walk.prev = Frontier(first, [bytes(32)] * first.bit_count()), prev
    walk.entries(rows)
    return walk.problem


class TestStoredChunk:
    """The fast path for a store's chunks: what it accepts, the entry-by-entry check accepts."""

    def test_plain_chunk_passes_fast(self) -> None:
        """Plain entries, some without subject, with a reason and details that look like an
        entry's tail, are read by the fast path, and give the leaf hashes."""
        lookalike = {"outcome": "denied", "prev": "ab" * 32, "reason": "r", "seq": 7,
                     "subject": str(UUID(int=5)), "ts": format_ts(TS), "z": "\n\"}"}  # fmt: skip
        rows, prev = [], GENESIS_PREV
        for seq in range(40):
            ev = Event("svc", "candidate.read", None if seq % 3 == 0 else UUID(int=seq + 1),
                       reason='say "why"\\', details={"x": lookalike})  # fmt: skip
            e = Entry.create(seq, TS, prev, ev)
            prev = e.leaf_hash.hex()
            rows.append(StoredEntry(seq, e.canonical, e.leaf_hash, joined_columns(
                format_ts(TS), e.actor, e.action, e.subject and str(e.subject),
                e.outcome.value)))  # fmt: skip
        assert _stored_chunk_intact(_chunk(rows), 0, GENESIS_PREV) == [r.leaf_hash for r in rows]
        assert _stored_chunk_intact(_chunk(rows), 1, GENESIS_PREV) is None
        assert _stored_chunk_intact(_chunk(rows[1:]), 1, GENESIS_PREV) is None  # wrong link

    @pytest.mark.parametrize(
        ("old", "new"),
        [
            (b'"subject":"00000000-0000-0000-0000-000000000028"', b'"subject":null'),
            (b"00000000-0000-0000-0000-000000000028", b"00000000-0000-0000-0000-00000000002A"),
            (b"00000000-0000-0000-0000-000000000028", b"0000-0000000000000000000000000028"),
            (b"00000000-0000-0000-0000-000000000028", b"00000000-0000-0000-0000-00000000002"),
            (b"00000000-0000-0000-0000-000000000028", b"null0000-0000-0000-0000-000000000028"),
            (b"T00:00:00.000000Z", b" 00:00:00.000000Z"),
            (b"T00:00:00.000000Z", b"T00:00:00T000000Z"),
            (b'"seq":39', b'"seq":039'),
            (b'"seq":39', b'"seq":39.0'),
            (b'"actor":"svc"', b'"actor":"sv\\u0063"'),
            (b'"actor":"svc"', b'"actor":"s\\"c"'),
            (b'"actor":"svc"', b'"actor":"s\tc"'),
            (b'"action":"candidate.read"', b'"action":"candidate.read","action":"x"'),
            (b'"outcome":"ok"', b'"outcome":"ok","outcome":"denied"'),
            (b'"details":{"i":39}', b'"details":{"i":39},"outcome":"denied"'),
            (b'"reason":""', b'"reason":"\\"'),
            (b'"reason":""', b'"reason":"\n"'),
            (b'"reason":""', b'"reason":"\\q"'),
            (b'"reason":""', b'"reason":"\\u12"'),
            (b'"reason":""', b'"reason":"\\ud800"'),
            (b"}", b"} "),
            (b'{"action"', b' {"action"'),
            (b'"details":{"i":39}', b'"details":\xff'),
            (b'"details":{"i":39}', b'"details":{"i":"\xc3("}'),
            (b'"details":{"i":39}', b'"details":{"i":39'),
            (b'"details":{"i":39}', b'"details":{"i":NaN}'),
            (b'"details":{"i":39}', b'"details":{"i":39}},{"i":1'),
            (b'"seq":39', b'"seq":true'),
            (b'"seq":39', b'"seq":39,"seq":38'),
            (b'"seq":39', b'"seq":38,"seq":39'),
            (b'"ts":"', b'"ts":"2026-01-01T00:00:00.000000Z","ts":"'),
            (b'"reason":""', b'"reason":1'),
            (b'"outcome":"ok"', b'"outcome":"o\\nk"'),
            (b'"outcome":"ok"', b'"outcome":"\\u006fk"'),
        ],
    )
    def test_fast_path_accepts_only_what_rows_accept(self, old: bytes, new: bytes) -> None:
        """The last entry's bytes rewritten (and rehashed), its stored columns as its decoded
        JSON would give them where it decodes: whenever the fast path accepts the chunk, the
        entry-by-entry check accepts it too (and it refuses what that check refuses)."""
        rows = _log(40)
        last = rows[-1]
        data = last.canonical.replace(old, new, 1)
        assert data != last.canonical
        columns = last.columns
        try:
            obj = json.loads(data)
            columns = joined_columns(obj["ts"], obj["actor"], obj["action"], obj["subject"],
                                     obj["outcome"])  # fmt: skip
        except (ValueError, KeyError, TypeError, AttributeError):
            pass
        rows[-1] = last._replace(canonical=data, leaf_hash=leaf_hash(data), columns=columns)
        slow = _rows_check(rows, GENESIS_PREV)
        # Both fast paths: a store's chunks, and rows read one by one (`_chunk_intact`).
        for fast in (_stored_chunk_intact(_chunk(rows), 0, GENESIS_PREV),
                     _chunk_intact(rows, 0, GENESIS_PREV)):  # fmt: skip
            assert fast is None or slow is None
            if slow is not None:
                assert fast is None

    @pytest.mark.parametrize(
        "subject",
        [
            b'"000000000-000-0000-0000-000000000028"',
            b'"00000000000000000000000000000028----"',
            b'"------------------------------------"',
        ],
    )
    def test_subject_dashes_anywhere_pass_fast(self, subject: bytes) -> None:
        """A subject of 36 hex digits and dashes in any order is read by the fast path as the
        entry-by-entry check reads it (its digits, the dashes dropped); a stored subject that
        is not those digits is refused by both."""
        rows = _log(40)
        last = rows[-1]
        data = last.canonical.replace(b'"00000000-0000-0000-0000-000000000028"', subject, 1)
        assert data != last.canonical
        obj = json.loads(data)
        columns = joined_columns(obj["ts"], obj["actor"], obj["action"], obj["subject"],
                                 obj["outcome"])  # fmt: skip
        rows[-1] = last._replace(canonical=data, leaf_hash=leaf_hash(data), columns=columns)
        assert _rows_check(rows, GENESIS_PREV) is None
        assert _stored_chunk_intact(_chunk(rows), 0, GENESIS_PREV) == [r.leaf_hash for r in rows]
        others = columns.rpartition("\x1f")[0]
        for stored in (subject.strip(b'"').decode(), "1" * 32, ""):
            if stored == columns.rpartition("\x1f")[2]:
                continue
            rows[-1] = rows[-1]._replace(columns=f"{others}\x1f{stored}")
            assert _stored_chunk_intact(_chunk(rows), 0, GENESIS_PREV) is None
            problem = _rows_check(rows, GENESIS_PREV)
            assert problem is not None
            assert (problem.kind, problem.seq) == (ProblemKind.CHANGED, 39)

    @pytest.mark.parametrize(
        ("first", "size"), [(0, 1), (5, 1), (0, 2), (3, 3), (1, 7), (8, 8), (0, 16), (9, 31)]
    )
    def test_chunks_of_any_size_pass_fast(self, first: int, size: int) -> None:
        """Chunks of one entry, of odd sizes and of powers of two, from seq 0 or further on."""
        rows = _log(40)
        prev = rows[first - 1].leaf_hash.hex() if first else GENESIS_PREV
        part = rows[first : first + size]
        assert _stored_chunk_intact(_chunk(part), first, prev) == [r.leaf_hash for r in part]
        assert _stored_chunk_intact(_chunk(part), first + 1, prev) is None

    @pytest.mark.parametrize(
        ("first", "size", "at", "held"),
        [
            (first, size, at, held)
            for first, size in [(0, 1), (5, 1), (3, 3), (1, 7), (8, 8), (9, 31)]
            for at in (0, -1)
            for held in (1, 10, -1)
            if first + at % size + held >= 0  # no seq below 0 to hold
        ],
    )
    def test_other_seq_in_a_chunk_is_refused(
        self, first: int, size: int, at: int, held: int
    ) -> None:
        """An entry whose bytes hold another seq (rehashed, and the entries after it linked
        to it again), first or last in its chunk, is refused by the fast path; the
        entry-by-entry check names it."""
        rows = _log(40)
        prev = rows[first - 1].leaf_hash.hex() if first else GENESIS_PREV
        part = rows[first : first + size]
        i = at % size
        seq = part[i].seq
        old = b'"seq":%d,' % seq
        part[i] = _rebytes(part[i], part[i].canonical.replace(old, b'"seq":%d,' % (seq + held)))
        for k in range(i + 1, size):
            link = b'"prev":"%s"' % part[k - 1].leaf_hash.hex().encode()
            was = b'"prev":"%s"' % rows[first + k - 1].leaf_hash.hex().encode()
            part[k] = _rebytes(part[k], part[k].canonical.replace(was, link))
        if i + 1 < size:  # only the seq is wrong: the entries after it are intact
            assert _rows_check(part[i + 1 :], part[i].leaf_hash.hex()) is None
        assert _stored_chunk_intact(_chunk(part), first, prev) is None
        problem = _rows_check(part, prev)
        assert problem is not None
        assert (problem.kind, problem.seq) == (ProblemKind.REORDERED, seq)


def _rebytes(row: StoredEntry, data: bytes) -> StoredEntry:
    assert data != row.canonical
    return row._replace(canonical=data, leaf_hash=leaf_hash(data))
