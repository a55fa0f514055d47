"""C2SP signed notes with Ed25519 keys: signing, opening, and the key string formats.

A note is UTF-8 text ending in a newline, a blank line, then one line per signature: "— <name>
<base64(key id || signature)>". The key id is SHA-256(name || 0x0A || 0x01 || public key) truncated
to 4 bytes; verifier keys are written `name+hexkeyid+base64(0x01 || public key)` and signer keys
`PRIVATE+KEY+name+hexkeyid+base64(0x01 || seed)`, as the Go `note` package does, so that the
checkpoints this log signs can be checked with standard tools, offline.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from audit_log.errors import NoteError, SignatureError

ALG_ED25519 = 1
_DASH = "\u2014 "
_PRIVATE_PREFIX = "PRIVATE+KEY+"


def _check_name(name: str) -> None:
    if not name or any(c.isspace() for c in name) or "+" in name:
        raise NoteError("a key name must be non-empty, without spaces or '+'")


def key_id(name: str, public_key: bytes) -> bytes:
    """The 4-byte key id of an Ed25519 key named `name`."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([ALG_ED25519]) + public_key).digest()[:4]


def _b64decode(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise NoteError(f"{what} is not valid base64") from exc


def _split_key(text: str, what: str) -> tuple[str, bytes, bytes]:
    parts = text.strip().split("+", 2)
    if len(parts) != 3:
        raise NoteError(f"{what} must look like name+hexkeyid+base64key")
    name, hex_id, b64 = parts
    _check_name(name)
    raw = _b64decode(b64, what)
    if len(hex_id) != 8 or len(raw) != 33 or raw[0] != ALG_ED25519:
        raise NoteError(f"{what} is not an Ed25519 key in note format")
    return name, bytes.fromhex(hex_id), raw[1:]


@dataclass(frozen=True, slots=True)
class Verifier:
    """A named Ed25519 public key that checks note signatures."""

    name: str
    public_key: bytes

    @property
    def key_id(self) -> bytes:
        """The 4-byte id signatures by this key carry."""
        return key_id(self.name, self.public_key)

    @classmethod
    def from_string(cls, text: str) -> Verifier:
        """Parse `name+hexkeyid+base64(0x01||pubkey)`, checking that the key id matches."""
        name, kid, public = _split_key(text, "verifier key")
        verifier = cls(name, public)
        if verifier.key_id != kid:
            raise NoteError("verifier key id does not match its name and key")
        return verifier

    def __str__(self) -> str:
        raw = base64.b64encode(bytes([ALG_ED25519]) + self.public_key).decode()
        return f"{self.name}+{self.key_id.hex()}+{raw}"

    def verify(self, text: str, signature: bytes) -> bool:
        """True when `signature` is this key's Ed25519 signature over `text`."""
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, text.encode())
        except InvalidSignature:
            return False
        return True


@dataclass(frozen=True, slots=True)
class Signer:
    """A named Ed25519 private key that signs notes."""

    name: str
    seed: bytes

    @classmethod
    def generate(cls, name: str) -> Signer:
        """A fresh random key named `name`."""
        _check_name(name)
        from cryptography.hazmat.primitives.serialization import NoEncryption, PrivateFormat

        key = Ed25519PrivateKey.generate()
        return cls(name, key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption()))

    @classmethod
    def from_string(cls, text: str) -> Signer:
        """Parse `PRIVATE+KEY+name+hexkeyid+base64(0x01||seed)`."""
        if not text.strip().startswith(_PRIVATE_PREFIX):
            raise NoteError("signer key must start with PRIVATE+KEY+")
        name, kid, seed = _split_key(text.strip()[len(_PRIVATE_PREFIX) :], "signer key")
        signer = cls(name, seed)
        if signer.verifier.key_id != kid:
            raise NoteError("signer key id does not match its name and key")
        return signer

    def __str__(self) -> str:
        raw = base64.b64encode(bytes([ALG_ED25519]) + self.seed).decode()
        return f"{_PRIVATE_PREFIX}{self.name}+{self.verifier.key_id.hex()}+{raw}"

    def __repr__(self) -> str:
        return f"Signer(name={self.name!r})"  # never print the seed

    @property
    def verifier(self) -> Verifier:
        """The public half, for checking this signer's notes."""
        public = Ed25519PrivateKey.from_private_bytes(self.seed).public_key()
        return Verifier(self.name, public.public_bytes(Encoding.Raw, PublicFormat.Raw))

    def sign(self, text: str) -> bytes:
        """Ed25519 signature over the UTF-8 bytes of `text`."""
        return Ed25519PrivateKey.from_private_bytes(self.seed).sign(text.encode())


def generate_signing_key(name: str) -> tuple[bytes, str]:
    """A new signer key (bytes to store in a 0600 file) and its verifier key string."""
    signer = Signer.generate(name)
    return str(signer).encode() + b"\n", str(signer.verifier)


@dataclass(frozen=True, slots=True)
class NoteSignature:
    """One signature line of a note."""

    name: str
    key_id: bytes
    signature: bytes


def _check_text(text: str) -> None:
    if not text.endswith("\n") or "\n\n" in text:
        raise NoteError("note text must end with a newline and contain no blank line")
    if any(ord(c) < 0x20 and c != "\n" for c in text):
        raise NoteError("note text must not contain control characters")


def sign_note(text: str, *signers: Signer) -> str:
    """The signed note: `text`, a blank line, one signature line per signer."""
    _check_text(text)
    lines = []
    for s in signers:
        blob = base64.b64encode(s.verifier.key_id + s.sign(text)).decode()
        lines.append(f"{_DASH}{s.name} {blob}\n")
    return text + "\n" + "".join(lines)


def parse_note(note: str) -> tuple[str, list[NoteSignature]]:
    """Split a note into its text and signature lines, without checking any signature."""
    cut = note.rfind("\n\n")
    if cut < 0 or not note.endswith("\n"):
        raise NoteError("a signed note needs text, a blank line and signature lines")
    text, sigs = note[: cut + 1], []
    _check_text(text)
    for line in note[cut + 2 :].splitlines():
        if not line.startswith(_DASH):
            raise NoteError("malformed signature line in note")
        name, _, blob = line[len(_DASH) :].partition(" ")
        raw = _b64decode(blob, "note signature")
        if not name or len(raw) < 5:
            raise NoteError("malformed signature line in note")
        sigs.append(NoteSignature(name, raw[:4], raw[4:]))
    if not sigs:
        raise NoteError("note has no signature")
    return text, sigs


def open_note(note: str, verifier: Verifier) -> str:
    """Return the note's text if `verifier` signed it; raise `SignatureError` otherwise."""
    text, sigs = parse_note(note)
    mine = [s for s in sigs if s.name == verifier.name and s.key_id == verifier.key_id]
    if not mine:
        others = ", ".join(f"{s.name}+{s.key_id.hex()}" for s in sigs)
        raise SignatureError(
            f"note is not signed by {verifier.name}+{verifier.key_id.hex()} (signed by {others})"
        )
    if not any(verifier.verify(text, s.signature) for s in mine):
        raise SignatureError(f"invalid signature by {verifier.name}+{verifier.key_id.hex()}")
    return text
