"""The `gdpr` command line: parse, authenticate, call one function of the engine, render.

Commands stay thin; the engine does the work and raises typed errors (`retention.errors`), which
`main` maps to one line on stderr and an exit code, in this one place: 0 success, 1 a check failed
or access was denied, 2 bad usage or bad input. Every command that a program may read takes
`--json`. Nothing here prints personal data unless the command's purpose is to show it to an
authorized reader.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click
from sqlalchemy.exc import SQLAlchemyError

import policies
from retention import auditing, hardening, migrate
from retention.config import Config, load_config
from retention.demo import DEFAULT_CANDIDATES, DemoStep, DemoSummary, run_demo
from retention.errors import CheckFailed, EngineError
from retention.importing import ImportReport, import_candidates
from retention.installation import Installation, initialize, open_installation
from retention.logs import configure_logging
from retention.seeding import DEFAULT_DOCUMENT_FRACTION, Progress, SeedReport, seed_candidates

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


# --- demo data and import ----------------------------------------------------------------------


@contextlib.contextmanager
def progress_bar(total: int, as_json: bool, label: str) -> Iterator[Progress | None]:
    """A progress callback drawing a bar on stderr when it is a terminal, else nothing."""
    if as_json or total <= 0 or not sys.stderr.isatty():
        yield None
        return
    with click.progressbar(length=total, label=label, file=sys.stderr) as bar:
        yield bar.update


def _size(n: int) -> str:
    return f"{n / 1000:,.1f} kB" if n < 1_000_000 else f"{n / 1_000_000:,.1f} MB"


def _seed_text(report: SeedReport) -> str:
    return (
        f"Seeded {report.candidates:,} candidates (seed {report.seed}): "
        f"{report.applications:,} applications, {report.consents:,} consents, "
        f"{report.documents:,} documents ({_size(report.document_bytes)})."
    )


def _seed_json(report: SeedReport) -> dict[str, Any]:
    return {
        "candidates": report.candidates,
        "applications": report.applications,
        "consents": report.consents,
        "documents": report.documents,
        "document_bytes": report.document_bytes,
        "seed": report.seed,
        "now": report.now.isoformat(),
    }


@cli.group(invoke_without_command=True)
@click.option("--fresh", is_flag=True, help="Wipe a directory made by an earlier gdpr demo first.")
@click.option(
    "--candidates",
    type=click.IntRange(min=0),
    default=DEFAULT_CANDIDATES,
    show_default=True,
    help="How many candidates to seed.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the demo data.")
@json_option
@click.pass_context
def demo(ctx: click.Context, fresh: bool, candidates: int, seed: int, as_json: bool) -> None:
    """Show the whole product on a fresh demo installation in --data-dir.

    Without a subcommand: create the installation, seed candidates and summarize. A directory
    made by an earlier demo is only recreated with --fresh; a real installation is never touched.
    """
    if ctx.invoked_subcommand is not None:
        return
    app = ctx.find_object(AppContext)
    assert app is not None
    with progress_bar(candidates, as_json, "Seeding candidates") as progress:
        summary = run_demo(
            app.config,
            candidates=candidates,
            seed=seed,
            fresh=fresh,
            init_steps=init_steps(),
            steps=demo_steps(),
            progress=progress,
        )
    emit(as_json, _demo_json(summary), lambda: _demo_text(summary))


def demo_steps() -> list[DemoStep]:
    """What `gdpr demo` does after seeding (sweep, verification, evidence as they arrive)."""
    return []


def _demo_json(summary: DemoSummary) -> dict[str, Any]:
    inv = summary.inventory
    return {
        "data_dir": summary.data_dir,
        "seed": _seed_json(summary.seed),
        "candidates": inv.candidates,
        "by_country": inv.by_country,
        "by_status": inv.by_status,
        "applications": inv.applications,
        "consents": {
            "active": inv.consents_active,
            "expired": inv.consents_expired,
            "withdrawn": inv.consents_withdrawn,
        },
        "documents": inv.documents,
        "document_bytes": inv.document_bytes,
        "notes": summary.notes,
    }


def _demo_text(summary: DemoSummary) -> str:
    inv = summary.inventory
    countries = ", ".join(f"{c} {n:,}" for c, n in inv.by_country.items())
    statuses = ", ".join(f"{s} {n:,}" for s, n in inv.by_status.items())
    return "\n".join(
        [
            f"Demo installation in {summary.data_dir}",
            _seed_text(summary.seed),
            f"Candidates: {inv.candidates:,}",
            f"  by country: {countries}",
            f"  by status:  {statuses}",
            f"Applications: {inv.applications:,}",
            f"Talent-pool consents: {inv.consents_active:,} active, "
            f"{inv.consents_expired:,} expired, {inv.consents_withdrawn:,} withdrawn",
            f"Documents: {inv.documents:,} ({_size(inv.document_bytes)})",
            *summary.notes,
        ]
    )


@demo.command("seed")
@click.option(
    "--candidates", "count", type=click.IntRange(min=1), required=True, help="How many to add."
)
@click.option("--seed", type=int, default=0, show_default=True, help="Same seed, same rows.")
@click.option(
    "--documents",
    "document_fraction",
    type=click.FloatRange(0.0, 1.0),
    default=DEFAULT_DOCUMENT_FRACTION,
    show_default=True,
    help="Share of candidates that get a CV file in the document store.",
)
@json_option
@pass_app
def demo_seed(
    app: AppContext, count: int, seed: int, document_fraction: float, as_json: bool
) -> None:
    """Add realistic demo candidates to an existing installation (deterministic per seed)."""
    installation = app.installation()
    with progress_bar(count, as_json, "Seeding candidates") as progress:
        report = seed_candidates(
            installation.engine,
            installation.config.documents_dir,
            count,
            seed=seed,
            document_fraction=document_fraction,
            progress=progress,
        )
    emit(as_json, _seed_json(report), lambda: _seed_text(report))


@cli.group("import")
def import_group() -> None:
    """Bring records in from other systems."""


@import_group.command("candidates")
@click.argument("file", type=click.Path(path_type=Path))
@click.option(
    "--rejects",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Where to write rejected rows (default FILE.rejects.csv).",
)
@json_option
@pass_app
def import_candidates_command(
    app: AppContext, file: Path, rejects: Path | None, as_json: bool
) -> None:
    """Import candidates from an ATS export (CSV or JSON lines), upserting by external_ref.

    \b
    Columns: external_ref, country, status (required); first_name, last_name, email, phone,
    city, applied_at, decided_at, last_activity_at, talent_pool_consent_given_at,
    talent_pool_consent_expires_at.
    \b
    - UTF-8 with or without BOM; CSV separated by ',' or ';' (or JSON lines);
    - dates YYYY-MM-DD or DD.MM.YYYY (midnight UTC) or ISO 8601 instants (UTC if no offset);
    - countries as ISO codes or English/local names; statuses in common spellings;
    - values that look like spreadsheet formulas (=, @, -, or + outside phone numbers) are
      refused; decided statuses need decided_at;
    - identical duplicate rows count once; a conflicting repeat of an external_ref is rejected.

    Valid rows are imported in one transaction; rejected rows go to the rejects file with their
    line number and a reason, and the command then exits 1.
    """
    installation = app.installation()
    report = import_candidates(installation.engine, file, rejects_path=rejects)
    emit(as_json, _import_json(report), lambda: _import_text(report))
    if report.rejected:
        rows = "row" if report.rejected == 1 else "rows"
        raise CheckFailed(
            f"{report.rejected:,} {rows} rejected (see {report.rejects_file}); "
            "the other rows were imported"
        )


def _import_json(report: ImportReport) -> dict[str, Any]:
    return {
        "file": report.file,
        "format": report.format,
        "rows": report.rows,
        "inserted": report.inserted,
        "updated": report.updated,
        "duplicates": report.duplicates,
        "rejected": report.rejected,
        "consents_added": report.consents_added,
        "consents_updated": report.consents_updated,
        "rejects_file": report.rejects_file,
        "ignored_columns": list(report.ignored_columns),
        "seconds": round(report.seconds, 3),
        "rows_per_second": round(report.rows_per_second),
    }


def _import_text(report: ImportReport) -> str:
    lines = [
        f"Imported {report.file} ({report.format}): {report.rows:,} rows, "
        f"{report.inserted:,} new, {report.updated:,} updated, "
        f"{report.duplicates:,} duplicates, {report.rejected:,} rejected; "
        f"consents {report.consents_added:,} added, {report.consents_updated:,} updated."
    ]
    if report.ignored_columns:
        lines.append(f"Ignored columns: {', '.join(report.ignored_columns)}")
    return "\n".join(lines)


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
