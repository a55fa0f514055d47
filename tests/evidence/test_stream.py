"""Copying the period's entries into a pack: bytes as stored, checks, counts for the report."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from audit_log import AuditLog, Event, Outcome
from audit_log.schema import audit_entry
from retention.evidence import stream as evidence_stream
from retention.evidence.pack import ACTIONS_HEADER, CsvWriter, HashingWriter, PackPeriod
from retention.evidence.stream import copy_entries
from retention.install import Installation
from retention.testing import FixedClock
from tests.access_support import add_candidate


def period(prior: int | None, first: int, last: int) -> PackPeriod:
    return PackPeriod("a", "b", "UTC", "s", "e", None, first, last, prior)


class TestCopy:
    @pytest.mark.parametrize("chunk", [10_000, 7])
    def test_bytes_counts_and_countries(
        self, installation: Installation, chunk: int, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The log holds the stored bytes of prior..last; allowed and denied are counted per
        actor; an action without a country is charted under its subject's country."""
        monkeypatch.setattr(evidence_stream, "_CHUNK", chunk)
        clock = FixedClock(datetime(2026, 9, 1, tzinfo=UTC))
        subject = add_candidate(installation.engine, "DE", clock.now)
        log = AuditLog(clock)
        with installation.engine.begin() as conn:
            for i in range(30):
                events = [
                    Event("r", "candidate.read", subject, Outcome.DENIED if i % 2 else Outcome.OK),
                    Event("s", "candidate.delete", subject, details={"rule": "x"}),
                ]
                log.append(conn, events)
                clock.advance(timedelta(hours=1))
        raw, csv_raw = io.BytesIO(), io.BytesIO()
        out, csv_out = HashingWriter(raw), HashingWriter(csv_raw)
        actions = CsvWriter(csv_out, ACTIONS_HEADER)
        with installation.engine.connect() as conn:
            stats = copy_entries(conn, period(9, 10, 49), ZoneInfo("UTC"), out, actions)
            stored = [
                bytes(c)
                for (c,) in conn.execute(
                    audit_entry.select()
                    .with_only_columns(audit_entry.c.canonical)
                    .where(audit_entry.c.seq.between(9, 49))
                    .order_by(audit_entry.c.seq)
                )
            ]
        assert raw.getvalue() == b"".join(s + b"\n" for s in stored)
        assert stats.lines == 41 and stats.action_rows == 20
        assert stats.allowed["s"] == 20 and stats.allowed["r"] + stats.denied["r"] == 20
        assert stats.by_month == {("2026-09", "DE", "delete"): 20}
