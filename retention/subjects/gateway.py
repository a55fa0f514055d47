"""The one audited way to personal data: read, find, export, change and erase a data subject.

Every operation is one guarded unit of work (`retention.access.guard`): it authorizes with the subject's
country and the grants as they are at that instant (so a grant that expires during a long command
stops it at the next operation), acts, and appends its audit entry in the same transaction. Reads
return data only after their entry is committed (fail closed). A denied attempt is audited and
returns nothing. A blocked subject (restricted processing) is open only to a DPO who states a
reason. Consent recording (`retention.subjects.consents`) goes through the same `Gateway.on_subject`.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection, Engine, and_, bindparam, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from audit_log import Event, Outcome
from retention.access import (
    Decision,
    GrantStatus,
    Permission,
    Refused,
    Role,
    access_from_rows,
    authorize,
    deny,
    guarded,
    load_access,
    require,
    with_access,
)
from retention.clock import Clock, utc_now
from retention.config import Integration
from retention.errors import BadInput, CheckFailed, NotFound, StaleVersion
from retention.fields import CONTACT_FIELDS, check_contact
from retention.integration import write_outbox
from retention.store import (
    Application,
    Candidate,
    Consent,
    Document,
    GroupCommit,
    LegalHold,
    check_reason,
    record,
    scrub_erased,
    table_of,
    transaction,
)
from retention.subjects.export import ExportSection, candidate_dict, export_document
from retention.subjects.versions import candidate_version

__all__ = [
    "CONTACT_FIELDS",
    "ErasureResult",
    "ExportResult",
    "ExportSection",
    "Gateway",
    "SubjectWork",
    "Then",
    "parse_subject_id",
]

T = TypeVar("T")

Then = Callable[[Connection, datetime], Mapping[str, Any]]
"""More work in an operation's transaction after it acted (a request it answers records its
state change): returns details added to the operation's audit entry. It runs after the last
check that refuses, so it must not refuse; any error it raises rolls the whole unit back."""

_SUBJECT_BY_ID = select(Candidate).where(col(Candidate.id) == bindparam("subject_id"))


@functools.cache
def _subject_with_access() -> Any:
    # The subject and the caller's grants in one round trip: this runs on every operation.
    return with_access(_SUBJECT_BY_ID, table_of(Candidate))


_EXTERNAL_REF_RE = re.compile(r"[\x21-\x7e]{1,128}")


@dataclass(frozen=True)
class ExportResult:
    subject: uuid.UUID
    path: Path | None  # None: the document is in `data`, for standard output
    sha256: str
    size: int
    data: bytes | None = None

    def to_json(self) -> dict[str, Any]:
        # What `candidate export --json` has always printed: where, and the digest to check.
        return {"subject": str(self.subject), "path": str(self.path), "sha256": self.sha256}


@dataclass(frozen=True)
class ErasureResult:
    subject: uuid.UUID
    applications: int
    consents: int
    documents: int
    files_removed: int


@dataclass(frozen=True)
class SubjectWork(Generic[T]):
    """What an operation on a subject returns: the result and the audit details it adds."""

    result: T
    details: Mapping[str, Any] = field(default_factory=dict)


def parse_subject_id(text: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError:
        raise BadInput("subject id must be a UUID") from None


@dataclass(frozen=True)
class Gateway:
    """Personal data as one authenticated principal may see and change it, every step audited."""

    engine: Engine
    principal_id: uuid.UUID
    documents_dir: Path
    clock: Clock = utc_now
    export_sections: Sequence[ExportSection] = ()
    audit_group: GroupCommit | None = None  # audited reads share appends (the HTTP API)
    # The integrations an erasure is told to (the transactional outbox): `Config.targets`.
    targets: Sequence[Integration] = ()

    # --- the guarded path every operation on one subject takes ---------------------------------

    def on_subject(
        self,
        subject_id: uuid.UUID,
        permission: Permission,
        action: str,
        work: Callable[[Connection, Any, datetime], SubjectWork[T]],
        *,
        reason: str | None = None,
        open_when_blocked: bool = False,
        read_only: bool = False,
    ) -> T:
        """Authorize `permission` on the subject, run `work`, audit it; one transaction.

        `open_when_blocked` lets an operation that only reduces processing (withdrawing a
        consent, Art. 7(3)) through on a blocked subject without the DPO rule. `read_only`
        work (it writes nothing) goes through the group commit when the gateway has one:
        it reads in a read transaction, then its entry joins the next shared append, and
        its result is returned once that entry is committed.
        """
        if read_only and self.audit_group is not None:
            return self._grouped_read(
                subject_id, permission, action, work, reason, open_when_blocked
            )

        def unit(conn: Connection) -> T:
            at = self.clock()
            subject, decision = self._authorized(
                conn, at, subject_id, permission, action, reason, open_when_blocked
            )
            done = work(conn, subject, at)
            event = self._done_event(subject_id, permission, action, reason, decision, done)
            record(conn, event, at=at)
            return done.result

        return guarded(self.engine, unit, savepoint=False)

    def _grouped_read(
        self,
        subject_id: uuid.UUID,
        permission: Permission,
        action: str,
        work: Callable[[Connection, Any, datetime], SubjectWork[T]],
        reason: str | None,
        open_when_blocked: bool,
    ) -> T:
        group = self.audit_group
        assert group is not None
        at = self.clock()
        try:
            with transaction(group.reader) as conn:
                subject, decision = self._authorized(
                    conn, at, subject_id, permission, action, reason, open_when_blocked
                )
                done = work(conn, subject, at)
        except Refused as refusal:
            # A denial is on the record before it is reported, as in `guarded`.
            group.append([(refusal.event, refusal.event_at or self.clock())])
            raise refusal.error from None
        group.append(
            [(self._done_event(subject_id, permission, action, reason, decision, done), at)]
        )
        return done.result

    def _authorized(
        self,
        conn: Connection,
        at: datetime,
        subject_id: uuid.UUID,
        permission: Permission,
        action: str,
        reason: str | None,
        open_when_blocked: bool,
    ) -> tuple[Any, Decision]:
        """The subject's row and the decision that allows `permission` on it; else `Refused`."""
        actor = self.principal_id
        rows = conn.execute(
            _subject_with_access(), {"subject_id": subject_id, "principal_id": actor}
        ).all()
        row = rows[0] if rows else None
        country = None if row is None else row.country
        # No row: an unknown subject (or principal); the decision then loads access itself.
        access = access_from_rows(actor, rows) if rows else None
        decision = require(
            conn,
            actor,
            permission,
            at=at,
            action=action,
            country=country,
            subject=subject_id,
            access=access,
        )
        if row is None:
            # Only a principal allowed everywhere gets here: the miss is recorded, not hidden.
            refusal = Refused(
                Event(
                    actor=str(actor),
                    action=action,
                    subject=subject_id,
                    outcome=Outcome.ERROR,
                    reason="no such subject",
                ),
                NotFound(f"no subject {subject_id}"),
            )
            refusal.event_at = at
            raise refusal
        subject: Any = row  # a Core row with the candidate's columns
        if not open_when_blocked:
            self._check_blocked(subject, decision, action, reason, at)
        return subject, decision

    def _done_event(
        self,
        subject_id: uuid.UUID,
        permission: Permission,
        action: str,
        reason: str | None,
        decision: Decision,
        done: SubjectWork[Any],
    ) -> Event:
        details = {"allowed_by": str(decision.grant_id), "permission": permission.value}
        return Event(
            actor=str(self.principal_id),
            action=action,
            subject=subject_id,
            reason=reason or "",
            details={**details, **done.details},
        )

    def _check_blocked(
        self,
        subject: Any,
        decision: Decision,
        action: str,
        reason: str | None,
        at: datetime,
    ) -> None:
        if subject.blocked_at is None:
            return
        if decision.role is not Role.DPO or not reason:
            raise deny(
                self.principal_id,
                action,
                "the subject is blocked (restricted processing): only a DPO stating --reason",
                at=at,
                subject=subject.id,
            )

    # --- reads -------------------------------------------------------------------------------

    def show(self, subject_id: uuid.UUID, *, reason: str | None = None) -> dict[str, Any]:
        """The subject's record; returned only after the read is on the record."""
        _optional_reason(reason)

        def work(conn: Connection, subject: Any, at: datetime) -> SubjectWork[dict[str, Any]]:
            return SubjectWork(candidate_dict(subject))

        return self.on_subject(
            subject_id,
            Permission.CANDIDATE_READ,
            "candidate.read",
            work,
            reason=reason,
            read_only=True,
        )

    def find(
        self,
        *,
        email: str | None = None,
        external_ref: str | None = None,
        reason: str | None = None,
    ) -> list[dict[str, Any]]:
        """Subjects matching an e-mail address or ATS reference that this principal may read.

        Matches outside the principal's access are withheld without a word (saying "denied"
        would tell that the person is known) and audited as denied attempts.
        """
        _optional_reason(reason)
        clause = _find_clause(email, external_ref)
        actor = self.principal_id

        def unit(conn: Connection) -> list[dict[str, Any]]:
            at = self.clock()
            # Refuse outright a principal that cannot read anyone: no search is run.
            if not _reads_anywhere(conn, actor, at):
                require(conn, actor, Permission.CANDIDATE_READ, at=at, action="candidate.find")
            rows = conn.execute(select(Candidate).where(clause).limit(1000)).all()
            found, events = [], []
            for subject in rows:
                decision = authorize(conn, actor, Permission.CANDIDATE_READ, subject.country, at)
                blocked = subject.blocked_at is not None and (
                    decision.role is not Role.DPO or not reason
                )
                ok = decision.allowed and not blocked
                events.append(
                    Event(
                        actor=str(actor),
                        action="candidate.find",
                        subject=subject.id,
                        outcome=Outcome.OK if ok else Outcome.DENIED,
                        reason=(reason or "") if ok else _find_denial(decision, blocked),
                        details={"allowed_by": str(decision.grant_id)} if ok else {},
                    )
                )
                if ok:
                    found.append(candidate_dict(subject))
            if events:
                record(conn, *events, at=at)
            return found

        return guarded(self.engine, unit, savepoint=False)

    def export(
        self, subject_id: uuid.UUID, out: Path | None, *, reason: str | None = None
    ) -> ExportResult:
        """Write everything held about the subject to `out` as JSON (GDPR Art. 15 and 20).

        The file is written under a temporary name and linked into place only after the audit
        entry (which records its SHA-256) is committed; on any failure it is removed, and an
        existing file is never replaced. With `out` None nothing is written: the document is
        returned in the result's `data` (for standard output), again only after the commit.
        """
        _optional_reason(reason)
        partial: Path | None = None
        if out is not None:
            out = out.expanduser().absolute()
            if os.path.lexists(out):
                raise BadInput(f"{out} already exists: choose another --out")
            if not out.parent.is_dir():
                raise BadInput(f"{out.parent} is not a directory: choose another --out")
            partial = out.with_name(f".{out.name}.{uuid.uuid4().hex[:8]}.partial")

        def work(conn: Connection, subject: Any, at: datetime) -> SubjectWork[ExportResult]:
            document = export_document(conn, subject, at, self.export_sections)
            data = (json.dumps(document, indent=2, sort_keys=True, default=str) + "\n").encode()
            if partial is not None:
                fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
            digest = hashlib.sha256(data).hexdigest()
            kept = data if partial is None else None
            result = ExportResult(subject.id, out, digest, len(data), kept)
            return SubjectWork(result, {"sha256": digest, "size": len(data)})

        try:
            result: ExportResult = self.on_subject(
                subject_id, Permission.CANDIDATE_EXPORT, "candidate.export", work, reason=reason
            )
            if partial is not None and out is not None:
                os.link(partial, out)
        except FileExistsError:
            raise BadInput(f"{out} already exists: choose another --out") from None
        finally:
            if partial is not None:
                partial.unlink(missing_ok=True)
        return result

    # --- changes -----------------------------------------------------------------------------

    def update(
        self,
        subject_id: uuid.UUID,
        changes: Mapping[str, str | None],
        *,
        reason: str | None = None,
        then: Then | None = None,
    ) -> dict[str, Any]:
        """Change contact fields (an empty value clears one); the entry names fields, not values.

        Returns the updated record only to a principal that may also read the subject (the
        entry then records the read and the grant that allowed it); a write-only principal
        (an integration) gets the subject id and the names of the fields it changed.
        """
        return self.update_versioned(subject_id, changes, reason=reason, then=then)[0]

    def update_versioned(
        self,
        subject_id: uuid.UUID,
        changes: Mapping[str, str | None],
        *,
        reason: str | None = None,
        expected_versions: frozenset[str] | None = None,
        then: Then | None = None,
    ) -> tuple[dict[str, Any], str]:
        """`update`, and the record's new version; with `expected_versions`, only if the record
        is still at one of them (`candidate_version`, checked in the transaction that changes
        it), else `StaleVersion`."""
        _optional_reason(reason)
        values = _contact_changes(changes)

        def work(
            conn: Connection, subject: Any, at: datetime
        ) -> SubjectWork[tuple[dict[str, Any], str]]:
            if expected_versions is not None and (
                candidate_version(candidate_dict(subject)) not in expected_versions
            ):
                raise StaleVersion(
                    f"subject {subject.id} changed since that version was read: read it again"
                )
            if subject.anonymized_at is not None:
                # Its personal data was erased on purpose: writing new data would undo that.
                raise BadInput(f"subject {subject.id} is anonymized: its contact fields stay empty")
            conn.execute(
                update(Candidate).where(Candidate.id == subject.id).values(**values, updated_at=at)
            )
            more = {} if then is None else dict(then(conn, at))
            done = self._written(conn, subject.id, subject.country, sorted(values), at)
            return SubjectWork(done.result, {**done.details, **more})

        return self.on_subject(
            subject_id, Permission.CANDIDATE_WRITE, "candidate.update", work, reason=reason
        )

    def _written(
        self, conn: Connection, subject_id: uuid.UUID, country: str, fields: list[str], at: datetime
    ) -> SubjectWork[tuple[dict[str, Any], str]]:
        """What a write returns: the record to a reader, else the id and fields; the version."""
        fresh = conn.execute(select(Candidate).where(col(Candidate.id) == subject_id)).one()
        record = candidate_dict(fresh)
        version = candidate_version(record)
        read = authorize(conn, self.principal_id, Permission.CANDIDATE_READ, country, at)
        if not read.allowed:
            return SubjectWork(
                ({"id": subject_id, "updated": fields}, version),
                {"fields": fields, "returned": "fields"},
            )
        return SubjectWork(
            (record, version),
            {"fields": fields, "returned": "record", "read_allowed_by": str(read.grant_id)},
        )

    def upsert(
        self,
        external_ref: str,
        country: str,
        changes: Mapping[str, str | None],
        *,
        reason: str | None = None,
    ) -> tuple[bool, dict[str, Any], str]:
        """Create the subject an ATS knows as `external_ref` in `country`, or update its contact
        fields if it exists; (created, what `update` returns, the new version). Needs candidate:write in the
        subject's country; creating is audited as `candidate.create`.

        An existing subject keeps its country (a different one is refused, once authorized);
        an anonymized one is never filled again.
        """
        _optional_reason(reason)
        ref = _external_ref(external_ref)
        values = _contact_changes(changes) if changes else {}
        actor = self.principal_id
        with self.engine.connect() as conn:
            existing = conn.execute(
                select(col(Candidate.id)).where(col(Candidate.external_ref) == ref)
            ).scalar()
        if existing is not None:
            if not values:
                raise BadInput(
                    f"nothing to change: give at least one of {', '.join(CONTACT_FIELDS)}"
                )

            def check(
                conn: Connection, subject: Any, at: datetime
            ) -> SubjectWork[tuple[dict[str, Any], str]]:
                if subject.country != country:
                    raise BadInput(
                        f"subject {subject.id} with that external_ref is in {subject.country}, "
                        f"not {country}: its country does not change"
                    )
                if subject.anonymized_at is not None:
                    raise BadInput(
                        f"subject {subject.id} is anonymized: its contact fields stay empty"
                    )
                conn.execute(
                    update(Candidate)
                    .where(Candidate.id == subject.id)
                    .values(**values, updated_at=at, last_activity_at=at)
                )
                return self._written(conn, subject.id, subject.country, sorted(values), at)

            fields, version = self.on_subject(
                existing, Permission.CANDIDATE_WRITE, "candidate.update", check, reason=reason
            )
            return False, fields, version
        subject_id = uuid.uuid4()

        def create(conn: Connection) -> tuple[dict[str, Any], str]:
            at = self.clock()
            decision = require(
                conn,
                actor,
                Permission.CANDIDATE_WRITE,
                at=at,
                action="candidate.create",
                country=country,
                subject=subject_id,
            )
            conn.execute(
                table_of(Candidate)
                .insert()
                .values(
                    id=subject_id,
                    external_ref=ref,
                    country=country,
                    status="in_process",
                    applied_at=at,
                    last_activity_at=at,
                    created_at=at,
                    updated_at=at,
                    **values,
                )
            )
            done = self._written(conn, subject_id, country, sorted(values), at)
            record(
                conn,
                Event(
                    actor=str(actor),
                    action="candidate.create",
                    subject=subject_id,
                    reason=reason or "",
                    details={
                        "allowed_by": str(decision.grant_id),
                        "permission": Permission.CANDIDATE_WRITE.value,
                        "country": country,
                        **done.details,
                    },
                ),
                at=at,
            )
            return done.result

        try:
            fields, version = guarded(self.engine, create, savepoint=False)
            return True, fields, version
        except IntegrityError:
            # Another request created the same external_ref between our look-up and insert.
            raise CheckFailed(
                "a subject with that external_ref was created concurrently: retry"
            ) from None

    def erase(
        self, subject_id: uuid.UUID, *, reason: str, then: Then | None = None
    ) -> ErasureResult:
        """Erase the subject on request (Art. 17): its rows now, its document files after commit.

        Refused while a legal hold is active (Art. 17(3)(e)); the refusal is audited.
        """
        check_reason(reason)
        files: list[Path] = []

        def work(conn: Connection, subject: Any, at: datetime) -> SubjectWork[dict[str, int]]:
            held = conn.execute(
                select(func.count())
                .select_from(LegalHold)
                .where(LegalHold.subject_id == subject.id, col(LegalHold.released_at).is_(None))
            ).scalar_one()
            if held:
                refusal = deny(
                    self.principal_id,
                    "candidate.erase",
                    "the subject is under legal hold; erasure is suspended",
                    at=at,
                    subject=subject.id,
                )
                refusal.error = CheckFailed(refusal.message)
                raise refusal
            # The outbox's messages first: the deletion below takes the external ref with it.
            write_outbox(conn, self.targets, "erase", [subject.id], at=at)
            docs = (
                conn.execute(select(col(Document.id)).where(Document.candidate_id == subject.id))
                .scalars()
                .all()
            )
            counts = {
                "applications": _count(conn, Application, Application.candidate_id, subject.id),
                "consents": _count(conn, Consent, Consent.candidate_id, subject.id),
                "documents": len(docs),
            }
            for model, column in (
                (Document, Document.candidate_id),
                (Consent, Consent.candidate_id),
                (Application, Application.candidate_id),
            ):
                conn.execute(delete(model).where(column == subject.id))
            conn.execute(delete(Candidate).where(Candidate.id == subject.id))
            files.extend(self.documents_dir / str(d) for d in docs)
            more = {} if then is None else dict(then(conn, at))
            return SubjectWork(counts, {**counts, **more})

        counts = self.on_subject(
            subject_id, Permission.CANDIDATE_ERASE, "candidate.erase", work, reason=reason
        )
        removed = 0
        for path in files:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                removed += 1
        scrub_erased(self.engine)
        return ErasureResult(subject_id, files_removed=removed, **counts)


