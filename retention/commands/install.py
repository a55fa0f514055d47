"""`gdpr init` and `gdpr db`: create an installation, upgrade and harden its database."""

from __future__ import annotations

import click

from retention.commands.context import AppContext, pass_app
from retention.commands.options import json_option
from retention.commands.output import emit
from retention.install import (
    initialize,
    open_installation,
)
from retention.operations.install import init_steps
from retention.store import hardening, migrate


@click.command()
@json_option
@pass_app
def init(app: AppContext, as_json: bool) -> None:
    """Create the data directory and database, keys and the first principals."""
    installation, lines = initialize(app.config, steps=init_steps())
    cfg = installation.config
    data = {"data_dir": str(cfg.data_dir), "revision": migrate.head_revision(), "notes": lines}
    emit(
        as_json,
        data,
        lambda: "\n".join([f"Initialized {cfg.data_dir} (schema {data['revision']}).", *lines]),
    )


@click.group()
def db() -> None:
    """Database schema: upgrade and inspect."""


@db.command("upgrade")
@json_option
@pass_app
def db_upgrade(app: AppContext, as_json: bool) -> None:
    """Upgrade the database schema to this version of the engine."""
    installation = open_installation(app.config, require_head=False)
    before = migrate.current_revision(installation.engine)
    migrate.upgrade(installation.engine)
    after = migrate.current_revision(installation.engine)
    emit(
        as_json,
        {"from": before, "to": after},
        f"Schema upgraded from {before} to {after}." if before != after else f"Schema at {after}.",
    )


@db.command("current")
@json_option
@pass_app
def db_current(app: AppContext, as_json: bool) -> None:
    """Show the schema revision of the database and the one this version needs."""
    installation = open_installation(app.config, require_head=False)
    current = migrate.current_revision(installation.engine)
    head = migrate.head_revision()
    emit(
        as_json,
        {"current": current, "head": head, "up_to_date": current == head},
        f"{current} (head: {head}){'' if current == head else ' - run gdpr db upgrade'}",
    )


@db.command("harden")
@click.option(
    "--app-role", required=True, help="PostgreSQL role the engine runs as (not the owner)."
)
@json_option
@pass_app
def db_harden(app: AppContext, app_role: str, as_json: bool) -> None:
    """Give the application role least privilege: INSERT and SELECT only on audit tables."""
    statements = hardening.harden(app.installation().engine, app_role)
    emit(as_json, {"app_role": app_role, "statements": statements}, lambda: "\n".join(statements))
