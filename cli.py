"""The `gdpr` command line: parse, authenticate, call one function of the engine, render.

Commands stay thin; the engine does the work and raises typed errors (`retention.errors`), which
`main` maps to one line on stderr and an exit code, in this one place: 0 success, 1 a check failed
or access was denied, 2 bad usage or bad input. Every command that a program may read takes
`--json`. Nothing here prints personal data unless the command's purpose is to show it to an
authorized reader.
"""

from __future__ import annotations

import base64
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click
from sqlalchemy.exc import SQLAlchemyError

from retention import auditing, hardening, migrate
from retention.config import Config, load_config
from retention.errors import BadInput, CheckFailed, EngineError
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
    return [auditing.create_signing_key]


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


# --- evidence packs ----------------------------------------------------------------------------


@cli.group()
def evidence() -> None:
    """Evidence packs for auditors: export a period, verify a pack offline."""


@evidence.command("export")
@click.option(
    "--from",
    "start",
    type=click.DateTime(["%Y-%m-%d"]),
    required=True,
    help="First day of the period (YYYY-MM-DD, installation timezone).",
)
@click.option(
    "--to",
    "end",
    type=click.DateTime(["%Y-%m-%d"]),
    required=True,
    help="Last day of the period, inclusive.",
)
@click.option("--country", help="Only this country's actions, holds, reviews, grants, consents.")
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    required=True,
    help="Folder to write the pack into.",
)
@click.option("--zip", "as_zip", is_flag=True, help="Write one .zip file instead of a folder.")
@json_option
@pass_app
def evidence_export(
    app: AppContext,
    start: datetime,
    end: datetime,
    country: str | None,
    out: Path,
    as_zip: bool,
    as_json: bool,
) -> None:
    """Export a signed, self-verifying evidence pack of a period (evidence:export; audited)."""
    from retention import evidence_export as ex

    installation = app.installation()
    request = ex.ExportRequest(
        start=start.date(),
        end=end.date(),
        out=out,
        actor=evidence_actor(app),
        country=country.upper() if country else None,
        zip=as_zip,
    )
    result = ex.export_pack(
        installation,
        request,
        signer=ex.load_signer(installation),
        policies=evidence_policies(installation),
        **evidence_guard(app, request),
    )
    emit(as_json, result.to_json(), lambda: _export_text(result))


def _export_text(result: Any) -> str:
    p = result.period
    span = f"entries {p.first_seq}..{p.last_seq}" if p.entries else "no audit entries"
    return "\n".join(
        [
            f"Wrote {result.path}",
            f"  {p.start_date} to {p.end_date}: {span}, {result.action_rows} retention actions, "
            f"checkpoint of size {result.checkpoint_size}, {result.files} files",
            f"  verified: {'OK' if result.verification and result.verification.ok else 'not run'}",
            f"Verifier key: {result.verifier_key}",
            f"Fingerprint:  {result.fingerprint}",
            "Give the fingerprint to the auditor on another channel than the pack.",
        ]
    )


def evidence_actor(app: AppContext) -> str:
    """Who exports: the authenticated principal (wired to access control)."""
    return str(app.authenticate().id)


def evidence_guard(app: AppContext, request: Any) -> dict[str, Any]:
    """Authorization of an export, run inside its transaction: evidence:export for the country."""
    from retention.guard import guarded, require
    from retention.permissions import Permission

    principal = app.authenticate()

    def authorize(conn: Any) -> object:
        return require(
            conn,
            principal.id,
            Permission.EVIDENCE_EXPORT,
            at=datetime.now(UTC),
            action="evidence.export",
            country=request.country,
        )

    return {"authorize": authorize, "unit": guarded}


def evidence_policies(installation: Installation) -> Any:
    """The policy texts in force, with their set hash (none until the policies are wired)."""
    return None


@evidence.command("verify")
@click.argument("pack", type=click.Path(path_type=Path, exists=True))
@click.option(
    "--key",
    "key_file",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="Verifier key file obtained on another channel (default: the pack's own).",
)
@json_option
def evidence_verify(pack: Path, key_file: Path | None, as_json: bool) -> None:
    """Verify an evidence pack offline (no database needed); exit 1 naming what fails."""
    from retention.evidence_verify import verify_path

    key = None
    if key_file is not None:
        try:
            key = key_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise BadInput(f"cannot read key file {key_file} ({exc})") from None
    report = verify_path(pack, key)
    emit(as_json, report.to_json(), report.summary)
    if not report.ok:
        raise CheckFailed(f"evidence pack does not verify: {report.problems[0]}")
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


