"""Tests of audit_log.personal_data: e-mail addresses and phone numbers are recognized."""

from __future__ import annotations

import pytest

from audit_log.personal_data import PersonalDataKind, looks_personal


class TestLooksPersonal:
    @pytest.mark.parametrize(
        "text", ["jane.doe@example.org", "mail me: a+b@mail.example.co.uk now"], ids=str
    )
    def test_emails(self, text: str) -> None:
        """E-mail addresses, alone or inside text, are recognized."""
        assert looks_personal(text) is PersonalDataKind.EMAIL

    @pytest.mark.parametrize(
        "text",
        ["+31 6 12345678", "0612345678", "(030) 1234 5678", "06-12 34 56 78", "0044 7700 900123",
         "call +49 30 1234567 today"],
        ids=str,
    )  # fmt: skip
    def test_phone_numbers(self, text: str) -> None:
        """International and national phone numbers with usual separators are recognized."""
        assert looks_personal(text) is PersonalDataKind.PHONE

    @pytest.mark.parametrize(
        "text",
        ["2026-01-01T10:00:00.123456Z", "01234567-8901-2345-6789-012345678901", "batch 123456789",
         "deadbeef0123456789", "0.123456789", "v1.2.3", "rule closed-application", "NL", ""],
        ids=repr,
    )  # fmt: skip
    def test_benign_values(self, text: str) -> None:
        """UUIDs, instants, counts, hashes and rule names are not flagged."""
        assert looks_personal(text) is None


class TestCleanCache:
    def test_refused_value_is_refused_every_time(self) -> None:
        """Remembering clean values never lets a personal value through on a second look."""
        for _ in range(3):
            assert looks_personal("call +40 721 000 111") is PersonalDataKind.PHONE
            assert looks_personal("ana.pop@example.org") is PersonalDataKind.EMAIL

    def test_clean_value_stays_clean(self) -> None:
        """A clean value is clean on every call, also after the cache was filled and cleared."""
        for i in range(5000):
            assert looks_personal(f"rule-{i}") is None
        assert looks_personal("closed-application") is None
        assert looks_personal("closed-application") is None
