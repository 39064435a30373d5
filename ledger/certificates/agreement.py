"""Agreement certificates: a versioned JSON document that lets an arbitrator check, with only a JSON-RPC
endpoint and hashing/signature libraries, that an agreement took effect on chain, when, on which terms,
and that every party signed those exact terms. Specified in docs/agreements.md.

Checks (each passed/failed, like evidence certificates): format, details (SHA-256 of the canonical details
equals the terms' detailsHash), agreement-id (EIP-712 struct hash of the terms), signatures (each party's
EIP-712 signature over the terms; ERC-1271 wallets through eth_call), chain, block, transaction
(AgreementExecuted and one AgreementSigned per signature from the contract), record (the contract's stored
agreement), parties (each signer belonged to its active party at the block; profiles match).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
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
    _bytes,
    _int,
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
AGREEMENT_TUPLE = "(uint8,uint8,uint8,bool,uint64,uint64,uint64,uint64,uint256,uint256,bytes32,bytes32,uint256[],uint256[])"


def build(*, agreement_id: str, terms: dict[str, Any], details: dict[str, Any], signatures: dict[str, dict[str, str]],
          parties: dict[int, dict[str, Any]], chain_id: int, contract: str, tx_hash: str, block_number: int,
          block_hash: str, block_timestamp: int) -> dict[str, Any]:  # fmt: skip
    return {
        "format": FORMAT,
        "version": VERSION,
        "agreement": {"id": agreement_id, "kind": ag.AgreementKind(terms["kind"]).word, "terms": terms, "details": details},
        "signatures": [{"partyId": int(pid), **sig} for pid, sig in sorted(signatures.items(), key=lambda kv: int(kv[0]))],
        "parties": [{"partyId": pid, **{k: p[k] for k in ("identifierScheme", "identifier", "nameZh", "nameEn")}} for pid, p in sorted(parties.items())],
        "chain": {"chainId": chain_id, "contract": contract},
        "anchor": {"transactionHash": tx_hash.lower(), "blockNumber": block_number, "blockHash": block_hash.lower(),
                   "blockTimestamp": block_timestamp},  # fmt: skip
    }


def verify(doc: Any, rpc: Rpc) -> Report:
    report = Report()
    try:
        if not isinstance(doc, dict) or doc.get("format") != FORMAT or doc.get("version") != VERSION:
            raise InvalidInput(f"format must be {FORMAT!r} version {VERSION}", field="format")
        terms = ag.Terms.from_json(doc["agreement"]["terms"])
        agreement_id = bytes.fromhex(str(doc["agreement"]["id"])[2:])
        details = doc["agreement"]["details"]
        sigs = [(int(s["partyId"]), to_checksum_address(s["signer"]), bytes.fromhex(str(s["signature"])[2:])) for s in doc["signatures"]]
        parties = {int(p["partyId"]): p for p in doc["parties"]}
        chain_id, contract = int(doc["chain"]["chainId"]), to_checksum_address(doc["chain"]["contract"])
        an = doc["anchor"]
        block_number, block_hash, block_time = int(an["blockNumber"]), str(an["blockHash"]).lower(), int(an["blockTimestamp"])
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
        report.add("details", computed == terms.details_hash, "SHA-256 of the canonical details equals the terms' detailsHash",
                   "the details do not hash to the terms' detailsHash")  # fmt: skip
    domain = ag.assets_domain(chain_id, contract)
    report.add("agreement-id", terms.agreement_id(domain) == agreement_id, "the EIP-712 struct hash of the terms is the agreement id",
               "the terms do not hash to the agreement id")  # fmt: skip
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
                ret = rpc.call(signer, SEL_IS_VALID_SIGNATURE + abi_encode(["bytes32", "bytes"], [digest, sig]), block_number)
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
    report.add("signatures", not bad, f"all {len(sigs)} parties signed these exact terms (EIP-712)",
               f"the signatures of parties {bad} do not verify for these terms")  # fmt: skip

    block = rpc.block(block_number)
    ok = block is not None and str(block["hash"]).lower() == block_hash and _int(block["timestamp"]) == block_time
    report.add("block", ok, f"block {block_number} has the certificate's hash and timestamp", f"block {block_number} differs from the certificate")

    receipt = rpc.receipt(tx_hash)
    executed, signed = False, set()
    if receipt is not None and _int(receipt.get("status", "0x0")) == 1 and str(receipt["blockHash"]).lower() == block_hash:
        for log in receipt.get("logs", []):
            if str(log["address"]).lower() != contract.lower():
                continue
            topics = [_bytes(t) for t in log["topics"]]
            if topics[0] == AGREEMENT_EXECUTED_TOPIC and topics[1] == agreement_id:
                executed = int.from_bytes(topics[2], "big") == terms.asset_id and int.from_bytes(topics[3], "big") == terms.kind
            if topics[0] == AGREEMENT_SIGNED_TOPIC and topics[1] == agreement_id:
                signer = to_checksum_address(abi_decode(["address"], _bytes(log["data"]))[0])
                signed.add((int.from_bytes(topics[2], "big"), signer))
    expected = {(pid, signer) for pid, signer, _ in sigs}
    report.add("transaction", executed and signed == expected,
               "AgreementExecuted and one AgreementSigned per party are in the transaction, from the contract",
               "the transaction does not carry AgreementExecuted and exactly these parties' AgreementSigned events")  # fmt: skip

    try:
        (g,) = abi_decode([AGREEMENT_TUPLE], rpc.call(contract, SEL_AGREEMENT + agreement_id))
        ok = g[0] == terms.kind and g[1] != ag.AgreementStatus.NONE and g[6] == block_time and g[8] == terms.asset_id
    except Exception:
        ok = False
    report.add("record", ok, "the contract holds the agreement as effective from this block",
               "the contract does not hold this agreement as effective from the certificate's block")  # fmt: skip

    _check_parties(report, rpc, contract, sigs, parties, block_number)
    return report


def _domain_separator(domain: Any) -> bytes:
    return bytes(keccak(
        keccak(text="EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)")
        + keccak(text=domain.name) + keccak(text=domain.version)
        + abi_encode(["uint256", "address"], [domain.chain_id, to_checksum_address(domain.verifying_contract)])
    ))  # fmt: skip


def _check_parties(report: Report, rpc: Rpc, contract: str, sigs: Sequence[tuple[int, str, bytes]],
                   parties: dict[int, dict[str, Any]], block_number: int) -> None:  # fmt: skip
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
            stated.get("identifierScheme"), stated.get("identifier"), stated.get("nameZh"), stated.get("nameEn"))
        if got != pid or not active or not same:
            problems.append(pid)
    report.add("parties", not problems, "every signer belonged to its active party at the block, as the certificate names them",
               f"parties {problems} do not match the registry at the block")  # fmt: skip


LABELS = [
    ("agreement.id", "协议编号", "Agreement id"), ("agreement.kind", "协议类型", "Type"),
    ("chain.chainId", "链标识", "Chain id"), ("chain.contract", "合约地址", "Contract"),
    ("anchor.transactionHash", "交易哈希", "Transaction"), ("anchor.blockNumber", "区块高度", "Block"),
    ("anchor.blockHash", "区块哈希", "Block hash"), ("anchor.blockTimestamp", "生效时间 (Unix)", "Took effect (Unix time)"),
]  # fmt: skip
KIND_ZH = {ag.AgreementKind.ASSIGNMENT: "转让", ag.AgreementKind.LICENCE: "许可", ag.AgreementKind.EQUITY_CONTRIBUTION: "作价入股",
           ag.AgreementKind.PLEDGE: "质押"}  # fmt: skip


def kind_zh(word: str) -> str:
    """The Chinese caption of an agreement kind given by its word (``"licence"``); empty for an unknown word."""
    return next((zh for kind, zh in KIND_ZH.items() if kind.word == word), "")


def render_html(doc: dict[str, Any]) -> str:
    """A bilingual, self-contained HTML rendering of an agreement certificate; every value is escaped."""
    import json
    from datetime import UTC, datetime
    from html import escape

    def get(path: str) -> Any:
        value: Any = doc
        for part in path.split("."):
            value = value[part]
        return value

    rows = [(zh, en, str(get(path))) for path, zh, en in LABELS]
    rows[1] = (rows[1][0], rows[1][1], f"{kind_zh(rows[1][2])} / {rows[1][2]}")
    when = datetime.fromtimestamp(int(doc["anchor"]["blockTimestamp"]), UTC).isoformat()
    rows.append(("生效时间 (UTC)", "Took effect (UTC)", when))
    for s in doc["signatures"]:
        party: dict[str, Any] = next((p for p in doc["parties"] if p["partyId"] == s["partyId"]), {})
        rows.append(("签署方", "Signed by", f"{party.get('nameZh', '')} / {party.get('nameEn', '')} (party {s['partyId']}, {s['signer']})"))
    body = "".join(f"<tr><th>{escape(zh)}<br><small>{escape(en)}</small></th><td><code>{escape(v)}</code></td></tr>" for zh, en, v in rows)
    terms = escape(json.dumps(doc["agreement"]["terms"], ensure_ascii=False, indent=1))
    details = escape(json.dumps(doc["agreement"]["details"], ensure_ascii=False, indent=1))
    return (
        "<!doctype html><html lang=\"zh-Hans\"><head><meta charset=\"utf-8\"><title>知识产权协议证书 / IP Agreement Certificate</title>"
        "<style>body{font-family:sans-serif;max-width:60rem;margin:2rem auto}th{text-align:left;vertical-align:top;padding:.3rem 1rem .3rem 0}"
        "code,pre{word-break:break-all;white-space:pre-wrap}</style></head><body>"
        "<h1>知识产权协议证书<br><small>IP Agreement Certificate</small></h1>"
        f"<table>{body}</table><h2>条款 / Terms</h2><pre>{terms}</pre><h2>条款详情 / Details</h2><pre>{details}</pre>"
        "<p>核验：以任一区块链节点执行 <code>ipledger verify certificate.json --rpc-url URL</code>；算法见 docs/agreements.md。<br>"
        "To verify: <code>ipledger verify certificate.json --rpc-url URL</code> against any JSON-RPC endpoint of the chain; "
        "the algorithm is in docs/agreements.md.</p></body></html>"
    )


def render_pdf(doc: dict[str, Any], *, verify_url: str) -> bytes:
    """A bilingual A4 PDF of an agreement certificate (deterministic for the same input), with the
    verification page's address as text and QR code. Uses the evidence certificate's layout helpers."""
    import io
    import json
    from datetime import UTC, datetime

    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer

    from ledger.certificates.render import pdf as cp

    cp._register_fonts()  # noqa: SLF001 - shared layout of the two certificate kinds
    st = cp._Styles()  # noqa: SLF001
    a = doc["agreement"]
    when = int(doc["anchor"]["blockTimestamp"])
    rows = [
        cp._Row("协议编号", "Agreement id", a["id"], mono=True),  # noqa: SLF001
        cp._Row("协议类型", "Type", f"{kind_zh(a['kind'])} / {a['kind']}"),  # noqa: SLF001
        cp._Row("资产编号", "Asset id", str(a["terms"]["assetId"])),  # noqa: SLF001
        cp._Row("生效时间", "Took effect", datetime.fromtimestamp(when, UTC).isoformat()),  # noqa: SLF001
        cp._Row("链标识 / 合约", "Chain id / contract", f"{doc['chain']['chainId']} / {doc['chain']['contract']}", mono=True),  # noqa: SLF001
        cp._Row("交易哈希", "Transaction", doc["anchor"]["transactionHash"], mono=True),  # noqa: SLF001
        cp._Row("区块", "Block", f"{doc['anchor']['blockNumber']} {doc['anchor']['blockHash']}", mono=True),  # noqa: SLF001
    ]
    parties = []
    for s in doc["signatures"]:
        p: dict[str, Any] = next((x for x in doc["parties"] if x["partyId"] == s["partyId"]), {})
        parties.append(cp._Row("签署方", "Signed by", f"{p.get('nameZh', '')} / {p.get('nameEn', '')} — party {s['partyId']}, "  # noqa: SLF001
                               f"{p.get('identifierScheme', '')} {p.get('identifier', '')}, account {s['signer']}"))  # fmt: skip
    terms = [cp._Row(k, k, json.dumps(v, ensure_ascii=False), mono=True) for k, v in a["terms"].items()]  # noqa: SLF001
    details = [cp._Row(k, k, json.dumps(v, ensure_ascii=False)) for k, v in a["details"].items()]  # noqa: SLF001
    story = [
        Paragraph("知识产权协议证书", st.title_zh),
        Paragraph("IP Agreement Certificate", st.title_en),
        Paragraph(f"{FORMAT} v{VERSION}", st.subtitle),
        Spacer(0, 4),
        cp._heading("协议", "Agreement", st), cp._table(rows, st),  # noqa: SLF001
        cp._heading("签署方", "Parties", st), cp._table(parties, st),  # noqa: SLF001
        cp._heading("条款", "Terms (signed, EIP-712)", st), cp._table(terms, st),  # noqa: SLF001
        cp._heading("条款详情", "Details (committed by detailsHash)", st), cp._table(details or [cp._Row("—", "—", "—")], st),  # noqa: SLF001
        cp._heading("如何验证", "How to verify", st),
        Paragraph(cp._mixed("以任一区块链节点核验：ipledger verify certificate.json --rpc-url URL；算法见 docs/agreements.md。"), st.body_zh),  # noqa: SLF001
        Paragraph("Against any JSON-RPC endpoint of the chain: ipledger verify certificate.json --rpc-url URL; "
                  "the algorithm is in docs/agreements.md.", st.body_en),  # fmt: skip
        Paragraph(verify_url, st.url),
        cp._QrFlowable(cp.qr_matrix(verify_url), 30 * mm),  # noqa: SLF001
    ]  # fmt: skip
    buf = io.BytesIO()
    template = SimpleDocTemplate(buf, pagesize=A4, leftMargin=cp._MARGIN, rightMargin=cp._MARGIN, topMargin=cp._MARGIN,  # noqa: SLF001
                                 bottomMargin=cp._MARGIN, title="知识产权协议证书 / IP Agreement Certificate", invariant=1)  # noqa: SLF001  # fmt: skip
    template.build(story)
    return buf.getvalue()
