"""`ipledger verify` on an agreement certificate says apart whether it is authentic and whether the agreement is
in force: an exclusive licence verified while in force (exit 0, "in force"), with its contract document (passes)
and with another file (fails, exit 1); after an arbitral award voids it, the same certificate is still authentic
but "VOIDED by arbitral award" with the dispute (exit 3), and in force `--at` a moment before the award; `--file`
is refused where it does not apply (a case file, a case file's item)."""

from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pypdf import PdfReader

from ledger.certificates import agreement as agreement_certificate
from ledger.certificates.verify import Rpc
from tests.api.conftest import Api
from tests.api.test_agreements_scenario import YEAR, Parties, agree, register_asset, time_travel
from tests.api.test_disputes import AWARD, CLAIM, admit_institution, signed
from tests.helpers import cli_env, run_cli


def test_a_voided_licence_is_authentic_but_not_in_force(api: Api, tmp_path: Path) -> None:
    p = Parties(api)
    arbs, p_arb = admit_institution(api, jurisdiction="mainland", nameZh="深圳国际仲裁院")
    b = register_asset(api, p.uni, p.p_uni, "201710601862.3", "Battery separator")
    contract, other = tmp_path / "licence-contract.pdf", tmp_path / "other.pdf"
    contract.write_bytes(b"%PDF-1.7 licence contract")
    other.write_bytes(b"%PDF-1.7 another document")
    now = time_travel(api, 10)
    lic = agree(
        api,
        {
            "documentHash": "0x" + hashlib.sha256(contract.read_bytes()).hexdigest(),
            "kind": "licence",
            "assetId": b,
            "licensee": p.p_y,
            "licenceType": "exclusive",
            "territory": ["CN"],
            "start": now,
            "end": now + 3 * YEAR,
            "royalty": {"basis": "lump_sum", "amount": "1000000"},
        },
        p.uni,
        p.y,
    )
    cert_doc = api.client.get(f"/v1/agreements/{lic['agreementId']}/certificate").json()
    cert = tmp_path / "licence.json"
    cert.write_text(json.dumps(cert_doc))
    env = cli_env()

    def verify(*extra: str) -> Any:
        return run_cli("verify", str(cert), "--rpc-url", api.chain.node_url, *extra, env=env)

    # in force, with its contract document
    out = verify("--file", str(contract))
    assert out.returncode == 0, out.stdout + out.stderr
    assert "✓ passed  document" in out.stdout and "VERIFIED (authentic): 10 passed, 0 failed" in out.stdout
    assert "LEGAL STATUS now: in force until" in out.stdout, out.stdout
    # another file is not the signed document: not authentic
    out = verify("--file", str(other))
    assert out.returncode == 1, out.stdout + out.stderr
    assert "✗ FAILED  document" in out.stdout and "not the contract document" in out.stdout
    assert "NOT VERIFIED" in out.stdout and "in force" not in out.stdout

    # the award voids the licence
    body = {
        "subject": "agreement",
        "subjectId": lic["agreementId"],
        "claimant": p.p_x,
        "respondent": p.p_uni,
        "claimHash": CLAIM,
        "institution": p_arb,
    }
    did = signed(api, "/v1/disputes", body, arbs).json()["disputeId"]
    before_award = time_travel(api, 100)
    time_travel(api, 10)
    closed = signed(api, f"/v1/disputes/{did}/award", {"outcome": "agreement_voided", "awardHash": AWARD}, arbs)
    assert closed.status_code == 200, closed.text

    _the_certificate_reads_in_words(api, lic["agreementId"], now, closed.json()["closedAt"])

    out = verify()
    assert out.returncode == 3, out.stdout + out.stderr
    assert "VERIFIED (authentic): 9 passed, 0 failed" in out.stdout and "FAILED" not in out.stdout
    assert "LEGAL STATUS now: VOIDED by arbitral award on" in out.stdout and did in out.stdout, out.stdout
    as_json = json.loads(verify("--json").stdout)
    status = as_json["status"]
    assert as_json["verdict"] == "passed" and as_json["exitCode"] == 3
    assert status["state"] == "voided" and status["inForce"] is False and status["disputeId"] == did
    assert status["since"] == closed.json()["closedAt"]
    # at a moment before the award it was in force; before it took effect it was not
    out = verify("--at", str(before_award), "--json")
    assert out.returncode == 0 and json.loads(out.stdout)["status"]["state"] == "in_force", out.stdout
    out = verify("--at", "2001-01-01")
    assert out.returncode == 3 and "NOT YET IN EFFECT" in out.stdout, out.stdout
    assert (
        "not a time" in run_cli(*("verify", str(cert), "--rpc-url", api.chain.node_url, "--at", "soon"), env=env).stderr
    )

    # the library and the API give the same status, apart from the checks
    report = agreement_certificate.verify(cert_doc, Rpc.from_web3(api.chain.w3))
    assert report.passed and report.status is not None and report.status.state == "voided"
    via_api = api.client.post("/v1/verify", json={"certificate": cert_doc}).json()
    assert via_api["verdict"] == "passed" and via_api["status"]["state"] == "voided"
    wrong = api.client.post(
        "/v1/verify", json={"certificate": cert_doc, "fileHash": "0x" + hashlib.sha256(b"x").hexdigest()}
    ).json()
    assert wrong["verdict"] == "failed" and "document" in {
        c["name"] for c in wrong["checks"] if c["status"] == "failed"
    }

    # --file where it does not apply: refused in one line, never ignored
    case = api.client.get(f"/v1/disputes/{did}/case-file").content
    case_zip = tmp_path / "case.zip"
    case_zip.write_bytes(case)
    _the_case_summary_tells_the_story(case, lic["agreementId"], did)
    out = run_cli("verify", str(case_zip), "--rpc-url", api.chain.node_url, "--file", str(contract), env=env)
    assert out.returncode == 1 and "ipledger verify-case" in out.stderr and "--file does not apply" in out.stderr
    archive = zipfile.ZipFile(io.BytesIO(case))
    item = next(n for n in archive.namelist() if n.endswith("dispute-closed.json"))
    (tmp_path / "item.json").write_bytes(archive.read(item))
    out = run_cli(
        "verify", str(tmp_path / "item.json"), "--rpc-url", api.chain.node_url, "--file", str(contract), env=env
    )
    assert out.returncode == 1 and "--file does not apply" in out.stderr and "Traceback" not in out.stderr
    assert out.stdout == "", out.stdout


