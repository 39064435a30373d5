"""Human-readable renderings of an evidence certificate: a bilingual (Chinese / English) A4 PDF and a
self-contained HTML page with the same content.

The JSON certificate (``ledger.certificates.evidence``) stays the evidence; these renderings print every value
an arbitrator or court needs to re-check it by hand -- the hashes and algorithm, the salt of a private
registration, the registering party, the chain, contract, transaction and block, the Merkle audit paths
of a batched record -- together with how to verify, the verification page (as text and QR code) and a
short note on the Supreme People's Court Online Litigation Rules.

Both renderings are deterministic: the same certificate and URL give the same bytes. The PDF is laid out
with the kit of :mod:`ledger.certificates.render.layout` (fonts, styles, tables, ``invariant=1``); the QR code
is drawn as vector modules in a PDF form XObject named ``FormXob.qr`` (and as an inline SVG in the HTML),
both from :func:`~ledger.certificates.render.layout.qr_matrix`.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any
from xml.sax.saxutils import escape as _xml_escape
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from reportlab.lib import colors
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from ledger.certificates import evidence as certmod
from ledger.certificates.render.layout import (
    CJK_FONT,
    LATIN_FONT,
    MARGIN,
    MONO_FONT,
    PAGE_W,
    QR_BORDER,
    QR_FORM_NAME,
    QrFlowable,
    Row,
    Styles,
    build_pdf,
    heading,
    mixed,
    qr_matrix,
    qr_runs,
    register_fonts,
    table,
)
from ledger.domain.codes import HashAlgorithm, IdentifierScheme

__all__ = [
    "LEGAL_NOTE_EN",
    "LEGAL_NOTE_ZH",
    "QR_BORDER",
    "QR_FORM_NAME",
    "VERIFY_COMMAND",
    "qr_matrix",
    "render_html",
    "render_pdf",
]

_ALGORITHMS = {HashAlgorithm.SHA256: "SHA-256", HashAlgorithm.SM3: "SM3 (GB/T 32905-2016)"}
_SCHEMES = {
    IdentifierScheme.USCC: ("统一社会信用代码", "Unified Social Credit Code (USCC)"),
    IdentifierScheme.HKBRN: ("香港商业登记号码", "Hong Kong Business Registration No."),
    IdentifierScheme.OTHER: ("其他", "Other"),
    IdentifierScheme.PERSON_COMMITMENT: ("自然人身份承诺（加盐哈希）", "Natural person's commitment (salted hash)"),
}
_KINDS = {
    "invention": "发明",
    "utility model": "实用新型",
    "utility_model": "实用新型",
    "design": "外观设计",
    "software": "软件",
    "copyright work": "著作权作品",
    "copyright_work": "著作权作品",
    "data set": "数据集",
    "dataset": "数据集",
    "data_set": "数据集",
    "trade secret": "商业秘密",
    "trade_secret": "商业秘密",
}
_PROVES = (
    "本证书证明：该登记方不晚于所示区块持有内容哈希如上的文件；他人无法从待确认交易池中抢先为该登记方登记此绑定值。"
    "本证书不证明作者身份，也不证明无他人更早持有该文件。",
    "This certificate proves that this party held a file with the content hash above no later than the block shown, "
    "and that no one could have recorded this party's binding earlier from the pending pool. It does not prove "
    "authorship, nor that nobody else held the file earlier.",
)
_PROVES_SECTION = ("证明范围", "What this certificate proves")
_BATCH = "批量登记（默克尔树）/ Batch (Merkle tree)"
_DIRECT = "直接登记 / Direct"
_META_LABELS = {
    "title": ("标题", "Title"),
    "kind": ("类型", "Kind"),
    "creators": ("创作者", "Creators"),
    "createdAt": ("声称的创作时间", "Claimed creation time"),
    "created": ("声称的创作时间", "Claimed creation time"),
    "language": ("语言", "Language"),
}

LEGAL_NOTE_ZH = (
    "《人民法院在线诉讼规则》（最高人民法院，2021年8月1日起施行）第十六条规定，当事人作为证据提交的区块链存储数据，"
    "经技术核验一致的，人民法院可以认定该数据上链后未经篡改，但有相反证据足以推翻的除外；第十七条、第十八条规定了"
    "对上链后数据真实性异议的审查因素，以及对数据上链前真实性的审查。本证书仅表明上述哈希值在所示区块时间已记录于链上，"
    "不证明文件内容的来源或权属。"
)
LEGAL_NOTE_EN = (
    "Under Art. 16 of the Supreme People's Court Online Litigation Rules (in force 1 August 2021), blockchain-stored "
    "data submitted as evidence that is verified consistent may be found unaltered after it went on chain, unless "
    "rebutted by contrary evidence; Arts. 17 and 18 set out how a challenge to the on-chain data is judged and allow "
    "the court to examine the data's authenticity before it went on chain. This certificate shows only that the hash "
    "above was recorded on chain at the block time shown, not who created the file or who owns the rights in it."
)


# --- the content, shared by both renderings ---------------------------------------------------


@dataclass(frozen=True)
class _Section:
    zh: str
    en: str
    rows: tuple[Row, ...] = field(default_factory=tuple)


def _shanghai() -> tzinfo:
    try:
        return ZoneInfo("Asia/Shanghai")
    except ZoneInfoNotFoundError:  # no tz database: China has kept UTC+8 without DST since 1991
        return timezone(timedelta(hours=8), "CST")


def _iso(ts: int, tz: tzinfo) -> str:
    try:
        moment = datetime.fromtimestamp(ts, UTC).astimezone(tz)
    except (OverflowError, OSError, ValueError):
        return "-"
    text = moment.isoformat(timespec="seconds")
    return text[:-6] + "Z" if tz is UTC else text


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(", ", ": "))


def _creators(value: Any) -> str:
    if not isinstance(value, list):
        return _text(value)
    names: list[str] = []
    for item in value:
        if isinstance(item, dict) and isinstance(item.get("partyId"), int) and "role" in item:
            names.append(f"第 {item['partyId']} 号当事人 / party {item['partyId']} ({_text(item['role'])})")
        elif isinstance(item, dict):
            parts = [str(item[k]) for k in ("nameZh", "nameEn", "name") if isinstance(item.get(k), str) and item[k]]
            names.append(" / ".join(parts) if parts else _text(item))
        else:
            names.append(_text(item))
    return "; ".join(names)


def _metadata_rows(metadata: dict[str, Any]) -> list[Row]:
    rows: list[Row] = []
    for key, (zh, en) in _META_LABELS.items():
        if key not in metadata:
            continue
        value = metadata[key]
        if key == "creators":
            text = _creators(value)
        elif key == "kind" and isinstance(value, str) and value.lower() in _KINDS:
            text = f"{_KINDS[value.lower()]} / {value}"
        else:
            text = _text(value)
        rows.append(Row(zh, en, text))
    for key in sorted(k for k in metadata if k not in _META_LABELS):
        rows.append(Row("元数据", key, _text(metadata[key])))
    return rows


_ROLES = {"inventor": "发明人", "designer": "设计人", "author": "作者", "contributor": "贡献者"}


def _endorsement_rows(entries: list[Any]) -> list[Row]:
    """Each creator's endorsement: who (a natural person by number), in which role, when, and where on chain."""
    rows: list[Row] = []
    for e in entries:
        if not isinstance(e, dict):
            continue
        person = e.get("naturalPerson")
        if isinstance(person, dict):
            who = f"{person.get('zh', '')} / {person.get('en', '')}"
        else:
            who = " / ".join(str(e[k]) for k in ("nameZh", "nameEn") if e.get(k)) or f"party {e.get('partyId')}"
        role = str(e.get("role", ""))
        stamp = e.get("blockTimestamp")
        ts = stamp if isinstance(stamp, int) else 0
        rows.append(Row("创作者", "Creator", f"{who}: {_ROLES.get(role, role)} / {role}"))
        rows.append(
            Row(
                "签署时间与交易",
                "Signed at, transaction",
                f"{_iso(ts, _shanghai())} (block {e.get('blockNumber')}) {e.get('transactionHash', '')}",
                mono=True,
            )
        )
    return rows


