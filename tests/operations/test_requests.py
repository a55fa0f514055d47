"""Data-subject requests through their operations: every type, state change and refusal."""

from __future__ import annotations

import csv
import json
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from audit_log import Entry, InclusionProof
from audit_log.schema import audit_entry
from retention.errors import AccessDenied, BadInput, CheckFailed, NotFound
from retention.install import Installation
from retention.operations import requests as ops
from retention.requests import HOLD_GROUND
from retention.store import Candidate, Consent, LegalHold, RequestType, transaction
from retention.testing import FixedClock
from tests import merkle_reference as ref
from tests.access_support import audit_rows
from tests.requests_support import RequestWorld, build_request_world

T = RequestType


@pytest.fixture
def rw(installation: Installation, clock: FixedClock) -> RequestWorld:
    return build_request_world(installation, clock)


RECEIVED = datetime(2026, 11, 20, 10, tzinfo=UTC)  # due 20 Dec 2026, a Sunday -> Mon 21 Dec


def open_(rw: RequestWorld, kind: RequestType, subject: uuid.UUID | None = None, **kw):
    request = ops.OpenRequest(kind, kw.pop("received_at", RECEIVED), subject_id=subject, **kw)
    return ops.open_request(rw.installation, rw.dpo, request, clock=rw.world.clock)


def verified(rw: RequestWorld, kind: RequestType, subject: uuid.UUID | None = None):
    opened = open_(rw, kind, subject or rw.world.nl)
    return ops.verify_request(
        rw.installation,
        rw.dpo,
        ops.VerifyRequest(opened.id, "reply from known address"),
        clock=rw.world.clock,
    )


def request_entries(rw: RequestWorld, rid: uuid.UUID) -> list[Entry]:
    rows = audit_rows(rw.world.engine)
    entries = [Entry.decode(bytes(r.canonical)) for r in rows]
    return [e for e in entries if e.details.get("request") == str(rid)]


class TestOpen:
    def test_by_subject(self, rw: RequestWorld) -> None:
        """The deadline is one month on, moved off the Sunday; the JSON has the contract keys."""
        opened = open_(rw, T.ACCESS, rw.world.nl)
        data = opened.to_json()
        assert {"id", "type", "subject", "received_at", "due_on", "status"} <= set(data)
        assert (data["type"], data["status"], data["due_on"]) == ("access", "open", "2026-12-21")
        assert opened.due_at == datetime(2026, 12, 21, 22, tzinfo=UTC)  # end of day, EET

    def test_by_email_goes_through_the_gateway(self, rw: RequestWorld) -> None:
        """Matching by e-mail is an audited find; the request refers to the subject by UUID and
        its entries never carry the address."""
        with rw.world.engine.connect() as conn:
            email = conn.execute(
                select(Candidate.email).where(Candidate.id == rw.world.nl)
            ).scalar()
        opened = open_(rw, T.ERASURE, email=email.upper())
        assert opened.subject == rw.world.nl
        assert audit_rows(rw.world.engine, action="candidate.find")[-1].subject == rw.world.nl
        for row in audit_rows(rw.world.engine):
            assert email.encode() not in bytes(row.canonical)

    def test_by_external_ref_unknown(self, rw: RequestWorld) -> None:
        with pytest.raises(NotFound, match="no subject you may read matches"):
            open_(rw, T.ACCESS, external_ref="ATS-404")

    def test_audit_entry(self, rw: RequestWorld) -> None:
        """One request.open entry with id, type and dates."""
        opened = open_(rw, T.ACCESS, rw.world.nl)
        (entry,) = request_entries(rw, opened.id)
        assert entry.action == "request.open" and entry.subject == rw.world.nl
        assert entry.details["type"] == "access"
        assert entry.details["due_on"] == "2026-12-21"
        assert entry.details["received_at"] == "2026-11-20T10:00:00.000000Z"

    def test_duplicate_within_30_days_is_flagged(self, rw: RequestWorld) -> None:
        first = open_(rw, T.ACCESS, rw.world.nl)
        second = open_(rw, T.ACCESS, rw.world.nl, received_at=RECEIVED + timedelta(days=1))
        other = open_(rw, T.ERASURE, rw.world.nl, received_at=RECEIVED + timedelta(days=1))
        assert (first.duplicate_of, second.duplicate_of, other.duplicate_of) == (
            None,
            first.id,
            None,
        )

    def test_not_a_duplicate_after_30_days(self, rw: RequestWorld) -> None:
        open_(rw, T.ACCESS, rw.world.nl, received_at=RECEIVED - timedelta(days=31))
        assert open_(rw, T.ACCESS, rw.world.nl).duplicate_of is None

    def test_recruiter_cannot_open(self, rw: RequestWorld) -> None:
        """No request:manage: denied and audited."""
        request = ops.OpenRequest(T.ACCESS, RECEIVED, subject_id=rw.world.nl)
        with pytest.raises(AccessDenied, match="request:manage"):
            ops.open_request(rw.installation, rw.recruiter, request, clock=rw.world.clock)
        assert audit_rows(rw.world.engine, action="request.open")[-1].outcome == "denied"

    def test_received_in_the_future(self, rw: RequestWorld) -> None:
        with pytest.raises(BadInput, match="--received is after"):
            open_(rw, T.ACCESS, rw.world.nl, received_at=rw.world.clock() + timedelta(hours=1))

    def test_unknown_channel(self, rw: RequestWorld) -> None:
        with pytest.raises(BadInput, match="--channel"):
            open_(rw, T.ACCESS, rw.world.nl, channel="pigeon")


