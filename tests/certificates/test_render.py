"""The agreement certificate's and the case file summary's renderings, laid out with the shared kit
(``ledger.certificates.render.layout``): deterministic, every value printed (and escaped), and the
verification path never loads reportlab."""

from __future__ import annotations

import io
import re
import subprocess
import sys
from typing import Any, cast

from pypdf import PdfReader
from pypdf.generic import DictionaryObject

from ledger.certificates import casefile
from ledger.certificates.render import agreement as agreement_render
from ledger.certificates.render import casefile as casefile_render
from ledger.certificates.render import words
from ledger.certificates.render.layout import MONO_CHARS, mixed, mono_lines

AGREEMENT_ID = "0x" + "ab" * 32
TX = "0x" + "44" * 32
VERIFY_URL = "https://ipledger.example.cn/?agreement=" + AGREEMENT_ID


def _agreement() -> dict[str, Any]:
    return {
        "format": "qianhai-ip-ledger/agreement-certificate",
        "version": 1,
        "agreement": {
            "id": AGREEMENT_ID,
            "kind": "licence",
            # a whole certificate's terms (15 members), but the signed kind is 1: the renderings print an assignment
            "terms": {
                "kind": 1,
                "assetId": 3,
                "grantees": [7],
                "shares": [10000],
                "licenceType": 0,
                "territory": "0x0",
                "fieldOfUse": "0x" + "00" * 32,
                "sublicensable": False,
                "parentLicence": "0x" + "00" * 32,
                "start": 0,
                "end": 0,
                "documentHash": "0x" + "11" * 32,
                "detailsHash": "0x" + "22" * 32,
                "salt": "0x" + "33" * 32,
                "deadline": 1714579200 + 86400,
            },
            "details": {"royalty": "5% of <net> & more", "contractDate": "2024-04-30"},
        },
        "signatures": [
            {"partyId": 2, "signer": "0xd9145CCE52D386f254917e481eB44e9943F39138", "signature": "0x" + "33" * 65}
        ],
        "parties": [
            {
                "partyId": 2,
                "identifierScheme": "HKBRN",
                "identifier": "12345678",
                "nameZh": "",
                "nameEn": "Firm <b>& Co",
            }
        ],
        "chain": {"chainId": 31337, "contract": "0xd9145CCE52D386f254917e481eB44e9943F39138"},
        "anchor": {
            "transactionHash": TX,
            "blockNumber": 12,
            "blockHash": "0x" + "55" * 32,
            "blockTimestamp": 1714579200,
        },
        "asset": {
            "assetId": 3,
            "jurisdiction": "CN",
            "kind": "invention",
            "number": "CN201710601862.3",
            "title": "Battery <separator>",
            "filingDate": "2017-07-20",
        },
        "status": {"state": "in_force", "at": 1714579200 + 3600},
    }


def _case() -> dict[str, Any]:
    return {
        "dispute": {
            "disputeId": "0x" + "66" * 32,
            "subject": "asset",
            "subjectId": 3,
            "claimant": 1,
            "respondent": 2,
            "institution": 4,
            "status": "closed",
            "outcome": "upheld",
        },
        "items": [
            {"time": 1714579200 + 3600 * i, "block": 10 + i, "kind": kind, "file": f"items/{i:03}-{kind}.json"}
            for i, kind in enumerate(["evidence", "agreement", "dispute-opened"])
        ],
    }


