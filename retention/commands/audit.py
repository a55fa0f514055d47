"""`gdpr audit`: show, verify, checkpoint, proofs and the verifier key of the audit log."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

import click

from retention.commands.context import AppContext, pass_app
from retention.commands.options import json_option
from retention.commands.output import emit, progress_bar
from retention.errors import CheckFailed
from retention.operations import (
    ConsistencyRequest,
    EntriesRequest,
    InclusionRequest,
    SignCheckpoint,
    VerifyLog,
    actor_names,
    audit_entries,
    consistency_proof,
    inclusion_proof,
    sign_checkpoint,
    verifier_key,
    verify_log,
)
from retention.results import json_data


@click.group()
def audit() -> None:
    """The tamper-evident audit log: checkpoints, proofs, verification."""


@audit.command("checkpoint")
@json_option
@pass_app
def audit_checkpoint(app: AppContext, as_json: bool) -> None:
    """Sign the current log head, store it and append it to the witness file; print the note."""
    principal = app.authenticate()
    done = sign_checkpoint(app.installation(), principal, SignCheckpoint())
    emit(as_json, done, done.note.rstrip("\n"))


@audit.command("pubkey")
@json_option
@pass_app
def audit_pubkey(app: AppContext, as_json: bool) -> None:
    """Print the verifier key (note format) that checks this installation's checkpoints.

    Needs no token: the key is public, meant to be published and handed to auditors.
    """
    key = verifier_key(app.installation())
    emit(as_json, key, key.verifier_key)


@audit.command("proof")
@click.argument("seq", type=click.IntRange(min=0))
@click.option("--size", type=click.IntRange(min=1), help="Tree size (default: the whole log).")
@json_option
@pass_app
def audit_proof(app: AppContext, seq: int, size: int | None, as_json: bool) -> None:
    """Inclusion proof of entry SEQ in the log of --size entries."""
    principal = app.authenticate()
    proof = inclusion_proof(app.installation(), principal, InclusionRequest(seq, size))
    emit(as_json, proof, lambda: _render_proof(proof))


@audit.command("consistency")
@click.option("--from", "size1", type=click.IntRange(min=1), required=True, help="Older size.")
@click.option("--to", "size2", type=click.IntRange(min=1), help="Newer size (default: now).")
@json_option
@pass_app
def audit_consistency(app: AppContext, size1: int, size2: int | None, as_json: bool) -> None:
    """Consistency proof that the log of --from entries is a prefix of the log of --to."""
    principal = app.authenticate()
    proof = consistency_proof(app.installation(), principal, ConsistencyRequest(size1, size2))
    emit(as_json, proof, lambda: _render_proof(proof))


def _render_proof(proof: Any) -> str:
    fields = json_data(proof)
    assert isinstance(fields, dict)
    lines = [f"{k}: {v}" for k, v in fields.items() if k != "hashes"]
    return "\n".join([*lines, "hashes:", *(f"  {h}" for h in fields["hashes"])])


@audit.command("show")
@click.option("--since", type=click.IntRange(min=0), default=0, help="First seq to show.")
@click.option("--subject", type=click.UUID, help="Only entries about this subject UUID.")
@json_option
@pass_app
def audit_show(app: AppContext, since: int, subject: UUID | None, as_json: bool) -> None:
    """Show audit entries in seq order (JSON: one array, streamed)."""
    principal = app.authenticate()
    stream = audit_entries(app.installation(), principal, EntriesRequest(since, subject))
    if as_json:
        # Streamed, not built: the log may hold millions of entries.
        click.echo("[", nl=False)
        for i, entry in enumerate(stream):
            sep = "," if i else ""
            click.echo(sep + "\n" + json.dumps(json_data(entry), sort_keys=True), nl=False)
        click.echo("\n]")
        return
    names = actor_names(app.installation(), principal, EntriesRequest(since, subject))
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
    principal = app.authenticate()
    with progress_bar(None, as_json, "Verifying") as bar:
        result = verify_log(
            app.installation(), principal, VerifyLog(), progress=bar.at if bar else None
        )
    if as_json or result.ok:
        emit(
            as_json,
            result,
            f"OK: {result.report.size} entries, {result.report.checkpoints} signed and "
            f"{result.report.witnessed} witnessed checkpoints verified",
        )
    if result.failure is not None:
        raise CheckFailed(result.failure)
