"""`gdpr init` and `gdpr db`: create an installation, upgrade and harden its database."""

from __future__ import annotations

import click

from retention.commands.context import AppContext, pass_app
from retention.commands.options import json_option
from retention.commands.output import emit
from retention.operations import (
    HardenDatabase,
    harden_database,
    init_installation,
    schema_status,
    upgrade_schema,
)


@click.command()
@json_option
@pass_app
def init(app: AppContext, as_json: bool) -> None:
    """Create the data directory and database, keys and the first principals."""
    result = init_installation(app.config)
    emit(as_json, result, result.text)


@click.group()
def db() -> None:
    """Database schema: upgrade and inspect."""


@db.command("upgrade")
@json_option
@pass_app
def db_upgrade(app: AppContext, as_json: bool) -> None:
    """Upgrade the database schema to this version of the engine."""
    done = upgrade_schema(app.config)
    emit(
        as_json,
        done,
        f"Schema upgraded from {done.before} to {done.after}."
        if done.before != done.after
        else f"Schema at {done.after}.",
    )


@db.command("current")
@json_option
@pass_app
def db_current(app: AppContext, as_json: bool) -> None:
    """Show the schema revision of the database and the one this version needs."""
    status = schema_status(app.config)
    emit(
        as_json,
        status,
        f"{status.current} (head: {status.head})"
        + ("" if status.up_to_date else " - run gdpr db upgrade"),
    )


@db.command("harden")
@click.option(
    "--app-role", required=True, help="PostgreSQL role the engine runs as (not the owner)."
)
@json_option
@pass_app
def db_harden(app: AppContext, app_role: str, as_json: bool) -> None:
    """Give the application role least privilege: INSERT and SELECT only on audit tables."""
    done = harden_database(app.installation(), HardenDatabase(app_role))
    emit(as_json, done, lambda: "\n".join(done.statements))
