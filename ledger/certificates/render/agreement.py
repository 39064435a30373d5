"""Human-readable renderings of an agreement certificate (``ledger.certificates.agreement``): a bilingual
(Chinese / English) A4 PDF and a self-contained HTML page with the same content.

They read in words, each fact in Chinese and in English: a statement of who granted what to whom; the agreement
type (独占许可 / Exclusive licence, …) and its status when issued; the patent (number, title, jurisdiction, kind,
dates); every party by role, name and identifier; the terms (territory by name, field of use, start and end in
ISO 8601 for Asia/Shanghai and UTC, royalty and amounts in figures and words with their currency, recordation);
the chain record; how to verify, with the portal's address of the agreement (as text and, in the PDF, a QR code).
The raw terms and details stay in an appendix, as the JSON certificate carries them. The vocabulary is
:mod:`ledger.certificates.render.words`. Both renderings are deterministic (the same certificate and URL give
the same bytes); the PDF is laid out with :mod:`ledger.certificates.render.layout`; every value is escaped.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape
from typing import Any
from urllib.parse import quote

from reportlab.lib.units import mm
from reportlab.platypus import Flowable, Paragraph, Spacer

from ledger.certificates.agreement import FORMAT, VERSION
from ledger.certificates.render import words as w
from ledger.certificates.render.layout import (
    QrFlowable,
    Row,
    Styles,
    build_pdf,
    heading,
    mixed,
    qr_matrix,
    register_fonts,
    table,
)
from ledger.domain.codes import AgreementKind, LicenceType

__all__ = ["Section", "kind_word", "portal_url", "render_html", "render_pdf", "sections", "statement"]

ZERO32 = "0x" + "00" * 32


def portal_url(base: str, agreement_id: str) -> str:
    """The portal's page of an agreement, which the certificate's QR code opens: ``<base>/?agreement=0x…``
    (docs/portal.md). The portal asks its own API for the agreement, so the id is all the link needs."""
    return f"{base.rstrip('/')}/?agreement={quote(agreement_id, safe='')}"


@dataclass(frozen=True)
class Section:
    """A titled table of the certificate: the same rows in the PDF and in the HTML page."""

    zh: str
    en: str
    rows: list[Row]


def _pair(value: tuple[str, str]) -> str | tuple[str, ...]:
    zh, en = value
    return zh if zh == en else (zh, en)


def _parties(doc: Mapping[str, Any]) -> dict[int, Mapping[str, Any]]:
    return {int(p["partyId"]): p for p in doc.get("parties", [])}


def _roles(doc: Mapping[str, Any]) -> tuple[list[int], list[int], tuple[str, str]]:
    """(grantors, grantees, (grantor role, grantee role)): the grantees are the terms'; the other signers granted."""
    terms = doc["agreement"]["terms"]
    grantees = [int(g) for g in terms.get("grantees", [])]
    signers = [int(s["partyId"]) for s in doc.get("signatures", [])]
    grantors = [p for p in signers if p not in grantees]
    try:
        roles = AgreementKind(int(terms["kind"])).roles
    except (KeyError, ValueError):
        roles = ("grantor", "grantee")
    return grantors, grantees, roles


def _who(doc: Mapping[str, Any], ids: Sequence[int]) -> tuple[str, str]:
    parties = _parties(doc)
    zh, en = [], []
    for pid in ids:
        name, ident = w.party_name(parties.get(pid, {"partyId": pid})), w.identifier(parties.get(pid))
        zh.append(f"{name[0]}（{ident[0]}）" if parties.get(pid) else name[0])
        en.append(f"{name[1]} ({ident[1]})" if parties.get(pid) else name[1])
    return "、".join(zh) or "—", " and ".join(en) or "—"


