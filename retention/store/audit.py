"""How the engine writes to and reads from the audit log, in the caller's transaction.

One small seam between `retention` and `audit_log`: the engine appends events with `record` inside
the unit of work that performs the action (they commit together), and the access review asks when
a principal last used a grant. A reason or detail that looks like personal data is refused by the
log; here that becomes `BadInput`, so the CLI reports it as a bad argument. A reason is a case
reference ("DSR-2026-0142", "Q3 hiring NL"), not a narrative: one that seems to name a person
(`may_name_a_person`) is accepted, since names cannot be told from other words reliably, but it
is warned about on stderr without repeating the text.

Front ends that serve many callers tag what they record once, here, rather than in each
operation: inside `recorded_via(channel, request_id)` (the HTTP API opens one per request) every
entry `record` appends carries `details.via = {"channel": ..., "request_id": ...}`. The tag lives
in a context variable, so it follows the request into the worker thread that runs a synchronous
endpoint and never leaks into another request.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection

from audit_log import AuditLog, Event, Outcome, PersonalDataError
from retention.errors import BadInput
from retention.logs import get_logger

__all__ = [
    "ANONYMOUS",
    "Via",
    "check_reason",
    "deferred_appends",
    "flush_deferred",
    "last_grant_uses",
    "may_name_a_person",
    "record",
    "record_stamped",
    "recorded_via",
    "refuse_personal",
    "tagged",
    "via",
]

log = get_logger(__name__)

# Two capitalized words in a row ("Zorro Quimbyfox", "Jean-Luc Picard"), upper-case acronyms
# such as GDPR or DSR excluded by the lower-case letters the pattern asks for.
_WORD = r"[A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ]+(?:[-'][A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ]+)?"
_TWO_CAPITALIZED = re.compile(rf"(?<![\w-]){_WORD}\s+{_WORD}(?![\w-])")

ANONYMOUS = "anonymous"

_LOG = AuditLog()


@dataclass(frozen=True)
class Via:
    """The front end and request an audit entry was recorded for (`details.via`)."""

    channel: str
    request_id: str | None = None  # None: the front end's own work, outside any request

    def to_json(self) -> dict[str, str]:
        out = {"channel": self.channel}
        if self.request_id is not None:
            out["request_id"] = self.request_id
        return out


_VIA: ContextVar[Via | None] = ContextVar("retention_audit_via", default=None)


@contextlib.contextmanager
def recorded_via(channel: str, request_id: str | None = None) -> Iterator[Via]:
    """Tag every entry recorded in this context with `channel` and `request_id`.

    Both must be safe to record (the API generates its request ids; it never takes a client's).
    """
    tag = Via(channel, request_id)
    token = _VIA.set(tag)
    try:
        yield tag
    finally:
        _VIA.reset(token)


def via() -> Via | None:
    """The tag of the current context, if a front end set one."""
    return _VIA.get()


def tagged(events: Sequence[Event]) -> tuple[Event, ...]:
    """`events` with the current context's `via` tag in their details (unchanged without one)."""
    tag = _VIA.get()
    if tag is None:
        return tuple(events)
    extra = {"via": tag.to_json()}
    return tuple(e.with_details(extra) for e in events)


def record(conn: Connection, *events: Event, at: datetime | None = None) -> None:
    """Append `events` in the caller's transaction, stamped `at` (default: now); inside
    `deferred_appends(conn)`, events with their `at` wait for the end of it."""
    deferred = conn.info.get(_DEFERRED)
    if deferred is not None and at is not None:
        deferred.extend((event, at) for event in tagged(events))
        return
    flush_deferred(conn)
    at = at or datetime.now(UTC)
    _LOG.append_stamped(conn, [(event, at) for event in tagged(events)])


_DEFERRED = "retention.audit.deferred"  # in Connection.info: the entries waiting to be appended


@contextlib.contextmanager
def deferred_appends(conn: Connection) -> Iterator[None]:
    """Within it, what `record(conn, ..., at=...)` appends waits, tagged in its caller's context
    and in order, and is appended when it ends: one head lock, one insert and one head move for
    all of them instead of one each. For a group commit, whose units each record an entry in
    the one transaction they share. Whatever reads the log's head in the meantime calls
    `flush_deferred` first (and a `record` without `at` appends what waits before its own). If
    the block raises, nothing waiting is appended (the transaction is rolled back anyway)."""
    conn.info[_DEFERRED] = []
    try:
        yield
        flush_deferred(conn)
    finally:
        conn.info.pop(_DEFERRED, None)


def flush_deferred(conn: Connection) -> None:
    """Append the entries waiting in `conn`'s `deferred_appends` now (none: nothing to do)."""
    deferred = conn.info.get(_DEFERRED)
    if deferred:
        stamped = list(deferred)
        deferred.clear()
        _LOG.append_stamped(conn, stamped)


def record_stamped(conn: Connection, stamped: Sequence[tuple[Event, datetime]]) -> None:
    """Append events already tagged (`tagged`), each with its own instant: for group commits,
    whose events come from other contexts (requests) than the one appending them."""
    _LOG.append_stamped(conn, stamped)


def refuse_personal(what: str, text: str) -> None:
    """Refuse free text that the audit log would refuse, before any work is done."""
    try:
        Event(actor=ANONYMOUS, action="check", reason=text)
    except PersonalDataError:
        raise BadInput(
            f"{what} looks like it holds personal data (an e-mail address or phone number): "
            "refer to people by UUID"
        ) from None


def check_reason(reason: str | None, what: str = "--reason", limit: int = 1000) -> str:
    """A required free-text reason: present, bounded, and free of personal data."""
    if reason is None or not reason.strip():
        raise BadInput(f"{what} is required")
    if len(reason) > limit:
        raise BadInput(f"{what} is longer than {limit} characters")
    refuse_personal(what, reason)
    if may_name_a_person(reason):
        log.warning(
            "reason_may_name_a_person",
            option=what,
            hint="a reason is a case reference, not a narrative: refer to people by UUID",
        )
    return reason


def may_name_a_person(text: str) -> bool:
    """Cheap guess: two capitalized words in a row, other than where a sentence starts."""
    for match in _TWO_CAPITALIZED.finditer(text):
        before = text[: match.start()].rstrip()
        if before and before[-1] not in ".!?:;":
            return True
    return False


def last_grant_uses(conn: Connection, since: datetime) -> dict[str, datetime]:
    """When each grant was last used since `since`: its newest `ok` entry naming it, by grant id.

    Every allowed operation records the grant that allowed it under `details.allowed_by`.
    """
    last: dict[str, datetime] = {}
    for entry in _LOG.entries_stamped(conn, since, outcome=Outcome.OK):
        grant = entry.details.get("allowed_by")
        if isinstance(grant, str) and (grant not in last or last[grant] < entry.ts):
            last[grant] = entry.ts
    return last
