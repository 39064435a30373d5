"""The human-readable renderings of evidence certificates: PDF (read back with pypdf) and HTML."""

from __future__ import annotations

import copy
import hashlib
import io
import re
from html.parser import HTMLParser
from typing import Any, cast

import pytest
import qrcode
import qrcode.constants
from PIL import Image
from pypdf import PageObject, PdfReader
from pypdf.generic import ContentStream, DictionaryObject

from ledger.certificates import evidence as certificate
from ledger.certificates.evidence import CertificateMalformed
from ledger.certificates.render.pdf import (
    QR_BORDER,
    QR_FORM_NAME,
    qr_matrix,
    render_html,
    render_pdf,
)
from ledger.domain.canonical_json import canonical_json
from ledger.domain.hashing import HashAlgorithm, private_binding
from ledger.domain.merkle import MerkleTree, leaf_hash

VERIFY_URL = "https://ipledger.qianhai.example.cn/verify?cert=0x1f2e3d4c&lang=zh"
ACCOUNT = "0x5B38Da6a701c568545dCfcB03FcB875f56beddC4"
CONTRACT = "0xd9145CCE52D386f254917e481eB44e9943F39138"
# 2024-05-01T16:00:00Z: already the next day in Shanghai.
BLOCK_TIME = 1714579200


def _h(label: str) -> bytes:
    return hashlib.sha256(label.encode()).digest()


def _hex(label: str) -> str:
    return "0x" + _h(label).hex()


METADATA: dict[str, Any] = {
    "title": "一种基于区块链的专利存证方法",
    "kind": "invention",
    "creators": [{"nameZh": "李明", "nameEn": "Li Ming"}, "Chan Tai Man"],
}


def _direct(**party: str) -> dict[str, Any]:
    """A private (salted) direct registration by a Qianhai company, with metadata."""
    content, salt = _h("patent-draft.pdf"), _h("salt")
    return certificate.build(
        content_hash=content,
        algorithm=HashAlgorithm.SHA256,
        binding=private_binding(content, 7, salt, HashAlgorithm.SHA256),
        salt=salt,
        metadata_commitment=hashlib.sha256(canonical_json(METADATA)).digest(),
        supersedes=None,
        metadata=METADATA,
        account=ACCOUNT,
        party_id=7,
        party={
            "identifierScheme": "USCC",
            "identifier": "91110108551385082Q",
            "nameZh": party.get("nameZh", "深圳前海示例科技有限公司"),
            "nameEn": party.get("nameEn", "Shenzhen Qianhai Example Technology Co., Ltd."),
        },
        chain_id=31337,
        contract=CONTRACT,
        tx_hash=_hex("direct-tx"),
        block_number=1234567,
        block_hash=_hex("direct-block"),
        block_timestamp=BLOCK_TIME,
    )


SUBMISSION = MerkleTree.from_data([_h(f"item-{i}") for i in range(5)])
BATCH = MerkleTree([_h(f"submission-digest-{i}") for i in range(11)])
SIGNATURE = "0x" + (_h("sig-r") + _h("sig-s") + b"\x1c").hex()


def _batch() -> dict[str, Any]:
    """A public SM3 registration batched by a Hong Kong university (item 2 of 5, submission 9 of 11)."""
    registered = _h("item-2")
    return certificate.build(
        content_hash=registered,
        algorithm=HashAlgorithm.SM3,
        binding=registered,
        salt=None,
        metadata_commitment=None,
        supersedes=None,
        metadata=None,
        account=ACCOUNT,
        party_id=12,
        party={
            "identifierScheme": "HKBRN",
            "identifier": "12345678",
            "nameZh": "香港示例大学",
            "nameEn": "Example University of Hong Kong",
        },
        chain_id=31337,
        contract=CONTRACT,
        tx_hash=_hex("batch-tx"),
        block_number=99,
        block_hash=_hex("batch-block"),
        block_timestamp=BLOCK_TIME,
        registrations={
            "asOfBlock": 120,
            "count": 2,
            "listed": [
                {
                    "partyId": 3,
                    "binding": _hex("first"),
                    "method": "direct",
                    "blockNumber": 90,
                    "blockTimestamp": BLOCK_TIME - 60,
                },
                {
                    "partyId": 12,
                    "binding": _hex("item-2"),
                    "method": "batch",
                    "blockNumber": 99,
                    "blockTimestamp": BLOCK_TIME,
                },
            ],
        },
        batch={
            "submission": {
                "root": "0x" + SUBMISSION.root.hex(),
                "count": 5,
                "deadline": BLOCK_TIME + 3600,
                "signature": SIGNATURE,
                "proof": SUBMISSION.inclusion_proof(2).to_json(),
            },
            "batch": {"root": "0x" + BATCH.root.hex(), "proof": BATCH.inclusion_proof(9).to_json()},
        },
    )