def _proof_rows(zh: str, en: str, proof: dict[str, Any]) -> list[Row]:
    path = tuple(f"[{i}] {node}" for i, node in enumerate(proof["path"])) or ("(空 / empty)",)
    return [
        Row(f"{zh}叶序号 / 树大小", f"{en} leaf index / tree size", f"{proof['index']} / {proof['size']}"),
        Row(f"{zh}审计路径（自下而上）", f"{en} audit path (bottom-up)", path, mono=True),
    ]


def _sections(cert: certmod.Certificate) -> list[_Section]:
    ev, reg, ch, an = cert.evidence, cert.registrant, cert.chain, cert.anchor
    algorithm = _ALGORITHMS[HashAlgorithm.from_word(ev["algorithm"])]
    privacy = certmod.privacy_of(ev)
    zh, en = certmod.PRIVACY_WORDS[privacy]
    evidence = [
        Row("内容哈希", "Content hash", ev["contentHash"] or "(未随证书提供 / not included)", mono=True),
        Row("哈希算法", "Hash algorithm", algorithm),
        Row("登记方式", "Registration", f"{zh} / {en[0].upper()}{en[1:]}"),
    ]
    if privacy == certmod.PRIVATE:
        evidence.append(
            Row(
                "盐值",
                "Salt",
                ev["salt"]
                or "(未随证书提供：见登记时写下的附属文件 / not included: see the sidecar file written at registration)",
                mono=True,
            )
        )
    elif privacy is None:
        evidence.append(
            Row(
                "补全",
                "To complete",
                "登记方用登记时写下的附属文件（FILE.ipledger.json）补入内容哈希与盐值 / the registrant adds the "
                "content hash (and the salt of a private registration) from the sidecar file written at "
                "registration (FILE.ipledger.json): ipledger certificate HASH --sidecar FILE.ipledger.json",
            )
        )
    evidence.append(Row("绑定值（链上）", "Binding (on chain)", ev["binding"], mono=True))
    if ev.get("metadataCommitment") is not None:
        evidence.append(
            Row("元数据承诺（SHA-256）", "Metadata commitment (SHA-256)", ev["metadataCommitment"], mono=True)
        )
    if ev.get("supersedes") is not None:
        evidence.append(Row("取代的早期版本", "Supersedes (earlier version)", ev["supersedes"], mono=True))
    if isinstance(ev.get("metadata"), dict):
        evidence.extend(_metadata_rows(ev["metadata"]))

    scheme_zh, scheme_en = _SCHEMES.get(
        IdentifierScheme.__members__.get(reg["identifierScheme"], IdentifierScheme.NONE),
        (reg["identifierScheme"], reg["identifierScheme"]),
    )
    registrant = [
        Row("名称（中文）", "Name (Chinese)", reg["nameZh"] or "-"),
        Row("名称（英文）", "Name (English)", reg["nameEn"] or "-"),
    ]
    person = reg.get("naturalPerson")
    if isinstance(person, dict):  # a natural person: by number, never by name (docs/privacy.md)
        registrant = [Row("登记方", "Registering party", f"{person.get('zh', '')} / {person.get('en', '')}")]
        holder = cert.raw.get("holder")
        if isinstance(holder, dict):  # the person's own copy: named, at their signed request
            names = " / ".join(str(holder[k]) for k in ("nameZh", "nameEn") if holder.get(k))
            recipient = holder.get("recipient")
            if isinstance(recipient, dict):  # issued to a named recipient under the person's signed consent
                given = holder.get("consent")
                consent: dict[str, Any] = given if isinstance(given, dict) else {}
                to = str(recipient.get("name") or "-")
                if recipient.get("partyId"):
                    to += f" (party {recipient['partyId']})"
                registrant.append(Row("本人姓名（仅见于本副本）", "Name (appears only in this copy)", names or "-"))
                registrant.append(Row("签发对象", "Issued to", to))
                registrant.append(
                    Row(
                        "本人同意书",
                        "Under the person's consent",
                        f"{consent.get('digest', '-')} · {consent.get('signer', '-')} · "
                        f"{_iso(int(consent.get('recordedAt') or 0), UTC)}",
                        mono=True,
                    )
                )
            else:
                registrant.append(Row("本人姓名（本人副本）", "Name (the person's own copy)", names or "-"))
    registrant += [
        Row("证件类型", "Identifier scheme", f"{scheme_zh} / {scheme_en}"),
        Row("证件号码", "Identifier", reg["identifier"], mono=True),
        Row("登记方编号", "Party id", str(reg["partyId"])),
        Row("登记账户", "Registering account", reg["account"], mono=True),
    ]

    ts = an["blockTimestamp"]
    anchor = [
        Row("链标识", "Chain id", str(ch["chainId"])),
        Row("合约地址", "Contract address", ch["contract"], mono=True),
        Row("锚定方式", "Anchoring method", _BATCH if an["method"] == "batch" else _DIRECT),
        Row("交易哈希", "Transaction hash", an["transactionHash"], mono=True),
        Row("区块号", "Block number", str(an["blockNumber"])),
        Row("区块哈希", "Block hash", an["blockHash"], mono=True),
        Row("区块时间（UTC）", "Block time (UTC)", f"{_iso(ts, UTC)}  (Unix {ts})"),
        Row("区块时间（北京时间）", "Block time (Asia/Shanghai)", _iso(ts, _shanghai())),
    ]

    sections = [
        _Section("存证内容", "Evidence", tuple(evidence)),
        _Section("登记方", "Registering party", tuple(registrant)),
        _Section("区块链锚定", "Blockchain anchor", tuple(anchor)),
        _Section(*_PROVES_SECTION, (Row("证明范围", "Priority proved", _PROVES),)),
    ]
    regs = cert.raw.get("registrations")
    if regs is not None:
        listed = regs["listed"]
        rows = [
            Row("截至区块", "As of block", str(regs["asOfBlock"])),
            Row("公开登记数", "Public registrations", str(regs["count"])),
        ]
        if listed:
            first = listed[0]
            rows.append(
                Row(
                    "最先登记方",
                    "Registered first by",
                    f"party {first['partyId']} (block {first['blockNumber']}, {_iso(first['blockTimestamp'], UTC)})",
                )
            )
            for item in listed[1:]:
                rows.append(
                    Row(
                        "其他登记方",
                        "Also registered by",
                        f"party {item['partyId']} (block {item['blockNumber']}, {_iso(item['blockTimestamp'], UTC)})",
                    )
                )
        sections.append(_Section("同一内容的公开登记", "Public registrations of the same content", tuple(rows)))
    endorsed = cert.raw.get("endorsements")
    if isinstance(endorsed, list) and endorsed:
        sections.append(_Section("创作者本人签名", "Creators' own signatures", tuple(_endorsement_rows(endorsed))))
    if an["method"] == "batch":
        sub, bat = an["submission"], an["batch"]
        deadline = sub["deadline"]
        rows = [
            Row("提交根", "Submission root", sub["root"], mono=True),
            Row("提交条目数", "Submission item count", str(sub["count"])),
            Row("签名截止时间", "Signature deadline", f"{_iso(deadline, UTC)}  (Unix {deadline})"),
            Row("登记方签名（EIP-712）", "Party signature (EIP-712)", sub["signature"], mono=True),
            *_proof_rows("提交树", "Submission tree", sub["proof"]),
            Row("批次根（链上）", "Batch root (on chain)", bat["root"], mono=True),
            *_proof_rows("批次树", "Batch tree", bat["proof"]),
        ]
        sections.append(_Section("批量证明（RFC 9162 默克尔树）", "Batch proofs (RFC 9162 Merkle trees)", tuple(rows)))
    if cert.raw.get("checkpoint") is not None:  # docs/certificate.md §11; checked by `ipledger verify`
        from ledger.certificates.checkpoint import parse_section

        try:
            entries = parse_section(cert.raw["checkpoint"])
        except certmod.CertificateMalformed:
            entries = []  # a malformed section proves nothing and is not shown
        sections += [_checkpoint_section(entry) for entry in entries]
    return sections