def _patent(doc: Mapping[str, Any]) -> tuple[str, str]:
    """``发明专利 CN201710601862.3《Battery separator》`` / ``invention patent CN201710601862.3 "Battery separator"``."""
    asset = doc.get("asset") or {}
    aid = doc["agreement"]["terms"].get("assetId")
    if not asset.get("number"):
        return f"资产 {aid}", f"asset {aid}"
    kind = w.word(w.ASSET_KIND, asset.get("kind"))
    title = asset.get("title")
    return (
        f"{kind[0]} {asset['number']}" + (f"《{title}》" if title else ""),
        f"{kind[1].lower()} {asset['number']}" + (f' "{title}"' if title else ""),
    )


def kind_word(doc: Mapping[str, Any]) -> str:
    """The agreement's kind as the parties signed it (``terms.kind``), not as the certificate's label says: a
    label changed after signing does not change what the document prints. The label only when the terms' code
    is not a kind."""
    a = doc["agreement"]
    try:
        return AgreementKind(int(a["terms"]["kind"])).word
    except (KeyError, TypeError, ValueError):
        return str(a.get("kind"))


def _licence_type(terms: Mapping[str, Any]) -> str | None:
    try:
        return LicenceType(int(terms.get("licenceType", 0))).word
    except (TypeError, ValueError):
        return None


def statement(doc: Mapping[str, Any]) -> tuple[str, str]:
    """The agreement in one sentence per language: who granted which patent to whom, where, when and for what."""
    a = doc["agreement"]
    terms, details = a["terms"], a.get("details") or {}
    grantors, grantees, _ = _roles(doc)
    (bzh, ben), (tozh, toen) = _who(doc, grantors), _who(doc, grantees)
    pzh, pen = _patent(doc)
    kind = kind_word(doc)
    if kind == "licence":
        tzh, ten = w.agreement_type("licence", _licence_type(terms))
        zh_where, en_where = w.territory_names(terms.get("territory", "0x0"))
        rzh, ren = w.royalty(details.get("royalty"))
        start, end = terms.get("start"), terms.get("end")
        return (
            f"{bzh}以{tzh}方式，将{pzh}许可给{tozh}实施；地域：{zh_where}；"
            f"期限：自 {w.when(start)} 至 {w.when(end)}；许可费：{rzh}。",
            f"{ben} granted {toen} {'an' if ten[0] in 'AEIOU' else 'a'} {ten.lower()} of {pen} for {en_where}, "
            f"from {w.when(start)} to {w.when(end)}, for a royalty of {ren[:1].lower() + ren[1:]}.",
        )
    if kind == "pledge":
        mzh, men = w.money(details.get("amount", ""), details.get("currency", ""))
        return (
            f"{bzh}将{pzh}出质给{tozh}，担保债权 {mzh}；期限：自 {w.when(terms.get('start'))} 至 "
            f"{w.when(terms.get('end'))}。",
            f"{ben} pledged {pen} to {toen} to secure {men}, from {w.when(terms.get('start'))} to "
            f"{w.when(terms.get('end'))}.",
        )
    if kind == "equity_contribution":
        vzh, ven = w.money(details.get("agreedValue", ""), details.get("currency", ""))
        return (
            f"{bzh}以{pzh}作价 {vzh} 向{tozh}出资入股。",
            f"{ben} contributed {pen} to the capital of {toen} at an agreed value of {ven}.",
        )
    return f"{bzh}将{pzh}转让给{tozh}。", f"{ben} assigned {pen} to {toen}."


