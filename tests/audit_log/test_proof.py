"""Tests of audit_log.proof: proof values survive their JSON form and verify."""

from __future__ import annotations

import json

import pytest

from audit_log.errors import ProofShapeError, RootMismatchError
from audit_log.merkle import consistency_proof, inclusion_proof, leaf_hash, root
from audit_log.proof import ConsistencyProof, InclusionProof, inclusion_proofs_json_text
from tests.merkle_reference import ListSource

LEAVES = [leaf_hash(bytes([i])) for i in range(13)]
SRC = ListSource(LEAVES)


class TestProofValues:
    def test_inclusion_json_round_trip(self) -> None:
        """An inclusion proof read back from its JSON form verifies."""
        p = InclusionProof(5, 13, LEAVES[5], tuple(inclusion_proof(5, 13, SRC)), root(13, SRC))
        obj = p.to_json()
        assert set(obj) == {"leaf_index", "tree_size", "leaf_hash", "hashes", "root"}
        InclusionProof.from_json(obj).verify()

    def test_many_proofs_json_is_each_proofs_json(self) -> None:
        """Proofs written together (sharing their hashes) are each one's own JSON form, as text."""
        proofs = [
            InclusionProof(m, 13, LEAVES[m], tuple(inclusion_proof(m, 13, SRC)), root(13, SRC))
            for m in range(13)
        ]
        plain = [json.dumps(p.to_json(), sort_keys=True, separators=(",", ":")) for p in proofs]
        assert inclusion_proofs_json_text(proofs) == plain
        assert inclusion_proofs_json_text([]) == []

    def test_many_proofs_reusing_shared_paths_are_each_proofs_json(self) -> None:
        """Proofs written together are each one's own JSON form whatever the tree shape, the
        order, the sizes mixed, and when the hashes the levels say are shared differ (a proof
        of another root, a changed hash) or are not 32 bytes."""
        leaves = [leaf_hash(i.to_bytes(2, "big")) for i in range(70)]
        src = ListSource(leaves)

        def proof(m: int, n: int) -> InclusionProof:
            return InclusionProof(m, n, leaves[m], tuple(inclusion_proof(m, n, src)), root(n, src))

        def plain(proofs: list[InclusionProof]) -> list[str]:
            return [json.dumps(p.to_json(), sort_keys=True, separators=(",", ":")) for p in proofs]

        cases = [[proof(m, n) for m in range(0, n, step)] for n in (1, 2, 7, 16, 33, 70)
                 for step in (1, 3, 5)]  # fmt: skip
        cases.append([proof(m, 70) for m in (69, 3, 3, 40, 0, 64, 65)])  # any order, repeats
        cases.append([proof(5, 70), proof(6, 69), proof(7, 70), proof(8, 64)])  # mixed sizes
        good = [proof(m, 70) for m in range(0, 70, 2)]
        top = good[5].hashes[-1]
        changed = [*good[:5], InclusionProof(10, 70, leaves[10], (*good[5].hashes[:-1],
                   bytes([top[0] ^ 1]) + top[1:]), good[5].root), *good[6:]]  # fmt: skip
        cases.append(changed)
        cases.append([*good[:3], InclusionProof(6, 70, leaves[6], (*good[3].hashes[:-1], b"x"),
                      good[3].root), *good[4:]])  # fmt: skip
        cases.append([*good[:3], InclusionProof(6, 70, b"short", good[3].hashes, b"r")])
        cases.append([InclusionProof(3, 2, leaves[3], good[1].hashes, good[1].root), *good[:2]])
        for proofs in cases:
            assert inclusion_proofs_json_text(proofs) == plain(proofs)

    def test_hashes_encoded_together_are_each_ones_base64(self) -> None:
        """Hashes base64-encoded in one call are each one's own encoding, quoted; hashes of
        other lengths too."""
        import base64
        import hashlib

        from audit_log.proof import _quoted_b64

        hashes = [hashlib.sha256(bytes([i])).digest() for i in range(200)]
        hashes += [b"", b"\x00", bytes(31), bytes(33), b"\xff" * 64]
        quoted = _quoted_b64(hashes)
        assert quoted == {h: json.dumps(base64.b64encode(h).decode()) for h in hashes}

    def test_consistency_json_round_trip(self) -> None:
        """A consistency proof read back from its JSON form verifies."""
        p = ConsistencyProof(6, 13, tuple(consistency_proof(6, 13, SRC)), root(6, SRC),
                             root(13, SRC))  # fmt: skip
        obj = p.to_json()
        assert set(obj) == {"size1", "size2", "hashes", "root1", "root2"}
        ConsistencyProof.from_json(obj).verify()

    def test_wrong_root_fails(self) -> None:
        """An inclusion proof against another root fails with a mismatch."""
        p = InclusionProof(5, 13, LEAVES[5], tuple(inclusion_proof(5, 13, SRC)), root(12, SRC))
        with pytest.raises(RootMismatchError):
            p.verify()

    def test_bad_base64_refused(self) -> None:
        """A proof JSON with a hash that is not base64 is refused as malformed."""
        with pytest.raises(ProofShapeError):
            InclusionProof.from_json({"leaf_index": 0, "tree_size": 1, "leaf_hash": "!!",
                                      "hashes": [], "root": "AA=="})  # fmt: skip
