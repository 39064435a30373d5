"""The README dispute walkthrough, for real: `ipledger up`, the council admits an arbitration institution with
two arbitrator accounts (arbitrator-1.json, arbitrator-2.json), one arbitrator alone is refused (one line,
exit 1, nothing frozen), both open the dispute (the patent is frozen) and both sign the award that restores
title; the case file's summary tells the story in words (who claimed against whom, the award's effect) and the
case file verifies against the node."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import pytest
from pypdf import PdfReader

from tests.cli.conftest import UpProcess
from tests.cli.test_agreements_cli import admit_university_and_firm, fails, new_keys, ok, ok_json
from tests.helpers import cli_env, council_admit

PASSWORD = "disputes password"


@pytest.mark.slow
def test_an_arbitration_institution_opens_and_awards_by_two_arbitrators(up, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    p: UpProcess = up(
        env={"IPLEDGER_CONFIRMATIONS": "0", "IPLEDGER_FINAL_AFTER": "0", "IPLEDGER_GOVERNANCE_DELAY": "1"}
    )
    p.wait_healthy()
    env = cli_env(IPLEDGER_API_URL=p.api, IPLEDGER_DATA_DIR=str(p.data_dir), IPLEDGER_KEYSTORE_PASSWORD=PASSWORD)
    keys, address = new_keys(tmp_path, ("uni", "firm", "arbitrator-1", "arbitrator-2"), env)
    uni, firm = admit_university_and_firm(address, env)
    council_admit(
        env,
        f"http://127.0.0.1:{p.node_port}",
        tmp_path / "admit-arbitration.json",
        "--kind",
        "arbitration_institution",
        "--identifier",
        "91440300MA5G2X1U2J",
        "--name-zh",
        "深圳国际仲裁院",
        "--account",
        address["arbitrator-1"],
        "--account",
        address["arbitrator-2"],
    )
    asset = ok_json(
        "asset",
        "register",
        "--json",
        "--jurisdiction",
        "CN",
        "--kind",
        "invention",
        "--title",
        "一种数据存证方法",
        "--number",
        "201710601862.3",
        "--owner",
        f"{firm}:10000",
        "--keystore",
        keys["firm"],
        env=env,
    )["assetId"]
    claim, award = tmp_path / "claim.pdf", tmp_path / "award.pdf"
    claim.write_bytes(b"%PDF-1.7 statement of claim")
    award.write_bytes(b"%PDF-1.7 award")

    opening = (
        "dispute",
        "open",
        "asset",
        str(asset),
        "--claimant",
        str(uni),
        "--respondent",
        str(firm),
        "--claim",
        str(claim),
    )
    line = fails(*opening, "--keystore", keys["arbitrator-1"], env=env)  # one arbitrator alone
    assert "2 distinct arbitrator accounts" in line, line
    line = fails(
        *opening, "--keystore", keys["arbitrator-1"], "--keystore", keys["firm"], env=env
    )  # a party's key with it
    assert "not an account of arbitration institution" in line, line
    assert ok_json("asset", "show", str(asset), "--json", env=env)["frozen"] is False
    dispute = ok_json(
        *opening, "--keystore", keys["arbitrator-1"], "--keystore", keys["arbitrator-2"], "--json", env=env
    )
    assert dispute["status"] == "open" and ok_json("asset", "show", str(asset), "--json", env=env)["frozen"] is True

    closing = (
        "dispute",
        "award",
        dispute["disputeId"],
        "--outcome",
        "title_restored",
        "--award",
        str(award),
        "--owner",
        f"{uni}:10000",
    )
    assert "2 distinct arbitrator accounts" in fails(*closing, "--keystore", keys["arbitrator-2"], env=env)
    closed = ok_json(
        *closing, "--keystore", keys["arbitrator-1"], "--keystore", keys["arbitrator-2"], "--json", env=env
    )
    assert closed["status"] == "closed" and closed["outcome"] == "title_restored"
    words = ok("dispute", "show", dispute["disputeId"], env=env).stdout
    assert f"dispute {dispute['disputeId']} is closed: title restored" in words and "{" not in words, words
    assert re.search(r"^closed: \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} \S+$", words, re.M), words
    as_json = ok_json("dispute", "show", dispute["disputeId"], "--json", env=env)
    assert as_json["status"] == "closed" and as_json["closedAt"] == closed["closedAt"]
    shown = ok_json("asset", "show", str(asset), "--json", env=env)
    assert shown["owners"] == [{"partyId": uni, "share": 10000}] and shown["frozen"] is False

    # the case file: its summary tells the story in words, in both languages, and every item verifies
    case_zip = tmp_path / "case.zip"
    ok("dispute", "case-file", dispute["disputeId"], "-o", str(case_zip), env=env)
    with zipfile.ZipFile(case_zip) as archive:
        summary = archive.read("summary.pdf")
    text = re.sub(r"\s+", "", "".join(page.extract_text() for page in PdfReader(io.BytesIO(summary)).pages))
    patent_zh, patent_en = (
        "发明专利 CN201710601862.3《一种数据存证方法》",
        'invention patent CN201710601862.3 "一种数据存证方法"',
    )
    for phrase in (
        "申请人Example University of Hong Kong（香港商业登记号码 12345678）",
        "向深圳国际仲裁院（统一社会信用代码 91440300MA5G2X1U2J）申请仲裁，"
        "被申请人为前海示例科技（统一社会信用代码 91110108551385082Q）；争议标的为专利：" + patent_zh,
        f"裁决恢复权属：{patent_zh}归Example University of Hong Kong 100%",
        "Example University of Hong Kong (HK Business Registration No. 12345678) brought a claim against Qianhai "
        "Example Tech (Unified Social Credit Code 91110108551385082Q) before 深圳国际仲裁院 (Unified Social Credit "
        "Code 91440300MA5G2X1U2J) on",
        f"The award restored the title: {patent_en} belongs to Example University of Hong Kong 100%",
        "权属人：前海示例科技 100%Owners: Qianhai Example Tech 100%",
        "裁决撤销权属主张Claim struck by award撤销以下权属主张：前海示例科技",
        "Struck the claim of Qianhai Example Tech",
        "裁决恢复权属Title restored by award权属人：Example University of Hong Kong 100%",
    ):
        assert re.sub(r"\s+", "", phrase) in text, phrase
    assert "/Example" not in text and f"party{uni}/party{firm}" not in text
    verified = ok("verify-case", str(case_zip), "--rpc-url", f"http://127.0.0.1:{p.node_port}", env=env)
    assert verified.returncode == 0, verified.stdout
