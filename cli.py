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
import importlib.metadata
import json
import os
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click
from sqlalchemy.exc import SQLAlchemyError

import policies
from audit_log import Event
from retention.access import (
    Permission,
    PrincipalView,
    authenticate,
    check_permission,
    grants,
    principals,
)
from retention.access import review as access_review
from retention.audit import log as auditing
from retention.clock import utc_now
from retention.config import Config, load_config
from retention.demo import (
    DEFAULT_CANDIDATES,
    DEFAULT_DOCUMENT_FRACTION,
    DemoStep,
    DemoSummary,
    Progress,
    SeedReport,
    run_demo,
    seed_candidates,
)
from retention.demo import tour as demo_module
from retention.errors import BadInput, CheckFailed, EngineError
from retention.install import (
    Installation,
    bootstrap,
    initialize,
    load_installation_policies,
    open_installation,
    secret_is_private,
)
from retention.intake import ImportReport, import_candidates
from retention.logs import configure_logging
from retention.operations import retention as operations
from retention.scheduler import JOB_NAMES, default_jobs, next_runs, run_once, serve
from retention.store import Grant, ReviewDecision, hardening, migrate
from retention.subjects import CONTACT_FIELDS, Gateway, consents, explain_subject, parse_subject_id

F = TypeVar("F", bound=Callable[..., Any])

EXIT_INTERNAL = 70
EXIT_INTERRUPTED = 130


@dataclass
class AppContext:
    """What the top-level options decide, resolved lazily so `--help` never touches disk."""

    data_dir: Path | None
    token_file: Path | None = None
    _config: Config | None = field(default=None, repr=False)
    _installation: Installation | None = field(default=None, repr=False)

    @property
    def config(self) -> Config:
        if self._config is None:
            self._config = load_config(self.data_dir)
        return self._config

    def installation(self) -> Installation:
        if self._installation is None:
            self._installation = open_installation(self.config)
        return self._installation

    def authenticate(self) -> PrincipalView:
        """The principal behind --token-file or GDPR_TOKEN; every authenticated command calls this.

        Failures are audited by `retention.access.principals.authenticate` before they are raised.
        """
        installation = self.installation()
        return authenticate(installation.engine, self._read_token())

    def authorize(self, permission: Permission, action: str) -> PrincipalView:
        """Authenticate, then require `permission` everywhere ('*'); a denial is audited.

        For commands that are not about one subject (audit, sweep, evidence, policy).
        """
        principal = self.authenticate()
        check_permission(
            self.installation().engine, principal.id, permission, action=action, at=utc_now()
        )
        return principal

    def gateway(self) -> Gateway:
        """The audited path to personal data, as the authenticated principal."""
        installation = self.installation()
        principal = self.authenticate()
        return Gateway(installation.engine, principal.id, installation.config.documents_dir)

    def _read_token(self) -> str | None:
        if self.token_file is None:
            return os.environ.get("GDPR_TOKEN")
        path = self.token_file
        try:
            if not secret_is_private(path):
                raise BadInput(
                    f"token file {path} is readable by group or others: run 'chmod 600 {path}'"
                )
            return path.read_text(encoding="ascii", errors="replace").strip()
        except OSError as exc:
            raise BadInput(f"cannot read token file {path} ({exc.strerror})") from None


