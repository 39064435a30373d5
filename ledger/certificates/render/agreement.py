"""Human-readable renderings of an agreement certificate (``ledger.certificates.agreement``): a bilingual
(Chinese / English) A4 PDF and a self-contained HTML page.

The JSON certificate stays the evidence; these renderings print the agreement, its parties and signers, the
signed terms and the committed details, the chain, transaction and block, how to verify, and the verification
page's address (as text and, in the PDF, a QR code). Both are deterministic: the same certificate and URL give
the same bytes. The PDF is laid out with :mod:`ledger.certificates.render.layout`; every value is escaped.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from html import escape
from typing import Any

from reportlab.lib.units import mm
from reportlab.platypus import Flowable, Paragraph, Spacer

from ledger.certificates.agreement import FORMAT, VERSION
from ledger.certificates.render.layout import (
    QrFlowable,
    Row,
    Styles,
    document,
    heading,
    mixed,
    qr_matrix,
    register_fonts,
    table,
)
from ledger.domain import agreements as ag

__all__ = ["KIND_ZH", "LABELS", "kind_zh", "render_html", "render_pdf"]

#: (path in the certificate, Chinese label, English label) of the HTML page's summary rows.
LABELS = [
    ("agreement.id", "协议编号", "Agreement id"),
    ("agreement.kind", "协议类型", "Type"),
    ("chain.chainId", "链标识", "Chain id"),
    ("chain.contract", "合约地址", "Contract"),
    ("anchor.transactionHash", "交易哈希", "Transaction"),
    ("anchor.blockNumber", "区块高度", "Block"),
    ("anchor.blockHash", "区块哈希", "Block hash"),
    ("anchor.blockTimestamp", "生效时间 (Unix)", "Took effect (Unix time)"),
]
KIND_ZH = {
    ag.AgreementKind.ASSIGNMENT: "转让",
    ag.AgreementKind.LICENCE: "许可",
    ag.AgreementKind.EQUITY_CONTRIBUTION: "作价入股",
    ag.AgreementKind.PLEDGE: "质押",
}


def kind_zh(word: str) -> str:
    """The Chinese caption of an agreement kind given by its word (``"licence"``); empty for an unknown word."""
    return next((zh for kind, zh in KIND_ZH.items() if kind.word == word), "")


def render_html(doc: dict[str, Any]) -> str:
    """A bilingual, self-contained HTML rendering of an agreement certificate; every value is escaped."""

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
        rows.append(
            (
                "签署方",
                "Signed by",
                f"{party.get('nameZh', '')} / {party.get('nameEn', '')} (party {s['partyId']}, {s['signer']})",
            )
        )
    body = "".join(
        f"<tr><th>{escape(zh)}<br><small>{escape(en)}</small></th><td><code>{escape(v)}</code></td></tr>"
        for zh, en, v in rows
    )
    terms = escape(json.dumps(doc["agreement"]["terms"], ensure_ascii=False, indent=1))
    details = escape(json.dumps(doc["agreement"]["details"], ensure_ascii=False, indent=1))
    return (
        '<!doctype html><html lang="zh-Hans"><head><meta charset="utf-8"><title>知识产权协议证书 / IP Agreement Certificate</title>'
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
    verification page's address as text and QR code."""
    register_fonts()
    st = Styles()
    a = doc["agreement"]
    when = int(doc["anchor"]["blockTimestamp"])
    rows = [
        Row("协议编号", "Agreement id", a["id"], mono=True),
        Row("协议类型", "Type", f"{kind_zh(a['kind'])} / {a['kind']}"),
        Row("资产编号", "Asset id", str(a["terms"]["assetId"])),
        Row("生效时间", "Took effect", datetime.fromtimestamp(when, UTC).isoformat()),
        Row(
            "链标识 / 合约", "Chain id / contract", f"{doc['chain']['chainId']} / {doc['chain']['contract']}", mono=True
        ),
        Row("交易哈希", "Transaction", doc["anchor"]["transactionHash"], mono=True),
        Row("区块", "Block", f"{doc['anchor']['blockNumber']} {doc['anchor']['blockHash']}", mono=True),
    ]
    parties = []
    for s in doc["signatures"]:
        p: dict[str, Any] = next((x for x in doc["parties"] if x["partyId"] == s["partyId"]), {})
        parties.append(
            Row(
                "签署方",
                "Signed by",
                f"{p.get('nameZh', '')} / {p.get('nameEn', '')} — party {s['partyId']}, "
                f"{p.get('identifierScheme', '')} {p.get('identifier', '')}, account {s['signer']}",
            )
        )
    terms = [Row(k, k, json.dumps(v, ensure_ascii=False), mono=True) for k, v in a["terms"].items()]
    details = [Row(k, k, json.dumps(v, ensure_ascii=False)) for k, v in a["details"].items()]
    story: list[Flowable] = [
        Paragraph("知识产权协议证书", st.title_zh),
        Paragraph("IP Agreement Certificate", st.title_en),
        Paragraph(f"{FORMAT} v{VERSION}", st.subtitle),
        Spacer(0, 4),
        heading("协议", "Agreement", st),
        table(rows, st),
        heading("签署方", "Parties", st),
        table(parties, st),
        heading("条款", "Terms (signed, EIP-712)", st),
        table(terms, st),
        heading("条款详情", "Details (committed by detailsHash)", st),
        table(details or [Row("—", "—", "—")], st),
        heading("如何验证", "How to verify", st),
        Paragraph(
            mixed("以任一区块链节点核验：ipledger verify certificate.json --rpc-url URL；算法见 docs/agreements.md。"),
            st.body_zh,
        ),
        Paragraph(
            "Against any JSON-RPC endpoint of the chain: ipledger verify certificate.json --rpc-url URL; "
            "the algorithm is in docs/agreements.md.",
            st.body_en,
        ),
        Paragraph(verify_url, st.url),
        QrFlowable(qr_matrix(verify_url), 30 * mm),
    ]
    buf = io.BytesIO()
    document(buf, title="知识产权协议证书 / IP Agreement Certificate").build(story)
    return buf.getvalue()
