"""init_installation: what `gdpr init` creates, returned as data a program can use."""

from __future__ import annotations

from pathlib import Path

from retention.access import authenticate
from retention.config import load_config
from retention.install import open_installation
from retention.operations import init_installation, schema_status
from retention.results import json_data
from retention.store import migrate
from retention.testing import DatabaseFactory


class TestInitInstallation:
    def test_result_holds_key_and_working_tokens(
        self, tmp_path: Path, db_factory: DatabaseFactory
    ) -> None:
        """The result names the schema, the verifier key and two principals whose tokens work."""
        config = load_config(tmp_path / "data", db_factory.empty(), env={})
        result = init_installation(config)
        data = json_data(result)
        assert isinstance(data, dict)
        assert set(data) == {"data_dir", "revision", "verifier_key", "principals"}
        assert data["revision"] == migrate.head_revision()
        assert data["verifier_key"] == config.verifier_key_file.read_text().strip()
        assert [(p["name"], p["role"]) for p in data["principals"]] == [
            ("admin", "admin"),
            ("dpo", "dpo"),
        ]
        installation = open_installation(config)
        try:
            for p in data["principals"]:
                assert str(authenticate(installation.engine, p["token"]).id) == p["id"]
        finally:
            installation.engine.dispose()
        assert schema_status(config).up_to_date

    def test_text_keeps_the_lines_for_people(
        self, tmp_path: Path, db_factory: DatabaseFactory
    ) -> None:
        """The text output is the one `gdpr init` always printed: the tokens shown once."""
        config = load_config(tmp_path / "data", db_factory.empty(), env={})
        result = init_installation(config)
        lines = result.text().splitlines()
        assert lines[0] == f"Initialized {config.data_dir} (schema {result.revision})."
        assert lines[1] == f"Checkpoint verifier key: {result.verifier_key}"
        assert f"  dpo: {result.principals[1].token}" in lines
