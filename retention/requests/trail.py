"""Who accessed a subject's data: the subject's audit entries, with proofs, for an Art. 15 answer.

Every entry the log holds about the subject, each as the date, the operation, the accessor's
*role* (never the employee's name or id: CJEU C-579/21 gives the data subject the dates and
purposes of consultations, not who the employees were), the recorded reason and the outcome, and
an RFC 9162 inclusion proof against a checkpoint signed in the same transaction, so the requester
(or anyone) can check offline that each line is in the log the controller signed.

The subject's entries are read through the index on `audit_entry.subject` (no scan of the log).
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from json.encoder import encode_basestring_ascii
from typing import Any

from sqlalchemy import Connection, select

from audit_log import AuditLog, InclusionProof, ProofError, inclusion_proofs_json_text, leaf_hash
from audit_log import metadata as audit_metadata
from retention.config import Config
from retention.errors import CheckFailed
from retention.store import Grant, table_of

__all__ = ["TrailEntry", "subject_entries_query", "subject_trail", "trail_json_text"]


@dataclass(frozen=True)
class TrailEntry:
    """One access to the subject's data, as the requester sees it."""

    seq: int
    at: str
    operation: str
    role: str
    reason: str
    outcome: str
    proof: InclusionProof

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "at": self.at,
            "operation": self.operation,
            "role": self.role,
            "reason": self.reason,
            "outcome": self.outcome,
            "proof": self.proof.to_json(),
        }


def trail_json_text(trail: Sequence[TrailEntry]) -> str:
    """The entries' JSON forms as one compact JSON array with sorted keys, as
    `json.dumps([t.to_json() for t in trail], sort_keys=True, separators=(",", ":"))` writes
    it: ten thousand entries and their proofs written as text, each repeated value (an
    operation, a role, a reason) encoded once, the proofs by `inclusion_proofs_json_text`."""
    proofs = inclusion_proofs_json_text([t.proof for t in trail])
    quoted: dict[str, str] = {}

    def text(value: str) -> str:
        found = quoted.get(value)
        if found is None:
            found = quoted[value] = encode_basestring_ascii(value)
        return found

    # What comes before an entry's proof and what after it (but its seq), by their values.
    heads: dict[tuple[str, str, str], str] = {}
    tails: dict[tuple[str, str], str] = {}
    for t in trail:
        head, tail = (t.at, t.operation, t.outcome), (t.reason, t.role)
        if head not in heads:
            heads[head] = (
                f'{{"at":{text(t.at)},"operation":{text(t.operation)},'
                f'"outcome":{text(t.outcome)},"proof":'
            )
        if tail not in tails:
            tails[tail] = f',"reason":{text(t.reason)},"role":{text(t.role)},"seq":'
    items = [
        f"{heads[t.at, t.operation, t.outcome]}{proof}{tails[t.reason, t.role]}{int(t.seq)}}}"
        for t, proof in zip(trail, proofs, strict=True)
    ]
    return f"[{','.join(items)}]"


def subject_entries_query(subject_id: uuid.UUID, size: int) -> Any:
    """The subject's entries within the first `size`, in seq order (planned on its index)."""
    t = audit_metadata.tables["audit_entry"].c
    return (
        select(t.seq, t.canonical, t.leaf_hash)
        .where(t.subject == subject_id, t.seq < size)
        .order_by(t.seq)
    )


def subject_trail(
    conn: Connection, config: Config, subject_id: uuid.UUID, size: int, root: bytes
) -> list[TrailEntry]:
    """The subject's entries in the log's first `size` entries, each with its inclusion proof.

    Each entry's bytes are hashed again and must give its stored leaf hash, which its proof then
    places under the signed `root` of that size: a row or a node changed in the database is
    refused, not reported. The entries' fields are read from those checked bytes."""
    rows = conn.execute(subject_entries_query(subject_id, size)).all()
    for r in rows:
        if leaf_hash(bytes(r.canonical)) != bytes(r.leaf_hash):
            raise CheckFailed(
                f"audit entry {r.seq} does not match its hash: run 'gdpr audit verify'"
            )
    try:
        # Verified together against the signed root: each proof in full (see prove_many).
        proofs = AuditLog().inclusion_proofs(conn, [r.seq for r in rows], size, expected_root=root)
    except ProofError:
        raise CheckFailed(
            "an audit entry's proof does not verify against the signed checkpoint:"
            " run 'gdpr audit verify'"
        ) from None
    for r, p in zip(rows, proofs, strict=True):
        if p.leaf_hash != bytes(r.leaf_hash):  # the proven leaf is the entry's checked hash
            raise CheckFailed(
                f"audit entry {r.seq} does not match its hash: run 'gdpr audit verify'"
            )
    entries = [json.loads(r.canonical) for r in rows]
    roles = _grant_roles(conn, {e["details"].get("allowed_by") for e in entries})
    # A role depends only on the grant, the outcome and the actor, which a trail repeats:
    # each combination is worked out once.
    seen: dict[tuple[Any, str, str], str] = {}

    def role(e: dict[str, Any]) -> str:
        grant = e["details"].get("allowed_by")
        key = (grant if isinstance(grant, str) else None, e["outcome"], e["actor"])
        found = seen.get(key)
        if found is None:
            found = seen[key] = _role(e, roles)
        return found

    return [
        TrailEntry(
            seq=e["seq"],
            at=e["ts"],
            operation=e["action"],
            role=role(e),
            reason=e["reason"],
            outcome=e["outcome"],
            proof=p,
        )
        for e, p in zip(entries, proofs, strict=True)
    ]


def _grant_roles(conn: Connection, ids: set[Any]) -> dict[str, str]:
    """The role of each grant the entries name (not the whole grant table), by its id's text."""
    wanted = []
    for i in ids:
        if isinstance(i, str):
            with contextlib.suppress(ValueError):
                wanted.append(uuid.UUID(i))
    g = table_of(Grant).c
    roles: dict[str, str] = {}
    for start in range(0, len(wanted), 500):
        q = select(g.id, g.role).where(g.id.in_(wanted[start : start + 500]))
        roles.update((str(i), str(r)) for i, r in conn.execute(q))
    return roles


def _role(entry: dict[str, Any], roles: dict[str, str]) -> str:
    grant = entry["details"].get("allowed_by")
    if isinstance(grant, str) and grant in roles:
        return roles[grant]
    if entry["outcome"] == "denied":
        return "not authorized"
    try:
        uuid.UUID(entry["actor"])
    except ValueError:
        return "system"  # the engine itself (a sweep, an import job)
    return "unrecorded"