# --- helpers ------------------------------------------------------------------------------------


def _pdf_text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def _squash(text: str) -> str:
    """Text without whitespace, so hex wrapped over lines reads as one string."""
    return re.sub(r"\s+", "", text)


def _resources(page: PageObject) -> DictionaryObject:
    return cast(DictionaryObject, page["/Resources"].get_object())


def _pdf_qr(pdf: bytes) -> list[list[bool]]:
    """The module matrix drawn in the PDF's QR form XObject (quiet zone included), read from its
    content stream: each filled black rectangle marks a run of dark modules."""
    reader = PdfReader(io.BytesIO(pdf))
    name = f"/FormXob.{QR_FORM_NAME}"
    xobjects = [cast(DictionaryObject, _resources(page).get("/XObject", DictionaryObject())) for page in reader.pages]
    forms = [cast(DictionaryObject, x[name].get_object()) for x in xobjects if name in x]
    assert len(forms) == 1, "exactly one page shows the QR code"
    form = forms[0]
    n = round(float(cast(list[float], form["/BBox"])[2]))
    grid = [[False] * n for _ in range(n)]
    fill: tuple[float, ...] = (0.0, 0.0, 0.0)
    for operands, op in ContentStream(form, reader).operations:
        if op == b"rg":
            fill = tuple(float(v) for v in operands)
        elif op == b"re" and fill == (0.0, 0.0, 0.0):
            x, y, w, h = (round(float(v)) for v in operands)
            for row in range(n - y - h, n - y):
                for col in range(x, x + w):
                    grid[row][col] = True
    return grid


class _SvgRects(HTMLParser):
    """The dark modules of the inline SVG QR code (``M x,y h w v1 h-w z`` path segments)."""

    def __init__(self) -> None:
        super().__init__()
        self.size = 0
        self.path = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "svg":
            self.size = int((a["viewbox"] or "").split()[2])
        elif tag == "path" and a.get("fill") == "#000":
            self.path = a["d"] or ""


def _html_qr(page: str) -> list[list[bool]]:
    parser = _SvgRects()
    parser.feed(page)
    n = parser.size
    grid = [[False] * n for _ in range(n)]
    for x, y, w in re.findall(r"M(\d+),(\d+)h(\d+)v1h-\d+z", parser.path):
        for col in range(int(x), int(x) + int(w)):
            grid[int(y)][col] = True
    return grid


def _bordered(matrix: list[list[bool]]) -> list[list[bool]]:
    n = len(matrix) + 2 * QR_BORDER
    blank = [[False] * n for _ in range(QR_BORDER)]
    return blank + [[False] * QR_BORDER + row + [False] * QR_BORDER for row in matrix] + copy.deepcopy(blank)


def _decode(grid: list[list[bool]]) -> list[str]:
    """Decodes a module grid (quiet zone included) with ZXing, as a scanner would read a picture of it."""
    zxingcpp = pytest.importorskip("zxingcpp")
    scale = 6
    n = len(grid)
    img = Image.new("L", (n * scale, n * scale), 255)
    for y, row in enumerate(grid):
        for x, dark in enumerate(row):
            if dark:
                img.paste(0, (x * scale, y * scale, (x + 1) * scale, (y + 1) * scale))
    return [r.text for r in zxingcpp.read_barcodes(img)]


@pytest.fixture(scope="module")
def direct_pdf() -> bytes:
    return render_pdf(_direct(), verify_url=VERIFY_URL)


@pytest.fixture(scope="module")
def batch_pdf() -> bytes:
    return render_pdf(_batch(), verify_url=VERIFY_URL)


# --- PDF ----------------------------------------------------------------------------------------


def test_pdf_is_a4_pdf(direct_pdf: bytes) -> None:
    assert direct_pdf.startswith(b"%PDF-")
    assert direct_pdf.rstrip().endswith(b"%%EOF")
    box = PdfReader(io.BytesIO(direct_pdf)).pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (595, 842)


