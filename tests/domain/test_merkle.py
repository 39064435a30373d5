from __future__ import annotations

import hashlib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.domain.merkle import (
    EmptyTree,
    InclusionProof,
    MerkleProofError,
    MerkleTree,
    ProofMalformed,
    ProofTooLong,
    ProofTruncated,
    audit_path_length,
    compute_root,
    leaf_hash,
    node_hash,
    verify_inclusion,
)
from ledger.errors import InvalidInput

# --- a straightforward reference: RFC 9162 section 2.1.1 and 2.1.3.1, recursively -------------


def _split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def reference_root(leaves: list[bytes]) -> bytes:
    """MTH(D[n]) over already leaf-hashed entries."""
    if len(leaves) == 1:
        return leaves[0]
    k = _split(len(leaves))
    return hashlib.sha256(b"\x01" + reference_root(leaves[:k]) + reference_root(leaves[k:])).digest()


def reference_path(m: int, leaves: list[bytes]) -> list[bytes]:
    """PATH(m, D[n])."""
    if len(leaves) == 1:
        return []
    k = _split(len(leaves))
    if m < k:
        return [*reference_path(m, leaves[:k]), reference_root(leaves[k:])]
    return [*reference_path(m - k, leaves[k:]), reference_root(leaves[:k])]


def leaves_of(n: int, salt: bytes = b"") -> list[bytes]:
    return [leaf_hash(salt + i.to_bytes(4, "big")) for i in range(n)]


# --- hashing ----------------------------------------------------------------------------------


def test_leaf_and_node_hashes_are_domain_separated_sha256() -> None:
    assert leaf_hash(b"") == hashlib.sha256(b"\x00").digest()
    assert leaf_hash(b"abc") == hashlib.sha256(b"\x00abc").digest()
    left, right = bytes(32), bytes(range(32))
    assert node_hash(left, right) == hashlib.sha256(b"\x01" + left + right).digest()
    assert node_hash(left, right) != node_hash(right, left)


def test_the_root_of_the_rfc_6962_test_leaves_is_the_published_one() -> None:
    # Leaves and roots from certificate-transparency-go's merkle tests (RFC 6962 = RFC 9162 here).
    data = [
        b"",
        b"\x00",
        b"\x10",
        b"\x20\x21",
        b"\x30\x31",
        b"\x40\x41\x42\x43",
        b"\x50\x51\x52\x53\x54\x55\x56\x57",
        b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
    ]
    roots = {
        1: "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        2: "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        3: "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        4: "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        5: "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        6: "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        7: "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        8: "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    }
    for n, root in roots.items():
        assert MerkleTree.from_data(data[:n]).root.hex() == root


# --- trees ------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", range(1, 71))
def test_level_by_level_root_equals_the_recursive_definition(n: int) -> None:
    leaves = leaves_of(n)
    tree = MerkleTree(leaves)
    assert tree.size == len(tree) == n
    assert tree.root == reference_root(leaves)


@pytest.mark.parametrize("n", range(1, 41))
def test_every_proof_of_every_leaf_verifies_and_is_the_rfc_audit_path(n: int) -> None:
    leaves = leaves_of(n)
    tree = MerkleTree(leaves)
    for i in range(n):
        path = tree.proof(i)
        assert path == reference_path(i, leaves)
        assert len(path) == audit_path_length(i, n)
        assert compute_root(leaves[i], i, n, path) == tree.root
        assert verify_inclusion(leaves[i], i, n, path, tree.root)
        assert tree.inclusion_proof(i).verify(leaves[i], tree.root)


def test_a_single_leaf_is_its_own_root_with_an_empty_path() -> None:
    leaf = leaf_hash(b"only")
    tree = MerkleTree([leaf])
    assert tree.root == leaf
    assert tree.proof(0) == []
    assert verify_inclusion(leaf, 0, 1, [], leaf)


def test_from_data_leaf_hashes_first() -> None:
    items = [b"a", b"b", b"c"]
    assert MerkleTree.from_data(items).root == MerkleTree([leaf_hash(x) for x in items]).root


def test_an_empty_tree_is_refused() -> None:
    with pytest.raises(EmptyTree) as exc:
        MerkleTree([])
    assert isinstance(exc.value, ValueError)
    assert exc.value.field == "leaves"


@pytest.mark.parametrize("bad", [b"short", bytes(33), bytearray(32), "0" * 32, None])
def test_leaves_that_are_not_32_bytes_are_refused_with_their_index(bad: Any) -> None:
    with pytest.raises(InvalidInput) as exc:
        MerkleTree([bytes(32), bad])
    assert exc.value.field == "leaves"
    assert exc.value.details == {"index": 1}


