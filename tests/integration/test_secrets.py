"""A source's secrets are kept in memory only while its file's stat is unchanged: a rotated
secret or an unsafe mode is seen on the very next event."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from retention.config import Integration, IntegrationKind
from retention.errors import BadInput
from retention.integration import secrets as secrets_module
from retention.integration import webhook_secrets
from tests.integration_support import WHSEC, WHSEC_OLD, write_private

OLD = 1_700_000_000  # a file last changed long ago (outside the racy window)


def source(path: Path) -> Integration:
    return Integration("lever", IntegrationKind.STANDARD_WEBHOOKS, path)


def settle(path: Path) -> None:
    os.utime(path, (OLD, OLD))


@pytest.fixture
def no_racy_window(monkeypatch: pytest.MonkeyPatch) -> None:
    """The ctime of a file cannot be set back: let files written by the test be cached."""
    monkeypatch.setattr(secrets_module, "RACY_S", 0.0)


@pytest.mark.usefixtures("no_racy_window")
def test_an_unchanged_file_is_not_read_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_private(tmp_path / "lever.secret", WHSEC + "\n")
    settle(path)
    assert webhook_secrets(source(path)) == (WHSEC,)
    reads: list[Path] = []
    real = secrets_module.read_private

    def counted(p: Path, what: str) -> str:
        reads.append(p)
        return real(p, what)

    monkeypatch.setattr(secrets_module, "read_private", counted)
    assert webhook_secrets(source(path)) == (WHSEC,)
    assert reads == []


@pytest.mark.usefixtures("no_racy_window")
def test_a_rotated_secret_of_the_same_size_is_read_at_once(tmp_path: Path) -> None:
    """Rewritten in place and its mtime put back: the ctime still tells it changed."""
    path = write_private(tmp_path / "lever.secret", WHSEC + "\n")
    settle(path)
    assert webhook_secrets(source(path)) == (WHSEC,)
    assert len(WHSEC_OLD) == len(WHSEC)
    path.write_text(WHSEC_OLD + "\n")
    settle(path)
    assert webhook_secrets(source(path)) == (WHSEC_OLD,)


@pytest.mark.usefixtures("no_racy_window")
def test_a_secret_renamed_over_the_file_is_read(tmp_path: Path) -> None:
    path = write_private(tmp_path / "lever.secret", WHSEC + "\n")
    settle(path)
    assert webhook_secrets(source(path)) == (WHSEC,)
    new = write_private(tmp_path / "lever.secret.new", f"{WHSEC}\n{WHSEC_OLD}\n")
    settle(new)
    new.replace(path)
    assert webhook_secrets(source(path)) == (WHSEC, WHSEC_OLD)


def test_a_file_changed_just_now_is_read_every_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Within the racy window nothing is cached: a same-size rewrite in the same timestamp
    tick would leave every stat field as it was."""
    path = write_private(tmp_path / "lever.secret", WHSEC + "\n")
    reads: list[Path] = []
    real = secrets_module.read_private

    def counted(p: Path, what: str) -> str:
        reads.append(p)
        return real(p, what)

    monkeypatch.setattr(secrets_module, "read_private", counted)
    assert webhook_secrets(source(path)) == webhook_secrets(source(path)) == (WHSEC,)
    assert reads == [path, path]


@pytest.mark.usefixtures("no_racy_window")
def test_a_mode_made_unsafe_is_refused_even_when_cached(tmp_path: Path) -> None:
    path = write_private(tmp_path / "lever.secret", WHSEC + "\n")
    settle(path)
    assert webhook_secrets(source(path)) == (WHSEC,)
    path.chmod(0o644)
    with pytest.raises(BadInput, match="mode 0644"):
        webhook_secrets(source(path))
    path.unlink()
    with pytest.raises(BadInput, match="does not exist"):
        webhook_secrets(source(path))
