"""The optional ``checkpoint`` section of an evidence certificate and its checks (docs/certificate.md §11).

Each entry says that a checkpoint recorded on a public chain covers the certificate's record: the public chain,
the checkpoint contract, the transaction and block that recorded it, the checkpoint's consortium range, the
consortium block hash at its end, its root, and the RFC 9162 inclusion proof from the record's leaf
(:mod:`ledger.domain.checkpoints`) to that root.

Checks, per entry (``checkpoint-proof``, ``checkpoint-consortium``, ``checkpoint-anchor``): the proof, the
consortium block hash (against the certificate's own chain), and the record on the public chain (when a JSON-RPC
endpoint of it is given; skipped otherwise). The assurance reached is reported apart from the verdict: a
certificate without a checkpoint, or checked without the public chain, is as valid as before ("consortium only").

Pure and JSON-RPC only, like ``ledger.certificates.verify``.
"""

# ruff: noqa: BLE001 - as in verify.py: whatever an untrusted endpoint does, the check fails in the report

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_utils import keccak

from ledger.certificates.evidence import (
    ADDRESS,
    INT63,
    CertificateMalformed,
    check_hex32,
    check_int,
    expect,
    members,
)
from ledger.domain import merkle
from ledger.domain.checkpoints import CHECKPOINT_RECORDED, batch_leaf, evidence_leaf

if TYPE_CHECKING:
    from ledger.certificates.verify import Report, Rpc

#: Most entries of a ``checkpoint`` list (one per public chain).
MAX_CHECKPOINTS = 8
CHECKPOINT_MEMBERS = (
    "chainId",
    "contract",
    "transactionHash",
    "blockNumber",
    "blockHash",
    "index",
    "fromBlock",
    "toBlock",
    "consortiumBlockHash",
    "root",
    "proof",
)
RECORDED_TOPIC = keccak(text=CHECKPOINT_RECORDED)
SEL_CHECKPOINT = keccak(text="checkpoint(uint256)")[:4]
SEL_CONSORTIUM_CHAIN_ID = keccak(text="consortiumChainId()")[:4]
SEL_REGISTRY = keccak(text="registry()")[:4]

CONSORTIUM_ONLY = "consortium"
PUBLIC = "public"


@dataclass
class Assurance:
    """How far a verified evidence certificate reaches: ``consortium`` (the consortium chain's word alone) or
    ``public`` (also anchored on the public chains of ``anchors``: chain id, block, its time, confirmations)."""

    level: str = CONSORTIUM_ONLY
    anchors: list[dict[str, Any]] = field(default_factory=list)
    detail: str = "consortium only: no checkpoint on a public chain was checked"

    def to_json(self) -> dict[str, Any]:
        return {"level": self.level, "anchors": self.anchors, "detail": self.detail}


def record_leaf(doc: dict[str, Any]) -> bytes:
    """The checkpoint leaf data of the certificate's record: a direct record's evidence leaf, or a batched record's
    batch-root leaf (docs/certificate.md §11.1)."""
    an, reg = doc["anchor"], doc["registrant"]
    block = int(an["blockNumber"])
    if an["method"] == "batch":
        return batch_leaf(bytes.fromhex(an["batch"]["root"][2:]), block)
    return evidence_leaf(bytes.fromhex(doc["evidence"]["binding"][2:]), int(reg["partyId"]), reg["account"], block)


def parse_section(section: Any) -> list[dict[str, Any]]:
    """Shape-checks the ``checkpoint`` member; raises :class:`CertificateMalformed` naming the first bad field."""
    expect(
        isinstance(section, list) and 1 <= len(section) <= MAX_CHECKPOINTS,
        "checkpoint",
        f"must be a list of 1 to {MAX_CHECKPOINTS} objects",
    )
    seen: set[int] = set()
    for i, entry in enumerate(section):
        name = f"checkpoint[{i}]"
        expect(isinstance(entry, dict), name, "must be an object")
        members(entry, name, CHECKPOINT_MEMBERS)
        check_int(entry, name, "chainId", 1, INT63)
        expect(entry["chainId"] not in seen, f"{name}.chainId", "one entry per public chain")
        seen.add(entry["chainId"])
        expect(
            isinstance(entry["contract"], str) and bool(ADDRESS.match(entry["contract"])),
            f"{name}.contract",
            "not an address",
        )
        for key in ("transactionHash", "blockHash", "consortiumBlockHash", "root"):
            check_hex32(entry, name, key)
        for key in ("blockNumber", "index", "fromBlock", "toBlock"):
            check_int(entry, name, key, 0, INT63)
        try:
            merkle.InclusionProof.from_json(entry["proof"])
        except merkle.MerkleProofError as exc:
            raise CertificateMalformed(f"{name}.proof: {exc.message}", field=f"{name}.proof") from None
    return section  # type: ignore[no-any-return]