@pytest.mark.parametrize("index", [-1, 3, True])
def test_a_proof_for_a_leaf_outside_the_tree_is_refused(index: Any) -> None:
    with pytest.raises(InvalidInput) as exc:
        MerkleTree(leaves_of(3)).proof(index)
    assert exc.value.field == "index"


def test_a_large_tree_equals_a_bare_hashlib_pairing_loop() -> None:
    """Speed is measured in benchmarks/; here only that the fast builder computes the same root."""
    leaves = [hashlib.sha256(i.to_bytes(8, "big")).digest() for i in range(100_003)]
    sha256 = hashlib.sha256

    def bare(level: list[bytes]) -> bytes:
        while len(level) > 1:
            nxt = [sha256(b"\x01" + level[i] + level[i + 1]).digest() for i in range(0, len(level) - 1, 2)]
            if len(level) & 1:
                nxt.append(level[-1])
            level = nxt
        return level[0]

    tree = MerkleTree(leaves)
    assert tree.root == bare(leaves)
    assert verify_inclusion(leaves[98_765], 98_765, tree.size, tree.proof(98_765), tree.root)


# --- verification against tampering -----------------------------------------------------------


@st.composite
def trees_with_an_index(draw: st.DrawFn) -> tuple[list[bytes], MerkleTree, int]:
    n = draw(st.integers(min_value=1, max_value=300))
    leaves = leaves_of(n, draw(st.binary(max_size=4)))
    return leaves, MerkleTree(leaves), draw(st.integers(min_value=0, max_value=n - 1))


@settings(max_examples=60, deadline=None)
@given(case=trees_with_an_index())
def test_a_proof_from_a_random_tree_verifies(case: tuple[list[bytes], MerkleTree, int]) -> None:
    leaves, tree, i = case
    assert verify_inclusion(leaves[i], i, tree.size, tree.proof(i), tree.root)