def _terms_rows(doc: Mapping[str, Any]) -> list[Row]:
    a = doc["agreement"]
    terms, details = a["terms"], a.get("details") or {}
    kind = kind_word(doc)
    rows: list[Row] = []
    if kind in ("licence", "pledge"):
        start, end = int(terms.get("start") or 0), int(terms.get("end") or 0)
        rows.append(Row("开始", "Start", w.when(start)))
        rows.append(Row("届满", "End", w.when(end) if end else "—"))
        if end > start:
            days = (end - start) // 86400
            rows.append(Row("期限", "Term", (f"{days:,} 天", f"{days:,} days")))
    if kind == "licence":
        rows.append(Row("许可类型", "Licence type", _pair(w.agreement_type("licence", _licence_type(terms)))))
        rows.append(Row("地域", "Territory", _pair(w.territory_names(terms.get("territory", "0x0")))))
        field = str(details.get("fieldOfUse") or "all")
        rows.append(Row("实施领域", "Field of use", ("全部领域", "All fields") if field == "all" else field))
        rows.append(
            Row(
                "可否分许可",
                "Sublicensing",
                ("允许", "Allowed") if terms.get("sublicensable") else ("不允许", "Not allowed"),
            )
        )
        if terms.get("parentLicence") not in (None, ZERO32):
            rows.append(
                Row(
                    "母许可（本协议为分许可）",
                    "Parent licence (this is a sublicence)",
                    terms["parentLicence"],
                    mono=True,
                )
            )
        rows.append(Row("许可费", "Royalty", _pair(w.royalty(details.get("royalty")))))
        recorded = details.get("recordationNumber")
        rows.append(
            Row(
                "备案号 / 备案日",
                "Recordation no. / date",
                f"{recorded} / {details.get('recordationDate') or '—'}"
                if recorded
                else ("尚未在国家知识产权局备案", "Not yet recorded with CNIPA"),
            )
        )
    elif kind == "pledge":
        rows.append(
            Row("担保债权", "Secured amount", _pair(w.money(details.get("amount", ""), details.get("currency", ""))))
        )
        rows.append(Row("质押登记号", "Pledge registration no.", details.get("registrationNumber") or "—"))
    elif kind == "equity_contribution":
        cur = details.get("currency", "")
        for key, zh, en in (
            ("appraisedValue", "评估价值", "Appraised value"),
            ("agreedValue", "作价金额", "Agreed value"),
            ("capitalAmount", "计入注册资本", "Capital amount"),
        ):
            if key in details:
                rows.append(Row(zh, en, _pair(w.money(details[key], cur))))
        if "equityShare" in details:
            rows.append(Row("股权比例", "Equity share", w.percent(int(details["equityShare"]))))
        rows.append(Row("评估机构", "Appraiser", str(details.get("appraiser") or "—")))
        if details.get("appraisalReportHash"):
            rows.append(Row("评估报告 SHA-256", "Appraisal report SHA-256", details["appraisalReportHash"], mono=True))
    elif kind == "assignment":
        shares = [int(s) for s in terms.get("shares", [])]
        parties = _parties(doc)
        for pid, share in zip(terms.get("grantees", []), shares, strict=False):
            zh, en = w.party_name(parties.get(int(pid), {"partyId": pid}))
            rows.append(Row("受让份额", "Share assigned", (f"{zh}：{w.percent(share)}", f"{en}: {w.percent(share)}")))
    rows.append(Row("合同签订日", "Contract date", str(details.get("contractDate") or "—")))
    rows.append(
        Row("合同文件 SHA-256", "Signed contract document (SHA-256)", str(terms.get("documentHash")), mono=True)
    )
    return rows


