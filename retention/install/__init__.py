"""An installation: its data directory, database, signing key and the principals made at `gdpr init`;
opening one for every command; the policy set it runs.
"""

from __future__ import annotations

from retention.install.bootstrap import bootstrap_lines, bootstrap_principals
from retention.install.installation import (
    MARKER,
    InitStep,
    Installation,
    initialize,
    open_installation,
    secret_is_private,
    write_secret,
)
from retention.install.policies import load_installation_policies

__all__ = [
    "MARKER",
    "InitStep",
    "Installation",
    "bootstrap_lines",
    "bootstrap_principals",
    "initialize",
    "load_installation_policies",
    "open_installation",
    "secret_is_private",
    "write_secret",
]
