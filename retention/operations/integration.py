"""The ATS integration as service operations: receive a source's event; list, check, deliver,
retry and report on the integrations.

`receive_event` is the inbound path for every front end (the HTTP route, tests, the bench): no
bearer token, because the signature over the raw body is the source's credential. It verifies
before it parses, refuses what does not verify (audited without personal data, never the
payload), acknowledges a delivery id seen before without acting again, and applies the event
with its delivery id and audit entry in one transaction. The source acts as a service
principal with the INTEGRATION role: its audit actor is `integration:NAME`.
"""

from __future__ import annotations

import asyncio
import functools
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeVar

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from audit_log import Event, Outcome
from retention.access import Permission, PrincipalView, Role, guarded, require
from retention.access.permissions import ROLE_PERMISSIONS
from retention.clock import Clock, utc_now
from retention.config import Integration, IntegrationKind
from retention.errors import BadInput, NotFound
from retention.install import Installation
from retention.integration import (
    Applied,
    BadSignature,
    Effect,
    Malformed,
    apply_event,
    first_delivery,
    link_secret,
    parse_generic,
    parse_greenhouse,
    verify_greenhouse,
    verify_standard_webhooks,
    webhook_secrets,
)
from retention.integration.delivery import DeliveryRun, deliver, retry_dead
from retention.integration.propagation import TargetStatus, target_status
from retention.logs import get_logger
from retention.results import JSONData
from retention.store import record, remove_pending, transaction

__all__ = [
    "CheckIntegrations",
    "DeliverMessages",
    "IntegrationCheck",
    "IntegrationInfo",
    "IntegrationStatus",
    "Receipt",
    "ReceiptStatus",
    "RetryMessages",
    "check_integrations",
    "deliver_messages",
    "integration_status",
    "list_integrations",
    "receive_event",
    "receive_event_async",
    "retry_messages",
]

T = TypeVar("T")

log = get_logger("retention.integration")

_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
MAX_BODY = 1024 * 1024  # a Greenhouse application event with custom fields is ~10 KB


class ReceiptStatus(StrEnum):
    ACCEPTED = "accepted"  # applied (or refused by the rules: acknowledged, audited)
    DUPLICATE = "duplicate"  # this delivery id was seen before: acknowledged, not acted on
    UNAUTHENTICATED = "unauthenticated"  # unknown source, bad signature, stale timestamp: 401
    MALFORMED = "malformed"  # verified, but not an event of the source's format: 400