def _compact(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _pdf_text(pdf: bytes) -> str:
    """The text of a PDF as a reader's tool extracts it, white space removed (lines wrap anywhere)."""
    return _compact("".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages))


def _iso(ts: int) -> tuple[str, str]:
    """``ts`` in ISO 8601 in Asia/Shanghai (+08:00) and in UTC (Z), computed here independently of the renderer."""
    utc = datetime.fromtimestamp(ts, UTC)
    return (utc + timedelta(hours=8)).strftime("%Y-%m-%dT%H:%M:%S+08:00"), utc.strftime("%Y-%m-%dT%H:%M:%SZ")


def _the_certificate_reads_in_words(api: Api, agreement_id: str, start: int, voided_at: int) -> None:
    """The PDF alone says who licensed which patent to whom, where, for how long, for what royalty, and that the
    licence is no longer in force; in both languages; raw values only in the appendix."""
    resp = api.client.get(f"/v1/agreements/{agreement_id}/certificate", params={"format": "pdf"})
    assert resp.status_code == 200, resp.text
    text = _pdf_text(resp.content)
    expected = [
        # who licensed which patent to whom, where
        "香港示例大學（香港商业登记号码 12345678）以独占许可方式，将发明专利 CN201710601862.3《Battery separator》"
        "许可给前海乙科技（统一社会信用代码 91110000600037341L）实施；地域：中国大陆 (CN)",
        "Example University of Hong Kong (HK Business Registration No. 12345678) granted Qianhai Y Tech "
        "(Unified Social Credit Code 91110000600037341L) an exclusive licence of invention patent CN201710601862.3 "
        '"Battery separator" for Mainland China (CN)',
        # the patent, the parties by role
        "专利号Patent numberCN201710601862.3",
        "法域Jurisdiction中国大陆（国家知识产权局）Mainland China (CNIPA)",
        "许可方Licensor香港示例大學Example University of Hong Kong",
        "被许可方Licensee前海乙科技Qianhai Y Tech",
        # the term, in both zones
        "开始Start{} (Asia/Shanghai) · {} (UTC)".format(*_iso(start)),
        "届满End{} (Asia/Shanghai) · {} (UTC)".format(*_iso(start + 3 * YEAR)),
        "1,095 天",
        "1,095 days",
        # the royalty in figures and words
        "一次性支付 CNY 1,000,000.00（人民币壹佰万元整）",
        "A lump sum of CNY 1,000,000.00 (one million CNY)",
        "实施领域Field of use全部领域All fields",
        "尚未在国家知识产权局备案",
        # its status when issued: voided by the award
        f"经仲裁裁决撤销（{_iso(voided_at)[0]} (Asia/Shanghai)",
        f"Voided by arbitral award since {_iso(voided_at)[0]} (Asia/Shanghai)",
        # the QR code's link opens the portal on this agreement
        f"{api.ledger.settings.public_url.rstrip('/')}/?agreement={agreement_id}",
    ]
    for phrase in expected:
        assert _compact(phrase) in text, phrase
    # raw values only in the appendix, after the words
    assert text.index("Appendix") > text.index("Royalty")
    assert "kind/kind" not in text and "/Example" not in text

    html = api.client.get(f"/v1/agreements/{agreement_id}/certificate", params={"format": "html"}).text
    assert "独占许可<br>Exclusive licence" in html and "中国大陆 (CN)<br>Mainland China (CN)" in html
    cert = api.client.get(f"/v1/agreements/{agreement_id}/certificate").json()
    assert cert["asset"]["number"] == "CN201710601862.3" and cert["asset"]["title"] == "Battery separator"
    assert cert["status"]["state"] == "voided" and cert["status"]["closedAt"] == voided_at


