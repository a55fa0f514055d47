"""The import operation: authorized inside the import's transaction, one audit entry either way."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from retention.access import PrincipalView
from retention.errors import AccessDenied
from retention.install import Installation
from retention.operations import access, intake
from retention.results import json_data
from retention.testing import FixedClock
from tests.access_support import World, audit_rows, build_world, snapshot

CSV = (
    "external_ref,country,status,first_name,email,applied_at\n"
    "ats-1,NL,in_process,Ana,ana@example.org,2026-01-05\n"
    "ats-2,DE,in_process,Ben,ben@example.org,2026-01-06\n"
)


@pytest.fixture
def world(installation: Installation, clock: FixedClock) -> World:
    return build_world(installation, clock)


def as_principal(issued) -> PrincipalView:
    return PrincipalView(issued.principal_id, issued.name)


def export_file(tmp_path: Path) -> Path:
    (tmp_path / "in").mkdir(exist_ok=True)
    path = tmp_path / "in" / "export.csv"
    path.write_text(CSV)
    return path


class TestImport:
    @pytest.mark.parametrize("who", ["admin", "recruiter"])
    def test_denied_without_candidate_write_everywhere(
        self, world: World, tmp_path: Path, who: str
    ) -> None:
        """An admin (no candidate:write) or a NL recruiter (not everywhere) imports nothing;
        the denial is audited and no rejects file appears."""
        before = snapshot(world.engine)
        issued = getattr(world, who)
        with pytest.raises(AccessDenied, match="candidate:write in every country"):
            intake.import_candidates(
                world.installation,
                as_principal(issued),
                intake.ImportCandidates(export_file(tmp_path)),
                clock=world.clock,
            )
        assert snapshot(world.engine) == before
        entry = audit_rows(world.engine, action="candidate.import")[-1]
        assert (entry.actor, entry.outcome) == (str(issued.principal_id), "denied")
        assert sorted(p.name for p in (tmp_path / "in").iterdir()) == ["export.csv"]

    def test_allowed_import_is_one_entry_with_its_counts(
        self, world: World, tmp_path: Path
    ) -> None:
        """An integration principal with '*' (approved by a second person) imports; one entry
        names the grant and the counts."""
        admin = as_principal(world.admin)
        code = access.create_principal(
            world.installation, admin, access.CreatePrincipal("ats", "service")
        )
        svc = access.enroll(world.installation, access.Enroll(code.code))
        grant = access.grant_access(
            world.installation,
            admin,
            access.GrantAccess("ats", "integration", "*", "30d", "ATS sync"),
            clock=world.clock,
        )
        access.approve_grant(
            world.installation, as_principal(world.dpo), access.ApproveGrant(str(grant.id))
        )
        report = intake.import_candidates(
            world.installation,
            PrincipalView(svc.id, svc.name),
            intake.ImportCandidates(export_file(tmp_path)),
            clock=world.clock,
        )
        assert (report.inserted, report.rejected) == (2, 0)
        entries = audit_rows(world.engine, action="candidate.import")
        assert len(entries) == 1 and entries[0].outcome == "ok"
        details = json.loads(entries[0].canonical)["details"]
        assert (details["allowed_by"], details["inserted"]) == (str(grant.id), 2)
        data = json_data(report)
        assert isinstance(data, dict) and data["rejects_file"] is None
