"""report.html: self-contained HTML with inline SVG charts, checked as text and in headless Chromium."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from retention.evidence.pack import PackPeriod
from retention.evidence.report import ReportData, bar_chart_svg, render_report
from retention.evidence.sources import CoverageRow

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def sample() -> ReportData:
    period = PackPeriod(
        "2026-09-01",
        "2026-10-31",
        "Europe/Amsterdam",
        "2026-08-31T22:00:00.000000Z",
        "2026-10-31T23:00:00.000000Z",
        None,
        74,
        222,
        73,
    )
    return ReportData(
        origin="gdpr-compliance-engine/audit",
        period=period,
        created_at="2026-11-22T12:00:00.000000Z",
        fingerprint="ab" * 32,
        verifier_key="gdpr+01020304+AQ==",
        checkpoint_size=279,
        checkpoint_root="UMnNXNKc6WBSrdEym1s3jKV7ID2aQUIYvS+Zm2zUc98=",
        consistency_from=32,
        policy_set_hash="cd" * 32,
        policy_files=(("policies/nl.policy", "ef" * 32),),
        referenced_policy_hashes=("cd" * 32,),
        actions_by_month={
            ("2026-09", "NL", "delete"): 4,
            ("2026-09", "DE", "anonymize"): 2,
            ("2026-10", "NL", "block"): 1,
            ("2026-10", "FR", "review"): 3,
        },
        action_rows=10,
        backlog=(
            ("FR", 0, 0, 0, 3, "2026-10-02T02:00:00.000000Z", 0),
            ("NL", 5, 2, 1, 0, "", 1),
        ),
        backlog_at="2026-11-22T12:00:00.000000Z",
        coverage=(CoverageRow("NL", "talent_pool", 10, 7),),
        consents=(("talent_pool", "NL", 4, 1, 0),),
        grants=(
            (
                "alice",
                "0b3c3a4e-7f43-4a53-9e0f-1d2a4b7c8e9f",
                "dpo",
                "*",
                "active",
                "admin",
                "bob",
                "",
                "",
                "",
                "",
                "",
            ),
        ),
        activity=(("alice", 40, 2),),
        holds_count=2,
        reviews_count=3,
        missing=("reviews.csv: table review_item does not exist in this installation",),
    )


class TestRender:
    def test_self_contained(self) -> None:
        """The page has no script, no external resource and no link to fetch."""
        html = render_report(sample())
        assert "<script" not in html.lower()
        assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", html, re.I)
        assert "@import" not in html and "url(" not in html

    def test_chart_has_a_bar_per_country_and_action(self) -> None:
        """The actions chart draws one rectangle per (month, country, action) with a count."""
        html = bar_chart_svg(
            ["2026-09", "2026-10"],
            ["DE", "NL"],
            ["delete", "anonymize"],
            {("2026-09", "NL", "delete"): 4, ("2026-10", "DE", "anonymize"): 2},
            title="t",
        )
        assert html.count("<rect") == 2 + 2  # two bars and two legend swatches
        assert "2026-09 NL delete: 4" in html

    def test_values_are_escaped(self) -> None:
        """Markup in a value is shown as text, never interpreted."""
        data = sample()
        evil = ReportData(**{**data.__dict__, "origin": "<img src=x onerror=alert(1)>"})
        html = render_report(evil)
        assert "<img" not in html and "&lt;img" in html

    def test_sections_present(self) -> None:
        """Every section the DPO's auditor reads is there, with the missing sources named."""
        html = render_report(sample())
        for heading in (
            "Verification status",
            "Policies in force",
            "Retention actions per month and country",
            "Overdue backlog",
            "Consent coverage",
            "Access",
            "How to verify",
        ):
            assert f"<h2>{heading}" in html
        assert "review_item does not exist" in html


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


class TestInBrowser:
    def test_renders_offline_in_headless_chromium(self, tmp_path: Path) -> None:
        """Headless Chromium, with every host unresolvable, renders the charts and tables."""
        browser = chromium()
        if browser is None:
            if IN_CI:
                pytest.fail("CI=true but chromium is not installed (.ci/run installs it)")
            pytest.skip("chromium is not installed (Debian package chromium)")
        page = tmp_path / "report.html"
        page.write_text(render_report(sample()), encoding="utf-8")
        common = [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--host-resolver-rules=MAP * ~NOTFOUND",
            f"--user-data-dir={tmp_path / 'profile'}",
        ]
        dom = subprocess.run(
            [*common, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120
        )
        assert dom.returncode == 0, dom.stderr[-2000:]
        assert dom.stdout.count("<svg") == 2
        assert dom.stdout.count("<rect") >= 4
        assert dom.stdout.count("<table") >= 6
        shot = tmp_path / "report.png"
        out = subprocess.run(
            [*common, f"--screenshot={shot}", "--window-size=1100,2400", page.as_uri()],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert out.returncode == 0, out.stderr[-2000:]
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
