"""`gdpr integration`: the systems that hold a copy (list, check) and the outbox's delivery to
them (deliver, status, retry)."""

from __future__ import annotations

import click

from retention.commands.context import AppContext, pass_app
from retention.commands.options import json_option
from retention.commands.output import emit
from retention.errors import CheckFailed
from retention.operations import (
    CheckIntegrations,
    DeliverMessages,
    RetryMessages,
    check_integrations,
    deliver_messages,
    integration_status,
    list_integrations,
    retry_messages,
)


@click.group()
def integration() -> None:
    """ATS integrations: inbound events, and every erasure told to every system with a copy."""


@integration.command("list")
@json_option
@pass_app
def integration_list(app: AppContext, as_json: bool) -> None:
    """The [integration.NAME] sections of gdpr.toml (no secrets are read)."""
    infos = list_integrations(app.installation())
    emit(
        as_json,
        infos,
        lambda: (
            "\n".join(
                f"{i.name:<16} {i.kind:<18} country {i.country or '-':<3} "
                + (f"target {i.target}" if i.target else "source only")
                for i in infos
            )
            or "No integrations configured ([integration.NAME] in gdpr.toml)."
        ),
    )


@integration.command("check")
@click.argument("name", required=False)
@json_option
@pass_app
def integration_check(app: AppContext, name: str | None, as_json: bool) -> None:
    """Check each integration's secret files: present, mode 0600, secrets of the right form."""
    checks = check_integrations(app.installation(), CheckIntegrations(name))
    emit(
        as_json,
        checks,
        lambda: (
            "\n".join(
                f"{c.name}: ok" if c.ok else f"{c.name}: " + "; ".join(c.problems) for c in checks
            )
            or "No integrations configured."
        ),
    )
    if not all(c.ok for c in checks):
        raise CheckFailed("integration check failed")


@integration.command("deliver")
@click.option("--target", help="Only this target (an integration with a url).")
@click.option("--limit", type=click.IntRange(min=1), help="At most this many messages per target.")
@json_option
@pass_app
def integration_deliver(
    app: AppContext, target: str | None, limit: int | None, as_json: bool
) -> None:
    """Deliver the due outbox messages now (sweep:run); the scheduler's `deliver` job does too."""
    principal = app.authenticate()
    done = deliver_messages(app.installation(), principal, DeliverMessages(target, limit))
    emit(
        as_json,
        done,
        lambda: (
            "\n".join(
                f"{t}: delivered {done.delivered.get(t, 0)}, failed {done.failed.get(t, 0)}, "
                f"dead {done.dead.get(t, 0)}"
                for t in sorted(set(done.delivered) | set(done.failed) | set(done.dead))
            )
            or "Nothing was due."
        ),
    )


@integration.command("status")
@json_option
@pass_app
def integration_status_command(app: AppContext, as_json: bool) -> None:
    """Per target: messages pending, failed (to retry), delivered, dead; the oldest waiting."""
    principal = app.authenticate()
    status = integration_status(app.installation(), principal)
    emit(
        as_json,
        status,
        lambda: (
            "\n".join(
                f"{t.target:<16} pending {t.pending}, failed {t.failed}, delivered {t.delivered}, "
                f"dead {t.dead}"
                + (
                    f", oldest waiting since {t.oldest_pending.isoformat()}"
                    if t.oldest_pending
                    else ""
                )
                for t in status.targets
            )
            or "No targets configured."
        ),
    )


@integration.command("retry")
@click.option("--target", help="Only this target.")
@json_option
@pass_app
def integration_retry(app: AppContext, target: str | None, as_json: bool) -> None:
    """Put dead messages back to be delivered (sweep:run); audited."""
    principal = app.authenticate()
    done = retry_messages(app.installation(), principal, RetryMessages(target))
    emit(
        as_json,
        done,
        lambda: (
            "\n".join(f"{t}: {n} requeued" for t, n in done["requeued"].items()) or "No targets."
        ),
    )