def json_option(f: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON for programs.")(f)


def emit(as_json: bool, data: Any, text: Callable[[], str] | str) -> None:
    """Print `data` as JSON, or the human text (a string or a function producing one)."""
    if as_json:
        click.echo(json.dumps(data, indent=2, sort_keys=True, default=str, ensure_ascii=False))
    else:
        click.echo(text() if callable(text) else text)


pass_app = click.make_pass_decorator(AppContext)


def _installed_version() -> str:
    """The distribution's version; a source checkout that was never installed says so."""
    try:
        return importlib.metadata.version("gdpr-compliance-engine")
    except importlib.metadata.PackageNotFoundError:
        return "0+unknown (source checkout, not installed)"


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
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
    return [auditing.create_signing_key, bootstrap.init_step]


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
    from retention.access import Permission, guarded, require
    from retention.evidence import export as ex

    installation = app.installation()
    principal = app.authenticate()
    policy_set = evidence_policy_set(installation)
    cc = country.upper() if country else None
    request = ex.ExportRequest(
        start=start.date(),
        end=end.date(),
        out=out,
        actor=str(principal.id),
        country=cc,
        zip=as_zip,
    )

    def authorize(conn: Any) -> object:
        return require(
            conn,
            principal.id,
            Permission.EVIDENCE_EXPORT,
            at=datetime.now(UTC),
            action=ex.EXPORT_ACTION,
            country=cc,
        )

    result = ex.export_pack(
        installation,
        request,
        signer=ex.load_signer(installation),
        policies=ex.policy_texts(policy_set),
        policy_set=policy_set,
        authorize=authorize,
        unit=guarded,
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


def evidence_policy_set(installation: Installation) -> Any:
    """The policy set in force: the installation's policies/ folder, else the shipped set."""
    from policies import load_default_policy_set, load_policy_set

    folder = installation.config.data_dir / "policies"
    if folder.is_dir() and any(folder.glob("*.policy")):
        return load_policy_set([folder])
    return load_default_policy_set()


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
    from retention.evidence import verify_path

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
    app.authorize(Permission.AUDIT_VERIFY, "audit.checkpoint")
    checkpoint, note = auditing.sign_checkpoint(app.installation())
    data = {"origin": checkpoint.origin, "size": checkpoint.size, "note": note}
    emit(as_json, data, note.rstrip("\n"))


@audit.command("pubkey")
@json_option
@pass_app
def audit_pubkey(app: AppContext, as_json: bool) -> None:
    """Print the verifier key (note format) that checks this installation's checkpoints.

    Needs no token: the key is public, meant to be published and handed to auditors.
    """
    key = auditing.pubkey(app.installation())
    emit(as_json, {"verifier_key": key}, key)


@audit.command("proof")
@click.argument("seq", type=click.IntRange(min=0))
@click.option("--size", type=click.IntRange(min=1), help="Tree size (default: the whole log).")
@json_option
@pass_app
def audit_proof(app: AppContext, seq: int, size: int | None, as_json: bool) -> None:
    """Inclusion proof of entry SEQ in the log of --size entries."""
    app.authorize(Permission.AUDIT_READ, "audit.proof")
    proof = auditing.inclusion(app.installation(), seq, size).to_json()
    emit(as_json, proof, lambda: _render_proof(proof))


@audit.command("consistency")
@click.option("--from", "size1", type=click.IntRange(min=1), required=True, help="Older size.")
@click.option("--to", "size2", type=click.IntRange(min=1), help="Newer size (default: now).")
@json_option
@pass_app
def audit_consistency(app: AppContext, size1: int, size2: int | None, as_json: bool) -> None:
    """Consistency proof that the log of --from entries is a prefix of the log of --to."""
    app.authorize(Permission.AUDIT_READ, "audit.consistency")
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
    app.authorize(Permission.AUDIT_READ, "audit.show")
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
    app.authorize(Permission.AUDIT_VERIFY, "audit.verify")
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
    """What `gdpr demo` does after seeding: the whole product, in the order a DPO would."""
    return demo_module.product_steps()


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
    app.authorize(Permission.CANDIDATE_WRITE, "candidate.seed")
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
    principal = app.authenticate()
    decision = check_permission(
        installation.engine,
        principal.id,
        Permission.CANDIDATE_WRITE,
        action="candidate.import",
        at=utc_now(),
    )
    audit_as = Event(
        actor=str(principal.id),
        action="candidate.import",
        details={"allowed_by": str(decision.grant_id)},
    )
    report = import_candidates(installation.engine, file, rejects_path=rejects, audit_as=audit_as)
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


@policy.command("explain")
@click.argument("subject_id", metavar="SUBJECT")
@click.option("--at", "at_text", help="Evaluation instant (ISO 8601; default now).")
@click.option("--reason", help="Why you read this subject (required for a blocked one).")
@json_option
@pass_app
def policy_explain(
    app: AppContext, subject_id: str, at_text: str | None, reason: str | None, as_json: bool
) -> None:
    """Trace the retention decision on one stored subject: each rule tried, dates, holds."""
    at = policies.parse_instant(at_text, "--at") if at_text else utc_now()
    policy_set = load_installation_policies(app.config)
    trace = explain_subject(
        app.gateway(), policy_set, parse_subject_id(subject_id), at, reason=reason
    )
    data = {"outcome": trace.outcome.to_json(), "trace": list(trace.lines)}
    emit(as_json, data, trace.text)


# --- principals and access ---------------------------------------------------------------------


def _when(at: Any) -> str:
    return "-" if at is None else at.strftime("%Y-%m-%d %H:%M UTC")


def _grant_json(grant: Grant, name: str | None = None) -> dict[str, Any]:
    data = grant.model_dump(mode="json")
    if name is not None:
        data["principal"] = name
    return data


@cli.group()
def principal() -> None:
    """People and services that act, and their tokens."""


@principal.command("create")
@click.argument("name")
@click.option("--kind", type=click.Choice(["human", "service"]), required=True)
@json_option
@pass_app
def principal_create(app: AppContext, name: str, kind: str, as_json: bool) -> None:
    """Create a principal and print its token (shown only now)."""
    actor = app.authenticate()
    issued = principals.create_principal(app.installation().engine, actor.id, name, kind)
    emit(
        as_json,
        {"id": str(issued.principal_id), "name": issued.name, "kind": kind, "token": issued.token},
        f"Created {kind} principal {issued.name} ({issued.principal_id}).\n"
        f"Token (shown only now; store it in a secret manager): {issued.token}",
    )


@principal.command("list")
@json_option
@pass_app
def principal_list(app: AppContext, as_json: bool) -> None:
    """List principals."""
    actor = app.authenticate()
    rows = principals.list_principals(app.installation().engine, actor.id)
    emit(
        as_json,
        [p.model_dump(mode="json") for p in rows],
        lambda: (
            "\n".join(
                f"{p.name:<24} {p.kind:<8} {p.id}  {'disabled ' + _when(p.disabled_at) if p.disabled_at else 'enabled'}"
                for p in rows
            )
            or "No principals."
        ),
    )


@principal.command("disable")
@click.argument("name")
@click.option("--reason", required=True, help="Why (recorded in the audit log).")
@json_option
@pass_app
def principal_disable(app: AppContext, name: str, reason: str, as_json: bool) -> None:
    """Disable a principal: its tokens and grants stop working at once."""
    actor = app.authenticate()
    done = principals.disable_principal(app.installation().engine, actor.id, name, reason)
    emit(as_json, done.model_dump(mode="json"), f"Disabled principal {done.name} ({done.id}).")


@principal.command("rotate-token")
@click.argument("name")
@json_option
@pass_app
def principal_rotate_token(app: AppContext, name: str, as_json: bool) -> None:
    """Revoke a principal's tokens and print a new one (shown only now)."""
    actor = app.authenticate()
    issued = principals.rotate_token(app.installation().engine, actor.id, name)
    emit(
        as_json,
        {"id": str(issued.principal_id), "name": issued.name, "token": issued.token},
        f"Revoked the old tokens of {issued.name}.\n"
        f"New token (shown only now; store it in a secret manager): {issued.token}",
    )


@cli.group()
def access() -> None:
    """Grants: least-privilege, time-bound, country-scoped access."""


@access.command("grant")
@click.argument("principal_name", metavar="PRINCIPAL")
@click.option(
    "--role", required=True, help="recruiter, dpo, auditor, admin, scheduler, integration"
)
@click.option("--country", required=True, help="ISO codes like RO,NL, or '*' for every country.")
@click.option("--expires", required=True, help="Duration (30d, 4w, 6m; at most 365 days) or date.")
@click.option("--reason", required=True, help="Why this access is needed (audited).")
@json_option
@pass_app
def access_grant(
    app: AppContext,
    principal_name: str,
    role: str,
    country: str,
    expires: str,
    reason: str,
    as_json: bool,
) -> None:
    """Grant a role to a principal (admin and dpo grants wait for a second approver)."""
    actor = app.authenticate()
    grant = grants.grant_access(
        app.installation().engine, actor.id, principal_name, role, country, expires, reason
    )
    pending = grant.status == "pending"
    emit(
        as_json,
        _grant_json(grant),
        f"Granted {grant.role} in {grant.countries} to {principal_name} until "
        f"{_when(grant.expires_at)}: grant {grant.id}"
        + (" (pending: a second person with access:approve must approve it)" if pending else "."),
    )


@access.command("approve")
@click.argument("grant_id")
@json_option
@pass_app
def access_approve(app: AppContext, grant_id: str, as_json: bool) -> None:
    """Approve a pending grant (four eyes: not the grantor, not the grantee)."""
    actor = app.authenticate()
    grant = grants.approve_grant(app.installation().engine, actor.id, grant_id)
    emit(as_json, _grant_json(grant), f"Approved grant {grant.id}: {grant.role} is now active.")


@access.command("revoke")
@click.argument("grant_id")
@click.option("--reason", required=True, help="Why (recorded in the audit log).")
@json_option
@pass_app
def access_revoke(app: AppContext, grant_id: str, reason: str, as_json: bool) -> None:
    """Revoke a grant at once."""
    actor = app.authenticate()
    grant = grants.revoke_grant(app.installation().engine, actor.id, grant_id, reason)
    emit(as_json, _grant_json(grant), f"Revoked grant {grant.id}.")


@access.command("list")
@click.option("--principal", "principal_name", help="Only this principal's grants.")
@json_option
@pass_app
def access_list(app: AppContext, principal_name: str | None, as_json: bool) -> None:
    """List grants, newest first."""
    actor = app.authenticate()
    rows = grants.list_grants(app.installation().engine, actor.id, principal_name)

    def text() -> str:
        lines = [
            f"{g.id}  {name:<20} {g.role:<11} {g.countries:<10} {g.status:<8} "
            f"expires {_when(g.expires_at)}{'  revoked ' + _when(g.revoked_at) if g.revoked_at else ''}"
            for g, name in rows
        ]
        return "\n".join(lines) or "No grants."

    emit(as_json, [_grant_json(g, name) for g, name in rows], text)


@access.command("check")
@click.argument("principal_name", metavar="PRINCIPAL")
@click.argument("permission")
@click.option("--country", help="The subject's country (ISO code); omit for every country.")
@json_option
@pass_app
def access_check(
    app: AppContext, principal_name: str, permission: str, country: str | None, as_json: bool
) -> None:
    """Explain whether PRINCIPAL may use PERMISSION now (exit 0 allowed, 1 denied)."""
    actor = app.authenticate()
    target, decision = grants.check_access(
        app.installation().engine, actor.id, principal_name, permission, country
    )
    emit(
        as_json,
        {
            "principal": target.name,
            "permission": permission,
            "country": country,
            "allowed": decision.allowed,
            "grant": None if decision.grant_id is None else str(decision.grant_id),
            "reason": decision.reason,
        },
        f"{'ALLOWED' if decision.allowed else 'DENIED'}: {decision.reason}",
    )
    if not decision.allowed:
        sys.exit(1)


@access.command("review")
@json_option
@pass_app
def access_review_cmd(app: AppContext, as_json: bool) -> None:
    """What a periodic access review needs to look at."""
    actor = app.authenticate()
    review = access_review.review_access(app.installation().engine, actor.id)

    def text() -> str:
        def section(title: str, items: list[access_review.ReviewedGrant]) -> list[str]:
            lines = [f"{title}: {len(items)}"]
            for g in items:
                if g.approved_by:
                    approval = f", approved by {g.approved_by} {_when(g.approved_at)}"
                elif g.granted_by is None:
                    approval = ", bootstrap grant (no approver)"
                else:
                    approval = f", granted by {g.granted_by}"
                lines.append(
                    f"  {g.id} {g.principal} {g.role} {g.countries} {g.status} "
                    f"expires {_when(g.expires_at)}, last used {_when(g.last_used_at)}"
                    f"{approval}"
                )
            return lines

        return "\n".join(
            [
                *section("Expiring within 14 days", review.expiring),
                *section("Not used for 30 days", review.unused),
                *section("Privileged grants (admin, dpo)", review.privileged),
                *section("Pending approval", review.pending),
                f"Principals without an active grant: {len(review.principals_without_grant)}",
                *(f"  {name}" for name in review.principals_without_grant),
            ]
        )

    emit(as_json, review.as_json(), text)


# --- personal data: every command goes through the audited gateway -----------------------------


def _reason_option(f: F) -> F:
    return click.option(
        "--reason", help="Why (recorded in the audit log; required for blocked subjects)."
    )(f)


def _show_candidate(data: dict[str, Any]) -> str:
    return "\n".join(f"{k:<17} {'' if v is None else v}" for k, v in data.items())


@cli.group()
def candidate() -> None:
    """Read, export, change and erase data subjects (every access audited)."""


@candidate.command("show")
@click.argument("subject_id", metavar="ID")
@_reason_option
@json_option
@pass_app
def candidate_show(app: AppContext, subject_id: str, reason: str | None, as_json: bool) -> None:
    """Show one candidate."""
    key = parse_subject_id(subject_id)
    data = app.gateway().show(key, reason=reason)
    emit(as_json, data, lambda: _show_candidate(data))


@candidate.command("find")
@click.option("--email", help="Exact e-mail address (case-insensitive).")
@click.option("--external-ref", help="The ATS reference.")
@_reason_option
@json_option
@pass_app
def candidate_find(
    app: AppContext,
    email: str | None,
    external_ref: str | None,
    reason: str | None,
    as_json: bool,
) -> None:
    """Find candidates you may read by e-mail address or ATS reference."""
    if (email is None) == (external_ref is None):
        raise click.UsageError("give exactly one of --email or --external-ref")
    found = app.gateway().find(email=email, external_ref=external_ref, reason=reason)
    emit(
        as_json,
        found,
        lambda: "\n\n".join(_show_candidate(d) for d in found) or "No candidate found.",
    )


@candidate.command("export")
@click.argument("subject_id", metavar="ID")
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), required=True)
@_reason_option
@json_option
@pass_app
def candidate_export(
    app: AppContext, subject_id: str, out: Path, reason: str | None, as_json: bool
) -> None:
    """Export everything held about a candidate as JSON (GDPR Art. 15 and 20)."""
    key = parse_subject_id(subject_id)
    result = app.gateway().export(key, out, reason=reason)
    emit(
        as_json,
        {"subject": str(result.subject), "path": str(result.path), "sha256": result.sha256},
        f"Exported {result.subject} to {result.path} (sha256 {result.sha256}).",
    )


