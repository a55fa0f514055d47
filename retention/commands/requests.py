"""`gdpr request`: the register of data-subject requests (GDPR Art. 15-21) and their deadlines."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import click

from retention.commands.context import AppContext, pass_app
from retention.commands.options import contact_options, json_option
from retention.commands.output import emit
from retention.errors import BadInput
from retention.operations import (
    ApproveRequest,
    ExtendRequest,
    Fulfilment,
    FulfilRequest,
    LiftRestriction,
    ListRequests,
    OpenRequest,
    PauseRequest,
    RefuseRequest,
    RequestChange,
    RequestView,
    ResumeRequest,
    ShowRequest,
    VerifyRequest,
    WithdrawRequest,
    change_request,
    fulfil_request,
    lift_restriction,
    list_requests,
    open_request,
    show_request,
)
from retention.requests import CHANNELS, parse_instant, parse_request_id, parse_type
from retention.store import RequestType
from retention.subjects import parse_subject_id

F = Callable[..., Any]


def at_option(f: F) -> F:
    return click.option(
        "--at",
        "at_text",
        metavar="INSTANT",
        help="When it happened (ISO 8601 with offset, or a day); default now, never later.",
    )(f)


def _at(app: AppContext, text: str | None) -> datetime | None:
    return None if text is None else parse_instant(text, app.config.zone, "--at")


def _line(r: RequestView) -> str:
    flags = " extended" if r.extended_at else ""
    flags += f" duplicate-of {r.duplicate_of}" if r.duplicate_of else ""
    return f"{r.id}  {r.type:<13} {r.status:<9} due {r.due_on}  subject {r.subject}{flags}"


def _detail(r: RequestView) -> str:
    lines = [
        f"request      {r.id}",
        f"type         {r.type}",
        f"subject      {r.subject} ({r.country})",
        f"status       {r.status}",
        f"received     {r.received_at:%Y-%m-%d %H:%M UTC} by {r.channel}",
        f"due          {r.due_on} (end of day; {'extended' if r.extended_at else 'not extended'})",
    ]
    if r.duplicate_of:
        lines.append(f"duplicate of {r.duplicate_of}")
    if r.refusal_ground:
        lines.append(f"refused      {r.refusal_ground}")
    for e in r.events:
        note = f"  {e.note}" if e.note else ""
        lines.append(f"  {e.at:%Y-%m-%d %H:%M} {e.kind:<9}{note}")
    return "\n".join(lines)


def _due_within(text: str | None) -> timedelta | None:
    if text is None:
        return None
    match = re.fullmatch(r"(\d{1,3})d", text.strip())
    if match is None:
        raise BadInput("--due-within must be a number of days like 7d")
    return timedelta(days=int(match.group(1)))


@click.group("request")
def request_group() -> None:
    """Data-subject requests (GDPR Articles 15-21): register, deadlines, fulfilment."""


@request_group.command("open")
@click.argument("kind", metavar="TYPE", type=click.Choice([t.value for t in RequestType]))
@click.option("--subject", "subject_text", metavar="UUID", help="The subject's id.")
@click.option("--email", help="Find the subject by e-mail address (through the audited gateway).")
@click.option("--external-ref", help="Find the subject by ATS reference.")
@click.option("--received", required=True, metavar="INSTANT", help="When the request arrived.")
@click.option("--channel", type=click.Choice(CHANNELS), default="email", show_default=True,
              help="How it arrived.")  # fmt: skip
@at_option
@json_option
@pass_app
def request_open(
    app: AppContext,
    kind: str,
    subject_text: str | None,
    email: str | None,
    external_ref: str | None,
    received: str,
    channel: str,
    at_text: str | None,
    as_json: bool,
) -> None:
    """Register a request received at --received; the deadline is GDPR Article 12(3)'s."""
    if sum(v is not None for v in (subject_text, email, external_ref)) != 1:
        raise click.UsageError("give exactly one of --subject, --email or --external-ref")
    request = OpenRequest(
        type=parse_type(kind),
        received_at=parse_instant(received, app.config.zone, "--received"),
        subject_id=None if subject_text is None else parse_subject_id(subject_text),
        email=email,
        external_ref=external_ref,
        channel=channel,
        at=_at(app, at_text),
    )
    opened = open_request(app.installation(), app.authenticate(), request)
    dup = f" (duplicate of {opened.duplicate_of})" if opened.duplicate_of else ""
    emit(as_json, opened, f"Opened {opened.type} request {opened.id}, due {opened.due_on}{dup}.")


@request_group.command("list")
@click.option("--status", help="open, verified, paused, fulfilled, refused, withdrawn or extended.")
@click.option("--overdue", is_flag=True, help="Open requests past their deadline.")
@click.option("--due-within", metavar="Nd", help="Open requests due within N days, e.g. 7d.")
@json_option
@pass_app
def request_list(
    app: AppContext, status: str | None, overdue: bool, due_within: str | None, as_json: bool
) -> None:
    """Requests by deadline (with --overdue and --due-within both: either)."""
    request = ListRequests(status=status, overdue=overdue, due_within=_due_within(due_within))
    found = list_requests(app.installation(), app.authenticate(), request)
    emit(as_json, found, lambda: "\n".join(_line(r) for r in found) or "No requests.")


