"""receive_event: Greenhouse's documented payloads and Standard Webhooks events, signed with test
secrets, verified over their raw bytes, deduplicated and applied as far as the rules allow."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from audit_log.schema import audit_entry
from retention.install import Installation
from retention.operations import ReceiptStatus, receive_event
from retention.store import Application, Candidate, transaction
from retention.sweep import place_hold
from retention.sweep.anonymization import Anonymizer, anonymize
from retention.sweep.deletion import block
from retention.testing import FixedClock
from tests.integration_support import (
    GREENHOUSE_SECRET,
    WHSEC,
    WHSEC_OLD,
    Post,
    greenhouse_body,
    post_generic,
    post_greenhouse,
    sources,
    standard_headers,
    write_private,
)

__all__ = ["post_generic", "post_greenhouse", "sources"]  # fixtures


def candidate(inst: Installation, ref: str) -> dict | None:
    with transaction(inst.engine) as conn:
        row = conn.execute(
            select(Candidate.__table__).where(Candidate.__table__.c.external_ref == ref)
        ).one_or_none()
        return None if row is None else dict(row._mapping)


def applications(inst: Installation, subject: uuid.UUID) -> list[dict]:
    t = Application.__table__
    with transaction(inst.engine) as conn:
        return [
            dict(r._mapping) for r in conn.execute(select(t).where(t.c.candidate_id == subject))
        ]


def entries(inst: Installation, action: str) -> list[dict]:
    with transaction(inst.engine) as conn:
        rows = conn.execute(
            select(audit_entry.c.canonical).where(audit_entry.c.action == action)
        ).scalars()
        return [json.loads(r) for r in rows]


def all_audit_bytes(inst: Installation) -> bytes:
    with transaction(inst.engine) as conn:
        return b"\n".join(conn.execute(select(audit_entry.c.canonical)).scalars())


# (payload, candidate id at the source, status, application status, position)
EXAMPLES = [
    ("candidate_stage_change", "265772", "in_process", "in_process", "Designer"),
    ("new_candidate_application", "60304594", "in_process", "in_process", "Data Scientist"),
    ("new_prospect_application", "968190", "in_process", "in_process", "Designer"),
    ("application_updated", "13857579", "in_process", "in_process", "unspecified"),
    ("reject_candidate", "265788", "rejected", "rejected", "Designer"),
    ("unreject_candidate", "265788", "in_process", "in_process", "Designer"),
    ("hire_candidate", "35897443", "hired", "hired", "Developer"),
    ("unhire_candidate", "265788", "in_process", "in_process", "Designer"),
]


class TestGreenhouseExamples:
    @pytest.mark.parametrize(("name", "source_id", "status", "app_status", "position"), EXAMPLES)
    def test_each_example_maps_to_its_state(
        self,
        sources: Installation,
        post_greenhouse: Post,
        name,
        source_id,
        status,
        app_status,
        position,
    ) -> None:
        """Each documented application event creates the subject with its status and application."""
        receipt = post_greenhouse(greenhouse_body(name))
        assert receipt.status is ReceiptStatus.ACCEPTED and receipt.effect == "created"
        row = candidate(sources, f"greenhouse:{source_id}")
        assert row is not None
        assert (row["status"], row["country"]) == (status, "NL")
        assert str(row["id"]) == receipt.subject
        apps = applications(sources, row["id"])
        assert [(a["status"], a["position"]) for a in apps] == [(app_status, position)]
        if status == "rejected":
            assert row["decided_at"] is not None and row["decided_at"].year == 2015

    def test_personal_fields_come_from_the_payload(
        self, sources: Installation, post_greenhouse: Post
    ) -> None:
        post_greenhouse(greenhouse_body("candidate_stage_change"))
        row = candidate(sources, "greenhouse:265772")
        assert row is not None
        assert (row["first_name"], row["last_name"]) == ("Giuseppe", "Hurley")
        assert (row["email"], row["phone"]) == ("giuseppe.hurley@example.com", "330-281-8004")

    def test_update_candidate_changes_the_known_subject(
        self, sources: Installation, post_greenhouse: Post
    ) -> None:
        post_greenhouse(greenhouse_body("candidate_stage_change"))
        body = greenhouse_body("update_candidate", payload__candidate__id=265772)
        receipt = post_greenhouse(body)
        assert receipt.effect == "updated"
        row = candidate(sources, "greenhouse:265772")
        assert row is not None and (row["first_name"], row["email"]) == (
            "Ronald",
            "123456email@email.com",
        )
        assert len(applications(sources, row["id"])) == 1

    def test_reject_then_unreject_at_the_same_instant(
        self, sources: Installation, post_greenhouse: Post
    ) -> None:
        """Unreject carries the same last_activity_at as the reject: not older, so applied."""
        post_greenhouse(greenhouse_body("reject_candidate"))
        post_greenhouse(greenhouse_body("unreject_candidate"))
        row = candidate(sources, "greenhouse:265788")
        assert row is not None and row["status"] == "in_process" and row["decided_at"] is None

    def test_delete_candidate_erases_and_is_audited_as_deleted_at_the_source(
        self, sources: Installation, post_greenhouse: Post
    ) -> None:
        created = post_greenhouse(greenhouse_body("reject_candidate"))
        body = greenhouse_body("delete_candidate", payload__person__id=265788)
        receipt = post_greenhouse(body)
        assert receipt.effect == "erased" and receipt.subject == created.subject
        assert candidate(sources, "greenhouse:265788") is None
        (entry,) = entries(sources, "candidate.erase")
        assert entry["subject"] == created.subject
        assert entry["actor"] == "integration:greenhouse"
        assert entry["reason"] == "deleted at the source"
        assert entry["details"]["deleted_at_source"] is True

    def test_an_erased_subject_does_not_come_back(
        self, sources: Installation, post_greenhouse: Post
    ) -> None:
        """After delete_candidate, a late event about the same person is refused, not re-created."""
        post_greenhouse(greenhouse_body("reject_candidate"))
        post_greenhouse(greenhouse_body("delete_candidate", payload__person__id=265788))
        receipt = post_greenhouse(greenhouse_body("unhire_candidate"))
        assert receipt.effect == "refused"
        assert candidate(sources, "greenhouse:265788") is None

    def test_merge_folds_the_duplicate_into_the_survivor(
        self, sources: Installation, post_greenhouse: Post
    ) -> None:
        post_greenhouse(greenhouse_body("reject_candidate"))  # 265788
        post_greenhouse(greenhouse_body("candidate_stage_change"))  # 265772
        body = greenhouse_body(
            "merge_candidate", payload__person__id=265788, payload__person__new_candidate_id=265772
        )
        receipt = post_greenhouse(body)
        assert receipt.effect == "merged"
        assert candidate(sources, "greenhouse:265788") is None
        survivor = candidate(sources, "greenhouse:265772")
        assert survivor is not None and str(survivor["id"]) == receipt.subject
        assert len(applications(sources, survivor["id"])) == 2

    def test_candidate_anonymized_at_the_source_clears_those_fields(
        self, sources: Installation, post_greenhouse: Post
    ) -> None:
        post_greenhouse(greenhouse_body("reject_candidate"))
        body = greenhouse_body("candidate_anonymized", payload__candidate_id=265788)
        assert post_greenhouse(body).effect == "anonymized"
        row = candidate(sources, "greenhouse:265788")
        assert row is not None and (row["first_name"], row["last_name"]) == (None, None)
        assert row["email"] is not None  # only full_name and current_title were anonymized

    def test_ping_and_events_of_no_concern_are_acknowledged(
        self, sources: Installation, post_greenhouse: Post
    ) -> None:
        for name in ("ping", "offer_created"):
            receipt = post_greenhouse(greenhouse_body(name))
            assert receipt.status is ReceiptStatus.ACCEPTED and receipt.effect == "ignored"


class TestRefusals:
    def test_a_flipped_byte_is_refused_and_audited_without_the_payload(
        self, sources: Installation, post_greenhouse: Post
    ) -> None:
        body = greenhouse_body("candidate_stage_change")
        from retention.integration import greenhouse_signature

        signature = greenhouse_signature(GREENHOUSE_SECRET, body)
        flipped = bytearray(body)
        flipped[len(flipped) // 2] ^= 0x01
        receipt = post_greenhouse(bytes(flipped), signature=signature)
        assert receipt.status is ReceiptStatus.UNAUTHENTICATED
        assert candidate(sources, "greenhouse:265772") is None
        (entry,) = entries(sources, "integration.refused")
        assert entry["outcome"] == "denied" and entry["reason"] == "signature mismatch"
        assert b"Hurley" not in all_audit_bytes(sources)

    def test_a_wrong_secret_is_refused(self, sources: Installation, post_greenhouse: Post) -> None:
        receipt = post_greenhouse(
            greenhouse_body("candidate_stage_change"), secret="another-secret-of-32-characters-xx"
        )
        assert receipt.status is ReceiptStatus.UNAUTHENTICATED

    def test_an_unknown_source_is_refused(self, sources: Installation, clock: FixedClock) -> None:
        receipt = receive_event(sources, "workday", {}, b"{}", clock=clock)
        assert receipt.status is ReceiptStatus.UNAUTHENTICATED
        assert entries(sources, "integration.refused")[0]["reason"] == "unknown source"

    def test_a_verified_body_that_is_not_an_event_is_malformed(
        self, sources: Installation, post_greenhouse: Post
    ) -> None:
        receipt = post_greenhouse(b'{"action": "update_candidate", "payload": {"candidate": 7}}')
        assert receipt.status is ReceiptStatus.MALFORMED
        assert post_greenhouse(b"not json").status is ReceiptStatus.MALFORMED

    def test_a_replayed_delivery_id_is_acknowledged_without_acting(
        self, sources: Installation, post_greenhouse: Post
    ) -> None:
        first = post_greenhouse(greenhouse_body("reject_candidate"), "evt-1")
        with transaction(sources.engine) as conn:
            size = conn.execute(select(func.count()).select_from(audit_entry)).scalar_one()
        # The same delivery again, even with another body: nothing is applied a second time.
        again = post_greenhouse(greenhouse_body("unreject_candidate"), "evt-1")
        assert first.status is ReceiptStatus.ACCEPTED and again.status is ReceiptStatus.DUPLICATE
        row = candidate(sources, "greenhouse:265788")
        assert row is not None and row["status"] == "rejected"
        with transaction(sources.engine) as conn:
            assert conn.execute(select(func.count()).select_from(audit_entry)).scalar_one() == size

    def test_an_older_event_does_not_overwrite_newer_state(
        self, sources: Installation, post_greenhouse: Post
    ) -> None:
        """unhire (2015-03-18) then a reject from 2015-02-11 arriving late: the reject is stale."""
        post_greenhouse(greenhouse_body("unhire_candidate"))
        receipt = post_greenhouse(greenhouse_body("reject_candidate"))
        assert receipt.effect == "stale"
        row = candidate(sources, "greenhouse:265788")
        assert row is not None and row["status"] == "in_process"

    def test_no_personal_data_re_enters_an_anonymized_subject(
        self, sources: Installation, post_greenhouse: Post, clock: FixedClock
    ) -> None:
        created = post_greenhouse(greenhouse_body("reject_candidate"))
        subject = uuid.UUID(created.subject)
        with transaction(sources.engine) as conn:
            anonymize(conn, [(subject, "NL")], at=clock(), anonymizer=Anonymizer())
        receipt = post_greenhouse(
            greenhouse_body("update_candidate", payload__candidate__id=265788)
        )
        assert receipt.effect == "refused" and "anonymized" in (receipt.reason or "")
        with transaction(sources.engine) as conn:
            row = conn.execute(
                select(Candidate.__table__).where(Candidate.__table__.c.id == subject)
            ).one()
        assert row.first_name != "Ronald" and row.email.endswith("@invalid.example")
        assert row.external_ref is None

    def test_a_blocked_subject_takes_no_changes(
        self, sources: Installation, post_greenhouse: Post, clock: FixedClock
    ) -> None:
        created = post_greenhouse(greenhouse_body("reject_candidate"))
        with transaction(sources.engine) as conn:
            block(conn, [uuid.UUID(created.subject)], at=clock())
        receipt = post_greenhouse(
            greenhouse_body("update_candidate", payload__candidate__id=265788)
        )
        assert receipt.effect == "refused"
        row = candidate(sources, "greenhouse:265788")
        assert row is not None and row["first_name"] != "Ronald"

    def test_a_held_subject_is_not_erased_nor_overwritten(
        self, sources: Installation, post_greenhouse: Post, clock: FixedClock
    ) -> None:
        created = post_greenhouse(greenhouse_body("reject_candidate"))
        subject = uuid.UUID(created.subject)
        with transaction(sources.engine) as conn:
            place_hold(
                conn, subject, case_ref="CASE-9", reason="litigation", actor="dpo", clock=clock
            )
        update = post_greenhouse(greenhouse_body("update_candidate", payload__candidate__id=265788))
        assert update.effect == "updated"
        deleted = post_greenhouse(greenhouse_body("delete_candidate", payload__person__id=265788))
        assert deleted.effect == "refused" and "legal hold" in (deleted.reason or "")
        row = candidate(sources, "greenhouse:265788")
        assert row is not None and row["first_name"] != "Ronald"

    def test_a_secret_file_others_can_read_is_refused(
        self, sources: Installation, post_greenhouse: Post
    ) -> None:
        (sources.config.data_dir / "greenhouse.secret").chmod(0o644)
        receipt = post_greenhouse(greenhouse_body("reject_candidate"))
        assert receipt.status is ReceiptStatus.UNAUTHENTICATED
        assert receipt.reason == "secret unusable"


def generic(kind: str = "candidate.updated", **data) -> dict:
    return {
        "type": kind,
        "timestamp": "2026-11-22T11:00:00Z",
        "data": {
            "candidate": {
                "id": "lv-1",
                "firstName": "Mara",
                "lastName": "Ionescu",
                "email": "mara@example.org",
            },
            **data,
        },
    }


class TestStandardWebhooks:
    def test_a_signed_event_creates_the_subject_with_mapped_fields(
        self, sources: Installation, post_generic: Post
    ) -> None:
        receipt = post_generic(
            generic(
                application={
                    "id": "a-1",
                    "position": "Analyst",
                    "status": "rejected",
                    "decided_at": "2026-11-01T10:00:00Z",
                }
            )
        )
        assert receipt.effect == "created"
        row = candidate(sources, "lever:lv-1")
        assert row is not None
        assert (row["first_name"], row["last_name"], row["country"]) == ("Mara", "Ionescu", "DE")
        assert row["status"] == "rejected"

    @pytest.mark.parametrize(
        ("minutes", "accepted"), [(-4, True), (4, True), (-6, False), (6, False)]
    )
    def test_timestamp_tolerance_is_five_minutes(
        self, post_generic: Post, clock: FixedClock, minutes: int, accepted: bool
    ) -> None:
        receipt = post_generic(generic(), at=clock() + timedelta(minutes=minutes))
        assert receipt.acknowledged is accepted
        if not accepted:
            assert receipt.reason == "timestamp outside tolerance"

    def test_rotation_the_sender_signs_with_old_and_new(self, post_generic: Post) -> None:
        """During rotation webhook-signature holds both signatures; the receiver knows the new."""
        assert post_generic(generic(), secrets=[WHSEC_OLD, WHSEC]).status is ReceiptStatus.ACCEPTED
        assert post_generic(generic(), secrets=[WHSEC_OLD]).status is ReceiptStatus.UNAUTHENTICATED

    def test_rotation_the_receiver_knows_both(
        self, sources: Installation, post_generic: Post
    ) -> None:
        write_private(sources.config.data_dir / "lever.secret", f"{WHSEC}\n{WHSEC_OLD}\n")
        assert post_generic(generic(), secrets=[WHSEC_OLD]).status is ReceiptStatus.ACCEPTED

    def test_the_library_verifies_what_the_engine_accepts(
        self, sources: Installation, clock: FixedClock
    ) -> None:
        """Headers made by the standardwebhooks library, checked by it too (its own clock)."""
        from datetime import UTC, datetime

        from standardwebhooks.webhooks import Webhook

        body = json.dumps(generic()).encode()
        now = datetime.now(UTC)
        headers = standard_headers(body, [WHSEC], now)
        Webhook(WHSEC).verify(body, headers)
        assert receive_event(sources, "lever", headers, body, clock=lambda: now).acknowledged

    def test_replayed_webhook_id(self, post_generic: Post) -> None:
        assert post_generic(generic(), msg_id="msg_1").status is ReceiptStatus.ACCEPTED
        assert post_generic(generic(), msg_id="msg_1").status is ReceiptStatus.DUPLICATE

    def test_deleted_and_older_events(self, sources: Installation, post_generic: Post) -> None:
        post_generic(generic())
        older = generic()
        older["timestamp"] = "2026-11-20T00:00:00Z"
        older["data"]["candidate"]["firstName"] = "Old"
        assert post_generic(older).effect == "stale"
        assert post_generic(generic("candidate.deleted")).effect == "erased"
        assert candidate(sources, "lever:lv-1") is None

    def test_a_wrong_type_is_malformed(self, post_generic: Post) -> None:
        assert post_generic(generic("candidate.exploded")).status is ReceiptStatus.MALFORMED
