"""RFC 9162 (Certificate Transparency v2) Merkle trees over SHA-256, their inclusion proofs and
the proofs' exact serialised forms.

Leaves are ``SHA-256(0x00 || data)`` and inner nodes ``SHA-256(0x01 || left || right)``; the tree
of ``n`` leaves is RFC 9162's MTH, which splits at the largest power of two below ``n``.
Verification (:func:`compute_root`) follows RFC 9162 section 2.1.3.2 step for step, exactly as
``EvidenceRegistry._computeRoot`` does on chain, so a proof accepted here is accepted there.

Pure code: no chain, no network, no files.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ledger.errors import InvalidInput

__all__ = [
    "MAX_PROOF_LENGTH",
    "MAX_TREE_SIZE",
    "NODE_LENGTH",
    "PROOF_FORMAT_VERSION",
    "EmptyTree",
    "InclusionProof",
    "MerkleProofError",
    "MerkleTree",
    "ProofMalformed",
    "ProofTooLong",
    "ProofTruncated",
    "audit_path_length",
    "compute_root",
    "leaf_hash",
    "node_hash",
    "verify_inclusion",
]

NODE_LENGTH = 32
#: ``EvidenceRegistry.MAX_PROOF_LENGTH``; no tree of at most 2**64 - 1 leaves needs more.
MAX_PROOF_LENGTH = 64
MAX_TREE_SIZE = 2**64 - 1
PROOF_FORMAT_VERSION = 0x01
_HEADER_LENGTH = 1 + 8 + 8 + 1

_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"
_sha256 = hashlib.sha256


# --- errors -----------------------------------------------------------------------------------


class EmptyTree(InvalidInput):
    """A Merkle tree needs at least one leaf."""

    code = "empty_merkle_tree"


class MerkleProofError(InvalidInput):
    """A serialised or constructed inclusion proof breaks the format or its limits."""

    code = "merkle_proof_error"

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message, field="proof", details=details)


class ProofTruncated(MerkleProofError):
    """The proof ends early: fewer bytes or path nodes than its header or tree size require."""

    code = "merkle_proof_truncated"


class ProofTooLong(MerkleProofError):
    """The path has more nodes than the tree size allows, or more than the hard limit of 64."""

    code = "merkle_proof_too_long"


class ProofMalformed(MerkleProofError):
    """Anything else wrong: version, types, ranges, node lengths, trailing bytes, bad hex."""

    code = "merkle_proof_malformed"


# --- hashing ----------------------------------------------------------------------------------


def leaf_hash(data: bytes) -> bytes:
    """RFC 9162 leaf hash: ``SHA-256(0x00 || data)``."""
    return _sha256(_LEAF_PREFIX + bytes(data)).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 9162 inner node hash: ``SHA-256(0x01 || left || right)``."""
    return _sha256(_NODE_PREFIX + bytes(left) + bytes(right)).digest()


# --- trees ------------------------------------------------------------------------------------


class MerkleTree:
    """An RFC 9162 Merkle tree over already leaf-hashed entries, with every level kept.

    Built level by level: adjacent nodes are paired and a last unpaired node is promoted
    unchanged to the next level. This gives the same root and audit paths as RFC 9162's
    recursive definition (split at the largest power of two below ``n``).
    """

    __slots__ = ("_levels",)

    def __init__(self, leaf_hashes: Iterable[bytes]) -> None:
        level = list(leaf_hashes)
        if not level:
            raise EmptyTree("a Merkle tree needs at least one leaf", field="leaves")
        # Checked in bulk (C loops) so that validating a million leaves costs tens of milliseconds.
        if set(map(type, level)) != {bytes} or set(map(len, level)) != {NODE_LENGTH}:
            bad = next(i for i, h in enumerate(level) if type(h) is not bytes or len(h) != NODE_LENGTH)
            raise InvalidInput(
                f"leaf hash {bad} is not {NODE_LENGTH} bytes",
                field="leaves",
                details={"index": bad},
            )
        levels = [level]
        sha256 = _sha256
        prefix = _NODE_PREFIX
        while len(level) > 1:
            pairs = iter(level)
            # zip(it, it) pairs neighbours; an odd last node is left over and promoted below.
            parent = [sha256(prefix + left + right).digest() for left, right in zip(pairs, pairs, strict=False)]
            if len(level) & 1:
                parent.append(level[-1])
            levels.append(parent)
            level = parent
        self._levels: list[list[bytes]] = levels

    @classmethod
    def from_data(cls, items: Iterable[bytes]) -> MerkleTree:
        """A tree whose leaves are ``leaf_hash(item)`` for each item."""
        sha256 = _sha256
        prefix = _LEAF_PREFIX
        return cls([sha256(prefix + bytes(item)).digest() for item in items])

    @property
    def root(self) -> bytes:
        return self._levels[-1][0]

    @property
    def size(self) -> int:
        return len(self._levels[0])

    def __len__(self) -> int:
        return len(self._levels[0])

    def leaf(self, index: int) -> bytes:
        """The leaf hash at ``index``."""
        return self._levels[0][self._check_index(index)]

    def proof(self, index: int) -> list[bytes]:
        """The RFC 9162 audit path of leaf ``index``, bottom-up: the order verifiers consume it."""
        index = self._check_index(index)
        path: list[bytes] = []
        for level in self._levels[:-1]:
            sibling = index ^ 1
            if sibling < len(level):
                path.append(level[sibling])
            # else: this node is the promoted last one and has no sibling at this level.
            index >>= 1
        return path

    def inclusion_proof(self, index: int) -> InclusionProof:
        """:meth:`proof` packaged with its index and the tree size."""
        return InclusionProof(index=index, size=self.size, path=tuple(self.proof(index)))

    def _check_index(self, index: int) -> int:
        if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < self.size:
            raise InvalidInput(
                f"leaf index {index!r} is outside the tree of {self.size} leaves",
                field="index",
            )
        return index

    def __repr__(self) -> str:
        return f"MerkleTree(size={self.size}, root=0x{self.root.hex()})"


