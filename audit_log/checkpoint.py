"""C2SP tlog-checkpoint bodies: origin, tree size and root, the statement a log signs.

Kept apart from the signature format (`note`) because a checkpoint is what is claimed and a note is
who claims it; an auditor checks both with standard tools.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from audit_log.errors import NoteError
from audit_log.merkle import HASH_SIZE


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """The claim that the log `origin` had `size` entries with Merkle root `root`."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.origin or "\n" in self.origin or self.origin != self.origin.strip():
            raise NoteError("checkpoint origin must be one non-empty line")
        if self.size < 0 or len(self.root) != HASH_SIZE:
            raise NoteError("checkpoint needs a size >= 0 and a 32-byte root")
        if any(not e or "\n" in e for e in self.extensions):
            raise NoteError("checkpoint extension lines must be non-empty single lines")

    def body(self) -> str:
        """The checkpoint text as signed: one item per line, each ending in a newline."""
        lines = [
            self.origin,
            str(self.size),
            base64.b64encode(self.root).decode(),
            *self.extensions,
        ]
        return "".join(line + "\n" for line in lines)

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        """Read a checkpoint body (the text of a signed note)."""
        if not text.endswith("\n"):
            raise NoteError("checkpoint body must end with a newline")
        lines = text[:-1].split("\n")
        if len(lines) < 3:
            raise NoteError("checkpoint body needs origin, size and root lines")
        origin, size_text, root_text, *extensions = lines
        if not size_text.isdigit() or (size_text != "0" and size_text.startswith("0")):
            raise NoteError("checkpoint size is not a decimal number")
        try:
            root = base64.b64decode(root_text, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise NoteError("checkpoint root is not valid base64") from exc
        return cls(origin, int(size_text), root, tuple(extensions))
