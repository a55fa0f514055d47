"""The installation's audit log as an operator sees it: the signing key, signed checkpoints and the
witness file, full verification, inclusion and consistency proofs, reading entries.

The log itself (encoding, chain, Merkle tree, notes) is `audit_log`; this package binds it to an
installation's database, configuration and keys.
"""

from __future__ import annotations

from retention.audit.log import (
    engine_errors,
    load_signer,
    load_verifier,
    sign_checkpoint,
    store_checkpoint,
    witness_checkpoint,
)

__all__ = [
    "engine_errors",
    "load_signer",
    "load_verifier",
    "sign_checkpoint",
    "store_checkpoint",
    "witness_checkpoint",
]
