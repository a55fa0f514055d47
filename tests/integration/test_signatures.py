"""Signatures over the raw bytes: Greenhouse's HMAC header and Standard Webhooks' three headers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks.webhooks import Webhook

from retention.integration import (
    BadSignature,
    greenhouse_signature,
    verify_greenhouse,
    verify_standard_webhooks,
)
from tests.integration_support import GREENHOUSE_SECRET, WHSEC, WHSEC_OLD

BODY = b'{"action": "ping", "payload": {"web_hook_id": 1}}'
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


class TestGreenhouse:
    def test_the_documented_header_verifies_whatever_the_header_case(self) -> None:
        sig = greenhouse_signature(GREENHOUSE_SECRET, BODY)
        assert sig.startswith("sha256 ") and len(sig) == 7 + 64
        got = verify_greenhouse(
            GREENHOUSE_SECRET, {"signature": sig, "greenhouse-event-id": "e-1"}, BODY
        )
        assert got.delivery_id == "e-1"

    @pytest.mark.parametrize(
        ("headers", "reason"),
        [
            ({}, "missing signature"),
            ({"Signature": "sha1 abc", "Greenhouse-Event-ID": "e"}, "malformed signature"),
            ({"Signature": "sha256 " + "0" * 64, "Greenhouse-Event-ID": "e"}, "signature mismatch"),
        ],
    )
    def test_refusals_name_the_reason(self, headers: dict[str, str], reason: str) -> None:
        with pytest.raises(BadSignature, match=reason):
            verify_greenhouse(GREENHOUSE_SECRET, headers, BODY)

    def test_a_delivery_id_is_required(self) -> None:
        with pytest.raises(BadSignature, match="delivery id"):
            verify_greenhouse(
                GREENHOUSE_SECRET,
                {"Signature": greenhouse_signature(GREENHOUSE_SECRET, BODY)},
                BODY,
            )


class TestStandardWebhooks:
    def headers(self, secrets: list[str], at: datetime) -> dict[str, str]:
        sigs = " ".join(Webhook(s).sign("msg_1", at, BODY.decode()) for s in secrets)
        return {
            "webhook-id": "msg_1",
            "webhook-timestamp": str(int(at.timestamp())),
            "webhook-signature": sigs,
        }

    def test_the_librarys_signature_verifies(self) -> None:
        got = verify_standard_webhooks([WHSEC], self.headers([WHSEC], NOW), BODY, now=NOW)
        assert (got.delivery_id, got.sent_at) == ("msg_1", NOW)

    def test_any_of_several_signatures_and_any_of_several_secrets(self) -> None:
        both = self.headers([WHSEC_OLD, WHSEC], NOW)
        assert verify_standard_webhooks([WHSEC], both, BODY, now=NOW)
        assert verify_standard_webhooks(
            [WHSEC, WHSEC_OLD], self.headers([WHSEC_OLD], NOW), BODY, now=NOW
        )

    @pytest.mark.parametrize(
        "skew", [timedelta(minutes=-5, seconds=-1), timedelta(minutes=5, seconds=1)]
    )
    def test_outside_five_minutes(self, skew: timedelta) -> None:
        with pytest.raises(BadSignature, match="tolerance"):
            verify_standard_webhooks([WHSEC], self.headers([WHSEC], NOW + skew), BODY, now=NOW)

    def test_a_changed_body_or_id(self) -> None:
        headers = self.headers([WHSEC], NOW)
        with pytest.raises(BadSignature, match="mismatch"):
            verify_standard_webhooks([WHSEC], headers, BODY + b" ", now=NOW)
        with pytest.raises(BadSignature, match="mismatch"):
            verify_standard_webhooks([WHSEC], {**headers, "webhook-id": "msg_2"}, BODY, now=NOW)
        with pytest.raises(BadSignature, match="missing"):
            verify_standard_webhooks([WHSEC], {"webhook-id": "x"}, BODY, now=NOW)
