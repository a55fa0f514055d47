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

import policies
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


# --- policies: check, format, evaluate, test (pure: no database) -------------------------------


@cli.group()
def policy() -> None:
    """The policy language: check, format, evaluate and test country policies."""


def _policy_paths(paths: tuple[Path, ...]) -> list[Path]:
    return list(paths) or [policies.default_policy_dir()]


@policy.command("check")
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@json_option
def policy_check(paths: tuple[Path, ...], as_json: bool) -> None:
    """Parse and lint policy files (default: the shipped packs); exit 1 on any finding."""
    found = policies.check_paths(_policy_paths(paths))
    data = [
        {"file": d.file, "line": d.line, "column": d.column, "message": d.message} for d in found
    ]
    emit(as_json, data, lambda: "\n".join(d.render() for d in found) or "Policies OK.")
    if found:
        sys.exit(1)


@policy.command("fmt")
@click.option("--check", is_flag=True, help="Only report files that are not canonical (exit 1).")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
def policy_fmt(check: bool, paths: tuple[Path, ...]) -> None:
    """Rewrite policy files in the canonical layout (comments kept)."""
    changed = []
    for path in policies.policy_files(paths):
        text = path.read_text(encoding="utf-8")
        formatted = policies.format_text(text, str(path))
        if formatted != text:
            changed.append(path)
            if not check:
                path.write_text(formatted, encoding="utf-8")
    for path in changed:
        click.echo(f"{'would reformat' if check else 'reformatted'} {path}")
    if check and changed:
        sys.exit(1)


@policy.command("evaluate")
@click.option("--records", "records_file", required=True, type=click.File("r"))
@click.option("--at", "at_text", required=True, help="Evaluation instant (ISO 8601).")
@click.option(
    "--policies", "policy_paths", multiple=True, type=click.Path(exists=True, path_type=Path)
)
@json_option
def policy_evaluate(
    records_file: Any, at_text: str, policy_paths: tuple[Path, ...], as_json: bool
) -> None:
    """Decide each record of a JSON Lines file; exit 1 if any record cannot be decided."""
    at = policies.parse_instant(at_text, "--at")
    assert at is not None
    evaluator = policies.evaluator_for(policies.load_policy_set(_policy_paths(policy_paths)))
    failed = False
    for number, line in enumerate(records_file, 1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
        except ValueError:
            raise policies.RecordFormatError(f"line {number}: not JSON") from None
        outcome = evaluator.evaluate(policies.record_from_json(raw), at).to_json()
        failed = failed or "error" in outcome
        if as_json:
            click.echo(json.dumps(outcome, ensure_ascii=False))
        elif "error" in outcome:
            click.echo(f"{outcome['id']}: error: {outcome['error']}")
        else:
            due = "due" if outcome["due"] else "not due"
            click.echo(
                f"{outcome['id']}: {outcome['policy']}/{outcome['rule']} {outcome['action']}"
                f" at {outcome['due_at'] or 'never'} ({due})"
            )
    if failed:
        sys.exit(1)


@policy.command("test")
@click.argument("path", required=False, type=click.Path(exists=True, path_type=Path))
@json_option
def policy_test(path: Path | None, as_json: bool) -> None:
    """Run the policy test files (default: the shipped packs' tests); exit 1 on a failure."""
    results = policies.run_policy_tests(path or policies.default_policy_dir())
    failures = [r for r in results if not r.ok]
    data = {
        "passed": len(results) - len(failures),
        "failed": [
            {"file": r.file, "line": r.line, "desc": r.desc, "mismatches": list(r.mismatches)}
            for r in failures
        ],
    }

    def text() -> str:
        lines = [f"{r.file}:{r.line}: FAIL {r.desc}: {'; '.join(r.mismatches)}" for r in failures]
        lines.append(f"{len(results) - len(failures)} passed, {len(failures)} failed")
        return "\n".join(lines)

    emit(as_json, data, text)
    if failures:
        sys.exit(1)


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
