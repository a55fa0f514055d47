"""Free-text reasons: refused when they hold contact data, warned about when they seem to name a person."""

from __future__ import annotations

import pytest
from structlog.testing import capture_logs

from retention.store import check_reason
from retention.store.audit import may_name_a_person


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("lawsuit by Zorro Quimbyfox", True),
        ("request of Jean-Luc Picard", True),
        ("NL hiring for Ana Popescu today", True),
        ("Q3 hiring", False),
        ("DSR-2026-0142", False),
        ("GDPR Art. 17 request", False),
        ("Annual Review of NL", False),
        ("case 12. Next Steps", False),
    ],
)
def test_name_heuristic(text: str, named: bool) -> None:
    """Two capitalized words in a row, not where a sentence starts, look like a name."""
    assert may_name_a_person(text) is named


def test_a_named_reason_is_accepted_with_a_warning_that_does_not_repeat_it() -> None:
    """The reason passes; one warning names the option and the rule, never the text."""
    with capture_logs() as logs:
        assert check_reason("lawsuit by Zorro Quimbyfox") == "lawsuit by Zorro Quimbyfox"
        check_reason("DSR-2026-0142")
    assert logs == [
        {
            "event": "reason_may_name_a_person",
            "log_level": "warning",
            "option": "--reason",
            "hint": "a reason is a case reference, not a narrative: refer to people by UUID",
        }
    ]
    assert "Zorro" not in repr(logs)


class TestRecordedVia:
    def test_entries_in_the_context_carry_the_tag_and_others_do_not(self, engine) -> None:
        import json

        from audit_log import Event
        from audit_log.schema import audit_entry
        from retention.store import record, recorded_via, transaction

        with recorded_via("api", "req-1"), transaction(engine) as conn:
            record(conn, Event(actor="a", action="x.tagged", details={"k": 1}))
        with transaction(engine) as conn:
            record(conn, Event(actor="a", action="x.plain"))
        with engine.connect() as conn:
            rows = conn.execute(audit_entry.select().order_by(audit_entry.c.seq)).all()
        details = {r.action: json.loads(r.canonical)["details"] for r in rows}
        assert details["x.tagged"] == {"k": 1, "via": {"channel": "api", "request_id": "req-1"}}
        assert details["x.plain"] == {}
