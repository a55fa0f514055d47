"""The evaluator: calendar arithmetic, stages, consents, holds, errors, and every pack's tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from policies import (
    Consent,
    Decision,
    ErrorCause,
    Hold,
    Record,
    RecordError,
    evaluate,
    explain,
    load_default_policy_set,
    run_policy_tests,
)
from policies.durations import add_duration, add_months

PS = load_default_policy_set()


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


class TestCalendar:
    @pytest.mark.parametrize(
        ("start", "months", "expected"),
        [
            (utc(2023, 8, 31, 13, 5, 7, 9), 6, utc(2024, 2, 29, 13, 5, 7, 9)),
            (utc(2022, 8, 31), 6, utc(2023, 2, 28)),
            (utc(2024, 2, 29), 12, utc(2025, 2, 28)),
            (utc(2024, 1, 31), 1, utc(2024, 2, 29)),
            (utc(2023, 12, 31), 3, utc(2024, 3, 31)),
            (utc(2024, 3, 31), 6, utc(2024, 9, 30)),
        ],
    )
    def test_months_clamp_to_month_end(self, start, months, expected):
        """Month addition clamps to the target month's last day and keeps the time of day."""
        assert add_months(start, months) == expected

    def test_weeks_and_years(self):
        """A week is 7 days and a year 12 months."""
        assert add_duration(utc(2024, 2, 29), 1, "years") == utc(2025, 2, 28)
        assert add_duration(utc(2024, 2, 26), 1, "weeks") == utc(2024, 3, 4)


class TestDecisions:
    def test_due_exactly_at_due_at(self):
        """A record is due when due_at <= at, not a microsecond earlier."""
        r = Record("a", "DE", "rejected", decided_at=utc(2023, 8, 31, 10))
        assert evaluate(PS, r, utc(2024, 2, 29, 10)).due is True
        assert evaluate(PS, r, utc(2024, 2, 29, 10) - timedelta(microseconds=1)).due is False

    def test_staged_actions(self):
        """Spain blocks at decision and deletes a year later; `next` shows the coming stage."""
        r = Record("a", "ES", "withdrawn", decided_at=utc(2024, 2, 29))
        first = evaluate(PS, r, utc(2024, 3, 1))
        assert (first.action, first.due, first.next.action, first.next.due_at) == (
            "block",
            True,
            "delete",
            utc(2025, 2, 28),
        )
        later = evaluate(PS, r, utc(2025, 2, 28))
        assert (later.action, later.due_at, later.next) == ("delete", utc(2025, 2, 28), None)

    def test_latest_consent_counts(self):
        """Of several consents for a purpose the one given last counts, even if listed first."""
        renewed = Consent("talent_pool", utc(2025, 1, 1), utc(2026, 1, 1), None)
        old = Consent("talent_pool", utc(2023, 1, 1), None, utc(2023, 6, 1))
        r = Record("a", "AT", "rejected", decided_at=utc(2023, 1, 1), consents=(renewed, old))
        d = evaluate(PS, r, utc(2025, 6, 1))
        assert (d.rule, d.due_at) == ("talent-pool", utc(2026, 1, 1))

    def test_expired_consent_still_given(self):
        """An expired consent is still given, so the talent-pool rule fires at expiry."""
        c = Consent("talent_pool", utc(2024, 1, 1), utc(2025, 1, 1), None)
        r = Record("a", "AT", "rejected", decided_at=utc(2024, 1, 1), consents=(c,))
        d = evaluate(PS, r, utc(2025, 1, 1))
        assert (d.rule, d.action, d.due) == ("talent-pool", "delete", True)

    def test_hold_suspends(self):
        """An active legal hold reports the record as held and never due."""
        r = Record(
            "a", "DE", "rejected", decided_at=utc(2020, 1, 1), holds=(Hold(utc(2021, 1, 1)),)
        )
        d = evaluate(PS, r, utc(2024, 1, 1))
        assert isinstance(d, Decision) and d.held and not d.due

    def test_uncovered_country(self):
        """A country no policy covers is an error naming it, not a decision."""
        e = evaluate(PS, Record("a", "US", "rejected"), utc(2024, 1, 1))
        assert isinstance(e, RecordError) and e.cause is ErrorCause.UNCOVERED_COUNTRY
        assert e.message == "no policy covers country US"

    def test_missing_anchor(self):
        """A deciding rule whose anchor is null is an error naming rule and anchor."""
        e = evaluate(PS, Record("a", "NL", "hired"), utc(2024, 1, 1))
        assert e.message == "rule NL/hired needs decided_at, which the record lacks"

    def test_explain_trace(self):
        """The trace shows every rule tried, the arithmetic and the decision."""
        r = Record("a", "NL", "rejected", decided_at=utc(2025, 8, 31, 10))
        lines = explain(PS, r, utc(2025, 9, 28, 10)).lines
        assert lines[1] == "country NL: policy NL (NL -> EU)"
        assert (
            lines[2]
            == "  rule in-process: when status in (in_process) does not match (status is rejected)"
        )
        end = next(i for i, line in enumerate(lines) if line.startswith("decision:"))
        assert lines[end - 1] == "    decided_at = 2025-08-31T10:00:00Z, + 4 weeks"
        assert lines[end + 1].startswith(
            "renewal talent_pool: consent lasts 12 months; ask 30 days"
        )
        assert lines[end] == (
            "decision: delete at 2025-09-28T10:00:00Z (due); "
            'cite "Autoriteit Persoonsgegevens; NVP Sollicitatiecode"'
        )

    def test_content_hash_is_stable(self):
        """The policy set hash is a sha256 hex digest that loading again reproduces."""
        assert len(PS.content_hash) == 64
        assert load_default_policy_set().content_hash == PS.content_hash


class TestPackTests:
    def test_every_pack_has_passing_tests(self):
        """Each shipped pack has a test file and every case in it passes."""
        from policies import default_policy_dir

        results = run_policy_tests(default_policy_dir())
        files = {r.file.rsplit("/", 1)[-1] for r in results}
        packs = {p.stem + ".jsonl" for p in default_policy_dir().glob("*.policy")}
        assert files == packs
        assert [f"{r.file}:{r.line}: {r.mismatches}" for r in results if not r.ok] == []
