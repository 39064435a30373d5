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
            "terms": {"assetId": 3, "kind": 1, "documentHash": "0x" + "11" * 32},
            "details": {"royalty": "5% of <net> & more"},
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
    assert "<td>许可<br>Licence</td>" in page
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
    assert mixed("A & 中文 <b>") == 'A &amp; <font name="STSong-Light">中文</font> &lt;b&gt;'


def test_reading_and_verifying_certificates_and_case_files_never_loads_reportlab() -> None:
    code = (
        "import sys, ledger.certificates.agreement, ledger.certificates.casefile, ledger.certificates.verify; "
        "print(any(m.startswith('reportlab') for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
