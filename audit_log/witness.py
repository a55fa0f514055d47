"""The witness file: signed checkpoints appended to a plain text file outside the database.

Whoever controls the database could rewrite the log, its checkpoints and its head consistently;
a copy of every checkpoint in a file elsewhere (another disk, a mailed copy, a WORM store) makes
such a rewrite visible. Notes are separated by a blank line; a note itself holds exactly one blank
line (between its text and its signatures), so the file splits unambiguously.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from audit_log.errors import NoteError


def append_witness(path: Path, note: str) -> None:
    """Append `note` to the witness file at `path` and flush it to disk."""
    if not note.endswith("\n") or note.count("\n\n") != 1:
        raise NoteError("a witnessed note must hold exactly one blank line")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, (note + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def read_witness(path: Path) -> Iterator[str]:
    """The notes in the witness file, oldest first; none if the file does not exist."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return
    parts = text.split("\n\n")
    if parts and parts[-1] in ("", "\n"):
        parts.pop()
    if len(parts) % 2:
        raise NoteError(f"witness file {path} is malformed (a note is cut short)")
    for i in range(0, len(parts), 2):
        yield parts[i] + "\n\n" + parts[i + 1] + "\n"