def _checkpoint_section(entry: dict[str, Any]) -> _Section:
    """A checkpoint on a public chain covering the record (docs/certificate.md §11), as the certificate states it."""
    rows = [
        Row("公链标识", "Public chain id", _text(entry.get("chainId"))),
        Row("检查点合约", "Checkpoint contract", _text(entry.get("contract")), mono=True),
        Row("交易哈希", "Transaction hash", _text(entry.get("transactionHash")), mono=True),
        Row("公链区块号", "Public block number", _text(entry.get("blockNumber"))),
        Row("公链区块哈希", "Public block hash", _text(entry.get("blockHash")), mono=True),
        Row("检查点序号", "Checkpoint index", _text(entry.get("index"))),
        Row(
            "覆盖的联盟链区块",
            "Consortium blocks covered",
            f"{_text(entry.get('fromBlock'))} … {_text(entry.get('toBlock'))}",
        ),
        Row("末区块哈希（联盟链）", "Last block hash (consortium)", _text(entry.get("consortiumBlockHash")), mono=True),
        Row("检查点根", "Checkpoint root", _text(entry.get("root")), mono=True),
    ]
    rows += _proof_rows("检查点树", "Checkpoint tree", entry["proof"])
    return _Section("公链检查点", f"Checkpoint on public chain {_text(entry.get('chainId'))}", tuple(rows))