def test_pdf_is_deterministic_and_depends_on_the_input(direct_pdf: bytes, batch_pdf: bytes) -> None:
    assert render_pdf(_direct(), verify_url=VERIFY_URL) == direct_pdf
    assert render_pdf(_batch(), verify_url=VERIFY_URL) == batch_pdf
    assert render_pdf(_direct(), verify_url=VERIFY_URL + "&x=1") != direct_pdf
    assert direct_pdf != batch_pdf


def test_pdf_embeds_a_subset_of_every_font_it_uses(direct_pdf: bytes, batch_pdf: bytes) -> None:
    for pdf in (direct_pdf, batch_pdf):
        reader = PdfReader(io.BytesIO(pdf))
        fonts = {
            font["/BaseFont"]: font
            for page in reader.pages
            for f in cast(DictionaryObject, _resources(page)["/Font"]).values()
            if (font := f.get_object())
        }
        families = {str(name).split("+", 1)[-1] for name in fonts}
        assert {"NotoSansSC-Regular", "BitstreamVeraSans-Roman", "IBMPlexMono-Regular"} <= families, families
        for name, font in fonts.items():
            # a subset carries a six-letter tag (PDF 32000-1, 9.6.4); its program is embedded
            assert re.fullmatch(r"/[A-Z]{6}\+[\w-]+", str(name)), name
            descriptor = font["/FontDescriptor"].get_object()
            assert "/FontFile2" in descriptor, name
        assert b"/Helvetica" not in pdf and b"/STSong-Light" not in pdf and b"/Courier" not in pdf


def test_pdf_is_dated_at_the_block_time_and_names_itself(direct_pdf: bytes) -> None:
    meta = PdfReader(io.BytesIO(direct_pdf)).metadata
    assert meta is not None
    assert meta["/CreationDate"] == meta["/ModDate"] == "D:20240501160000+00'00'"
    assert meta.title == "知识产权存证证书 / IP Evidence Certificate"
    assert meta.subject == _direct()["evidence"]["contentHash"]
    assert meta.producer is not None and "Qianhai IP Ledger" in meta.producer


def test_pdf_direct_shows_every_field(direct_pdf: bytes) -> None:
    doc = _direct()
    text = _pdf_text(direct_pdf)
    flat = _squash(text)
    ev, an = doc["evidence"], doc["anchor"]
    for value in (
        ev["contentHash"],
        ev["salt"],
        ev["binding"],
        ev["metadataCommitment"],
        an["transactionHash"],
        an["blockHash"],
        ACCOUNT,
        CONTRACT,
        VERIFY_URL,
    ):
        assert value in flat, value
    for value in (
        "1234567",
        "31337",
        "SHA-256",
        "91110108551385082Q",
        "Unified Social Credit Code",
        "Shenzhen Qianhai Example Technology Co., Ltd.",
        "深圳前海示例科技有限公司",
        "一种基于区块链的专利存证方法",
        "发明 / invention",
        "李明 / Li Ming; Chan Tai Man",
        "2024-05-01T16:00:00Z",
        "2024-05-02T00:00:00+08:00",
        "私密登记（加盐）",
        "Private (salted)",
        "does not prove authorship",
        "内容哈希",
        "Content hash",
        "Salt",
        "Direct",
    ):
        assert value in text, value
    # how to verify, and the legal note in both languages
    for value in (
        "ipledger verify cert.json --file FILE --rpc-url URL",
        "docs/certificate.md",
        "JSON-RPC",
        "Online Litigation Rules",
        "Art. 16",
        "在线诉讼规则",
        "第十六条",
    ):
        assert value in text, value
    assert "Submission root" not in text and "audit path" not in text


def test_pdf_batch_shows_roots_indexes_and_audit_paths(batch_pdf: bytes) -> None:
    doc = _batch()
    text = _pdf_text(batch_pdf)
    flat = _squash(text)
    sub, bat = doc["anchor"]["submission"], doc["anchor"]["batch"]
    assert len(sub["proof"]["path"]) == 3 and len(bat["proof"]["path"]) == 3
    for value in (
        sub["root"],
        bat["root"],
        SIGNATURE,
        doc["anchor"]["transactionHash"],
        *sub["proof"]["path"],
        *bat["proof"]["path"],
    ):
        assert value in flat, value
    for value in (
        "2 / 5",
        "9 / 11",
        "Batch (Merkle tree)",
        "SM3",
        "香港示例大学",
        "Example University of Hong Kong",
        "12345678",
        "2024-05-01T17:00:00Z",
    ):
        assert value in text, value
    # a public registration: no salt, no salted-commitment step
    assert "Public (unsalted)" in text and "公开登记（不加盐）" in text
    assert "Registered first by" in text and "party 3 (block 90" in text and "party 12 (block 99" in text
    assert "盐值" not in text and "Salt" not in text


