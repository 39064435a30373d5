"""Verifies an evidence certificate against any JSON-RPC endpoint of its chain.

This is the algorithm of ``docs/certificate.md``, step for step. It uses only standard JSON-RPC
methods (``eth_chainId``, ``eth_getBlockByNumber``, ``eth_getTransactionReceipt``, ``eth_getCode``,
``eth_call``) and hashing; nothing from the service that issued the certificate. Each check reports
passed, failed or skipped with a reason; the verdict passes when no check failed.
"""

# ruff: noqa: BLE001 - a verifier reads an untrusted document and asks an untrusted endpoint: whatever either does,
# the check it was making fails in the report (with what went wrong); it never raises to its caller

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, BinaryIO

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_account import Account
from eth_utils import keccak, to_checksum_address

from ledger.certificates import evidence as certmod
from ledger.certificates.evidence import PRIVATE, privacy_of
from ledger.domain import eip712, merkle
from ledger.domain.canonical_json import canonical_json
from ledger.domain.codes import PartyKind
from ledger.domain.hashing import (
    HashAlgorithm,
    hash_stream,
    private_binding,
    public_binding,
)
from ledger.domain.parties import person_commitment
from ledger.errors import InvalidInput

PASSED, FAILED, SKIPPED = "passed", "failed", "skipped"

#: Where the salt of a private registration is: the sidecar file its registrant's client wrote beside the file.
SALT_HINT = (
    "give the salt from the sidecar written when it was registered: "
    "`ipledger verify CERT --file FILE --sidecar FILE.ipledger.json`"
)
PRIVATE_WITHOUT_SALT = f"this certificate is of a private registration and carries no salt; {SALT_HINT}"

EVIDENCE_REGISTERED_TOPIC = keccak(text="EvidenceRegistered(bytes32,uint256,address,uint8,bytes32,bytes32)")
BATCH_ANCHORED_TOPIC = keccak(text="BatchAnchored(bytes32,address,uint32)")
SEL_RECORD = keccak(text="record(bytes32,uint256)")[:4]
SEL_BATCH = keccak(text="batch(bytes32)")[:4]
SEL_PARTY_OF = keccak(text="partyOf(address)")[:4]
SEL_PARTY = keccak(text="party(uint256)")[:4]
SEL_VERIFY_SUBMISSION = keccak(text="verifyBatchSubmission(bytes32,uint32,uint8,address,uint64,bytes)")[:4]
#: IPartyRegistry.Party: kind, jurisdiction, scheme, suspended, accountCount, threshold, admittedAt, accountNonce,
#: suspension, suspendedAt, identifier, nameZh, nameEn (docs/certificate.md "party(uint256) result layout").
PARTY_TUPLE = "(uint8,uint8,uint8,bool,uint8,uint8,uint32,uint64,uint8,uint32,string,string,string)"
#: Index of the identifier in that tuple; nameZh and nameEn follow it.
PARTY_IDENTIFIER = 10


@dataclass
class Check:
    name: str
    status: str
    detail: str

    def to_json(self) -> dict[str, str]:
        return {"name": self.name, "status": self.status, "detail": self.detail}


@dataclass
class LegalStatus:
    """Where a record stands at a moment, apart from whether it is authentic.

    For an evidence record (:func:`evidence_status`), ``state`` is ``current``, ``superseded`` (a later record of
    the party names it in ``supersedes``: ``superseded_by``), ``not_yet_registered`` (the moment is before its
    block) or ``unknown``. For an agreement (``ledger.certificates.agreement.legal_status``), ``state`` is ``in_force``, ``not_yet_in_force`` (its term starts later), ``expired`` (its term ended), a word
    of :class:`ledger.domain.codes.AgreementStatus` for a closed agreement (``terminated``, ``released``,
    ``voided``, ``withdrawn``, ``ended_with_parent``), ``not_yet_executed`` (the moment is before it took effect)
    or ``unknown`` (the node could not say). ``at`` is the moment (unix seconds), ``block`` the block whose state
    was read (the latest at or before ``at``), ``since`` when it took that state, ``until`` when a term in force
    ends, ``dispute_id`` the dispute whose award voided it.
    """

    state: str
    in_force: bool
    at: int
    detail: str
    block: int | None = None
    since: int | None = None
    dispute_id: str | None = None
    until: int | None = None
    superseded_by: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "inForce": self.in_force,
            "at": self.at,
            "block": self.block,
            "since": self.since,
            "until": self.until,
            "disputeId": self.dispute_id,
            "supersededBy": self.superseded_by,
            "detail": self.detail,
        }