def _contact_options(f: F) -> F:
    for name in reversed(CONTACT_FIELDS):
        f = click.option("--" + name.replace("_", "-"), name, help="New value ('' clears it).")(f)
    return f


@candidate.command("update")
@click.argument("subject_id", metavar="ID")
@_contact_options
@_reason_option
@json_option
@pass_app
def candidate_update(
    app: AppContext, subject_id: str, reason: str | None, as_json: bool, **fields: str | None
) -> None:
    """Change a candidate's contact fields."""
    key = parse_subject_id(subject_id)
    changes = {k: v for k, v in fields.items() if v is not None}
    data = app.gateway().update(key, changes, reason=reason)
    emit(as_json, data, f"Updated {', '.join(sorted(changes))} of {key}.")


@candidate.command("erase")
@click.argument("subject_id", metavar="ID")
@click.option("--reason", required=True, help="The request being answered (audited).")
@json_option
@pass_app
def candidate_erase(app: AppContext, subject_id: str, reason: str, as_json: bool) -> None:
    """Erase a candidate on request (GDPR Art. 17): records now, document files after commit."""
    key = parse_subject_id(subject_id)
    done = app.gateway().erase(key, reason=reason)
    emit(
        as_json,
        {
            "subject": str(done.subject),
            "applications": done.applications,
            "consents": done.consents,
            "documents": done.documents,
            "files_removed": done.files_removed,
        },
        f"Erased {done.subject}: {done.applications} applications, {done.consents} consents, "
        f"{done.documents} documents ({done.files_removed} files removed).",
    )


