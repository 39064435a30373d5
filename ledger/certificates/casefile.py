"""Case files: everything on chain about a dispute's subject, in time order, each item with the certificate
or proof an arbitrator re-checks alone against any JSON-RPC endpoint (``verify_case``). This module reads and
verifies case files with JSON-RPC only; they are assembled by ``ledger.services.casefiles``.

A case file is a ZIP:

- ``case.json``: format, the dispute, the ordered list of items (each naming its file), the parties the case names
  (``parties``: id, kind, identifier and names, for reading) and, for a dispute about an asset, the patent
  (``asset``: number, title, jurisdiction, kind);
- ``items/NNN-<kind>.json``: an evidence certificate (docs/certificate.md), an agreement certificate
  (docs/agreements.md), a title event, or the dispute's opening and award;
- ``summary.pdf``: a bilingual (Chinese and English) summary for reading, not evidence.
"""

# ruff: noqa: BLE001 - a verifier reads an untrusted document and asks an untrusted endpoint: whatever either does,
# the check it was making fails in the report (with what went wrong); it never raises to its caller

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from eth_abi import decode as abi_decode
from eth_utils import keccak, to_checksum_address

from ledger.certificates import agreement as agreement_certificate
from ledger.certificates import evidence as evidence_certificate
from ledger.certificates import verify as evidence_verify
from ledger.certificates.verify import Report, Rpc, rpc_bytes, rpc_int
from ledger.domain.codes import AgreementKind
from ledger.errors import InvalidInput

FORMAT = "qianhai-ip-ledger/case-file"
VERSION = 1
MAX_CASE_BYTES = 256 * 1024 * 1024
TITLE_EVENTS = {
    "AssetRegistered": "AssetRegistered(uint256,bytes32,uint8,uint8,uint256[],uint16[],bytes32)",
    "TitleTransferred": "TitleTransferred(uint256,bytes32,uint256[],uint16[])",
    "AgreementExecuted": "AgreementExecuted(bytes32,uint256,uint8,bytes32,bytes32)",
    "AgreementTerminated": "AgreementTerminated(bytes32,uint256)",
    "PledgeReleased": "PledgeReleased(bytes32,uint256)",
    "AssetFrozen": "AssetFrozen(uint256,bytes32)",
    "AssetUnfrozen": "AssetUnfrozen(uint256,bytes32)",
    "AgreementVoided": "AgreementVoided(bytes32,uint256,bytes32)",
    "TitleRestored": "TitleRestored(uint256,bytes32,uint256[],uint16[])",
    "AssetConfirmed": "AssetConfirmed(uint256,uint256,bytes32)",
    "ClaimRejected": "ClaimRejected(uint256,uint256,bytes32)",
    "ClaimStruck": "ClaimStruck(uint256,bytes32,uint256[])",
    "AgreementWithdrawn": "AgreementWithdrawn(bytes32,uint256,uint256,address)",
}
DISPUTE_OPENED = keccak(text="DisputeOpened(bytes32,uint8,bytes32,uint256,uint256,uint256,bytes32,address[])")
DISPUTE_CLOSED = keccak(text="DisputeClosed(bytes32,uint8,bytes32,uint256,address[])")
SEL_DISPUTE = keccak(text="dispute(bytes32)")[:4]
DISPUTE_TUPLE = "(uint8,uint8,uint8,uint64,uint64,uint256,uint256,uint256,uint256,bytes32,bytes32,bytes32)"


