"""`gdpr import candidates` through the real entry point: the operation decides, main exits."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from retention.install import Installation
from retention.testing import FixedClock
from tests.access_support import World, audit_rows, build_world, snapshot
from tests.cli_support import gdpr as run_gdpr


@pytest.fixture
def world(installation: Installation, clock: FixedClock) -> World:
    clock.now = datetime.now(UTC)  # the CLI runs on the real clock
    return build_world(installation, clock)


def export(tmp_path: Path, text: str) -> Path:
    (tmp_path / "in").mkdir(exist_ok=True)
    path = tmp_path / "in" / "export.csv"
    path.write_text(text)
    return path


@dataclass
class Run:
    code: int
    out: str
    err: str


def gdpr(world: World, *args: str, token: str) -> Run:
    cfg = world.installation.config
    env: dict[str, str | None] = {"GDPR_DATABASE_URL": cfg.database_url, "GDPR_TOKEN": token}
    return Run(*run_gdpr(env, "--data-dir", str(cfg.data_dir), *args))


HEADER = "external_ref,country,status,applied_at\n"


class TestImportCommand:
    def test_admin_is_denied_in_one_line(self, world: World, tmp_path: Path) -> None:
        """An admin has no candidate:write: exit 1, one line, audited, nothing imported."""
        before = snapshot(world.engine)
        path = export(tmp_path, HEADER + "a-1,NL,in_process,2026-01-05\n")
        run = gdpr(world, "import", "candidates", str(path), token=world.admin.token)
        assert (run.code, run.out) == (1, "")
        assert run.err == (
            "Error: access denied: candidate:write in every country: "
            "no grant gives candidate:write\n"
        )
        assert snapshot(world.engine) == before
        assert audit_rows(world.engine, action="candidate.import")[-1].outcome == "denied"

    def test_rejected_rows_report_then_exit_1(self, world: World, tmp_path: Path) -> None:
        """The report is printed (JSON), then main's one line says how many rows were rejected."""
        path = export(tmp_path, HEADER + "a-1,NL,in_process,2026-01-05\na-2,XX,in_process,\n")
        run = gdpr(world, "import", "candidates", str(path), "--json", token=world.dpo.token)
        assert run.code == 1
        report = json.loads(run.out)
        assert (report["inserted"], report["rejected"]) == (1, 1)
        assert run.err == (
            f"Error: 1 row rejected (see {path}.rejects.csv); the other rows were imported\n"
        )