@cli.group()
def consent() -> None:
    """Record, withdraw and list consents (GDPR Art. 7)."""


@consent.command("record")
@click.argument("subject_id", metavar="SUBJECT")
@click.option("--purpose", required=True, help="e.g. talent_pool")
@click.option("--notice", required=True, help="Version of the privacy notice shown.")
@click.option("--channel", required=True, help="How consent was given, e.g. 'web form'.")
@click.option("--expires", help="Validity as a duration, e.g. 24m.")
@json_option
@pass_app
def consent_record(
    app: AppContext,
    subject_id: str,
    purpose: str,
    notice: str,
    channel: str,
    expires: str | None,
    as_json: bool,
) -> None:
    """Record a consent given now."""
    key = parse_subject_id(subject_id)
    row = consents.record_consent(
        app.gateway(), key, purpose=purpose, notice=notice, channel=channel, expires=expires
    )
    emit(
        as_json,
        row,
        f"Recorded consent {row['id']} of {key} for {purpose} (notice {notice})"
        + (f", valid until {_when(row['expires_at'])}." if row["expires_at"] else "."),
    )


@consent.command("withdraw")
@click.argument("subject_id", metavar="SUBJECT")
@click.option("--purpose", required=True)
@json_option
@pass_app
def consent_withdraw(app: AppContext, subject_id: str, purpose: str, as_json: bool) -> None:
    """Withdraw a subject's consent for a purpose."""
    key = parse_subject_id(subject_id)
    count = consents.withdraw_consent(app.gateway(), key, purpose=purpose)
    emit(
        as_json,
        {"subject": str(key), "purpose": purpose, "withdrawn": count},
        f"Withdrew {count} consent(s) of {key} for {purpose}.",
    )