@settings(max_examples=60, deadline=None)
@given(case=trees_with_an_index(), data=st.data())
def test_flipping_any_bit_of_any_path_node_breaks_the_proof(
    case: tuple[list[bytes], MerkleTree, int], data: st.DataObject
) -> None:
    leaves, tree, i = case
    path = tree.proof(i)
    if not path:
        return
    node = data.draw(st.integers(min_value=0, max_value=len(path) - 1))
    bit = data.draw(st.integers(min_value=0, max_value=255))
    tampered = bytearray(path[node])
    tampered[bit // 8] ^= 1 << (bit % 8)
    bad_path = [*path[:node], bytes(tampered), *path[node + 1 :]]
    assert not verify_inclusion(leaves[i], i, tree.size, bad_path, tree.root)


@settings(max_examples=60, deadline=None)
@given(case=trees_with_an_index(), data=st.data())
def test_a_wrong_index_does_not_verify(case: tuple[list[bytes], MerkleTree, int], data: st.DataObject) -> None:
    leaves, tree, i = case
    wrong = data.draw(st.integers(min_value=0, max_value=tree.size + 5).filter(lambda j: j != i))
    assert not verify_inclusion(leaves[i], wrong, tree.size, tree.proof(i), tree.root)


@settings(max_examples=60, deadline=None)
@given(case=trees_with_an_index(), data=st.data())
def test_a_wrong_size_that_changes_the_path_shape_does_not_verify(
    case: tuple[list[bytes], MerkleTree, int], data: st.DataObject
) -> None:
    leaves, tree, i = case
    path = tree.proof(i)
    candidates = [
        s for s in range(2 * tree.size + 6) if s != tree.size and not (i < s and audit_path_length(i, s) == len(path))
    ]
    wrong = data.draw(st.sampled_from(candidates))
    assert not verify_inclusion(leaves[i], i, wrong, path, tree.root)


def test_an_audit_path_alone_does_not_bind_the_tree_size() -> None:
    # An RFC 9162 property, shared with the contract: leaf 0's path in a tree of 129 leaves has
    # the same shape as in one of 130 (the last subtree is just one opaque node), so the size is
    # bound by the root it is checked against, which is why batches store size beside root.
    leaves = leaves_of(129)
    tree = MerkleTree(leaves)
    assert verify_inclusion(leaves[0], 0, 130, tree.proof(0), tree.root)
    assert not verify_inclusion(leaves[128], 128, 130, tree.proof(128), tree.root)


@settings(max_examples=60, deadline=None)
@given(case=trees_with_an_index(), data=st.data())
def test_a_truncated_or_extended_path_does_not_verify(
    case: tuple[list[bytes], MerkleTree, int], data: st.DataObject
) -> None:
    leaves, tree, i = case
    path = tree.proof(i)
    if path:
        cut = data.draw(st.integers(min_value=0, max_value=len(path) - 1))
        assert not verify_inclusion(leaves[i], i, tree.size, path[:cut], tree.root)
    assert not verify_inclusion(leaves[i], i, tree.size, [*path, tree.root], tree.root)


def test_a_different_leaf_or_root_does_not_verify() -> None:
    leaves = leaves_of(9)
    tree = MerkleTree(leaves)
    assert not verify_inclusion(leaves[3], 4, 9, tree.proof(4), tree.root)
    assert not verify_inclusion(leaves[4], 4, 9, tree.proof(4), leaves[4])


@pytest.mark.parametrize(
    ("index", "size", "path_length"),
    [(0, 0, 0), (1, 1, 0), (5, 3, 2), (-1, 3, 2), (0, 2, 65)],
)
def test_compute_root_refuses_positions_the_contract_refuses(index: int, size: int, path_length: int) -> None:
    assert compute_root(bytes(32), index, size, [bytes(32)] * path_length) is None


def test_compute_root_refuses_nodes_that_are_not_32_bytes() -> None:
    leaves = leaves_of(4)
    path = MerkleTree(leaves).proof(0)
    assert compute_root(leaves[0], 0, 4, [path[0] + b"\x00", path[1]]) is None
    assert compute_root(leaves[0][:31], 0, 4, path) is None


def test_audit_path_lengths_of_the_largest_trees_fit_the_contract_limit() -> None:
    assert audit_path_length(0, 2**64 - 1) == 64
    assert audit_path_length(2**64 - 2, 2**64 - 1) == 63
    assert audit_path_length(0, 1) == 0
    with pytest.raises(ValueError):
        audit_path_length(3, 3)


# --- serialised proofs ------------------------------------------------------------------------


@st.composite
def inclusion_proofs(draw: st.DrawFn) -> InclusionProof:
    size = draw(st.one_of(st.integers(min_value=1, max_value=1000), st.integers(min_value=1, max_value=2**64 - 1)))
    index = draw(st.integers(min_value=0, max_value=size - 1))
    length = audit_path_length(index, size)
    path = draw(st.lists(st.binary(min_size=32, max_size=32), min_size=length, max_size=length))
    return InclusionProof(index=index, size=size, path=tuple(path))


@settings(max_examples=80, deadline=None)
@given(proof=inclusion_proofs())
def test_json_round_trips_exactly(proof: InclusionProof) -> None:
    obj = proof.to_json()
    assert set(obj) == {"index", "size", "path"}
    assert all(isinstance(n, str) and n.startswith("0x") and len(n) == 66 for n in obj["path"])
    parsed = InclusionProof.from_json(obj)
    assert parsed == proof
    assert parsed.to_json() == obj


@settings(max_examples=80, deadline=None)
@given(proof=inclusion_proofs())
def test_binary_round_trips_exactly(proof: InclusionProof) -> None:
    data = proof.to_bytes()
    assert len(data) == 18 + 32 * len(proof.path)
    assert data[0] == 0x01
    parsed = InclusionProof.from_bytes(data)
    assert parsed == proof
    assert parsed.to_bytes() == data


def test_the_binary_layout_is_version_index_size_count_nodes() -> None:
    leaves = leaves_of(5)
    proof = MerkleTree(leaves).inclusion_proof(4)
    assert proof.path == (reference_root(leaves[:4]),)
    assert proof.to_bytes() == (
        b"\x01" + (4).to_bytes(8, "big") + (5).to_bytes(8, "big") + b"\x01" + reference_root(leaves[:4])
    )


def test_json_hex_is_accepted_in_either_case_with_or_without_0x() -> None:
    proof = MerkleTree(leaves_of(3)).inclusion_proof(0)
    obj = proof.to_json()
    obj["path"] = [obj["path"][0].upper().replace("0X", "0x"), obj["path"][1][2:].upper()]
    assert InclusionProof.from_json(obj) == proof


def test_a_parsed_proof_verifies_against_its_tree() -> None:
    leaves = leaves_of(13)
    tree = MerkleTree(leaves)
    proof = InclusionProof.from_bytes(tree.inclusion_proof(11).to_bytes())
    assert proof.compute_root(leaves[11]) == tree.root
    assert proof.verify(leaves[11], tree.root)


VALID = MerkleTree(leaves_of(7)).inclusion_proof(2)  # three nodes


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"", ProofTruncated),
        (VALID.to_bytes()[:1], ProofTruncated),
        (VALID.to_bytes()[:17], ProofTruncated),
        (VALID.to_bytes()[:-1], ProofTruncated),
        (VALID.to_bytes()[:-32], ProofTruncated),
        (VALID.to_bytes() + b"\x00", ProofMalformed),
        (VALID.to_bytes() + bytes(32), ProofMalformed),
        (b"\x02" + VALID.to_bytes()[1:], ProofMalformed),
        (b"\x01" + (7).to_bytes(8, "big") + (7).to_bytes(8, "big") + b"\x00", ProofMalformed),
        (b"\x01" + (0).to_bytes(8, "big") + (0).to_bytes(8, "big") + b"\x00", ProofMalformed),
        (b"\x01" + (2).to_bytes(8, "big") + (7).to_bytes(8, "big") + b"\x41" + bytes(32 * 65), ProofTooLong),
        (b"\x01" + (2).to_bytes(8, "big") + (7).to_bytes(8, "big") + b"\xff", ProofTooLong),
        (b"\x01" + (2).to_bytes(8, "big") + (7).to_bytes(8, "big") + b"\x04" + bytes(32 * 4), ProofTooLong),
        (b"\x01" + (2).to_bytes(8, "big") + (7).to_bytes(8, "big") + b"\x02" + bytes(32 * 2), ProofTruncated),
    ],
)
def test_malformed_binary_proofs_raise_the_right_error(data: bytes, error: type[MerkleProofError]) -> None:
    with pytest.raises(error) as exc:
        InclusionProof.from_bytes(data)
    assert exc.value.field == "proof"
    assert isinstance(exc.value, InvalidInput)
    assert exc.value.message


