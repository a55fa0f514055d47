"""The options several commands share: --json, --reason, --country, the contact fields."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from retention.countries import country_code
from retention.subjects import CONTACT_FIELDS

F = TypeVar("F", bound=Callable[..., Any])


def json_option(f: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON for programs.")(f)


def reason_option(f: F) -> F:
    return click.option(
        "--reason", help="Why (recorded in the audit log; required for blocked subjects)."
    )(f)


def contact_options(f: F) -> F:
    for name in reversed(list(CONTACT_FIELDS)):
        f = click.option("--" + name.replace("_", "-"), name, help="New value ('' clears it).")(f)
    return f


class CountryCode(click.ParamType[str]):
    """One ISO 3166-1 alpha-2 code the engine covers (or an alias such as UK); else exit 2.

    The check raises `BadInput` rather than click's `BadParameter`, so that a wrong country is the
    one-line error every other bad input is.
    """

    name = "CC"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        what = f"--{param.name}" if param is not None and param.name else "--country"
        return country_code(str(value), what)


COUNTRY = CountryCode()


def country_option(help: str, *, required: bool = False) -> Callable[[F], F]:
    """`--country CC`: one covered country, validated and upper-cased in one place."""
    return click.option("--country", type=COUNTRY, required=required, help=help)