@dataclass
class Report:
    checks: list[Check] = field(default_factory=list)
    #: The legal status (agreement certificates, once every authenticity check passed); None otherwise.
    status: LegalStatus | None = None
    #: How far an evidence certificate reaches (``ledger.certificates.checkpoint.Assurance``); None otherwise.
    assurance: Any = None

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(c.status != FAILED for c in self.checks)

    def add(self, name: str, ok: bool, passed: str, failed: str) -> bool:
        self.checks.append(Check(name, PASSED if ok else FAILED, passed if ok else failed))
        return ok

    def skip(self, name: str, why: str) -> None:
        self.checks.append(Check(name, SKIPPED, why))

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "verdict": PASSED if self.passed else FAILED,
            "checks": [c.to_json() for c in self.checks],
        }
        if self.status is not None:
            out["status"] = self.status.to_json()
        if self.assurance is not None:
            out["assurance"] = self.assurance.to_json()
        return out


class Rpc:
    """The few JSON-RPC calls verification needs, over any web3 provider."""

    def __init__(self, request: Callable[[str, list[Any]], Any]) -> None:
        self._request = request

    @classmethod
    def from_web3(cls, w3: Any) -> Rpc:
        def request(method: str, params: list[Any]) -> Any:
            resp = w3.provider.make_request(method, params)
            if "error" in resp:
                raise RpcError(str(resp["error"].get("message", resp["error"])))
            return resp.get("result")

        return cls(request)

    def chain_id(self) -> int:
        return rpc_int(self._request("eth_chainId", []))

    def block(self, number: int) -> dict[str, Any] | None:
        return _plain(self._request("eth_getBlockByNumber", [hex(number), False]))

    def receipt(self, tx_hash: str) -> dict[str, Any] | None:
        return _plain(self._request("eth_getTransactionReceipt", [tx_hash]))

    def block_number(self) -> int:
        return rpc_int(self._request("eth_blockNumber", []))

    def logs(self, address: str, topics: list[str | None], from_block: int, to_block: int) -> list[dict[str, Any]]:
        params = {"address": address, "topics": topics, "fromBlock": hex(from_block), "toBlock": hex(to_block)}
        return list(_plain(self._request("eth_getLogs", [params])) or [])

    def code(self, address: str) -> bytes:
        return rpc_bytes(self._request("eth_getCode", [address, "latest"]))

    def call(self, to: str, data: bytes, block: int | str = "latest") -> bytes:
        tag = hex(block) if isinstance(block, int) else block
        return rpc_bytes(self._request("eth_call", [{"to": to, "data": "0x" + data.hex()}, tag]))


class RpcError(Exception):
    pass


def _plain(value: Any) -> Any:
    """Normalises web3 AttributeDicts and HexBytes into JSON-RPC's plain form (hex strings)."""
    if value is None:
        return None
    if hasattr(value, "items"):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (bytes, bytearray)):
        return "0x" + bytes(value).hex()
    if isinstance(value, int) and not isinstance(value, bool):
        return hex(value)
    return value


def rpc_bytes(value: Any) -> bytes:
    """A JSON-RPC data value (``"0x..."`` hex, or bytes as web3 gives them) as bytes."""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    return bytes.fromhex(str(value)[2:])


def rpc_int(value: Any) -> int:
    """A JSON-RPC quantity (``"0x..."`` hex, or an int as web3 gives it) as an int."""
    return int(value, 16) if isinstance(value, str) else int(value)


