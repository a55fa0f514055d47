"""A naive RFC 9162 section 2.1 Merkle tree, written straight from the RFC's recursive definitions.

Slow and obviously right: the optimized code in `audit_log.merkle` is checked against it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence


def _k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(leaves: Sequence[bytes]) -> bytes:
    """MTH(D[n]) over leaf hashes (the RFC hashes leaf data; callers pass the leaf hashes)."""
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return leaves[0]
    k = _k(n)
    return hashlib.sha256(b"\x01" + mth(leaves[:k]) + mth(leaves[k:])).digest()


def path(m: int, leaves: Sequence[bytes]) -> list[bytes]:
    """PATH(m, D[n]) of RFC 9162 2.1.3.1."""
    n = len(leaves)
    if n == 1:
        return []
    k = _k(n)
    if m < k:
        return [*path(m, leaves[:k]), mth(leaves[k:])]
    return [*path(m - k, leaves[k:]), mth(leaves[:k])]


def subproof(m: int, leaves: Sequence[bytes], whole: bool) -> list[bytes]:
    """SUBPROOF(m, D[n], b) of RFC 9162 2.1.4.1."""
    n = len(leaves)
    if m == n:
        return [] if whole else [mth(leaves)]
    k = _k(n)
    if m <= k:
        return [*subproof(m, leaves[:k], whole), mth(leaves[k:])]
    return [*subproof(m - k, leaves[k:], False), mth(leaves[:k])]


class ListSource:
    """A `NodeSource` over an in-memory list of leaf hashes, computed with the naive `mth`."""

    def __init__(self, leaves: Sequence[bytes]) -> None:
        self.leaves = list(leaves)
        self.reads = 0

    def node_hashes(self, ids: Sequence[tuple[int, int]]) -> list[bytes]:
        self.reads += len(ids)
        return [mth(self.leaves[i << lv : (i + 1) << lv]) for lv, i in ids]
