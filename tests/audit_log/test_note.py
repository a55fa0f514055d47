"""Tests of audit_log.note: the public C2SP signed-note vectors, signing, and key formats."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from audit_log.errors import NoteError, SignatureError
from audit_log.note import (
    Signer,
    Verifier,
    generate_signing_key,
    key_id,
    open_note,
    parse_note,
    sign_note,
)

NOTES = json.loads((Path(__file__).parent.parent / "data" / "signed-notes.json").read_text())[
    "notes"
]


def _note(vec: dict) -> str:
    return vec["text"] + "\n" + vec["signature_line"] + "\n"


class TestVectors:
    @pytest.mark.parametrize("vec", NOTES, ids=lambda v: v["verifier_key"].split("+")[0])
    def test_public_vectors_verify(self, vec: dict) -> None:
        """Each public note opens with its verifier key and yields its text."""
        verifier = Verifier.from_string(vec["verifier_key"])
        assert open_note(_note(vec), verifier) == vec["text"]
        assert str(verifier) == vec["verifier_key"]

    @pytest.mark.parametrize("vec", NOTES, ids=lambda v: v["verifier_key"].split("+")[0])
    def test_public_vectors_fail_when_text_changes(self, vec: dict) -> None:
        """Changing one character of the text makes the signature invalid."""
        verifier = Verifier.from_string(vec["verifier_key"])
        note = _note(vec).replace(vec["text"][0], vec["text"][0].swapcase(), 1)
        with pytest.raises(SignatureError, match="invalid signature"):
            open_note(note, verifier)

    def test_other_key_is_named(self) -> None:
        """A note signed by another key is refused, naming the signer's key id."""
        verifier = Verifier.from_string(NOTES[0]["verifier_key"])
        with pytest.raises(SignatureError, match=r"signed by example\.com/foo\+530d903a"):
            open_note(_note(NOTES[1]), verifier)


class TestSigning:
    def test_round_trip(self) -> None:
        """A note signed by a generated key opens with its verifier key string."""
        private, public = generate_signing_key("gdpr.example/audit")
        signer = Signer.from_string(private.decode())
        note = sign_note("hello\nworld\n", signer)
        assert open_note(note, Verifier.from_string(public)) == "hello\nworld\n"

    def test_key_id_formula(self) -> None:
        """The key id is SHA-256(name || 0x0A || 0x01 || public key)[:4]."""
        signer = Signer.generate("k")
        assert signer.verifier.key_id == key_id("k", signer.verifier.public_key)
        assert str(signer.verifier).split("+")[1] == signer.verifier.key_id.hex()

    def test_private_key_never_in_repr(self) -> None:
        """The repr of a signer does not contain its secret."""
        signer = Signer.generate("k")
        # Not str(signer).split("+"): base64 itself may contain "+", which made this flaky.
        secret = base64.b64encode(bytes([1]) + signer.seed).decode()
        assert secret in str(signer)
        assert secret not in repr(signer)
        assert signer.seed.hex() not in repr(signer)

    def test_several_signatures(self) -> None:
        """A note may carry several signatures; each key finds its own."""
        a, b = Signer.generate("a"), Signer.generate("b")
        note = sign_note("x\n", a, b)
        assert len(parse_note(note)[1]) == 2
        assert open_note(note, b.verifier) == "x\n"


class TestFormats:
    @pytest.mark.parametrize(
        "text",
        ["", "name+12345678", "na me+00000000+AAAA", "n+zz+AQ==", "n+00000000+AQ=="],
        ids=["empty", "two-parts", "space-in-name", "bad-hex", "short-key"],
    )
    def test_bad_verifier_keys(self, text: str) -> None:
        """Malformed verifier key strings are refused with NoteError."""
        with pytest.raises(NoteError):
            Verifier.from_string(text)

    def test_key_id_must_match(self) -> None:
        """A verifier key whose id does not match its name and key is refused."""
        vkey = NOTES[0]["verifier_key"].replace("c74f20a3", "c74f20a4")
        with pytest.raises(NoteError, match="key id does not match"):
            Verifier.from_string(vkey)

    @pytest.mark.parametrize(
        "note",
        ["no blank line\n", "text\n\nno dash\n", "text\n\n", "a\n\nb\n\n\u2014 x AAAA\n"],
        ids=["no-signatures", "bad-line", "empty-signatures", "blank-in-text"],
    )
    def test_malformed_notes(self, note: str) -> None:
        """Notes without a well-formed signature block are refused."""
        with pytest.raises(NoteError):
            parse_note(note)

    def test_text_must_end_with_newline(self) -> None:
        """Signing text that does not end in a newline is refused."""
        with pytest.raises(NoteError):
            sign_note("no newline", Signer.generate("k"))
