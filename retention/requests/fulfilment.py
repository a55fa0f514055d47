"""Fulfilling a verified request: each type through the audited action path it names.

- access (Art. 15) and portability (Art. 20): a package written to a new folder, linked into
  place only after its audit entries commit (fail closed); an access package carries the
  subject's audit trail with proofs against a checkpoint signed in the same transaction;
- erasure (Art. 17): `Gateway.erase`, as `candidate erase` does, once a second principal approved
  it; a legal hold refuses it with the ground of Art. 17(3)(e), recorded on the request;
- rectification (Art. 16): `Gateway.update`, its entry naming the request;
- restriction (Art. 18): the subject is blocked (the state the policy action `block` sets) until
  the restriction is lifted;
- objection (Art. 21): the purpose's consent is withdrawn.
The request's own change (`request.fulfil`) is made in the transaction of the action.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, func, select, update

from retention.access import Permission, Refused, guarded
from retention.audit import load_verifier, store_checkpoint, witness_checkpoint
from retention.config import Config
from retention.errors import BadInput, CheckFailed
from retention.install import load_installation_policies
from retention.requests.package import (
    access_document,
    access_html,
    access_package_json,
    portability_csv,
    portability_document,
)
from retention.requests.register import CLOSED, Register, RequestView
from retention.requests.trail import subject_trail
from retention.store import (
    Candidate,
    LegalHold,
    RequestEvent,
    RequestStatus,
    RequestType,
    document_path,
    table_of,
)
from retention.subjects import Gateway, SubjectWork, consents

__all__ = ["HOLD_GROUND", "Fulfiller", "Fulfilment"]

HOLD_GROUND = (
    "Art. 17(3)(e): the data are needed for the establishment, exercise or defence of legal "
    "claims (a legal hold is active)"
)

S = RequestStatus


@dataclass(frozen=True)
class Fulfilment:
    request: RequestView
    path: Path | None = None  # the package folder (access, portability)
    sha256: str | None = None  # of the package's main JSON file
    details: Mapping[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        out = self.request.to_json()
        if self.path is not None:
            out["package"] = str(self.path)
            out["sha256"] = self.sha256
        if self.details:
            out["done"] = dict(self.details)
        return out


def _fulfilled(row: Any, when: datetime) -> Mapping[str, Any]:
    if row.status != S.VERIFIED:
        raise BadInput(f"request {row.id} is {row.status}: only a verified request is fulfilled")
    return {"status": S.FULFILLED.value, "closed_at": when}


@dataclass(frozen=True)
class Fulfiller:
    """Fulfils requests as one principal: the register for the request, the gateway for the data."""

    register: Register
    gateway: Gateway
    config: Config

    def fulfil(
        self,
        rid: uuid.UUID,
        *,
        at: datetime | None = None,
        out: Path | None = None,
        changes: Mapping[str, str | None] | None = None,
        purpose: str | None = None,
    ) -> Fulfilment:
        row = self._precheck(rid, at)
        kind = RequestType(row.type)
        if kind in (RequestType.ACCESS, RequestType.PORTABILITY):
            if out is None:
                raise BadInput(f"a {kind} request writes its package: give --out DIR")
            return self._package(row, kind, at, out)
        if out is not None:
            raise BadInput(f"--out is for access and portability requests, not {kind}")
        if kind is RequestType.ERASURE:
            return self._erase(row, at)
        if kind is RequestType.RECTIFICATION:
            if not changes:
                raise BadInput("a rectification names the corrected fields (--email, --city ...)")
            return self._rectify(row, at, changes)
        if kind is RequestType.RESTRICTION:
            return self._restrict(row, at)
        if purpose is None:
            raise BadInput("an objection names the purpose whose processing stops: --purpose")
        return self._object(row, at, purpose)

    # --- checks before any action ----------------------------------------------------------

    def _precheck(self, rid: uuid.UUID, at: datetime | None) -> Any:
        """Authorized, verified, and (erasure) approved and not held; a hold is recorded as the
        refusal it is."""
        register = self.register

        def unit(conn: Connection) -> tuple[Any, bool]:
            now = register.clock()
            row = register.check(conn, rid, "fulfil", now)
            register.when(at, now)
            if row.status in CLOSED:
                raise BadInput(f"request {rid} is {row.status} already")
            _fulfilled(row, now)  # raises unless verified
            if row.type != RequestType.ERASURE:
                return row, False
            if row.approved_at is None:
                raise BadInput(
                    f"request {rid}: an erasure needs a second principal's approval first "
                    f"('gdpr request approve {rid}')"
                )
            if _held(conn, row.subject_id):
                register.change_in(conn, rid, "refuse", _refusal, at=at, now=now, note=HOLD_GROUND)
                return row, True
            return row, False

        row, held = guarded(register.engine, unit)
        if held:
            raise CheckFailed(
                f"request {rid} refused: the subject is under legal hold (Art. 17(3)(e))"
            )
        return row

    # --- each type ---------------------------------------------------------------------------

    def _then(self, row: Any, at: datetime | None, kind: str = "fulfil") -> Any:
        """The request's change, run inside the action's transaction (after it acted)."""

        def hook(conn: Connection, now: datetime) -> Mapping[str, Any]:
            try:
                self.register.change_in(conn, row.id, kind, _fulfilled, at=at, now=now)
            except Refused as refusal:  # grants changed since the check: undo everything
                raise refusal.error from None
            return {"request": str(row.id)}

        return hook

    def _view(self, rid: uuid.UUID) -> RequestView:
        return self.register.show(rid)

    def _erase(self, row: Any, at: datetime | None) -> Fulfilment:
        reason = f"request {row.id}"
        try:
            done = self.gateway.erase(row.subject_id, reason=reason, then=self._then(row, at))
        except CheckFailed:
            # A hold placed since the check: the gateway refused and audited it; so does the
            # register.
            self.register.change(row.id, "refuse", _refusal, at=at, note=HOLD_GROUND)
            raise CheckFailed(
                f"request {row.id} refused: the subject is under legal hold (Art. 17(3)(e))"
            ) from None
        counts = {
            "applications": done.applications,
            "consents": done.consents,
            "documents": done.documents,
            "files_removed": done.files_removed,
        }
        return Fulfilment(self._view(row.id), details=counts)

    def _rectify(
        self, row: Any, at: datetime | None, changes: Mapping[str, str | None]
    ) -> Fulfilment:
        reason = f"request {row.id}"
        self.gateway.update(row.subject_id, changes, reason=reason, then=self._then(row, at))
        return Fulfilment(self._view(row.id), details={"fields": sorted(changes)})

    def _restrict(self, row: Any, at: datetime | None) -> Fulfilment:
        hook = self._then(row, at)

        def work(conn: Connection, subject: Any, now: datetime) -> SubjectWork[bool]:
            more = hook(conn, now)
            already = subject.blocked_at is not None
            if not already:
                c = table_of(Candidate).c
                conn.execute(
                    update(table_of(Candidate))
                    .where(c.id == subject.id)
                    .values(blocked_at=now, updated_at=now)
                )
            return SubjectWork(not already, {**more, "already_blocked": already})

        blocked = self.gateway.on_subject(
            row.subject_id, Permission.CANDIDATE_WRITE, "candidate.block", work,
            reason=f"request {row.id}", open_when_blocked=True,
        )  # fmt: skip
        return Fulfilment(self._view(row.id), details={"blocked": blocked})

    def lift(self, rid: uuid.UUID, at: datetime | None = None) -> Fulfilment:
        """End a restriction (Art. 18(3)): unblock the subject, if this request blocked it."""
        register = self.register

        def unit(conn: Connection) -> Any:
            return register.check(conn, rid, "lift", register.clock())

        row = guarded(register.engine, unit)

        def check(r: Any, when: datetime) -> Mapping[str, Any]:
            if r.type != RequestType.RESTRICTION or r.status != S.FULFILLED:
                raise BadInput(f"request {rid} is not a restriction in force")
            return {}

        def work(conn: Connection, subject: Any, now: datetime) -> SubjectWork[bool]:
            e = table_of(RequestEvent).c
            lifted = conn.execute(
                select(func.count()).where(e.request_id == rid, e.kind == "lift")
            ).scalar_one()
            if lifted:
                raise BadInput(f"request {rid}: the restriction was lifted already")
            try:
                register.change_in(conn, rid, "lift", check, at=at, now=now)
            except Refused as refusal:
                raise refusal.error from None
            # Unblock only a block this request placed: a policy's block stays.
            blocks = conn.execute(
                select(func.count())
                .select_from(table_of(RequestEvent))
                .where(e.request_id == rid, e.kind == "fulfil")
            ).scalar_one()
            c = table_of(Candidate).c
            cleared = 0
            if blocks and subject.blocked_at is not None:
                cleared = conn.execute(
                    update(table_of(Candidate))
                    .where(c.id == subject.id)
                    .values(blocked_at=None, updated_at=now)
                ).rowcount
            return SubjectWork(bool(cleared), {"request": str(rid), "unblocked": bool(cleared)})

        unblocked = self.gateway.on_subject(
            row.subject_id, Permission.CANDIDATE_WRITE, "candidate.unblock", work,
            reason=f"request {rid}", open_when_blocked=True,
        )  # fmt: skip
        return Fulfilment(self._view(rid), details={"unblocked": unblocked})

    def _object(self, row: Any, at: datetime | None, purpose: str) -> Fulfilment:
        withdrawn = consents.withdraw_consent(
            self.gateway, row.subject_id, purpose=purpose, then=self._then(row, at)
        )
        return Fulfilment(self._view(row.id), details={"purpose": purpose, "withdrawn": withdrawn})

    # --- packages ----------------------------------------------------------------------------

    def _package(self, row: Any, kind: RequestType, at: datetime | None, out: Path) -> Fulfilment:
        out = out.expanduser().absolute()
        if not out.is_dir():
            raise BadInput(f"{out} is not a directory: choose another --out")
        final = out / f"{kind.value}-{row.id}"
        if os.path.lexists(final):
            raise BadInput(f"{final} already exists: choose another --out")
        partial = out / f".{final.name}.{uuid.uuid4().hex[:8]}.partial"
        policy_set = load_installation_policies(self.config) if kind is RequestType.ACCESS else None
        verifier = str(load_verifier(self.config)) if kind is RequestType.ACCESS else ""
        notes: list[str] = []
        hook = self._then(row, at)
        config = self.config

        def work(conn: Connection, subject: Any, now: datetime) -> SubjectWork[str]:
            more = hook(conn, now)
            request = {
                "id": str(row.id),
                "type": row.type,
                "received_at": row.received_at.isoformat(),
                "due_on": row.due_on.isoformat(),
            }
            os.mkdir(partial, 0o700)
            (partial / "documents").mkdir(mode=0o700)
            if kind is RequestType.ACCESS:
                assert policy_set is not None
                with _collector_paused():
                    # Sign the log as it now is (this fulfilment's entry included), then prove
                    # each of the subject's entries against that checkpoint.
                    checkpoint, note = store_checkpoint(conn, config, self.register.clock)
                    notes.append(note)
                    trail = subject_trail(
                        conn, config, subject.id, checkpoint.size, checkpoint.root
                    )
                    document = access_document(
                        conn, config, policy_set, subject, request, now,
                        {"size": checkpoint.size, "note": note, "verifier_key": verifier,
                         "origin": config.log_origin},
                    )  # fmt: skip
                    main = access_package_json(document, trail)
                    _write(partial / "package.json", main)
                    _write(partial / "index.html", access_html(document, trail).encode())
            else:
                document = portability_document(conn, subject, request, now)
                main = _dump(document)
                _write(partial / "data.json", main)
                _write(partial / "candidate.csv", portability_csv([document["candidate"]]).encode())
                _write(
                    partial / "applications.csv", portability_csv(document["applications"]).encode()
                )
                _write(partial / "consents.csv", portability_csv(document["consents"]).encode())
            for d in document["documents"]:
                source = document_path(
                    config.documents_dir, uuid.UUID(str(d["file"]).split("/")[1])
                )
                with contextlib.suppress(FileNotFoundError):
                    shutil.copyfile(source, partial / d["file"])
                    os.chmod(partial / d["file"], 0o600)
            digest = hashlib.sha256(main).hexdigest()
            return SubjectWork(digest, {**more, "sha256": digest, "package": kind.value})

        try:
            digest = self.gateway.on_subject(
                row.subject_id, Permission.CANDIDATE_EXPORT, "candidate.export", work,
                reason=f"request {row.id}",
            )  # fmt: skip
            os.rename(partial, final)
        finally:
            if partial.exists():
                shutil.rmtree(partial, ignore_errors=True)
        for note in notes:
            witness_checkpoint(config, note)
        return Fulfilment(self._view(row.id), path=final, sha256=digest)


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Keep Python's cyclic garbage collector off while an access package is built.

    A trail of ten thousand entries allocates millions of small objects (proof hashes, their
    base64 strings, the document's dicts), none in a reference cycle, and each burst of them
    set off collections that walked them all again: a quarter of the package's CPU time.
    Reference counting still frees them; the collector is back on as it was afterwards.
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _refusal(row: Any, when: datetime) -> Mapping[str, Any]:
    return {"status": S.REFUSED.value, "closed_at": when, "refusal_ground": HOLD_GROUND}


def _held(conn: Connection, subject_id: uuid.UUID) -> bool:
    h = table_of(LegalHold).c
    q = select(func.count()).where(h.subject_id == subject_id, h.released_at.is_(None))
    return bool(conn.execute(q).scalar_one())


def _dump(document: dict[str, Any]) -> bytes:
    # Compact, as access_package_json (an indent falls back to the Python encoder).
    return (
        json.dumps(document, sort_keys=True, default=str, separators=(",", ":")) + "\n"
    ).encode()


def _write(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
