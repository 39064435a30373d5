"""The checkpoint leaves and root of docs/certificate.md §11.1, recomputed here with hashlib alone."""

from __future__ import annotations

import hashlib

import pytest

from ledger.domain.checkpoints import EMPTY_ROOT, batch_leaf, evidence_leaf, tree_root
from ledger.domain.merkle import MerkleTree, leaf_hash

BINDING = bytes.fromhex("11" * 32)
ACCOUNT = "0x" + "ab" * 20
ROOT = bytes.fromhex("22" * 32)


def test_an_evidence_leaf_is_tag_binding_party_account_and_block() -> None:
    data = evidence_leaf(BINDING, 7, ACCOUNT, 258)
    assert len(data) == 93
    assert data == b"\x01" + BINDING + (7).to_bytes(32, "big") + bytes.fromhex("ab" * 20) + bytes.fromhex(
        "0000000000000102"
    )


def test_a_batch_leaf_is_tag_root_and_block() -> None:
    data = batch_leaf(ROOT, 258)
    assert data == b"\x02" + ROOT + bytes.fromhex("0000000000000102") and len(data) == 41


def test_the_root_is_rfc9162_over_the_leaf_hashes_and_the_empty_root_is_sha256_of_nothing() -> None:
    a, b, c = evidence_leaf(BINDING, 7, ACCOUNT, 258), batch_leaf(ROOT, 259), evidence_leaf(ROOT, 8, ACCOUNT, 260)
    hashes = [hashlib.sha256(b"\x00" + x).digest() for x in (a, b, c)]
    node = hashlib.sha256(b"\x01" + hashes[0] + hashes[1]).digest()
    assert tree_root(hashes) == hashlib.sha256(b"\x01" + node + hashes[2]).digest()
    assert tree_root([leaf_hash(a)]) == leaf_hash(a) == MerkleTree([leaf_hash(a)]).root
    assert (
        tree_root([]) == EMPTY_ROOT == bytes.fromhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    )


@pytest.mark.parametrize("bad", [b"\x00" * 31, b"\x00" * 33])
def test_a_binding_or_root_of_another_length_is_refused(bad: bytes) -> None:
    with pytest.raises(ValueError):
        evidence_leaf(bad, 1, ACCOUNT, 1)
    with pytest.raises(ValueError):
        batch_leaf(bad, 1)
