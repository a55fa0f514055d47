"""Renewal schedules in the policy language: parsed, linted, formatted, inherited, dated."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from policies import (
    build_policy_set,
    format_text,
    lint,
    load_default_policy_set,
    parse,
    renewal_dates,
)

BASE = """
policy EU "base"
  countries AT
  default
    keep 1 day after decided_at
    then delete
    cite "x"
  renewal talent_pool
    consent lasts 24 months
    ask 30 days before expiry
    remind 7 days after asking
    remind 2 days before expiry
    cite "GDPR Art. 7"
"""


def messages(text: str) -> list[str]:
    return [d.message for d in lint([parse(text, "t.policy")])]


class TestLint:
    def test_sound_schedule_passes(self) -> None:
        """A schedule inside the consent's life, with a cite, has no finding."""
        assert messages(BASE) == []

    def test_renew_on_silence_refused(self) -> None:
        """`on silence renew` is refused, naming Art. 4(11) and 7."""
        text = BASE.replace(
            '    cite "GDPR Art. 7"', '    on silence renew\n    cite "GDPR Art. 7"'
        )
        [found] = messages(text)
        assert "silence never renews a consent: GDPR Art. 4(11) and 7" in found

    def test_on_silence_expire_accepted(self) -> None:
        text = BASE.replace(
            '    cite "GDPR Art. 7"', '    on silence expire\n    cite "GDPR Art. 7"'
        )
        assert messages(text) == []

    @pytest.mark.parametrize(
        ("old", "new", "expected"),
        [
            ("ask 30 days", "ask 25 months", "ask 25 months before expiry is not within"),
            ("remind 7 days after", "remind 40 days after", "a reminder 40 days after asking"),
            ("remind 2 days before", "remind 30 days before", "a reminder 30 days before expiry"),
            ('    cite "GDPR Art. 7"\n', "", 'renewal talent_pool has no cite "..."'),
            ("consent lasts 24 months", "consent lasts 11 years", "lasts at most 10 years"),
            ("renewal talent_pool", "renewal newsletter", "unknown consent purpose newsletter"),
        ],
    )
    def test_unsound_schedules(self, old: str, new: str, expected: str) -> None:
        """Asks outside the consent's life, reminders outside the window, no cite: findings."""
        assert any(expected in m for m in messages(BASE.replace(old, new)))


class TestModel:
    def test_inherited_and_replaced(self) -> None:
        """A child inherits the parent's schedule unless it writes its own for the purpose."""
        child = """
policy NL extends EU "nl"
  countries NL
  renewal talent_pool
    consent lasts 12 months
    ask 30 days before expiry
    cite "AP"
policy DE extends EU "de"
  countries DE
"""
        ps = build_policy_set([parse(BASE, "eu.policy"), parse(child, "c.policy")])
        assert ps.by_country["NL"].renewals[0].lasts.text() == "12 months"
        assert ps.by_country["DE"].renewals[0].lasts.text() == "24 months"
        assert ps.by_country["DE"].renewals[0].cite == "GDPR Art. 7"

    def test_every_shipped_jurisdiction_schedules_talent_pool(self) -> None:
        ps = load_default_policy_set()
        for name, policy in ps.policies.items():
            renewal = policy.renewal_for("talent_pool")
            assert renewal is not None, name
            assert renewal.on_silence == "expire" and renewal.cite


class TestFormat:
    def test_canonical_and_idempotent(self) -> None:
        one_line = BASE.replace("\n    consent lasts", " consent lasts")
        formatted = format_text(one_line)
        assert "  renewal talent_pool\n    consent lasts 24 months\n" in formatted
        assert format_text(formatted) == formatted


class TestDates:
    def test_ask_and_reminders(self) -> None:
        """Ask 30 days before expiry; remind 7 days after the real ask and 2 days before expiry."""
        renewal = parse(BASE).policies[0].renewals[0]
        expires = datetime(2027, 3, 31, 9, tzinfo=UTC)
        dates = renewal_dates(renewal, expires, asked_at=datetime(2027, 3, 2, 10, tzinfo=UTC))
        assert dates.ask_at == datetime(2027, 3, 1, 9, tzinfo=UTC)
        assert dates.reminders == (
            datetime(2027, 3, 9, 10, tzinfo=UTC),
            datetime(2027, 3, 29, 9, tzinfo=UTC),
        )


class TestExplain:
    def test_explain_shows_the_schedule_and_dates(self) -> None:
        """`policy explain` prints the jurisdiction's schedule and this consent's dates."""
        from policies import Consent, Record, explain

        at = datetime(2026, 11, 1, tzinfo=UTC)
        expires = datetime(2027, 1, 31, 8, tzinfo=UTC)
        record = Record(
            "a",
            "DE",
            "rejected",
            decided_at=at,
            consents=(Consent("talent_pool", at, expires),),
        )
        lines = explain(load_default_policy_set(), record, at).lines
        assert any(
            line.startswith("renewal talent_pool: consent lasts 24 months") for line in lines
        )
        assert (
            "    asks at 2027-01-01T08:00:00Z, reminds at 2027-01-08T08:00:00Z, "
            "2027-01-29T08:00:00Z, expires at 2027-01-31T08:00:00Z" in lines
        )
