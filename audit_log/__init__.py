"""The tamper-evident audit log: canonical entries, a hash chain that is also an RFC 9162 Merkle
tree, signed C2SP checkpoints, proofs and streaming verification, stored append-only in SQL.

It knows nothing of candidates or of the rest of the engine; `retention` calls it.
"""

from audit_log.checkpoint import Checkpoint
from audit_log.entry import GENESIS_PREV, Entry, Event, Outcome, format_ts, parse_ts
from audit_log.errors import (
    AuditError,
    InvalidEventError,
    LogStateError,
    NoteError,
    PersonalDataError,
    ProofError,
    ProofShapeError,
    RootMismatchError,
    SignatureError,
)
from audit_log.merkle import (
    EMPTY_ROOT,
    Frontier,
    leaf_hash,
    leaf_hashes,
    node_hash,
    verify_consistency,
    verify_inclusion,
    verify_inclusions,
)
from audit_log.note import Signer, Verifier, generate_signing_key, open_note, sign_note
from audit_log.proof import ConsistencyProof, InclusionProof, inclusion_proofs_json_text
from audit_log.schema import metadata
from audit_log.store import AuditLog, EntryBytes, Head
from audit_log.verify import Problem, ProblemKind, Report, StoredEntry, verify_log
from audit_log.witness import append_witness, read_witness

__all__ = [
    "EMPTY_ROOT",
    "GENESIS_PREV",
    "AuditError",
    "AuditLog",
    "Checkpoint",
    "ConsistencyProof",
    "Entry",
    "EntryBytes",
    "Event",
    "Frontier",
    "Head",
    "InclusionProof",
    "InvalidEventError",
    "LogStateError",
    "NoteError",
    "Outcome",
    "PersonalDataError",
    "Problem",
    "ProblemKind",
    "ProofError",
    "ProofShapeError",
    "Report",
    "RootMismatchError",
    "SignatureError",
    "Signer",
    "StoredEntry",
    "Verifier",
    "append_witness",
    "format_ts",
    "generate_signing_key",
    "inclusion_proofs_json_text",
    "leaf_hash",
    "leaf_hashes",
    "metadata",
    "node_hash",
    "open_note",
    "parse_ts",
    "read_witness",
    "sign_note",
    "verify_consistency",
    "verify_inclusion",
    "verify_inclusions",
    "verify_log",
]