def _split_sections(sections: list[_Section]) -> tuple[list[_Section], list[_Section]]:
    """The sections up to what the certificate proves, and the appendix after it."""
    at = next(i for i, section in enumerate(sections) if section.en == _PROVES_SECTION[1]) + 1
    return sections[:at], sections[at:]


VERIFY_COMMAND = "ipledger verify cert.json --file FILE --rpc-url URL"


def _how_to_verify(cert: certmod.Certificate) -> list[tuple[str, str]]:
    """Numbered (Chinese, English) steps; the command itself is :data:`VERIFY_COMMAND`."""
    algorithm = _ALGORITHMS[HashAlgorithm.from_word(cert.evidence["algorithm"])]
    steps = [
        (
            f"用 {algorithm} 计算原始文件的哈希值，结果应与“内容哈希”一致。",
            f"Hash the original file with {algorithm}; the result must equal the content hash.",
        )
    ]
    if certmod.privacy_of(cert.evidence) == certmod.PRIVATE:
        steps.append(
            (
                '私密登记：用同一算法对 "ipledger:private:v2\\0" || 登记方编号（32 字节）|| 盐值 || 内容哈希（共 116 字节）计算哈希，结果应与“绑定值”一致。',
                (
                    'Private registration: the same algorithm over "ipledger:private:v2\\0" || party id (32 bytes) || salt || '
                    "content hash (116 bytes) must give the binding."
                ),
            )
        )
    else:
        steps.append(
            (
                '公开登记：用同一算法对 "ipledger:public:v2\\0" || 登记方编号（32 字节）|| 内容哈希（共 83 字节）计算哈希，结果应与“绑定值”一致。',
                (
                    'Public registration: the same algorithm over "ipledger:public:v2\\0" || party id (32 bytes) || content hash '
                    "(83 bytes) must give the binding."
                ),
            )
        )
    if cert.anchor["method"] == "batch":
        steps.append(
            (
                "批量登记：按 RFC 9162，SHA-256(0x00 || 绑定值) 经提交树审计路径应得到提交根；提交的 EIP-712 摘要经批次树审计路径应得到批次根。",
                (
                    "Batch record: by RFC 9162, SHA-256(0x00 || binding) with the submission audit path must give the "
                    "submission root, and the submission's EIP-712 digest with the batch audit path must give the batch root."
                ),
            )
        )
    steps += [
        (
            "在该链的任一 JSON-RPC 节点上查询上述交易与区块，核对区块号、区块哈希、区块时间，以及合约发出的事件和存储的记录。",
            (
                "On any JSON-RPC endpoint of the chain, look up the transaction and the block; check the block number, "
                "block hash and time, and the contract's event and stored record."
            ),
        ),
        (
            "或运行以下命令自动完成全部检查（完整算法见 docs/certificate.md）：",
            "Or run every check with the command below (the full algorithm is in docs/certificate.md):",
        ),
    ]
    return [(f"{i}. {zh}", f"{i}. {en}") for i, (zh, en) in enumerate(steps, 1)]