def verify(
    doc: Any,
    rpc: Rpc,
    *,
    file: BinaryIO | None = None,
    file_limit: int | None = None,
    file_hashes: dict[HashAlgorithm, bytes] | None = None,
    file_size: int | None = None,
    at: int | None = None,
    anchors: Mapping[int, Rpc] | None = None,
) -> Report:
    """Runs every check of docs/certificate.md on ``doc`` (a parsed JSON object), and when every check passes,
    gives the record's status at ``at`` (now when None): current or superseded (:func:`evidence_status`).
    A ``checkpoint`` section is checked against the public chains' endpoints in ``anchors`` (by chain id) and the
    assurance reached reported (docs/certificate.md §11).

    The file is given as a stream (hashed here) or as ``file_hashes`` already computed while streaming.
    """
    report = Report()
    try:
        cert = certmod.parse(doc)
    except InvalidInput as exc:
        report.add("format", False, "", exc.message)
        return report
    report.add("format", True, f"{certmod.FORMAT} version {certmod.VERSION}", "")
    ev, reg, ch, an = cert.evidence, cert.registrant, cert.chain, cert.anchor
    content = cert.b32("evidence", "contentHash") if ev.get("contentHash") is not None else None
    registered = cert.b32("evidence", "binding")
    account = to_checksum_address(reg["account"])
    contract = to_checksum_address(ch["contract"])

    # 1. the file
    if file is None and file_hashes is None:
        report.skip("file", "no file given: the content hash is taken from the certificate")
    else:
        if file is not None:
            digest, size = hash_stream(file, cert.algorithm, limit=file_limit)
        else:
            digest, size = (file_hashes or {})[cert.algorithm], int(file_size or 0)
        if content is None:  # a certificate issued for a binding: the file gives the content hash
            content = digest
            report.add("file", True, f"{ev['algorithm']} of the file ({size} bytes) is taken as the content hash", "")
        else:
            report.add(
                "file",
                digest == content,
                f"{ev['algorithm']} of the file ({size} bytes) equals contentHash",
                f"{ev['algorithm']} of the file is 0x{digest.hex()}, not contentHash",
            )

    # 2. the binding: the content hash bound to the registrant's party (and the salt)
    if content is None:
        report.add(
            "binding",
            False,
            "",
            "the certificate carries no contentHash and no file was given: the binding opens for nothing",
        )
    elif ev.get("salt") is None and privacy_of(ev) == PRIVATE:
        report.add("binding", False, "", PRIVATE_WITHOUT_SALT)
    elif ev.get("salt") is None:
        expected = public_binding(content, reg["partyId"], cert.algorithm)
        report.add(
            "binding",
            registered == expected,
            f"public registration: the binding of contentHash to party {reg['partyId']} equals binding",
            f"the binding of contentHash to party {reg['partyId']} does not equal binding (no salt given)"
            + ("" if privacy_of(ev) is not None else f": another file, or a private registration ({SALT_HINT})"),
        )
    else:
        expected = private_binding(content, reg["partyId"], cert.b32("evidence", "salt"), cert.algorithm)
        report.add(
            "binding",
            registered == expected,
            f"private registration: the salted binding of contentHash to party {reg['partyId']} equals binding",
            f"the salted binding of contentHash to party {reg['partyId']} does not equal binding",
        )
    if "metadata" in ev:
        commitment = ev.get("metadataCommitment")
        try:
            computed = "0x" + hashlib.sha256(canonical_json(ev["metadata"])).hexdigest()
        except InvalidInput as exc:
            report.add("metadata", False, "", f"metadata is not canonicalisable: {exc.message}")
        else:
            report.add(
                "metadata",
                computed == commitment,
                "SHA-256 of the canonical metadata equals metadataCommitment",
                "SHA-256 of the canonical metadata differs from metadataCommitment",
            )

    # 3. the chain
    try:
        chain_id = rpc.chain_id()
    except Exception as exc:
        report.add("chain", False, "", f"the JSON-RPC endpoint does not answer ({type(exc).__name__})")
        return report
    if not report.add(
        "chain",
        chain_id == ch["chainId"],
        f"the endpoint serves chain {chain_id}",
        f"the endpoint serves chain {chain_id}, the certificate names chain {ch['chainId']}",
    ):
        return report

    # 4. the block
    block = rpc.block(an["blockNumber"])
    if block is None:
        report.add("block", False, "", f"block {an['blockNumber']} does not exist on this chain")
    else:
        same_hash = block["hash"].lower() == an["blockHash"]
        same_time = rpc_int(block["timestamp"]) == an["blockTimestamp"]
        report.add(
            "block",
            same_hash and same_time,
            f"block {an['blockNumber']} has the certificate's hash and timestamp",
            f"block {an['blockNumber']} has hash {block['hash']} and timestamp {rpc_int(block['timestamp'])}",
        )

    # 5. the transaction and its event
    receipt = rpc.receipt(an["transactionHash"])
    if receipt is None:
        report.add("transaction", False, "", "the transaction is not on this chain")
    else:
        report.add("transaction", *_check_transaction(receipt, cert, contract, registered, account))

    # 6. the record (direct) or the proofs, signature and anchor (batch)
    if an["method"] == "direct":
        _check_record(report, rpc, cert, contract, registered, account)
    else:
        _check_batch(report, rpc, cert, contract, registered, account)

    # 7. the party
    _check_party(report, rpc, cert, contract, account)
    if "endorsements" in cert.raw:  # 7a. the creators' own signatures on the record (§5.9)
        from ledger.certificates import endorsements

        endorsements.check(report, rpc, cert.raw, contract)

    # 8. the other public registrations of the same content listed at issue time
    if cert.raw.get("registrations") is not None and content is not None:
        _check_registrations(report, rpc, cert, contract, content)
    from ledger.certificates import checkpoint

    if cert.raw.get("checkpoint") is not None:
        report.assurance = checkpoint.check(report, cert.raw, rpc, anchors or {})
    else:
        report.assurance = checkpoint.Assurance()
    if not report.passed:
        report.assurance = checkpoint.Assurance("none", [], "none: the certificate did not verify")
    if report.passed:  # where the record stands now (or at ``at``): its own version, or superseded by a later one
        report.status = evidence_status(
            rpc, contract, registered, reg["partyId"], an["blockNumber"], an["blockTimestamp"], at=at
        )
    return report