@request_group.command("show")
@click.argument("request_id", metavar="ID")
@json_option
@pass_app
def request_show(app: AppContext, request_id: str, as_json: bool) -> None:
    """One request and its history."""
    found = show_request(
        app.installation(), app.authenticate(), ShowRequest(parse_request_id(request_id))
    )
    emit(as_json, found, lambda: _detail(found))


@dataclass(frozen=True)
class _Change:
    """A state-change command: its name, the note option it takes (name, help) if any, its help,
    the operation's request and the line it prints (formatted with the request as `r`)."""

    name: str
    note: tuple[str, str] | None
    help: str
    make: Callable[..., RequestChange]
    done: str


_CHANGE_COMMANDS = (
    _Change("verify", ("--method", "How the identity was confirmed (not the papers)."),
            "Record that the requester's identity was confirmed.", VerifyRequest,
            "Verified request {r.id}."),
    _Change("pause", ("--reason", "Why (waiting on the requester...)."),
            "Pause a request; its deadline does not move.", PauseRequest,
            "Paused request {r.id} (still due {r.due_on})."),
    _Change("resume", None, "Resume a paused request.", ResumeRequest,
            "Resumed request {r.id} ({r.status})."),
    _Change("extend", ("--reason", "Why two more months are needed (Art. 12(3))."),
            "Extend to three months from receipt: once, before the deadline.", ExtendRequest,
            "Extended request {r.id}: now due {r.due_on}."),
    _Change("refuse", ("--ground", 'e.g. "Art. 12(5) manifestly unfounded".'),
            "Refuse a request, recording its legal ground.", RefuseRequest,
            "Refused request {r.id}: {r.refusal_ground}."),
    _Change("withdraw", None, "The requester withdrew the request.", WithdrawRequest,
            "Withdrew request {r.id}."),
    _Change("approve", None,
            "Approve an erasure as a second principal (not whoever opened or verified it).",
            ApproveRequest, "Approved erasure request {r.id}."),
)  # fmt: skip


def _change_command(spec: _Change) -> None:
    """Add `gdpr request NAME ID [--note-option TEXT] [--at] [--json]` for one change."""

    def command(
        app: AppContext, request_id: str, at_text: str | None, as_json: bool, note: str = ""
    ) -> None:
        notes = (note,) if spec.note else ()
        request = spec.make(parse_request_id(request_id), *notes, _at(app, at_text))
        done = change_request(app.installation(), app.authenticate(), request)
        emit(as_json, done, spec.done.format(r=done))

    f: F = pass_app(command)
    f = at_option(json_option(f))
    if spec.note is not None:
        option, text = spec.note
        f = click.option(option, "note", required=True, help=text)(f)
    f = click.argument("request_id", metavar="ID")(f)
    request_group.command(spec.name, help=spec.help)(f)


for _spec in _CHANGE_COMMANDS:
    _change_command(_spec)


def _fulfilment_text(done: Fulfilment) -> str:
    text = f"Fulfilled {done.request.type} request {done.request.id}"
    if done.path is not None:
        return f"{text}: package in {done.path} (sha256 {done.sha256})."
    return text + "."


@request_group.command("fulfil")
@click.argument("request_id", metavar="ID")
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    help="Access, portability: the folder to write the package in.",
)
@click.option("--purpose", help="Objection: the purpose whose consent is withdrawn.")
@contact_options
@at_option
@json_option
@pass_app
def request_fulfil(
    app: AppContext,
    /,
    request_id: str,
    out: Path | None,
    purpose: str | None,
    at_text: str | None,
    as_json: bool,
    **fields: str | None,
) -> None:
    """Answer a verified request (rectification: the corrected fields as options)."""
    request = FulfilRequest(
        parse_request_id(request_id),
        at=_at(app, at_text),
        out=out,
        changes={k: v for k, v in fields.items() if v is not None},
        purpose=purpose,
    )
    done = fulfil_request(app.installation(), app.authenticate(), request)
    emit(as_json, done, lambda: _fulfilment_text(done))


@request_group.command("lift")
@click.argument("request_id", metavar="ID")
@at_option
@json_option
@pass_app
def request_lift(app: AppContext, request_id: str, at_text: str | None, as_json: bool) -> None:
    """Lift a restriction (GDPR Article 18(3)): unblock the subject it blocked."""
    request = LiftRestriction(parse_request_id(request_id), _at(app, at_text))
    done = lift_restriction(app.installation(), app.authenticate(), request)
    emit(as_json, done, f"Lifted restriction {done.request.id}.")
