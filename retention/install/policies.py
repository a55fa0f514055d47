"""Which policy set an installation decides with: its own files, or the shipped country packs.

A DPO who adapts the rules puts `*.policy` files in `<data dir>/policies/`; without that directory
the packs shipped in `policies/countries` apply. Loading lints the files, so a sweep never runs on
a policy set with a problem, and the set's content hash names exactly what decided.
"""

from __future__ import annotations

from pathlib import Path

from policies import PolicyError, PolicySet, load_default_policy_set, load_policy_set
from retention.config import Config
from retention.errors import BadInput

__all__ = ["load_installation_policies", "policy_dir"]


def policy_dir(config: Config) -> Path:
    return config.data_dir / "policies"


def load_installation_policies(config: Config) -> PolicySet:
    """The installation's policy set; policy problems become one-line `BadInput` errors."""
    directory = policy_dir(config)
    try:
        if directory.is_dir() and any(directory.glob("*.policy")):
            return load_policy_set([directory])
        return load_default_policy_set()
    except PolicyError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise BadInput(f"the policy set has problems ({first}): run 'gdpr policy check'") from None
