"""Evidence packs for an auditor: export a period's audit entries with proofs, a signed checkpoint,
the policies and the retention records as CSV and HTML, sealed by a signed manifest; and verify a
pack offline; exports run in the background are recorded as jobs under the data directory.
"""

from __future__ import annotations

from retention.evidence.export import (
    EXPORT_ACTION,
    ExportRequest,
    ExportResult,
    export_pack,
    load_signer,
)
from retention.evidence.jobs import (
    INTERRUPTED,
    ExportJob,
    JobStatus,
    create_job,
    expired_jobs,
    file_sha256,
    interrupted,
    job_dir,
    load_job,
    remove_job,
    save_job,
    this_process,
)
from retention.evidence.policies import PolicyTexts, policy_texts
from retention.evidence.verdict import PackReport
from retention.evidence.verify import verify_pack, verify_path

__all__ = [
    "EXPORT_ACTION",
    "INTERRUPTED",
    "ExportJob",
    "ExportRequest",
    "ExportResult",
    "JobStatus",
    "PackReport",
    "PolicyTexts",
    "create_job",
    "expired_jobs",
    "export_pack",
    "file_sha256",
    "interrupted",
    "job_dir",
    "load_job",
    "load_signer",
    "policy_texts",
    "remove_job",
    "save_job",
    "this_process",
    "verify_pack",
    "verify_path",
]
