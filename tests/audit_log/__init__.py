"""The audit log package: canonical entries, the Merkle tree (against `tests.merkle_reference`
and the RFC 9162 vectors in tests/data), signed notes, checkpoints, witnesses, proofs, verify."""