def _text(pdf: bytes) -> str:
    return re.sub(r"\s+", "", "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages))


def test_the_agreement_pdf_is_the_same_bytes_for_the_same_input_and_changes_with_the_url() -> None:
    pdf = agreement_render.render_pdf(_agreement(), verify_url=VERIFY_URL)
    assert pdf.startswith(b"%PDF-")
    assert agreement_render.render_pdf(_agreement(), verify_url=VERIFY_URL) == pdf
    assert agreement_render.render_pdf(_agreement(), verify_url=VERIFY_URL + "&x=1") != pdf


def test_the_agreement_pdf_prints_the_id_the_transaction_the_signer_and_escaped_values() -> None:
    pdf = agreement_render.render_pdf(_agreement(), verify_url=VERIFY_URL)
    text = _text(pdf)
    for value in (AGREEMENT_ID, TX, "Firm<b>&Co", "5%of<net>&more", "IPAgreementCertificate", VERIFY_URL):
        assert value in text, value
    forms = set()
    for page in PdfReader(io.BytesIO(pdf)).pages:
        resources = cast(DictionaryObject, page["/Resources"].get_object())
        if "/XObject" in resources:
            forms |= set(cast(DictionaryObject, resources["/XObject"].get_object()))
    assert "/FormXob.qr" in forms


def test_the_agreement_html_escapes_every_value_and_names_the_kind_in_words() -> None:
    page = agreement_render.render_html(_agreement(), verify_url=VERIFY_URL + "&x=<1>")
    assert "Firm &lt;b&gt;&amp; Co" in page and "<b>&" not in page
    # the kind the parties signed (terms.kind 1, an assignment), not the certificate's label ("licence")
    assert "<td>转让<br>Assignment</td>" in page and "<td>许可<br>Licence</td>" not in page
    assert "&amp;x=&lt;1&gt;" in page


def test_a_party_without_a_chinese_name_reads_in_english_in_both_languages_never_after_a_lone_slash() -> None:
    text = "\n".join(
        p.extract_text()
        for p in PdfReader(io.BytesIO(agreement_render.render_pdf(_agreement(), verify_url=VERIFY_URL))).pages
    )
    assert "Firm <b>& Co" in text
    assert "/ Firm" not in text
    assert words.party_name({"nameZh": "", "nameEn": "Firm"}) == ("Firm", "Firm")
    assert words.party_name({"nameZh": "前海", "nameEn": ""}) == ("前海", "前海")
    assert words.party_name({"partyId": 7}) == ("参与方 7", "Party 7")


def test_amounts_read_in_figures_and_in_words_with_their_currency() -> None:
    assert words.money("1000000", "CNY") == (
        "CNY 1,000,000.00（人民币壹佰万元整）",
        "CNY 1,000,000.00 (one million CNY)",
    )
    assert words.chinese_capital_amount("1234.56") == "壹仟贰佰叁拾肆元伍角陆分"
    assert words.chinese_capital_amount("100.05") == "壹佰元零伍分"
    assert words.chinese_capital_amount("100001000") == "壹亿零壹仟元整"
    assert words.chinese_capital_amount("100010") == "壹拾万零壹拾元整"
    assert words.chinese_capital_amount("0") == "零元整"
    assert words.english_number(1_234_567) == "one million two hundred thirty-four thousand five hundred sixty-seven"
    assert words.royalty({"basis": "percentage", "rate": 350, "currency": "CNY"}) == (
        "净销售额的 3.5%",
        "3.5% of net sales",
    )
    assert words.money("n/a", "CNY") == ("CNY n/a", "CNY n/a")


def test_territories_and_times_read_as_names_and_iso_8601_in_both_zones() -> None:
    from ledger.domain.territory import to_mask

    assert words.territory_names(to_mask(["CN", "HK"])) == (
        "中国大陆 (CN)、中国香港特别行政区 (HK)",
        "Mainland China (CN), Hong Kong SAR (HK)",
    )
    assert words.territory_names(hex(to_mask(["WORLD"]))) == ("全世界", "Worldwide")
    assert words.territory_names(to_mask(["DE"]))[0] == "德国 (DE)"
    assert words.when(1714579200) == "2024-05-02T00:00:00+08:00 (Asia/Shanghai) · 2024-05-01T16:00:00Z (UTC)"


def test_the_case_summary_is_deterministic_lists_every_item_and_is_what_the_case_file_module_returns() -> None:
    pdf = casefile_render.render_summary(_case())
    assert casefile_render.render_summary(_case()) == pdf
    assert casefile.render_summary(_case()) == pdf
    text = _text(pdf)
    assert "0x" + "66" * 32 in text
    for item in _case()["items"]:
        assert item["file"] in text
    empty = casefile_render.render_summary({**_case(), "items": []})
    assert "—" in PdfReader(io.BytesIO(empty)).pages[0].extract_text()


def test_the_layout_kit_wraps_hex_at_the_column_width_and_sets_cjk_runs_in_the_cjk_font() -> None:
    value = "0x" + "ab" * 100
    lines = mono_lines(value)
    assert "".join(lines) == value and all(len(line) <= MONO_CHARS for line in lines) and len(lines) > 1
    assert mixed("A & 中文 <b>") == 'A &amp; <font name="NotoSansSC">中文</font> &lt;b&gt;'


def test_reading_and_verifying_certificates_and_case_files_never_loads_reportlab() -> None:
    code = (
        "import sys, ledger.certificates.agreement, ledger.certificates.casefile, ledger.certificates.verify; "
        "print(any(m.startswith('reportlab') for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def _certificate(kind: int, word: str, details: dict[str, Any], **terms: Any) -> dict[str, Any]:
    doc = _agreement()
    doc["agreement"] = {
        "id": AGREEMENT_ID,
        "kind": word,
        "terms": {
            "kind": kind,
            "assetId": 3,
            "grantees": [5],
            "shares": [],
            "licenceType": 0,
            "territory": "0x0",
            "start": 1714579200,
            "end": 1714579200 + 365 * 86400,
            "documentHash": "0x" + "11" * 32,
            **terms,
        },
        "details": details,
    }
    doc["signatures"].append({"partyId": 5, "signer": "0x5B38Da6a701c568545dCfcB03FcB875f56beddC4", "signature": "0x"})
    doc["parties"].append(
        {
            "partyId": 5,
            "identifierScheme": "USCC",
            "identifier": "91110000100000000R",
            "nameZh": "",
            "nameEn": "Example Bank",
        }
    )
    doc["asset"] = {
        "assetId": 3,
        "jurisdiction": "HK",
        "kind": "short_term_patent",
        "number": "HK1234567",
        "title": "Valve",
    }
    return doc


def test_every_agreement_type_reads_in_words_in_both_languages() -> None:
    pledge = _certificate(4, "pledge", {"amount": "5000000.5", "currency": "HKD", "registrationNumber": "ZX-1"})
    text = _text(agreement_render.render_pdf(pledge, verify_url=VERIFY_URL))
    for phrase in (
        'Firm <b>& Co (HK Business Registration No. 12345678) pledged short-term patent HK1234567 "Valve" to '
        "Example Bank (Unified Social Credit Code 91110000100000000R) to secure HKD 5,000,000.50",
        "将短期专利 HK1234567《Valve》出质给Example Bank",
        "HKD 5,000,000.50（港币伍佰万元伍角整）",
        "质押Pledge",
        "出质人Pledgor",
        "质权人Pledgee",
        "中国香港（知识产权署）Hong Kong SAR (Intellectual Property Department)",
    ):
        assert re.sub(r"\s+", "", phrase) in text, phrase

    equity = _certificate(
        3,
        "equity_contribution",
        {
            "agreedValue": "1000000",
            "appraisedValue": "1200000",
            "capitalAmount": "800000",
            "currency": "CNY",
            "equityShare": 1250,
            "appraiser": "Example Appraisal",
        },
        grantees=[5],
        shares=[10000],
    )
    text = _text(agreement_render.render_pdf(equity, verify_url=VERIFY_URL))
    for phrase in (
        "作价入股Equity contribution",
        "作价 CNY 1,000,000.00（人民币壹佰万元整）",
        "12.5%",
        "出资方Contributor",
    ):
        assert re.sub(r"\s+", "", phrase) in text, phrase

    assignment = _certificate(1, "assignment", {"contractDate": "2026-01-02"}, grantees=[5], shares=[10000])
    text = _text(agreement_render.render_pdf(assignment, verify_url=VERIFY_URL))
    for phrase in ("assigned short-term patent HK1234567", "转让方Assignor", "Example Bank: 100%", "2026-01-02"):
        assert re.sub(r"\s+", "", phrase) in text, phrase

    for ltype, zh, en in ((2, "排他许可", "Sole licence"), (3, "普通许可", "Non-exclusive licence")):
        licence = _certificate(
            2,
            "licence",
            {"royalty": {"basis": "per_unit", "amount": "12", "currency": "USD"}, "fieldOfUse": "EV batteries"},
            licenceType=ltype,
            territory=hex(1 << 47),
            sublicensable=True,
            parentLicence="0x" + "00" * 32,
        )
        text = _text(agreement_render.render_pdf(licence, verify_url=VERIFY_URL))
        for phrase in (zh + en, "USD 12.00 (twelve USD) per unit", "EV batteries", "允许Allowed", "中国大陆 (CN)"):
            assert re.sub(r"\s+", "", phrase) in text, phrase


def _story_case(outcome: str | None, status: str = "closed") -> tuple[dict[str, Any], dict[str, Any]]:
    case = _case()
    case["dispute"] = {
        **case["dispute"],
        "subject": "asset",
        "subjectId": 3,
        "assetId": 3,
        "status": status,
        "outcome": outcome,
        "openedAt": 1714579200,
        "closedAt": 1714579200 + 86400 if status == "closed" else None,
        "claimHash": "0x" + "77" * 32,
        "awardHash": "0x" + "88" * 32 if status == "closed" else None,
    }
    case["parties"] = [
        {
            "partyId": 1,
            "kind": "firm",
            "identifierScheme": "USCC",
            "identifier": "91110108551385082Q",
            "nameZh": "前海甲科技",
            "nameEn": "Qianhai X Tech",
        },
        {
            "partyId": 2,
            "kind": "firm",
            "identifierScheme": "OTHER",
            "identifier": "Z-1",
            "nameZh": "",
            "nameEn": "Z Ltd",
        },
        {
            "partyId": 4,
            "kind": "arbitration_institution",
            "identifierScheme": "OTHER",
            "identifier": "ARB-1",
            "nameZh": "深圳国际仲裁院",
            "nameEn": "",
        },
    ]
    case["asset"] = {
        "assetId": 3,
        "jurisdiction": "CN",
        "kind": "invention",
        "number": "CN201710601862.3",
        "title": "Battery separator",
    }
    case["items"] = [
        {"time": 1714579200 + 86400, "block": 20, "kind": "title-event", "file": "items/001-title-event.json"}
    ]
    documents = {
        "items/001-title-event.json": {
            "event": "TitleRestored",
            "owners": [{"partyId": 1, "share": 10000}],
            "disputeId": case["dispute"]["disputeId"],
        }
    }
    return case, documents


def test_the_case_summary_tells_who_claimed_against_whom_and_what_the_award_did() -> None:
    case, documents = _story_case("title_restored")
    text = _text(casefile_render.render_summary(case, documents))
    for phrase in (
        "申请人前海甲科技（统一社会信用代码 91110108551385082Q）",
        "向深圳国际仲裁院（其他标识 ARB-1）申请仲裁，被申请人为Z Ltd（其他标识 Z-1）",
        "争议标的为专利：发明专利 CN201710601862.3《Battery separator》",
        "裁决恢复权属：发明专利 CN201710601862.3《Battery separator》归前海甲科技 100%",
        "Qianhai X Tech (Unified Social Credit Code 91110108551385082Q) brought a claim against Z Ltd (Identifier Z-1) "
        "before 深圳国际仲裁院 (Identifier ARB-1)",
        'The award restored the title: invention patent CN201710601862.3 "Battery separator" belongs to Qianhai X Tech 100%',
        "裁决恢复权属Title restored by award",
    ):
        assert re.sub(r"\s+", "", phrase) in text, phrase
    assert "/Z" not in text
    dismissed = _text(casefile_render.render_summary(*_story_case("dismissed")))
    assert re.sub(r"\s+", "", "The award dismissed the claim; the records stand.") in dismissed
    open_case = _text(casefile_render.render_summary(*_story_case(None, "open")))
    assert "Thedisputeisopen" in open_case and "审理中" in open_case