def test_pdf_audit_path_nodes_are_printed_in_order(batch_pdf: bytes) -> None:
    flat = _squash(_pdf_text(batch_pdf))
    path = _batch()["anchor"]["batch"]["proof"]["path"]
    positions = [flat.index(f"[{i}]{node}") for i, node in enumerate(path)]
    assert positions == sorted(positions)


def test_pdf_prints_markup_in_data_literally() -> None:
    name = "<b>Evil</b> & Co <script>alert(1)</script>"
    text = _pdf_text(render_pdf(_direct(nameEn=name), verify_url=VERIFY_URL))
    assert name in text


def test_pdf_long_values_wrap_and_long_cells_split_over_pages() -> None:
    doc = _batch()
    doc["anchor"]["submission"]["signature"] = "0x" + "ab" * 4096  # the format's maximum
    pdf = render_pdf(doc, verify_url=VERIFY_URL)
    lines = [line.strip() for line in _pdf_text(pdf).splitlines()]
    assert len(PdfReader(io.BytesIO(pdf)).pages) >= 3
    # the signature's lines, in order, leaving out the page footers between them
    assert "".join(line for line in lines if re.fullmatch(r"(0x)?[ab]+", line)) == "0x" + "ab" * 4096
    # every hex line fits the value column (the mono font at 7.5 pt: 74 characters)
    assert max(len(line) for line in lines if re.fullmatch(r"(0x)?[0-9a-f]+", line)) <= 74


def test_pdf_custom_titles() -> None:
    pdf = render_pdf(_direct(), verify_url=VERIFY_URL, title_zh="存证证明", title_en="Evidence Record")
    text = _pdf_text(pdf)
    assert "存证证明" in text and "Evidence Record" in text
    assert "IP Evidence Certificate" not in text
    assert PdfReader(io.BytesIO(pdf)).metadata.title == "存证证明 / Evidence Record"  # type: ignore[union-attr]


def test_pdf_qr_code_is_the_verify_url(direct_pdf: bytes) -> None:
    grid = _pdf_qr(direct_pdf)
    assert grid == _bordered(qr_matrix(VERIFY_URL))
    assert grid != _bordered(qr_matrix(VERIFY_URL + "x"))
    assert _decode(grid) == [VERIFY_URL]


def test_renderers_refuse_malformed_certificates() -> None:
    doc = _direct()
    doc["anchor"]["transactionHash"] = "0x1234"
    with pytest.raises(CertificateMalformed) as exc:
        render_pdf(doc, verify_url=VERIFY_URL)
    assert exc.value.field == "anchor.transactionHash"
    with pytest.raises(CertificateMalformed):
        render_html(doc, verify_url=VERIFY_URL)


# --- QR -----------------------------------------------------------------------------------------


def test_qr_matrix_is_the_qrcode_of_the_url() -> None:
    reference = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=0)
    reference.add_data(VERIFY_URL)
    reference.make(fit=True)
    matrix = qr_matrix(VERIFY_URL)
    assert matrix == reference.get_matrix()
    assert matrix != qr_matrix(VERIFY_URL.replace("zh", "en"))
    assert _decode(_bordered(matrix)) == [VERIFY_URL]


def test_qr_matrix_refuses_an_address_too_long_for_a_qr_code() -> None:
    with pytest.raises(ValueError, match="too long"):
        qr_matrix("https://x.example/" + "a" * 5000)


# --- HTML ---------------------------------------------------------------------------------------


def test_html_has_the_same_content() -> None:
    page = render_html(_batch(), verify_url=VERIFY_URL)
    doc = _batch()
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    for value in (
        doc["evidence"]["contentHash"],
        doc["anchor"]["transactionHash"],
        doc["anchor"]["blockHash"],
        doc["anchor"]["submission"]["root"],
        doc["anchor"]["batch"]["root"],
        SIGNATURE,
        *doc["anchor"]["batch"]["proof"]["path"],
        "香港示例大学",
        "Example University of Hong Kong",
        "2 / 5",
        "9 / 11",
        "2024-05-02T00:00:00+08:00",
        "在线诉讼规则",
        "Online Litigation Rules",
        "ipledger verify cert.json --file FILE --rpc-url URL",
    ):
        assert value in page, value
    assert '<a class="url" href="https://ipledger.qianhai.example.cn/verify?cert=0x1f2e3d4c&amp;lang=zh">' in page
    assert render_html(_batch(), verify_url=VERIFY_URL) == page