class TestStateChanges:
    def test_verify_pause_resume(self, rw: RequestWorld) -> None:
        """Pausing keeps the deadline; resuming returns to verified."""
        done = verified(rw, T.ACCESS)
        paused = ops.pause_request(
            rw.installation,
            rw.dpo,
            ops.PauseRequest(done.id, "awaiting scope"),
            clock=rw.world.clock,
        )
        assert (paused.status, paused.due_on) == ("paused", done.due_on)
        resumed = ops.resume_request(
            rw.installation, rw.dpo, ops.ResumeRequest(done.id), clock=rw.world.clock
        )
        assert resumed.status == "verified"
        kinds = [e.action for e in request_entries(rw, done.id)]
        assert kinds == ["request.open", "request.verify", "request.pause", "request.resume"]

    def test_verification_method_is_not_audited(self, rw: RequestWorld) -> None:
        done = verified(rw, T.ACCESS)
        for e in request_entries(rw, done.id):
            assert "reply from known address" not in json.dumps(dict(e.details)) + e.reason

    def test_extend_once_before_the_deadline(self, rw: RequestWorld) -> None:
        """Three months from receipt (20 Feb 2027 is a Saturday -> 22 Feb); once only."""
        opened = open_(rw, T.ACCESS, rw.world.nl)
        ext = ops.extend_request(
            rw.installation,
            rw.dpo,
            ops.ExtendRequest(opened.id, "complex request"),
            clock=rw.world.clock,
        )
        assert (ext.due_on, ext.extended_at is not None) == (date(2027, 2, 22), True)
        assert request_entries(rw, opened.id)[-1].details["due_on"] == "2027-02-22"
        with pytest.raises(BadInput, match="extended already"):
            ops.extend_request(
                rw.installation, rw.dpo, ops.ExtendRequest(opened.id, "again"), clock=rw.world.clock
            )

    def test_extension_after_the_deadline_is_refused(self, rw: RequestWorld) -> None:
        """Recorded at an instant after the deadline passed, an extension is refused."""
        received = datetime(2026, 9, 1, 9, tzinfo=UTC)  # due 1 Oct 2026
        opened = open_(rw, T.ACCESS, rw.world.nl, received_at=received, at=received)
        late = ops.ExtendRequest(opened.id, "complex", at=datetime(2026, 10, 2, 9, tzinfo=UTC))
        with pytest.raises(BadInput, match="before the deadline passes"):
            ops.extend_request(rw.installation, rw.dpo, late, clock=rw.world.clock)

    def test_extension_recorded_later_applies_its_own_instant(self, rw: RequestWorld) -> None:
        """Moving a register in: an extension made on 30 Sep (before the deadline) is recorded
        now; the entry carries both instants."""
        received = datetime(2026, 9, 1, 9, tzinfo=UTC)
        opened = open_(rw, T.ACCESS, rw.world.nl, received_at=received, at=received)
        then = datetime(2026, 9, 30, 9, tzinfo=UTC)
        ext = ops.extend_request(
            rw.installation,
            rw.dpo,
            ops.ExtendRequest(opened.id, "complex", at=then),
            clock=rw.world.clock,
        )
        assert ext.due_on == date(2026, 12, 1 + 1)  # 1 Dec is National Day -> 2 Dec
        entry = request_entries(rw, opened.id)[-1]
        assert entry.details["at"] == "2026-09-30T09:00:00.000000Z"
        assert entry.ts == rw.world.clock()

    def test_at_in_the_future_is_refused(self, rw: RequestWorld) -> None:
        opened = open_(rw, T.ACCESS, rw.world.nl)
        future = rw.world.clock() + timedelta(minutes=5)
        with pytest.raises(BadInput, match="in the future"):
            ops.withdraw_request(
                rw.installation,
                rw.dpo,
                ops.WithdrawRequest(opened.id, at=future),
                clock=rw.world.clock,
            )

    def test_at_before_the_last_change_is_refused(self, rw: RequestWorld) -> None:
        opened = open_(rw, T.ACCESS, rw.world.nl)
        with pytest.raises(BadInput, match="order they happened"):
            ops.withdraw_request(
                rw.installation,
                rw.dpo,
                ops.WithdrawRequest(opened.id, at=RECEIVED - timedelta(days=1)),
                clock=rw.world.clock,
            )

    def test_refuse_records_its_ground(self, rw: RequestWorld) -> None:
        opened = open_(rw, T.ACCESS, rw.world.nl)
        ground = "Art. 12(5) manifestly unfounded"
        done = ops.refuse_request(
            rw.installation, rw.dpo, ops.RefuseRequest(opened.id, ground), clock=rw.world.clock
        )
        assert (done.status, done.refusal_ground, done.closed_at) == (
            "refused",
            ground,
            rw.world.clock(),
        )
        assert request_entries(rw, opened.id)[-1].reason == ground
        with pytest.raises(BadInput, match="refused"):
            ops.withdraw_request(
                rw.installation, rw.dpo, ops.WithdrawRequest(opened.id), clock=rw.world.clock
            )

    def test_withdraw(self, rw: RequestWorld) -> None:
        opened = open_(rw, T.PORTABILITY, rw.world.nl)
        done = ops.withdraw_request(
            rw.installation, rw.dpo, ops.WithdrawRequest(opened.id), clock=rw.world.clock
        )
        assert done.status == "withdrawn"

    def test_fulfil_needs_verification(self, rw: RequestWorld, tmp_path: Path) -> None:
        opened = open_(rw, T.ACCESS, rw.world.nl)
        with pytest.raises(BadInput, match="only a verified request"):
            ops.fulfil_request(
                rw.installation,
                rw.dpo,
                ops.FulfilRequest(opened.id, out=tmp_path),
                clock=rw.world.clock,
            )

    def test_show_has_the_events(self, rw: RequestWorld) -> None:
        done = verified(rw, T.ACCESS)
        shown = ops.show_request(
            rw.installation, rw.dpo, ops.ShowRequest(done.id), clock=rw.world.clock
        )
        assert [e.kind for e in shown.events] == ["open", "verify"]

    def test_unknown_request(self, rw: RequestWorld) -> None:
        with pytest.raises(NotFound, match="no request"):
            ops.show_request(
                rw.installation, rw.dpo, ops.ShowRequest(uuid.uuid4()), clock=rw.world.clock
            )


