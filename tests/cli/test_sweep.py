"""`gdpr hold`, `gdpr review`, `gdpr sweep` and `gdpr scheduler`, through the CLI's entry point."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from retention.demo.population import generate, insert_population
from retention.install import open_installation
from retention.store import transaction
from retention.testing import DatabaseFactory
from tests.cli_support import Gdpr, init_tokens


@pytest.fixture
def gdpr(tmp_path: Path, db_factory: DatabaseFactory) -> tuple[Gdpr, dict[str, str]]:
    """An initialized installation with 400 seeded subjects, and the bootstrap tokens."""
    g = Gdpr(tmp_path / "data", {"GDPR_DATABASE_URL": db_factory.empty()})
    tokens = init_tokens(g.env, g.data_dir)
    installation = open_installation(g.config())
    with transaction(installation.engine) as conn:
        insert_population(conn, generate(400, datetime.now(UTC), seed=5))
    installation.engine.dispose()
    return g, tokens


class TestSweepCommands:
    def test_dry_run_sweep_and_second_sweep(self, gdpr: tuple[Gdpr, dict[str, str]]) -> None:
        """The plan's due count is what the sweep then does; a second sweep does nothing."""
        g, tokens = gdpr
        code, out, _ = g("sweep", "--dry-run", "--json", token=tokens["dpo"])
        plan = json.loads(out)
        assert code == 0 and plan["due"] > 0
        code, out, _ = g("sweep", "--json", token=tokens["dpo"])
        assert code == 0 and json.loads(out)["acted"] == plan["due"]
        code, out, _ = g("sweep", token=tokens["dpo"])
        assert code == 0 and "0 anonymized, 0 deleted, 0 blocked, 0 queued" in out

    def test_admin_may_not_sweep(self, gdpr: tuple[Gdpr, dict[str, str]]) -> None:
        """Without sweep:run the command is denied with exit 1 and one line."""
        g, tokens = gdpr
        code, out, err = g("sweep", token=tokens["admin"])
        assert code == 1 and out == ""
        assert err.startswith("Error: access denied: sweep:run") and err.count("\n") == 1

    def test_configured_workers(self, gdpr: tuple[Gdpr, dict[str, str]]) -> None:
        """[sweep] workers in gdpr.toml reaches the sweep; SQLite refuses more than one."""
        g, tokens = gdpr
        (g.data_dir / "gdpr.toml").write_text("[sweep]\nworkers = 3\n")
        code, out, err = g("--log-json", "sweep", "--json", token=tokens["dpo"])
        if "postgresql" not in g.env["GDPR_DATABASE_URL"]:
            assert code == 2 and out == "" and err.count("\n") == 1
            assert "[sweep] workers above 1 need PostgreSQL" in err
            return
        assert code == 0, err
        started = [json.loads(line) for line in err.splitlines() if "sweep.started" in line]
        assert [event["workers"] for event in started] == [3]
        assert json.loads(out)["status"] == "completed"

    def test_configured_batch_size(self, gdpr: tuple[Gdpr, dict[str, str]]) -> None:
        """[sweep] batch_size in gdpr.toml reaches the sweep; one out of range is one line, exit 2."""
        g, tokens = gdpr
        (g.data_dir / "gdpr.toml").write_text("[sweep]\nbatch_size = 500\n")
        code, out, err = g("sweep", token=tokens["dpo"])
        assert code == 2 and out == "" and err.count("\n") == 1
        assert "[sweep] batch_size must be a whole number from 1,000 to 100,000" in err
        (g.data_dir / "gdpr.toml").write_text("[sweep]\nbatch_size = 1000\n")
        code, out, err = g("--log-json", "sweep", "--json", token=tokens["dpo"])
        assert code == 0, err
        started = [json.loads(line) for line in err.splitlines() if "sweep.started" in line]
        assert [event["batch_size"] for event in started] == [1000]
        assert json.loads(out)["status"] == "completed"

    def test_limit_with_dry_run_is_bad_usage(self, gdpr: tuple[Gdpr, dict[str, str]]) -> None:
        """--limit only makes sense for a real sweep."""
        g, tokens = gdpr
        code, _, err = g("sweep", "--dry-run", "--limit", "5", token=tokens["dpo"])
        assert code == 2 and "--limit" in err

    @pytest.mark.parametrize("country", ["Germany", "XX", "D"])
    def test_unknown_country_is_bad_input(
        self, gdpr: tuple[Gdpr, dict[str, str]], country: str
    ) -> None:
        """A country that is not a covered ISO code is refused, not answered with an empty plan."""
        g, tokens = gdpr
        code, out, err = g("sweep", "--dry-run", "--country", country, token=tokens["dpo"])
        assert code == 2 and out == ""
        assert err.count("\n") == 1 and "not a country code the engine covers" in err

    def test_country_alias_and_case(self, gdpr: tuple[Gdpr, dict[str, str]]) -> None:
        """`uk` is Great Britain's plan."""
        g, tokens = gdpr
        code, out, err = g("sweep", "--dry-run", "--country", "uk", "--json", token=tokens["dpo"])
        assert code == 0, err
        assert {row["country"] for row in json.loads(out)["rows"]} <= {"GB"}


