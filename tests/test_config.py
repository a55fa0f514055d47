"""The configuration: gdpr.toml read once, every wrong value refused with one clear line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from retention.config import MAX_SWEEP_WORKERS, Config, load_config
from retention.errors import BadInput

PG = "postgresql+psycopg://app@db.internal/gdpr"


def config_with(tmp_path: Path, toml: str, url: str | None = None) -> Config:
    (tmp_path / "gdpr.toml").write_text(toml)
    return load_config(tmp_path, url, env={})


class TestSweepWorkers:
    def test_default_leaves_the_choice_to_the_sweep(self, tmp_path: Path) -> None:
        assert config_with(tmp_path, "").sweep_workers is None

    @pytest.mark.parametrize("workers", [1, 4, MAX_SWEEP_WORKERS])
    def test_workers_on_postgresql(self, tmp_path: Path, workers: int) -> None:
        config = config_with(tmp_path, f"[sweep]\nworkers = {workers}\n", PG)
        assert config.sweep_workers == workers

    def test_one_worker_on_sqlite(self, tmp_path: Path) -> None:
        assert config_with(tmp_path, "[sweep]\nworkers = 1\n").sweep_workers == 1

    def test_several_workers_on_sqlite_are_refused(self, tmp_path: Path) -> None:
        with pytest.raises(BadInput, match=r"workers above 1 need PostgreSQL"):
            config_with(tmp_path, "[sweep]\nworkers = 2\n")

    @pytest.mark.parametrize("value", ["0", str(MAX_SWEEP_WORKERS + 1), '"2"', "2.0", "true", "-1"])
    def test_workers_not_a_whole_number_in_range(self, tmp_path: Path, value: str) -> None:
        with pytest.raises(BadInput, match=r"whole number from 1 to 16"):
            config_with(tmp_path, f"[sweep]\nworkers = {value}\n", PG)

    def test_unknown_sweep_setting(self, tmp_path: Path) -> None:
        with pytest.raises(BadInput, match=r"\[sweep\] takes only workers"):
            config_with(tmp_path, "[sweep]\nbatch = 5\n", PG)


class TestMailAndConsentSections:
    """[mail], [consent] and [api] public_url: validated once, one clear line each."""

    def _load(self, tmp_path, text: str):
        (tmp_path / "gdpr.toml").write_text(text)
        return load_config(tmp_path, env={})

    def test_mail_defaults_port_by_security(self, tmp_path) -> None:
        cfg = self._load(
            tmp_path, '[mail]\nhost = "smtp.x"\nsecurity = "tls"\nsender = "p@x.org"\n'
        )
        assert cfg.mail is not None and cfg.mail.port == 465

    @pytest.mark.parametrize(
        ("text", "message"),
        [
            ('[mail]\nsender = "p@x.org"\n', "host is required"),
            ('[mail]\nhost = "h"\n', "sender is required"),
            ('[mail]\nhost = "h"\nsender = "p@x.org"\nsecurity = "ssl"\n', "none, starttls or tls"),
            ('[mail]\nhost = "h"\nsender = "p@x.org"\nport = 0\n', "port must be"),
            ('[mail]\nhost = "h"\nsender = "p@x.org"\nusername = "u"\n', "go together"),
            ("[consent]\nauto_renew = true\n", "silence never renews"),
            ("[consent]\nmax_messages = 0\n", "max_messages must be"),
            ('[api]\npublic_url = "ftp://x"\n', "public_url must be an http(s) URL"),
        ],
    )
    def test_refused(self, tmp_path, text: str, message: str) -> None:
        with pytest.raises(BadInput, match=re.escape(message)):
            self._load(tmp_path, text)
