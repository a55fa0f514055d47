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
        with pytest.raises(BadInput, match=r"\[sweep\] takes only workers and batch_size"):
            config_with(tmp_path, "[sweep]\nbatch = 5\n", PG)


class TestSweepBatchSize:
    def test_default_leaves_the_choice_to_the_sweep(self, tmp_path: Path) -> None:
        assert config_with(tmp_path, "").sweep_batch_size is None

    @pytest.mark.parametrize("size", [1_000, 40_000, 100_000])
    def test_batch_size_on_either_backend(self, tmp_path: Path, size: int) -> None:
        assert config_with(tmp_path, f"[sweep]\nbatch_size = {size}\n").sweep_batch_size == size
        both = config_with(tmp_path, f"[sweep]\nworkers = 2\nbatch_size = {size}\n", PG)
        assert (both.sweep_workers, both.sweep_batch_size) == (2, size)

    @pytest.mark.parametrize("value", ["999", "100001", '"20000"', "2e4", "true", "-5000"])
    def test_batch_size_not_a_whole_number_in_range(self, tmp_path: Path, value: str) -> None:
        with pytest.raises(
            BadInput, match=r"batch_size must be a whole number from 1,000 to 100,000"
        ):
            config_with(tmp_path, f"[sweep]\nbatch_size = {value}\n")


class TestRequests:
    def test_defaults(self, tmp_path: Path) -> None:
        """No [requests]: weekends only, closed requests kept three years, no processors."""
        settings = config_with(tmp_path, "").requests
        assert (settings.calendar, settings.keep_closed, settings.processors) == (None, "3y", ())

    def test_calendar_is_normalized(self, tmp_path: Path) -> None:
        config = config_with(tmp_path, '[requests]\ncalendar = "de-by"\nkeep_closed = "6m"\n')
        assert (config.requests.calendar, config.requests.keep_closed) == ("DE-BY", "6m")

    @pytest.mark.parametrize(
        ("toml", "message"),
        [
            ('calendar = "XX"', r"no public holidays known for 'XX'"),
            ('calendar = "DE-ZZ"', r"DE has no subdivision 'ZZ'"),
            ('keep_closed = "forever"', r"keep_closed must be a duration"),
            ("processors = [1]", r"processors must be a list of names"),
            ("colour = 1", r"takes only calendar, keep_closed and processors"),
        ],
    )
    def test_bad_values(self, tmp_path: Path, toml: str, message: str) -> None:
        with pytest.raises(BadInput, match=message):
            config_with(tmp_path, f"[requests]\n{toml}\n")


class TestApi:
    def test_defaults_listen_on_loopback_with_one_worker(self, tmp_path: Path) -> None:
        api = config_with(tmp_path, "").api
        assert (api.host, api.port, api.workers, api.cors_origins) == ("127.0.0.1", 8000, 1, ())
        assert api.group_commit is True
        assert api.keep_exports_days == 7

    def test_a_full_section(self, tmp_path: Path) -> None:
        toml = (
            "[api]\n"
            'bind = "[::1]:9001"\n'
            "workers = 4\n"
            'public_url = "https://gdpr.example.org/"\n'
            'cors_origins = ["https://backoffice.example.org"]\n'
            'metrics_token_file = "keys/metrics.token"\n'
            "max_body_bytes = 65536\n"
            "principal_rate_per_minute = 0\n"
            "group_commit = false\n"
            "keep_exports_days = 30\n"
        )
        api = config_with(tmp_path, toml, PG).api
        assert (api.host, api.port, api.workers) == ("::1", 9001, 4)
        assert api.public_url == "https://gdpr.example.org"
        assert api.cors_origins == ("https://backoffice.example.org",)
        assert api.metrics_token_path == tmp_path.absolute() / "keys/metrics.token"
        assert (api.max_body_bytes, api.principal_rate_per_minute) == (65536, 0)
        assert api.group_commit is False
        assert api.keep_exports_days == 30

    @pytest.mark.parametrize(
        ("toml", "message"),
        [
            ("[api]\nworkers = 2\n", "above 1 need PostgreSQL"),
            ('[api]\nbind = "localhost"\n', "HOST:PORT"),
            ('[api]\nbind = "127.0.0.1:99999"\n', "HOST:PORT"),
            ("[api]\nworkers = 0\n", "workers must be a whole number"),
            ('[api]\ncors_origins = ["*"]\n', "cors_origins must be a list of origins"),
            ('[api]\ncors_origins = ["https://a.org/path"]\n', "no path"),
            ('[api]\npublic_url = "gdpr.example.org"\n', "public_url must be"),
            ("[api]\nmax_body_bytes = 10\n", "max_body_bytes"),
            ("[api]\nport = 8000\n", "[api] takes only"),
            ('[api]\ngroup_commit = "yes"\n', "true or false"),
            ("[api]\nkeep_exports_days = 0\n", "keep_exports_days must be a whole number"),
        ],
    )
    def test_wrong_values_are_one_line(self, tmp_path: Path, toml: str, message: str) -> None:
        with pytest.raises(BadInput, match=re.escape(message)):
            config_with(tmp_path, toml)


GREENHOUSE = """
[integration.greenhouse]
kind = "greenhouse"
secret_file = "gh.secret"
country = "NL"
url = "https://harvest.greenhouse.io/"
on_behalf_of = "4080"
api_key_file = "/etc/gdpr/harvest.key"
"""


class TestIntegrations:
    def test_a_source_and_a_target(self, tmp_path: Path) -> None:
        cfg = config_with(
            tmp_path,
            GREENHOUSE + '[integration.lever]\nkind = "standard-webhooks"\n'
            'secret_file = "lever.secret"\nfields = { firstName = "first_name" }\n',
        )
        gh, lever = cfg.integration("greenhouse"), cfg.integration("lever")
        assert gh is not None and lever is not None
        assert gh.secret_file == tmp_path / "gh.secret"
        assert gh.url == "https://harvest.greenhouse.io" and gh.is_target
        assert lever.fields == (("firstName", "first_name"),) and not lever.is_target
        assert [t.name for t in cfg.targets] == ["greenhouse"]

    @pytest.mark.parametrize(
        ("toml", "message"),
        [
            ('[integration.x]\nkind = "workday"\nsecret_file = "s"', "kind must be greenhouse"),
            ('[integration.x]\nkind = "greenhouse"', "secret_file is required"),
            ('[integration.X_1]\nkind = "greenhouse"\nsecret_file = "s"', "lower-case letters"),
            ('[integration.x]\nkind = "greenhouse"\nsecret_file = "s"\ncountry = "nl"', "alpha-2"),
            ('[integration.x]\nkind = "greenhouse"\nsecret_file = "s"\nurl = "ftp://h"', "http(s)"),
            (
                '[integration.x]\nkind = "greenhouse"\nsecret_file = "s"\nurl = "https://h"',
                "needs on_behalf_of",
            ),
            (
                '[integration.x]\nkind = "standard-webhooks"\nsecret_file = "s"\ncolour = 1',
                "unknown key",
            ),
            (
                '[integration.x]\nkind = "standard-webhooks"\nsecret_file = "s"\n'
                'fields = { a = "salary" }',
                "fields maps",
            ),
            ('[integration.x]\nkind = "standard-webhooks"\nsecret_file = "s"\nrate = 0', "rate"),
        ],
    )
    def test_mistakes_are_one_clear_line(self, tmp_path: Path, toml: str, message: str) -> None:
        with pytest.raises(BadInput, match=message.replace("(", r"\(").replace(")", r"\)")):
            config_with(tmp_path, toml)


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
