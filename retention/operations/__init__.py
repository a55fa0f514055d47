"""The service layer: every operation a front end (the CLI, the HTTP API, the scheduler) may call.

Each is `operation(installation, principal, request) -> result`: it authenticates nothing (the
front end did), authorizes, acts and audits in one transaction, and raises the typed errors of
`retention.errors`.
"""

from __future__ import annotations

from retention.operations import access, intake, policies, subjects

__all__ = [
    "access",
    "intake",
    "policies",
    "subjects",
]
