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


def _levels_below(index: int, size: int, level: int) -> int:
    """How many hashes of PATH(index, D[0:size]) are of subtrees below `level` (the path is
    ordered leaf side first, one hash a level below the level where the paths to `index` and to
    the last leaf part, above it one wherever `index` has a left sibling; see `inclusion_nodes`)."""
    inner = (index ^ (size - 1)).bit_length()
    if level <= inner:
        return level
    return inner + ((index >> inner) & ((1 << (level - inner)) - 1)).bit_count()


_QUOTED = 47
"""Characters a 32-byte hash takes in a compact JSON list of them: 44 of base64, 2 quotes and
a comma (the last one's comma aside)."""


def _chunks(hashes: list[bytes]) -> list[str]:
    """The base64 of each of these 32-byte hashes without its padding "=" (43 characters),
    all encoded in one call (see `_quoted_b64`)."""
    if not hashes:
        return []
    text = binascii.b2a_base64(b"\0".join(hashes) + b"\0", newline=False).decode("ascii")
    return [text[i : i + 43] for i in range(0, len(text), 44)]


def inclusion_proofs_json_text(proofs: Sequence[InclusionProof]) -> list[str]:
    """Each proof's JSON form as compact text with its keys sorted, as
    `json.dumps(p.to_json(), sort_keys=True, separators=(",", ":"))` writes it, for many
    proofs of one tree at once.

    Proofs of one tree, in leaf order, share their upper hashes: the path of a leaf above the
    level where it and the previous proof's leaf part is the previous path's, so its text is
    the previous proof's text from there on, copied as one string, not written again hash by
    hash. (The shared hashes are compared, as one tuple, before their text is reused: the
    levels only say where to look.) The other hashes, a proof's own, and the leaf hashes are
    base64-encoded together in one call; each proof is written as one string (base64 needs no
    JSON escaping), not built as a dict and a list for an encoder to walk again. Proofs with a
    hash of another length than 32 bytes are written hash by hash (`_quoted_b64`)."""
    own: list[int] = []  # how many of each proof's hashes, leaf side first, are its own
    kept: list[int] = []  # how many of the previous proof's hashes it shares, at its end
    prev: InclusionProof | None = None
    for p in proofs:
        k, hashes = len(p.hashes), p.hashes
        if prev is not None and prev.tree_size == p.tree_size and 0 <= p.leaf_index < p.tree_size:
            below = _levels_below(p.leaf_index, p.tree_size,
                                  (p.leaf_index ^ prev.leaf_index).bit_length())  # fmt: skip
            shared = len(hashes) - below
            if 0 < shared <= len(prev.hashes) and hashes[below:] == prev.hashes[-shared:]:
                k = below
        own.append(k)
        kept.append(len(hashes) - k)
        prev = p
    flat = [h for p, k in zip(proofs, own, strict=True) for h in p.hashes[:k]]
    leaves = [p.leaf_hash for p in proofs]
    if {*map(len, flat), *map(len, leaves)} - {HASH_SIZE}:
        return _proofs_json_text_each(proofs)
    path, leaf = _chunks(flat), _chunks(leaves)
    roots = {r: f'"{_b64(r)}"' for r in {p.root for p in proofs}}
    out: list[str] = []
    text, pos = "", 0
    for p, k, shared, leaf_b64 in zip(proofs, own, kept, leaf, strict=True):
        mine = '"' + '=","'.join(path[pos : pos + k]) + '="' if k else ""
        pos += k
        if shared:
            # The previous proof's last `shared` hashes, as written in its text.
            tail = text[len(text) - shared * _QUOTED + 1 :]
            text = f"{mine},{tail}" if k else tail
        else:
            text = mine
        out.append(
            f'{{"hashes":[{text}],"leaf_hash":"{leaf_b64}=","leaf_index":{int(p.leaf_index)},'
            f'"root":{roots[p.root]},"tree_size":{int(p.tree_size)}}}'
        )
    return out


def _proofs_json_text_each(proofs: Sequence[InclusionProof]) -> list[str]:
    """`inclusion_proofs_json_text` for proofs with hashes of any length: each distinct hash
    encoded once and looked up after."""
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