#: Most blocks one ``eth_getLogs`` request of :func:`evidence_status` spans (nodes bound a query's range), and
#: most requests it makes: a record older than ``LOG_SPAN * LOG_REQUESTS`` blocks gets the state ``unknown``.
LOG_SPAN = 50_000
LOG_REQUESTS = 200


def utc_text(ts: int) -> str:
    """``ts`` (unix seconds) as "YYYY-MM-DD HH:MM:SS UTC"."""
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def evidence_status(
    rpc: Rpc,
    contract: str,
    binding: bytes,
    party_id: int,
    anchor_block: int,
    anchor_time: int,
    *,
    at: int | None = None,
) -> LegalStatus:
    """Whether an authentic evidence record is the party's current version at ``at`` (unix seconds; now when
    None) or was superseded by a later record of the same party naming it in ``supersedes``
    (docs/certificate.md §6.1). Reads the party's ``EvidenceRegistered`` events after the anchor block, at most
    :data:`LOG_REQUESTS` requests of :data:`LOG_SPAN` blocks; never raises (``unknown`` says what went wrong).

    A superseded record still proves that its content existed at its block's time: superseding says only that
    the party registered a later version (docs/certificate.md)."""
    moment = int(time.time()) if at is None else int(at)
    if at is None:  # now: this machine's clock, or the latest block's time if the chain runs ahead of it
        try:
            moment = max(moment, rpc_int((rpc.block(rpc.block_number()) or {})["timestamp"]))
        except Exception:
            pass
    if at is not None and moment < anchor_time:
        return LegalStatus(
            "not_yet_registered",
            False,
            moment,
            f"not yet registered at {utc_text(moment)}: it was registered at {utc_text(anchor_time)}",
            since=anchor_time,
        )
    party_topic = "0x" + int(party_id).to_bytes(32, "big").hex()
    try:
        latest = rpc.block_number()
        if latest - anchor_block > LOG_SPAN * LOG_REQUESTS:
            raise ValueError("too many blocks to read")
        start = anchor_block
        while start <= latest:
            end = min(latest, start + LOG_SPAN - 1)
            logs = rpc.logs(contract, ["0x" + EVIDENCE_REGISTERED_TOPIC.hex(), None, party_topic], start, end)
            for log in logs:
                (_, _, supersedes) = abi_decode(["uint8", "bytes32", "bytes32"], rpc_bytes(log["data"]))
                if supersedes != binding:
                    continue
                block = rpc_int(log["blockNumber"])
                when = rpc_int((rpc.block(block) or {})["timestamp"])
                if when > moment:
                    break
                later = "0x" + rpc_bytes(log["topics"][1]).hex()
                return LegalStatus(
                    "superseded",
                    False,
                    moment,
                    f"superseded on {utc_text(when)} by the party's later record {later} (block {block}); "
                    "it still proves the content existed when it was registered",
                    block,
                    when,
                    superseded_by=later,
                )
            start = end + 1
    except Exception as exc:
        return LegalStatus(
            "unknown",
            False,
            moment,
            f"the node could not list the party's later records ({type(exc).__name__}); "
            "whether a later version supersedes this one is not known",
        )
    return LegalStatus(
        "current", True, moment, "current: no later record of the party supersedes it", since=anchor_time
    )