class TestList:
    def test_overdue_and_due_within(self, rw: RequestWorld) -> None:
        """Now is 22 Nov 2026: one overdue (due 2 Nov), one due within 7 days, one later."""
        late = open_(rw, T.ACCESS, rw.world.nl, received_at=datetime(2026, 10, 1, 9, tzinfo=UTC))
        soon = open_(rw, T.ACCESS, rw.world.de, received_at=datetime(2026, 10, 27, 9, tzinfo=UTC))
        later = open_(rw, T.ERASURE, rw.world.de)

        def listed(**kw):
            return [
                r.id
                for r in ops.list_requests(
                    rw.installation, rw.dpo, ops.ListRequests(**kw), clock=rw.world.clock
                )
            ]

        assert listed(overdue=True) == [late.id]
        assert listed(due_within=timedelta(days=7)) == [soon.id]
        assert listed(overdue=True, due_within=timedelta(days=7)) == [late.id, soon.id]
        assert listed() == [late.id, soon.id, later.id]
        assert listed(status="extended") == []

    def test_bad_status(self, rw: RequestWorld) -> None:
        with pytest.raises(BadInput, match="--status must be one of"):
            ops.list_requests(rw.installation, rw.dpo, ops.ListRequests(status="lost"))

    def test_a_country_scoped_dpo_sees_its_countries(self, rw: RequestWorld) -> None:
        open_(rw, T.ACCESS, rw.world.nl)
        found = ops.list_requests(
            rw.installation, rw.dpo2, ops.ListRequests(), clock=rw.world.clock
        )
        assert {r.country for r in found} == {"NL"}

    def test_recruiter_cannot_list(self, rw: RequestWorld) -> None:
        with pytest.raises(AccessDenied):
            ops.list_requests(
                rw.installation, rw.recruiter, ops.ListRequests(), clock=rw.world.clock
            )


