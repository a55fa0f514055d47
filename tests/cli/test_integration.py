"""`gdpr integration`: list and check the configured systems; a sweep's actions delivered to a
real receiver on a loopback port through `deliver`, seen in `status`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from retention.demo.population import generate, insert_population
from retention.install import open_installation
from retention.store import transaction
from retention.testing import DatabaseFactory
from tests.cli_support import Gdpr, init_tokens
from tests.integration_support import WHSEC, Receiver, write_private


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


@pytest.fixture
def gdpr(
    tmp_path: Path, db_factory: DatabaseFactory, receiver: Receiver
) -> tuple[Gdpr, dict[str, str]]:
    """An installation with 300 seeded subjects and a generic target at `receiver`."""
    g = Gdpr(tmp_path / "data", {"GDPR_DATABASE_URL": db_factory.empty()})
    tokens = init_tokens(g.env, g.data_dir)
    write_private(g.data_dir / "hrbox.secret", WHSEC + "\n")
    (g.data_dir / "gdpr.toml").write_text(
        f'[integration.hrbox]\nkind = "standard-webhooks"\nsecret_file = "hrbox.secret"\n'
        f'country = "DE"\nurl = "{receiver.url}"\n'
    )
    installation = open_installation(g.config())
    with transaction(installation.engine) as conn:
        insert_population(conn, generate(300, datetime.now(UTC), seed=5))
    installation.engine.dispose()
    return g, tokens


class TestIntegrationCommands:
    def test_list_and_check(self, gdpr: tuple[Gdpr, dict[str, str]]) -> None:
        g, _ = gdpr
        code, out, _ = g("integration", "list")
        assert code == 0 and out.split()[:2] == ["hrbox", "standard-webhooks"]
        assert g("integration", "check")[:2] == (0, "hrbox: ok\n")
        (g.data_dir / "hrbox.secret").chmod(0o644)
        code, out, err = g("integration", "check", "--json")
        assert code == 1 and "chmod 600" in json.loads(out)[0]["problems"][0]
        assert err == "Error: integration check failed\n"

    def test_a_sweeps_actions_reach_the_target(
        self, gdpr: tuple[Gdpr, dict[str, str]], receiver: Receiver
    ) -> None:
        g, tokens = gdpr
        code, out, _ = g("sweep", "--json", token=tokens["dpo"])
        swept = json.loads(out)
        told = swept["anonymized"] + swept["deleted"] + swept["blocked"]
        assert code == 0 and told > 0
        code, out, _ = g("integration", "status", "--json", token=tokens["dpo"])
        (status,) = json.loads(out)["targets"]
        assert (status["target"], status["pending"], status["delivered"]) == ("hrbox", told, 0)
        assert status["oldest_pending"] is not None
        code, out, _ = g("integration", "deliver", "--json", token=tokens["dpo"])
        assert code == 0 and json.loads(out)["delivered"] == {"hrbox": told}
        assert len(receiver.received) == told and receiver.bad_signatures == 0
        kinds = {json.loads(r.body)["data"]["action"] for r in receiver.received}
        assert kinds <= {"anonymize", "delete", "block"}
        code, out, _ = g("integration", "status", token=tokens["dpo"])
        assert f"pending 0, failed 0, delivered {told}, dead 0" in out

    def test_deliver_needs_sweep_run(self, gdpr: tuple[Gdpr, dict[str, str]]) -> None:
        g, tokens = gdpr
        code, out, err = g("integration", "deliver", token=tokens["admin"])
        assert code == 1 and out == "" and err.startswith("Error: access denied")
