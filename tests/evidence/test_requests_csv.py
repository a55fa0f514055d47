"""requests.csv and the report's data-subject request section: figures, and no personal data."""

from __future__ import annotations

import csv
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

from retention.install import Installation
from retention.store import DataRequest, transaction
from tests.evidence_support import export, seed


def add_request(installation: Installation, **values: object) -> uuid.UUID:
    rid = uuid.uuid4()
    row = {
        "id": rid,
        "type": "access",
        "subject_id": uuid.uuid4(),
        "country": "NL",
        "channel": "email",
        "status": "open",
        "opened_by": uuid.uuid4(),
        "contact": "someone@example.org",
        "verification_method": "passport seen",
        **values,
    }
    row.setdefault("created_at", row["received_at"])
    with transaction(installation.engine) as conn:
        conn.execute(DataRequest.__table__.insert().values(**row))
    return rid


def utc(*a: int) -> datetime:
    return datetime(*a, tzinfo=UTC)


class TestRequestsCsv:
    def test_rows_and_report(self, installation: Installation, tmp_path: Path) -> None:
        """On time, late, still open (overdue now) and one outside the period."""
        seed(installation)
        on_time = add_request(
            installation, received_at=utc(2026, 9, 2, 9), due_on=date(2026, 10, 2),
            due_at=utc(2026, 10, 2, 22), closed_at=utc(2026, 9, 12, 9), status="fulfilled",
        )  # fmt: skip
        late = add_request(
            installation, type="erasure", received_at=utc(2026, 9, 3, 9), due_on=date(2026, 10, 5),
            due_at=utc(2026, 10, 5, 22), closed_at=utc(2026, 10, 9, 9), status="refused",
            extended_at=None,
        )  # fmt: skip
        open_late = add_request(
            installation, received_at=utc(2026, 10, 1, 9), due_on=date(2026, 11, 2),
            due_at=utc(2026, 11, 2, 22),
        )  # fmt: skip
        add_request(
            installation, received_at=utc(2026, 3, 1, 9), due_on=date(2026, 4, 1),
            due_at=utc(2026, 4, 1, 21), closed_at=utc(2026, 3, 20, 9), status="fulfilled",
        )  # fmt: skip
        pack = export(installation, tmp_path / "out")
        with (pack / "requests.csv").open(newline="") as fh:
            rows = {r["request_id"]: r for r in csv.DictReader(fh)}
        assert set(rows) == {str(on_time), str(late), str(open_late)}
        assert (rows[str(on_time)]["days_taken"], rows[str(on_time)]["on_time"]) == ("10", "yes")
        assert (rows[str(late)]["outcome"], rows[str(late)]["on_time"]) == ("refused", "no")
        assert rows[str(open_late)]["closed"] == "" and rows[str(open_late)]["due"] == "2026-11-02"
        text = (pack / "requests.csv").read_text()
        assert "someone@example.org" not in text and "passport" not in text
        report = (pack / "report.html").read_text()
        assert "<h2>Data-subject requests</h2>" in report
        assert "median 23.0 days to close" in report
        assert "50% of 2 answered" in report
        assert "1 open and overdue when the pack was made" in report