def _check_transaction(
    receipt: dict[str, Any], cert: certmod.Certificate, contract: str, registered: bytes, account: str
) -> tuple[bool, str, str]:
    an, ev, reg = cert.anchor, cert.evidence, cert.registrant
    if rpc_int(receipt.get("status", "0x0")) != 1:
        return False, "", "the transaction failed"
    if receipt["blockHash"].lower() != an["blockHash"] or rpc_int(receipt["blockNumber"]) != an["blockNumber"]:
        return False, "", "the transaction is in another block than the certificate says"
    for log in receipt.get("logs", []):
        if log["address"].lower() != contract.lower() or not log["topics"]:
            continue
        topics = [rpc_bytes(t) for t in log["topics"]]
        if (
            an["method"] == "direct"
            and topics[0] == EVIDENCE_REGISTERED_TOPIC
            and topics[1] == registered
            and int.from_bytes(topics[2], "big") == reg["partyId"]
        ):
            algorithm, meta, supersedes = abi_decode(["uint8", "bytes32", "bytes32"], rpc_bytes(log["data"]))
            expected_meta = bytes.fromhex((ev.get("metadataCommitment") or "0x" + "00" * 32)[2:])
            expected_sup = bytes.fromhex((ev.get("supersedes") or "0x" + "00" * 32)[2:])
            ok = (
                int.from_bytes(topics[2], "big") == reg["partyId"]
                and to_checksum_address(topics[3][12:]) == account
                and algorithm == int(cert.algorithm)
                and meta == expected_meta
                and supersedes == expected_sup
            )
            return (
                ok,
                "EvidenceRegistered by this contract names the binding, party, account, algorithm and metadata",
                "EvidenceRegistered in the transaction differs from the certificate (party, account, algorithm, metadata or supersedes)",
            )
        if an["method"] == "batch" and topics[0] == BATCH_ANCHORED_TOPIC:
            if topics[1] == bytes.fromhex(an["batch"]["root"][2:]):
                return True, "BatchAnchored by this contract names the batch root", ""
    return False, "", "the transaction has no matching event from the certificate's contract"


def _check_record(
    report: Report, rpc: Rpc, cert: certmod.Certificate, contract: str, registered: bytes, account: str
) -> None:
    an, reg = cert.anchor, cert.registrant
    try:
        raw = rpc.call(contract, SEL_RECORD + registered + int(reg["partyId"]).to_bytes(32, "big"))
        registrant, party_id, algorithm, timestamp, block_number = abi_decode(
            ["address", "uint24", "uint8", "uint32", "uint32"], raw
        )
    except Exception:
        report.add(
            "record", False, "", f"{contract} does not answer record(bytes32,uint256): it is not the evidence registry"
        )
        return
    ok = (
        to_checksum_address(registrant) == account
        and party_id == reg["partyId"]
        and algorithm == int(cert.algorithm)
        and timestamp == an["blockTimestamp"]
        and block_number == an["blockNumber"]
    )
    report.add(
        "record",
        ok,
        "the party's record of the binding names this account, algorithm, block and time",
        f"the contract's record differs: account {registrant}, party {party_id}, time {timestamp}, block {block_number}",
    )


