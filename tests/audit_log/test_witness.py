"""Tests of audit_log.witness: notes appended to a plain file read back unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest

from audit_log.errors import NoteError
from audit_log.note import Signer, sign_note
from audit_log.witness import append_witness, read_witness


class TestWitness:
    def test_round_trip(self, tmp_path: Path) -> None:
        """Several appended notes, one with two signatures, read back in order and unchanged."""
        a, b = Signer.generate("a"), Signer.generate("b")
        notes = [sign_note("o\n1\nAA==\n", a), sign_note("o\n2\nAA==\n", a, b)]
        path = tmp_path / "sub" / "witness.txt"
        for note in notes:
            append_witness(path, note)
        assert list(read_witness(path)) == notes

    def test_missing_file_is_empty(self, tmp_path: Path) -> None:
        """A witness file that does not exist yet holds no notes."""
        assert list(read_witness(tmp_path / "none.txt")) == []

    def test_cut_file_refused(self, tmp_path: Path) -> None:
        """A witness file cut inside a note is reported as malformed."""
        path = tmp_path / "w.txt"
        path.write_text("o\n1\nAA==\n")
        with pytest.raises(NoteError):
            list(read_witness(path))
