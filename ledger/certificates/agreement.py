"""Agreement certificates: a versioned JSON document that lets an arbitrator check, with only a JSON-RPC
endpoint and hashing/signature libraries, that an agreement took effect on chain, when, on which terms,
and that every party signed those exact terms. Specified in docs/agreements.md.

Checks (each passed/failed, like evidence certificates): format, details (SHA-256 of the canonical details
equals the terms' detailsHash), agreement-id (EIP-712 struct hash of the terms), signatures (each party's
EIP-712 signature over the terms; ERC-1271 wallets through eth_call), chain, block, transaction
(AgreementExecuted and one AgreementSigned per signature from the contract), record (the contract's stored
agreement), parties (each signer belonged to its active party at the block; profiles match); with a file,
document (its SHA-256 is the terms' documentHash).

Apart from those checks, which say whether the certificate is authentic, a report that passed them carries the
agreement's legal status (:class:`~ledger.certificates.verify.LegalStatus`) now or at a moment given: read with
``eth_call agreement(id)`` at the latest block at or before that moment (found by bisection over block
timestamps), its term compared with the moment, and for an award the ``AgreementVoided`` log naming the dispute.

The PDF and HTML renderings are in ``ledger.certificates.render.agreement``.
"""

# ruff: noqa: BLE001 - a verifier reads an untrusted document and asks an untrusted endpoint: whatever either does,
# the check it was making fails in the report (with what went wrong); it never raises to its caller

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Mapping, Sequence
from typing import Any, BinaryIO

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_account import Account
from eth_utils import keccak, to_checksum_address

from ledger.certificates import evidence as ev
from ledger.certificates.evidence import SCHEMES, CertificateMalformed
from ledger.certificates.verify import (
    PARTY_IDENTIFIER,
    PARTY_TUPLE,
    SEL_PARTY,
    SEL_PARTY_OF,
    LegalStatus,
    Report,
    Rpc,
    rpc_bytes,
    rpc_int,
    utc_text,
)
from ledger.domain import agreements as ag
from ledger.domain.canonical_json import canonical_json
from ledger.domain.codes import AgreementStatus
from ledger.domain.hashing import HashAlgorithm, hash_stream
from ledger.errors import InvalidInput

FORMAT = "qianhai-ip-ledger/agreement-certificate"
VERSION = 1
AGREEMENT_EXECUTED_TOPIC = keccak(text="AgreementExecuted(bytes32,uint256,uint8,bytes32,bytes32)")
AGREEMENT_SIGNED_TOPIC = keccak(text="AgreementSigned(bytes32,uint256,address)")
AGREEMENT_VOIDED_TOPIC = keccak(text="AgreementVoided(bytes32,uint256,bytes32)")
SEL_PARTY_REGISTRY = keccak(text="partyRegistry()")[:4]
SEL_AGREEMENT = keccak(text="agreement(bytes32)")[:4]
SEL_IS_VALID_SIGNATURE = bytes.fromhex("1626ba7e")
#: The members of a certificate's ``asset`` description, as ``GET /v1/assets/{id}`` and its details give them.
ASSET_MEMBERS = ("assetId", "jurisdiction", "kind", "number", "title", "filingDate", "grantDate")
AGREEMENT_TUPLE = (
    "(uint8,uint8,uint8,bool,uint64,uint64,uint64,uint64,uint256,uint256,bytes32,bytes32,uint256[],uint256[])"
)


