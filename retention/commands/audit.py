"""`gdpr audit`: show, verify, checkpoint, proofs and the verifier key of the audit log."""

from __future__ import annotations

import base64
import json
import sys
from typing import Any

import click

from retention.access import (
    Permission,
)
from retention.audit import log as auditing
from retention.commands.context import AppContext, pass_app
from retention.commands.options import json_option
from retention.commands.output import emit
from retention.errors import CheckFailed


@click.group()
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
    names = auditing.principal_names(app.installation())  # text names actors; JSON keeps UUIDs
    for e in stream:
        subj = e.subject or "-"
        actor = names.get(e.actor, e.actor)
        click.echo(f"{e.seq:>8} {e.ts.isoformat()} {e.outcome:<6} {actor} {e.action} {subj}"
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