def _count(conn: Connection, model: Any, column: Any, subject_id: uuid.UUID) -> int:
    return int(
        conn.execute(
            select(func.count()).select_from(model).where(column == subject_id)
        ).scalar_one()
    )


def _optional_reason(reason: str | None) -> None:
    if reason is not None:
        check_reason(reason)


def _reads_anywhere(conn: Connection, actor: uuid.UUID, at: datetime) -> bool:
    """Whether any grant in force gives candidate:read somewhere (before running a search)."""
    principal, views = load_access(conn, actor)
    if principal is None or (principal.disabled_at is not None and principal.disabled_at <= at):
        return False
    return any(
        Permission.CANDIDATE_READ in g.permissions
        and (g.revoked_at is None or g.revoked_at > at)
        and g.expires_at > at
        and g.status is GrantStatus.ACTIVE
        for g in views
    )


def _find_denial(decision: Decision, blocked: bool) -> str:
    if blocked and decision.allowed:
        return "the subject is blocked (restricted processing): only a DPO stating --reason"
    return decision.reason


def _external_ref(external_ref: str) -> str:
    if not _EXTERNAL_REF_RE.fullmatch(external_ref):
        raise BadInput("external_ref must be 1-128 printable characters without spaces")
    return external_ref


def _find_clause(email: str | None, external_ref: str | None) -> Any:
    if (email is None) == (external_ref is None):
        raise BadInput("give exactly one of --email or --external-ref")
    if email is not None:
        if not 3 <= len(email) <= 320 or "@" not in email:
            raise BadInput("--email must be an e-mail address of at most 320 characters")
        # Anonymized subjects hold placeholders: leaving them out lets the partial index serve.
        return and_(
            func.lower(Candidate.email) == email.lower(), col(Candidate.anonymized_at).is_(None)
        )
    assert external_ref is not None
    if not _EXTERNAL_REF_RE.fullmatch(external_ref):
        raise BadInput("--external-ref must be 1-128 printable characters without spaces")
    return Candidate.external_ref == external_ref


def _contact_changes(changes: Mapping[str, str | None]) -> dict[str, str | None]:
    # The validator of every path that writes a contact field (the import uses it too).
    values: dict[str, str | None] = {}
    for name, value in changes.items():
        if value is not None:
            option = "--" + name.replace("_", "-")
            values[name] = check_contact(name, value, label=option)
        elif name not in CONTACT_FIELDS:
            check_contact(name, None)
    if not values:
        raise BadInput(f"nothing to change: give at least one of {', '.join(CONTACT_FIELDS)}")
    return values