@consent.command("list")
@click.argument("subject_id", metavar="SUBJECT")
@json_option
@pass_app
def consent_list(app: AppContext, subject_id: str, as_json: bool) -> None:
    """A subject's consent history."""
    key = parse_subject_id(subject_id)
    rows = consents.list_consents(app.gateway(), key)
    emit(
        as_json,
        rows,
        lambda: (
            "\n".join(
                f"{r['id']:>6} {r['purpose']:<14} notice {r['notice_version']:<10} "
                f"given {_when(r['given_at'])}  expires {_when(r['expires_at'])}  "
                f"withdrawn {_when(r['withdrawn_at'])}"
                for r in rows
            )
            or "No consents."
        ),
    )


# --- legal holds, reviews, the sweep and the scheduler -----------------------------------------


def _uuid(text: str, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError:
        raise BadInput(f"{what} must be a UUID, got '{text[:40]}'") from None


def _country_option(f: F) -> F:
    return click.option(
        "--country",
        callback=lambda _c, _p, v: v.upper() if v else None,
        help="One ISO country code.",
    )(f)


@cli.group()
def hold() -> None:
    """Legal holds: suspend every retention action on a subject (hold:manage)."""


@hold.command("place")
@click.argument("subject")
@click.option("--case", "case_ref", required=True, help="Case or matter reference.")
@click.option("--reason", required=True, help="Why (recorded in the audit log).")
@json_option
@pass_app
def hold_place(app: AppContext, subject: str, case_ref: str, reason: str, as_json: bool) -> None:
    """Place a legal hold on SUBJECT (a UUID)."""
    actor = app.authenticate()
    placed = operations.place_hold(
        app.installation(),
        actor.id,
        parse_subject_id(subject),
        case_ref=case_ref,
        reason=reason,
    )
    emit(as_json, placed.to_json(), f"Hold {placed.id} placed on {placed.subject_id}.")


@hold.command("release")
@click.argument("hold_id")
@click.option("--reason", required=True, help="Why (recorded in the audit log).")
@json_option
@pass_app
def hold_release(app: AppContext, hold_id: str, reason: str, as_json: bool) -> None:
    """Release the legal hold HOLD_ID; the subject is eligible again at the next sweep."""
    actor = app.authenticate()
    released = operations.release_hold(
        app.installation(), actor.id, _uuid(hold_id, "HOLD_ID"), reason=reason
    )
    emit(as_json, released.to_json(), f"Hold {released.id} on {released.subject_id} released.")


@hold.command("list")
@click.option("--all", "include_released", is_flag=True, help="Include released holds.")
@json_option
@pass_app
def hold_list(app: AppContext, include_released: bool, as_json: bool) -> None:
    """List active legal holds (newest first)."""
    actor = app.authenticate()
    found = operations.list_holds(app.installation(), actor.id, include_released=include_released)
    emit(
        as_json,
        [h.to_json() for h in found],
        lambda: (
            "\n".join(
                f"{h.id}  {h.subject_id}  case {h.case_ref:<16} placed {_when(h.placed_at)}"
                + ("" if h.active else f"  released {_when(h.released_at)}")
                for h in found
            )
            or "No legal holds."
        ),
    )


@cli.group()
def review() -> None:
    """The review queue: subjects a rule hands to the DPO."""


@review.command("list")
@click.option("--all", "include_decided", is_flag=True, help="Include decided items.")
@json_option
@pass_app
def review_list(app: AppContext, include_decided: bool, as_json: bool) -> None:
    """List open review items (oldest first)."""
    actor = app.authenticate()
    items = operations.list_reviews(app.installation(), actor.id, include_decided=include_decided)
    emit(
        as_json,
        [i.to_json() for i in items],
        lambda: (
            "\n".join(
                f"{i.subject_id}  {i.country}  {i.policy}/{i.rule}  queued {_when(i.queued_at)}"
                + (f"  decided {i.decision}" if i.decision else "")
                for i in items
            )
            or "No open reviews."
        ),
    )


@review.command("decide")
@click.argument("subject")
@click.option(
    "--action",
    type=click.Choice(["anonymize", "delete", "keep-until"]),
    required=True,
    help="What to do with the subject.",
)
@click.argument("until", required=False, metavar="[DATE]")
@click.option("--reason", required=True, help="Why (recorded in the audit log).")
@json_option
@pass_app
def review_decide(
    app: AppContext, subject: str, action: str, until: str | None, reason: str, as_json: bool
) -> None:
    """Decide the open review of SUBJECT; keep-until takes a DATE (YYYY-MM-DD, UTC)."""
    decision = ReviewDecision.KEEP if action == "keep-until" else ReviewDecision(action)
    keep_until = None
    if decision is ReviewDecision.KEEP:
        if not until:
            raise BadInput(
                "--action keep-until needs a DATE: review decide SUBJECT --action keep-until 2027-01-31 --reason ..."
            )
        try:
            keep_until = datetime.fromisoformat(until).replace(tzinfo=UTC)
        except ValueError:
            raise BadInput(f"'{until}' is not a date: use YYYY-MM-DD") from None
    elif until:
        raise BadInput("a DATE goes only with --action keep-until")
    actor = app.authenticate()
    item = operations.decide_review(
        app.installation(),
        actor.id,
        parse_subject_id(subject),
        decision,
        reason=reason,
        keep_until=keep_until,
    )
    emit(as_json, item.to_json(), f"Review of {item.subject_id} decided: {action}.")


@cli.command()
@click.option("--dry-run", is_flag=True, help="Only count what would be done (audited as a plan).")
@_country_option
@click.option("--limit", type=click.IntRange(min=1), help="Act on at most N subjects.")
@json_option
@pass_app
def sweep(
    app: AppContext, dry_run: bool, country: str | None, limit: int | None, as_json: bool
) -> None:
    """Anonymize, delete, block or queue for review every subject whose retention expired."""
    actor = app.authenticate()
    installation = app.installation()
    if dry_run:
        if limit is not None:
            raise BadInput("--limit applies to a real sweep, not to --dry-run")
        plan = operations.plan_sweep(installation, actor.id, country=country)
        emit(as_json, plan.to_json(), lambda: _plan_text(plan))
        return
    bar = None
    if not as_json and sys.stderr.isatty():
        bar = click.progressbar(length=1, label="Sweeping", file=sys.stderr)

    def progress(done: int, total: int) -> None:
        if bar is not None:
            bar.length = max(total, 1)
            bar.update(done - bar.pos)

    try:
        result = operations.sweep(
            installation, actor.id, country=country, limit=limit, progress=progress
        )
    finally:
        if bar is not None:
            bar.render_finish()
    emit(as_json, result.to_json(), lambda: _sweep_text(result))


def _plan_text(plan: Any) -> str:
    lines = [
        f"Plan at {plan.evaluated_at.isoformat()} (policy set {plan.policy_hash[:16]}): "
        f"{plan.due} due, {plan.held} held, {plan.in_error} in error, of {plan.subjects} subjects."
    ]
    for r in plan.rows:
        lines.append(
            f"  {r.country}  {r.policy}/{r.rule:<22} {r.action:<9} due {r.due:>7}  held {r.held:>5}"
        )
    for e in plan.errors:
        where = f" ({e.policy}/{e.rule})" if e.rule else ""
        lines.append(f"  {e.country}  error {e.cause}: {e.detail}{where}  x{e.count}")
    return "\n".join(lines)


def _sweep_text(result: Any) -> str:
    if result.status == "skipped":
        return f"Another sweep holds the lease ({result.lease_holder}); nothing done."
    return (
        f"Sweep {result.run_id} {result.status}: {result.anonymized} anonymized, "
        f"{result.deleted} deleted, {result.blocked} blocked, {result.reviewed} queued for review"
        f" ({result.unchanged} no longer due, {result.files_removed} files removed)."
    )


@cli.group()
def scheduler() -> None:
    """The long-running service: nightly sweep, hourly checkpoint, daily expiry check."""


@scheduler.command("jobs")
@json_option
@pass_app
def scheduler_jobs(app: AppContext, as_json: bool) -> None:
    """List the jobs, their cron expressions and next run times."""
    installation = app.installation()
    jobs = next_runs(installation)
    emit(
        as_json,
        [{"job": j.name, "cron": j.cron, "next_run": j.next_run} for j in jobs],
        lambda: (
            "\n".join(
                f"{j.name:<11} {j.cron:<14} next {j.next_run.isoformat() if j.next_run else '-'}"
                for j in jobs
            )
            + f"\n(timezone {installation.config.timezone})"
        ),
    )


@scheduler.command("run")
@pass_app
def scheduler_run(app: AppContext) -> None:
    """Run the service until SIGTERM (JSON logs on stderr); the sweep stops after its batch."""
    configure_logging(json=True)
    actor = app.authenticate()
    installation = app.installation()
    serve(installation, default_jobs(installation, actor.id))


@scheduler.command("run-once")
@click.argument("job", type=click.Choice(list(JOB_NAMES)))
@json_option
@pass_app
def scheduler_run_once(app: AppContext, job: str, as_json: bool) -> None:
    """Run one job now (for cron, systemd timers or Kubernetes CronJobs)."""
    actor = app.authenticate()
    installation = app.installation()
    done = run_once(job, default_jobs(installation, actor.id))
    data = {"job": done.name, "run": done.run_id, "seconds": done.seconds, **done.summary}
    emit(as_json, data, f"{done.name} finished in {done.seconds}s: {_flat_text(done.summary)}")


def _flat_text(summary: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in summary.items() if v is not None)


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
