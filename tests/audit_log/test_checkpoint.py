"""Tests of audit_log.checkpoint: C2SP tlog-checkpoint bodies."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from audit_log.checkpoint import Checkpoint
from audit_log.errors import NoteError

NOTES = json.loads((Path(__file__).parent.parent / "data" / "signed-notes.json").read_text())[
    "notes"
]


class TestCheckpoint:
    def test_body_form(self) -> None:
        """The body is origin, decimal size and base64 root, one per line, then extensions."""
        cp = Checkpoint("example.com/log", 12, b"\x01" * 32, ("ext one",))
        root = base64.b64encode(b"\x01" * 32).decode()
        assert cp.body() == f"example.com/log\n12\n{root}\next one\n"

    def test_round_trip(self) -> None:
        """Parsing a body gives back the same checkpoint."""
        cp = Checkpoint("o", 0, b"\x00" * 32)
        assert Checkpoint.parse(cp.body()) == cp

    def test_parses_go_sum_checkpoint(self) -> None:
        """The go.sum database note from the public vectors is a checkpoint of 6476701 leaves."""
        cp = Checkpoint.parse(NOTES[2]["text"])
        assert (cp.origin, cp.size) == ("go.sum database tree", 6476701)

    @pytest.mark.parametrize(
        "text",
        [
            "o\n1\n",
            "o\n-1\nAAAA\n",
            "o\n01\n" + "A" * 43 + "=\n",
            "o\n1\nnot base64\n",
            "o\n1\nAAAA",
        ],
        ids=["too-short", "negative", "leading-zero", "bad-root", "no-final-newline"],
    )
    def test_malformed_bodies(self, text: str) -> None:
        """Malformed checkpoint bodies are refused with NoteError."""
        with pytest.raises(NoteError):
            Checkpoint.parse(text)

    def test_root_must_be_32_bytes(self) -> None:
        """A checkpoint root must be a 32-byte hash."""
        with pytest.raises(NoteError):
            Checkpoint("o", 1, b"\x00" * 31)
