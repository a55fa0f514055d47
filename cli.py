"""The `gdpr` command line: parse, authenticate, call one function of the engine, render.

Commands stay thin; the engine does the work and raises typed errors (`retention.errors`), which
`main` maps to one line on stderr and an exit code, in this one place: 0 success, 1 a check failed
or access was denied, 2 bad usage or bad input. Every command that a program may read takes
`--json`. Nothing here prints personal data unless the command's purpose is to show it to an
authorized reader.
"""

from __future__ import annotations

import importlib.metadata
import os
import sys
from pathlib import Path
from typing import NoReturn

import click
from sqlalchemy.exc import SQLAlchemyError

import policies
from retention.commands import GROUPS, AppContext, LazyGroup
from retention.errors import EngineError
from retention.logs import configure_logging

EXIT_INTERNAL = 70


EXIT_INTERRUPTED = 130


def _installed_version() -> str:
    """The distribution's version; a source checkout that was never installed says so."""
    try:
        return importlib.metadata.version("gdpr-compliance-engine")
    except importlib.metadata.PackageNotFoundError:
        return "0+unknown (source checkout, not installed)"


@click.group(cls=LazyGroup, lazy=GROUPS, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(version=_installed_version(), prog_name="gdpr")
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path, file_okay=False),
    envvar="GDPR_DATA_DIR",
    help="Data directory (default ./gdpr-data, or GDPR_DATA_DIR).",
)
@click.option(
    "--token-file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Read the access token from this file (mode 600) instead of GDPR_TOKEN.",
)
@click.option("--log-json", is_flag=True, help="Operational logs as JSON lines on stderr.")
@click.option("-v", "--verbose", is_flag=True, help="Show informational logs.")
@click.pass_context
def cli(
    ctx: click.Context,
    data_dir: Path | None,
    token_file: Path | None,
    log_json: bool,
    verbose: bool,
) -> None:
    """GDPR consent and retention compliance engine."""
    configure_logging(json=log_json, level=20 if (verbose or log_json) else 30)
    ctx.obj = AppContext(data_dir=data_dir, token_file=token_file)


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
    except policies.PolicyError as exc:
        # Policy syntax and lint errors are located multi-line reports (file:line:col, caret).
        _fail(str(exc), 2)
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
