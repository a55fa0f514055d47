"""Tests of audit_log.merkle: RFC 9162 vectors, the naive reference, and proof-shape checks."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from audit_log.errors import ProofShapeError, RootMismatchError
from audit_log.merkle import (
    EMPTY_ROOT,
    Frontier,
    consistency_proof,
    inclusion_nodes,
    inclusion_proof,
    inclusion_ranges,
    leaf_hash,
    leaf_hashes,
    node_hash,
    outside_nodes,
    parent_hashes,
    perfect_subtrees,
    prove_many,
    root,
    root_from_inclusion_proof,
    verify_consistency,
    verify_inclusion,
    verify_inclusions,
)
from tests.merkle_reference import ListSource, mth, path, subproof

VECTORS = json.loads((Path(__file__).parent.parent / "data" / "merkle-rfc9162.json").read_text())
LEAVES = [leaf_hash(bytes.fromhex(x)) for x in VECTORS["leaves_hex"]]
ROOTS = {int(k): bytes.fromhex(v) for k, v in VECTORS["roots_hex_by_size"].items()}
SOURCE = ListSource(LEAVES)


def _hex(hashes: list[bytes]) -> list[str]:
    return [h.hex() for h in hashes]


def _data(n: int) -> list[bytes]:
    return [leaf_hash(i.to_bytes(4, "big")) for i in range(n)]


class TestHashing:
    def test_leaf_hashes_match_vectors(self) -> None:
        """Leaf hashes of the eight reference leaves equal the published ones."""
        assert _hex(LEAVES) == VECTORS["leaf_hashes_hex"]

    def test_many_leaf_hashes_match_vectors(self) -> None:
        """Hashing many leaves from one prefixed state gives the published leaf hashes, each
        from its own data only (the shared state is copied, never extended), and again on a
        second call."""
        datas = [bytes.fromhex(x) for x in VECTORS["leaves_hex"]]
        assert _hex(leaf_hashes(datas)) == VECTORS["leaf_hashes_hex"]
        assert _hex(leaf_hashes(reversed(datas))) == VECTORS["leaf_hashes_hex"][::-1]
        assert leaf_hashes([]) == []

    def test_hasher_vectors(self) -> None:
        """Leaf and node hashing prefix the domain separation bytes 0x00 and 0x01."""
        h = VECTORS["hasher"]
        assert leaf_hash(b"L123456").hex() == h["leaf_of_ascii_L123456"]
        assert node_hash(b"N123", b"N456").hex() == h["children_of_ascii_N123_N456"]

    @pytest.mark.parametrize("size", sorted(ROOTS), ids=lambda s: f"root-of-{s}")
    def test_roots_match_vectors(self, size: int) -> None:
        """The root of every prefix of the reference tree equals the published root."""
        assert root(size, SOURCE) == ROOTS[size]

    def test_empty_root_is_hash_of_nothing(self) -> None:
        """The empty tree's root is SHA-256 of the empty string."""
        assert EMPTY_ROOT == hashlib.sha256(b"").digest() == root(0, SOURCE)


