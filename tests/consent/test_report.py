"""Renewal figures: `consent report` per country and purpose, and the evidence pack's copy."""

from __future__ import annotations

import csv
import re
from datetime import date, timedelta
from pathlib import Path

from retention.install import Installation
from retention.operations import (
    AnswerConsent,
    ConsentReport,
    ExportEvidence,
    OpenConsentLink,
    RunCampaign,
    answer_consent,
    consent_report,
    export_evidence,
    open_consent_link,
    run_campaign,
)
from tests.access_support import World
from tests.consent.test_campaign import register_notices, token_of
from tests.consent_support import Inbox, add_pool_candidate, dpo


def answer(installation: Installation, world: World, token: str, what: str) -> None:
    page = open_consent_link(installation, OpenConsentLink(token, "n", "/x"), clock=world.clock)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.html).group(1)
    answer_consent(installation, AnswerConsent(token, what, "n", csrf), clock=world.clock)


def campaign(world: World, mailed: Installation, inbox: tuple[Inbox, int]) -> None:
    """Three NL asks (one renewed, one withdrawn, one silent), one DE expiring unasked later."""
    register_notices(world, mailed)
    soon = world.clock() + timedelta(days=20)
    nl = [add_pool_candidate(mailed, "NL", soon) for _ in range(3)]
    add_pool_candidate(mailed, "DE", world.clock() + timedelta(days=45))
    run_campaign(mailed, dpo(world), RunCampaign(), clock=world.clock)
    server, _ = inbox
    answer(mailed, world, token_of(server.to(nl[0][1])[0]), "renew")
    answer(mailed, world, token_of(server.to(nl[1][1])[0]), "withdraw")


class TestReport:
    def test_figures_per_country_and_purpose(
        self, world: World, mailed: Installation, inbox: tuple[Inbox, int]
    ) -> None:
        campaign(world, mailed, inbox)
        world.clock.advance(timedelta(days=7))  # the silent one is reminded
        run_campaign(mailed, dpo(world), RunCampaign(), clock=world.clock)
        world.clock.advance(timedelta(days=14))  # and expires unanswered
        run_campaign(mailed, dpo(world), RunCampaign(), clock=world.clock)
        rows = {
            (r.country, r.purpose): r
            for r in consent_report(mailed, dpo(world), ConsentReport(), clock=world.clock)
        }
        nl = rows[("NL", "talent_pool")]
        assert (nl.asked, nl.renewed, nl.withdrawn, nl.expired_unanswered) == (3, 1, 1, 1)
        assert nl.reminded == 1  # the silent one got its 7-day reminder
        assert nl.renewal_rate == round(1 / 3, 4)
        assert rows[("DE", "talent_pool")].expiring_30d == 1

    def test_evidence_pack_carries_and_charts_them(
        self, world: World, mailed: Installation, inbox: tuple[Inbox, int], tmp_path: Path
    ) -> None:
        campaign(world, mailed, inbox)
        day = world.clock().date()
        out = tmp_path / "pack"
        export_evidence(
            mailed,
            dpo(world),
            ExportEvidence(date(day.year, day.month, 1), day, out),
            clock=world.clock,
        )
        packs = (
            [p for p in out.iterdir()]
            if out.is_dir() and not (out / "manifest.json").exists()
            else [out]
        )
        pack = packs[0]
        with (pack / "consent-renewals.csv").open() as fh:
            rows = list(csv.DictReader(fh))
        nl = next(r for r in rows if r["country"] == "NL")
        assert (nl["asked"], nl["renewed"], nl["withdrawn"]) == ("3", "1", "1")
        html = (pack / "report.html").read_text()
        assert "<h2>Consent renewals</h2>" in html
        assert "Renewal asks and how they ended" in html and "NL talent_pool" in html
