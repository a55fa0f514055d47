"""The subject operations called directly: the gateway authorizes and audits inside them."""

from __future__ import annotations

import pytest

from retention.access import PrincipalView
from retention.errors import AccessDenied
from retention.install import Installation
from retention.operations import subjects as ops
from retention.results import json_data
from retention.testing import FixedClock
from tests.access_support import World, audit_rows, build_world, snapshot


@pytest.fixture
def world(installation: Installation, clock: FixedClock) -> World:
    return build_world(installation, clock)


def as_principal(issued) -> PrincipalView:
    return PrincipalView(issued.principal_id, issued.name)


class TestAuthorizationInside:
    def test_show_without_candidate_read(self, world: World) -> None:
        """An admin (no candidate:read) gets nothing; the attempt is on the record."""
        with pytest.raises(AccessDenied, match="no grant gives candidate:read"):
            ops.show_candidate(
                world.installation, as_principal(world.admin), ops.ShowCandidate(world.nl)
            )
        entry = audit_rows(world.engine, action="candidate.read", subject=world.nl)[-1]
        assert (entry.actor, entry.outcome) == (str(world.admin.principal_id), "denied")

    def test_update_outside_country(self, world: World) -> None:
        """A NL recruiter changing a DE subject is denied and nothing changes."""
        before = snapshot(world.engine)
        request = ops.UpdateCandidate(world.de, {"city": "Berlin"})
        with pytest.raises(AccessDenied, match="covers NL, not DE"):
            ops.update_candidate(world.installation, as_principal(world.recruiter), request)
        assert snapshot(world.engine) == before
        assert audit_rows(world.engine, subject=world.de)[-1].outcome == "denied"

    def test_erase_without_candidate_erase(self, world: World) -> None:
        """A recruiter cannot erase, even in its own country."""
        before = snapshot(world.engine)
        with pytest.raises(AccessDenied, match="candidate:erase"):
            ops.erase_candidate(
                world.installation, as_principal(world.recruiter), ops.EraseCandidate(world.nl, "x")
            )
        assert snapshot(world.engine) == before

    def test_consent_without_consent_write(self, world: World) -> None:
        """An admin recording a consent is denied, audited as consent.record, no row added."""
        before = snapshot(world.engine)
        request = ops.RecordConsent(world.nl, "talent_pool", "v2", "web form")
        with pytest.raises(AccessDenied):
            ops.record_consent(world.installation, as_principal(world.admin), request)
        assert snapshot(world.engine) == before
        assert audit_rows(world.engine, action="consent.record")[-1].outcome == "denied"


class TestResults:
    def test_show_renders_the_record(self, world: World) -> None:
        """The record renders as an object with its columns, instants with Z."""
        record = ops.show_candidate(
            world.installation,
            as_principal(world.recruiter),
            ops.ShowCandidate(world.nl),
            clock=world.clock,
        )
        data = json_data(record)
        assert isinstance(data, dict) and data["id"] == str(world.nl) and data["country"] == "NL"
        assert data["applied_at"].endswith("Z")

    def test_consents_record_and_list(self, world: World) -> None:
        """A recorded consent renders as an object; the history is one array."""
        rec = as_principal(world.recruiter)
        request = ops.RecordConsent(world.nl, "talent_pool", "2026-03", "web form", "24m")
        row = json_data(ops.record_consent(world.installation, rec, request, clock=world.clock))
        assert isinstance(row, dict) and row["notice_version"] == "2026-03"
        assert row["expires_at"].endswith("Z") and row["withdrawn_at"] is None
        listed = json_data(ops.list_consents(world.installation, rec, ops.ListConsents(world.nl)))
        assert isinstance(listed, list) and len(listed) == 2
        done = ops.withdraw_consent(
            world.installation, rec, ops.WithdrawConsent(world.nl, "talent_pool")
        )
        assert json_data(done) == {
            "subject": str(world.nl),
            "purpose": "talent_pool",
            "withdrawn": 2,
        }


class TestUpsert:
    def test_create_then_update_by_external_ref(self, world: World) -> None:
        rita = as_principal(world.recruiter)
        request = ops.UpsertCandidate("ATS-100", "nl", {"city": "Delft"})
        created = ops.upsert_candidate(world.installation, rita, request, clock=world.clock)
        assert created.created and created.candidate.fields["country"] == "NL"
        entry = audit_rows(world.engine, action="candidate.create")[-1]
        assert (entry.outcome, entry.subject) == ("ok", created.candidate.id)
        again = ops.upsert_candidate(
            world.installation,
            rita,
            ops.UpsertCandidate("ATS-100", "NL", {"city": "Leiden"}),
            clock=world.clock,
        )
        assert not again.created
        assert again.candidate.id == created.candidate.id
        assert again.candidate.fields["city"] == "Leiden"
        assert again.candidate.version != created.candidate.version

    def test_create_elsewhere_is_denied_and_adds_nothing(self, world: World) -> None:
        before = snapshot(world.engine)
        request = ops.UpsertCandidate("ATS-200", "DE", {"city": "Bonn"})
        with pytest.raises(AccessDenied):
            ops.upsert_candidate(
                world.installation, as_principal(world.recruiter), request, clock=world.clock
            )
        assert snapshot(world.engine) == before
        assert audit_rows(world.engine, action="candidate.create")[-1].outcome == "denied"

    def test_update_against_a_stale_version_is_refused(self, world: World) -> None:
        from retention.errors import StaleVersion

        rita = as_principal(world.recruiter)
        shown = ops.show_candidate(world.installation, rita, ops.ShowCandidate(world.nl))
        ok = ops.UpdateCandidate(world.nl, {"city": "Gouda"}, if_version=frozenset({shown.version}))
        ops.update_candidate(world.installation, rita, ok, clock=world.clock)
        with pytest.raises(StaleVersion):
            ops.update_candidate(world.installation, rita, ok, clock=world.clock)