def sections(doc: Mapping[str, Any]) -> list[Section]:
    """The certificate's content in words, section by section (the PDF and the HTML page print the same)."""
    a = doc["agreement"]
    terms = a["terms"]
    an, chain = doc["anchor"], doc["chain"]
    status = doc.get("status") or {}
    agreement_rows = [
        Row("协议类型", "Agreement type", _pair(w.agreement_type(kind_word(doc), _licence_type(terms)))),
    ]
    if status:
        szh, sen = w.word(w.LEGAL_STATUS, status.get("state"))
        since = f"（{w.when(status['closedAt'])}）" if status.get("closedAt") else ""
        agreement_rows.append(
            Row(
                "出具时法律状态",
                "Legal status when issued",
                (
                    f"{szh}{since}，截至 {w.when(status.get('at'))}",
                    f"{sen}{' since ' + w.when(status['closedAt']) if status.get('closedAt') else ''}, "
                    f"as of {w.when(status.get('at'))}",
                ),
            )
        )
    agreement_rows += [
        Row("生效时间", "Took effect", w.when(an.get("blockTimestamp"))),
        Row("协议编号", "Agreement id", a["id"], mono=True),
    ]

    asset = doc.get("asset") or {}
    patent_rows = [
        Row("专利号", "Patent number", str(asset.get("number") or "—")),
        Row("名称", "Title", str(asset.get("title") or "—")),
        Row("法域", "Jurisdiction", _pair(w.word(w.JURISDICTION, asset.get("jurisdiction"))) if asset else "—"),
        Row("专利类型", "Kind", _pair(w.word(w.ASSET_KIND, asset.get("kind"))) if asset else "—"),
    ]
    if asset.get("filingDate") or asset.get("grantDate"):
        patent_rows.append(
            Row(
                "申请日 / 授权日",
                "Filing / grant date",
                f"{asset.get('filingDate') or '—'} / {asset.get('grantDate') or '—'}",
            )
        )
    patent_rows.append(Row("账本资产编号", "Asset id on the ledger", str(terms.get("assetId"))))

    grantors, grantees, (grantor_role, grantee_role) = _roles(doc)
    parties = _parties(doc)
    signers = {int(s["partyId"]): s.get("signer", "") for s in doc.get("signatures", [])}
    party_rows = []
    for ids, role in ((grantors, grantor_role), (grantees, grantee_role)):
        rzh, ren = w.word(w.ROLE, role)
        for pid in ids:
            p = parties.get(pid, {"partyId": pid})
            (nzh, nen), (izh, ien) = w.party_name(p), w.identifier(p)
            lines = [nzh] if nzh == nen else [nzh, nen]
            lines.append(izh if izh == ien else f"{izh} / {ien}")
            lines.append(f"账本参与方 {pid} · 签署账户 / party {pid} · signed by {signers.get(pid) or '—'}")
            party_rows.append(Row(rzh, ren, tuple(lines)))

    chain_rows = [
        Row("链标识 / 合约", "Chain id / contract", f"{chain['chainId']} / {chain['contract']}", mono=True),
        Row("交易哈希", "Transaction", an["transactionHash"], mono=True),
        Row("区块", "Block", f"{an['blockNumber']} {an['blockHash']}", mono=True),
        Row("区块时间", "Block time", w.when(an.get("blockTimestamp"))),
    ]
    return [
        Section("协议", "Agreement", agreement_rows),
        Section("专利", "Patent", patent_rows),
        Section("当事方", "Parties", party_rows or [Row("—", "—", "—")]),
        Section("主要条款", "Terms", _terms_rows(doc)),
        Section("链上记录", "On-chain record", chain_rows),
    ]


def _appendix(doc: Mapping[str, Any]) -> list[Section]:
    a = doc["agreement"]
    terms = [Row(w.RAW_FIELD.get(k, k), k, json.dumps(v, ensure_ascii=False), mono=True) for k, v in a["terms"].items()]
    details = [
        Row(w.RAW_FIELD.get(k, k), k, json.dumps(v, ensure_ascii=False)) for k, v in (a.get("details") or {}).items()
    ]
    return [
        Section("附录：签署的条款原始值", "Appendix: the signed terms as raw values (EIP-712)", terms),
        Section("附录：条款详情原始值", "Appendix: the details as raw values (committed by detailsHash)", details),
    ]


_VERIFY_ZH = (
    "本证书的真实性及当前法律状态，以任一区块链节点核验：ipledger verify certificate.json --rpc-url URL；"
    "算法见 docs/agreements.md。“出具时法律状态”只反映出具之时。"
)
_VERIFY_EN = (
    "Whether this certificate is authentic, and where the agreement stands now, is checked against any JSON-RPC "
    "endpoint of the chain: ipledger verify certificate.json --rpc-url URL; the algorithm is in docs/agreements.md. "
    "The status when issued is only that."
)