def fulfil(rw: RequestWorld, rid: uuid.UUID, principal=None, **kw):
    return ops.fulfil_request(
        rw.installation, principal or rw.dpo, ops.FulfilRequest(rid, **kw), clock=rw.world.clock
    )


class TestAccess:
    def test_package(self, rw: RequestWorld, tmp_path: Path) -> None:
        """JSON and HTML with every section; the document as a file; the request fulfilled."""
        done = verified(rw, T.ACCESS)
        result = fulfil(rw, done.id, out=tmp_path)
        assert result.request.status == "fulfilled"
        folder = tmp_path / f"access-{done.id}"
        assert result.path == folder
        package = json.loads((folder / "package.json").read_text())
        assert package["subject"]["id"] == str(rw.world.nl)
        assert package["subject"]["city"] == "Cluj"
        assert [c["purpose"] for c in package["consents"]] == ["talent_pool"]
        assert package["recipients"] == {
            "processors": ["Acme ATS (hosting)"],
            "connected_systems": ["workday"],
        }
        assert package["retention"]["cite"] and package["retention"]["rule"]
        assert any(p["legal_basis"].startswith("Art. 6(1)(a)") for p in package["purposes"])
        assert {r["article"] for r in package["rights"]} >= {"Art. 15", "Art. 17", "Art. 77"}
        (doc,) = package["documents"]
        assert (folder / doc["file"]).read_bytes() == b"%PDF"
        page = (folder / "index.html").read_text()
        assert "Every access to your data" in page and "<script" not in page
        assert "Cluj" in page

    def test_trail_matches_the_log_and_names_roles_not_people(
        self, rw: RequestWorld, tmp_path: Path
    ) -> None:
        """Every entry about the subject within the checkpoint, in order, with the role."""
        ops_subjects = __import__("retention.operations.subjects", fromlist=["x"])
        ops_subjects.show_candidate(
            rw.installation, rw.recruiter, ops_subjects.ShowCandidate(rw.world.nl, "NL hiring")
        )
        with pytest.raises(AccessDenied):
            ops_subjects.erase_candidate(
                rw.installation, rw.recruiter, ops_subjects.EraseCandidate(rw.world.nl, "x")
            )
        done = verified(rw, T.ACCESS)
        result = fulfil(rw, done.id, out=tmp_path)
        package = json.loads((result.path / "package.json").read_text())
        size = package["checkpoint"]["size"]
        in_log = [r for r in audit_rows(rw.world.engine, subject=rw.world.nl) if r.seq < size]
        trail = package["accesses"]
        assert [a["seq"] for a in trail] == [r.seq for r in in_log]
        assert [a["operation"] for a in trail] == [r.action for r in in_log]
        read = next(a for a in trail if a["operation"] == "candidate.read")
        assert (read["role"], read["reason"], read["outcome"]) == ("recruiter", "NL hiring", "ok")
        denied = next(a for a in trail if a["operation"] == "candidate.erase")
        assert (denied["role"], denied["outcome"]) == ("not authorized", "denied")
        assert trail[-1]["operation"] == "request.fulfil" and trail[-1]["role"] == "dpo"
        text = (result.path / "package.json").read_text() + (result.path / "index.html").read_text()
        for name in ("rita", "dora", str(rw.recruiter.id), str(rw.dpo.id)):
            assert name not in text

    def test_proofs_verify_with_the_reference_tree(self, rw: RequestWorld, tmp_path: Path) -> None:
        """Each proof is the RFC 9162 PATH of the naive tree, whose root the signed note holds."""
        done = verified(rw, T.ACCESS)
        result = fulfil(rw, done.id, out=tmp_path)
        package = json.loads((result.path / "package.json").read_text())
        size = package["checkpoint"]["size"]
        with rw.world.engine.connect() as conn:
            leaves = [
                bytes(h)
                for h in conn.execute(
                    select(audit_entry.c.leaf_hash)
                    .where(audit_entry.c.seq < size)
                    .order_by(audit_entry.c.seq)
                ).scalars()
            ]
        root = ref.mth(leaves)
        import base64

        assert base64.b64encode(root).decode() in package["checkpoint"]["note"]
        assert package["accesses"]
        for access in package["accesses"]:
            proof = InclusionProof.from_json(access["proof"])
            assert proof.root == root and proof.tree_size == size
            assert proof.leaf_hash == leaves[access["seq"]]
            assert list(proof.hashes) == ref.path(access["seq"], leaves)
        # The note is signed by the installation's key.
        from audit_log import Verifier, open_note

        verifier = Verifier.from_string(package["checkpoint"]["verifier_key"])
        open_note(package["checkpoint"]["note"], verifier)

    @pytest.mark.parametrize("whose", ["another entry in the block", "the subject's entry"])
    def test_a_changed_leaf_hash_is_refused_not_proven(
        self, rw: RequestWorld, tmp_path: Path, whose: str
    ) -> None:
        """A leaf hash changed in the database, beside one of the subject's entries (so in the
        hashes its proofs are computed from) or the subject's own, fails the check against the
        signed checkpoint: no package is written and the request stays verified."""
        done = verified(rw, T.ACCESS)
        seqs = {r.seq for r in audit_rows(rw.world.engine, subject=rw.world.nl)}
        first = min(seqs)
        block = range(first >> 4 << 4, (first >> 4 << 4) + 16)
        target = first if whose == "the subject's entry" else next(
            s for s in block if s not in seqs and s < max(seqs)
        )  # fmt: skip
        with rw.world.engine.begin() as conn:
            # Past the append-only triggers, as an attacker with the database would be (this
            # test's database is its own).
            if conn.dialect.name == "sqlite":
                names = conn.exec_driver_sql(
                    "SELECT name FROM sqlite_master WHERE type = 'trigger'"
                    " AND tbl_name = 'audit_entry'"
                ).scalars()
                for name in list(names):
                    conn.exec_driver_sql(f'DROP TRIGGER "{name}"')
            else:
                names = conn.exec_driver_sql(
                    "SELECT t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
                    " WHERE c.relname = 'audit_entry' AND NOT t.tgisinternal"
                ).scalars()
                for name in list(names):
                    conn.exec_driver_sql(f'DROP TRIGGER "{name}" ON audit_entry')
            conn.execute(
                audit_entry.update().where(audit_entry.c.seq == target).values(leaf_hash=bytes(32))
            )
        out = tmp_path / "out"
        out.mkdir()
        with pytest.raises(CheckFailed, match="gdpr audit verify"):
            fulfil(rw, done.id, out=out)
        assert list(out.iterdir()) == []
        assert ops.show_request(rw.installation, rw.dpo, ops.ShowRequest(done.id)).status == (
            "verified"
        )

    def test_out_is_required(self, rw: RequestWorld) -> None:
        done = verified(rw, T.ACCESS)
        with pytest.raises(BadInput, match="--out"):
            fulfil(rw, done.id)

    def test_existing_package_is_never_replaced(self, rw: RequestWorld, tmp_path: Path) -> None:
        done = verified(rw, T.ACCESS)
        (tmp_path / f"access-{done.id}").mkdir()
        with pytest.raises(BadInput, match="already exists"):
            fulfil(rw, done.id, out=tmp_path)

    def test_blocked_subject(self, rw: RequestWorld, tmp_path: Path) -> None:
        """A restricted subject still gets an answer: the DPO reads with the request as reason."""
        done = verified(rw, T.ACCESS, rw.world.blocked)
        assert fulfil(rw, done.id, out=tmp_path).request.status == "fulfilled"