def _check_batch(
    report: Report, rpc: Rpc, cert: certmod.Certificate, contract: str, registered: bytes, account: str
) -> None:
    an, ch = cert.anchor, cert.chain
    sub = an["submission"]
    sub_root = bytes.fromhex(sub["root"][2:])
    sub_proof = cert.submission_proof
    leaf = merkle.leaf_hash(registered)
    report.add(
        "submission-proof",
        sub_proof.size == sub["count"] and sub_proof.verify(leaf, sub_root),
        f"leaf {sub_proof.index} of {sub_proof.size} proves into the submission root",
        "the item's audit path does not lead to the submission root (or its size is not the count)",
    )

    domain = eip712.Domain(ch["chainId"], contract)
    message = eip712.batch_submission_message(
        domain,
        root=sub_root,
        count=sub["count"],
        algorithm=int(cert.algorithm),
        registrant=account,
        deadline=sub["deadline"],
    )
    digest = eip712.digest(message)
    signature = bytes.fromhex(sub["signature"][2:])
    if rpc.code(account):
        data = SEL_VERIFY_SUBMISSION + abi_encode(
            ["bytes32", "uint32", "uint8", "address", "uint64", "bytes"],
            [sub_root, sub["count"], int(cert.algorithm), account, sub["deadline"], signature],
        )
        ok, note = _wallet_accepts(rpc, contract, data, an["blockNumber"])
        report.add(
            "submission-signature",
            ok,
            f"the contract wallet (ERC-1271) accepts the party's signature{note}",
            f"the contract wallet does not accept the signature{note}",
        )
    else:
        try:
            signer = Account._recover_hash(digest, signature=signature)  # noqa: SLF001 - documented raw-hash recovery
        except Exception:
            signer = None
        report.add(
            "submission-signature",
            signer == account,
            "the registrant account signed the submission (EIP-712)",
            f"the submission signature recovers to {signer}, not the registrant",
        )
    report.add(
        "submission-deadline",
        an["blockTimestamp"] <= sub["deadline"],
        "the batch was anchored before the submission's signed deadline",
        f"the batch was anchored at {an['blockTimestamp']}, after the signed deadline {sub['deadline']}",
    )

    bat_root = bytes.fromhex(an["batch"]["root"][2:])
    bat_proof = cert.batch_proof
    report.add(
        "batch-proof",
        bat_proof.verify(merkle.leaf_hash(digest), bat_root),
        f"the submission is leaf {bat_proof.index} of {bat_proof.size} under the batch root",
        "the submission's audit path does not lead to the batch root",
    )

    try:
        raw = rpc.call(contract, SEL_BATCH + bat_root)
        _anchorer, size, timestamp, block_number = abi_decode(["address", "uint32", "uint32", "uint32"], raw)
    except Exception:
        report.add("anchor", False, "", f"{contract} does not answer batch(bytes32): it is not the evidence registry")
        return
    report.add(
        "anchor",
        timestamp == an["blockTimestamp"] and block_number == an["blockNumber"] and size == bat_proof.size,
        f"the contract holds the batch root since block {block_number}",
        "the contract does not hold this batch root at the certificate's block, time and size",
    )


def _is_revert(exc: Exception) -> bool:
    """Whether a failed ``eth_call`` is the contract refusing (a revert), not the node unable to run it."""
    return "revert" in str(exc).lower()


def _wallet_accepts(rpc: Rpc, contract: str, data: bytes, block: int) -> tuple[bool, str]:
    """Asks the registry's ``verifyBatchSubmission`` at the anchoring block whether the wallet accepts the
    signature. A node that keeps no state of that block (not an archive node; the embedded node after a
    restart) answers with an error that is not a revert: the check is then made at the latest block and says so,
    as check 13 does."""
    try:
        rpc.call(contract, data, block)
        return True, ""
    except Exception as exc:
        if _is_revert(exc):
            return False, ""
    note = " (checked at the latest block: the node keeps no state of the anchoring block)"
    try:
        rpc.call(contract, data)
        return True, note
    except Exception:
        return False, note