@dataclass
class CaseReport:
    items: list[tuple[str, Report]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.problems and bool(self.items) and all(r.passed for _, r in self.items)

    def to_json(self) -> dict[str, Any]:
        return {
            "verdict": "passed" if self.passed else "failed",
            "problems": self.problems,
            "items": [{"file": f, **r.to_json()} for f, r in self.items],
        }


def verify_case(data: bytes, rpc: Rpc) -> CaseReport:
    """Re-checks every item of a case file against the chain; the archive must list exactly its items."""
    report = CaseReport()
    if len(data) > MAX_CASE_BYTES:
        raise InvalidInput(f"a case file is at most {MAX_CASE_BYTES} bytes", field="case")
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        case = json.loads(zf.read("case.json"))
    except (zipfile.BadZipFile, KeyError, ValueError):
        raise InvalidInput("not a case file (a ZIP with case.json)", field="case") from None
    if case.get("format") != FORMAT or case.get("version") != VERSION:
        raise InvalidInput(f"case.json is not {FORMAT} version {VERSION}", field="case")
    listed = [i["file"] for i in case.get("items", [])]
    present = sorted(n for n in zf.namelist() if n.startswith("items/"))
    if sorted(listed) != present:
        report.problems.append("the archive's items differ from those listed in case.json")
    times = [(i["block"]) for i in case.get("items", [])]
    if times != sorted(times):
        report.problems.append("the items are not in time order")
    for entry in case.get("items", []):
        try:
            doc = evidence_certificate.loads(zf.read(entry["file"]))  # the JSON rules of docs/certificate.md §3
        except evidence_certificate.CertificateMalformed as exc:
            malformed = Report()
            malformed.add("format", False, "", exc.message)
            report.items.append((entry["file"], malformed))
            continue
        except (KeyError, ValueError):
            report.problems.append(f"{entry['file']} is missing or not JSON")
            continue
        fmt = doc.get("format") if isinstance(doc, dict) else None
        if fmt == "qianhai-ip-ledger/evidence-certificate":
            r = evidence_verify.verify(doc, rpc)
        elif fmt == agreement_certificate.FORMAT:
            r = agreement_certificate.verify(doc, rpc)
        elif fmt == "qianhai-ip-ledger/title-event":
            r = _verify_title_event(doc, rpc)
        elif fmt in ("qianhai-ip-ledger/dispute-opened", "qianhai-ip-ledger/dispute-closed"):
            r = _verify_dispute_tx(doc, rpc)
        else:
            r = Report()
            r.add("format", False, "", f"unknown item format {fmt!r}")
        report.items.append((entry["file"], r))
    return report


def _receipt_log(
    rpc: Rpc, doc: dict[str, Any], contract: str, topic0: bytes, topic1: bytes, report: Report
) -> dict[str, Any] | None:
    block = rpc.block(int(doc["blockNumber"]))
    report.add(
        "block",
        block is not None
        and str(block["hash"]).lower() == str(doc["blockHash"]).lower()
        and rpc_int(block["timestamp"]) == int(doc["blockTimestamp"]),
        f"block {doc['blockNumber']} has the stated hash and time",
        "the block differs from the case file",
    )
    receipt = rpc.receipt(str(doc["transactionHash"]))
    if (
        receipt is None
        or rpc_int(receipt.get("status", "0x0")) != 1
        or str(receipt["blockHash"]).lower() != str(doc["blockHash"]).lower()
    ):
        report.add("transaction", False, "", "the transaction is not on chain in that block")
        return None
    for log in receipt.get("logs", []):
        topics = [rpc_bytes(t) for t in log["topics"]]
        if str(log["address"]).lower() == contract.lower() and topics and topics[0] == topic0 and topics[1] == topic1:
            report.add("transaction", True, "the transaction carries the event from the contract", "")
            return {"topics": topics, "data": rpc_bytes(log["data"])}
    report.add("transaction", False, "", "the transaction carries no such event from the contract")
    return None


def _verify_title_event(doc: dict[str, Any], rpc: Rpc) -> Report:
    report = Report()
    try:
        signature = TITLE_EVENTS[doc["event"]]
        contract = to_checksum_address(doc["chain"]["contract"])
        first = int(doc["assetId"]).to_bytes(32, "big")
        if doc["event"] in (
            "AgreementExecuted",
            "AgreementTerminated",
            "PledgeReleased",
            "AgreementVoided",
            "AgreementWithdrawn",
        ):
            first = bytes.fromhex(doc["agreementId"][2:])
        doc = {
            **doc,
            "blockNumber": int(doc["block"]),
            "blockTimestamp": int(doc["time"]),
            "blockHash": str(doc["blockHash"]),
        }
    except (KeyError, TypeError, ValueError):
        report.add("format", False, "", "the title event is malformed")
        return report
    report.add("format", True, "a title event", "")
    if rpc.chain_id() != int(doc["chain"]["chainId"]):
        report.add("chain", False, "", "the endpoint serves another chain")
        return report
    log = _receipt_log(rpc, doc, contract, keccak(text=signature), first, report)
    if log is None:
        return report
    topics, data = log["topics"], log["data"]
    same = True
    if "owners" in doc:
        owners, shares = _owners(doc["event"], data)
        same = list(zip(owners, shares, strict=True)) == [(o["partyId"], o["share"]) for o in doc["owners"]]
    if doc["event"] == "AgreementExecuted":
        code = int.from_bytes(topics[3], "big")
        kind = AgreementKind(code).word if code in {int(k) for k in AgreementKind.choices()} else None
        same = same and kind == doc.get("kind") and "0x" + data[:32].hex() == doc.get("documentHash")
    if "disputeId" in doc:
        same = same and "0x" + topics[3 if doc["event"] == "AgreementVoided" else 2].hex() == doc["disputeId"]
    if "verifierPartyId" in doc:  # a verifier's decision on the claim: who, and the extract or reasons hashed
        stated = doc.get("registerExtractHash") or doc.get("reasonHash")
        same = (
            same
            and int.from_bytes(topics[2], "big") == int(doc["verifierPartyId"])
            and "0x" + data[:32].hex() == stated
        )
    if "formerOwners" in doc:  # an award struck these owners' claim
        same = same and list(abi_decode(["uint256[]"], data)[0]) == [int(p) for p in doc["formerOwners"]]
    report.add(
        "event",
        same,
        "the event's owners, shares, kind, document, dispute and verifier are as stated",
        "the event on chain states something else",
    )
    return report


def _owners(event: str, data: bytes) -> tuple[list[int], list[int]]:
    if event == "AssetRegistered":
        _j, _k, owners, shares, _d = abi_decode(["uint8", "uint8", "uint256[]", "uint16[]", "bytes32"], data)
    else:
        owners, shares = abi_decode(["uint256[]", "uint16[]"], data)
    return list(owners), list(shares)


def _verify_dispute_tx(doc: dict[str, Any], rpc: Rpc) -> Report:
    report = Report()
    try:
        contract = to_checksum_address(doc["contract"])
        d = doc["dispute"]
        did = bytes.fromhex(d["disputeId"][2:])
        topic = DISPUTE_OPENED if doc["format"].endswith("opened") else DISPUTE_CLOSED
    except (KeyError, TypeError, ValueError):
        report.add("format", False, "", "the dispute item is malformed")
        return report
    report.add("format", True, "a dispute transaction", "")
    if rpc.chain_id() != int(doc["chainId"]):
        report.add("chain", False, "", "the endpoint serves another chain")
        return report
    _receipt_log(rpc, doc, contract, topic, did, report)
    try:
        (rec,) = abi_decode([DISPUTE_TUPLE], rpc.call(contract, SEL_DISPUTE + did))
        ok = (rec[5], rec[6], rec[7], "0x" + bytes(rec[10]).hex()) == (
            d["institution"],
            d["claimant"],
            d["respondent"],
            d["claimHash"],
        )
        if d.get("awardHash"):
            ok = ok and "0x" + bytes(rec[11]).hex() == d["awardHash"]
    except Exception:
        ok = False
    report.add(
        "record",
        ok,
        "the dispute registry holds this dispute with these parties, claim and award",
        "the dispute registry's record differs from the case file",
    )
    return report


def render_summary(case: dict[str, Any], documents: Mapping[str, dict[str, Any]] | None = None) -> bytes:
    """A bilingual summary of the case for reading (the items themselves are the evidence): ``case`` is the
    ``case.json``, ``documents`` the items' documents by file name. Laid out by
    :func:`ledger.certificates.render.casefile.render_summary`, imported here on first use so that reading and
    verifying case files never loads reportlab."""
    from ledger.certificates.render.casefile import render_summary as render

    return render(case, documents)
