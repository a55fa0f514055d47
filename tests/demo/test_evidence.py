"""The evidence step of `gdpr demo`: export the demo period, verify it, show it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from retention.demo.evidence import demo_evidence, demo_step
from retention.install import Installation
from retention.testing import FixedClock
from tests.evidence_support import EXPORT_AT, PERIOD, POLICIES, install_key, seed


class TestDemo:
    def test_demo_exports_and_verifies(self, installation: Installation, tmp_path: Path) -> None:
        """The demo step exports the period, verifies it and says how an auditor would."""
        seed(installation)
        result, lines = demo_evidence(
            installation,
            start=PERIOD[0],
            end=PERIOD[1],
            out=tmp_path / "demo",
            actor="demo",
            policies=POLICIES,
            clock=FixedClock(EXPORT_AT),
        )
        assert result.verification is not None and result.verification.ok
        assert lines[0].startswith("Evidence pack for 2026-09-01 to 2026-10-31: ")
        assert any(line.strip().startswith("OK: evidence pack") for line in lines)
        assert lines[-1].strip().startswith("an auditor runs: gdpr evidence verify ")

    def test_demo_step_writes_under_the_data_dir(self, installation: Installation) -> None:
        """The DemoStep exports the last 30 days into <data dir>/evidence and verifies it."""
        install_key(installation)
        lines = demo_step(installation, EXPORT_AT - timedelta(days=1)).lines
        packs = list((installation.config.data_dir / "evidence").iterdir())
        assert len(packs) == 1 and packs[0].name.startswith("EVIDENCE_")
        assert any("OK: evidence pack" in line for line in lines)
