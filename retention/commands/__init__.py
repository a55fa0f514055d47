"""The `gdpr` command groups, one module each, and what they share (context, options, output).

Only `cli.py` imports this package: its root group is a `LazyGroup` over `GROUPS`. A command parses
its options, authenticates, calls one operation of `retention.operations` and renders the result.
"""

from __future__ import annotations

from retention.commands.context import AppContext
from retention.commands.lazy_group import LazyGroup

__all__ = ["GROUPS", "AppContext", "LazyGroup"]

# Each group by its module and attribute under retention.commands, imported when it is run
# (see lazy_group): a command loads its own group, not all of them.
GROUPS: dict[str, str] = {
    "init": "install:init",
    "db": "install:db",
    "evidence": "evidence:evidence",
    "audit": "audit:audit",
    "demo": "demo:demo",
    "import": "intake:import_group",
    "policy": "policy:policy",
    "principal": "access:principal",
    "access": "access:access",
    "candidate": "subjects:candidate",
    "consent": "subjects:consent",
    "request": "requests:request_group",
    "notice": "consent:notice",
    "hold": "sweep:hold",
    "review": "sweep:review",
    "sweep": "sweep:sweep",
    "scheduler": "scheduler:scheduler",
    "serve": "serve:serve",
    "integration": "integration:integration",
}
