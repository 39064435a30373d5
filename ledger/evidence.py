"""Evidence: accepting party-signed registrations (single or batch), their status, and their certificates.

The API never holds a party's key. A single registration is an EIP-712 ``Evidence`` message signed by a
party account and relayed by the operator's relayer in one transaction. A batch is an EIP-712
``BatchSubmission`` over the RFC 9162 Merkle root of the party's hashes; the aggregator anchors many
submissions under one batch root (``ledger.pipeline``). Both are journalled durably before they are
acknowledged.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from eth_utils import to_checksum_address
from web3 import Web3

from ledger import certificate, eip712, merkle
from ledger.errors import (
    Conflict,
    EvidenceAlreadyRegistered,
    InvalidInput,
    NotFound,
    PartyNotActive,
    PayloadTooLarge,
    SignatureRejected,
)
from ledger.hashing import HashAlgorithm
from ledger.store import ANCHORED, FINAL, QUEUED, REJECTED, SENT, Store, Submission
from ledger.tx import as_revert, call

if TYPE_CHECKING:
    from ledger.service import Ledger

ZERO32 = b"\0" * 32

#: Status names shown to users, by journal state.
PUBLIC_STATUS = {QUEUED: "queued", SENT: "pending", ANCHORED: "registered", FINAL: "final", REJECTED: "rejected"}


@dataclass(frozen=True)
class SingleRequest:
    content_hash: bytes
    algorithm: int
    metadata_commitment: bytes
    supersedes: bytes
    registrant: str
    nonce: int
    deadline: int
    signature: bytes

    def message(self, domain: eip712.Domain) -> dict[str, Any]:
        return eip712.evidence_message(
            domain,
            content_hash=self.content_hash,
            algorithm=self.algorithm,
            metadata_commitment=self.metadata_commitment,
            supersedes=self.supersedes,
            registrant=self.registrant,
            nonce=self.nonce,
            deadline=self.deadline,
        )

    def as_args(self) -> tuple[Any, ...]:
        return (
            (self.content_hash, self.algorithm, self.metadata_commitment, self.supersedes),
            self.registrant,
            self.nonce,
            self.deadline,
            self.signature,
        )


@dataclass(frozen=True)
class BatchRequest:
    algorithm: int
    hashes: list[bytes]
    registrant: str
    deadline: int
    signature: bytes


@dataclass(frozen=True)
class BatchAccepted:
    submission: Submission
    root: bytes
    duplicates: list[dict[str, Any]]


class EvidenceService:
    def __init__(self, ledger: Ledger, store: Store) -> None:
        self.ledger = ledger
        self.store = store

    @property
    def contract(self) -> Any:
        return self.ledger.evidence

    def domain(self) -> eip712.Domain:
        return eip712.Domain(self.ledger.manifest.chain_id, self.ledger.manifest.address("EvidenceRegistry"))

    # --- checks shared by both paths ---

    def _chain_time(self) -> int:
        return int(self.ledger.w3.eth.get_block("latest")["timestamp"])

    def _check_deadline(self, deadline: int, margin: int) -> None:
        now = max(self._chain_time(), int(time.time()))
        if deadline <= now:
            raise InvalidInput(f"the signature's deadline {deadline} has passed (now {now})", field="deadline")
        if deadline < now + margin:
            raise InvalidInput(
                f"the deadline must be at least {margin} s ahead so the relay can be retried after a node restart",
                field="deadline",
            )

    def _check_signature(self, registrant: str, message: dict[str, Any], signature: bytes) -> None:
        """ECDSA recovery for externally owned accounts; contract wallets are checked on chain (ERC-1271)."""
        if len(signature) == 0:
            raise InvalidInput("the signature is empty", field="signature")
        if self.ledger.w3.eth.get_code(to_checksum_address(registrant)):
            return  # checked by the contract through SignatureChecker (estimate or view)
        if len(signature) != 65:
            raise SignatureRejected("SignatureInvalid", {"signer": registrant}, "an account signature is 65 bytes")
        if eip712.recover(message, signature) != to_checksum_address(registrant):
            raise SignatureRejected(
                "SignatureInvalid", {"signer": registrant}, f"the signature does not verify for account {registrant}",
                field="signature",
            )

    def _active_party(self, registrant: str) -> int:
        party_id, active = call(self.contract.functions.partyOf(to_checksum_address(registrant)))
        if party_id == 0:
            raise PartyNotActive("AccountNotAParty", {"account": registrant}, f"account {registrant} is not an account of any admitted party", field="registrant")
        if not active:
            raise PartyNotActive("PartyNotActive", {"partyId": party_id}, f"party {party_id} is suspended", field="registrant")
        return int(party_id)

    # --- single registrations ---

    def submit_single(self, req: SingleRequest) -> Submission:
        relayer = self.ledger.require_relayer()
        self._check_deadline(req.deadline, self.ledger.settings.min_deadline_margin)
        self._check_signature(req.registrant, req.message(self.domain()), req.signature)
        party_id = self._active_party(req.registrant)
        fn = self.contract.functions.registerBySignature(req.as_args())
        # The estimate runs every contract rule (nonce, duplicate, supersedes, ERC-1271) before we journal.
        relayer.estimate({"from": relayer.address, "to": fn.address, "data": fn._encode_transaction_data()})
        payload = json.dumps(
            {
                "metadataCommitment": "0x" + req.metadata_commitment.hex(),
                "supersedes": "0x" + req.supersedes.hex(),
                "nonce": req.nonce,
            }
        )
        sub, existing = self.store.add_submission(
            kind="single",
            registrant=to_checksum_address(req.registrant),
            party_id=party_id,
            algorithm=req.algorithm,
            hashes=[req.content_hash],
            root=None,
            deadline=req.deadline,
            signature=req.signature,
            digest=eip712.digest(req.message(self.domain())),
            payload=payload,
        )
        if existing:
            raise Conflict(
                f"content hash 0x{req.content_hash.hex()} was already accepted (receipt {sub.receipt_id})",
                field="contentHash",
                details={"receiptId": sub.receipt_id},
            )
        return self.send_single(sub)

    def send_single(self, sub: Submission) -> Submission:
        """Sends (or re-sends) a journalled single registration; records the transaction hash."""
        relayer = self.ledger.require_relayer()
        req = self.single_request(sub)
        try:
            tx_hash = relayer.send_call(self.contract.functions.registerBySignature(req.as_args()), wait=False)
        except (EvidenceAlreadyRegistered, SignatureRejected, PartyNotActive) as exc:
            self.store.mark_submission(sub.id, status=REJECTED, error=exc.message)
            raise
        assert isinstance(tx_hash, str)
        self.store.mark_submission(sub.id, status=SENT, tx_hash=tx_hash)
        return self.store.submission(sub.id)  # type: ignore[return-value]

    def single_request(self, sub: Submission) -> SingleRequest:
        payload = json.loads(sub.payload or "{}")
        return SingleRequest(
            content_hash=bytes(sub.hashes),
            algorithm=sub.algorithm,
            metadata_commitment=bytes.fromhex(payload["metadataCommitment"][2:]),
            supersedes=bytes.fromhex(payload["supersedes"][2:]),
            registrant=sub.registrant,
            nonce=int(payload["nonce"]),
            deadline=sub.deadline,
            signature=bytes(sub.signature),
        )

    # --- batches ---

    def submit_batch(self, req: BatchRequest) -> BatchAccepted:
        limit = self.ledger.settings.max_batch_request
        if not req.hashes:
            raise InvalidInput("a batch needs at least one hash", field="hashes")
        if len(req.hashes) > limit:
            raise PayloadTooLarge(f"a batch holds at most {limit} hashes, this one has {len(req.hashes)}", field="hashes")
        seen: dict[bytes, int] = {}
        for i, hh in enumerate(req.hashes):
            if hh in seen:
                raise InvalidInput(f"hashes[{i}] repeats hashes[{seen[hh]}]", field=f"hashes[{i}]")
            seen[hh] = i
        self._check_deadline(req.deadline, self.ledger.settings.min_deadline_margin)
        tree = merkle.MerkleTree(merkle.leaf_hash(hh) for hh in req.hashes)
        message = eip712.batch_submission_message(
            self.domain(), root=tree.root, count=len(req.hashes), algorithm=req.algorithm,
            registrant=req.registrant, deadline=req.deadline,
        )  # fmt: skip
        self._check_signature(req.registrant, message, req.signature)
        # The contract's view checks ECDSA and ERC-1271 alike and returns the party.
        try:
            party_id, active = self.contract.functions.verifyBatchSubmission(
                tree.root, len(req.hashes), req.algorithm, to_checksum_address(req.registrant), req.deadline, req.signature
            ).call()
        except Exception as exc:
            err = as_revert(exc)
            if isinstance(err, SignatureRejected):
                err.field = "signature"
            raise err from None
        if party_id == 0:
            raise PartyNotActive("AccountNotAParty", {"account": req.registrant}, f"account {req.registrant} is not an account of any admitted party", field="registrant")
        if not active:
            raise PartyNotActive("PartyNotActive", {"partyId": party_id}, f"party {party_id} is suspended", field="registrant")
        sub, existing = self.store.add_submission(
            kind="batch",
            registrant=to_checksum_address(req.registrant),
            party_id=int(party_id),
            algorithm=req.algorithm,
            hashes=req.hashes,
            root=tree.root,
            deadline=req.deadline,
            signature=req.signature,
            digest=eip712.digest(message),
        )
        duplicates = [
            {"index": i, "contentHash": "0x" + hh.hex(), "receiptId": f"sub_{earlier}"} for i, hh, earlier in existing
        ]
        return BatchAccepted(sub, tree.root, duplicates)

    # --- reads ---

    def submission(self, receipt_id: str) -> Submission:
        try:
            sub_id = int(receipt_id.removeprefix("sub_"))
        except ValueError:
            raise InvalidInput(f"{receipt_id!r} is not a receipt id (sub_<number>)", field="receipt_id") from None
        sub = self.store.submission(sub_id)
        if sub is None:
            raise NotFound(f"no receipt {receipt_id}", field="receipt_id")
        return sub

    def chain_record(self, content_hash: bytes) -> dict[str, Any] | None:
        rec = call(self.contract.functions.record(content_hash))
        if int(rec[3]) == 0:
            return None
        return {
            "registrant": rec[0],
            "partyId": int(rec[1]),
            "algorithm": int(rec[2]),
            "timestamp": int(rec[3]),
            "blockNumber": int(rec[4]),
        }

    def lookup(self, content_hash: bytes) -> dict[str, Any]:
        """Status, record and version history of a content hash; the earliest registration wins."""
        record = self.chain_record(content_hash)
        journal = self.store.item(content_hash)
        batched = journal is not None and journal[0].kind == "batch"
        if record is not None:
            event = self._registration_event(content_hash, record["blockNumber"])
            latest = int(self.ledger.w3.eth.block_number)
            final = latest - record["blockNumber"] >= self.ledger.settings.confirmations
            direct = {
                "method": "direct",
                "status": "final" if final else "registered",
                "contentHash": "0x" + content_hash.hex(),
                "algorithm": HashAlgorithm(record["algorithm"]).name.lower(),
                "partyId": record["partyId"],
                "registrant": record["registrant"],
                "blockNumber": record["blockNumber"],
                "blockTimestamp": record["timestamp"],
                "transactionHash": event["transactionHash"] if event else None,
                "metadataCommitment": event["metadataCommitment"] if event else None,
                "supersedes": event["supersedes"] if event else None,
                "receiptId": journal[0].receipt_id if journal and not batched else None,
                "versions": self._history(content_hash, event),
            }
            if not batched or journal is None or journal[0].block_timestamp is None or journal[0].block_timestamp >= record["timestamp"]:
                return direct
        if journal is None:
            raise NotFound(f"content hash 0x{content_hash.hex()} is not registered", field="content_hash")
        sub, index = journal
        body: dict[str, Any] = {
            "method": sub.kind if sub.kind == "batch" else "direct",
            "status": PUBLIC_STATUS.get(sub.status, sub.status),
            "contentHash": "0x" + content_hash.hex(),
            "algorithm": HashAlgorithm(sub.algorithm).name.lower(),
            "partyId": sub.party_id,
            "registrant": sub.registrant,
            "receiptId": sub.receipt_id,
            "acceptedAt": int(sub.created_at),
            "blockNumber": sub.block_number,
            "blockTimestamp": sub.block_timestamp,
            "transactionHash": sub.tx_hash,
        }
        if sub.kind == "batch":
            body["submissionIndex"] = index
            body["submissionSize"] = sub.count
        if sub.status == REJECTED:
            body["error"] = sub.error
        return body

    def party_profile(self, party_id: int) -> dict[str, Any]:
        p = call(self.contract.functions.party(party_id))
        return {
            "partyId": party_id,
            "kind": int(p[0]),
            "jurisdiction": int(p[1]),
            "identifierScheme": certificate.SCHEMES.get(int(p[2]), "OTHER"),
            "suspended": bool(p[3]),
            "accountCount": int(p[4]),
            "admittedAt": int(p[5]),
            "identifier": p[6],
            "nameZh": p[7],
            "nameEn": p[8],
        }

    def _registration_event(self, content_hash: bytes, block_number: int) -> dict[str, Any] | None:
        logs = self.contract.events.EvidenceRegistered().get_logs(
            from_block=block_number, to_block=block_number, argument_filters={"contentHash": content_hash}
        )
        if not logs:
            return None
        log = logs[0]
        return {
            "transactionHash": Web3.to_hex(log["transactionHash"]),
            "blockHash": Web3.to_hex(log["blockHash"]),
            "logIndex": int(log["logIndex"]),
            "metadataCommitment": "0x" + bytes(log["args"]["metadataCommitment"]).hex(),
            "supersedes": "0x" + bytes(log["args"]["supersedes"]).hex(),
        }

    def _history(self, content_hash: bytes, event: dict[str, Any] | None, limit: int = 50) -> list[dict[str, Any]]:
        """Earlier versions, newest first, by following ``supersedes`` back through the records."""
        versions: list[dict[str, Any]] = []
        current = event
        while current and current["supersedes"] != "0x" + ZERO32.hex() and len(versions) < limit:
            earlier = bytes.fromhex(current["supersedes"][2:])
            rec = self.chain_record(earlier)
            if rec is None:
                break
            versions.append({"contentHash": "0x" + earlier.hex(), "blockNumber": rec["blockNumber"], "blockTimestamp": rec["timestamp"]})
            current = self._registration_event(earlier, rec["blockNumber"])
        return versions


class CertificateBuilder:
    """Assembles certificates from the chain (direct records) and the journal (batched records)."""

    def __init__(self, service: EvidenceService) -> None:
        self.service = service
        self._trees: dict[tuple[str, int], merkle.MerkleTree] = {}

    def _tree(self, kind: str, key: int, leaves: Any) -> merkle.MerkleTree:
        tree = self._trees.get((kind, key))
        if tree is None:
            if len(self._trees) > 32:
                self._trees.clear()
            tree = merkle.MerkleTree(leaves())
            self._trees[(kind, key)] = tree
        return tree

    def build(self, content_hash: bytes) -> dict[str, Any]:
        svc = self.service
        manifest = svc.ledger.manifest
        info = svc.lookup(content_hash)
        if info["status"] not in ("registered", "final"):
            raise Conflict(
                f"content hash 0x{content_hash.hex()} is {info['status']}: a certificate exists once it is on chain",
                field="content_hash",
                details={"status": info["status"]},
            )
        party = svc.party_profile(info["partyId"])
        w3 = svc.ledger.w3
        common = {
            "content_hash": content_hash,
            "registered_hash": content_hash,
            "salt": None,
            "metadata": None,
            "account": info["registrant"],
            "party_id": info["partyId"],
            "party": party,
            "chain_id": manifest.chain_id,
            "contract": manifest.address("EvidenceRegistry"),
            "algorithm": int(HashAlgorithm[info["algorithm"].upper()]),
        }
        if info["method"] == "direct":
            event = svc._registration_event(content_hash, info["blockNumber"])
            if event is None:
                raise NotFound("the registration event is not on this chain", field="content_hash")
            return certificate.build(
                **common,
                metadata_commitment=None if event["metadataCommitment"] == "0x" + ZERO32.hex() else bytes.fromhex(event["metadataCommitment"][2:]),
                supersedes=None if event["supersedes"] == "0x" + ZERO32.hex() else bytes.fromhex(event["supersedes"][2:]),
                tx_hash=event["transactionHash"],
                block_number=info["blockNumber"],
                block_hash=event["blockHash"],
                block_timestamp=info["blockTimestamp"],
            )
        journal = svc.store.item(content_hash)
        assert journal is not None
        sub, index = journal
        batch = svc.store.batch(sub.batch_id) if sub.batch_id is not None else None
        if batch is None or batch.block_number is None or sub.batch_index is None:
            raise Conflict("the batch is not anchored yet", field="content_hash")
        hashes = svc.store.submission_hashes(sub.id)
        sub_tree = self._tree("sub", sub.id, lambda: (merkle.leaf_hash(hh) for hh in hashes))
        members = svc.store.batch_submissions(batch.id)
        batch_tree = self._tree("batch", batch.id, lambda: (merkle.leaf_hash(bytes(m.digest or b"")) for m in members))
        block = w3.eth.get_block(batch.block_number)
        return certificate.build(
            **common,
            metadata_commitment=None,
            supersedes=None,
            tx_hash=str(batch.tx_hash),
            block_number=batch.block_number,
            block_hash=Web3.to_hex(block["hash"]),
            block_timestamp=int(block["timestamp"]),
            batch={
                "submission": {
                    "root": "0x" + bytes(sub.root or b"").hex(),
                    "count": sub.count,
                    "deadline": sub.deadline,
                    "signature": "0x" + bytes(sub.signature).hex(),
                    "proof": sub_tree.inclusion_proof(index).to_json(),
                },
                "batch": {
                    "root": "0x" + bytes(batch.root).hex(),
                    "proof": batch_tree.inclusion_proof(sub.batch_index).to_json(),
                },
            },
        )


def parse_signature(value: str, field: str = "signature") -> bytes:
    text = value.removeprefix("0x")
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raise InvalidInput("the signature is not hex", field=field) from None
    if not raw:
        raise InvalidInput("the signature is empty", field=field)
    if len(raw) > 4096:
        raise InvalidInput("the signature is longer than 4096 bytes", field=field)
    return raw


def sign_single(
    account: Any, domain: eip712.Domain, *, content_hash: bytes, algorithm: int, nonce: int, deadline: int,
    metadata_commitment: bytes = ZERO32, supersedes: bytes = ZERO32,
) -> SingleRequest:  # fmt: skip
    """A party-side helper: the signed request for one registration (used by the CLI and tests)."""
    req = SingleRequest(content_hash, algorithm, metadata_commitment, supersedes, account.address, nonce, deadline, b"")
    sig = eip712.sign(req.message(domain), account)
    return SingleRequest(content_hash, algorithm, metadata_commitment, supersedes, account.address, nonce, deadline, sig)


def sign_batch(account: Any, domain: eip712.Domain, *, hashes: list[bytes], algorithm: int, deadline: int) -> BatchRequest:
    """A party-side helper: the signed submission for many hashes (used by the CLI and tests)."""
    root = merkle.MerkleTree(merkle.leaf_hash(hh) for hh in hashes).root
    msg = eip712.batch_submission_message(
        domain, root=root, count=len(hashes), algorithm=algorithm, registrant=account.address, deadline=deadline
    )
    return BatchRequest(algorithm, hashes, account.address, deadline, eip712.sign(msg, account))

