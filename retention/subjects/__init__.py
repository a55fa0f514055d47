"""The data subjects' personal data, read and changed only through the audited gateway: show, find,
export, update, erase, consents, and the explanation of the policy decision for one subject.
"""

from __future__ import annotations

from retention.subjects import consents
from retention.subjects.decision import explain_subject, subject_record, trace_subject
from retention.subjects.export import candidate_dict
from retention.subjects.gateway import (
    CONTACT_FIELDS,
    ErasureResult,
    ExportResult,
    Gateway,
    SubjectWork,
    Then,
    parse_subject_id,
)
from retention.subjects.versions import candidate_version

__all__ = [
    "CONTACT_FIELDS",
    "ErasureResult",
    "ExportResult",
    "Gateway",
    "SubjectWork",
    "Then",
    "candidate_dict",
    "candidate_version",
    "consents",
    "explain_subject",
    "parse_subject_id",
    "subject_record",
    "trace_subject",
]