def build(
    *,
    agreement_id: str,
    terms: dict[str, Any],
    details: dict[str, Any],
    signatures: dict[str, dict[str, str]],
    parties: Mapping[int, Mapping[str, Any]],
    chain_id: int,
    contract: str,
    tx_hash: str,
    block_number: int,
    block_hash: str,
    block_timestamp: int,
    asset: Mapping[str, Any] | None = None,
    status: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The certificate (docs/agreements.md). ``asset`` describes the patent (``assetId``, ``jurisdiction``,
    ``kind``, ``number``, ``title``, ``filingDate``, ``grantDate``: what its owners registered) and ``status`` is
    where the agreement stood when the certificate was issued (``state``, ``at``, ``closedAt``): both are for
    reading; the verifier ignores them and tells the status at the moment it is asked."""
    doc: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "agreement": {
            "id": agreement_id,
            "kind": ag.AgreementKind(terms["kind"]).word,
            "terms": terms,
            "details": details,
        },
        "signatures": [
            {"partyId": int(pid), **sig} for pid, sig in sorted(signatures.items(), key=lambda kv: int(kv[0]))
        ],
        "parties": [
            {"partyId": pid, **{k: p[k] for k in ("identifierScheme", "identifier", "nameZh", "nameEn")}}
            for pid, p in sorted(parties.items())
        ],
        "chain": {"chainId": chain_id, "contract": contract},
        "anchor": {
            "transactionHash": tx_hash.lower(),
            "blockNumber": block_number,
            "blockHash": block_hash.lower(),
            "blockTimestamp": block_timestamp,
        },
    }
    if asset is not None:
        doc["asset"] = {k: asset[k] for k in ASSET_MEMBERS if asset.get(k) is not None}
    if status is not None:
        doc["status"] = {k: status[k] for k in ("state", "at", "closedAt") if status.get(k) is not None}
    return doc


def verify(
    doc: Any,
    rpc: Rpc,
    *,
    document: BinaryIO | None = None,
    document_hash: bytes | None = None,
    at: int | None = None,
    file_limit: int | None = None,
) -> Report:
    """Runs the checks of docs/agreements.md on ``doc``; with ``document`` (a stream, hashed here) or
    ``document_hash`` (its SHA-256), also the ``document`` check. When every check passed, ``report.status`` is
    the legal status at ``at`` (unix seconds; now when None)."""
    report = Report()
    try:
        parse(doc)
        terms = ag.Terms.from_json(doc["agreement"]["terms"])
        agreement_id = bytes.fromhex(doc["agreement"]["id"][2:])
        details = doc["agreement"]["details"]
        sigs = [
            (s["partyId"], to_checksum_address(s["signer"]), bytes.fromhex(s["signature"][2:]))
            for s in doc["signatures"]
        ]
        parties = {p["partyId"]: p for p in doc["parties"]}
        chain_id, contract = doc["chain"]["chainId"], to_checksum_address(doc["chain"]["contract"])
        an = doc["anchor"]
        block_number, block_hash, block_time = an["blockNumber"], an["blockHash"], an["blockTimestamp"]
        tx_hash = an["transactionHash"]
    except InvalidInput as exc:
        report.add("format", False, "", exc.message)
        return report
    report.add("format", True, f"{FORMAT} version {VERSION}", "")

    if document is not None or document_hash is not None:
        size = ""
        if document is not None:
            try:
                document_hash, n = hash_stream(document, HashAlgorithm.SHA256, limit=file_limit)
                size = f" ({n:,} bytes)"
            except Exception as exc:
                document_hash = None
                report.add("document", False, "", f"the file could not be read ({type(exc).__name__})")
        if document_hash is not None:
            report.add(
                "document",
                document_hash == terms.document_hash,
                f"SHA-256 of the file{size} is the documentHash the parties signed: it is the contract document",
                f"SHA-256 of the file{size} is 0x{document_hash.hex()}, not the signed documentHash "
                f"0x{terms.document_hash.hex()}: it is not the contract document of these terms",
            )

    try:
        computed = hashlib.sha256(canonical_json(details)).digest()
    except InvalidInput as exc:
        computed = b""
        report.add("details", False, "", f"details are not canonicalisable: {exc.message}")
    else:
        report.add(
            "details",
            computed == terms.details_hash,
            "SHA-256 of the canonical details equals the terms' detailsHash",
            "the details do not hash to the terms' detailsHash",
        )
    domain = ag.assets_domain(chain_id, contract)
    kind_word = ag.AgreementKind(terms.kind).word
    labels_agree = doc["agreement"]["kind"] == kind_word
    same_id = terms.agreement_id(domain) == agreement_id
    report.add(
        "agreement-id",
        same_id and labels_agree,
        f"the EIP-712 struct hash of the terms is the agreement id; agreement.kind {kind_word!r} is the signed kind",
        "; ".join(
            ([] if same_id else ["the terms do not hash to the agreement id"])
            + (
                []
                if labels_agree
                else [
                    f"agreement.kind {doc['agreement']['kind']!r} disagrees with the signed terms "
                    f"(terms.kind {terms.kind} = {kind_word!r})"
                ]
            )
        ),
    )
    digest = keccak(b"\x19\x01" + _domain_separator(domain) + terms.agreement_id(domain))

    try:
        if rpc.chain_id() != chain_id:
            report.add("chain", False, "", "the endpoint serves another chain")
            return report
    except Exception as exc:
        report.add("chain", False, "", f"the JSON-RPC endpoint does not answer ({type(exc).__name__})")
        return report
    report.add("chain", True, f"the endpoint serves chain {chain_id}", "")

    bad = []
    for pid, signer, sig in sigs:
        if rpc.code(signer):
            try:
                ret = rpc.call(
                    signer, SEL_IS_VALID_SIGNATURE + abi_encode(["bytes32", "bytes"], [digest, sig]), block_number
                )
                ok = ret[:4] == SEL_IS_VALID_SIGNATURE
            except Exception:
                ok = False
        else:
            try:
                ok = Account._recover_hash(digest, signature=sig) == signer  # noqa: SLF001 - raw-hash recovery
            except Exception:
                ok = False
        if not ok:
            bad.append(pid)
    report.add(
        "signatures",
        not bad,
        f"all {len(sigs)} parties signed these exact terms (EIP-712)",
        f"the signatures of parties {bad} do not verify for these terms",
    )

    block = rpc.block(block_number)
    ok = block is not None and str(block["hash"]).lower() == block_hash and rpc_int(block["timestamp"]) == block_time
    report.add(
        "block",
        ok,
        f"block {block_number} has the certificate's hash and timestamp",
        f"block {block_number} differs from the certificate",
    )

    receipt = rpc.receipt(tx_hash)
    executed, signed = False, set()
    if (
        receipt is not None
        and rpc_int(receipt.get("status", "0x0")) == 1
        and str(receipt["blockHash"]).lower() == block_hash
    ):
        for log in receipt.get("logs", []):
            if str(log["address"]).lower() != contract.lower():
                continue
            topics = [rpc_bytes(t) for t in log["topics"]]
            if topics[0] == AGREEMENT_EXECUTED_TOPIC and topics[1] == agreement_id:
                executed = (
                    int.from_bytes(topics[2], "big") == terms.asset_id
                    and int.from_bytes(topics[3], "big") == terms.kind
                )
            if topics[0] == AGREEMENT_SIGNED_TOPIC and topics[1] == agreement_id:
                signer = to_checksum_address(abi_decode(["address"], rpc_bytes(log["data"]))[0])
                signed.add((int.from_bytes(topics[2], "big"), signer))
    expected = {(pid, signer) for pid, signer, _ in sigs}
    report.add(
        "transaction",
        executed and signed == expected,
        "AgreementExecuted and one AgreementSigned per party are in the transaction, from the contract",
        "the transaction does not carry AgreementExecuted and exactly these parties' AgreementSigned events",
    )

    try:
        (g,) = abi_decode([AGREEMENT_TUPLE], rpc.call(contract, SEL_AGREEMENT + agreement_id))
        ok = g[0] == terms.kind and g[1] != ag.AgreementStatus.NONE and g[6] == block_time and g[8] == terms.asset_id
    except Exception:
        ok = False
    report.add(
        "record",
        ok,
        "the contract records that the agreement took effect in this block (where it stands now is told apart)",
        "the contract does not record this agreement as taking effect in the certificate's block",
    )

    _check_parties(report, rpc, contract, sigs, parties, block_number)
    if report.passed:
        report.status = legal_status(rpc, contract, agreement_id, block_number, block_time, at=at)
    return report


#: The members of the signed ``Terms`` in a certificate, every one required (docs/agreements.md).
TERMS_MEMBERS = tuple(f["name"] for f in ag.TERMS_TYPE)
_HEX_MASK = re.compile(r"^0x[0-9a-f]{1,64}$")


def parse(doc: Any) -> dict[str, Any]:
    """Checks an agreement certificate against every rule of docs/agreements.md "Agreement certificates" (the
    JSON rules of docs/certificate.md §3 apply too); raises :class:`CertificateMalformed` naming the first bad
    field. Members not named there are ignored."""
    if not isinstance(doc, dict):
        raise CertificateMalformed("a certificate is a JSON object", field="certificate")
    ev.members(doc, "", ("format", "version", "agreement", "signatures", "parties", "chain", "anchor"))
    ev.expect(doc["format"] == FORMAT, "format", f"format must be {FORMAT!r}")
    ev.expect(
        ev.is_json_int(doc["version"]) and doc["version"] == VERSION,
        "version",
        f"version {doc['version']!r} is not supported (expected the integer {VERSION})",
    )
    agr = ev.object_member(doc, "agreement")
    ev.members(agr, "agreement", ("id", "kind", "terms", "details"))
    ev.check_hex32(agr, "agreement", "id")
    words = [k.word for k in ag.AgreementKind.choices() if k != ag.AgreementKind.NONE]
    ev.expect(agr["kind"] in words, "agreement.kind", f"must be one of {', '.join(words)}")
    ev.expect(isinstance(agr["details"], dict), "agreement.details", "must be an object")
    terms = ev.object_member(agr, "terms", "agreement.")
    name = "agreement.terms"
    ev.members(terms, name, TERMS_MEMBERS)
    ev.check_int(terms, name, "kind", 1, len(words))
    ev.check_int(terms, name, "assetId", 1, 2**256 - 1)
    ev.check_int(terms, name, "licenceType", 0, max(int(t) for t in ag.LicenceType.choices()))
    for key in ("start", "end", "deadline"):
        ev.check_int(terms, name, key, 0, 2**64 - 1)
    for key, hi in (("grantees", 2**256 - 1), ("shares", 2**16 - 1)):
        values = terms[key]
        ev.expect(isinstance(values, list) and len(values) <= 8, f"{name}.{key}", "must be a list of at most 8")
        for i, value in enumerate(values):
            ev.expect(
                ev.is_json_int(value) and (0 if key == "shares" else 1) <= value <= hi,
                f"{name}.{key}[{i}]",
                f"must be an integer in {0 if key == 'shares' else 1}..{hi}",
            )
    ev.expect(
        isinstance(terms["territory"], str) and bool(_HEX_MASK.match(terms["territory"])),
        f"{name}.territory",
        "must be 0x and 1 to 64 lower-case hex digits (a 256-bit mask)",
    )
    ev.expect(isinstance(terms["sublicensable"], bool), f"{name}.sublicensable", "must be true or false")
    for key in ("fieldOfUse", "parentLicence", "documentHash", "detailsHash", "salt"):
        ev.check_hex32(terms, name, key)
    sigs = doc["signatures"]
    ev.expect(isinstance(sigs, list) and 1 <= len(sigs) <= 64, "signatures", "must be a list of 1 to 64 objects")
    for i, sig in enumerate(sigs):
        where = f"signatures[{i}]"
        ev.expect(isinstance(sig, dict), where, "must be an object")
        ev.members(sig, where, ("partyId", "signer", "signature"))
        ev.check_int(sig, where, "partyId", 1, 2**24 - 1)
        ev.expect(
            isinstance(sig["signer"], str) and bool(ev.ADDRESS.match(sig["signer"])),
            f"{where}.signer",
            "not an address",
        )
        ev.expect(
            isinstance(sig["signature"], str)
            and bool(ev.HEXBYTES.match(sig["signature"]))
            and 4 <= len(sig["signature"]) <= 2 + 8192,
            f"{where}.signature",
            "must be 0x-prefixed lower-case hex of 1 to 4096 bytes",
        )
    signers = [sig["partyId"] for sig in sigs]
    ev.expect(len(set(signers)) == len(signers), "signatures", "a party signs once")
    listed = doc["parties"]
    ev.expect(isinstance(listed, list), "parties", "must be a list")
    for i, party in enumerate(listed):
        where = f"parties[{i}]"
        ev.expect(isinstance(party, dict), where, "must be an object")
        ev.members(party, where, ("partyId", "identifierScheme", "identifier", "nameZh", "nameEn"))
        ev.check_int(party, where, "partyId", 1, 2**24 - 1)
        for key in ("identifierScheme", "identifier", "nameZh", "nameEn"):
            ev.expect(isinstance(party[key], str), f"{where}.{key}", "must be a string")
        ev.expect(
            party["identifierScheme"] in ev.SCHEMES.values(),
            f"{where}.identifierScheme",
            f"must be one of {', '.join(ev.SCHEMES.values())}",
        )
    named = [party["partyId"] for party in listed]
    ev.expect(
        sorted(named) == sorted(signers),
        "parties",
        "must name each signing party exactly once (the partyIds of signatures)",
    )
    chain = ev.object_member(doc, "chain")
    ev.members(chain, "chain", ("chainId", "contract"))
    ev.check_int(chain, "chain", "chainId", 1, ev.INT63)
    ev.expect(
        isinstance(chain["contract"], str) and bool(ev.ADDRESS.match(chain["contract"])),
        "chain.contract",
        "not an address",
    )
    anchor = ev.object_member(doc, "anchor")
    ev.members(anchor, "anchor", ("transactionHash", "blockNumber", "blockHash", "blockTimestamp"))
    ev.check_hex32(anchor, "anchor", "transactionHash")
    ev.check_hex32(anchor, "anchor", "blockHash")
    ev.check_int(anchor, "anchor", "blockNumber", 0, ev.INT63)
    ev.check_int(anchor, "anchor", "blockTimestamp", 0, ev.INT63)
    return doc


def _block_at(rpc: Rpc, moment: int, low: int) -> int:
    """The latest block whose timestamp is at or before ``moment``, knowing block ``low`` is."""
    high = rpc.block_number()
    if rpc_int((rpc.block(high) or {})["timestamp"]) <= moment:
        return high
    while low + 1 < high:  # block low is at or before the moment, block high after it
        mid = (low + high) // 2
        if rpc_int((rpc.block(mid) or {})["timestamp"]) <= moment:
            low = mid
        else:
            high = mid
    return low


def legal_status(
    rpc: Rpc, contract: str, agreement_id: bytes, anchor_block: int, anchor_time: int, *, at: int | None = None
) -> LegalStatus:
    """The agreement's legal status at ``at`` (unix seconds; now when None: this machine's clock, or the latest
    block's time if later), as the contract records it at the latest block at or before then; never raises
    (``unknown`` says what went wrong)."""
    try:
        if at is None:  # now: this machine's clock, or the latest block's time if the chain runs ahead of it
            block = rpc.block_number()
            moment = max(int(time.time()), rpc_int((rpc.block(block) or {})["timestamp"]))
        else:
            moment = int(at)
            if moment < anchor_time:
                return LegalStatus(
                    "not_yet_executed",
                    False,
                    moment,
                    f"not yet in effect at {utc_text(moment)}: the parties put it into effect at {utc_text(anchor_time)}",
                    since=anchor_time,
                )
            block = _block_at(rpc, moment, anchor_block)
        (g,) = abi_decode([AGREEMENT_TUPLE], rpc.call(contract, SEL_AGREEMENT + agreement_id, block))
    except Exception as exc:
        return LegalStatus(
            "unknown",
            False,
            int(time.time()) if at is None else int(at),
            f"the node could not give the agreement's state at that time ({type(exc).__name__}); "
            "an archive node keeps the state of past blocks",
        )
    stored, start, end, closed = AgreementStatus(g[1]), int(g[4]), int(g[5]), int(g[7])
    if stored == AgreementStatus.EFFECTIVE:
        if moment < start:
            return LegalStatus(
                "not_yet_in_force", False, moment, f"not yet in force: its term starts {utc_text(start)}", block, start
            )
        if end and moment >= end:
            return LegalStatus("expired", False, moment, f"expired: its term ended {utc_text(end)}", block, end)
        until = f" until {utc_text(end)}" if end else ""
        return LegalStatus(
            "in_force", True, moment, f"in force{until}", block, max(start, anchor_time), until=end or None
        )
    words = {
        AgreementStatus.TERMINATED: "terminated",
        AgreementStatus.RELEASED: "released (the pledge was released)",
        AgreementStatus.WITHDRAWN: "withdrawn",
        AgreementStatus.ENDED_WITH_PARENT: "ended with its parent licence",
    }
    if stored != AgreementStatus.VOIDED:
        when = f" on {utc_text(closed)}" if closed else ""
        return LegalStatus(stored.word, False, moment, f"{words.get(stored, stored.word)}{when}", block, closed or None)
    dispute = None
    try:
        logs = rpc.logs(contract, ["0x" + AGREEMENT_VOIDED_TOPIC.hex(), "0x" + agreement_id.hex()], anchor_block, block)
        dispute = "0x" + rpc_bytes(logs[-1]["topics"][3]).hex() if logs else None
    except Exception:
        dispute = None
    detail = f"voided by an arbitral award on {utc_text(closed)}" + (
        f" in dispute {dispute} (see `ipledger dispute show {dispute}`)"
        if dispute
        else " (see `ipledger dispute show`)"
    )
    return LegalStatus("voided", False, moment, detail, block, closed or None, dispute)


def _domain_separator(domain: Any) -> bytes:
    return bytes(
        keccak(
            keccak(text="EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)")
            + keccak(text=domain.name)
            + keccak(text=domain.version)
            + abi_encode(["uint256", "address"], [domain.chain_id, to_checksum_address(domain.verifying_contract)])
        )
    )


def _check_parties(
    report: Report,
    rpc: Rpc,
    contract: str,
    sigs: Sequence[tuple[int, str, bytes]],
    parties: Mapping[int, Mapping[str, Any]],
    block_number: int,
) -> None:
    try:
        registry = to_checksum_address(abi_decode(["address"], rpc.call(contract, SEL_PARTY_REGISTRY))[0])
    except Exception:
        report.add("parties", False, "", "the contract does not name its party registry")
        return
    problems = []
    for pid, signer, _ in sigs:
        try:
            raw = rpc.call(registry, SEL_PARTY_OF + abi_encode(["address"], [signer]), block_number)
        except Exception:
            raw = rpc.call(registry, SEL_PARTY_OF + abi_encode(["address"], [signer]))
        try:
            got, active = abi_decode(["uint256", "bool"], raw)
            (profile,) = abi_decode([PARTY_TUPLE], rpc.call(registry, SEL_PARTY + abi_encode(["uint256"], [pid])))
        except Exception:
            problems.append(pid)
            continue
        stated = parties.get(pid, {})
        same = (SCHEMES.get(profile[2], "?"), *profile[PARTY_IDENTIFIER : PARTY_IDENTIFIER + 3]) == (
            stated.get("identifierScheme"),
            stated.get("identifier"),
            stated.get("nameZh"),
            stated.get("nameEn"),
        )
        if got != pid or not active or not same:
            problems.append(pid)
    report.add(
        "parties",
        not problems,
        "every signer belonged to its active party at the block, as the certificate names them",
        f"parties {problems} do not match the registry at the block",
    )
