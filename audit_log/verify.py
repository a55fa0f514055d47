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
from typing import NamedTuple

from audit_log.checkpoint import Checkpoint
from audit_log.entry import GENESIS_PREV
from audit_log.errors import AuditError, SignatureError
from audit_log.merkle import EMPTY_ROOT, Frontier
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

    `columns` is `joined_columns(...)` of the row's ts, actor, action, subject and outcome in the
    text form the bytes hold, so that checking them is one string comparison; a store renders
    it in SQL and passes driver rows straight through (a plain tuple in this order serves).
    """

    seq: int
    canonical: bytes
    leaf_hash: bytes
    columns: str


_SEP = "\x1f"


def joined_columns(ts: str, actor: str, action: str, subject: str | None, outcome: str) -> str:
    """The queryable columns of an entry as one string (ts as `format_ts`, subject dashed)."""
    return _SEP.join((ts, actor, action, subject or "", outcome))


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


def verify_log(
    rows: Iterable[StoredEntry],
    *,
    verifier: Verifier,
    origin: str,
    head_size: int,
    checkpoints: Iterable[str] = (),
    witnessed: Iterable[str] = (),
    check_nodes: NodeCheck | None = None,
    progress: Callable[[int], None] | None = None,
) -> Report:
    """Verify a log streamed in seq order; see the module docstring for what is checked."""
    bad: list[Problem] = []
    db_claims = _claims(checkpoints, "database", verifier, origin, bad)
    witness_claims = _claims(witnessed, "witness", verifier, origin, bad)
    claims = sorted(db_claims + witness_claims, key=lambda c: (c.size, c.source))
    frontier = Frontier()
    prev, trusted, pos, problem = GENESIS_PREV, 0, 0, None
    while pos < len(claims) and claims[pos].size == 0:
        if claims[pos].root != EMPTY_ROOT:
            problem = Problem(ProblemKind.FORGED, 0, f"{claims[pos].source} checkpoint at size 0")
        trusted, pos = 0, pos + 1
    next_claim = claims[pos].size if pos < len(claims) else -1
    nodes: list[tuple[int, int, bytes]] = []
    decode, sha256, get = json.JSONDecoder().decode, hashlib.sha256, dict.get
    for seq, data, stored_hash, columns in () if problem else rows:
        size = frontier.size
        if seq != size:
            kind = ProblemKind.MISSING if seq > size else ProblemKind.REORDERED
            problem = Problem(kind, size, f"entry {size} is {kind}")
            break
        if sha256(b"\x00" + data).digest() != stored_hash:
            problem = Problem(ProblemKind.CHANGED, seq, f"entry {seq} does not match its hash")
            break
        try:
            obj = decode(data.decode())
        except ValueError:  # UnicodeDecodeError included
            obj = None
        if type(obj) is not dict:
            problem = Problem(ProblemKind.CHANGED, seq, f"entry {seq} is not a JSON object")
            break
        if get(obj, "seq") != seq:
            held = get(obj, "seq")
            problem = Problem(ProblemKind.REORDERED, seq, f"position {seq} holds entry {held}")
            break
        if get(obj, "prev") != prev:
            # seq-1's bytes hash to something its successor never linked to: seq-1 was rewritten.
            problem = Problem(
                ProblemKind.CHANGED, seq - 1, f"entry {seq - 1} no longer links to {seq}"
            )
            break
        try:
            said = _SEP.join((obj["ts"], obj["actor"], obj["action"], obj["subject"] or "",
                              obj["outcome"]))  # fmt: skip
        except (KeyError, TypeError):
            said = None
        if said != columns:
            problem = Problem(
                ProblemKind.CHANGED, seq, f"columns of entry {seq} differ from its bytes"
            )
            break
        prev = stored_hash.hex()
        nodes += frontier.append(stored_hash)
        if frontier.size == next_claim:
            root = frontier.root()
            while pos < len(claims) and claims[pos].size == next_claim:
                claim = claims[pos]
                if claim.root != root:
                    problem = Problem(
                        ProblemKind.FORGED,
                        trusted,
                        f"entries {trusted}..{claim.size - 1} differ from the {claim.source} "
                        f"checkpoint at size {claim.size}",
                    )
                    break
                pos += 1
            if problem:
                break
            trusted = next_claim
            next_claim = claims[pos].size if pos < len(claims) else -1
        if len(nodes) >= 4096 or (progress and not frontier.size % 8192):
            problem = _flush(nodes, check_nodes)
            if problem:
                break
            if progress:
                progress(frontier.size)
    problem = problem or _flush(nodes, check_nodes)
    if progress:
        progress(frontier.size)
    if problem is None:
        for claim in claims[pos:]:
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