def _check_party(report: Report, rpc: Rpc, cert: certmod.Certificate, contract: str, account: str) -> None:
    reg, an = cert.registrant, cert.anchor
    note = ""
    try:
        raw = rpc.call(contract, SEL_PARTY_OF + abi_encode(["address"], [account]), an["blockNumber"])
    except Exception:
        try:
            raw = rpc.call(contract, SEL_PARTY_OF + abi_encode(["address"], [account]))
        except Exception:
            raw = b""
        note = " (checked at the latest block: the node keeps no state of the registration block)"
    try:
        party_id, active = abi_decode(["uint256", "bool"], raw)
    except Exception:
        report.add("party", False, "", f"{contract} does not answer partyOf(address): it is not the evidence registry")
        return
    try:
        (profile,) = abi_decode(
            [PARTY_TUPLE], rpc.call(contract, SEL_PARTY + abi_encode(["uint256"], [reg["partyId"]]))
        )
    except Exception:
        report.add("party", False, "", f"party {reg['partyId']} does not exist")
        return
    scheme = certmod.SCHEMES.get(profile[2], "?")
    ident, name_zh, name_en = profile[PARTY_IDENTIFIER : PARTY_IDENTIFIER + 3]
    same_profile = (scheme, ident, name_zh, name_en) == (
        reg["identifierScheme"],
        reg["identifier"],
        reg["nameZh"],
        reg["nameEn"],
    )
    ok = party_id == reg["partyId"] and active and same_profile
    # a natural person has no name on chain: they are "natural person, party N" (docs/privacy.md)
    who = certmod.natural_person(party_id)["en"] if scheme == "PERSON_COMMITMENT" else name_en or name_zh
    report.add(
        "party",
        ok,
        f"the account belonged to active party {party_id} ({who}) at the registration block{note}",
        f"at the registration block the account belonged to party {party_id} (active: {active}); "
        f"the certificate's party profile {'matches' if same_profile else 'does not match'} the registry{note}",
    )


def _check_registrations(report: Report, rpc: Rpc, cert: certmod.Certificate, contract: str, content: bytes) -> None:
    """The public registrations of the same content the certificate lists, as of block ``asOfBlock``:

    - each listed binding is the public binding of the content hash to the listed party;
    - each listed direct registration is recorded by the contract at the listed block and time, and the
      certificate's own registration, if listed, at the certificate's block;
    - the list is earliest first; ``count`` is its length unless the list is full (``MAX_LISTED_REGISTRATIONS``);
      ``asOfBlock`` is a block of this chain, at or after every listed block and the certificate's own;
    - no direct public registration of the content at or before ``asOfBlock`` is missing from a list that is not
      full (every admitted party's public binding is read, in ``records(bytes32[])`` calls).

    Batched ones are listed from the issuer's journal: their own certificates prove them."""
    regs = cert.raw["registrations"]
    listed = regs["listed"]
    reg, an = cert.registrant, cert.anchor
    as_of = int(regs["asOfBlock"])
    bad: list[str] = []
    batched = 0
    for item in listed:
        party = int(item["partyId"])
        binding = bytes.fromhex(item["binding"][2:])
        if binding != public_binding(content, party, cert.algorithm):
            bad.append(f"party {party}: the binding is not the public binding of contentHash to the party")
            continue
        if binding == cert.b32("evidence", "binding") and party == reg["partyId"]:
            if (item["blockNumber"], item["blockTimestamp"], item["method"]) != (
                an["blockNumber"],
                an["blockTimestamp"],
                an["method"],
            ):
                bad.append("the certificate's own registration is listed at another block, time or method")
        if item["method"] != "direct":
            batched += 1
            continue
        try:
            raw = rpc.call(contract, SEL_RECORD + binding + party.to_bytes(32, "big"))
            _registrant, party_id, _alg, timestamp, block_number = abi_decode(
                ["address", "uint24", "uint8", "uint32", "uint32"], raw
            )
        except Exception:
            bad.append(f"party {party}: the contract does not answer record(bytes32,uint256)")
            continue
        if (party_id, timestamp, block_number) != (party, item["blockTimestamp"], item["blockNumber"]):
            bad.append(f"party {party}: the contract records block {block_number}, time {timestamp}")
    blocks = [int(i["blockNumber"]) for i in listed]
    if blocks != sorted(blocks):
        bad.append("the list is not earliest first")
    full = len(listed) >= certmod.MAX_LISTED_REGISTRATIONS
    if regs["count"] < len(listed) or (not full and regs["count"] != len(listed)):
        bad.append(f"count {regs['count']} does not match the {len(listed)} registrations listed")
    if as_of < max([*blocks, int(an["blockNumber"])]) or rpc.block(as_of) is None:
        bad.append(f"asOfBlock {as_of} is not a block of this chain at or after every registration listed")
    elif not full:
        listed_parties = {int(i["partyId"]) for i in listed}
        try:
            on_chain = _public_records(rpc, contract, content, cert.algorithm)
        except Exception:
            on_chain = []
            bad.append(
                f"{contract} does not answer partyCount() and records(bytes32[]): it is not the evidence registry"
            )
        for party, block_number in on_chain:
            if block_number <= as_of and party not in listed_parties:
                bad.append(f"party {party} registered this content at block {block_number}, which is not listed")
    if not listed:
        report.add("registrations", not bad, f"no public registration of this content at block {as_of}", "; ".join(bad))
        return
    first = listed[0]
    note = f" ({batched} batched, proved by their own certificates)" if batched else ""
    report.add(
        "registrations",
        not bad,
        f"party {first['partyId']} registered this content first (block {first['blockNumber']}); "
        f"{regs['count']} public registration(s) at block {as_of}, each as listed{note}",
        "; ".join(bad),
    )


