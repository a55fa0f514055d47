"""The data directory and every file the engine writes in it are the owner's only."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli_support import gdpr, init_as_dpo


@pytest.fixture
def open_umask() -> Iterator[None]:
    """Run with `umask 000`, as a careless service unit would."""
    before = os.umask(0)
    yield
    os.umask(before)


def _modes(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): oct(stat.S_IMODE(p.lstat().st_mode))
        for p in sorted([root, *root.rglob("*")])
    }


@pytest.mark.usefixtures("open_umask")
def test_init_tightens_an_open_data_dir(tmp_path: Path) -> None:
    """A data dir that exists with mode 0777 becomes 0700; files are 0600, the public key 0644."""
    data = tmp_path / "data"
    data.mkdir()
    data.chmod(0o777)
    env: dict[str, str | None] = {"GDPR_DATABASE_URL": None, "GDPR_DATA_DIR": None}
    init_as_dpo(env, data)
    code, _, err = gdpr(env, "--data-dir", str(data), "demo", "seed", "--candidates", "50")
    assert code == 0, err
    modes = _modes(data)
    assert modes.pop("keys/checkpoint-verifier.pub") == "0o644"
    dirs = {k for k in modes if (data / k).is_dir()}
    assert {modes[k] for k in dirs} == {"0o700"}
    assert {k: v for k, v in modes.items() if k not in dirs and v != "0o600"} == {}
    assert "gdpr.sqlite3" in modes and ".gdpr-installation" in modes


def test_a_world_writable_data_dir_is_refused(tmp_path: Path) -> None:
    """Made world-writable after init, the data dir is refused with a one-line hint."""
    data = tmp_path / "data"
    env: dict[str, str | None] = {"GDPR_DATABASE_URL": None, "GDPR_DATA_DIR": None}
    init_as_dpo(env, data)
    data.chmod(0o777)
    code, out, err = gdpr(env, "--data-dir", str(data), "sweep", "--dry-run")
    assert (code, out) == (2, "")
    assert err == f"Error: data directory {data} is writable by others: run 'chmod 700 {data}'\n"