class TestVectors:
    @pytest.mark.parametrize(
        "vec", VECTORS["inclusion"], ids=lambda v: f"inclusion-{v['index']}-in-{v['size']}"
    )
    def test_inclusion_vectors(self, vec: dict) -> None:
        """Generated inclusion proofs equal the vectors and verify against the published root."""
        proof = inclusion_proof(vec["index"], vec["size"], SOURCE)
        assert _hex(proof) == vec["proof_hex"]
        verify_inclusion(vec["index"], vec["size"], LEAVES[vec["index"]], proof, ROOTS[vec["size"]])

    @pytest.mark.parametrize(
        "vec", VECTORS["consistency"], ids=lambda v: f"consistency-{v['size1']}-to-{v['size2']}"
    )
    def test_consistency_vectors(self, vec: dict) -> None:
        """Generated consistency proofs equal the vectors and verify against published roots."""
        m, n = vec["size1"], vec["size2"]
        proof = consistency_proof(m, n, SOURCE)
        assert _hex(proof) == vec["proof_hex"]
        verify_consistency(m, n, proof, ROOTS[m], ROOTS[n])

    @pytest.mark.parametrize(
        "vec", VECTORS["inclusion"], ids=lambda v: f"tampered-inclusion-{v['index']}-{v['size']}"
    )
    def test_tampered_inclusion_vectors_fail(self, vec: dict) -> None:
        """Flipping one bit of any proof hash makes inclusion verification fail with both roots."""
        proof = [bytes.fromhex(h) for h in vec["proof_hex"]]
        for i in range(len(proof)):
            bad = list(proof)
            bad[i] = bytes([bad[i][0] ^ 1]) + bad[i][1:]
            with pytest.raises(RootMismatchError) as err:
                verify_inclusion(vec["index"], vec["size"], LEAVES[vec["index"]], bad,
                                 ROOTS[vec["size"]])  # fmt: skip
            assert err.value.expected == ROOTS[vec["size"]]
            assert err.value.computed != err.value.expected

    @pytest.mark.parametrize(
        "vec", VECTORS["consistency"], ids=lambda v: f"tampered-cons-{v['size1']}-{v['size2']}"
    )
    def test_tampered_consistency_vectors_fail(self, vec: dict) -> None:
        """Flipping one bit of any consistency proof hash makes verification fail."""
        m, n = vec["size1"], vec["size2"]
        proof = [bytes.fromhex(h) for h in vec["proof_hex"]]
        for i in range(len(proof)):
            bad = list(proof)
            bad[i] = bytes([bad[i][0] ^ 1]) + bad[i][1:]
            with pytest.raises(RootMismatchError):
                verify_consistency(m, n, bad, ROOTS[m], ROOTS[n])