SEL_PARTY_COUNT = keccak(text="partyCount()")[:4]
SEL_RECORDS = keccak(text="records(bytes32[])")[:4]
#: Keys read per records(bytes32[]) call when every party's public binding is looked up.
RECORDS_PER_CALL = 512


def _public_records(rpc: Rpc, contract: str, content: bytes, algorithm: HashAlgorithm) -> list[tuple[int, int]]:
    """(party, block) of every direct public registration of ``content`` now on chain, by every admitted party."""
    (count,) = abi_decode(["uint256"], rpc.call(contract, SEL_PARTY_COUNT))
    found: list[tuple[int, int]] = []
    parties = list(range(1, int(count) + 1))
    for start in range(0, len(parties), RECORDS_PER_CALL):
        chunk = parties[start : start + RECORDS_PER_CALL]
        keys = [keccak(public_binding(content, p, algorithm) + p.to_bytes(32, "big")) for p in chunk]
        (recs,) = abi_decode(
            ["(address,uint24,uint8,uint32,uint32)[]"],
            rpc.call(contract, SEL_RECORDS + abi_encode(["bytes32[]"], [keys])),
        )
        found += [(p, int(r[4])) for p, r in zip(chunk, recs, strict=True) if int(r[3]) != 0]
    return found


# --- a natural person before an arbitrator (docs/certificate.md "Confirming a natural person") -----------

PERSON_PROOF_FORMAT = "qianhai-ip-ledger/person-proof"


def verify_person(proof: Any, rpc: Rpc, contract: str, party_id: int | None = None) -> Report:
    """Whether the person who hands over ``proof`` (their identity document number, its scheme and the commitment's
    salt, from ``ipledger party prove``) is party ``party_id`` (the proof's own when None) of the evidence registry at
    ``contract``: the commitment recomputed from the proof must be the party's on-chain identifier, and the party an
    individual. Only JSON-RPC and the proof are used; the arbitrator then compares the document number with the
    identity document the person shows."""
    report = Report()
    try:
        if not isinstance(proof, dict) or proof.get("format") != PERSON_PROOF_FORMAT:
            raise ValueError(f"format must be {PERSON_PROOF_FORMAT!r}")
        pid = int(proof["partyId"])
        salt = bytes.fromhex(str(proof["salt"]).removeprefix("0x"))
        recomputed = person_commitment(str(proof["idScheme"]), str(proof["identifier"]), salt)
    except (KeyError, TypeError, ValueError, InvalidInput) as exc:
        report.add("format", False, "", f"the proof is malformed: {getattr(exc, 'message', exc)}")
        return report
    report.add("format", True, f"{PERSON_PROOF_FORMAT} of party {pid}", "")
    if party_id is not None and not report.add(
        "party", pid == party_id, f"the proof is of party {party_id}", f"the proof is of party {pid}, not {party_id}"
    ):
        return report
    try:
        (profile,) = abi_decode([PARTY_TUPLE], rpc.call(contract, SEL_PARTY + abi_encode(["uint256"], [pid])))
    except Exception:
        report.add("commitment", False, "", f"party {pid} does not exist at {contract}")
        return report
    individual = int(profile[0]) == int(PartyKind.INDIVIDUAL)
    on_chain = str(profile[PARTY_IDENTIFIER])
    report.add(
        "commitment",
        individual and on_chain == recomputed,
        f"SHA-256 of the document number and salt is the on-chain identifier of party {pid} "
        f"({certmod.natural_person(pid)['en']}): {recomputed}",
        f"the recomputed commitment {recomputed} is not the on-chain identifier of party {pid} ({on_chain})"
        if individual
        else f"party {pid} is not a natural person",
    )
    return report