# --- PDF ----------------------------------------------------------------------------------------


def _footer(tx_hash: str) -> Callable[[Canvas, SimpleDocTemplate], None]:
    def draw(canv: Canvas, doc: SimpleDocTemplate) -> None:
        canv.saveState()
        canv.setFillColor(colors.HexColor("#666666"))
        y = MARGIN / 2
        page_zh = f"第 {doc.page} 页"
        canv.setFont(CJK_FONT, 7)
        canv.drawString(MARGIN, y, page_zh)
        canv.setFont(LATIN_FONT, 7)
        canv.drawString(MARGIN + pdfmetrics.stringWidth(page_zh, CJK_FONT, 7) + 3, y, f"/ Page {doc.page}")
        canv.setFont(MONO_FONT, 6.5)
        canv.drawRightString(PAGE_W - MARGIN, y, f"tx {tx_hash}")
        canv.restoreState()

    return draw


def render_pdf(
    doc: dict[str, Any],
    *,
    verify_url: str,
    title_zh: str = "知识产权存证证书",
    title_en: str = "IP Evidence Certificate",
) -> bytes:
    """The certificate ``doc`` as a bilingual A4 PDF; the same input gives the same bytes.

    ``doc`` is checked with :func:`ledger.certificates.evidence.parse` first (raises ``CertificateMalformed``).
    ``verify_url`` is printed and drawn as a QR code.
    """
    cert = certmod.parse(doc)
    register_fonts()
    return build_pdf(
        lambda st: _story(cert, verify_url, title_zh, title_en, st),
        title=f"{title_zh} / {title_en}",
        on_page=_footer(cert.anchor["transactionHash"]),
        author="Qianhai IP Ledger",
        subject=cert.evidence["contentHash"] or cert.evidence["binding"],
        creator="Qianhai IP Ledger",
        keywords="知识产权存证, IP evidence, blockchain",
        lang="zh-CN",
        issued=cert.anchor["blockTimestamp"],
    )


