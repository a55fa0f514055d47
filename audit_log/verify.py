"""Streaming verification of a stored log against its signed and witnessed checkpoints.

Reads each entry once, in seq order, holding only the Merkle frontier: recomputes every leaf hash,
checks the chain link and that the queryable columns say what the hashed bytes say, rebuilds the
root incrementally and compares it with every checkpoint signed by the installation's key, from the
database and from the witness file kept outside it. It stops at the first problem and names the seq
where the log stops being trustworthy and what is wrong there. Pure: rows and checkpoints come in
as iterables, so the same code checks a database, an export or a test list.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from itertools import islice
from operator import attrgetter
from typing import NamedTuple, cast

import msgspec

from audit_log.checkpoint import Checkpoint
from audit_log.entry import GENESIS_PREV
from audit_log.errors import AuditError, SignatureError
from audit_log.merkle import EMPTY_ROOT, Frontier, leaf_hashes
from audit_log.note import Verifier, open_note, parse_note


class ProblemKind(StrEnum):
    """What is wrong at the first bad seq."""

    CHANGED = "changed"
    MISSING = "missing"
    REORDERED = "reordered"
    TRUNCATED = "truncated"
    SIGNATURE = "signature"
    FORGED = "forged"


@dataclass(frozen=True, slots=True)
class Problem:
    """The first thing found wrong; `seq` is the first entry that cannot be trusted (if known)."""

    kind: ProblemKind
    seq: int | None
    detail: str


class StoredEntry(NamedTuple):
    """An entry as read from storage: its bytes, its stored hash and its queryable columns.

    `columns` is `joined_columns(...)` of the row's ts, actor, action, subject and outcome, so
    that checking them is one string comparison; a store renders it in SQL and passes driver
    rows straight through (a plain tuple in this order serves).
    """

    seq: int
    canonical: bytes
    leaf_hash: bytes
    columns: str


_SEP = "\x1f"


def joined_columns(ts: str, actor: str, action: str, subject: str | None, outcome: str) -> str:
    """The queryable columns of an entry as one string, as stores render them cheaply in SQL.

    `ts` is given as `format_ts` writes it and `subject` as a UUID's text; the string holds, in
    the order of the entry's bytes, action, actor, outcome, ts as `YYYY-MM-DD HH:MM:SS.ffffff`
    and the subject as 32 hex digits ('' for none): the forms SQLite stores, so that reading
    them costs no SQL function per row.
    """
    return _SEP.join((action, actor, outcome, _stored_ts(ts), (subject or "").replace("-", "")))


def _stored_ts(ts: str) -> str:
    """`format_ts` text in the stored form (anything else is returned as it is, to mismatch)."""
    if len(ts) == 27 and ts[10] == "T" and ts[26] == "Z":
        return f"{ts[:10]} {ts[11:26]}"
    return ts


class StoredChunk(NamedTuple):
    """`size` stored entries from seq `first` on, every column of theirs read as one string.

    What a store hands over for a full range of entries in one row of an aggregate query, so
    that checking them makes no Python object per entry but those that hashing needs (each
    entry's bytes, split off `canonical`, and its leaf hash): `canonical` is the bytes joined
    by b"\\n", `leaf_hashes` the stored hashes concatenated, and the columns each joined by
    b"\\n" in the forms of `joined_columns` (ts as `YYYY-MM-DD HH:MM:SS.ffffff`, the subject
    as 32 hex digits, b"" for none; NULL as b""). `rows` reads the same entries as rows, for
    the entry-by-entry check that names a problem.
    """

    first: int
    size: int
    canonical: bytes
    leaf_hashes: bytes
    actions: bytes
    actors: bytes
    outcomes: bytes
    stamps: bytes
    subjects: bytes
    rows: Callable[[], Iterable[StoredEntry]]


@dataclass(frozen=True, slots=True)
class Report:
    """Result of a verification: how far the log was checked and the first problem, if any."""

    size: int
    root: bytes
    checkpoints: int
    witnessed: int
    problem: Problem | None
    notes: tuple[Problem, ...] = ()

    @property
    def ok(self) -> bool:
        """True when nothing is wrong."""
        return self.problem is None


@dataclass(frozen=True, slots=True)
class _Claim:
    size: int
    root: bytes
    source: str


def _claims(
    notes: Iterable[str], source: str, verifier: Verifier, origin: str, bad: list[Problem]
) -> list[_Claim]:
    out = []
    for i, note in enumerate(notes):
        where = f"{source} checkpoint #{i + 1}"
        try:
            text = open_note(note, verifier)
            cp = Checkpoint.parse(text)
        except SignatureError as exc:
            _, sigs = parse_note(note)
            ours = any(s.key_id == verifier.key_id for s in sigs)
            kind = ProblemKind.SIGNATURE if ours else ProblemKind.FORGED
            bad.append(Problem(kind, None, f"{where}: {exc}"))
            continue
        except AuditError as exc:
            bad.append(Problem(ProblemKind.SIGNATURE, None, f"{where}: {exc}"))
            continue
        if cp.origin != origin:
            bad.append(Problem(ProblemKind.FORGED, None, f"{where} is for another log"))
            continue
        out.append(_Claim(cp.size, cp.root, source))
    return out


NodeCheck = Callable[[Sequence[tuple[int, int, bytes]]], tuple[int, int] | None]
"""Compares rebuilt (level, index, hash) nodes with stored ones; returns the first that differs."""

_CHUNK = 4096


class _Read(msgspec.Struct, forbid_unknown_fields=True):
    """An entry's bytes as JSON, as far as verification reads them: the members it compares,
    typed as the entry-by-entry check needs them, and the details parsed but not built."""

    action: str
    actor: str
    details: msgspec.Raw
    outcome: str
    prev: str
    reason: str
    seq: int
    subject: str | None
    ts: str


_read_entry = msgspec.json.Decoder(_Read).decode
_SEQ = attrgetter("seq")
_PREV = attrgetter("prev")
_ACTION, _ACTOR, _OUTCOME = attrgetter("action"), attrgetter("actor"), attrgetter("outcome")
_TS, _SUBJECT = attrgetter("ts"), attrgetter("subject")


def _read_all(lines: Sequence[bytes], joined: bytes) -> list[_Read] | None:
    """Each line parsed on its own (a line that is no JSON object of the entry's members, or
    not UTF-8, gives None): a line parses here only where `json` parses it too, with the
    same members (for a member given twice, the last), and the types the checks need.
    `joined` is the lines joined, checked for UTF-8 in one call."""
    if not _utf8(joined):
        return None
    try:
        return list(map(_read_entry, lines))
    except msgspec.DecodeError:  # a ValidationError is one
        return None


def _links_and_seqs(read: Sequence[_Read], first: int, prev: str, hashes: list[bytes]) -> bool:
    """Every entry holds its seq and the hash of the entry before it."""
    n = len(read)
    if list(map(_SEQ, read)) != list(range(first, first + n)):
        return False
    # Joined by newlines, which no hex digit is: equal strings are equal links, one by one.
    links = prev if n == 1 else prev + "\n" + b"".join(hashes[:-1]).hex("\n", 32)
    return "\n".join(map(_PREV, read)) == links


def _chunk_intact(chunk: Sequence[StoredEntry], first: int, prev: str) -> list[bytes] | None:
    """The leaf hashes of `chunk` (entries `first`...) when every per-entry check passes.

    None when any check fails; the caller then checks the chunk entry by entry, which decides
    and names the problem. What that check reads one entry at a time is read here a chunk at a
    time: the seqs compared with a range, the stored hashes with the recomputed ones, each
    line parsed as JSON in one C call (`_read_all`: the details are parsed, not built), the
    links compared as one string, and the columns as `joined_columns` writes them.
    """
    seqs, datas, stored, columns = zip(*chunk, strict=True)
    if seqs != tuple(range(first, first + len(chunk))):
        return None
    hashes = leaf_hashes(datas)
    if list(stored) != hashes:
        return None
    read = _read_all(datas, b"".join(datas))
    if read is None or not _links_and_seqs(read, first, prev, hashes):
        return None
    said = map(joined_columns, map(_TS, read), map(_ACTOR, read), map(_ACTION, read),
               map(_SUBJECT, read), map(_OUTCOME, read))  # fmt: skip
    if list(said) != list(columns):
        return None
    return hashes


def _stored_chunk_intact(chunk: StoredChunk, first: int, prev: str) -> list[bytes] | None:
    """The leaf hashes of `chunk` (entries `first`...) when every per-entry check passes, as
    `_chunk_intact` decides it for rows.

    Each comparison is of two joined strings: the stored hashes with the recomputed ones, the
    links with the hashes before, and each column with the values parsed from the bytes,
    joined by newlines as the store joins the column. A value holding a newline is refused
    (its joined column would hold more than `size` - 1), so equal strings mean equal values,
    entry by entry. The ts are compared in the form the entries hold (`format_ts`'s) with the
    stored stamps rewritten to it, when every stamp is of the one form the stores give
    (`YYYY-MM-DD HH:MM:SS.ffffff`): the parsed ts is then the stamp with a T and a Z, which is
    what `_stored_ts` turns back into the stamp.
    """
    n = chunk.size
    if chunk.first != first or n < 1:
        return None
    lines = chunk.canonical.split(b"\n")
    if len(lines) != n:
        return None
    hashes = leaf_hashes(lines)
    if b"".join(hashes) != chunk.leaf_hashes:
        return None
    read = _read_all(lines, chunk.canonical)
    if read is None or not _links_and_seqs(read, first, prev, hashes):
        return None
    joined = "\n".join
    said = (
        joined(map(_ACTION, read)),
        joined(map(_ACTOR, read)),
        joined(map(_OUTCOME, read)),
        joined(map(_TS, read)),
        # As `joined_columns` has it: no subject is "", and the dashes go wherever they are.
        joined([s or "" for s in map(_SUBJECT, read)]).replace("-", ""),
    )
    if any(s.count("\n") != n - 1 for s in said):
        return None
    stamps = chunk.stamps
    if (
        len(stamps) != 27 * n - 1
        or stamps.count(b" ") != n
        or stamps[10::27] != b" " * n
        or stamps[26::27] != b"\n" * (n - 1)
    ):
        return None
    as_written = stamps.replace(b" ", b"T").replace(b"\n", b"Z\n") + b"Z"
    if (
        said[0].encode() != chunk.actions
        or said[1].encode() != chunk.actors
        or said[2].encode() != chunk.outcomes
        or said[3].encode() != as_written
        or said[4].encode() != chunk.subjects
    ):
        return None
    return hashes


def _utf8(data: bytes) -> bool:
    """True when `data` is UTF-8, as an entry's bytes must be for the entry-by-entry check to
    decode them (msgspec checks the strings it builds, not those of the details it skips); an
    ASCII check first, a thirtieth of the time of a decode."""
    if data.isascii():
        return True
    try:
        data.decode()
    except UnicodeDecodeError:
        return False
    return True


class _Walk:
    """The state of one verification: the rebuilt tree, the chain and the claims still ahead."""

    def __init__(
        self, claims: list[_Claim], check_nodes: NodeCheck | None, node_min_level: int
    ) -> None:
        self.claims = claims
        self.check_nodes = check_nodes
        self.node_min_level = node_min_level
        self.frontier = Frontier()
        self.prev = GENESIS_PREV
        self.trusted = 0
        self.pos = 0
        self.problem: Problem | None = None
        self.nodes: list[tuple[int, int, bytes]] = []
        while self.pos < len(claims) and claims[self.pos].size == 0:
            if claims[self.pos].root != EMPTY_ROOT:
                source = claims[self.pos].source
                self.problem = Problem(ProblemKind.FORGED, 0, f"{source} checkpoint at size 0")
            self.pos += 1
        self.next_claim = claims[self.pos].size if self.pos < len(claims) else -1

    def extend(self, hashes: Sequence[bytes]) -> None:
        """Add the leaves of intact entries, comparing the root at every claimed size."""
        done = 0
        while done < len(hashes) and self.problem is None:
            stop = len(hashes)
            if self.next_claim > self.frontier.size:
                stop = min(stop, done + self.next_claim - self.frontier.size)
            self.nodes += self.frontier.extend(hashes[done:stop], self.node_min_level)
            done = stop
            if self.frontier.size == self.next_claim:
                self._claimed()
        self.prev = hashes[-1].hex()

    def _claimed(self) -> None:
        root, claims, size = self.frontier.root(), self.claims, self.next_claim
        while self.pos < len(claims) and claims[self.pos].size == size:
            claim = claims[self.pos]
            if claim.root != root:
                self.problem = Problem(
                    ProblemKind.FORGED,
                    self.trusted,
                    f"entries {self.trusted}..{claim.size - 1} differ from the {claim.source} "
                    f"checkpoint at size {claim.size}",
                )
                return
            self.pos += 1
        self.trusted = size
        self.next_claim = claims[self.pos].size if self.pos < len(claims) else -1

    def entries(self, rows: Iterable[StoredEntry]) -> None:
        """Check entries one by one (decoding each); stops at the first problem."""
        decode, sha256, get = json.JSONDecoder().decode, hashlib.sha256, dict.get
        for seq, data, stored_hash, columns in rows:
            size = self.frontier.size
            if seq != size:
                kind = ProblemKind.MISSING if seq > size else ProblemKind.REORDERED
                self.problem = Problem(kind, size, f"entry {size} is {kind}")
                return
            if sha256(b"\x00" + data).digest() != stored_hash:
                self.problem = Problem(
                    ProblemKind.CHANGED, seq, f"entry {seq} does not match its hash"
                )
                return
            try:
                obj = decode(data.decode())
            except ValueError:  # UnicodeDecodeError included
                obj = None
            if type(obj) is not dict:
                self.problem = Problem(
                    ProblemKind.CHANGED, seq, f"entry {seq} is not a JSON object"
                )
                return
            if get(obj, "seq") != seq:
                held = get(obj, "seq")
                self.problem = Problem(
                    ProblemKind.REORDERED, seq, f"position {seq} holds entry {held}"
                )
                return
            if get(obj, "prev") != self.prev:
                # seq-1's bytes hash to something its successor never linked to: it was rewritten.
                self.problem = Problem(
                    ProblemKind.CHANGED, seq - 1, f"entry {seq - 1} no longer links to {seq}"
                )
                return
            try:
                said = joined_columns(obj["ts"], obj["actor"], obj["action"], obj["subject"],
                                      obj["outcome"])  # fmt: skip
            except (KeyError, TypeError, AttributeError):
                said = None
            if said != columns:
                self.problem = Problem(
                    ProblemKind.CHANGED, seq, f"columns of entry {seq} differ from its bytes"
                )
                return
            self.extend([bytes(stored_hash)])
            if self.problem:
                return

    def flush(self) -> None:
        self.problem = self.problem or _flush(self.nodes, self.check_nodes)


def verify_log(
    rows: Iterable[StoredEntry | StoredChunk],
    *,
    verifier: Verifier,
    origin: str,
    head_size: int,
    checkpoints: Iterable[str] = (),
    witnessed: Iterable[str] = (),
    check_nodes: NodeCheck | None = None,
    node_min_level: int = 1,
    progress: Callable[[int], None] | None = None,
) -> Report:
    """Verify a log streamed in seq order; see the module docstring for what is checked.

    `check_nodes` is given the rebuilt nodes of `node_min_level` and up (the levels the store
    keeps).
    Entries are checked a chunk at a time (`_chunk_intact`, or `_stored_chunk_intact` for a
    `StoredChunk` a store read in one row); a chunk that does not pass as a whole is checked
    entry by entry, which finds and names the first problem.
    """
    bad: list[Problem] = []
    db_claims = _claims(checkpoints, "database", verifier, origin, bad)
    witness_claims = _claims(witnessed, "witness", verifier, origin, bad)
    claims = sorted(db_claims + witness_claims, key=lambda c: (c.size, c.source))
    walk = _Walk(claims, check_nodes, node_min_level)
    frontier = walk.frontier
    it = iter(rows)
    item = next(it, None)
    while walk.problem is None and item is not None:
        if type(item) is StoredChunk:  # a store's chunks come before its rows
            hashes = _stored_chunk_intact(item, frontier.size, walk.prev)
            if hashes is None:
                walk.entries(item.rows())
            else:
                walk.extend(hashes)
            item = next(it, None)
        else:
            chunk = cast(list[StoredEntry], [item, *islice(it, _CHUNK - 1)])
            item = next(it, None) if len(chunk) == _CHUNK else None
            hashes = _chunk_intact(chunk, frontier.size, walk.prev)
            if hashes is None:
                walk.entries(chunk)
            else:
                walk.extend(hashes)
        if walk.problem is None and (len(walk.nodes) >= 4096 or progress):
            walk.flush()
            if progress and walk.problem is None:
                progress(frontier.size)
    walk.flush()
    problem = walk.problem
    if progress:
        progress(frontier.size)
    if problem is None:
        for claim in claims[walk.pos :]:
            if claim.size == 0 and frontier.size == 0:
                continue
            problem = Problem(
                ProblemKind.TRUNCATED,
                frontier.size,
                f"log ends at {frontier.size} entries; {claim.source} checkpoint has {claim.size}",
            )
            break
    if problem is None and head_size != frontier.size:
        kind = ProblemKind.TRUNCATED if head_size > frontier.size else ProblemKind.CHANGED
        problem = Problem(
            kind,
            min(head_size, frontier.size),
            f"log has {frontier.size} entries; its head says {head_size}",
        )
    first = problem or (bad[0] if bad else None)
    return Report(
        frontier.size, frontier.root(), len(db_claims), len(witness_claims), first, tuple(bad)
    )


def _flush(nodes: list[tuple[int, int, bytes]], check_nodes: NodeCheck | None) -> Problem | None:
    if not nodes or check_nodes is None:
        nodes.clear()
        return None
    wrong = check_nodes(nodes)
    nodes.clear()
    if wrong is None:
        return None
    level, index = wrong
    return Problem(
        ProblemKind.CHANGED,
        index << level,
        f"stored Merkle node (level {level}, index {index}) differs",
    )
