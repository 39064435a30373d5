"""Checkpoints of the ledger on a public chain: the leaves and the tree (docs/certificate.md §11).

A checkpoint covers a contiguous range of consortium blocks ``fromBlock..toBlock``. Its root is the RFC 9162
Merkle tree (:mod:`ledger.domain.merkle`) over one leaf per ``EvidenceRegistered`` and per ``BatchAnchored`` event
of the consortium's evidence registry in that range, in the chain's order (block number, then log index). The
leaf data are domain-separated by a one-byte tag:

- evidence record: ``0x01 || binding (32) || partyId (uint256, 32 bytes big-endian) || registrant (20) ||
  blockNumber (uint64, 8 bytes big-endian)`` (93 bytes);
- batch root: ``0x02 || root (32) || blockNumber (uint64, 8 bytes big-endian)`` (41 bytes).

Each is hashed as an RFC 9162 leaf (``SHA-256(0x00 || data)``). A range without events has the root of the empty
tree, ``SHA-256("")`` (RFC 9162 §2.1.1); it is written only when a checkpoint has to move past a long quiet stretch.

Pure: no chain, no files.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from ledger.domain import merkle

TAG_EVIDENCE = b"\x01"
TAG_BATCH = b"\x02"
#: RFC 9162 §2.1.1: the hash of an empty list is the hash of an empty string.
EMPTY_ROOT = hashlib.sha256(b"").digest()
#: Event signatures of the consortium's evidence registry whose logs become leaves.
EVIDENCE_REGISTERED = "EvidenceRegistered(bytes32,uint256,address,uint8,bytes32,bytes32)"
BATCH_ANCHORED = "BatchAnchored(bytes32,address,uint32)"
#: The public contract's event (contracts/public/CheckpointRegistry.sol).
CHECKPOINT_RECORDED = "CheckpointRecorded(uint256,uint64,uint64,bytes32,bytes32)"


def evidence_leaf(binding: bytes, party_id: int, registrant: str, block_number: int) -> bytes:
    """The leaf data of an evidence record (93 bytes)."""
    account = bytes.fromhex(registrant.removeprefix("0x").removeprefix("0X"))
    if len(binding) != 32 or len(account) != 20:
        raise ValueError("a binding is 32 bytes and an account 20")
    return TAG_EVIDENCE + bytes(binding) + int(party_id).to_bytes(32, "big") + account + _u64(block_number)


def batch_leaf(root: bytes, block_number: int) -> bytes:
    """The leaf data of an anchored batch root (41 bytes)."""
    if len(root) != 32:
        raise ValueError("a batch root is 32 bytes")
    return TAG_BATCH + bytes(root) + _u64(block_number)


def _u64(value: int) -> bytes:
    return int(value).to_bytes(8, "big")


def tree_root(leaf_hashes: Sequence[bytes]) -> bytes:
    """The checkpoint root over ``leaf_hashes`` (already RFC 9162 leaf-hashed), :data:`EMPTY_ROOT` for none."""
    return merkle.MerkleTree(leaf_hashes).root if leaf_hashes else EMPTY_ROOT


@dataclass(frozen=True)
class Leaf:
    """One leaf of a checkpoint: where its event is, and its data."""

    block_number: int
    log_index: int
    data: bytes

    @property
    def hash(self) -> bytes:
        return merkle.leaf_hash(self.data)
