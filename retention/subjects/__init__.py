"""The data subjects' personal data, read and changed only through the audited gateway: show, find,
export, update, erase, consents, and the explanation of the policy decision for one subject.
"""

from __future__ import annotations

from retention.subjects.decision import explain_subject
from retention.subjects.gateway import CONTACT_FIELDS, Gateway, parse_subject_id

__all__ = ["CONTACT_FIELDS", "Gateway", "explain_subject", "parse_subject_id"]