def check(report: Report, doc: dict[str, Any], rpc: Rpc, anchors: Mapping[int, Rpc]) -> Assurance:
    """Runs the checks of docs/certificate.md §11.2 on every entry of ``doc["checkpoint"]``, adding them to
    ``report``; ``rpc`` is the consortium chain's endpoint, ``anchors`` the public chains' by chain id."""
    try:
        entries = parse_section(doc["checkpoint"])
    except CertificateMalformed as exc:
        report.add("checkpoint-proof", False, "", exc.message)
        return Assurance(detail="consortium only: the checkpoint section is malformed")
    leaf = merkle.leaf_hash(record_leaf(doc))
    block = int(doc["anchor"]["blockNumber"])
    reached: list[dict[str, Any]] = []
    for entry in entries:
        cid = entry["chainId"]
        root = bytes.fromhex(entry["root"][2:])
        proof = merkle.InclusionProof.from_json(entry["proof"])
        in_range = entry["fromBlock"] <= block <= entry["toBlock"]
        report.add(
            "checkpoint-proof",
            in_range and proof.verify(leaf, root),
            f"chain {cid}: the record is leaf {proof.index} of {proof.size} under checkpoint {entry['index']}'s root "
            f"(blocks {entry['fromBlock']}..{entry['toBlock']})",
            f"chain {cid}: "
            + (
                "the record's leaf does not prove into the checkpoint root"
                if in_range
                else f"the record's block {block} is outside the checkpoint's blocks"
            ),
        )
        try:
            header = rpc.block(entry["toBlock"])
            same = header is not None and str(header["hash"]).lower() == entry["consortiumBlockHash"]
            report.add(
                "checkpoint-consortium",
                same,
                f"chain {cid}: consortium block {entry['toBlock']} has the checkpoint's block hash",
                f"chain {cid}: consortium block {entry['toBlock']} does not have the checkpoint's block hash",
            )
        except Exception as exc:
            report.add(
                "checkpoint-consortium", False, "", f"the consortium node does not answer ({type(exc).__name__})"
            )
        public = anchors.get(cid)
        if public is None:
            report.skip("checkpoint-anchor", f"chain {cid}: no JSON-RPC endpoint of this public chain was given")
            continue
        ok, detail, reached_entry = _check_anchor(public, entry, doc)
        report.add("checkpoint-anchor", ok, detail, detail)
        if ok and reached_entry is not None:
            reached.append(reached_entry)
    failed = any(c.status == "failed" for c in report.checks if c.name.startswith("checkpoint"))
    if reached and not failed:
        words = "; ".join(
            f"anchored on public chain {a['chainId']} at block {a['blockNumber']} "
            f"({_utc(a['blockTimestamp'])}) with {a['confirmations']} confirmations"
            for a in reached
        )
        return Assurance(PUBLIC, reached, words)
    if failed:
        return Assurance(detail="consortium only: a checkpoint check failed")
    return Assurance(detail="consortium only: the checkpoint was not checked against its public chain")


def _check_anchor(public: Rpc, entry: dict[str, Any], doc: dict[str, Any]) -> tuple[bool, str, dict[str, Any] | None]:
    """The checkpoint on the public chain: its chain id, the contract's consortium (chain id and registry), the
    transaction's event naming the entry's index, range, block hash and root, the block, and the confirmations."""
    cid = entry["chainId"]
    contract = entry["contract"].lower()
    try:
        if public.chain_id() != cid:
            return False, f"the endpoint given for chain {cid} serves chain {public.chain_id()}", None
        (consortium_id,) = abi_decode(["uint256"], public.call(contract, SEL_CONSORTIUM_CHAIN_ID))
        (registry,) = abi_decode(["address"], public.call(contract, SEL_REGISTRY))
        if int(consortium_id) != doc["chain"]["chainId"] or str(registry).lower() != doc["chain"]["contract"].lower():
            return False, f"chain {cid}: the contract {contract} checkpoints another consortium or registry", None
        receipt = public.receipt(entry["transactionHash"])
        if receipt is None or int(str(receipt.get("status", "0x0")), 16) != 1:
            return False, f"chain {cid}: the checkpoint's transaction is not on the public chain", None
        if (
            str(receipt["blockHash"]).lower() != entry["blockHash"]
            or int(str(receipt["blockNumber"]), 16) != entry["blockNumber"]
        ):
            return False, f"chain {cid}: the transaction is in another block than the certificate says", None
        data = abi_encode(
            ["uint64", "uint64", "bytes32", "bytes32"],
            [
                entry["fromBlock"],
                entry["toBlock"],
                bytes.fromhex(entry["consortiumBlockHash"][2:]),
                bytes.fromhex(entry["root"][2:]),
            ],
        )
        found = any(
            str(log["address"]).lower() == contract
            and len(log["topics"]) == 2
            and bytes.fromhex(str(log["topics"][0])[2:]) == RECORDED_TOPIC
            and int(str(log["topics"][1]), 16) == entry["index"]
            and bytes.fromhex(str(log["data"])[2:]) == data
            for log in receipt.get("logs", [])
        )
        if not found:
            return False, f"chain {cid}: the transaction records no such checkpoint in {contract}", None
        header = public.block(entry["blockNumber"])
        if header is None or str(header["hash"]).lower() != entry["blockHash"]:
            return False, f"chain {cid}: block {entry['blockNumber']} is not the certificate's", None
        confirmations = public.block_number() - entry["blockNumber"] + 1
        when = int(str(header["timestamp"]), 16)
    except Exception as exc:
        return (
            False,
            f"chain {cid}: the public chain's endpoint does not answer as expected ({type(exc).__name__})",
            None,
        )
    return (
        True,
        f"chain {cid}: checkpoint {entry['index']} recorded by {contract} at block {entry['blockNumber']} "
        f"({_utc(when)}), {confirmations} confirmations",
        {"chainId": cid, "blockNumber": entry["blockNumber"], "blockTimestamp": when, "confirmations": confirmations},
    )


def _utc(ts: int) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