# --- audit log ---------------------------------------------------------------------------------


@cli.group()
def audit() -> None:
    """The tamper-evident audit log: checkpoints, proofs, verification."""


@audit.command("checkpoint")
@json_option
@pass_app
def audit_checkpoint(app: AppContext, as_json: bool) -> None:
    """Sign the current log head, store it and append it to the witness file; print the note."""
    checkpoint, note = auditing.sign_checkpoint(app.installation())
    data = {"origin": checkpoint.origin, "size": checkpoint.size, "note": note}
    emit(as_json, data, note.rstrip("\n"))


@audit.command("pubkey")
@json_option
@pass_app
def audit_pubkey(app: AppContext, as_json: bool) -> None:
    """Print the verifier key (note format) that checks this installation's checkpoints."""
    key = auditing.pubkey(app.installation())
    emit(as_json, {"verifier_key": key}, key)


@audit.command("proof")
@click.argument("seq", type=click.IntRange(min=0))
@click.option("--size", type=click.IntRange(min=1), help="Tree size (default: the whole log).")
@json_option
@pass_app
def audit_proof(app: AppContext, seq: int, size: int | None, as_json: bool) -> None:
    """Inclusion proof of entry SEQ in the log of --size entries."""
    proof = auditing.inclusion(app.installation(), seq, size).to_json()
    emit(as_json, proof, lambda: _render_proof(proof))


@audit.command("consistency")
@click.option("--from", "size1", type=click.IntRange(min=1), required=True, help="Older size.")
@click.option("--to", "size2", type=click.IntRange(min=1), help="Newer size (default: now).")
@json_option
@pass_app
def audit_consistency(app: AppContext, size1: int, size2: int | None, as_json: bool) -> None:
    """Consistency proof that the log of --from entries is a prefix of the log of --to."""
    proof = auditing.consistency(app.installation(), size1, size2).to_json()
    emit(as_json, proof, lambda: _render_proof(proof))


def _render_proof(proof: dict[str, Any]) -> str:
    lines = [f"{k}: {v}" for k, v in proof.items() if k != "hashes"]
    return "\n".join([*lines, "hashes:", *(f"  {h}" for h in proof["hashes"])])


@audit.command("show")
@click.option("--since", type=click.IntRange(min=0), default=0, help="First seq to show.")
@click.option("--subject", type=click.UUID, help="Only entries about this subject UUID.")
@json_option
@pass_app
def audit_show(app: AppContext, since: int, subject: Any, as_json: bool) -> None:
    """Show audit entries in seq order (JSON: one array, streamed)."""
    stream = auditing.entries(app.installation(), since=since, subject=subject)
    if as_json:
        click.echo("[", nl=False)
        for i, entry in enumerate(stream):
            sep = "," if i else ""
            click.echo(sep + "\n" + json.dumps(entry.to_json(), sort_keys=True), nl=False)
        click.echo("\n]")
        return
    for e in stream:
        subj = e.subject or "-"
        click.echo(f"{e.seq:>8} {e.ts.isoformat()} {e.outcome:<6} {e.actor} {e.action} {subj}"
                   + (f" reason={e.reason!r}" if e.reason else ""))  # fmt: skip


@audit.command("verify")
@json_option
@pass_app
def audit_verify(app: AppContext, as_json: bool) -> None:
    """Recompute every hash and link, rebuild the root, check signed and witnessed checkpoints."""
    installation = app.installation()
    if not as_json and sys.stderr.isatty():
        total = auditing.log_size(installation)
        with click.progressbar(length=total, label="Verifying", file=sys.stderr) as bar:
            report = auditing.verify_installation(
                installation, progress=lambda done: bar.update(done - bar.pos)
            )
    else:
        report = auditing.verify_installation(installation)
    problem = report.problem
    data = {
        "ok": report.ok,
        "size": report.size,
        "root": base64.b64encode(report.root).decode(),
        "checkpoints": report.checkpoints,
        "witnessed": report.witnessed,
        "problem": None
        if problem is None
        else {"kind": str(problem.kind), "seq": problem.seq, "detail": problem.detail},
    }
    if as_json or report.ok:
        emit(
            as_json,
            data,
            f"OK: {report.size} entries, {report.checkpoints} signed and {report.witnessed} "
            "witnessed checkpoints verified",
        )
    if problem is not None:
        at = "" if problem.seq is None else f" at seq {problem.seq}"
        raise CheckFailed(f"audit log verification failed: {problem.kind}{at}: {problem.detail}")


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
