"""Inclusion and consistency proofs as values an auditor can carry away and check offline.

The JSON forms are fixed by the CLI contract: inclusion
{"leaf_index", "tree_size", "leaf_hash", "hashes", "root"} and consistency
{"size1", "size2", "hashes", "root1", "root2"}, every hash in standard base64.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from audit_log.errors import ProofShapeError
from audit_log.merkle import HASH_SIZE, verify_consistency, verify_inclusion


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(value: Any, what: str) -> bytes:
    try:
        return base64.b64decode(str(value), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ProofShapeError(f"{what} is not valid base64") from exc


def _int(obj: Mapping[str, Any], key: str) -> int:
    value = obj.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ProofShapeError(f"{key} must be an integer")
    return value


@dataclass(frozen=True, slots=True)
class InclusionProof:
    """Proof that the leaf `leaf_hash` is entry `leaf_index` of the tree of `tree_size`."""

    leaf_index: int
    tree_size: int
    leaf_hash: bytes
    hashes: tuple[bytes, ...]
    root: bytes

    def verify(self) -> None:
        """Raise a `ProofError` unless the proof holds."""
        verify_inclusion(self.leaf_index, self.tree_size, self.leaf_hash, self.hashes, self.root)

    def to_json(self) -> dict[str, Any]:
        """The CLI's JSON form."""
        return {
            "leaf_index": self.leaf_index,
            "tree_size": self.tree_size,
            "leaf_hash": _b64(self.leaf_hash),
            "hashes": [_b64(h) for h in self.hashes],
            "root": _b64(self.root),
        }

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> InclusionProof:
        """Read the CLI's JSON form."""
        return cls(
            _int(obj, "leaf_index"),
            _int(obj, "tree_size"),
            _unb64(obj.get("leaf_hash"), "leaf_hash"),
            tuple(_unb64(h, "proof hash") for h in obj.get("hashes") or ()),
            _unb64(obj.get("root"), "root"),
        )


def _quoted_b64(hashes: list[bytes]) -> dict[bytes, str]:
    """Each hash's base64, quoted as a JSON string, the 32-byte ones encoded in one call.

    32 bytes and a zero byte are 33, a multiple of 3: joined so, each hash takes 44 base64
    characters of its own, of which the first 43 are its own encoding's (whose last 4 bits
    are padded with zeros either way) and its padding is "=". Other lengths are encoded alone.
    """
    whole = [h for h in hashes if len(h) == HASH_SIZE]
    out = {h: f'"{_b64(h)}"' for h in hashes if len(h) != HASH_SIZE}
    if whole:
        text = binascii.b2a_base64(b"\0".join(whole) + b"\0", newline=False).decode("ascii")
        out.update(zip(whole, [f'"{text[i : i + 43]}="' for i in range(0, len(text), 44)],
                       strict=True))  # fmt: skip
    return out


def inclusion_proofs_json_text(proofs: Sequence[InclusionProof]) -> list[str]:
    """Each proof's JSON form as compact text with its keys sorted, as
    `json.dumps(p.to_json(), sort_keys=True, separators=(",", ":"))` writes it, for many
    proofs of one tree at once.

    Such proofs share their upper nodes and their root: each distinct hash is encoded once and
    looked up after, and each proof is written as one string (base64 needs no JSON escaping),
    not built as a dict and a list for an encoder to walk again."""
    distinct = {h for p in proofs for h in p.hashes}
    distinct.update(p.root for p in proofs)
    quoted = _quoted_b64(list(distinct))
    get = quoted.__getitem__
    return [
        f'{{"hashes":[{",".join(map(get, p.hashes))}],"leaf_hash":"{_b64(p.leaf_hash)}",'
        f'"leaf_index":{int(p.leaf_index)},"root":{get(p.root)},"tree_size":{int(p.tree_size)}}}'
        for p in proofs
    ]


@dataclass(frozen=True, slots=True)
class ConsistencyProof:
    """Proof that the tree (size1, root1) is a prefix of the tree (size2, root2)."""

    size1: int
    size2: int
    hashes: tuple[bytes, ...]
    root1: bytes
    root2: bytes

    def verify(self) -> None:
        """Raise a `ProofError` unless the proof holds."""
        verify_consistency(self.size1, self.size2, self.hashes, self.root1, self.root2)

    def to_json(self) -> dict[str, Any]:
        """The CLI's JSON form."""
        return {
            "size1": self.size1,
            "size2": self.size2,
            "hashes": [_b64(h) for h in self.hashes],
            "root1": _b64(self.root1),
            "root2": _b64(self.root2),
        }

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> ConsistencyProof:
        """Read the CLI's JSON form."""
        return cls(
            _int(obj, "size1"),
            _int(obj, "size2"),
            tuple(_unb64(h, "proof hash") for h in obj.get("hashes") or ()),
            _unb64(obj.get("root1"), "root1"),
            _unb64(obj.get("root2"), "root2"),
        )
