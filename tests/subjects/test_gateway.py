"""The gateway: every read, export, change and erasure authorized per operation and audited."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from retention.access import grants
from retention.errors import AccessDenied, BadInput, CheckFailed, NotFound
from retention.store import Candidate, Document, LegalHold, is_postgresql, transaction
from retention.subjects import Gateway
from retention.subjects.gateway import _find_clause
from retention.sweep.anonymization import Anonymizer, anonymize
from tests.access_support import (
    World,
    audit_count,
    audit_rows,
    create_enrolled,
    snapshot,
)


def gateway(world: World, who: str) -> Gateway:
    issued = getattr(world, who)
    return Gateway(
        world.engine, issued.principal_id, world.installation.config.documents_dir, world.clock
    )


class TestRead:
    def test_recruiter_reads_own_country_after_audit(self, world: World) -> None:
        """A NL recruiter reads a NL candidate; the entry names the subject and the grant."""
        data = gateway(world, "recruiter").show(world.nl)
        assert data["id"] == world.nl and data["country"] == "NL"
        entry = audit_rows(world.engine, action="candidate.read")[-1]
        assert entry.subject == world.nl and entry.outcome == "ok"
        details = json.loads(entry.canonical)["details"]
        assert details["allowed_by"] == str(world.recruiter_grant)

    def test_recruiter_outside_its_countries_is_denied(self, world: World) -> None:
        """A NL recruiter reading a DE candidate is denied, audited, and gets no data."""
        with pytest.raises(AccessDenied) as exc:
            gateway(world, "recruiter").show(world.de)
        assert exc.value.message == (
            f"access denied: candidate:read on subject {world.de}: grant "
            f"{world.recruiter_grant} (recruiter) covers NL, not DE"
        )
        entry = audit_rows(world.engine, subject=world.de)[-1]
        assert (entry.action, entry.outcome) == ("candidate.read", "denied")

    def test_admin_cannot_read_personal_data(self, world: World) -> None:
        """The admin role holds no candidate:read: denied and audited."""
        with pytest.raises(AccessDenied, match="no grant gives candidate:read"):
            gateway(world, "admin").show(world.nl)
        assert audit_rows(world.engine, subject=world.nl)[-1].outcome == "denied"

    def test_unknown_subject(self, world: World) -> None:
        """An unknown id is denied to a scoped recruiter and not found (audited) for the DPO."""
        import uuid

        ghost = uuid.uuid4()
        with pytest.raises(AccessDenied):
            gateway(world, "recruiter").show(ghost)
        with pytest.raises(NotFound):
            gateway(world, "dpo").show(ghost)
        assert [r.outcome for r in audit_rows(world.engine, subject=ghost)] == ["denied", "error"]

    def test_grant_expiring_mid_command_stops_it(self, world: World) -> None:
        """Grants are checked per operation: after expiry the next read is denied."""
        gw = gateway(world, "recruiter")
        gw.show(world.nl)
        world.clock.advance(timedelta(days=30))
        with pytest.raises(AccessDenied, match="expired"):
            gw.show(world.nl)

    def test_disabled_principal_is_stopped_at_next_operation(self, world: World) -> None:
        """Disabling takes effect for an already authenticated gateway at its next operation."""
        from retention.access import principals

        gw = gateway(world, "recruiter")
        principals.disable_principal(
            world.engine, world.admin.principal_id, "rita", "left", clock=world.clock
        )
        world.clock.advance(timedelta(seconds=1))
        with pytest.raises(AccessDenied, match="the principal is disabled"):
            gw.show(world.nl)


class TestBlocked:
    def test_blocked_subject_needs_dpo_with_reason(self, world: World) -> None:
        """Recruiters and a DPO without reason are denied; the DPO with a reason reads it."""
        with pytest.raises(AccessDenied, match="blocked"):
            gateway(world, "recruiter").show(world.blocked, reason="need it")
        with pytest.raises(AccessDenied, match="blocked"):
            gateway(world, "dpo").show(world.blocked)
        data = gateway(world, "dpo").show(world.blocked, reason="ticket DSR-7")
        assert data["id"] == world.blocked
        entries = audit_rows(world.engine, subject=world.blocked)
        assert [e.outcome for e in entries] == ["denied", "denied", "ok"]
        assert json.loads(entries[-1].canonical)["reason"] == "ticket DSR-7"


class TestFind:
    def test_find_returns_only_readable_matches(self, world: World) -> None:
        """A match outside the recruiter's countries is withheld and audited as denied."""
        with transaction(world.engine) as conn:
            email = conn.execute(select(Candidate.email).where(Candidate.id == world.de)).scalar()
            conn.execute(
                Candidate.__table__.update()
                .where(Candidate.__table__.c.id == world.nl)
                .values(email=email)
            )
        found = gateway(world, "recruiter").find(email=email.upper())
        assert [d["id"] for d in found] == [world.nl]
        assert audit_rows(world.engine, subject=world.de)[-1].outcome == "denied"
        assert audit_rows(world.engine, subject=world.nl)[-1].action == "candidate.find"

    def test_admin_cannot_search(self, world: World) -> None:
        """A principal without candidate:read anywhere is denied before any search."""
        with pytest.raises(AccessDenied):
            gateway(world, "admin").find(external_ref="ATS-1")

    def test_email_search_is_served_by_the_partial_index(self, world: World) -> None:
        """The search's clause is the one `ix_candidate_email_lower` indexes, on each backend."""
        query = select(Candidate.id).where(_find_clause("Someone@Example.org", None))
        with transaction(world.engine) as conn:
            sql = str(query.compile(conn, compile_kwargs={"literal_binds": True}))
            if is_postgresql(conn):
                conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
                plan = " ".join(r[0] for r in conn.exec_driver_sql("EXPLAIN " + sql))
            else:
                plan = " ".join(r[3] for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql))
        assert "ix_candidate_email_lower" in plan

    def test_anonymized_subject_is_not_found_by_its_placeholder(self, world: World) -> None:
        """An anonymized subject's address is a placeholder: searching for it finds no one."""
        with transaction(world.engine) as conn:
            anonymize(conn, [(world.nl, "NL")], at=world.clock(), anonymizer=Anonymizer())
            email = conn.execute(select(Candidate.email).where(Candidate.id == world.nl)).scalar()
        assert email is not None and email.endswith("@invalid.example")
        assert gateway(world, "recruiter").find(email=email) == []

    @pytest.mark.parametrize(
        "kwargs",
        [
            {"email": "x' OR 1=1 --"},
            {"email": "a@" + "b" * 400},
            {"external_ref": "r" * 129},
            {"external_ref": "a b"},
            {},
        ],
    )
    def test_bad_search_terms(self, world: World, kwargs: dict[str, str]) -> None:
        """Malformed or huge search terms are bad input and touch nothing."""
        before = audit_count(world.engine)
        with pytest.raises(BadInput):
            gateway(world, "recruiter").find(**kwargs)
        assert audit_count(world.engine) == before