@dataclass(frozen=True)
class Receipt:
    status: ReceiptStatus
    effect: str | None = None
    subject: str | None = None
    reason: str | None = None

    @property
    def acknowledged(self) -> bool:
        return self.status in (ReceiptStatus.ACCEPTED, ReceiptStatus.DUPLICATE)

    def to_json(self) -> JSONData:
        return {
            "status": self.status.value,
            "effect": self.effect,
            "subject": self.subject,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class _Refusal:
    """A refused request: its audit entry (no personal data) and the receipt to answer with."""

    event: Event
    at: datetime
    receipt: Receipt

    def record_in(self, conn: Connection) -> None:
        record(conn, self.event, at=self.at)


def _refuse(source: str, status: ReceiptStatus, reason: str, clock: Clock) -> _Refusal:
    """A refused request's audit entry: the source's name (if it is a name) and why, nothing of
    the body."""
    named = _NAME.fullmatch(source) is not None
    event = Event(
        actor=f"integration:{source}" if named else "integration:?",
        action="integration.refused",
        outcome=Outcome.DENIED,
        reason=reason,
        details={"source": source if named else None},
    )
    log.warning("integration.refused", source=source[:64], reason=reason)
    return _Refusal(event, clock(), Receipt(status, reason=reason))


_Unit = Callable[[Connection], Applied | None]


def _intake(
    installation: Installation,
    source_name: str,
    headers: Mapping[str, str],
    raw_body: bytes,
    clock: Clock,
) -> _Refusal | _Unit:
    """Verify and parse (no database): a refusal, or the unit of work that dedupes and applies.

    Cheap and non-blocking (the secret file is stat-ed, read only when it changed), so the
    HTTP API runs it on its event loop."""
    integration = installation.config.integration(source_name)
    if integration is None:
        return _refuse(source_name, ReceiptStatus.UNAUTHENTICATED, "unknown source", clock)
    if Permission.CANDIDATE_WRITE not in ROLE_PERMISSIONS[Role.INTEGRATION]:
        return _refuse(source_name, ReceiptStatus.UNAUTHENTICATED, "role forbids", clock)
    if len(raw_body) > MAX_BODY:
        return _refuse(source_name, ReceiptStatus.MALFORMED, "body too large", clock)
    now = clock()
    try:
        secrets = webhook_secrets(integration)
        if integration.kind is IntegrationKind.GREENHOUSE:
            verified = verify_greenhouse(secrets[0], headers, raw_body)
        else:
            verified = verify_standard_webhooks(secrets, headers, raw_body, now=now)
    except BadSignature as exc:
        return _refuse(source_name, ReceiptStatus.UNAUTHENTICATED, exc.reason, clock)
    except BadInput:
        # The secret file is missing or unsafe: nothing can be verified, so nothing is accepted.
        return _refuse(source_name, ReceiptStatus.UNAUTHENTICATED, "secret unusable", clock)
    mapping = dict(integration.fields)
    try:
        if integration.kind is IntegrationKind.GREENHOUSE:
            event = parse_greenhouse(raw_body, mapping)
        else:
            event = parse_generic(raw_body, mapping)
    except Malformed as exc:
        return _refuse(source_name, ReceiptStatus.MALFORMED, str(exc), clock)
    secret = link_secret(installation.config)
    targets = installation.config.targets

    def unit(conn: Connection) -> Applied | None:
        if not first_delivery(conn, integration.name, verified.delivery_id, now):
            return None  # seen before: acknowledged, not acted on again
        return apply_event(
            conn,
            integration,
            event,
            secret=secret,
            targets=targets,
            at=now,
            delivery_id=verified.delivery_id,
        )

    return unit


def _receipt(applied: Applied | None) -> Receipt:
    if applied is None:
        return Receipt(ReceiptStatus.DUPLICATE)
    return Receipt(
        ReceiptStatus.ACCEPTED,
        applied.effect,
        str(applied.subject) if applied.subject else None,
        applied.reason if applied.effect == Effect.REFUSED else None,
    )


def receive_event(
    installation: Installation,
    source_name: str,
    headers: Mapping[str, str],
    raw_body: bytes,
    *,
    clock: Clock = utc_now,
) -> Receipt:
    """Verify, dedupe and apply one event a source posted (see the module docstring)."""
    step = _intake(installation, source_name, headers, raw_body, clock)

    def committed(unit: Callable[[Connection], T]) -> T:
        # Under the HTTP API, concurrent events share their commits (`GroupCommit.run`); each
        # request still answers only once its own event is committed.
        group = installation.audit_group
        if group is not None:
            return group.run(unit)
        with transaction(installation.engine) as conn:
            return unit(conn)

    if isinstance(step, _Refusal):
        committed(step.record_in)
        return step.receipt
    try:
        applied = committed(step)
    except IntegrityError:
        # Another event about the same new record committed first (PostgreSQL, concurrent
        # requests): once more, and this time the record is found.
        applied = committed(step)
    if applied is not None and applied.files:
        remove_pending(installation.engine, installation.config.documents_dir)
    return _receipt(applied)


async def receive_event_async(
    installation: Installation,
    source_name: str,
    headers: Mapping[str, str],
    raw_body: bytes,
    *,
    clock: Clock = utc_now,
) -> Receipt:
    """`receive_event` for a front end on an event loop (the HTTP API): the same steps and the
    same receipt, without a thread per request. Verifying and parsing run on the loop; the
    unit of work goes to the installation's group commit (`GroupCommit.submit`: one writer
    thread, one transaction per group of concurrent events) and is awaited until it committed.
    Without a group commit, the whole of `receive_event` runs in a worker thread."""
    group = installation.audit_group
    if group is None:
        call = functools.partial(
            receive_event, installation, source_name, headers, raw_body, clock=clock
        )
        return await asyncio.to_thread(call)
    step = _intake(installation, source_name, headers, raw_body, clock)
    if isinstance(step, _Refusal):
        await group.submit(step.record_in)
        return step.receipt
    try:
        applied = await group.submit(step)
    except IntegrityError:
        applied = await group.submit(step)  # as in receive_event
    if applied is not None and applied.files:
        await asyncio.to_thread(
            remove_pending, installation.engine, installation.config.documents_dir
        )
    return _receipt(applied)


# --- list and check ---------------------------------------------------------------------------


@dataclass(frozen=True)
class IntegrationInfo:
    name: str
    kind: str
    country: str | None
    target: str | None  # the url, when it is a target

    def to_json(self) -> JSONData:
        return {"name": self.name, "kind": self.kind, "country": self.country, "url": self.target}


def list_integrations(installation: Installation) -> list[IntegrationInfo]:
    """The configured integrations (no secrets: the files are not read)."""
    return [
        IntegrationInfo(i.name, i.kind.value, i.country, i.url)
        for i in installation.config.integrations
    ]


@dataclass(frozen=True)
class CheckIntegrations:
    name: str | None = None


@dataclass(frozen=True)
class IntegrationCheck:
    name: str
    ok: bool
    problems: tuple[str, ...] = ()

    def to_json(self) -> JSONData:
        return {"name": self.name, "ok": self.ok, "problems": list(self.problems)}


def _check(integration: Integration) -> IntegrationCheck:
    problems = []
    try:
        webhook_secrets(integration)
    except BadInput as exc:
        problems.append(str(exc))
    if integration.kind is IntegrationKind.GREENHOUSE and integration.is_target:
        from retention.integration import api_key

        try:
            api_key(integration)
        except BadInput as exc:
            problems.append(str(exc))
    return IntegrationCheck(integration.name, not problems, tuple(problems))


def check_integrations(
    installation: Installation, request: CheckIntegrations
) -> list[IntegrationCheck]:
    """Each integration's secret files exist, are mode 0600 and hold secrets of the right form."""
    chosen = [
        i
        for i in installation.config.integrations
        if request.name is None or i.name == request.name
    ]
    if request.name is not None and not chosen:
        raise NotFound(f"no integration named {request.name} in gdpr.toml")
    return [_check(i) for i in chosen]


# --- delivery, status, retry -----------------------------------------------------------------


@dataclass(frozen=True)
class DeliverMessages:
    target: str | None = None
    limit: int | None = None  # at most this many messages (default: until none is due)


@dataclass(frozen=True)
class IntegrationStatus:
    targets: list[TargetStatus] = field(default_factory=list)

    def to_json(self) -> JSONData:
        return {"targets": [t.to_json() for t in self.targets]}


@dataclass(frozen=True)
class RetryMessages:
    target: str | None = None


def _require(
    installation: Installation,
    principal: PrincipalView,
    perm: Permission,
    action: str,
    clock: Clock,
) -> None:
    def work(conn: Connection) -> None:
        require(conn, principal.id, perm, at=clock(), action=action, country=None)

    guarded(installation.engine, work)


def _targets(installation: Installation, name: str | None) -> list[Integration]:
    targets = list(installation.config.targets)
    if name is not None:
        targets = [t for t in targets if t.name == name]
        if not targets:
            raise NotFound(f"no target named {name} (an [integration.{name}] with a url)")
    return targets


def deliver_messages(
    installation: Installation,
    principal: PrincipalView,
    request: DeliverMessages,
    *,
    clock: Clock = utc_now,
    stop: threading.Event | None = None,
) -> DeliveryRun:
    """Deliver the due outbox messages (sweep:run: the delivery finishes what a sweep did)."""
    _require(installation, principal, Permission.SWEEP_RUN, "integration.deliver", clock)
    return deliver(
        installation,
        _targets(installation, request.target),
        limit=request.limit,
        clock=clock,
        stop=stop,
    )


def integration_status(
    installation: Installation, principal: PrincipalView, *, clock: Clock = utc_now
) -> IntegrationStatus:
    """Per target: pending, failed, delivered, dead, and the oldest pending (sweep:plan)."""
    _require(installation, principal, Permission.SWEEP_PLAN, "integration.status", clock)
    with transaction(installation.engine) as conn:
        return IntegrationStatus(target_status(conn, installation.config.targets))


def retry_messages(
    installation: Installation,
    principal: PrincipalView,
    request: RetryMessages,
    *,
    clock: Clock = utc_now,
) -> dict[str, Any]:
    """Put dead messages back to be delivered (sweep:run), audited per target."""
    _require(installation, principal, Permission.SWEEP_RUN, "integration.retry", clock)
    targets = _targets(installation, request.target)
    return {"requeued": retry_dead(installation, targets, actor=str(principal.id), clock=clock)}