def _story(cert: certmod.Certificate, verify_url: str, title_zh: str, title_en: str, st: Styles) -> list[Flowable]:
    story: list[Flowable] = [
        Paragraph(_xml_escape(title_zh), st.title_zh) if title_zh else Spacer(0, 0),
        Paragraph(mixed(title_en), st.title_en) if title_en else Spacer(0, 0),
        Paragraph(_xml_escape(f"{certmod.FORMAT} v{certmod.VERSION}"), st.subtitle),
        Spacer(0, 4),
    ]
    # Each section is kept with its heading. What the certificate proves is followed by the legal note and how to
    # verify; the public registrations and the batch proofs follow as an appendix, so that no page holds a few lines.
    main, appendix = _split_sections(_sections(cert))
    for section in main:
        story.append(KeepTogether([heading(section.zh, section.en, st), table(section.rows, st)]))
    story.append(
        KeepTogether(
            [
                heading("法律说明", "Legal note", st),
                Paragraph(_xml_escape(LEGAL_NOTE_ZH), st.note_zh),
                Paragraph(_xml_escape(LEGAL_NOTE_EN), st.note_en),
            ]
        )
    )

    qr_size = 34 * mm
    text_w = PAGE_W - 2 * MARGIN - qr_size - 8
    verify_text: list[Flowable] = []
    for zh, en in _how_to_verify(cert):
        verify_text += [Paragraph(mixed(zh), st.body_zh), Paragraph(_xml_escape(en), st.body_en)]
    url_chars = int(text_w // (0.6 * 8))
    verify_text += [
        Paragraph(_xml_escape(VERIFY_COMMAND), st.command),
        Paragraph(
            f'<font name="{CJK_FONT}" size="8">验证页面</font><font name="{LATIN_FONT}" size="8"> / Verification page:</font><br/>'
            + "<br/>".join(_xml_escape(verify_url[i : i + url_chars]) for i in range(0, len(verify_url), url_chars)),
            st.url,
        ),
    ]
    verify_table = Table([[verify_text, QrFlowable(qr_matrix(verify_url), qr_size)]], colWidths=[text_w, qr_size + 8])
    verify_table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("FONT", (0, 0), (-1, -1), LATIN_FONT),  # the cells' base font (reportlab's default is Helvetica)
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("RIGHTPADDING", (0, 0), (-1, -1), 0),
                ("LEFTPADDING", (1, 0), (1, 0), 8),
            ]
        )
    )
    story.append(KeepTogether([heading("如何验证", "How to verify", st), verify_table]))
    for section in appendix:
        story.append(heading(section.zh, section.en, st))
        story.append(table(section.rows, st))

    return story


# --- HTML ---------------------------------------------------------------------------------------