class TestExport:
    def test_export_writes_everything_and_records_hash(self, world: World, tmp_path: Path) -> None:
        """The export holds the record, applications, consents, documents; the entry its hash."""
        out = tmp_path / "export.json"
        result = gateway(world, "dpo").export(world.nl, out, reason="DSR-1")
        data = out.read_bytes()
        assert hashlib.sha256(data).hexdigest() == result.sha256
        doc = json.loads(data)
        assert doc["subject"]["id"] == str(world.nl)
        assert len(doc["applications"]) == len(doc["consents"]) == len(doc["documents"]) == 1
        assert doc["documents"][0]["sha256"] == "ab" * 32
        entry = audit_rows(world.engine, action="candidate.export")[-1]
        assert json.loads(entry.canonical)["details"]["sha256"] == result.sha256
        assert oct(out.stat().st_mode & 0o777) == "0o600"

    def test_recruiter_cannot_export(self, world: World, tmp_path: Path) -> None:
        """Export needs candidate:export: a recruiter is denied and no file appears."""
        (tmp_path / "out").mkdir()
        out = tmp_path / "out" / "export.json"
        with pytest.raises(AccessDenied):
            gateway(world, "recruiter").export(world.nl, out)
        assert list(out.parent.iterdir()) == []

    def test_existing_file_is_not_overwritten(self, world: World, tmp_path: Path) -> None:
        """An existing --out file is refused before anything happens."""
        out = tmp_path / "x.json"
        out.write_text("keep")
        with pytest.raises(BadInput, match="already exists"):
            gateway(world, "dpo").export(world.nl, out)
        assert out.read_text() == "keep"


