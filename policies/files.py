"""Reading policy, policy-test and record files as UTF-8, with one error for anything else.

A file saved in Latin-1 or with stray binary must be a one-line finding that names the file and
where its first undecodable byte is, not a `UnicodeDecodeError` from deep inside a command.
"""

from __future__ import annotations

from pathlib import Path

from .errors import PolicyFileError

__all__ = ["decode_utf8", "read_utf8"]


def decode_utf8(data: bytes, name: str) -> str:
    """`data` as text; PolicyFileError `NAME: not UTF-8 (byte N)` (N counts from 1) otherwise."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PolicyFileError(f"{name}: not UTF-8 (byte {exc.start + 1})") from None


def read_utf8(path: Path) -> str:
    """The text of the file at `path` (see `decode_utf8`)."""
    return decode_utf8(path.read_bytes(), str(path))