class TestPortability:
    def test_json_and_csv_of_what_the_candidate_provided(
        self, rw: RequestWorld, tmp_path: Path
    ) -> None:
        done = verified(rw, T.PORTABILITY)
        result = fulfil(rw, done.id, out=tmp_path)
        data = json.loads((result.path / "data.json").read_text())
        assert set(data["candidate"]) == {
            "external_ref",
            "first_name",
            "last_name",
            "email",
            "phone",
            "city",
        }
        rows = list(csv.DictReader((result.path / "candidate.csv").open()))
        assert rows[0]["city"] == "Cluj"
        assert (
            next(iter(csv.DictReader((result.path / "applications.csv").open())))["position"]
            == "Engineer"
        )
        assert (result.path / "consents.csv").read_text().startswith("purpose,")
        assert "notes" not in data["candidate"]


class TestErasure:
    def test_needs_a_second_principal(self, rw: RequestWorld) -> None:
        """Not approved: refused; the opener/verifier cannot approve; a second DPO can."""
        done = verified(rw, T.ERASURE)
        with pytest.raises(BadInput, match="second principal's approval"):
            fulfil(rw, done.id)
        with pytest.raises(BadInput, match="second principal"):
            ops.approve_request(
                rw.installation, rw.dpo, ops.ApproveRequest(done.id), clock=rw.world.clock
            )
        ops.approve_request(
            rw.installation, rw.dpo2, ops.ApproveRequest(done.id), clock=rw.world.clock
        )
        result = fulfil(rw, done.id)
        assert result.request.status == "fulfilled"
        assert result.details["applications"] == 1
        with rw.world.engine.connect() as conn:
            assert (
                conn.execute(select(Candidate).where(Candidate.id == rw.world.nl)).first() is None
            )
        erase = audit_rows(rw.world.engine, action="candidate.erase")[-1]
        entry = Entry.decode(bytes(erase.canonical))
        assert entry.reason == f"request {done.id}" and entry.details["request"] == str(done.id)
        assert request_entries(rw, done.id)[-2].action == "request.fulfil"

    def test_legal_hold_refuses_with_art_17_3_e(self, rw: RequestWorld) -> None:
        done = verified(rw, T.ERASURE)
        ops.approve_request(
            rw.installation, rw.dpo2, ops.ApproveRequest(done.id), clock=rw.world.clock
        )
        with transaction(rw.world.engine) as conn:
            conn.execute(
                LegalHold.__table__.insert().values(
                    id=uuid.uuid4(),
                    subject_id=rw.world.nl,
                    case_ref="CASE-1",
                    reason="litigation",
                    placed_by="dpo",
                    placed_at=rw.world.clock(),
                )
            )
        with pytest.raises(CheckFailed, match=r"Art\. 17\(3\)\(e\)"):
            fulfil(rw, done.id)
        shown = ops.show_request(
            rw.installation, rw.dpo, ops.ShowRequest(done.id), clock=rw.world.clock
        )
        assert (shown.status, shown.refusal_ground) == ("refused", HOLD_GROUND)
        assert request_entries(rw, done.id)[-1].action == "request.refuse"
        with rw.world.engine.connect() as conn:
            assert conn.execute(select(Candidate).where(Candidate.id == rw.world.nl)).first()


