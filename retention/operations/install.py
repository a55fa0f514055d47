"""Creating an installation: the schema, then the signing key and the first principals."""

from __future__ import annotations

from retention.audit import log as auditing
from retention.install import InitStep, bootstrap

__all__ = ["init_steps"]


def init_steps() -> list[InitStep]:
    """The steps `gdpr init` (and the demo) run after the schema exists: keys, bootstrap principals."""
    return [auditing.create_signing_key, bootstrap.init_step]
