"""Streaming verification of a stored log against its signed and witnessed checkpoints.

Reads each entry once, in seq order, holding only the Merkle frontier: recomputes every leaf hash,
checks the chain link and that the queryable columns say what the hashed bytes say, rebuilds the
root incrementally and compares it with every checkpoint signed by the installation's key, from the
database and from the witness file kept outside it. It stops at the first problem and names the seq
where the log stops being trustworthy and what is wrong there. Pure: rows and checkpoints come in
as iterables, so the same code checks a database, an export or a test list.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from audit_log.checkpoint import Checkpoint
from audit_log.entry import GENESIS_PREV
from audit_log.errors import AuditError, SignatureError
from audit_log.merkle import Frontier, leaf_hash
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


@dataclass(frozen=True, slots=True)
class StoredEntry:
    """An entry as read from storage: its bytes, its stored hash and its queryable columns."""

    seq: int
    canonical: bytes
    leaf_hash: bytes
    ts: datetime
    actor: str
    action: str
    subject: UUID | None
    outcome: str


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


def _link_problem(row: StoredEntry, obj: dict, prev: str) -> Problem | None:
    seq = row.seq
    if leaf_hash(row.canonical) != row.leaf_hash:
        return Problem(ProblemKind.CHANGED, seq, f"entry {seq} does not match its hash")
    if obj.get("seq") != seq:
        return Problem(ProblemKind.REORDERED, seq, f"position {seq} holds entry {obj.get('seq')}")
    if obj.get("prev") != prev:
        # The bytes of seq-1 hash to something its successor never linked to: seq-1 was rewritten.
        return Problem(ProblemKind.CHANGED, seq - 1, f"entry {seq - 1} no longer links to {seq}")
    subject = None if row.subject is None else str(row.subject)
    try:
        ts = datetime.fromisoformat(obj["ts"])
    except (KeyError, TypeError, ValueError):
        ts = None
    if (obj.get("actor"), obj.get("action"), obj.get("subject"), obj.get("outcome"), ts) != (
        row.actor,
        row.action,
        subject,
        row.outcome,
        row.ts,
    ):
        return Problem(ProblemKind.CHANGED, seq, f"columns of entry {seq} differ from its bytes")
    return None


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
    nodes: list[tuple[int, int, bytes]] = []
    loads = json.loads
    for row in rows:
        if row.seq != frontier.size:
            kind = ProblemKind.MISSING if row.seq > frontier.size else ProblemKind.REORDERED
            problem = Problem(kind, frontier.size, f"entry {frontier.size} is {kind}")
            break
        try:
            obj = loads(row.canonical)
        except ValueError:
            obj = {}
        problem = _link_problem(row, obj, prev) if isinstance(obj, dict) else None
        if problem or not isinstance(obj, dict):
            problem = problem or Problem(ProblemKind.CHANGED, row.seq, "entry is not JSON")
            break
        prev = row.leaf_hash.hex()
        nodes += frontier.append(row.leaf_hash)
        while pos < len(claims) and claims[pos].size <= frontier.size:
            claim = claims[pos]
            if claim.size == frontier.size and claim.root != frontier.root():
                problem = Problem(
                    ProblemKind.FORGED,
                    trusted,
                    f"entries {trusted}..{claim.size - 1} differ from the {claim.source} "
                    f"checkpoint at size {claim.size}",
                )
                break
            trusted, pos = claim.size, pos + 1
        if problem:
            break
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