def render_html(doc: dict[str, Any], *, verify_url: str | None = None) -> str:
    """A bilingual, self-contained HTML rendering of an agreement certificate; every value is escaped."""

    def cell(row: Row) -> str:
        items = (row.value,) if isinstance(row.value, str) else row.value
        inner = "<br>".join(escape(v) for v in items)
        return f"<code>{inner}</code>" if row.mono else inner

    def section(s: Section) -> str:
        body = "".join(
            f"<tr><th>{escape(r.zh)}<br><small>{escape(r.en)}</small></th><td>{cell(r)}</td></tr>" for r in s.rows
        )
        return f"<h2>{escape(s.zh)} / {escape(s.en)}</h2><table>{body}</table>"

    zh, en = statement(doc)
    link = f'<p><a href="{escape(verify_url)}">{escape(verify_url)}</a></p>' if verify_url else ""
    return (
        '<!doctype html><html lang="zh-Hans"><head><meta charset="utf-8"><title>知识产权协议证书 / IP Agreement Certificate</title>'
        "<style>body{font-family:sans-serif;max-width:60rem;margin:2rem auto}th{text-align:left;vertical-align:top;padding:.3rem 1rem .3rem 0;width:14rem}"
        "code,pre{word-break:break-all;white-space:pre-wrap}.statement{background:#f1f4f8;padding:.6rem 1rem}</style></head><body>"
        "<h1>知识产权协议证书<br><small>IP Agreement Certificate</small></h1>"
        f'<div class="statement"><p lang="zh-Hans">{escape(zh)}</p><p lang="en">{escape(en)}</p></div>'
        + "".join(section(s) for s in sections(doc))
        + f"<h2>如何验证 / How to verify</h2><p>{escape(_VERIFY_ZH)}<br>{escape(_VERIFY_EN)}</p>{link}"
        + "".join(section(s) for s in _appendix(doc))
        + "</body></html>"
    )


def render_pdf(doc: dict[str, Any], *, verify_url: str) -> bytes:
    """A bilingual A4 PDF of an agreement certificate (deterministic for the same input), with the portal's
    address of the agreement (:func:`portal_url`) as text and QR code."""
    register_fonts()
    return build_pdf(
        lambda st: _story(doc, verify_url, st),
        title="知识产权协议证书 / IP Agreement Certificate",
        author="Qianhai IP Ledger",
        subject=str(doc["agreement"]["id"]),
        creator="Qianhai IP Ledger",
        keywords="知识产权协议, IP agreement, blockchain",
        lang="zh-CN",
        issued=int(doc["anchor"]["blockTimestamp"]),
    )


def _story(doc: dict[str, Any], verify_url: str, st: Styles) -> list[Flowable]:
    zh, en = statement(doc)
    story: list[Flowable] = [
        Paragraph("知识产权协议证书", st.title_zh),
        Paragraph("IP Agreement Certificate", st.title_en),
        Paragraph(f"{FORMAT} v{VERSION}", st.subtitle),
        Spacer(0, 4),
        Paragraph(mixed(zh), st.body_zh),
        Paragraph(mixed(en), st.body_en),
    ]
    for s in sections(doc):
        story += [heading(s.zh, s.en, st), table(s.rows, st)]
    story += [
        heading("如何验证", "How to verify", st),
        Paragraph(mixed(_VERIFY_ZH), st.body_zh),
        Paragraph(mixed(_VERIFY_EN), st.body_en),
        Paragraph(mixed(verify_url), st.url),
        QrFlowable(qr_matrix(verify_url), 30 * mm),
    ]
    for s in _appendix(doc):
        story += [heading(s.zh, s.en, st), table(s.rows or [Row("—", "—", "—")], st)]
    return story
