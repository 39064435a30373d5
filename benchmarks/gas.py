"""Measures 1-3: gas of our registrations and batch anchors against EAS on the same node (receipts' gasUsed)."""

from __future__ import annotations

import os
import statistics
from typing import Any

from eth_abi import encode as abi_encode
from eth_account.messages import encode_typed_data
from eth_utils import keccak, to_checksum_address

from benchmarks.env import BenchChain
from benchmarks.report import Result
from ledger.chain.artifacts import load_artifact
from ledger.chain.sender import SentTransaction, TxSender
from ledger.domain import merkle
from ledger.domain.eip712 import EIP712_DOMAIN_TYPE
from ledger.domain.evidence import sign_single

SHA256 = 1
ZERO32 = b"\0" * 32
ZERO_ADDR = "0x" + "00" * 20

EAS_ATTEST_TYPE = [
    {"name": "attester", "type": "address"},
    {"name": "schema", "type": "bytes32"},
    {"name": "recipient", "type": "address"},
    {"name": "expirationTime", "type": "uint64"},
    {"name": "revocable", "type": "bool"},
    {"name": "refUID", "type": "bytes32"},
    {"name": "data", "type": "bytes"},
    {"name": "value", "type": "uint256"},
    {"name": "nonce", "type": "uint256"},
    {"name": "deadline", "type": "uint64"},
]


def fresh() -> bytes:
    return os.urandom(32)


def _gas(sent: SentTransaction | str) -> int:
    assert isinstance(sent, SentTransaction)
    return sent.gas_used


# --- 1: direct registration vs EAS timestamp ---------------------------------------------------------


def direct_vs_timestamp(c: BenchChain, n: int) -> Result:
    party = c.party_sender
    reg = lambda: _gas(party.send_call(c.evidence.functions.register((fresh(), SHA256, fresh(), ZERO32))))  # noqa: E731
    stamp = lambda: _gas(party.send_call(c.eas.functions.timestamp(fresh())))  # noqa: E731
    reg(), stamp()  # warm-up (not counted): same account, same contracts
    ours, peer = [], []
    for i in range(n):  # interleaved; gas is deterministic but this keeps both under the same chain state
        for f, out in ((reg, ours), (stamp, peer)) if i % 2 == 0 else ((stamp, peer), (reg, ours)):
            out.append(f())
    return Result(
        "1",
        "gas, one registration by a party account (`register`)",
        ours=statistics.mean(ours),
        unit="gas",
        peer=statistics.mean(peer),
        peer_label="EAS `timestamp(bytes32)`",
        kind="peer",
        op="<=",
        target=1.15,
        note=f"mean of {n} fresh hashes each (first write to the slot); all: ours {sorted(set(ours))}, EAS {sorted(set(peer))}",
    )


# --- 2: relayed registration by signature vs EAS attestByDelegation -----------------------------------


class EasDelegation:
    """EIP-712 delegated attestations for EAS, checked against the contract's own domain and typehash."""

    def __init__(self, c: BenchChain) -> None:
        self.c = c
        eas = c.eas
        self.domain = {
            "name": eas.functions.getName().call(),
            "version": eas.functions.version().call(),
            "chainId": int(c.w3.eth.chain_id),
            "verifyingContract": to_checksum_address(eas.address),
        }
        type_string = "Attest(" + ",".join(f"{f['type']} {f['name']}" for f in EAS_ATTEST_TYPE) + ")"
        if keccak(text=type_string) != bytes(eas.functions.getAttestTypeHash().call()):
            raise RuntimeError("EAS attest typehash differs from the type used here")
        separator = keccak(
            keccak(text="EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)")
            + keccak(text=self.domain["name"])
            + keccak(text=self.domain["version"])
            + abi_encode(["uint256", "address"], [self.domain["chainId"], self.domain["verifyingContract"]])
        )
        if separator != bytes(eas.functions.getDomainSeparator().call()):
            raise RuntimeError("EAS domain separator differs from the domain used here")

    def request(self, attester: Any, content_hash: bytes, algorithm: int, metadata: bytes, deadline: int) -> tuple:
        data = abi_encode(["bytes32", "uint8", "bytes32"], [content_hash, algorithm, metadata])
        return self.request_data(attester, self.c.schema_uid, data, deadline)

    def request_data(self, attester: Any, schema_uid: bytes, data: bytes, deadline: int) -> tuple:
        eas = self.c.eas
        nonce = int(eas.functions.getNonce(attester.address).call())
        message = {
            "attester": attester.address,
            "schema": schema_uid,
            "recipient": ZERO_ADDR,
            "expirationTime": 0,
            "revocable": True,
            "refUID": ZERO32,
            "data": data,
            "value": 0,
            "nonce": nonce,
            "deadline": deadline,
        }
        full = {
            "types": {"EIP712Domain": EIP712_DOMAIN_TYPE, "Attest": EAS_ATTEST_TYPE},
            "primaryType": "Attest",
            "domain": self.domain,
            "message": message,
        }
        sig = attester.sign_message(encode_typed_data(full_message=full))
        return (
            schema_uid,
            (ZERO_ADDR, 0, True, ZERO32, data, 0),
            (sig.v, sig.r.to_bytes(32, "big"), sig.s.to_bytes(32, "big")),
            attester.address,
            deadline,
        )


