"""Evidence packs for an auditor: export a period's audit entries with proofs, a signed checkpoint,
the policies and the retention records as CSV and HTML, sealed by a signed manifest; and verify a
pack offline.
"""

from __future__ import annotations

from retention.evidence.export import (
    EXPORT_ACTION,
    ExportRequest,
    ExportResult,
    export_pack,
    load_signer,
)
from retention.evidence.policies import PolicyTexts, policy_texts
from retention.evidence.verdict import PackReport
from retention.evidence.verify import verify_pack, verify_path

__all__ = [
    "EXPORT_ACTION",
    "ExportRequest",
    "ExportResult",
    "PackReport",
    "PolicyTexts",
    "export_pack",
    "load_signer",
    "policy_texts",
    "verify_pack",
    "verify_path",
]
