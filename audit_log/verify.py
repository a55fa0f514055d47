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
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from itertools import islice
from operator import add, itemgetter
from typing import NamedTuple, cast

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
# JSON strings without escapes or control characters, and their escapes; `_IN` (any character
# but a quote) reads the values of fixed length, whose control characters `_said_plain` refuses.
_IN = rb'[^"]'
_STR = rb'[^"\\\x00-\x1f]*'
# JSON's own escapes only (RFC 8259, section 7): a string holding `\q` or a short `\u` is no
# JSON, and the entry-by-entry check refuses its line.
_ESCAPED = _STR + rb'(?:\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4})' + _STR + rb")*"
_HEAD = re.compile(rb'\n\{"action":"(' + _STR + rb')","actor":"(' + _STR + rb')","details":')
_TAIL = re.compile(
    rb',"outcome":"(' + _STR + rb')","prev":"(' + _IN + rb'{64})","reason":"' + _ESCAPED
    + rb'","seq":(0|[1-9][0-9]*),"subject":(?:"(' + _IN + rb'{8})-(' + _IN + rb'{4})-(' + _IN
    + rb'{4})-(' + _IN + rb'{4})-(' + _IN + rb'{12})"|null),"ts":"(' + _IN + rb'{10})T(' + _IN
    + rb'{15})Z"\}\n'
)  # fmt: skip
_LINK = itemgetter(1)
_SEQ = itemgetter(2)
# The tail's groups in the order of `joined_columns`: outcome, date, time, the subject's five.
_SAID_TAIL = itemgetter(0, 8, 9, 3, 4, 5, 6, 7)
_SAID = b"%s\x1f%s\x1f%s\x1f%s %s\x1f%s%s%s%s%s"  # action, actor + _SAID_TAIL


def _chunk_intact(chunk: Sequence[StoredEntry], first: int, prev: str) -> list[bytes] | None:
    """The leaf hashes of `chunk` (entries `first`...) when every per-entry check passes.

    None when any check fails or when some entry is of a form this fast path does not read (an
    escape in a column, say); the caller then checks the chunk entry by entry, which decides
    and names the problem. Per chunk, not per entry: the seqs are compared with a range, the
    stored hashes with the recomputed ones, and one regex pass over the bytes joined by newlines
    (canonical JSON holds none) reads each entry's head (action, actor) and its tail after the
    details (outcome, prev, seq, subject, ts). Keys are sorted and strings hold no raw quote, so
    a tail anchored at the end of its line is the top-level one, whatever the details hold: no
    group can take in a quote, and the reason is read escape by escape, so the match is a run
    of the line's own top-level tokens. The links, seqs and columns are then each compared as
    one joined string (the columns formatted per entry in C, as `joined_columns` writes them;
    an escape or a control character in what was read is left to the entry-by-entry check).
    The details are not parsed: the bytes are pinned by their hashes, the root and the signed
    checkpoints, and the columns by this comparison.
    """
    n = len(chunk)
    seqs, datas, stored, columns = zip(*chunk, strict=True)
    if seqs != tuple(range(first, first + n)):
        return None
    hashes = leaf_hashes(datas)
    if list(stored) != hashes:
        return None
    body = b"\n".join((b"", *datas, b""))
    if body.count(b"\n") != n + 1 or not _utf8(body):
        return None
    heads, tails = _HEAD.findall(body), _TAIL.findall(body)
    if len(heads) != n or len(tails) != n:
        return None
    links = b"".join(map(_LINK, tails))
    if links != (prev + b"".join(hashes[:-1]).hex()).encode():
        return None
    if b",".join(map(_SEQ, tails)) != ",".join(map(str, seqs)).encode():
        return None
    said = b"\n".join(map(_SAID.__mod__, map(add, heads, map(_SAID_TAIL, tails))))
    if not _said_plain(said) or said != "\n".join(columns).encode():
        return None
    return hashes


