"""The installation's key for the source links' hashes (`integration_link.key`).

A keyed hash rather than a plain one: source ids are small integers, and a plain hash of one is
reversed by trying them all. The key lives beside the checkpoint keys (mode 0600), is created on
first use and never rotated (a new key would orphan every link).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from retention.config import Config
from retention.integration.secrets import read_private

__all__ = ["link_secret"]

KEY_FILE = "integration-link.key"
_cache: dict[Path, bytes] = {}


def link_secret(config: Config) -> bytes:
    path = config.keys_dir / KEY_FILE
    cached = _cache.get(path)
    if cached is not None:
        return cached
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process made it first
        else:
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(32) + "\n")
    key = bytes.fromhex(read_private(path, "integration link key").strip())
    _cache[path] = key
    return key