def _the_case_summary_tells_the_story(case: bytes, agreement_id: str, dispute_id: str) -> None:
    """The case file's summary says who claimed against whom, about which licence of which patent, and what the
    award did, with names in both languages."""
    archive = zipfile.ZipFile(io.BytesIO(case))
    text = _pdf_text(archive.read("summary.pdf"))
    expected = [
        "申请人前海甲科技（统一社会信用代码 91110108551385082Q）",
        "向深圳国际仲裁院（其他标识 ARB-0001）申请仲裁，被申请人为香港示例大學（香港商业登记号码 12345678）",
        f"裁决撤销独占许可 {agreement_id}（香港示例大學 → 前海乙科技）：该协议自裁决时起不再有效。",
        "Qianhai X Tech (Unified Social Credit Code 91110108551385082Q) brought a claim against Example University "
        "of Hong Kong (HK Business Registration No. 12345678) before Qianhai Test Ltd (Identifier ARB-0001)",
        f"The award voided the exclusive licence {agreement_id} (Example University of Hong Kong to Qianhai Y Tech): "
        "it is no longer in force.",
        # the chain of title and agreements, with names
        "专利登记（权属主张）Patent registered (claim of title)权属人：香港示例大學 100%Owners: Example University of Hong Kong 100%",
        "核验机构确认权属Title confirmed by an asset verifier",
        "协议生效Agreement took effect",
        f"经争议 {dispute_id} 的裁决撤销",
        f"was voided by the award in {dispute_id}",
        "发明专利 CN201710601862.3《Battery separator》",
        "状态Status已结案：裁决撤销协议Closed: The award voided the agreement",
    ]
    for phrase in expected:
        assert _compact(phrase) in text, phrase
    assert "party3/party2" not in text and "closedagreement_voided" not in text
    listed = json.loads(archive.read("case.json"))
    assert {p["nameZh"] for p in listed["parties"]} >= {"香港示例大學", "前海甲科技", "深圳国际仲裁院"}
    assert listed["asset"]["number"] == "CN201710601862.3"