_CSS = """
body{font-family:"Noto Sans SC","PingFang SC","Microsoft YaHei","Source Han Sans SC",Helvetica,Arial,sans-serif;
color:#1b1b1b;max-width:820px;margin:24px auto;padding:0 16px;font-size:14px;line-height:1.45}
h1{text-align:center;margin:0;font-size:26px}
h1 span{display:block;font-size:18px;font-weight:600;margin-top:4px}
.format{text-align:center;color:#555;font-size:11px;margin:4px 0 16px}
h2{font-size:15px;color:#1f3a5f;border-bottom:1px solid #c9d1dc;padding-bottom:3px;margin:20px 0 6px}
table{border-collapse:collapse;width:100%;border:1px solid #8a99ad}
th,td{text-align:left;vertical-align:top;padding:4px 6px;border-bottom:1px solid #c9d1dc}
th{background:#f1f4f8;font-weight:normal;width:32%;font-size:12px;color:#333}
th span{display:block}
td.mono{font-family:"Courier New",Courier,monospace;font-size:12px;overflow-wrap:anywhere;word-break:break-all}
td.mono div{white-space:pre-wrap}
.verify{display:flex;gap:16px;align-items:flex-start}
.verify .text{flex:1}
.url{font-family:"Courier New",Courier,monospace;overflow-wrap:anywhere;word-break:break-all}
svg.qr{flex:none}
p.step{margin:6px 0}
pre{background:#f1f4f8;padding:6px 8px;font-size:12px;white-space:pre-wrap}
@media print{body{margin:0}}
""".strip()


def _qr_svg(matrix: list[list[bool]], size_px: int) -> str:
    n = len(matrix) + 2 * QR_BORDER
    path = "".join(
        f"M{QR_BORDER + x},{QR_BORDER + y}h{length}v1h-{length}z"
        for y, row in enumerate(matrix)
        for x, length in qr_runs(row)
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="qr" width="{size_px}" height="{size_px}" '
        f'viewBox="0 0 {n} {n}" shape-rendering="crispEdges" role="img" aria-label="QR code">'
        f'<rect width="{n}" height="{n}" fill="#fff"/><path fill="#000" d="{path}"/></svg>'
    )


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _link(url: str) -> str:
    """An anchor for http(s) addresses; any other scheme (``javascript:``...) is printed, not linked."""
    if url.lower().startswith(("https://", "http://")):
        return f'<a class="url" href="{_e(url)}">{_e(url)}</a>'
    return f'<span class="url">{_e(url)}</span>'


def render_html(doc: dict[str, Any], *, verify_url: str) -> str:
    """The certificate ``doc`` as a self-contained HTML page (inline CSS, inline SVG QR code), every
    value HTML-escaped. ``doc`` is checked with :func:`ledger.certificates.evidence.parse` first."""
    cert = certmod.parse(doc)
    title_zh, title_en = "知识产权存证证书", "IP Evidence Certificate"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="zh-CN"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title_zh)} / {_e(title_en)} {_e(cert.evidence['contentHash'] or cert.evidence['binding'])}</title>",
        f"<style>{_CSS}</style></head><body>",
        f'<h1>{_e(title_zh)}<span lang="en">{_e(title_en)}</span></h1>',
        f'<p class="format">{_e(certmod.FORMAT)} v{certmod.VERSION}</p>',
    ]
    for section in _sections(cert):
        parts.append(f'<h2>{_e(section.zh)} / <span lang="en">{_e(section.en)}</span></h2><table>')
        for row in section.rows:
            label = f'<th><span>{_e(row.zh)}</span><span lang="en">{_e(row.en)}</span></th>'
            if row.mono:
                items = (row.value,) if isinstance(row.value, str) else row.value
                value = '<td class="mono">' + "".join(f"<div>{_e(item)}</div>" for item in items) + "</td>"
            else:
                text = row.value if isinstance(row.value, str) else "\n".join(row.value)
                value = "<td>" + _e(text).replace("\n", "<br>") + "</td>"
            parts.append(f"<tr>{label}{value}</tr>")
        parts.append("</table>")
        if section.en == _PROVES_SECTION[1]:
            parts += [
                '<h2>法律说明 / <span lang="en">Legal note</span></h2>',
                f"<p>{_e(LEGAL_NOTE_ZH)}</p>",
                f'<p lang="en">{_e(LEGAL_NOTE_EN)}</p>',
            ]
    parts.append('<h2>如何验证 / <span lang="en">How to verify</span></h2><div class="verify"><div class="text">')
    for zh, en in _how_to_verify(cert):
        parts.append(f'<p class="step">{_e(zh)}<br><span lang="en">{_e(en)}</span></p>')
    parts += [
        f"<pre>{_e(VERIFY_COMMAND)}</pre>",
        f'<p>验证页面 / <span lang="en">Verification page</span>:<br>{_link(verify_url)}</p>',
        "</div>",
        _qr_svg(qr_matrix(verify_url), 160),
        "</div>",
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"
