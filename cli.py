"""The `gdpr` command line: parse, authenticate, call one function of the engine, render.

Commands stay thin; the engine does the work and raises typed errors (`retention.errors`), which
`main` maps to one line on stderr and an exit code, in this one place: 0 success, 1 a check failed
or access was denied, 2 bad usage or bad input. Every command that a program may read takes
`--json`. Nothing here prints personal data unless the command's purpose is to show it to an
authorized reader.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click
from sqlalchemy.exc import SQLAlchemyError

from retention import migrate
from retention.config import Config, load_config
from retention.errors import EngineError
from retention.installation import Installation, initialize, open_installation
from retention.logs import configure_logging

F = TypeVar("F", bound=Callable[..., Any])

EXIT_INTERNAL = 70
EXIT_INTERRUPTED = 130


@dataclass
class AppContext:
    """What the top-level options decide, resolved lazily so `--help` never touches disk."""

    data_dir: Path | None
    _config: Config | None = field(default=None, repr=False)

    @property
    def config(self) -> Config:
        if self._config is None:
            self._config = load_config(self.data_dir)
        return self._config

    def installation(self) -> Installation:
        return open_installation(self.config)


def json_option(f: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON for programs.")(f)


def emit(as_json: bool, data: Any, text: Callable[[], str] | str) -> None:
    """Print `data` as JSON, or the human text (a string or a function producing one)."""
    if as_json:
        click.echo(json.dumps(data, indent=2, sort_keys=True, default=str, ensure_ascii=False))
    else:
        click.echo(text() if callable(text) else text)


pass_app = click.make_pass_decorator(AppContext)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="gdpr-compliance-engine", prog_name="gdpr")
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path, file_okay=False),
    envvar="GDPR_DATA_DIR",
    help="Data directory (default ./gdpr-data, or GDPR_DATA_DIR).",
)
@click.option("--log-json", is_flag=True, help="Operational logs as JSON lines on stderr.")
@click.option("-v", "--verbose", is_flag=True, help="Show informational logs.")
@click.pass_context
def cli(ctx: click.Context, data_dir: Path | None, log_json: bool, verbose: bool) -> None:
    """GDPR consent and retention compliance engine."""
    configure_logging(json=log_json, level=20 if (verbose or log_json) else 30)
    ctx.obj = AppContext(data_dir=data_dir)


# --- installation and schema -------------------------------------------------------------------


@cli.command()
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


def init_steps() -> list[Callable[[Installation], list[str]]]:
    """The steps `gdpr init` runs after the schema exists (keys, bootstrap principals)."""
    return []


@cli.group()
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


# --- error mapping: the one place exceptions become messages and exit codes --------------------


def _fail(message: str, code: int) -> NoReturn:
    click.echo(f"Error: {message}", err=True)
    sys.exit(code)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    try:
        cli.main(args=argv, prog_name="gdpr", standalone_mode=False)
    except click.exceptions.Abort:
        _fail("interrupted; nothing was changed", EXIT_INTERRUPTED)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except EngineError as exc:
        _fail(exc.message, exc.exit_code)
    except KeyboardInterrupt:
        _fail("interrupted; the current transaction was rolled back", EXIT_INTERRUPTED)
    except SQLAlchemyError as exc:
        # Driver messages can quote parameters (personal data): name the kind, never the text.
        if os.environ.get("GDPR_DEBUG"):
            raise
        _fail(
            f"database error ({type(exc).__name__}): check the database is reachable and "
            "migrated ('gdpr db current'); set GDPR_DEBUG=1 for details",
            2,
        )
    except Exception as exc:
        if os.environ.get("GDPR_DEBUG"):
            raise
        _fail(
            f"internal error ({type(exc).__name__}); set GDPR_DEBUG=1 for a traceback and report it",
            EXIT_INTERNAL,
        )
    sys.exit(0)


if __name__ == "__main__":
    main()
