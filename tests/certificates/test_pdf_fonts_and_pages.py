"""Every PDF the ledger prints, read back with poppler (``pdffonts``, ``pdftotext``, as a reader's machine would):
each font embedded as a subset, the Chinese text extracted as written, no page holding only a few lines.

poppler-utils comes from Debian (README, prerequisites; ``.ci/run`` installs it): without it these tests are
skipped with a reason, and fail under ``IPLEDGER_TEST_STRICT``.
"""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ledger.certificates.render import agreement as agreement_render
from ledger.certificates.render import casefile as casefile_render
from ledger.certificates.render.pdf import render_pdf
from tests.certificates.test_certificate_pdf import VERIFY_URL, _batch, _direct
from tests.certificates.test_render import VERIFY_URL as AGREEMENT_URL
from tests.certificates.test_render import _agreement, _case
from tests.helpers import env_flag

#: A page of a document with more than one page holds at least this many lines of text (the footer's two included).
MIN_LINES = 20


@pytest.fixture(scope="module")
def poppler() -> Iterator[Path]:
    missing = [tool for tool in ("pdffonts", "pdftotext", "pdfinfo") if shutil.which(tool) is None]
    if missing:
        reason = f"poppler-utils is not installed ({', '.join(missing)} missing)"
        if env_flag("IPLEDGER_TEST_STRICT"):  # CI installs poppler-utils: there, its absence is a failure
            pytest.fail(reason)
        pytest.skip(reason)
    with tempfile.TemporaryDirectory() as tmp:
        yield Path(tmp)


def _write(folder: Path, pdf: bytes) -> str:
    path = folder / f"doc-{len(list(folder.iterdir()))}.pdf"
    path.write_bytes(pdf)
    return str(path)


def _run(*args: str) -> str:
    return subprocess.run(args, check=True, capture_output=True, text=True, timeout=60).stdout


def _fonts(path: str) -> list[tuple[str, str, str]]:
    """(name, emb, sub) of every font ``pdffonts`` lists."""
    rows = []
    for line in _run("pdffonts", path).splitlines()[2:]:
        m = re.match(r"(\S+)\s.*\s(yes|no)\s+(yes|no)\s+(yes|no)\s+\d+\s+\d+$", line)
        assert m, line
        rows.append((m[1], m[2], m[3]))
    return rows


def _pages(path: str) -> list[str]:
    count = int(re.search(r"^Pages:\s+(\d+)$", _run("pdfinfo", path), re.M)[1])  # type: ignore[index]
    return [_run("pdftotext", "-layout", "-f", str(n), "-l", str(n), path, "-") for n in range(1, count + 1)]


def _lines(text: str) -> int:
    return sum(1 for line in text.splitlines() if line.strip())


def _long_case() -> dict[str, Any]:
    case = _case()
    case["items"] = [
        {**item, "file": f"items/{i:03}-{item['kind']}.json", "block": 10 + i, "time": item["time"] + 60 * i}
        for i, item in enumerate(case["items"] * 20)
    ]
    return case


DOCUMENTS: dict[str, Callable[[], bytes]] = {
    "evidence, direct": lambda: render_pdf(_direct(), verify_url=VERIFY_URL),
    "evidence, batch": lambda: render_pdf(_batch(), verify_url=VERIFY_URL),
    "evidence, rare characters": lambda: render_pdf(
        _direct(nameZh="深圳前海珺瑄𬭚科技有限公司"), verify_url=VERIFY_URL
    ),
    "agreement": lambda: agreement_render.render_pdf(_agreement(), verify_url=AGREEMENT_URL),
    "case file": lambda: casefile_render.render_summary(_case()),
    "case file, 60 records": lambda: casefile_render.render_summary(_long_case()),
}


@functools.cache
def _pdf(name: str) -> bytes:
    return DOCUMENTS[name]()


@pytest.mark.parametrize("name", DOCUMENTS)
def test_every_font_is_embedded_as_a_subset(poppler: Path, name: str) -> None:
    fonts = _fonts(_write(poppler, _pdf(name)))
    assert fonts
    for font, emb, sub in fonts:
        assert (emb, sub) == ("yes", "yes"), f"{name}: {font} emb {emb} sub {sub}"
    assert any(font.endswith("+NotoSansSC-Regular") for font, _, _ in fonts), fonts


