"""Agreement certificates: a versioned JSON document that lets an arbitrator check, with only a JSON-RPC
endpoint and hashing/signature libraries, that an agreement took effect on chain, when, on which terms,
and that every party signed those exact terms. Specified in docs/agreements.md.

Checks (each passed/failed, like evidence certificates): format, details (SHA-256 of the canonical details
equals the terms' detailsHash), agreement-id (EIP-712 struct hash of the terms), signatures (each party's
EIP-712 signature over the terms; ERC-1271 wallets through eth_call), chain, block, transaction
(AgreementExecuted and one AgreementSigned per signature from the contract), record (the contract's stored
agreement), parties (each signer belonged to its active party at the block; profiles match).

The PDF and HTML renderings are in ``ledger.certificates.render.agreement``.
"""

# ruff: noqa: BLE001 - a verifier reads an untrusted document and asks an untrusted endpoint: whatever either does,
# the check it was making fails in the report (with what went wrong); it never raises to its caller

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_account import Account
from eth_utils import keccak, to_checksum_address

from ledger.certificates.evidence import SCHEMES
from ledger.certificates.verify import (
    PARTY_IDENTIFIER,
    PARTY_TUPLE,
    SEL_PARTY,
    SEL_PARTY_OF,
    Report,
    Rpc,
    rpc_bytes,
    rpc_int,
)
from ledger.domain import agreements as ag
from ledger.domain.canonical_json import canonical_json
from ledger.errors import InvalidInput

FORMAT = "qianhai-ip-ledger/agreement-certificate"
VERSION = 1
AGREEMENT_EXECUTED_TOPIC = keccak(text="AgreementExecuted(bytes32,uint256,uint8,bytes32,bytes32)")
AGREEMENT_SIGNED_TOPIC = keccak(text="AgreementSigned(bytes32,uint256,address)")
SEL_PARTY_REGISTRY = keccak(text="partyRegistry()")[:4]
SEL_AGREEMENT = keccak(text="agreement(bytes32)")[:4]
SEL_IS_VALID_SIGNATURE = bytes.fromhex("1626ba7e")
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
) -> dict[str, Any]:
    return {
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


def verify(doc: Any, rpc: Rpc) -> Report:
    report = Report()
    try:
        if not isinstance(doc, dict) or doc.get("format") != FORMAT or doc.get("version") != VERSION:
            raise InvalidInput(f"format must be {FORMAT!r} version {VERSION}", field="format")
        terms = ag.Terms.from_json(doc["agreement"]["terms"])
        agreement_id = bytes.fromhex(str(doc["agreement"]["id"])[2:])
        details = doc["agreement"]["details"]
        sigs = [
            (int(s["partyId"]), to_checksum_address(s["signer"]), bytes.fromhex(str(s["signature"])[2:]))
            for s in doc["signatures"]
        ]
        parties = {int(p["partyId"]): p for p in doc["parties"]}
        chain_id, contract = int(doc["chain"]["chainId"]), to_checksum_address(doc["chain"]["contract"])
        an = doc["anchor"]
        block_number, block_hash, block_time = (
            int(an["blockNumber"]),
            str(an["blockHash"]).lower(),
            int(an["blockTimestamp"]),
        )
        tx_hash = str(an["transactionHash"])
        if len(agreement_id) != 32 or not sigs:
            raise ValueError("agreement id or signatures")
    except (InvalidInput, KeyError, TypeError, ValueError) as exc:
        report.add("format", False, "", f"the certificate is malformed ({exc})")
        return report
    report.add("format", True, f"{FORMAT} version {VERSION}", "")

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
    report.add(
        "agreement-id",
        terms.agreement_id(domain) == agreement_id,
        "the EIP-712 struct hash of the terms is the agreement id",
        "the terms do not hash to the agreement id",
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
        "the contract holds the agreement as effective from this block",
        "the contract does not hold this agreement as effective from the certificate's block",
    )

    _check_parties(report, rpc, contract, sigs, parties, block_number)
    return report


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