class TestRectification:
    def test_change_through_the_gateway_names_the_request(self, rw: RequestWorld) -> None:
        done = verified(rw, T.RECTIFICATION)
        result = fulfil(rw, done.id, changes={"city": "Utrecht"})
        assert result.request.status == "fulfilled"
        with rw.world.engine.connect() as conn:
            assert (
                conn.execute(select(Candidate.city).where(Candidate.id == rw.world.nl)).scalar()
                == "Utrecht"
            )
        entry = Entry.decode(
            bytes(audit_rows(rw.world.engine, action="candidate.update")[-1].canonical)
        )
        assert entry.details["request"] == str(done.id) and entry.details["fields"] == ["city"]
        assert "Utrecht" not in json.dumps(dict(entry.details))

    def test_needs_the_fields(self, rw: RequestWorld) -> None:
        done = verified(rw, T.RECTIFICATION)
        with pytest.raises(BadInput, match="names the corrected fields"):
            fulfil(rw, done.id)

    def test_a_bad_value_changes_nothing(self, rw: RequestWorld) -> None:
        done = verified(rw, T.RECTIFICATION)
        with pytest.raises(BadInput):
            fulfil(rw, done.id, changes={"email": "not an address"})
        shown = ops.show_request(
            rw.installation, rw.dpo, ops.ShowRequest(done.id), clock=rw.world.clock
        )
        assert shown.status == "verified"


