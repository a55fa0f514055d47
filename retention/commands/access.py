"""`gdpr principal` and `gdpr access`: principals, their tokens, grants and the access review."""

from __future__ import annotations

from pathlib import Path

import click

from retention.commands.context import AppContext, pass_app
from retention.commands.options import COUNTRY, json_option
from retention.commands.output import emit, when_text
from retention.errors import BadInput, CheckFailed
from retention.install import secret_is_private
from retention.operations import (
    INSTALLATION,
    AccessReview,
    ApproveGrant,
    CheckAccess,
    CreatePrincipal,
    DisablePrincipal,
    Enroll,
    GrantAccess,
    IssuedCode,
    ListGrants,
    ListPrincipals,
    ReviewAccess,
    ReviewedGrant,
    RevokeGrant,
    RotateToken,
    approve_grant,
    check_access,
    create_principal,
    disable_principal,
    enroll,
    grant_access,
    list_grants,
    list_principals,
    review_access,
    revoke_grant,
    rotate_token,
)


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
    """Create a principal and print its one-time enrollment code (the person redeems it)."""
    actor = app.authenticate()
    issued = create_principal(app.installation(), actor, CreatePrincipal(name, kind))
    emit(
        as_json,
        issued,
        f"Created {kind} principal {issued.name} ({issued.id}).\n" + _code_text(issued),
    )


def _code_text(issued: IssuedCode) -> str:
    return (
        f"Enrollment code (single use, until {when_text(issued.expires_at)}; give it to "
        f"{issued.name} only, who runs 'gdpr principal enroll'): {issued.code}"
    )


