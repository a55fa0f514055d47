"""The `gdpr` command groups, one module each, and what they share (context, options, output).

Only `cli.py` imports this package: it registers `GROUPS` on the root group. A command parses its
options, authenticates, calls one operation of `retention.operations` and renders the result.
"""

from __future__ import annotations

import click

from retention.commands.access import access, principal
from retention.commands.audit import audit
from retention.commands.consent import notice
from retention.commands.context import AppContext
from retention.commands.demo import demo
from retention.commands.evidence import evidence
from retention.commands.install import db, init
from retention.commands.intake import import_group
from retention.commands.integration import integration
from retention.commands.policy import policy
from retention.commands.requests import request_group
from retention.commands.scheduler import scheduler
from retention.commands.serve import serve
from retention.commands.subjects import candidate, consent
from retention.commands.sweep import hold, review, sweep

__all__ = ["GROUPS", "AppContext"]

# In the order `gdpr --help` has always listed them (click sorts them by name anyway).
GROUPS: tuple[click.Command, ...] = (
    init,
    db,
    evidence,
    audit,
    demo,
    import_group,
    policy,
    principal,
    access,
    candidate,
    consent,
    request_group,
    notice,
    hold,
    review,
    sweep,
    scheduler,
    serve,
    integration,
)