class TestUpdate:
    def test_update_contact_fields_audits_names_not_values(self, world: World) -> None:
        """A change is made and audited with the field names only."""
        data = gateway(world, "recruiter").update(world.nl, {"city": "Utrecht", "phone": ""})
        assert data["city"] == "Utrecht" and data["phone"] is None
        entry = audit_rows(world.engine, action="candidate.update")[-1]
        assert json.loads(entry.canonical)["details"]["fields"] == ["city", "phone"]
        assert b"Utrecht" not in entry.canonical

    @pytest.mark.parametrize(
        "changes",
        [
            {"city": "c" * 201},
            {"email": "no-at-sign"},
            {"notes": "x"},
            {},
            {"city": "a\nb"},
            {"email": "@@"},
            {"email": "a b@c.example"},
            {"email": "x@y@z.example"},
            {"phone": "=1+1"},
            {"city": "=HYPERLINK(1)"},
            {"first_name": "An\x00a"},
        ],
    )
    def test_bad_changes_change_nothing(self, world: World, changes: dict[str, str]) -> None:
        """Over-long, malformed or non-contact fields are refused; nothing changes."""
        before = snapshot(world.engine)
        with pytest.raises(BadInput):
            gateway(world, "recruiter").update(world.nl, changes)
        assert snapshot(world.engine) == before

    @pytest.mark.parametrize(
        ("changes", "message"),
        [
            ({"email": "x@y@z.example"}, "--email is not a valid address"),
            ({"city": "=cmd"}, "--city looks like a spreadsheet formula"),
            ({"phone": "12"}, "--phone is not a valid phone number"),
            ({"last_name": "A\x00"}, "--last-name holds control characters"),
        ],
    )
    def test_update_refuses_what_the_import_refuses(
        self, world: World, changes: dict[str, str], message: str
    ) -> None:
        """The import's field rules hold for updates, with the option named in the message."""
        with pytest.raises(BadInput) as info:
            gateway(world, "recruiter").update(world.nl, changes)
        assert info.value.message == message

    def test_anonymized_subject_gets_no_personal_data_again(self, world: World) -> None:
        """Updating an anonymized subject is refused and changes nothing."""
        with transaction(world.engine) as conn:
            anonymize(conn, [(world.nl, "NL")], at=world.clock(), anonymizer=Anonymizer())
        before = snapshot(world.engine)
        with pytest.raises(BadInput) as info:
            gateway(world, "dpo").update(world.nl, {"email": "real.person@example.com"})
        assert info.value.message == (
            f"subject {world.nl} is anonymized: its contact fields stay empty"
        )
        assert snapshot(world.engine) == before

    def test_sql_metacharacters_are_stored_verbatim(self, world: World) -> None:
        """Values are parameters: SQL in a field is just text."""
        text = "Robert'); DROP TABLE candidate;--"
        data = gateway(world, "recruiter").update(world.nl, {"last_name": text})
        assert data["last_name"] == text

    def test_write_only_principal_gets_field_names_not_the_record(self, world: World) -> None:
        """Without candidate:read, update returns the id and field names, never values."""
        bot = create_enrolled(world.engine, world.admin.principal_id, "ats-sync", world.clock)
        g = grants.grant_access(
            world.engine,
            world.admin.principal_id,
            "ats-sync",
            "integration",
            "NL",
            "30d",
            "ATS sync",
            clock=world.clock,
        )
        grants.approve_grant(world.engine, world.dpo.principal_id, str(g.id), clock=world.clock)
        writer = Gateway(
            world.engine, bot.principal_id, world.installation.config.documents_dir, world.clock
        )
        data = writer.update(world.nl, {"city": "Amsterdam"})
        assert data == {"id": world.nl, "updated": ["city"]}
        details = json.loads(audit_rows(world.engine, action="candidate.update")[-1].canonical)[
            "details"
        ]
        assert (details["returned"], "read_allowed_by" in details) == ("fields", False)
        # A reader still gets the record, and the entry says the record was returned.
        gateway(world, "recruiter").update(world.nl, {"city": "Delft"})
        details = json.loads(audit_rows(world.engine, action="candidate.update")[-1].canonical)[
            "details"
        ]
        assert details["read_allowed_by"] == str(world.recruiter_grant)

    def test_denied_update_changes_nothing(self, world: World) -> None:
        """A recruiter updating outside its country changes nothing and is audited."""
        before = snapshot(world.engine)
        with pytest.raises(AccessDenied):
            gateway(world, "recruiter").update(world.de, {"city": "Berlin"})
        assert snapshot(world.engine) == before
        assert audit_rows(world.engine, subject=world.de)[-1].outcome == "denied"


class TestErase:
    def test_erase_deletes_rows_then_files(self, world: World) -> None:
        """Erasure deletes the subject's rows and, after commit, its document files."""
        docs = world.installation.config.documents_dir
        with world.engine.connect() as conn:
            doc_id = conn.execute(
                select(Document.id).where(Document.candidate_id == world.nl)
            ).scalar_one()
        (docs / str(doc_id)).write_bytes(b"cv!")
        done = gateway(world, "dpo").erase(world.nl, reason="Art. 17 request DSR-9")
        assert (done.applications, done.consents, done.documents, done.files_removed) == (
            1,
            1,
            1,
            1,
        )
        assert not (docs / str(doc_id)).exists()
        with world.engine.connect() as conn:
            assert conn.execute(select(Candidate).where(Candidate.id == world.nl)).first() is None
        assert audit_rows(world.engine, subject=world.nl)[-1].action == "candidate.erase"

    def test_erase_under_legal_hold_is_refused(self, world: World) -> None:
        """An active legal hold suspends erasure: exit-1 refusal, audited, nothing deleted."""
        with transaction(world.engine) as conn:
            conn.execute(
                LegalHold.__table__.insert().values(
                    id=__import__("uuid").uuid4(),
                    subject_id=world.nl,
                    case_ref="C-1",
                    reason="litigation",
                    placed_by="dpo",
                    placed_at=world.clock(),
                )
            )
        before = snapshot(world.engine)
        with pytest.raises(CheckFailed, match="legal hold"):
            gateway(world, "dpo").erase(world.nl, reason="request")
        assert snapshot(world.engine) == before
        assert audit_rows(world.engine, subject=world.nl)[-1].outcome == "denied"

    def test_recruiter_cannot_erase(self, world: World) -> None:
        """Erasure needs candidate:erase."""
        with pytest.raises(AccessDenied):
            gateway(world, "recruiter").erase(world.nl, reason="request")