def relayed_vs_delegated(c: BenchChain, n: int) -> Result:
    relayer: TxSender = c.sender
    eas = EasDelegation(c)
    deadline = c.now() + 3600

    def ours() -> int:
        req = sign_single(
            c.party,
            c.domain(),
            binding=fresh(),
            algorithm=SHA256,
            nonce=0,
            deadline=deadline,
            metadata_commitment=fresh(),
        )
        return _gas(relayer.send_call(c.evidence.functions.registerBySignature(req.as_args())))

    def peer() -> int:
        req = eas.request(c.party, fresh(), SHA256, fresh(), deadline)
        return _gas(relayer.send_call(c.eas.functions.attestByDelegation(req)))

    ours(), peer()  # warm-up: EAS's nonce slot of the attester becomes non-zero, as in steady use
    o, p = [], []
    for i in range(n):
        for f, out in ((ours, o), (peer, p)) if i % 2 == 0 else ((peer, p), (ours, o)):
            out.append(f())
    return Result(
        "2",
        "gas, one registration by signature (`registerBySignature`, relayed)",
        ours=statistics.mean(o),
        unit="gas",
        peer=statistics.mean(p),
        peer_label="EAS `attestByDelegation`, same fields as schema data",
        kind="peer",
        op="<=",
        target=0.25,
        note=f"mean of {n} each, relayed by the operator; EAS schema `{c.schema_uid.hex()[:10]}…` "
        f"(revocable, no resolver); all: ours {sorted(set(o))}, EAS {sorted(set(p))}",
    )


# --- 3: batch anchors per item vs EAS multiTimestamp ------------------------------------------------


def multi_timestamp_per_item(c: BenchChain, items: int = 100) -> float:
    c.party_sender.send_call(c.eas.functions.multiTimestamp([fresh() for _ in range(4)]))  # warm-up
    sent = c.party_sender.send_call(c.eas.functions.multiTimestamp([fresh() for _ in range(items)]))
    return _gas(sent) / items


def anchor_per_item(c: BenchChain, items: int) -> tuple[float, int]:
    """One ``anchorBatch`` for the RFC 9162 root over ``items`` leaf hashes."""
    tree = merkle.MerkleTree(merkle.leaf_hash(fresh()) for _ in range(items))
    gas = _gas(c.sender.send_call(c.evidence.functions.anchorBatch(tree.root, items)))
    return gas / items, gas


def batch_per_item(c: BenchChain, sizes: list[tuple[int, float]], eas_items: int = 100) -> list[Result]:
    c.sender.send_call(c.evidence.functions.anchorBatch(fresh(), 1))  # warm-up
    eas = multi_timestamp_per_item(c, eas_items)
    out = []
    for size, limit in sizes:
        per_item, gas = anchor_per_item(c, size)
        out.append(
            Result(
                "3",
                f"gas per item, batch of {size:,} items (one `anchorBatch`)",
                ours=per_item,
                unit="gas/item",
                peer=limit,
                peer_label=f"EAS `multiTimestamp` ({eas_items} items): {eas:,.0f} gas/item",
                kind="limit",
                op="<=",
                target=1.0,
                ratio=per_item / limit,
                note=f"anchor transaction {gas:,} gas for the root of a {size:,}-leaf tree",
            )
        )
    return out


# --- where the gas goes ----------------------------------------------------------------------------------


