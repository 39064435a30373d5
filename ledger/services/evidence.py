"""Evidence: accepting party-signed registrations (single or batch), their status, and their certificates.

What a registration carries is a *binding* (``ledger.domain.hashing.public_binding`` / ``private_binding``): the
content hash bound to the registrant's party, computed by the party. The chain keeps a record under the
binding and the party, so a registration copied from the pending pool by another party neither blocks nor
displaces the original and proves nothing for the copier. A lookup by content hash computes the public binding
of every admitted party and reads their records in a few batched calls: it names the party that registered the
content first and lists the others.

The API never holds a party's key. A single registration is an EIP-712 ``Evidence`` message signed by a
party account and relayed by the operator's relayer in one transaction. A batch is an EIP-712
``BatchSubmission`` over the RFC 9162 Merkle root of the party's hashes; the aggregator anchors many
submissions under one batch root (``ledger.services.pipeline``). Both are journalled durably before they are
acknowledged.

A single has one sender at a time (``ledger.storage.journal``: its row's owner): the request that journalled it
sends it, or gives it back to the pipeline when it cannot send it now (an accepted registration is then
answered 202 ``queued``, never an error). A single whose hash turns up on chain under another transaction
is settled from the chain with the transaction that carried it.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

from eth_abi import decode as abi_decode
from eth_utils import keccak, to_checksum_address
from eth_utils.abi import event_abi_to_log_topic
from web3 import Web3

from ledger.certificates import evidence as certificate
from ledger.chain.codec import as_revert
from ledger.chain.connection import Connection
from ledger.chain.head import Head
from ledger.chain.rpc import FunctionCodec, as_hex, as_int, rpc, rpc_batch
from ledger.chain.sender import NotSent, SendUncertain, WindowFull
from ledger.config import Settings
from ledger.domain import eip712, merkle
from ledger.domain.evidence import (
    ANCHORED,
    EXPIRED,
    FINAL,
    PUBLIC_STATUS,
    QUEUED,
    REJECTED,
    SENT,
    ZERO32,
    BatchRequest,
    SingleRequest,
    Submission,
    recover_digest,
)
from ledger.domain.hashing import HashAlgorithm, public_binding
from ledger.domain.inputs import DIGITS_RE, INT64_MAX
from ledger.domain.parties import as_registrant, ensure_active
from ledger.domain.results import CertificateDocument
from ledger.errors import (
    ChainUnavailable,
    Conflict,
    ContractRevert,
    InvalidInput,
    LedgerError,
    NotFound,
    PayloadTooLarge,
    SignatureRejected,
    StorageUnavailable,
    TransactionFailed,
)
from ledger.services.parties import PartyService
from ledger.storage.journal import SEND_WITHIN, Store, process_owner

log = logging.getLogger("ipledger.evidence")

#: Gas limit of a relayed registration whose signature is an ECDSA signature of the registrant. For an
#: account without code that path has a fixed shape (65-byte signature, no loops, no external call: OpenZeppelin's
#: SignatureChecker looks at the account's code, finds none, and recovers) and costs about 61k gas; a test holds
#: the worst case under half of this. Contract wallets (ERC-1271) run code of their own and are estimated
#: instead. (An EIP-7702-delegated account whose key signed is taken for an account without code here; the
#: simulation still runs its delegate's check, only the limit is not estimated.)
ECDSA_REGISTRATION_GAS = 150_000

#: How many final lookups are kept in memory (about 1 KB each).
FINAL_LOOKUPS_KEPT = 65_536

#: Seconds a lookup whose every registration is final is answered again from memory: its first registration can
#: no longer change, but another party may register the same content later, so the list of others is re-read.
FINAL_LOOKUP_TTL = 10.0

#: Keys read per ``records(bytes32[])`` call when a lookup enumerates the parties' public bindings.
RECORDS_PER_CALL = 512

#: Registrations listed in a lookup answer (the count covers all of them).
MAX_LISTED = 20

#: Contract errors that the relay checks before anything else, so their field is the registrant.
_PARTY_ERRORS = ("AccountNotAParty", "PartyNotActive")


@dataclass(frozen=True)
class BatchAccepted:
    submission: Submission
    root: bytes
    duplicates: list[dict[str, Any]]


class EvidenceService:
    """Accepts, sends and reads evidence registrations (see the module's header).

    Receives the chain :class:`~ledger.chain.connection.Connection`, the journal (``store``), the settings (deadline
    margin, batch size, confirmations, ``final_after``) and the party service (the registrant's party).
    """

    def __init__(self, conn: Connection, store: Store, settings: Settings, parties: PartyService) -> None:
        self.conn = conn
        self.store = store
        self.settings = settings
        self.parties = parties
        self._codecs: dict[str, FunctionCodec] = {}
        self._final = FinalLookups(FINAL_LOOKUPS_KEPT)
        # submission id -> hash of the transaction that carries it, sent but not yet recorded (the journal
        # could not be written); the pipeline records them once it can
        self._unrecorded: dict[int, str] = {}
        self._unrecorded_lock = threading.Lock()

    @property
    def contract(self) -> Any:
        return self.conn.evidence

    def domain(self) -> eip712.Domain:
        return self.conn.evidence_domain

    # --- checks shared by both paths ---

    def _chain_time(self) -> int:
        return self.conn.head.latest().timestamp

    def _check_deadline(self, deadline: int, margin: int, chain_time: int | None = None) -> None:
        now = max(self._chain_time() if chain_time is None else chain_time, int(time.time()))
        if deadline <= now:
            raise InvalidInput(f"the signature's deadline {deadline} has passed (now {now})", field="deadline")
        if deadline < now + margin:
            raise InvalidInput(
                f"the deadline must be at least {margin} s ahead so the relay can be retried after a node restart",
                field="deadline",
            )

    def _check_signature(self, registrant: str, digest: bytes, signature: bytes) -> bool:
        """ECDSA recovery for externally owned accounts; contract wallets are checked on chain (ERC-1271).

        Returns whether the registrant is a contract wallet. A signature that recovers to the registrant needs
        no look at its code: the contract's SignatureChecker accepts an ECDSA signature of the account first.
        """
        if len(signature) == 0:
            raise InvalidInput("the signature is empty", field="signature")
        account = to_checksum_address(registrant)
        if len(signature) == 65 and recover_digest(digest, signature) == account:
            return False
        if self._has_code(account):
            return True  # checked by the contract through SignatureChecker (simulation or view)
        if len(signature) != 65:
            raise SignatureRejected("SignatureInvalid", {"signer": registrant}, "an account signature is 65 bytes")
        raise SignatureRejected(
            "SignatureInvalid",
            {"signer": registrant},
            f"the signature does not verify for account {registrant}",
            field="signature",
        )

    def _has_code(self, account: str) -> bool:
        return as_hex(rpc(self.conn.w3, "eth_getCode", [account, "latest"])) not in ("0x", "0x0", "")

    def _active_party(self, registrant: str) -> int:
        return self.parties.active_party(registrant, field="registrant", refuse=as_registrant)

    @staticmethod
    def _check_bound_party(claimed: int | None, party_id: int) -> None:
        """A binding commits to a party id; recorded under another party it would open for no one."""
        if claimed is not None and claimed != party_id:
            raise InvalidInput(
                f"the bindings were computed for party {claimed}, but the registrant is an account of party {party_id}",
                field="partyId",
            )

    def _codec(self, name: str) -> FunctionCodec:
        codec = self._codecs.get(name)
        if codec is None:
            codec = self._codecs[name] = FunctionCodec(self.contract, name)
        return codec

    # --- single registrations ---

    def submit_single(self, req: SingleRequest) -> Submission:
        """Checks a relayed registration against every contract rule, journals it, sends it.

        JSON-RPC calls: ``partyOf`` and one simulation of ``registerBySignature`` (``eth_call``), then the
        transaction; the head block (deadline, fees) is read at most once a second for all requests, and a
        registrant's code only when its signature is not its own ECDSA signature.
        """
        # An API replica of `ipledger serve` sends nothing: it checks, journals, and leaves the sending to the worker
        # that leads the relayer account (the nonces of an account are allocated in one place).
        relayer = self.conn.require_relayer() if self.settings.relay_from_api else None
        self._check_deadline(req.deadline, self.settings.min_deadline_margin)
        registrant = to_checksum_address(req.registrant)
        message = req.message(self.domain())
        digest = eip712.digest(message)
        wallet = self._check_signature(registrant, digest, req.signature)
        data = self._registration_data(req)
        # registerBySignature does not depend on its caller: without a relayer, simulate it as sent by the registrant
        registration = {"from": relayer.address if relayer else registrant, "to": self.contract.address, "data": data}
        if wallet and relayer is not None:  # the wallet's ERC-1271 check costs what its code decides
            party_id = self._active_party(registrant)
            self._check_bound_party(req.party_id, party_id)
            try:
                gas = int(relayer.estimate(registration) * relayer.gas_margin) + 10_000
            except ContractRevert as exc:
                raise self._refusal(req, exc) from None
        else:
            # partyOf and the simulation in one round trip; the simulation runs every contract rule (deadline,
            # nonce, signature, duplicate, supersedes), and the party's answer is looked at first, as if asked alone
            party_call = {"to": self.contract.address, "data": self._codec("partyOf").encode(registrant)}
            party_of, simulated = rpc_batch(
                self.conn.w3,
                [("eth_call", [party_call, "latest"]), ("eth_call", [registration, "latest"])],
            )
            if isinstance(party_of, LedgerError):
                raise party_of
            party_id, active = self._codec("partyOf").decode(party_of)
            party_id = ensure_active(registrant, int(party_id), bool(active), field="registrant", refuse=as_registrant)
            self._check_bound_party(req.party_id, party_id)
            if isinstance(simulated, ContractRevert):
                raise self._refusal(req, simulated)
            if isinstance(simulated, LedgerError):
                raise simulated
            gas = 0 if wallet else ECDSA_REGISTRATION_GAS  # a wallet's is estimated by the worker when it sends
        payload = json.dumps(
            {
                "metadataCommitment": "0x" + req.metadata_commitment.hex(),
                "supersedes": "0x" + req.supersedes.hex(),
                "nonce": req.nonce,
                # the limit the simulation established (0: a contract wallet, estimated when sent)
                "gas": gas,
            }
        )
        # Journalled as `sending`, held by this process: the pipeline takes it only if this request gives it
        # back unsent, or its process dies, or it is not sent within its lease. Without a relayer (a replica of
        # `ipledger serve`) it is journalled `queued` for the worker that leads the relayer account.
        owner = process_owner() if relayer is not None else None
        sub, existing = self.store.add_submission(
            kind="single",
            registrant=registrant,
            party_id=party_id,
            algorithm=req.algorithm,
            hashes=[req.binding],
            root=None,
            deadline=req.deadline,
            signature=req.signature,
            digest=digest,
            payload=payload,
            owner=owner,
        )
        if existing:
            raise Conflict(
                f"binding 0x{req.binding.hex()} was already accepted (receipt {sub.receipt_id})",
                field="binding",
                details={"receiptId": sub.receipt_id},
            )
        if relayer is None or owner is None:  # journalled for the worker
            return sub
        try:
            return self.send_single(
                sub, owner=owner, gas=gas, request=req, data=data, not_after=time.monotonic() + SEND_WITHIN
            )
        except (ChainUnavailable, TransactionFailed) as exc:
            # accepted and journalled: not an error for the client; the pipeline sends it when it can
            log.info("single %s accepted but not sent now (%s); left queued for the pipeline", sub.id, exc.message)
            return replace(sub, status=QUEUED, owner=None, lease_until=None)

    def _refusal(self, req: SingleRequest, exc: ContractRevert) -> LedgerError:
        """The error a refused simulation answers with: the same as the separate checks it stands for would."""
        if exc.name in _PARTY_ERRORS:
            exc.field = "registrant"
        elif exc.name == "SignatureExpired":  # the head read for the deadline check was a moment old
            try:
                self._check_deadline(req.deadline, 0, chain_time=int(exc.args_["timestamp"]))
            except InvalidInput as expired:
                return expired
        return exc

    def _registration_data(self, req: SingleRequest) -> str:
        return self._codec("registerBySignature").encode(req.as_args())

    def send_single(
        self,
        sub: Submission,
        *,
        owner: str,
        gas: int | None = None,
        request: SingleRequest | None = None,
        data: str | None = None,
        not_after: float | None = None,
    ) -> Submission:
        """Sends a journalled single registration held by ``owner`` (state ``sending``); records the transaction.

        Without ``gas`` the transaction is estimated first (the pipeline's sends); the request path gives the
        limit its simulation established, and the request and calldata it already has. What could not be sent
        is given back (``queued``) and the error raised; a refusal by the contract settles the row: on chain
        already (read back with the transaction that carried it), expired, or rejected.
        """
        relayer = self.conn.require_relayer()
        req = request or self.single_request(sub)
        tx = {"to": self.contract.address, "data": data or self._registration_data(req), "value": 0}
        try:
            tx_hash = relayer.send(tx, gas=gas, wait=False, not_after=not_after)
        except SendUncertain as exc:  # maybe in the node's pool: follow that transaction, never send blindly again
            return self.record_sent(sub, exc.tx_hash)
        except ContractRevert as exc:
            settled = self.settle_from_chain(sub)
            if settled is not None:
                if settled.status == ANCHORED:
                    return settled  # an earlier send of this submission (or the party itself) put it on chain
                raise exc from None
            if exc.name == "SignatureExpired":
                self.store.mark_submission(
                    sub.id,
                    status=EXPIRED,
                    error="the signature's deadline passed before it was on chain",
                    owner=None,
                    lease_until=None,
                )
                log.warning("submission %s expired: its signed deadline passed before it was on chain", sub.id)
            else:
                self.store.mark_submission(sub.id, status=REJECTED, error=exc.message, owner=None, lease_until=None)
            raise
        except (ChainUnavailable, TransactionFailed):
            self._give_back(sub, owner)
            raise
        assert isinstance(tx_hash, str)
        return self.record_sent(sub, tx_hash)

    def send_fresh_singles(
        self, subs: list[Submission], gas_of: dict[int, int], *, owner: str, not_after: float | None = None
    ) -> list[Submission]:
        """Sends journalled singles held by ``owner`` in one JSON-RPC batch (``TxSender.send_many``), each with
        the gas limit of the simulation that accepted it; returns those sent (``sent`` rows, not yet recorded:
        the caller records them together). One the node did not take is given back (``queued``) for the next
        step (and when none went out, the refusal is raised); one whose answer was lost counts as sent, to be
        followed like any other."""
        if not subs:
            return []
        relayer = self.conn.require_relayer()
        txs = [
            {"to": self.contract.address, "data": self._registration_data(self.single_request(sub)), "value": 0}
            for sub in subs
        ]
        results = relayer.send_many(txs, [gas_of[sub.id] for sub in subs], not_after=not_after)
        sent: list[Submission] = []
        given_back: list[int] = []
        refusal: NotSent | None = None
        for sub, result in zip(subs, results, strict=True):
            if isinstance(result, str):
                sent.append(replace(sub, status=SENT, tx_hash=result))
            elif isinstance(result, SendUncertain):
                sent.append(replace(sub, status=SENT, tx_hash=result.tx_hash))
            else:
                given_back.append(sub.id)
                refusal = result
        if given_back:
            try:
                self.store.release_many(given_back, owner)
            except StorageUnavailable:
                pass  # they stay `sending` under this owner: the pipeline takes them over when the lease runs out
            if refusal is not None and not isinstance(refusal, WindowFull):  # a full window is no fault
                if not sent:
                    raise refusal  # none went out: the pipeline waits out the fault
                log.warning(
                    "%s of %s singles not sent, left for the next step: %s", len(given_back), len(subs), refusal.message
                )
        return sent

    def _give_back(self, sub: Submission, owner: str) -> None:
        try:
            self.store.release(sub.id, owner)
        except StorageUnavailable:
            pass  # it stays `sending` under this owner: the pipeline takes it over when its lease runs out

    def record_sent(self, sub: Submission, tx_hash: str) -> Submission:
        """Marks a single sent with ``tx_hash``; if the journal cannot be written now, the pipeline records it
        later (its owner's hold stands meanwhile, so nobody sends it again)."""
        try:
            self.store.mark_sent(sub.id, tx_hash)
        except StorageUnavailable:
            with self._unrecorded_lock:
                self._unrecorded[sub.id] = tx_hash
        return replace(sub, status=SENT, tx_hash=tx_hash, owner=None, lease_until=None)

    @staticmethod
    def simulated_gas(sub: Submission) -> int:
        """The gas limit the simulation that accepted a single established (0: none, estimate when sending)."""
        try:
            gas = json.loads(sub.payload or "{}").get("gas", 0)
        except ValueError:
            return 0
        return gas if isinstance(gas, int) and 0 < gas <= ECDSA_REGISTRATION_GAS else 0

    def record_sent_many(self, sent: list[Submission]) -> None:
        """:meth:`record_sent` for singles sent together (:meth:`send_fresh_singles`), in one transaction."""
        pairs = [(sub.id, sub.tx_hash) for sub in sent if sub.tx_hash is not None]
        try:
            self.store.mark_sent_many(pairs)
        except StorageUnavailable:
            with self._unrecorded_lock:
                self._unrecorded.update(pairs)

    def record_unrecorded(self) -> None:
        """Records the sends the journal could not take when they happened (raises if it still cannot)."""
        with self._unrecorded_lock:
            waiting = dict(self._unrecorded)
        for sub_id, tx_hash in waiting.items():
            self.store.mark_sent(sub_id, tx_hash)
            with self._unrecorded_lock:
                self._unrecorded.pop(sub_id, None)

    def unrecorded(self, sub_id: int) -> bool:
        with self._unrecorded_lock:
            return sub_id in self._unrecorded

    def settle_from_chain(self, sub: Submission) -> Submission | None:
        """If the single's binding is on chain under its party, settles its row from the record: ``anchored`` with
        the transaction that actually carried it (found by its registration event at the record's block) when its
        registrant registered it, ``rejected`` when another account of the party did. None when it is not on
        chain. (A record of the same binding by another party is elsewhere and changes nothing here.)"""
        binding = bytes(sub.hashes)
        record = self.chain_record(binding, sub.party_id)
        if record is None:
            return None
        if record["registrant"] != sub.registrant:
            error = f"the binding was registered on chain first by {record['registrant']}, another account of the party"
            self.store.mark_submission(sub.id, status=REJECTED, error=error, owner=None, lease_until=None)
            return replace(sub, status=REJECTED, error=error, owner=None, lease_until=None)
        event = self.registration_event(binding, sub.party_id, record["blockNumber"])
        fields: dict[str, Any] = {
            "status": ANCHORED,
            "tx_hash": event["transactionHash"] if event else sub.tx_hash,
            "block_number": record["blockNumber"],
            "block_hash": event["blockHash"] if event else None,
            "block_timestamp": record["timestamp"],
            "owner": None,
            "lease_until": None,
        }
        self.store.mark_submission(sub.id, **fields)
        return replace(sub, **fields)

    def single_request(self, sub: Submission) -> SingleRequest:
        payload = json.loads(sub.payload or "{}")
        return SingleRequest(
            binding=bytes(sub.hashes),
            algorithm=sub.algorithm,
            metadata_commitment=bytes.fromhex(payload["metadataCommitment"][2:]),
            supersedes=bytes.fromhex(payload["supersedes"][2:]),
            registrant=sub.registrant,
            nonce=int(payload["nonce"]),
            deadline=sub.deadline,
            signature=bytes(sub.signature),
            party_id=sub.party_id,
        )

    # --- batches ---

    def submit_batch(self, req: BatchRequest) -> BatchAccepted:
        limit = self.settings.max_batch_request
        if not req.hashes:
            raise InvalidInput("a batch needs at least one binding", field="bindings")
        if len(req.hashes) > limit:
            raise PayloadTooLarge(
                f"a batch holds at most {limit} bindings, this one has {len(req.hashes)}", field="bindings"
            )
        seen: dict[bytes, int] = {}
        for i, hh in enumerate(req.hashes):
            if hh in seen:
                raise InvalidInput(f"bindings[{i}] repeats bindings[{seen[hh]}]", field=f"bindings[{i}]")
            seen[hh] = i
        self._check_deadline(req.deadline, self.settings.min_deadline_margin)
        tree = merkle.MerkleTree(merkle.leaf_hash(hh) for hh in req.hashes)
        message = eip712.batch_submission_message(
            self.domain(),
            root=tree.root,
            count=len(req.hashes),
            algorithm=req.algorithm,
            registrant=req.registrant,
            deadline=req.deadline,
        )
        digest = eip712.digest(message)
        self._check_signature(req.registrant, digest, req.signature)
        # The contract's view checks ECDSA and ERC-1271 alike and returns the party.
        try:
            party_id, active = self.contract.functions.verifyBatchSubmission(
                tree.root,
                len(req.hashes),
                req.algorithm,
                to_checksum_address(req.registrant),
                req.deadline,
                req.signature,
            ).call()
        except Exception as exc:  # noqa: BLE001 - each provider raises its own classes; as_revert classifies them
            err = as_revert(exc)
            if isinstance(err, SignatureRejected):
                err.field = "signature"
            raise err from None
        party_id = ensure_active(req.registrant, int(party_id), bool(active), field="registrant", refuse=as_registrant)
        self._check_bound_party(req.party_id, party_id)
        sub, existing = self.store.add_submission(
            kind="batch",
            registrant=to_checksum_address(req.registrant),
            party_id=int(party_id),
            algorithm=req.algorithm,
            hashes=req.hashes,
            root=tree.root,
            deadline=req.deadline,
            signature=req.signature,
            digest=digest,
        )
        duplicates = [
            {"index": i, "binding": "0x" + hh.hex(), "receiptId": f"sub_{earlier}"} for i, hh, earlier in existing
        ]
        return BatchAccepted(sub, tree.root, duplicates)

    # --- reads ---

    def submission(self, receipt_id: str) -> Submission:
        # sub_ and ASCII digits, bounded by the journal's INTEGER column (ledger.inputs)
        number = receipt_id[4:] if isinstance(receipt_id, str) and receipt_id.startswith("sub_") else ""
        if not DIGITS_RE.fullmatch(number) or len(number) > 19 or int(number) > INT64_MAX:
            raise InvalidInput(f"{receipt_id[:80]!r} is not a receipt id (sub_<number>)", field="receipt_id")
        sub = self.store.submission(int(number))
        if sub is None:
            raise NotFound(f"no receipt {receipt_id}", field="receipt_id")
        return sub

    def chain_record(self, binding: bytes, party_id: int) -> dict[str, Any] | None:
        """The record of ``binding`` by party ``party_id``, or None."""
        (rec,) = self._codec("record").call(self.conn.w3, binding, party_id)
        return _record(rec)

    def chain_records(self, keys: list[tuple[bytes, int]]) -> dict[tuple[bytes, int], dict[str, Any]]:
        """The records among many ``(binding, partyId)`` pairs, in ``records(bytes32[])`` calls of at most
        :data:`RECORDS_PER_CALL` keys."""
        found: dict[tuple[bytes, int], dict[str, Any]] = {}
        for start in range(0, len(keys), RECORDS_PER_CALL):
            chunk = keys[start : start + RECORDS_PER_CALL]
            (recs,) = self._codec("records").call(self.conn.w3, [record_key(b, p) for b, p in chunk])
            for key, rec in zip(chunk, recs, strict=True):
                parsed = _record(rec)
                if parsed is not None:
                    found[key] = parsed
        return found

    def _candidates(self, value: bytes, party_id: int | None) -> list[tuple[bytes, int, bytes | None, int | None]]:
        """``(binding, party, content hash, algorithm)`` of what a lookup of ``value`` reads: the public binding of
        ``value`` as a content hash for each party (every admitted party, or ``party_id``) and each algorithm; and,
        with ``party_id``, ``value`` itself as that party's binding (a private registration, or a binding at hand)."""
        parties = [party_id] if party_id is not None else range(1, self.parties.count() + 1)
        out: list[tuple[bytes, int, bytes | None, int | None]] = []
        if party_id is not None:
            out.append((value, party_id, None, None))
        for p in parties:
            for alg in HashAlgorithm.choices():
                out.append((public_binding(value, p, alg), p, value, int(alg)))
        return out

    def lookup(self, value: bytes, party_id: int | None = None) -> dict[str, Any]:
        """Every registration of a content hash, the first one's record and status at the top; or, with
        ``party_id``, that party's registration of ``value`` (its content hash or its binding).

        Without ``party_id``, ``value`` is a content hash: the public binding of every admitted party is read
        (:meth:`_candidates`), and the journal is asked for each. When none is found, ``value`` is taken as a
        binding journalled here (a private registration sent through this service), whose party the journal
        knows. The answer names the registration earliest on chain (block, then position in the block) and lists
        up to :data:`MAX_LISTED` registrations, earliest first, with their count.

        An answer whose every registration is final (see :meth:`_settled`) is kept in memory for
        :data:`FINAL_LOOKUP_TTL` seconds: the first registration can no longer change, but a later one by another
        party may be added.
        """
        key = bytes(value) + int(party_id or 0).to_bytes(4, "big")
        kept = self._final.get(key)
        if kept is not None:
            return kept
        body, settled = self._lookup(value, party_id)
        if settled:
            self._final.put(key, body)  # kept as text: what the caller does with `body` stays with it
        return body

    def _lookup(self, value: bytes, party_id: int | None = None) -> tuple[dict[str, Any], bool]:
        candidates = self._candidates(value, party_id)
        records = self.chain_records([(b, p) for b, p, _, _ in candidates])
        journal = self.store.items([b for b, _, _, _ in candidates])
        found: list[tuple[bytes, int, bytes | None, dict[str, Any] | None, tuple[Submission, int] | None]] = []
        for binding, party, content, alg in candidates:
            rec = records.get((binding, party))
            if rec is not None and alg is not None and rec["algorithm"] != alg:
                rec = None  # a record of this key under the other algorithm is not this content's binding
            item = journal.get(binding)
            if item is not None and (item[0].party_id != party or (alg is not None and item[0].algorithm != alg)):
                item = None
            if rec is not None or item is not None:
                found.append((binding, party, content, rec, item))
        if not found and party_id is None:
            item = self.store.item(value)
            if item is not None:
                found.append((value, item[0].party_id, None, self.chain_record(value, item[0].party_id), item))
        if not found:
            what = "registered by any party" if party_id is None else f"registered by party {party_id}"
            raise NotFound(f"0x{value.hex()} is not {what}", field="content_hash")
        # earliest on chain first (block numbers are known without the events); ties are ordered below
        found.sort(key=lambda f: (_block_of(f[3], f[4]), f[1]))
        head = self.conn.head.latest()
        entries = [self._entry(*f, head=head) for f in found[:MAX_LISTED]]
        entries.sort(key=lambda e: (e[0]["blockNumber"] if e[0]["blockNumber"] is not None else 2**63, e[2]))
        body = dict(entries[0][0])
        body["registrations"] = [_summary(e[0]) for e in entries]
        body["registrationCount"] = len(found)
        settled = len(found) <= MAX_LISTED and all(e[1] for e in entries)
        return body, settled

    def _entry(
        self,
        binding: bytes,
        party_id: int,
        content: bytes | None,
        record: dict[str, Any] | None,
        journal: tuple[Submission, int] | None,
        *,
        head: Head,
    ) -> tuple[dict[str, Any], bool, int]:
        """One registration: its answer, whether it can no longer change, and its position in its block."""
        batched = journal is not None and journal[0].kind == "batch"
        content_hex = "0x" + content.hex() if content is not None else None
        if record is not None:
            event = self.registration_event(binding, party_id, record["blockNumber"])
            head = self._head_past(record["blockNumber"], head)
            # as the pipeline decides (ledger.pipeline): deep enough, in a whole state dump on disk (the embedded
            # node), and its block old enough
            final = (
                head.number - record["blockNumber"] >= self.settings.confirmations
                and self.conn.durable(record["blockNumber"])
                and self._settled(record["timestamp"])
            )
            direct = {
                "method": "direct",
                "status": "final" if final else "registered",
                "contentHash": content_hex,
                "binding": "0x" + binding.hex(),
                "algorithm": HashAlgorithm(record["algorithm"]).word,
                "partyId": record["partyId"],
                "registrant": record["registrant"],
                "blockNumber": record["blockNumber"],
                "blockTimestamp": record["timestamp"],
                "transactionHash": event["transactionHash"] if event else None,
                "metadataCommitment": event["metadataCommitment"] if event else None,
                "supersedes": event["supersedes"] if event else None,
                "receiptId": journal[0].receipt_id if journal and not batched else None,
                "versions": self._history(party_id, event),
            }
            if (
                not batched
                or journal is None
                or journal[0].block_timestamp is None
                or journal[0].block_timestamp >= record["timestamp"]
            ):
                return direct, final and event is not None, event["logIndex"] if event else 2**31
        assert journal is not None
        sub, index = journal
        body: dict[str, Any] = {
            "method": sub.kind if sub.kind == "batch" else "direct",
            "status": PUBLIC_STATUS.get(sub.status, sub.status),
            "contentHash": content_hex,
            "binding": "0x" + binding.hex(),
            "algorithm": HashAlgorithm(sub.algorithm).word,
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
        # A final batch keeps its answer unless a direct record with an earlier or equal time appears: none was
        # on chain just now, and every block from the head on is later than the batch's.
        settled = (
            sub.kind == "batch"
            and sub.status == FINAL
            and sub.block_timestamp is not None
            and head.timestamp > sub.block_timestamp
            and (record is None or record["timestamp"] > sub.block_timestamp)
        )
        return body, settled, 2**31

    def _head_past(self, block_number: int, head: Head) -> Head:
        """A head that shows whether ``block_number`` is final: the one at hand if it already does (heads only
        grow), otherwise the node's current head."""
        if head.number - block_number >= self.settings.confirmations:
            return head
        return self.conn.head.refresh()

    def _settled(self, block_timestamp: int) -> bool:
        """Whether a final record's block is also older than ``final_after`` seconds, as the pipeline requires
        before it calls anything final (a node restarted within its state interval loses its newest blocks)."""
        return time.time() - block_timestamp >= self.settings.final_after

    def registration_event(self, binding: bytes, party_id: int, block_number: int) -> dict[str, Any] | None:
        topic, names, types = self._registered
        query = {
            "address": self.contract.address,
            "fromBlock": hex(block_number),
            "toBlock": hex(block_number),
            "topics": [topic, "0x" + binding.hex(), "0x" + party_id.to_bytes(32, "big").hex()],
        }
        logs = rpc(self.conn.w3, "eth_getLogs", [query])
        if not logs:
            return None
        log = logs[0]
        data = log["data"]
        raw = bytes(data) if isinstance(data, (bytes, bytearray)) else bytes.fromhex(str(data).removeprefix("0x"))
        args = dict(zip(names, abi_decode(types, raw), strict=True))
        return {
            "transactionHash": as_hex(log["transactionHash"]),
            "blockHash": as_hex(log["blockHash"]),
            "logIndex": as_int(log["logIndex"]),
            "metadataCommitment": "0x" + bytes(args["metadataCommitment"]).hex(),
            "supersedes": "0x" + bytes(args["supersedes"]).hex(),
        }

    @property
    def registered_topic(self) -> str:
        """topic0 of ``EvidenceRegistered``."""
        return self._registered[0]

    @cached_property
    def _registered(self) -> tuple[str, list[str], list[str]]:
        """topic0 of ``EvidenceRegistered``, and the names and types of its fields that are not indexed."""
        event = next(e for e in self.contract.abi if e.get("type") == "event" and e.get("name") == "EvidenceRegistered")
        data = [i for i in event["inputs"] if not i.get("indexed")]
        return "0x" + event_abi_to_log_topic(event).hex(), [i["name"] for i in data], [i["type"] for i in data]

    def _history(self, party_id: int, event: dict[str, Any] | None, limit: int = 50) -> list[dict[str, Any]]:
        """Earlier versions, newest first, by following ``supersedes`` back through the party's records."""
        versions: list[dict[str, Any]] = []
        current = event
        while current and current["supersedes"] != "0x" + ZERO32.hex() and len(versions) < limit:
            earlier = bytes.fromhex(current["supersedes"][2:])
            rec = self.chain_record(earlier, party_id)
            if rec is None:
                break
            versions.append(
                {"binding": "0x" + earlier.hex(), "blockNumber": rec["blockNumber"], "blockTimestamp": rec["timestamp"]}
            )
            current = self.registration_event(earlier, party_id, rec["blockNumber"])
        return versions


def record_key(binding: bytes, party_id: int) -> bytes:
    """The contract's storage key of a record: keccak256(abi.encode(binding, partyId))."""
    return keccak(bytes(binding) + int(party_id).to_bytes(32, "big"))


def _record(rec: Any) -> dict[str, Any] | None:
    if int(rec[3]) == 0:
        return None
    return {
        "registrant": to_checksum_address(rec[0]),
        "partyId": int(rec[1]),
        "algorithm": int(rec[2]),
        "timestamp": int(rec[3]),
        "blockNumber": int(rec[4]),
    }


def _block_of(record: dict[str, Any] | None, journal: tuple[Submission, int] | None) -> int:
    if record is not None:
        return int(record["blockNumber"])
    if journal is not None and journal[0].block_number is not None:
        return int(journal[0].block_number)
    return 2**63


def _summary(entry: dict[str, Any]) -> dict[str, Any]:
    return {
        k: entry.get(k)
        for k in ("partyId", "binding", "algorithm", "method", "status", "registrant", "blockNumber", "blockTimestamp")
    }


class FinalLookups:
    """Answers of lookups that can no longer change, newest use last; bounded, thread-safe; each kept for
    :data:`FINAL_LOOKUP_TTL` seconds.

    Kept as JSON text and parsed per use, so no caller can change what the next one is given.
    """

    def __init__(self, limit: int, ttl: float = FINAL_LOOKUP_TTL) -> None:
        self.limit = limit
        self.ttl = ttl
        self._lock = threading.Lock()
        self._items: OrderedDict[bytes, tuple[float, str]] = OrderedDict()

    def get(self, key: bytes) -> dict[str, Any] | None:
        with self._lock:
            kept = self._items.get(key)
            if kept is None:
                return None
            if time.monotonic() - kept[0] > self.ttl:
                del self._items[key]
                return None
            self._items.move_to_end(key)
        return json.loads(kept[1])  # type: ignore[no-any-return]

    def put(self, key: bytes, value: dict[str, Any]) -> None:
        text = json.dumps(value)
        with self._lock:
            self._items[key] = (time.monotonic(), text)
            self._items.move_to_end(key)
            while len(self._items) > self.limit:
                self._items.popitem(last=False)


class CertificateBuilder:
    """Assembles certificates from the chain (direct records) and the journal (batched records)."""

    def __init__(
        self,
        service: EvidenceService,
        endorsements: Callable[[bytes, int], list[dict[str, Any]]] | None = None,
        checkpoints: Any = None,
    ) -> None:
        self.service = service
        #: The creators' endorsements of a direct record (``CreatorService.endorsements``), added to its certificate.
        self.endorsements = endorsements
        #: Adds the ``checkpoint`` section (``ledger.services.checkpoints.Checkpointer.attach``) when configured.
        self.checkpoints = checkpoints
        self._trees: dict[tuple[str, int], merkle.MerkleTree] = {}

    def _tree(self, kind: str, key: int, leaves: Any) -> merkle.MerkleTree:
        tree = self._trees.get((kind, key))
        if tree is None:
            if len(self._trees) > 32:
                self._trees.clear()
            tree = merkle.MerkleTree(leaves())
            self._trees[(kind, key)] = tree
        return tree

    def build(self, value: bytes, party_id: int | None = None) -> CertificateDocument:
        """:meth:`build_record`, with the ``checkpoint`` section when a checkpoint on a public chain covers it."""
        doc = self.build_record(value, party_id)
        return self.checkpoints.attach(doc) if self.checkpoints is not None else doc

    def build_record(self, value: bytes, party_id: int | None = None) -> CertificateDocument:
        """The certificate of the first registration of content hash ``value``, or with ``party_id`` of that
        party's registration of ``value`` (its content hash or its binding; see :meth:`EvidenceService.lookup`).

        A certificate looked up by content hash lists the public registrations of that content known at issue
        time; one looked up by binding does not know the content hash (the registrant adds it, and the salt of a
        private registration, to its copy)."""
        svc = self.service
        manifest = svc.conn.manifest
        info = svc.lookup(value, party_id)
        if info["status"] not in ("registered", "final"):
            raise Conflict(
                f"0x{value.hex()} is {info['status']}: a certificate exists once it is on chain",
                field="content_hash",
                details={"status": info["status"]},
            )
        binding = bytes.fromhex(info["binding"][2:])
        content = bytes.fromhex(info["contentHash"][2:]) if info["contentHash"] else None
        party = svc.parties.profile(info["partyId"])
        w3 = svc.conn.w3
        registrations = None
        if content is not None:
            every = info if party_id is None else svc.lookup(content)  # every party's, not only this one's
            listed = [r for r in every["registrations"] if r["status"] in ("registered", "final")]
            unlisted = every["registrationCount"] - len(every["registrations"])  # beyond MAX_LISTED: on record too
            registrations = {
                "asOfBlock": max([svc.conn.head.latest().number, *(int(r["blockNumber"]) for r in listed)]),
                "count": len(listed) + unlisted,
                "listed": [
                    {k: r[k] for k in ("partyId", "binding", "method", "blockNumber", "blockTimestamp")} for r in listed
                ],
            }
        common = {
            "content_hash": content,
            "binding": binding,
            "salt": None,
            "metadata": None,
            "account": info["registrant"],
            "party_id": info["partyId"],
            "party": party,
            "chain_id": manifest.chain_id,
            "contract": manifest.address("EvidenceRegistry"),
            "algorithm": int(HashAlgorithm[info["algorithm"].upper()]),
            "registrations": registrations,
        }
        if info["method"] == "direct":
            event = svc.registration_event(binding, info["partyId"], info["blockNumber"])
            if event is None:
                raise NotFound("the registration event is not on this chain", field="content_hash")
            doc = certificate.build(
                **common,
                metadata_commitment=None
                if event["metadataCommitment"] == "0x" + ZERO32.hex()
                else bytes.fromhex(event["metadataCommitment"][2:]),
                supersedes=None
                if event["supersedes"] == "0x" + ZERO32.hex()
                else bytes.fromhex(event["supersedes"][2:]),
                tx_hash=event["transactionHash"],
                block_number=info["blockNumber"],
                block_hash=event["blockHash"],
                block_timestamp=info["blockTimestamp"],
            )
            endorsed = self.endorsements(binding, info["partyId"]) if self.endorsements is not None else []
            if endorsed:
                doc["endorsements"] = endorsed
            return doc
        journal = svc.store.item(binding)
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