def test_html_is_self_contained() -> None:
    page = render_html(_direct(), verify_url=VERIFY_URL)
    assert "<style>" in page
    assert not re.search(r"""(src|href)=["']?(https?:)?//(?!ipledger\.qianhai\.example\.cn/verify)""", page)
    assert "<link" not in page and "<img" not in page


def test_html_escapes_data() -> None:
    evil_zh = '前海<script>alert("zh")</script>公司'
    evil_en = "<script>alert('x')</script> & <img src=x onerror=alert(1)>"
    doc = _direct(nameZh=evil_zh, nameEn=evil_en)
    doc["evidence"]["metadata"] = {"title": '"><script>t()</script>', "kind": "software"}
    doc["evidence"]["metadataCommitment"] = (
        "0x" + hashlib.sha256(canonical_json(doc["evidence"]["metadata"])).hexdigest()
    )
    page = render_html(doc, verify_url='https://v.example/?a="><script>u()</script>')
    assert "<script" not in page.lower()
    assert "<img" not in page.lower()
    assert "前海&lt;script&gt;alert(&quot;zh&quot;)&lt;/script&gt;公司" in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; &lt;img src=x onerror=alert(1)&gt;" in page
    assert "&quot;&gt;&lt;script&gt;t()&lt;/script&gt;" in page
    assert "软件 / software" in page


def test_html_does_not_link_other_schemes() -> None:
    page = render_html(_direct(), verify_url="javascript:alert(1)")
    assert "href=" not in page
    assert "javascript:alert(1)" in page  # printed, not linked


def test_html_qr_code_is_the_verify_url() -> None:
    grid = _html_qr(render_html(_direct(), verify_url=VERIFY_URL))
    assert grid == _bordered(qr_matrix(VERIFY_URL))
    assert _decode(grid) == [VERIFY_URL]


def test_leaf_hash_of_sample_is_in_submission_tree() -> None:
    """The sample batch certificate is internally consistent (so the PDF tests print real proofs)."""
    proof = certificate.parse(_batch()).submission_proof
    assert proof.verify(leaf_hash(_h("item-2")), SUBMISSION.root)


def test_the_registration_kind_reads_the_same_in_html_and_pdf() -> None:
    private, public = _direct(), _batch()
    issued_for_binding = _batch()
    issued_for_binding["evidence"].update(contentHash=None, privacy=None)
    for doc, zh, en in (
        (private, "私密登记（加盐）", "Private (salted)"),
        (public, "公开登记（不加盐）", "Public (unsalted)"),
        (issued_for_binding, "公开或私密未知", "Public or private not known"),
    ):
        page = render_html(doc, verify_url=VERIFY_URL)
        text = _pdf_text(render_pdf(doc, verify_url=VERIFY_URL))
        for rendering in (page, text):
            assert zh in rendering and en in rendering, (zh, en)
    assert "--sidecar" in render_html(issued_for_binding, verify_url=VERIFY_URL)
    # a private certificate from which the salt was taken out says where the salt is
    stripped = _direct()
    stripped["evidence"]["salt"] = None
    assert "sidecar" in render_html(stripped, verify_url=VERIFY_URL)


def test_a_checkpoint_is_shown_in_the_appendix_and_a_malformed_one_is_not() -> None:
    """docs/certificate.md §11: the checkpoint vector's certificate shows its public chain, transaction and root."""
    import json
    from pathlib import Path

    vectors = Path(__file__).resolve().parents[2] / "docs" / "conformance" / "checkpoint" / "certificates"
    doc = json.loads((vectors / "checkpoint-batch.json").read_text(encoding="utf-8"))
    entry = doc["checkpoint"][0]
    flat = _squash(_pdf_text(render_pdf(doc, verify_url=VERIFY_URL)))
    assert f"Checkpoint on public chain {entry['chainId']}" in _pdf_text(render_pdf(doc, verify_url=VERIFY_URL))
    for value in (entry["transactionHash"], entry["root"], entry["consortiumBlockHash"], entry["proof"]["path"][0]):
        assert value in flat, value
    assert entry["root"] in render_html(doc, verify_url=VERIFY_URL)
    broken = copy.deepcopy(doc)
    del broken["checkpoint"][0]["proof"]
    assert entry["root"] not in _squash(_pdf_text(render_pdf(broken, verify_url=VERIFY_URL)))