class TestHoldAndReviewCommands:
    def test_hold_place_list_release(self, gdpr: tuple[Gdpr, dict[str, str]]) -> None:
        """A hold placed from the CLI is listed, respected by the sweep, then released."""
        g, tokens = gdpr
        _, out, _ = g("sweep", "--dry-run", "--json", token=tokens["dpo"])
        installation = open_installation(g.config())
        from policies import load_default_policy_set
        from retention.sweep import actionable_only, decisions

        d = decisions(load_default_policy_set(), datetime.now(UTC))
        with installation.engine.connect() as conn:
            subject = str(conn.execute(actionable_only(d), d.params).first().id)  # type: ignore[union-attr]
        code, out, _ = g(
            "hold",
            "place",
            subject,
            "--case",
            "C-7",
            "--reason",
            "claim",
            "--json",
            token=tokens["dpo"],
        )
        hold = json.loads(out)
        assert code == 0 and hold["subject"] == subject and hold["active"]
        code, out, _ = g("hold", "list", "--json", token=tokens["dpo"])
        assert [h["id"] for h in json.loads(out)] == [hold["id"]]
        g("sweep", token=tokens["dpo"])
        code, out, _ = g("sweep", "--dry-run", "--json", token=tokens["dpo"])
        assert json.loads(out)["held"] == 1
        code, out, _ = g("hold", "release", hold["id"], "--reason", "settled", token=tokens["dpo"])
        assert code == 0 and "released" in out
        code, out, _ = g(
            "hold", "place", subject, "--case", "C-8", "--reason", "x", token=tokens["admin"]
        )
        assert code == 1

    def test_review_list_and_decide(self, gdpr: tuple[Gdpr, dict[str, str]]) -> None:
        """Swept reviews are listed; keep-until needs a date; delete removes the item."""
        g, tokens = gdpr
        g("sweep", token=tokens["dpo"])
        code, out, _ = g("review", "list", "--json", token=tokens["dpo"])
        items = json.loads(out)
        assert code == 0 and items
        first, second = items[0]["subject"], items[1]["subject"]
        code, _, err = g(
            "review",
            "decide",
            first,
            "--action",
            "keep-until",
            "--reason",
            "r",
            token=tokens["dpo"],
        )
        assert code == 2 and "DATE" in err
        code, _, _ = g(
            "review",
            "decide",
            first,
            "--action",
            "keep-until",
            # Within the ten years a keep decision may reach (issue 13; it was 2099-01-01).
            f"{datetime.now(UTC).year + 5}-01-01",
            "--reason",
            "needed",
            token=tokens["dpo"],
        )
        assert code == 0
        code, _, _ = g(
            "review",
            "decide",
            second,
            "--action",
            "delete",
            "--reason",
            "done",
            token=tokens["dpo"],
        )
        assert code == 0
        _, out, _ = g("review", "list", "--json", token=tokens["dpo"])
        assert len(json.loads(out)) == len(items) - 2


class TestSchedulerCommands:
    def test_jobs_and_run_once(self, gdpr: tuple[Gdpr, dict[str, str]]) -> None:
        """`scheduler jobs` lists the five jobs; `run-once expiries` runs one now."""
        g, tokens = gdpr
        code, out, _ = g("scheduler", "jobs", "--json", token=tokens["dpo"])
        assert code == 0 and [j["job"] for j in json.loads(out)] == [
            "sweep",
            "checkpoint",
            "expiries",
            "deliver",
            "consent",
        ]
        code, out, _ = g("scheduler", "run-once", "expiries", "--json", token=tokens["dpo"])
        assert code == 0 and "consents_expiring_30_days" in json.loads(out)

    def test_run_once_sweep_has_one_run_id(self, gdpr: tuple[Gdpr, dict[str, str]]) -> None:
        """`run-once sweep --json`: the sweep's `run_id`, the job's own run as `job_run`."""
        g, tokens = gdpr
        code, out, err = g("scheduler", "run-once", "sweep", "--json", token=tokens["dpo"])
        assert (code, err) == (0, "")
        done = json.loads(out)
        assert "run" not in done
        assert done["job"] == "sweep" and done["status"] == "completed"
        assert len(done["run_id"]) == 36 and done["job_run"] != done["run_id"]
        assert done["evaluated_at"].endswith("Z")


class TestSchedulerService:
    def test_sigterm_stops_the_service(self, gdpr: tuple[Gdpr, dict[str, str]]) -> None:
        """`scheduler run` logs its jobs as JSON and exits 0 on SIGTERM."""
        import signal
        import time

        g, tokens = gdpr
        token = tokens["scheduler"] if "scheduler" in tokens else tokens["dpo"]
        proc = g.process("scheduler", "run", token=token)
        deadline = time.monotonic() + 180
        lines: list[str] = []
        assert proc.stderr is not None
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            lines.append(line)
            if "scheduler.started" in line:
                break
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=180)
        events = [json.loads(x)["event"] for x in [*lines, *err.splitlines()] if x.startswith("{")]
        assert proc.returncode == 0, err
        assert events.count("scheduler.job") == 5  # sweep, checkpoint, expiries, deliver, consent
        assert events[-2:] == ["scheduler.stopping", "scheduler.stopped"]
