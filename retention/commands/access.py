"""`gdpr principal` and `gdpr access`: principals, their tokens, grants and the access review."""

from __future__ import annotations

import sys
from typing import Any

import click

from retention.access import (
    grants,
    principals,
)
from retention.access import review as access_review
from retention.commands.context import AppContext, pass_app
from retention.commands.options import json_option
from retention.commands.output import emit, when_text
from retention.store import Grant


def _grant_json(grant: Grant, name: str | None = None) -> dict[str, Any]:
    data = grant.model_dump(mode="json")
    if name is not None:
        data["principal"] = name
    return data


@click.group()
def principal() -> None:
    """People and services that act, and their tokens."""


@principal.command("create")
@click.argument("name")
@click.option(
    "--kind",
    type=click.Choice(["human", "service"]),
    required=True,
    help="A person, or a service (scheduler, ATS sync).",
)
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
                f"{p.name:<24} {p.kind:<8} {p.id}  {'disabled ' + when_text(p.disabled_at) if p.disabled_at else 'enabled'}"
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


@click.group()
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
        f"{when_text(grant.expires_at)}: grant {grant.id}"
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
            f"expires {when_text(g.expires_at)}{'  revoked ' + when_text(g.revoked_at) if g.revoked_at else ''}"
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
                    approval = f", approved by {g.approved_by} {when_text(g.approved_at)}"
                elif g.granted_by is None:
                    approval = ", bootstrap grant (no approver)"
                else:
                    approval = f", granted by {g.granted_by}"
                lines.append(
                    f"  {g.id} {g.principal} {g.role} {g.countries} {g.status} "
                    f"expires {when_text(g.expires_at)}, last used {when_text(g.last_used_at)}"
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
