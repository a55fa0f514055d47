"""Parsing one export row: normalization of messy values and safe rejection reasons."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from retention.intake.rows import RowRejected, normalize_column, parse_row
from retention.store import CandidateStatus

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
BASE = {"external_ref": "X1", "country": "DE", "status": "in_process"}


def _row(**fields: str) -> dict[str, str]:
    return {**BASE, **fields}


class TestNormalizeColumn:
    @pytest.mark.parametrize(
        "name", ["first_name", "First Name", "first-name", "\ufeffFIRST_NAME "]
    )
    def test_header_spellings(self, name: str) -> None:
        """Header names are matched regardless of case, BOM, spaces and hyphens."""
        assert normalize_column(name) == "first_name"


class TestStatuses:
    @pytest.mark.parametrize(
        ("spelling", "status"),
        [
            ("In Process", CandidateStatus.IN_PROCESS),
            ("in-process", CandidateStatus.IN_PROCESS),
            ("INTERVIEWING", CandidateStatus.IN_PROCESS),
            ("Not selected", CandidateStatus.REJECTED),
            ("declined", CandidateStatus.REJECTED),
            ("Candidate withdrew", CandidateStatus.WITHDRAWN),
            ("offer_accepted", CandidateStatus.HIRED),
        ],
    )
    def test_common_spellings(self, spelling: str, status: CandidateStatus) -> None:
        """Common status spellings map to the four statuses."""
        decided = "" if status is CandidateStatus.IN_PROCESS else "2025-01-01"
        assert parse_row(_row(status=spelling, decided_at=decided), NOW).status is status


class TestInstants:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("2024-02-29", datetime(2024, 2, 29, tzinfo=UTC)),
            ("29.02.2024", datetime(2024, 2, 29, tzinfo=UTC)),
            ("1.3.2024", datetime(2024, 3, 1, tzinfo=UTC)),
            ("01.03.2024 14:30", datetime(2024, 3, 1, 14, 30, tzinfo=UTC)),
            ("2024-03-01T10:00:00Z", datetime(2024, 3, 1, 10, tzinfo=UTC)),
            ("2024-03-01T10:00:00+02:00", datetime(2024, 3, 1, 8, tzinfo=UTC)),
            ("2024-03-01 10:00:00", datetime(2024, 3, 1, 10, tzinfo=UTC)),
        ],
    )
    def test_accepted_forms(self, text: str, expected: datetime) -> None:
        """ISO dates and instants and DD.MM.YYYY all become UTC instants."""
        assert parse_row(_row(applied_at=text), NOW).applied_at == expected

    @pytest.mark.parametrize("text", ["31/12/2024", "30.02.2024", "yesterday", "2024-13-01"])
    def test_refused_forms(self, text: str) -> None:
        """Ambiguous or impossible dates are refused, without quoting them."""
        with pytest.raises(RowRejected) as info:
            parse_row(_row(applied_at=text), NOW)
        assert text not in info.value.message

    def test_last_activity_defaults_to_latest_event(self) -> None:
        """Without last_activity_at the latest of the row's events stands in for it."""
        record = parse_row(
            _row(
                status="rejected",
                applied_at="2024-01-01",
                decided_at="2024-02-01",
                talent_pool_consent_given_at="2024-03-01",
            ),
            NOW,
        )
        assert record.last_activity_at == datetime(2024, 3, 1, tzinfo=UTC)


class TestTextValues:
    def test_whitespace_and_unicode_normalized(self) -> None:
        """Values are stripped, inner whitespace collapsed and Unicode NFC-normalized."""
        record = parse_row(_row(first_name="  Ana\u0301   Maria ", city="Iași"), NOW)
        assert record.first_name == "Aná Maria"

    def test_email_domain_lowercased(self) -> None:
        """The e-mail domain is lower-cased; the local part is kept as given."""
        assert parse_row(_row(email="Ana.Pop@Example.RO"), NOW).email == "Ana.Pop@example.ro"

    @pytest.mark.parametrize("value", ["=1+1", "@cmd", "-1", "+SUM(A1)", "'=1+1"])
    def test_formula_values_refused(self, value: str) -> None:
        """Formula-looking values are refused, also behind a spreadsheet apostrophe."""
        with pytest.raises(RowRejected) as info:
            parse_row(_row(city=value), NOW)
        assert info.value.message == "city looks like a spreadsheet formula"

    def test_long_value_refused(self) -> None:
        """Values longer than the column are refused rather than truncated."""
        with pytest.raises(RowRejected) as info:
            parse_row(_row(first_name="A" * 201), NOW)
        assert info.value.message == "first_name is longer than 200 characters"