# The same reads for a `StoredChunk`, in one regex over the whole line, each value a group of
# its own: `split` then gives the chunk's values as one flat list, 8 to an entry, from which
# each column's values are a slice (`[k::8]`), joined and compared as one string. A group
# takes anything but a quote (the regex runs fastest so) where a column may hold any text;
# what `_values_plain` refuses in the values read is left to the entry-by-entry check. The
# seq and the ts take only the characters of the forms the log writes (digits, `format_ts`),
# so that they are read in those forms without a check of their own; anything else is left
# to the entry-by-entry check too. The subject is null or 36 hex digits and dashes in quotes,
# in any order: without its quotes and dashes it is what `joined_columns` makes of it (it
# drops the dashes wherever they are), so it needs no check of its own either; a UUID's text
# is one of them (reading its five groups of digits one by one cost some 15% of the regex's
# time). The details are skipped to the end of the line (`.` takes anything but a newline, as
# `[^\n]` does, in less time) and the regex backtracks to the tail: the tail can start at one
# place only (see `_chunk_intact`), so the match is that of the two anchored reads of `_HEAD`
# and `_TAIL` wherever those match.
_ENTRY = re.compile(
    rb'\n\{"action":"(' + _IN + rb'*)","actor":"(' + _IN + rb'*)","details":.*'
    + rb',"outcome":"(' + _IN + rb'*)","prev":"(' + _IN + rb'{64})","reason":"' + _ESCAPED
    + rb'","seq":(0|[1-9][0-9]*),"subject":("[0-9a-f-]{36}"|null),"ts":"([0-9-]{10}T[0-9:.]{15})Z"'
    + rb'\}(?=\n)'
)  # fmt: skip
_GROUPS = 7
_STEP = _GROUPS + 1  # split's flat list: the text before each match (b""), then its groups


def _stored_chunk_intact(chunk: StoredChunk, first: int, prev: str) -> list[bytes] | None:
    """The leaf hashes of `chunk` (entries `first`...) when every per-entry check passes, as
    `_chunk_intact` decides it for rows (the same reads, but for the subject's dashes, which
    may stand anywhere here: see `_ENTRY`; the same comparisons).

    Each comparison is of two joined strings: the stored hashes with the recomputed ones, the
    links with the hashes before, the seqs with their range, and each column with the values
    read from the bytes joined the same way. Values read from the bytes hold no newline, and
    the store's `size` values of a column are joined by count - 1 newlines; so equal strings
    mean equal values, entry by entry. One match starts at each line's start and none spans a
    newline, so `size` matches mean every line matched whole, one entry each.
    """
    n = chunk.size
    if chunk.first != first or n < 1:
        return None
    lines = chunk.canonical.split(b"\n")
    if len(lines) != n or not _utf8(chunk.canonical):
        return None
    hashes = leaf_hashes(lines)
    if b"".join(hashes) != chunk.leaf_hashes:
        return None
    flat = _ENTRY.split(b"".join((b"\n", chunk.canonical, b"\n")))
    if len(flat) != n * _STEP + 1:
        return None
    if b"".join(flat[4::_STEP]) != (prev + b"".join(hashes[:-1]).hex()).encode():
        return None
    # The seqs' text in one formatting, not a str per seq (half the time).
    if b",".join(flat[5::_STEP]) != (b"%d," * (n - 1) + b"%d") % tuple(range(first, first + n)):
        return None
    joined = b"\n".join
    said = [joined(flat[1::_STEP]), joined(flat[2::_STEP]), joined(flat[3::_STEP])]
    if not all(map(_values_plain, said)):
        return None
    # A subject is null or hex digits and dashes in quotes (no "null" in them): as
    # `joined_columns` has it, its digits or nothing. The ts holds one T, between date and time.
    subjects = joined(flat[6::_STEP]).translate(None, b'"-').replace(b"null", b"")
    if (
        said[0] != chunk.actions
        or said[1] != chunk.actors
        or said[2] != chunk.outcomes
        or joined(flat[7::_STEP]).replace(b"T", b" ") != chunk.stamps
        or subjects != chunk.subjects
    ):
        return None
    return hashes


def _utf8(data: bytes) -> bool:
    """True when `data` is UTF-8, as every entry's bytes must be to decode: the fast paths do not
    parse the details, but bytes that are no text anywhere are refused as the entry-by-entry
    check refuses them (an ASCII check first: a thirtieth of the time of a decode)."""
    if data.isascii():
        return True
    try:
        data.decode()
    except UnicodeDecodeError:
        return False
    return True


_NOT_VALUE = bytes(range(0x20)).replace(b"\n", b"") + b"\\"


def _values_plain(values: bytes) -> bool:
    """True when values joined by newlines hold no escape and no control character: as a JSON
    string's raw bytes, each is then the string itself."""
    return len(values.translate(None, _NOT_VALUE)) == len(values)


_NOT_PLAIN = bytes(range(0x20)).replace(b"\n", b"").replace(b"\x1f", b"") + b"\\"


def _said_plain(said: bytes) -> bool:
    """True when the columns read from the bytes hold no escape (a backslash) and no control
    character but the separators: what `joined_columns` of the decoded entry would give."""
    return len(said.translate(None, _NOT_PLAIN)) == len(said)


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