class TestRestriction:
    def test_blocks_until_lifted(self, rw: RequestWorld) -> None:
        done = verified(rw, T.RESTRICTION)
        assert fulfil(rw, done.id).details == {"blocked": True}

        def blocked_at():
            with rw.world.engine.connect() as conn:
                return conn.execute(
                    select(Candidate.blocked_at).where(Candidate.id == rw.world.nl)
                ).scalar()

        assert blocked_at() is not None
        lifted = ops.lift_restriction(
            rw.installation, rw.dpo, ops.LiftRestriction(done.id), clock=rw.world.clock
        )
        assert lifted.details == {"unblocked": True}
        assert blocked_at() is None
        with pytest.raises(BadInput, match="lifted already"):
            ops.lift_restriction(
                rw.installation, rw.dpo, ops.LiftRestriction(done.id), clock=rw.world.clock
            )
        assert [e.action for e in request_entries(rw, done.id)][-2:] == [
            "request.lift",
            "candidate.unblock",
        ]

    def test_lift_needs_a_fulfilled_restriction(self, rw: RequestWorld) -> None:
        done = verified(rw, T.RESTRICTION)
        with pytest.raises(BadInput, match="not a restriction in force"):
            ops.lift_restriction(
                rw.installation, rw.dpo, ops.LiftRestriction(done.id), clock=rw.world.clock
            )


class TestObjection:
    def test_withdraws_the_purpose_consent(self, rw: RequestWorld) -> None:
        done = verified(rw, T.OBJECTION)
        result = fulfil(rw, done.id, purpose="talent_pool")
        assert result.details == {"purpose": "talent_pool", "withdrawn": 1}
        with rw.world.engine.connect() as conn:
            assert (
                conn.execute(
                    select(Consent.withdrawn_at).where(Consent.candidate_id == rw.world.nl)
                ).scalar()
                == rw.world.clock()
            )

    def test_needs_the_purpose(self, rw: RequestWorld) -> None:
        done = verified(rw, T.OBJECTION)
        with pytest.raises(BadInput, match="--purpose"):
            fulfil(rw, done.id)

    def test_no_such_consent_changes_nothing(self, rw: RequestWorld) -> None:
        done = verified(rw, T.OBJECTION)
        with pytest.raises(BadInput, match="no consent for marketing"):
            fulfil(rw, done.id, purpose="marketing")
        shown = ops.show_request(
            rw.installation, rw.dpo, ops.ShowRequest(done.id), clock=rw.world.clock
        )
        assert shown.status == "verified"
