"""`gdpr request` through the CLI's entry point: the contract's options, JSON keys, exit codes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from retention.install import open_installation
from retention.requests import WorkingCalendar, deadline
from retention.testing import DatabaseFactory
from tests.access_support import add_candidate
from tests.cli_support import Gdpr, init_tokens

ZONE = ZoneInfo("Europe/Bucharest")


@pytest.fixture
def setup(tmp_path: Path, db_factory: DatabaseFactory) -> tuple[Gdpr, str, str]:
    """An installation on a Bucharest controller (RO calendar), the DPO's token, one subject."""
    g = Gdpr(tmp_path / "data", {"GDPR_DATABASE_URL": db_factory.empty()})
    tokens = init_tokens(g.env, g.data_dir)
    (g.data_dir / "gdpr.toml").write_text(
        'timezone = "Europe/Bucharest"\n[requests]\ncalendar = "RO"\n'
    )
    installation = open_installation(g.config())
    subject = add_candidate(installation.engine, "NL", datetime.now(UTC) - timedelta(days=30))
    installation.engine.dispose()
    return g, tokens["dpo"], str(subject)


def received() -> datetime:
    return (datetime.now(UTC) - timedelta(days=2)).replace(microsecond=0)


class TestRequestCommands:
    def test_open_json_has_the_contract_keys(self, setup: tuple[Gdpr, str, str]) -> None:
        g, token, subject = setup
        at = received()
        code, out, err = g(
            "request", "open", "access", "--subject", subject, "--received", at.isoformat(),
            "--channel", "letter", "--json", token=token,
        )  # fmt: skip
        assert code == 0, err
        data = json.loads(out)
        assert {"id", "type", "subject", "received_at", "due_on", "status"} <= set(data)
        want = deadline(at, ZONE, WorkingCalendar.of("RO"), months=1).due_on
        assert (data["due_on"], data["status"], data["channel"]) == (
            want.isoformat(),
            "open",
            "letter",
        )

    def test_extend_json_returns_the_new_due_on(self, setup: tuple[Gdpr, str, str]) -> None:
        g, token, subject = setup
        at = received()
        _, out, _ = g("request", "open", "erasure", "--subject", subject, "--received",
                      at.isoformat(), "--json", token=token)  # fmt: skip
        rid = json.loads(out)["id"]
        code, out, err = g("request", "extend", rid, "--reason", "complex", "--json", token=token)
        assert code == 0, err
        want = deadline(at, ZONE, WorkingCalendar.of("RO"), months=3).due_on
        assert json.loads(out)["due_on"] == want.isoformat()
        code, out, err = g("request", "extend", rid, "--reason", "again", token=token)
        assert code == 2 and "extended already" in err and err.count("\n") == 1

    def test_lifecycle_text_and_list(self, setup: tuple[Gdpr, str, str], tmp_path: Path) -> None:
        """open, verify, list --due-within, fulfil --out, show: one line each, exit 0."""
        g, token, subject = setup
        _, out, _ = g("request", "open", "portability", "--subject", subject, "--received",
                      received().isoformat(), "--json", token=token)  # fmt: skip
        rid = json.loads(out)["id"]
        code, out, _ = g(
            "request", "verify", rid, "--method", "reply from known address", token=token
        )
        assert (code, out) == (0, f"Verified request {rid}.\n")
        code, out, _ = g("request", "list", "--due-within", "40d", "--json", token=token)
        assert [r["id"] for r in json.loads(out)] == [rid]
        code, out, _ = g("request", "list", "--overdue", token=token)
        assert out == "No requests.\n"
        (tmp_path / "out").mkdir()
        code, out, err = g("request", "fulfil", rid, "--out", str(tmp_path / "out"), token=token)
        assert code == 0, err
        assert (tmp_path / "out" / f"portability-{rid}" / "data.json").is_file()
        code, out, _ = g("request", "show", rid, token=token)
        assert "status       fulfilled" in out and "verify" in out

    def test_at_in_the_future_and_bad_instants(self, setup: tuple[Gdpr, str, str]) -> None:
        g, token, subject = setup
        _, out, _ = g("request", "open", "access", "--subject", subject, "--received",
                      received().isoformat(), "--json", token=token)  # fmt: skip
        rid = json.loads(out)["id"]
        future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
        code, _, err = g("request", "withdraw", rid, "--at", future, token=token)
        assert code == 2 and "in the future" in err
        code, _, err = g("request", "withdraw", rid, "--at", "yesterday", token=token)
        assert code == 2 and "--at must be an instant" in err
        code, _, err = g("request", "open", "access", "--subject", subject, "--received",
                         "2026-12-01T10:00:00", token=token)  # fmt: skip
        assert code == 2 and "with its offset" in err

    def test_refuse_records_the_ground(self, setup: tuple[Gdpr, str, str]) -> None:
        g, token, subject = setup
        _, out, _ = g("request", "open", "objection", "--subject", subject, "--received",
                      received().isoformat(), "--json", token=token)  # fmt: skip
        rid = json.loads(out)["id"]
        code, out, _ = g("request", "refuse", rid, "--ground", "Art. 12(5) manifestly unfounded",
                         token=token)  # fmt: skip
        assert code == 0 and out == f"Refused request {rid}: Art. 12(5) manifestly unfounded.\n"

    def test_needs_one_way_to_name_the_subject(self, setup: tuple[Gdpr, str, str]) -> None:
        g, token, _ = setup
        code, _, err = g(
            "request", "open", "access", "--received", received().isoformat(), token=token
        )
        assert code == 2 and "exactly one of --subject, --email or --external-ref" in err
