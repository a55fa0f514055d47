"""The secrets of an integration, read from files only their owner can read.

A source's `secret_file` holds its webhook secret: for Greenhouse the secret key entered when the
web hook was created (at least 32 characters), for Standard Webhooks one or more `whsec_<base64>`
secrets, one a line (several while a secret is being rotated). A Greenhouse target's
`api_key_file` holds the Harvest API key. A file that group or others may read is refused: a
secret anyone on the machine can read signs anything.

A source's secrets are read on every event it posts, so they are kept in memory keyed by what
`stat` says of the file (device, inode, size, mtime and ctime in nanoseconds, mode): the file is
still stat-ed on every event, so a rotated secret (rewritten in place or renamed over) or a mode
made unsafe is seen at once, and only an unchanged file is not read again. A file changed within
the last `RACY_S` seconds is always read: a rewrite of the same size within one timestamp tick
of the filesystem would otherwise keep every stat field as it was (git's "racy clean" problem).
"""

from __future__ import annotations

import base64
import binascii
import os
import stat
import threading
import time
from pathlib import Path

from retention.config import Integration, IntegrationKind
from retention.errors import BadInput

__all__ = ["api_key", "read_private", "webhook_secrets"]

_WHSEC = "whsec_"
GREENHOUSE_MIN_SECRET = 32
RACY_S = 2.0

_Signature = tuple[int, int, int, int, int, int]
_secrets_cache: dict[tuple[Path, IntegrationKind], tuple[_Signature, tuple[str, ...]]] = {}
_cache_lock = threading.Lock()


def _checked_stat(path: Path, what: str) -> os.stat_result:
    """`path`'s stat, refused unless it is a regular file of mode 0600 (or 0400)."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise BadInput(f"{what} {path} does not exist") from None
    except OSError as exc:
        raise BadInput(f"{what} {path}: cannot read ({exc.strerror})") from None
    if not stat.S_ISREG(info.st_mode):
        raise BadInput(f"{what} {path} is not a regular file")
    if info.st_mode & 0o077:
        raise BadInput(
            f"{what} {path} has mode {stat.S_IMODE(info.st_mode):04o}: make it 0600 "
            f"(chmod 600 {path})"
        )
    return info


def read_private(path: Path, what: str) -> str:
    """The text of `path`, refused unless it is a regular file of mode 0600 (or 0400)."""
    _checked_stat(path, what)
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        raise BadInput(f"{what} {path}: cannot read it as UTF-8 text") from None


def webhook_secrets(integration: Integration) -> tuple[str, ...]:
    """The secrets a source signs with: one for Greenhouse, one or more for Standard Webhooks.

    Read again whenever the file's stat changed (see the module docstring)."""
    what = f"integration {integration.name}: secret_file"
    path = integration.secret_file
    info = _checked_stat(path, what)
    signature = (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns,
                 info.st_mode)  # fmt: skip
    key = (path, integration.kind)
    cached = _secrets_cache.get(key)
    if cached is not None and cached[0] == signature:
        return cached[1]
    secrets = _parse_secrets(integration, what)
    recent = time.time_ns() - max(info.st_mtime_ns, info.st_ctime_ns) < RACY_S * 1e9
    with _cache_lock:
        if recent:
            _secrets_cache.pop(key, None)
        else:
            _secrets_cache[key] = (signature, secrets)
    return secrets


def _parse_secrets(integration: Integration, what: str) -> tuple[str, ...]:
    lines = [
        line.strip()
        for line in read_private(integration.secret_file, what).splitlines()
        if line.strip()
    ]
    if not lines:
        raise BadInput(f"{what} {integration.secret_file} is empty")
    if integration.kind is IntegrationKind.GREENHOUSE:
        if len(lines) != 1 or len(lines[0]) < GREENHOUSE_MIN_SECRET:
            raise BadInput(
                f"{what}: one secret key of at least {GREENHOUSE_MIN_SECRET} characters expected"
            )
        return (lines[0],)
    for line in lines:
        if not line.startswith(_WHSEC):
            raise BadInput(f"{what}: a Standard Webhooks secret is written whsec_<base64>")
        try:
            key = base64.b64decode(line[len(_WHSEC) :], validate=True)
        except binascii.Error:
            raise BadInput(f"{what}: the part after whsec_ is not base64") from None
        if not 24 <= len(key) <= 64:
            raise BadInput(f"{what}: a secret of 24 to 64 bytes expected")
    return tuple(lines)


def api_key(integration: Integration) -> str:
    """A Greenhouse target's Harvest API key."""
    if integration.api_key_file is None:
        raise BadInput(f"integration {integration.name}: api_key_file is not configured")
    key = read_private(integration.api_key_file, f"integration {integration.name}: api_key_file")
    if not key.strip():
        raise BadInput(f"integration {integration.name}: api_key_file is empty")
    return key.strip()