@pytest.mark.parametrize("name", DOCUMENTS)
def test_no_page_of_a_longer_document_holds_only_a_few_lines(poppler: Path, name: str) -> None:
    pages = _pages(_write(poppler, _pdf(name)))
    lines = [_lines(text) for text in pages]
    if len(pages) > 1:
        assert min(lines) >= MIN_LINES, f"{name}: lines of text per page {lines}"
    assert lines[0] >= 10, f"{name}: lines of text per page {lines}"


def test_the_batch_certificate_fits_on_two_pages(poppler: Path) -> None:
    # laid out at the normal spacing, its last page would hold the last rows of the batch proofs only
    assert len(_pages(_write(poppler, _pdf("evidence, batch")))) == 2


def test_chinese_text_extracts_as_written(poppler: Path) -> None:
    text = "".join(_pages(_write(poppler, _pdf("evidence, rare characters"))))
    for label in (
        "知识产权存证证书",
        "存证内容",
        "内容哈希",
        "登记方",
        "区块链锚定",
        "证明范围",
        "法律说明",
        "如何验证",
        "第十六条",
        "一种基于区块链的专利存证方法",
        "深圳前海珺瑄𬭚科技有限公司",  # beyond GB 2312 (珺, 瑄) and beyond the BMP (𬭚)
        "2024-05-02T00:00:00+08:00",
        "第 1 页 / Page 1",
    ):
        assert label in text, label
    assert "\ufffd" not in text
    assert "知识产权协议证书" in "".join(_pages(_write(poppler, _pdf("agreement"))))
    assert "仲裁案卷摘要" in "".join(_pages(_write(poppler, _pdf("case file"))))


def test_the_pdf_is_dated_at_the_block_time(poppler: Path) -> None:
    info = _run("pdfinfo", "-isodates", _write(poppler, _pdf("evidence, direct")))
    assert re.search(r"^CreationDate:\s+2024-05-01T16:00:00(Z|\+00)", info, re.M), info
    assert re.search(r"^ModDate:\s+2024-05-01T16:00:00(Z|\+00)", info, re.M), info
    assert re.search(r"^Producer:\s+Qianhai IP Ledger", info, re.M), info
    assert re.search(r"^Title:\s+知识产权存证证书 / IP Evidence Certificate$", info, re.M), info


def test_a_fresh_process_prints_the_same_bytes() -> None:
    # the embedded CJK font depends on the document's characters only, not on what the process printed before
    DOCUMENTS["evidence, batch"]()
    here = DOCUMENTS["evidence, direct"]()
    code = (
        "import sys; from ledger.certificates.render.pdf import render_pdf;"
        "from tests.certificates.test_certificate_pdf import VERIFY_URL, _direct;"
        "sys.stdout.buffer.write(render_pdf(_direct(), verify_url=VERIFY_URL))"
    )
    fresh = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, timeout=120).stdout
    assert fresh == here


def test_the_layout_kit_sets_chinese_in_machine_values_in_the_cjk_font(poppler: Path) -> None:
    import io

    from ledger.certificates.render.layout import Row, Styles, document, heading, table

    st = Styles()
    buf = io.BytesIO()
    rows = [
        Row("条款", "Terms", '{"fieldOfUse": "医疗器械 / medical devices"}', mono=True),
        Row("名称", "Name", "甲乙"),
    ]
    document(buf, title="测试 / Test", issued=1714579200).build([heading("条款", "Terms", st), table(rows, st)])
    path = _write(poppler, buf.getvalue())
    assert all((emb, sub) == ("yes", "yes") for _, emb, sub in _fonts(path))
    text = "".join(_pages(path))
    assert '"fieldOfUse": "医疗器械 / medical devices"' in text and "甲乙" in text


def test_documents_printed_at_once_in_threads_are_the_same_as_one_by_one() -> None:
    # the CJK font is registered per document under one name: building is serialised, nothing is mixed up
    from concurrent.futures import ThreadPoolExecutor

    names = ["evidence, direct", "evidence, rare characters", "agreement", "case file"] * 2
    alone = {name: DOCUMENTS[name]() for name in names}
    with ThreadPoolExecutor(max_workers=4) as pool:
        together = list(pool.map(lambda name: DOCUMENTS[name](), names))
    assert together == [alone[name] for name in names]