def breakdown(c: BenchChain, fn: Any, sender: str) -> dict[str, int]:
    """Gas of one call by category, from ``debug_traceCall`` at the latest block (the same execution a
    transaction would have): intrinsic (21,000 + calldata), storage writes/reads, logs, the ECDSA
    precompile, hashing, and everything else. Each top-level step costs the gas left before it minus the
    gas left before the next top-level step, so calls include what their callee used."""
    tx = fn.build_transaction({"from": sender, "gas": 1_000_000, "nonce": 0, "chainId": c.manifest.chain_id})
    call = {"from": sender, "to": tx["to"], "data": tx["data"], "gas": hex(1_000_000)}
    opts = {"disableStorage": True, "disableMemory": True, "disableStack": True}
    trace = c.w3.provider.make_request("debug_traceCall", [call, "latest", opts])["result"]  # type: ignore[arg-type]
    steps = [s for s in trace["structLogs"] if s["depth"] == 1]
    cats: dict[str, int] = {}

    def add(cat: str, gas: int) -> None:
        cats[cat] = cats.get(cat, 0) + gas

    for a, b in zip(steps, steps[1:], strict=False):
        op, cost = a["op"], a["gas"] - b["gas"]
        if op == "SSTORE":
            add("SSTORE", cost)
        elif op == "SLOAD":
            add("SLOAD", cost)
        elif op.startswith("LOG"):
            add("LOG", cost)
        elif op in ("STATICCALL", "CALL") and cost >= 3000:
            add("ecrecover / calls", cost)
        elif op == "KECCAK256":
            add("KECCAK256", cost)
        else:
            add("other execution", cost)
    if steps:
        add("other execution", steps[-1]["gasCost"])
    data = bytes.fromhex(tx["data"][2:])
    nonzero = sum(1 for x in data if x)
    add("intrinsic: 21,000 base", 21_000)
    add(f"intrinsic: calldata ({len(data)} bytes)", 16 * nonzero + 4 * (len(data) - nonzero))
    cats["total (trace)"] = int(trace["gas"])
    return cats


def breakdown_table(c: BenchChain) -> str:
    """Markdown: the gas of rows 1 and 2 by category, ours beside EAS."""
    deadline = c.now() + 3600
    eas = EasDelegation(c)
    req = sign_single(
        c.party, c.domain(), binding=fresh(), algorithm=SHA256, nonce=0, deadline=deadline, metadata_commitment=fresh()
    )
    columns = {
        "`register`": breakdown(c, c.evidence.functions.register((fresh(), SHA256, fresh(), ZERO32)), c.party.address),
        "EAS `timestamp`": breakdown(c, c.eas.functions.timestamp(fresh()), c.party.address),
        "`registerBySignature`": breakdown(
            c, c.evidence.functions.registerBySignature(req.as_args()), c.sender.address
        ),
        "EAS `attestByDelegation`": breakdown(
            c,
            c.eas.functions.attestByDelegation(eas.request(c.party, fresh(), SHA256, fresh(), deadline)),
            c.sender.address,
        ),
    }
    cats: list[str] = []
    for col in columns.values():
        for k in col:
            key = k.split(" (")[0] if k.startswith("intrinsic: calldata") else k
            if key not in cats:
                cats.append(key)
    cats.sort(key=lambda k: (k.startswith("total"), not k.startswith("intrinsic"), k))

    def cell(col: dict[str, int], cat: str) -> str:
        for k, v in col.items():
            if k == cat or (cat == "intrinsic: calldata" and k.startswith(cat)):
                return f"{v:,}" + (f" ({k.split('(')[1]}" if cat == "intrinsic: calldata" else "")
        return "0"

    lines = ["| gas by category | " + " | ".join(columns) + " |", "|---|" + "---|" * len(columns)]
    lines += [f"| {cat} | " + " | ".join(cell(col, cat) for col in columns.values()) + " |" for cat in cats]
    return "\n".join(lines)


# --- 9: agreements taking effect, against an EAS delegated attestation of the same terms ----------------

TERMS_SCHEMA = (
    "uint8 kind,uint256 assetId,uint256[] grantees,uint16[] shares,uint8 licenceType,uint256 territory,"
    "bytes32 fieldOfUse,bool sublicensable,bytes32 parentLicence,uint64 start,uint64 end,bytes32 documentHash,"
    "bytes32 detailsHash"
)
TERMS_ABI = [
    "uint8",
    "uint256",
    "uint256[]",
    "uint16[]",
    "uint8",
    "uint256",
    "bytes32",
    "bool",
    "bytes32",
    "uint64",
    "uint64",
    "bytes32",
    "bytes32",
]


