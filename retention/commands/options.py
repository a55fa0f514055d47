"""The options several commands share: --json, --reason, the contact fields."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from retention.subjects import CONTACT_FIELDS

F = TypeVar("F", bound=Callable[..., Any])


def json_option(f: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON for programs.")(f)


def reason_option(f: F) -> F:
    return click.option(
        "--reason", help="Why (recorded in the audit log; required for blocked subjects)."
    )(f)


def contact_options(f: F) -> F:
    for name in reversed(CONTACT_FIELDS):
        f = click.option("--" + name.replace("_", "-"), name, help="New value ('' clears it).")(f)
    return f