def test_binary_proof_errors_are_precise() -> None:
    with pytest.raises(ProofMalformed, match="trailing"):
        InclusionProof.from_bytes(VALID.to_bytes() + b"\x00")
    with pytest.raises(ProofTruncated, match="announces 3 nodes"):
        InclusionProof.from_bytes(VALID.to_bytes()[:-1])
    with pytest.raises(ProofMalformed, match="outside"):
        InclusionProof.from_bytes(b"\x01" + (7).to_bytes(8, "big") + (7).to_bytes(8, "big") + b"\x00")


def _json(**changes: Any) -> dict[str, Any]:
    return {**VALID.to_json(), **changes}


@pytest.mark.parametrize(
    ("obj", "error"),
    [
        ([], ProofMalformed),
        ({"index": 2, "size": 7}, ProofMalformed),
        ({**_json(), "root": "0x00"}, ProofMalformed),
        (_json(index=7), ProofMalformed),
        (_json(index=-1), ProofMalformed),
        (_json(size=0), ProofMalformed),
        (_json(size=2**64), ProofMalformed),
        (_json(index="2"), ProofMalformed),
        (_json(index=True), ProofMalformed),
        (_json(index=2.0), ProofMalformed),
        (_json(path="0x00"), ProofMalformed),
        (_json(path=[*VALID.to_json()["path"][:2], "0x" + "ab" * 31]), ProofMalformed),
        (_json(path=[*VALID.to_json()["path"][:2], "0x" + "zz" * 32]), ProofMalformed),
        (_json(path=[*VALID.to_json()["path"][:2], 5]), ProofMalformed),
        (_json(path=VALID.to_json()["path"][:2]), ProofTruncated),
        (_json(path=[*VALID.to_json()["path"], "0x" + "ab" * 32]), ProofTooLong),
        (_json(path=["0x" + "ab" * 32] * 65), ProofTooLong),
    ],
)
def test_malformed_json_proofs_raise_the_right_error(obj: Any, error: type[MerkleProofError]) -> None:
    with pytest.raises(error) as exc:
        InclusionProof.from_json(obj)
    assert exc.value.field == "proof"


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"index": 3, "size": 3, "path": ()}, ProofMalformed),
        ({"index": 0, "size": 4, "path": (bytes(32), bytes(31))}, ProofMalformed),
        ({"index": 0, "size": 4, "path": (bytes(32),)}, ProofTruncated),
        ({"index": 0, "size": 4, "path": (bytes(32),) * 3}, ProofTooLong),
        ({"index": 0, "size": 2**64 - 1, "path": (bytes(32),) * 65}, ProofTooLong),
        ({"index": 0, "size": 2, "path": bytes(32)}, ProofMalformed),
    ],
)
def test_constructing_an_impossible_proof_is_refused(kwargs: dict[str, Any], error: type[MerkleProofError]) -> None:
    with pytest.raises(error):
        InclusionProof(**kwargs)


def test_proofs_are_immutable_and_hold_bytes() -> None:
    proof = InclusionProof(index=0, size=2, path=[bytearray(32)])  # type: ignore[arg-type]
    assert proof.path == (bytes(32),)
    assert type(proof.path[0]) is bytes
    with pytest.raises(AttributeError):
        proof.index = 1  # type: ignore[misc]