def agreements(c: BenchChain) -> list[Result]:
    """A two-party licence and an assignment taking effect (`execute` with both signatures, relayed), against
    EAS `attestByDelegation` carrying the same terms as one attestation (one attester: EAS has no notion of
    every party signing, so the peer does less)."""
    from eth_account import Account

    from ledger.domain import agreements as ag
    from ledger.domain import eip712
    from ledger.domain.territory import to_mask

    assets = c.w3.eth.contract(
        address=c.manifest.address("IPAssetRegistry"), abi=load_artifact("IPAssetRegistry")["abi"]
    )
    domain = ag.assets_domain(c.manifest.chain_id, assets.address)
    uni, firm = Account.from_key(keccak(text="bench:uni")), Account.from_key(keccak(text="bench:firm"))
    p_uni, p_firm = c.admit([uni.address], "BENCH-UNI-1"), c.admit([firm.address], "BENCH-FIRM-1")
    verifier = Account.from_key(keccak(text="bench:verifier"))
    c.admit_by_council([verifier.address], "BENCH-VERIFIER-1", kind=6)  # an asset verifier, admitted by governance
    schema_uid = _register_schema(c, TERMS_SCHEMA)
    eas = EasDelegation(c)
    now = c.now()
    confirmations: list[int] = []

    def new_asset(i: int) -> int:
        reg = ag.AssetRegistration(
            1, 1, keccak(text=f"bench-asset-{i}-{fresh().hex()}"), (p_uni,), (10_000,), fresh(), now + 3600
        )
        c.sender.send_call(
            assets.functions.registerAsset(reg.as_tuple(), [(uni.address, eip712.sign(reg.message(domain), uni))])
        )
        asset = int(assets.functions.assetCount().call())
        # the verifier's confirmation, relayed: nothing is executed on an unconfirmed claim
        extract = fresh()
        sig = eip712.sign(ag.confirmation_message(domain, asset, extract, now + 3600), verifier)
        confirmations.append(
            _gas(c.sender.send_call(assets.functions.confirmAsset(asset, extract, verifier.address, now + 3600, sig)))
        )
        return asset

    def ours(kind: int, asset: int) -> int:
        if kind == ag.AgreementKind.LICENCE:
            t = ag.Terms(
                kind,
                asset,
                (p_firm,),
                (),
                int(ag.LicenceType.EXCLUSIVE),
                to_mask(["CN"]),
                ZERO32,
                False,
                ZERO32,
                now,
                now + 365 * 86400,
                fresh(),
                fresh(),
                fresh(),
                now + 3600,
            )
        else:
            t = ag.Terms(
                kind,
                asset,
                (p_firm,),
                (10_000,),
                document_hash=fresh(),
                details_hash=fresh(),
                salt=fresh(),
                deadline=now + 3600,
            )
        msg = t.message(domain)
        sigs = [(uni.address, eip712.sign(msg, uni)), (firm.address, eip712.sign(msg, firm))]
        return _gas(c.sender.send_call(assets.functions.execute(t.as_tuple(), sigs)))

    def peer(kind: int, asset: int) -> int:
        values = [
            kind,
            asset,
            [p_firm],
            [10_000] if kind == ag.AgreementKind.ASSIGNMENT else [],
            int(ag.LicenceType.EXCLUSIVE) if kind == ag.AgreementKind.LICENCE else 0,
            to_mask(["CN"]),
            ZERO32,
            False,
            ZERO32,
            now,
            now + 365 * 86400,
            fresh(),
            fresh(),
        ]
        data = abi_encode(TERMS_ABI, values)
        req = eas.request_data(uni, schema_uid, data, now + 3600)
        return _gas(c.sender.send_call(c.eas.functions.attestByDelegation(req)))

    out = []
    for kind, label, limit in (
        (ag.AgreementKind.LICENCE, "a two-party exclusive licence taking effect", 250_000),
        (ag.AgreementKind.ASSIGNMENT, "an assignment taking effect", 200_000),
    ):
        ours(kind, new_asset(0)), peer(kind, 0)  # warm-up
        o = [ours(kind, new_asset(i)) for i in range(1, 4)]
        p = [peer(kind, i) for i in range(1, 4)]
        out.append(
            Result(
                "9",
                f"gas, {label} (`execute`, both parties' EIP-712 signatures, relayed)",
                ours=statistics.mean(o),
                unit="gas",
                peer=float(limit),
                peer_label=f"EAS `attestByDelegation` of the same terms (one signer): {statistics.mean(p):,.0f} gas",
                kind="limit",
                op="<=",
                target=1.0,
                ratio=statistics.mean(o) / limit,
                note=f"ours ÷ EAS = {statistics.mean(o) / statistics.mean(p):.2f}× (EAS records one attester's statement; ours "
                f"checks both parties' signatures and the title rules and moves or encumbers the title)",
            )
        )
    measured = confirmations[1:]  # the first one (warm-up) also pays for the verifier's first touches
    out.append(
        Result(
            "9",
            "gas, an asset verifier confirming a claim (`confirmAsset`, its EIP-712 signature, relayed)",
            ours=statistics.mean(measured),
            unit="gas",
            peer=100_000.0,
            peer_label="limit 100,000 gas (no peer operation)",
            kind="limit",
            op="<=",
            target=1.0,
            ratio=statistics.mean(measured) / 100_000,
            note=f"reported beside the agreements: a claim is confirmed once before anything is executed on it; all: {measured}",
        )
    )
    return out


def _register_schema(c: BenchChain, schema: str) -> bytes:
    c.sender.send_call(c.schema_registry.functions.register(schema, ZERO_ADDR, True))
    return bytes(keccak(schema.encode() + b"\0" * 20 + b"\x01"))
