"""The bilingual (Chinese / English) summary of a case file (``summary.pdf`` in the ZIP that
``ledger.certificates.casefile`` reads): the dispute's story in words, then every record in time order.

The story says who (name and identifier) claimed against whom before which institution, about which patent or
agreement, and what the award did ("裁决撤销许可 / The award voided licence 0x…"). Each record reads as an event
with its names: owners and shares, the agreement (type, grantor, grantee), the verifier, the dispute. Names come
from the case's ``parties``, the patent from its ``asset``, agreements from the agreement certificates among the
items. The vocabulary is :mod:`ledger.certificates.render.words`, shared with the agreement certificate.

It is for reading, not evidence: the items are. Deterministic (the same case gives the same bytes), laid out with
:mod:`ledger.certificates.render.layout` on reportlab's default margins.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reportlab.lib.units import inch
from reportlab.platypus import Flowable, Paragraph, Spacer

from ledger.certificates.render import words as w
from ledger.certificates.render.agreement import kind_word, statement
from ledger.certificates.render.layout import Row, Styles, build_pdf, heading, mixed, register_fonts, table
from ledger.domain.codes import LicenceType

__all__ = ["render_summary", "story"]

Pair = tuple[str, str]


def _v(pair: Pair) -> tuple[str, ...]:
    """A bilingual value: both lines, or one when the two languages read the same."""
    return tuple(dict.fromkeys(pair))


class _Case:
    """What the summary looks up while it tells the story: parties by id, agreements by id, the patent."""

    def __init__(self, case: Mapping[str, Any], documents: Mapping[str, Mapping[str, Any]]) -> None:
        self.case = case
        self.dispute: Mapping[str, Any] = case["dispute"]
        self.parties = {int(p["partyId"]): p for p in case.get("parties", [])}
        self.asset: Mapping[str, Any] = case.get("asset") or {}
        self.documents = documents
        self.agreements: dict[str, Mapping[str, Any]] = {}
        for doc in documents.values():
            if isinstance(doc, Mapping) and isinstance(doc.get("agreement"), Mapping):
                self.agreements[str(doc["agreement"].get("id"))] = doc
                for p in doc.get("parties", []):
                    self.parties.setdefault(int(p["partyId"]), p)

    def name(self, pid: Any) -> Pair:
        return w.party_name(self.parties.get(int(pid), {"partyId": pid}) if pid is not None else None)

    def who(self, pid: Any) -> Pair:
        """``前海甲科技（统一社会信用代码 91110108551385082Q）`` / ``Qianhai X Tech (Unified Social Credit Code …)``."""
        if pid is None:
            return "—", "—"
        party = self.parties.get(int(pid))
        (zh, en), (izh, ien) = self.name(pid), w.identifier(party)
        if not party:
            return zh, en
        return f"{zh}（{izh}）", f"{en} ({ien})"

    def patent(self) -> Pair:
        a = self.asset
        if not a.get("number"):
            aid = a.get("assetId") or self.dispute.get("assetId")
            return (f"资产 {aid}", f"asset {aid}") if aid else ("—", "—")
        kind = w.word(w.ASSET_KIND, a.get("kind"))
        title = a.get("title")
        return (
            f"{kind[0]} {a['number']}" + (f"《{title}》" if title else ""),
            f"{kind[1].lower()} {a['number']}" + (f' "{title}"' if title else ""),
        )

    def agreement(self, agreement_id: Any, kind: str | None = None) -> Pair:
        """An agreement by type and id, with its parties when its certificate is in the case:
        ``独占许可 0x…（甲 → 乙）`` / ``exclusive licence 0x… (A to B)``."""
        doc = self.agreements.get(str(agreement_id))
        if doc is None:
            zh, en = w.word(w.AGREEMENT_KIND, kind)
            return f"{zh} {agreement_id}", f"{en.lower()} {agreement_id}"
        terms = doc["agreement"]["terms"]
        ltype = None
        kind = kind_word(doc)
        if kind == "licence":
            ltype = {int(t): t.word for t in LicenceType.choices()}.get(int(terms.get("licenceType", 0)))
        tzh, ten = w.agreement_type(kind, ltype)
        grantees = [int(g) for g in terms.get("grantees", [])]
        grantors = [int(s["partyId"]) for s in doc.get("signatures", []) if int(s["partyId"]) not in grantees]
        by = [self.name(p) for p in grantors]
        to = [self.name(p) for p in grantees]
        return (
            f"{tzh} {agreement_id}（{'、'.join(n[0] for n in by)} → {'、'.join(n[0] for n in to)}）",
            f"{ten.lower()} {agreement_id} ({' and '.join(n[1] for n in by)} to {' and '.join(n[1] for n in to)})",
        )

    def owners(self, owners: list[Mapping[str, Any]]) -> Pair:
        zh = "、".join(f"{self.name(o['partyId'])[0]} {w.percent(int(o['share']))}" for o in owners)
        en = ", ".join(f"{self.name(o['partyId'])[1]} {w.percent(int(o['share']))}" for o in owners)
        return zh or "—", en or "—"

    def subject(self) -> Pair:
        d = self.dispute
        if d.get("subject") == "agreement":
            zh, en = self.agreement(d.get("subjectId"))
            return f"协议：{zh}", f"the agreement: {en}"
        if d.get("subject") == "evidence":
            return f"存证 {d.get('subjectId')}", f"the evidence {d.get('subjectId')}"
        zh, en = self.patent()
        return f"专利：{zh}", f"the patent: {en}"

    def effect(self) -> Pair:
        """What the award did, in words (or that the dispute is still open)."""
        d = self.dispute
        if d.get("status") != "closed":
            return (
                "案件审理中；争议期间该专利冻结，不得转让、许可、作价入股或质押。",
                "The dispute is open; while it lasts the patent is frozen: it cannot be assigned, licensed, "
                "contributed or pledged.",
            )
        outcome = d.get("outcome")
        if outcome == "agreement_voided":
            zh, en = self.agreement(d.get("subjectId"))
            return (
                f"裁决撤销{zh}：该协议自裁决时起不再有效。",
                f"The award voided the {en}: it is no longer in force.",
            )
        if outcome == "title_restored":
            restored = [
                doc
                for doc in self.documents.values()
                if isinstance(doc, Mapping) and doc.get("event") == "TitleRestored"
            ]
            pzh, pen = self.patent()
            if restored:
                ozh, oen = self.owners(restored[-1].get("owners", []))
                return f"裁决恢复权属：{pzh}归{ozh}。", f"The award restored the title: {pen} belongs to {oen}."
            return f"裁决恢复{pzh}的权属。", f"The award restored the title to {pen}."
        if outcome == "dismissed":
            return "裁决驳回仲裁请求，账本记录维持不变。", "The award dismissed the claim; the records stand."
        zh, en = w.word(w.OUTCOME, outcome)
        return zh, en

    def story(self) -> Pair:
        d = self.dispute
        claimant, respondent, institution = (
            self.who(d.get("claimant")),
            self.who(d.get("respondent")),
            self.who(d.get("institution")),
        )
        szh, sen = self.subject()
        ezh, een = self.effect()
        zh = (
            f"申请人{claimant[0]}于 {w.when(d.get('openedAt'))} 向{institution[0]}申请仲裁，被申请人为"
            f"{respondent[0]}；争议标的为{szh}。"
        )
        en = (
            f"{claimant[1]} brought a claim against {respondent[1]} before {institution[1]} on "
            f"{w.when(d.get('openedAt'))}, about {sen}."
        )
        if d.get("closedAt"):
            zh += f"仲裁机构于 {w.when(d.get('closedAt'))} 作出裁决。"
            en += f" The institution made its award on {w.when(d.get('closedAt'))}."
        return f"{zh}{ezh}", f"{en} {een}"

    def describe(self, entry: Mapping[str, Any]) -> tuple[Pair, Pair]:
        """(caption, description) of one record of the case."""
        doc: Mapping[str, Any] = self.documents.get(str(entry.get("file")), {})
        kind = str(entry.get("kind"))
        if kind == "title-event":
            event = str(doc.get("event", ""))
            caption = w.word(w.EVENT, event)
            return caption, self._event(event, doc)
        caption = w.word(w.ITEM_KIND, kind)
        if kind == "agreement-certificate" and "agreement" in doc:
            return caption, statement(doc)
        if kind == "evidence-certificate" and "evidence" in doc:
            ev, reg = doc["evidence"], doc.get("registrant") or {}
            title = (ev.get("metadata") or {}).get("title")
            what = f"{ev.get('algorithm', '').upper()} {ev.get('contentHash') or ev.get('binding')}"
            rzh, ren = self.who(reg.get("partyId")) if reg.get("partyId") else ("—", "—")
            return caption, (
                f"{rzh}登记存证" + (f"《{title}》" if title else "") + f"：{what}",
                f"{ren} registered evidence" + (f' "{title}"' if title else "") + f": {what}",
            )
        if kind == "dispute-opened":
            d = self.dispute
            return caption, (
                f"{self.name(d.get('claimant'))[0]}对{self.name(d.get('respondent'))[0]}提出仲裁请求"
                f"（请求书 SHA-256 {d.get('claimHash')}）",
                f"{self.name(d.get('claimant'))[1]} claimed against {self.name(d.get('respondent'))[1]} "
                f"(claim SHA-256 {d.get('claimHash')})",
            )
        if kind == "dispute-closed":
            ezh, een = self.effect()
            return caption, (
                f"{ezh}（裁决书 SHA-256 {self.dispute.get('awardHash')}）",
                f"{een} (award SHA-256 {self.dispute.get('awardHash')})",
            )
        return caption, (entry.get("file", ""), entry.get("file", ""))

    def _event(self, event: str, doc: Mapping[str, Any]) -> Pair:
        if event in ("AssetRegistered", "TitleTransferred", "TitleRestored"):
            ozh, oen = self.owners(list(doc.get("owners", [])))
            if doc.get("agreementId"):
                azh, aen = self.agreement(doc["agreementId"])
                return f"权属人：{ozh}，依据{azh}", f"Owners: {oen}, under the {aen}"
            if doc.get("disputeId"):
                return (
                    f"权属人：{ozh}，依据争议 {doc['disputeId']} 的裁决",
                    f"Owners: {oen}, by the award in {doc['disputeId']}",
                )
            return f"权属人：{ozh}", f"Owners: {oen}"
        if event in ("AssetConfirmed", "ClaimRejected"):
            vzh, ven = self.who(doc.get("verifierPartyId"))
            return f"核验机构：{vzh}", f"by {ven}"
        if event == "ClaimStruck":
            former = [self.name(p) for p in doc.get("formerOwners", [])]
            return (
                f"撤销以下权属主张：{'、'.join(n[0] for n in former)}（争议 {doc.get('disputeId')}）",
                f"Struck the claim of {', '.join(n[1] for n in former)} (dispute {doc.get('disputeId')})",
            )
        if event in ("AssetFrozen", "AssetUnfrozen"):
            return f"争议 {doc.get('disputeId')}", f"dispute {doc.get('disputeId')}"
        if doc.get("agreementId"):
            azh, aen = self.agreement(doc["agreementId"], doc.get("kind"))
            if event == "AgreementVoided":
                return (
                    f"{azh}经争议 {doc.get('disputeId')} 的裁决撤销",
                    f"The {aen} was voided by the award in {doc.get('disputeId')}",
                )
            return azh, aen[:1].upper() + aen[1:]
        return "—", "—"


def story(case: Mapping[str, Any], documents: Mapping[str, Mapping[str, Any]] | None = None) -> Pair:
    """The dispute's story in one paragraph per language: who claimed what against whom, and the award's effect."""
    return _Case(case, documents or {}).story()


def render_summary(case: dict[str, Any], documents: Mapping[str, Mapping[str, Any]] | None = None) -> bytes:
    """A bilingual summary of the case ``case`` (the ``case.json`` of a case file; ``documents`` are its items'
    documents by file name, which give the records their names and descriptions) as an A4 PDF."""
    register_fonts()
    c = _Case(case, documents or {})
    d = c.dispute
    return build_pdf(
        lambda st: _summary_story(case, c, st),
        title="仲裁案卷摘要 / Case file summary",
        margin=inch,
        author="Qianhai IP Ledger",
        subject=str(d["disputeId"]),
        creator="Qianhai IP Ledger",
        lang="zh-CN",
        issued=int(d.get("closedAt") or d.get("openedAt") or 0) or None,
    )


def _summary_story(case: Mapping[str, Any], c: _Case, st: Styles) -> list[Flowable]:
    d = c.dispute
    szh, sen = c.story()
    status = w.word(w.DISPUTE_STATUS, d.get("status"))
    outcome = w.word(w.OUTCOME, d.get("outcome")) if d.get("outcome") else None
    rows = [
        Row("争议编号", "Dispute", str(d["disputeId"]), mono=True),
        Row("争议标的", "Subject", _v(c.subject())),
        Row("申请人", "Claimant", _v(c.who(d.get("claimant")))),
        Row("被申请人", "Respondent", _v(c.who(d.get("respondent")))),
        Row("仲裁机构", "Arbitration institution", _v(c.who(d.get("institution")))),
        Row("立案时间", "Opened", w.when(d.get("openedAt"))),
        Row(
            "状态",
            "Status",
            (f"{status[0]}：{outcome[0]}", f"{status[1]}: {outcome[1]}") if outcome else _v(status),
        ),
    ]
    if d.get("closedAt"):
        rows.append(Row("裁决时间", "Award made", w.when(d.get("closedAt"))))
    rows.append(Row("请求书 SHA-256", "Claim SHA-256", str(d.get("claimHash")), mono=True))
    if d.get("awardHash"):
        rows.append(Row("裁决书 SHA-256", "Award SHA-256", str(d.get("awardHash")), mono=True))
    patent_rows = []
    if c.asset:
        a = c.asset
        patent_rows = [
            Row("专利号", "Patent number", str(a.get("number") or "—")),
            Row("名称", "Title", str(a.get("title") or "—")),
            Row("法域", "Jurisdiction", _v(w.word(w.JURISDICTION, a.get("jurisdiction")))),
            Row("专利类型", "Kind", _v(w.word(w.ASSET_KIND, a.get("kind")))),
            Row("账本资产编号", "Asset id on the ledger", str(a.get("assetId"))),
        ]
    items = []
    for entry in case["items"]:
        (czh, cen), (dzh, den) = c.describe(entry)
        items.append(
            Row(
                czh,
                cen,
                (dzh, den, w.when(entry.get("time")), f"区块 / block {entry.get('block')} · {entry.get('file')}"),
            )
        )
    parties = [
        Row(
            *w.word(w.PARTY_KIND, p.get("kind")),
            (*dict.fromkeys(w.party_name(p)), *dict.fromkeys(w.identifier(p)), f"参与方 / party {p['partyId']}"),
        )
        for p in case.get("parties", [])
    ]
    body: list[Flowable] = [
        Paragraph("仲裁案卷摘要", st.title_zh),
        Paragraph("Case file summary", st.title_en),
        Spacer(0, 6),
        heading("案情", "The case", st),
        Paragraph(mixed(szh), st.body_zh),
        Paragraph(mixed(sen), st.body_en),
        heading("争议", "Dispute", st),
        table(rows, st),
    ]
    if patent_rows:
        body += [heading("专利", "Patent", st), table(patent_rows, st)]
    if parties:
        body += [heading("当事方", "Parties", st), table(parties, st)]
    body += [
        heading("记录（按时间）", "Records in time order", st),
        table(items or [Row("—", "—", "—")], st),
        Paragraph(
            mixed("本摘要供阅读；证据为案卷中的各项记录。核验：ipledger verify-case case.zip --rpc-url URL"), st.body_zh
        ),
        Paragraph(
            "This summary is for reading; the evidence is the records in the case file. "
            "Verify: ipledger verify-case case.zip --rpc-url URL (each item against the chain).",
            st.body_en,
        ),
    ]
    return body
