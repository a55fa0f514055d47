"""`retention.audit`: the engine's seam to the audit log (keys, checkpoints, verification)."""