# --- verification -----------------------------------------------------------------------------


def compute_root(leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes]) -> bytes | None:
    """The root that ``proof`` yields for ``leaf_hash`` at ``index`` in a tree of ``size``
    leaves, or ``None`` if the proof cannot be valid for that position (RFC 9162 §2.1.3.2).

    The same steps as ``EvidenceRegistry._computeRoot``; inputs Solidity cannot even express
    (negative numbers, nodes that are not 32 bytes) are invalid too.
    """
    if (
        not isinstance(index, int)
        or not isinstance(size, int)
        or index < 0
        or index >= size
        or len(proof) > MAX_PROOF_LENGTH
        or len(leaf_hash) != NODE_LENGTH
    ):
        return None
    sha256 = _sha256
    prefix = _NODE_PREFIX
    fn = index
    sn = size - 1
    r = bytes(leaf_hash)
    for p in proof:
        if sn == 0 or len(p) != NODE_LENGTH:
            return None
        if fn & 1 or fn == sn:
            r = sha256(prefix + bytes(p) + r).digest()
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = sha256(prefix + r + bytes(p)).digest()
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None


def verify_inclusion(leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> bool:
    """Whether ``proof`` shows ``leaf_hash`` at ``index`` in the tree of ``size`` leaves with ``root``."""
    computed = compute_root(leaf_hash, index, size, proof)
    return computed is not None and computed == bytes(root)


def audit_path_length(index: int, size: int) -> int:
    """How many nodes RFC 9162 puts in the audit path of leaf ``index`` in a tree of ``size``."""
    if not 0 <= index < size:
        raise ValueError(f"index {index} is outside a tree of {size} leaves")
    length = 0
    node, last = index, size - 1
    while last > 0:
        if node & 1 or node < last:  # the node has a sibling at this level
            length += 1
        node >>= 1
        last >>= 1
    return length


# --- serialised proofs ------------------------------------------------------------------------

_HEX_NODE = re.compile(r"(?:0[xX])?([0-9a-fA-F]{64})")


@dataclass(frozen=True, slots=True)
class InclusionProof:
    """An audit path with the position it proves: leaf ``index`` of a tree of ``size`` leaves.

    Construction enforces every limit, so any instance serialises and parses back to itself:
    ``1 <= size <= 2**64 - 1``, ``0 <= index < size``, nodes of exactly 32 bytes, and a path of
    exactly :func:`audit_path_length` nodes (never more than 64).

    JSON: ``{"index": 5, "size": 9, "path": ["0x<64 hex>", ...]}`` (lower-case hex; parsing
    accepts either case, with or without ``0x``, and nothing else).

    Bytes (big-endian): version ``0x01`` (1), index (8), size (8), path length (1), then 32 bytes
    per node. Trailing bytes are refused.
    """

    index: int
    size: int
    path: tuple[bytes, ...]

    def __post_init__(self) -> None:
        index, size, path = self.index, self.size, self.path
        for name, value in (("index", index), ("size", size)):
            if not isinstance(value, int) or isinstance(value, bool):
                raise ProofMalformed(f"proof {name} must be an integer, not {type(value).__name__}")
        if not 1 <= size <= MAX_TREE_SIZE:
            raise ProofMalformed(f"proof size {size} is outside 1 .. 2**64 - 1", details={"size": size})
        if not 0 <= index < size:
            raise ProofMalformed(
                f"proof index {index} is outside the tree of {size} leaves",
                details={"index": index, "size": size},
            )
        if isinstance(path, (bytes, bytearray, memoryview, str)) or not isinstance(path, Iterable):
            raise ProofMalformed("proof path must be a sequence of 32-byte nodes")
        nodes = tuple(path)
        if len(nodes) > MAX_PROOF_LENGTH:
            raise ProofTooLong(
                f"proof path has {len(nodes)} nodes; the limit is {MAX_PROOF_LENGTH}",
                details={"length": len(nodes), "max_length": MAX_PROOF_LENGTH},
            )
        for i, node in enumerate(nodes):
            if not isinstance(node, (bytes, bytearray, memoryview)):
                raise ProofMalformed(f"proof path node {i} is {type(node).__name__}, not bytes")
            if len(node) != NODE_LENGTH:
                raise ProofMalformed(
                    f"proof path node {i} is {len(node)} bytes; nodes are {NODE_LENGTH} bytes",
                    details={"node": i, "length": len(node)},
                )
        expected = audit_path_length(index, size)
        details = {"length": len(nodes), "expected": expected, "index": index, "size": size}
        if len(nodes) < expected:
            raise ProofTruncated(
                f"proof path has {len(nodes)} nodes; leaf {index} of {size} needs {expected}",
                details=details,
            )
        if len(nodes) > expected:
            raise ProofTooLong(
                f"proof path has {len(nodes)} nodes; leaf {index} of {size} needs only {expected}",
                details=details,
            )
        object.__setattr__(self, "path", tuple(bytes(node) for node in nodes))

    def compute_root(self, leaf_hash: bytes) -> bytes | None:
        """:func:`compute_root` for this proof."""
        return compute_root(leaf_hash, self.index, self.size, self.path)

    def verify(self, leaf_hash: bytes, root: bytes) -> bool:
        """:func:`verify_inclusion` for this proof."""
        return verify_inclusion(leaf_hash, self.index, self.size, self.path, root)

    # --- JSON ---

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index, "size": self.size, "path": ["0x" + node.hex() for node in self.path]}

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> InclusionProof:
        if not isinstance(obj, Mapping):
            raise ProofMalformed("proof must be a JSON object with index, size and path")
        keys = set(obj)
        if keys != {"index", "size", "path"}:
            missing = sorted({"index", "size", "path"} - keys)
            extra = sorted(str(k) for k in keys - {"index", "size", "path"})
            problem = f"lacks {', '.join(missing)}" if missing else f"has unknown members {', '.join(extra)}"
            raise ProofMalformed(f"proof object {problem}", details={"missing": missing, "unknown": extra})
        path = obj["path"]
        if not isinstance(path, (list, tuple)):
            raise ProofMalformed("proof path must be a list of hex strings")
        if len(path) > MAX_PROOF_LENGTH:
            raise ProofTooLong(
                f"proof path has {len(path)} nodes; the limit is {MAX_PROOF_LENGTH}",
                details={"length": len(path), "max_length": MAX_PROOF_LENGTH},
            )
        nodes = []
        for i, text in enumerate(path):
            match = _HEX_NODE.fullmatch(text) if isinstance(text, str) else None
            if match is None:
                raise ProofMalformed(
                    f"proof path node {i} is not 64 hex characters (32 bytes)",
                    details={"node": i},
                )
            nodes.append(bytes.fromhex(match.group(1)))
        return cls(index=obj["index"], size=obj["size"], path=tuple(nodes))

    # --- bytes ---

    def to_bytes(self) -> bytes:
        return b"".join(
            (
                bytes((PROOF_FORMAT_VERSION,)),
                self.index.to_bytes(8, "big"),
                self.size.to_bytes(8, "big"),
                bytes((len(self.path),)),
                *self.path,
            )
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> InclusionProof:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise ProofMalformed(f"proof must be bytes, not {type(data).__name__}")
        data = bytes(data)
        if not data:
            raise ProofTruncated("proof is empty")
        if data[0] != PROOF_FORMAT_VERSION:
            raise ProofMalformed(
                f"proof format version {data[0]} is not supported (expected {PROOF_FORMAT_VERSION})",
                details={"version": data[0]},
            )
        if len(data) < _HEADER_LENGTH:
            raise ProofTruncated(
                f"proof is {len(data)} bytes; its header alone is {_HEADER_LENGTH}",
                details={"length": len(data)},
            )
        count = data[17]
        if count > MAX_PROOF_LENGTH:
            raise ProofTooLong(
                f"proof path has {count} nodes; the limit is {MAX_PROOF_LENGTH}",
                details={"length": count, "max_length": MAX_PROOF_LENGTH},
            )
        expected = _HEADER_LENGTH + NODE_LENGTH * count
        if len(data) < expected:
            raise ProofTruncated(
                f"proof is {len(data)} bytes; its header announces {count} nodes, {expected} bytes in all",
                details={"length": len(data), "expected": expected},
            )
        if len(data) > expected:
            raise ProofMalformed(
                f"proof has {len(data) - expected} trailing bytes after its {count} nodes",
                details={"length": len(data), "expected": expected},
            )
        nodes = tuple(data[i : i + NODE_LENGTH] for i in range(_HEADER_LENGTH, expected, NODE_LENGTH))
        return cls(
            index=int.from_bytes(data[1:9], "big"),
            size=int.from_bytes(data[9:17], "big"),
            path=nodes,
        )
