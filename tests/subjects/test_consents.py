"""Consents through the gateway: recorded with the notice version, withdrawn, listed, audited."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from retention.durations import add_months
from retention.errors import AccessDenied, BadInput
from retention.subjects import Gateway
from retention.subjects.consents import list_consents, record_consent, withdraw_consent
from tests.access_support import World, audit_rows, snapshot


def recruiter(world: World) -> Gateway:
    return Gateway(
        world.engine,
        world.recruiter.principal_id,
        world.installation.config.documents_dir,
        world.clock,
    )


class TestConsents:
    def test_record_with_expiry_and_notice(self, world: World) -> None:
        """A consent for 24 months is stored and audited with purpose and notice version."""
        row = record_consent(
            recruiter(world), world.nl, purpose="talent_pool", notice="2026-03",
            channel="career site", expires="24m",
        )  # fmt: skip
        assert row["expires_at"] == add_months(world.clock(), 24)
        details = json.loads(audit_rows(world.engine, action="consent.record")[-1].canonical)[
            "details"
        ]
        assert (details["purpose"], details["notice_version"]) == ("talent_pool", "2026-03")

    def test_record_until_a_date(self, world: World) -> None:
        """--expires takes a last day, as its message offers: valid to the end of that day UTC."""
        row = record_consent(
            recruiter(world), world.nl, purpose="talent_pool", notice="2026-03",
            channel="career site", expires="2027-01-31",
        )  # fmt: skip
        assert row["expires_at"] == datetime(2027, 1, 31, 23, 59, 59, tzinfo=UTC)

    def test_withdraw_stamps_consents_in_force(self, world: World) -> None:
        """Withdrawal stamps the open consents of the purpose; a second withdrawal is refused."""
        gw = recruiter(world)
        assert withdraw_consent(gw, world.nl, purpose="talent_pool") == 1
        assert list_consents(gw, world.nl)[0]["withdrawn_at"] == world.clock()
        with pytest.raises(BadInput, match="no consent for talent_pool"):
            withdraw_consent(gw, world.nl, purpose="talent_pool")

    def test_withdrawal_works_on_blocked_subject(self, world: World) -> None:
        """A blocked subject's consent can be withdrawn by a recruiter; recording cannot."""
        gw = recruiter(world)
        assert withdraw_consent(gw, world.blocked, purpose="talent_pool") == 1
        with pytest.raises(AccessDenied, match="blocked"):
            record_consent(gw, world.blocked, purpose="talent_pool", notice="v2", channel="web")

    def test_outside_country_denied(self, world: World) -> None:
        """Recording consent for a DE subject as a NL recruiter is denied and changes nothing."""
        before = snapshot(world.engine)
        with pytest.raises(AccessDenied):
            record_consent(recruiter(world), world.de, purpose="talent_pool", notice="v1",
                           channel="web")  # fmt: skip
        assert snapshot(world.engine) == before

    @pytest.mark.parametrize(
        ("kwargs", "message"),
        [
            ({"purpose": "Talent Pool"}, "--purpose must be"),
            ({"notice": "v1; DROP TABLE consent"}, "--notice must be"),
            ({"channel": "c" * 65}, "--channel must be"),
            ({"channel": "phone +40 721 000 111"}, "--channel looks like it holds personal data"),
            ({"expires": "forever"}, "--expires must be"),
            ({"expires": "9999d"}, "--expires is more than 10 years away: give at most 10y"),
            ({"expires": "9999y"}, "--expires is too far away"),
            ({"expires": "2001-01-01"}, "--expires must be in the future"),
        ],
    )
    def test_bad_input(self, world: World, kwargs: dict[str, str], message: str) -> None:
        """Bad purpose, notice, channel or expiry is refused before anything is done."""
        args = {"purpose": "talent_pool", "notice": "v1", "channel": "web", **kwargs}
        with pytest.raises(BadInput, match=message):
            record_consent(recruiter(world), world.nl, **args)
