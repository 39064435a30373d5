"""Evidence registrations as a party signs them: the typed requests, their EIP-712 messages, and the party-side
helpers that sign them (the CLI, the tests and the benchmarks sign with these; the service only checks).

Pure: nothing here reads the chain or the journal. A :class:`SingleRequest` is one relayed registration of a
binding (``ledger.domain.hashing.public_binding`` / ``private_binding``); a :class:`BatchRequest` is a party's
signed submission of many bindings under the RFC 9162 Merkle root of their leaves (``ledger.domain.merkle``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Final

from eth_account import Account

from ledger.domain import eip712, merkle
from ledger.errors import InvalidInput

ZERO32: Final = b"\0" * 32

# Submission and batch states, as the journal (ledger.storage.journal) keeps them. A submission moves queued -> sent -> anchored -> final; a single is "sending"
# while its owner sends it (journalled so by its request, or claimed from "queued" by the pipeline).
# "rejected" is final for a single the chain refused (for example a hash registered directly on chain first),
# "expired" for a submission that was not on chain within its age limit (IPLEDGER_SUBMISSION_MAX_AGE).
QUEUED, SENDING, SENT, ANCHORED, FINAL = "queued", "sending", "sent", "anchored", "final"
REJECTED, EXPIRED = "rejected", "expired"

#: Status names shown to users, by journal state.
PUBLIC_STATUS: Final = {
    QUEUED: "queued",
    SENDING: "queued",
    SENT: "pending",
    ANCHORED: "registered",
    FINAL: "final",
    REJECTED: "rejected",
    EXPIRED: "expired",
}

#: Longest signature accepted (an ERC-1271 wallet's may be long; an account's is 65 bytes).
MAX_SIGNATURE_BYTES: Final = 4096


@dataclass(frozen=True)
class Submission:
    """A registration request as the journal keeps it: one signed single or batch, its state and where it landed."""

    id: int
    kind: str
    registrant: str
    party_id: int
    algorithm: int
    count: int
    root: bytes | None
    hashes: bytes
    deadline: int
    signature: bytes
    digest: bytes | None
    payload: str | None
    created_at: float
    status: str
    batch_id: int | None
    batch_index: int | None
    tx_hash: str | None
    block_number: int | None
    block_hash: str | None
    block_timestamp: int | None
    error: str | None
    owner: str | None = None
    lease_until: float | None = None

    @property
    def receipt_id(self) -> str:
        return f"sub_{self.id}"


@dataclass(frozen=True)
class SingleRequest:
    binding: bytes
    algorithm: int
    metadata_commitment: bytes
    supersedes: bytes
    registrant: str
    nonce: int
    deadline: int
    signature: bytes
    #: The party the binding was computed for (the HTTP API requires it); refused unless it is the registrant's.
    party_id: int | None = None

    def message(self, domain: eip712.Domain) -> dict[str, Any]:
        return eip712.evidence_message(
            domain,
            binding=self.binding,
            algorithm=self.algorithm,
            metadata_commitment=self.metadata_commitment,
            supersedes=self.supersedes,
            registrant=self.registrant,
            nonce=self.nonce,
            deadline=self.deadline,
        )

    def as_args(self) -> tuple[Any, ...]:
        return (
            (self.binding, self.algorithm, self.metadata_commitment, self.supersedes),
            self.registrant,
            self.nonce,
            self.deadline,
            self.signature,
        )


@dataclass(frozen=True)
class BatchRequest:
    algorithm: int
    hashes: list[bytes]  # the bindings, the leaves of the submission tree
    registrant: str
    deadline: int
    signature: bytes
    party_id: int | None = None  # the party the bindings were computed for, as in SingleRequest


def parse_signature(value: str, field: str = "signature") -> bytes:
    """The bytes of a hex signature (``0x`` optional): not empty, at most :data:`MAX_SIGNATURE_BYTES`."""
    text = value.removeprefix("0x")
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raise InvalidInput("the signature is not hex", field=field) from None
    if not raw:
        raise InvalidInput("the signature is empty", field=field)
    if len(raw) > MAX_SIGNATURE_BYTES:
        raise InvalidInput("the signature is longer than 4096 bytes", field=field)
    return raw


def recover_digest(digest: bytes, signature: bytes) -> str | None:
    """The account whose key made ``signature`` over an EIP-712 digest, or None if it is malformed
    (what ``eip712.recover`` answers for the message, without hashing the message again)."""
    try:
        return str(Account._recover_hash(digest, signature=signature))  # noqa: SLF001 - eth-account's raw-hash recovery
    except Exception:  # noqa: BLE001 - a malformed signature recovers nobody (eth-keys raises several classes)
        return None


def sign_single(
    account: Any,
    domain: eip712.Domain,
    *,
    binding: bytes,
    algorithm: int,
    nonce: int,
    deadline: int,
    metadata_commitment: bytes = ZERO32,
    supersedes: bytes = ZERO32,
    party_id: int | None = None,
) -> SingleRequest:
    """A party-side helper: the signed request for one registration of ``binding`` (computed by the party with
    ``ledger.domain.hashing.public_binding`` or ``private_binding`` for ``party_id``; used by the CLI and tests)."""
    req = SingleRequest(
        binding, algorithm, metadata_commitment, supersedes, account.address, nonce, deadline, b"", party_id
    )
    return replace(req, signature=eip712.sign(req.message(domain), account))


def sign_batch(
    account: Any,
    domain: eip712.Domain,
    *,
    bindings: list[bytes],
    algorithm: int,
    deadline: int,
    party_id: int | None = None,
) -> BatchRequest:
    """A party-side helper: the signed submission for many bindings (used by the CLI and tests)."""
    root = merkle.MerkleTree(merkle.leaf_hash(hh) for hh in bindings).root
    msg = eip712.batch_submission_message(
        domain, root=root, count=len(bindings), algorithm=algorithm, registrant=account.address, deadline=deadline
    )
    return BatchRequest(algorithm, bindings, account.address, deadline, eip712.sign(msg, account), party_id)