@principal.command("list")
@json_option
@pass_app
def principal_list(app: AppContext, as_json: bool) -> None:
    """List principals."""
    actor = app.authenticate()
    rows = list_principals(app.installation(), actor, ListPrincipals())
    emit(
        as_json,
        rows,
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
    done = disable_principal(app.installation(), actor, DisablePrincipal(name, reason))
    emit(as_json, done, f"Disabled principal {done.name} ({done.id}).")


@principal.command("rotate-token")
@click.argument("name")
@json_option
@pass_app
def principal_rotate_token(app: AppContext, name: str, as_json: bool) -> None:
    """Revoke a principal's tokens now and print a one-time enrollment code for a new one.

    Rotating someone else's token suspends its grants that need approval until a person other
    than you approves them again.
    """
    actor = app.authenticate()
    issued = rotate_token(app.installation(), actor, RotateToken(name))
    suspended = [str(g) for g in issued.suspended_grants or ()]
    emit(
        as_json,
        issued,
        f"Revoked the old tokens of {issued.name}.\n"
        + (f"Suspended until approved again: {', '.join(suspended)}.\n" if suspended else "")
        + _code_text(issued),
    )


@principal.command("enroll")
@click.option(
    "--code-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Read the enrollment code from this file (default: prompt, or standard input).",
)
@json_option
@pass_app
def principal_enroll(app: AppContext, code_file: Path | None, as_json: bool) -> None:
    """Redeem a one-time enrollment code for your own token (shown only now)."""
    if code_file is not None:
        if code_file.exists() and not secret_is_private(code_file):
            raise BadInput(f"code file {code_file} is readable by group or others: chmod 600 it")
        try:
            code = code_file.read_text(encoding="ascii", errors="replace")
        except OSError as exc:
            raise BadInput(f"cannot read code file {code_file} ({exc.strerror})") from None
    else:
        code = click.prompt("Enrollment code", hide_input=True, err=True)
    issued = enroll(app.installation(), Enroll(code))
    emit(
        as_json,
        issued,
        f"Enrolled {issued.name} ({issued.id}).\n"
        f"Token (shown only now; store it in a secret manager): {issued.token}",
    )


@click.group()
def access() -> None:
    """Grants: least-privilege, time-bound, country-scoped access."""


@access.command("grant")
@click.argument("principal_name", metavar="PRINCIPAL")
@click.option(
    "--role", required=True, help="recruiter, dpo, auditor, admin, scheduler, integration"
)
@click.option(
    "--country", required=True, help="Country codes like RO,NL (UK for GB), or '*' for every one."
)
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
    request = GrantAccess(principal_name, role, country, expires, reason)
    grant = grant_access(app.installation(), actor, request)
    emit(
        as_json,
        grant,
        f"Granted {grant.role} in {grant.countries} to {principal_name} until "
        f"{when_text(grant.expires_at)}: grant {grant.id}"
        + (
            " (pending: a second person with access:approve must approve it)"
            if grant.pending
            else "."
        ),
    )


@access.command("approve")
@click.argument("grant_id")
@json_option
@pass_app
def access_approve(app: AppContext, grant_id: str, as_json: bool) -> None:
    """Approve a pending grant (four eyes: not the grantor, not the grantee)."""
    actor = app.authenticate()
    grant = approve_grant(app.installation(), actor, ApproveGrant(grant_id))
    emit(as_json, grant, f"Approved grant {grant.id}: {grant.role} is now active.")


@access.command("revoke")
@click.argument("grant_id")
@click.option("--reason", required=True, help="Why (recorded in the audit log).")
@json_option
@pass_app
def access_revoke(app: AppContext, grant_id: str, reason: str, as_json: bool) -> None:
    """Revoke a grant at once."""
    actor = app.authenticate()
    grant = revoke_grant(app.installation(), actor, RevokeGrant(grant_id, reason))
    emit(as_json, grant, f"Revoked grant {grant.id}.")


@access.command("list")
@click.option("--principal", "principal_name", help="Only this principal's grants.")
@json_option
@pass_app
def access_list(app: AppContext, principal_name: str | None, as_json: bool) -> None:
    """List grants, newest first."""
    actor = app.authenticate()
    rows = list_grants(app.installation(), actor, ListGrants(principal_name))

    def text() -> str:
        lines = [
            f"{g.id}  {g.principal:<20} {g.role:<11} {g.countries:<10} {g.status:<8} "
            f"expires {when_text(g.expires_at)}{'  revoked ' + when_text(g.revoked_at) if g.revoked_at else ''}"
            for g in rows
        ]
        return "\n".join(lines) or "No grants."

    emit(as_json, rows, text)


@access.command("check")
@click.argument("principal_name", metavar="PRINCIPAL")
@click.argument("permission")
@click.option(
    "--country", type=COUNTRY, help="The subject's country (ISO code); omit for every country."
)
@json_option
@pass_app
def access_check(
    app: AppContext, principal_name: str, permission: str, country: str | None, as_json: bool
) -> None:
    """Explain whether PRINCIPAL may use PERMISSION now (exit 0 allowed, 1 denied)."""
    actor = app.authenticate()
    request = CheckAccess(principal_name, permission, country)
    check = check_access(app.installation(), actor, request)
    emit(as_json, check, f"{'ALLOWED' if check.allowed else 'DENIED'}: {check.reason}")
    if not check.allowed:
        where = "in every country" if check.country is None else f"in {check.country}"
        raise CheckFailed(f"{check.principal} may not use {check.permission} {where}")


@access.command("review")
@json_option
@pass_app
def access_review_cmd(app: AppContext, as_json: bool) -> None:
    """What a periodic access review needs to look at."""
    actor = app.authenticate()
    review = review_access(app.installation(), actor, ReviewAccess())

    def text() -> str:
        def section(title: str, items: list[ReviewedGrant]) -> list[str]:
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
                *_review_principals(review),
            ]
        )

    emit(as_json, review, text)


def _review_principals(review: AccessReview) -> list[str]:
    """Per principal: credential issuer, grantor and approver of each grant; four-eyes flags."""
    lines = ["Principals (credential issued by; each grant granted by / approved by):"]
    for p in review.principals:
        lines.append(f"  {p.name}: credential issued by {', '.join(p.credential_issued_by) or '-'}")
        lines.extend(
            f"    {g.role} {g.countries} {g.status}: granted by "
            f"{g.granted_by or INSTALLATION}, approved by {g.approved_by or '-'}"
            for g in p.grants
        )
    flags = review.flags
    lines.append(f"Not three different people (grantor, approver, issuer): {len(flags)}")
    lines.extend(f"  {flag}" for flag in flags)
    return lines