class TestAgainstReference:
    def test_inclusion_matches_reference(self) -> None:
        """For every leaf of trees up to 40 leaves, the proof equals the RFC's PATH and verifies."""
        leaves = _data(40)
        source = ListSource(leaves)
        for n in range(1, 41):
            r = mth(leaves[:n])
            assert root(n, source) == r
            for m in range(n):
                proof = inclusion_proof(m, n, source)
                assert proof == path(m, leaves[:n])
                assert root_from_inclusion_proof(m, n, leaves[m], proof) == r

    def test_inclusion_nodes_are_the_inclusion_ranges(self) -> None:
        """The path by bit arithmetic names the RFC's ranges, the incomplete one cut at size."""
        for n in range(1, 131):
            for m in range(n):
                ranges = [
                    (i << lv, min((i + 1) << lv, n)) for lv, i in inclusion_nodes(m, n)
                ]  # fmt: skip
                assert ranges == inclusion_ranges(m, n), (m, n)

    def test_verify_inclusions_checks_each_proof(self) -> None:
        """Many proofs against one root pass, and one changed hash among them names its leaf."""
        leaves = _data(40)
        source = ListSource(leaves)
        r = mth(leaves)
        proofs = [(m, 40, leaves[m], inclusion_proof(m, 40, source)) for m in range(40)]
        verify_inclusions(proofs, r)
        for m in (0, 17, 39):
            for k in range(len(proofs[m][3])):
                bad = list(proofs)
                hashes = list(bad[m][3])
                hashes[k] = bytes([hashes[k][0] ^ 1]) + hashes[k][1:]
                bad[m] = (m, 40, leaves[m], hashes)
                with pytest.raises(RootMismatchError, match=f"leaf {m} "):
                    verify_inclusions(bad, r)
        with pytest.raises(RootMismatchError):
            verify_inclusions(proofs, mth(leaves[:39]))

    @staticmethod
    def _many(
        leaves: list[bytes], indices: list[int], base: int
    ) -> tuple[bytes, list[tuple[bytes, ...]]]:
        n = len(leaves)
        outside = {
            (lv, i): mth(leaves[i << lv : min((i + 1) << lv, n)])
            for lv, i in outside_nodes(indices, n, base)
        }
        return prove_many(indices, n, dict(enumerate(leaves)), outside, base)

    def test_prove_many_gives_the_rfc_paths_and_root(self) -> None:
        """Many leaves' paths computed together are the RFC's PATH of each, for every tree
        shape up to 70 leaves, block width and choice of leaves (one, a few, all)."""
        for n in range(1, 71):
            leaves = _data(n)
            for base in (0, 1, 2, 4):
                for indices in ([n - 1], [0], list(range(0, n, 3)), list(range(n)), [n // 2]):
                    got_root, paths = self._many(leaves, indices, base)
                    assert got_root == mth(leaves), (n, base, indices)
                    assert [list(p) for p in paths] == [path(m, leaves) for m in indices]

    def test_outside_nodes_are_the_paths_not_ancestors(self) -> None:
        """The outside nodes are the paths' nodes above the block level, less the ancestors."""
        for n in (1, 2, 17, 64, 100):
            indices = list(range(0, n, 7))
            ancestors = {(lv, m >> lv) for m in indices for lv in range(8)}
            wanted = {
                node for m in indices for node in inclusion_nodes(m, n) if node[0] >= 2
            } - ancestors  # fmt: skip
            assert set(outside_nodes(indices, n, 2)) == wanted

    def test_prove_many_root_changes_with_any_input(self) -> None:
        """A changed outside node or leaf hash changes the root (a caller comparing it with a
        signed root refuses it); a hash of the wrong length is refused."""
        leaves = _data(100)
        indices = [3, 40, 41, 99]
        outside = {
            (lv, i): mth(leaves[i << lv : min((i + 1) << lv, 100)])
            for lv, i in outside_nodes(indices, 100, 4)
        }
        good, _ = prove_many(indices, 100, dict(enumerate(leaves)), outside, 4)
        for node in outside:
            bad = dict(outside)
            bad[node] = bytes([bad[node][0] ^ 1]) + bad[node][1:]
            assert prove_many(indices, 100, dict(enumerate(leaves)), bad, 4)[0] != good
        for m in (0, 3, 47, 99):
            changed = dict(enumerate(leaves))
            changed[m] = bytes(32)
            assert prove_many(indices, 100, changed, outside, 4)[0] != good
        short = dict(enumerate(leaves))
        short[40] = leaves[40][:31]
        with pytest.raises(ProofShapeError):
            prove_many(indices, 100, short, outside, 4)
        node = next(iter(outside))
        with pytest.raises(ProofShapeError):
            prove_many(indices, 100, dict(enumerate(leaves)), {**outside, node: b"x" * 33}, 4)
        with pytest.raises(ProofShapeError):
            prove_many([100], 100, dict(enumerate(leaves)), outside, 4)

    def test_consistency_matches_reference(self) -> None:
        """For every pair of sizes up to 40, the proof equals the RFC's PROOF and verifies."""
        leaves = _data(40)
        source = ListSource(leaves)
        for n in range(1, 41):
            for m in range(1, n + 1):
                proof = consistency_proof(m, n, source)
                assert proof == subproof(m, leaves[:n], True)
                verify_consistency(m, n, proof, mth(leaves[:m]), mth(leaves[:n]))

    def test_frontier_matches_reference(self) -> None:
        """The incremental frontier's root and completed nodes equal the naive tree's."""
        leaves = _data(70)
        frontier = Frontier()
        for n, leaf in enumerate(leaves, start=1):
            for level, idx, h in frontier.append(leaf):
                assert h == mth(leaves[idx << level : (idx + 1) << level])
            assert frontier.root() == mth(leaves[:n])
            again = Frontier.from_bytes(frontier.size, frontier.to_bytes())
            assert again.root() == frontier.root()

    @pytest.mark.parametrize(("start", "count"), [(0, 70), (3, 64), (16, 45), (5, 1), (37, 0)])
    def test_frontier_extend_matches_appends(self, start: int, count: int) -> None:
        """Extending by many leaves gives the frontier and the nodes of appending them singly."""
        leaves = _data(start + count)
        one, many = Frontier(), Frontier()
        for leaf in leaves[:start]:
            one.append(leaf)
            many.append(leaf)
        singly = [node for leaf in leaves[start:] for node in one.append(leaf)]
        assert sorted(many.extend(leaves[start:])) == sorted(singly)
        assert (many.size, many.hashes) == (one.size, one.hashes)

    @pytest.mark.parametrize("n", [0, 2, 6, 8, 64])
    def test_parent_hashes_hash_each_pair(self, n: int) -> None:
        """Each pair of a row, in order, as SHA-256(0x01 || left || right); the state copied
        for each is not changed by hashing."""
        row = _data(n)
        want = [hashlib.sha256(b"\x01" + row[i] + row[i + 1]).digest() for i in range(0, n, 2)]
        assert parent_hashes(row) == want
        assert parent_hashes(row) == want

    def test_parent_hashes_need_pairs(self) -> None:
        """A row of odd length (a node without its sibling) is refused, not cut short."""
        with pytest.raises(ValueError):
            parent_hashes(_data(3))

    def test_frontier_extend_keeps_only_stored_levels(self) -> None:
        """`min_level` drops the nodes below it and keeps every node at or above it."""
        leaves = _data(100)
        every = Frontier().extend(leaves)
        kept = Frontier().extend(leaves, min_level=4)
        assert sorted(kept) == sorted(n for n in every if n[0] >= 4)
        for level, idx, h in kept:
            assert h == mth(leaves[idx << level : (idx + 1) << level])

    def test_proofs_read_logarithmically_many_nodes(self) -> None:
        """A proof in a tree of a million leaves asks the source for O(log n) subtree hashes."""
        ids = perfect_subtrees(0, 1_000_000)
        assert len(ids) == bin(1_000_000).count("1")
        assert all(lv >= 0 and (i << lv) < 1_000_000 for lv, i in ids)


class TestShapes:
    def test_proof_hash_must_be_32_bytes(self) -> None:
        """A proof hash that is not 32 bytes is rejected before any hashing."""
        vec = VECTORS["inclusion"][0]
        proof = [bytes.fromhex(h) for h in vec["proof_hex"]]
        proof[1] = proof[1][:31]
        with pytest.raises(ProofShapeError, match="proof hash 1 is 31 bytes, want 32"):
            verify_inclusion(vec["index"], vec["size"], LEAVES[0], proof, ROOTS[8])

    def test_consistency_hash_must_be_32_bytes(self) -> None:
        """A consistency proof hash of 33 bytes is rejected."""
        vec = VECTORS["consistency"][1]
        proof = [bytes.fromhex(h) for h in vec["proof_hex"]]
        proof[0] += b"\x00"
        with pytest.raises(ProofShapeError, match="33 bytes"):
            verify_consistency(6, 8, proof, ROOTS[6], ROOTS[8])

    def test_wrong_proof_length(self) -> None:
        """A proof with a hash too many is rejected naming the size seen and wanted."""
        vec = VECTORS["inclusion"][2]
        proof = [bytes.fromhex(h) for h in vec["proof_hex"]] * 2
        with pytest.raises(ProofShapeError, match="wrong proof size 2, want 1"):
            verify_inclusion(2, 3, LEAVES[2], proof, ROOTS[3])

    @pytest.mark.parametrize("sizes", [(0, 5), (6, 5), (-1, 3)], ids=str)
    def test_consistency_sizes_must_be_ordered(self, sizes: tuple[int, int]) -> None:
        """Consistency requires 0 < size1 <= size2."""
        with pytest.raises(ProofShapeError, match="0 < size1 <= size2"):
            verify_consistency(*sizes, [], ROOTS[1], ROOTS[5])

    def test_equal_sizes_need_empty_proof_and_equal_roots(self) -> None:
        """Consistency of a tree with itself holds with no hashes and fails with another root."""
        verify_consistency(5, 5, [], ROOTS[5], ROOTS[5])
        with pytest.raises(RootMismatchError):
            verify_consistency(5, 5, [], ROOTS[5], ROOTS[6])

    def test_index_beyond_size(self) -> None:
        """An inclusion proof for a leaf index not below the tree size is rejected."""
        with pytest.raises(ProofShapeError, match="not below tree size"):
            verify_inclusion(8, 8, LEAVES[0], [], ROOTS[8])

    def test_wrong_leaf_in_right_place_fails(self) -> None:
        """A valid path for leaf 5 does not prove leaf 4 at index 5."""
        vec = VECTORS["inclusion"][1]
        proof = [bytes.fromhex(h) for h in vec["proof_hex"]]
        with pytest.raises(RootMismatchError):
            verify_inclusion(5, 8, LEAVES[4], proof, ROOTS[8])
