"""The licensing walkthrough, for real: `ipledger up`, three parties with their own keystores, a CN patent
registered by an HK university and confirmed by an asset verifier, an exclusive mainland licence to a Qianhai firm signed by both and put into
effect, the title report, a pledge to a bank, an assignment refused while the bank has not consented, and
the pledge released by the bank. Bad input is one line on stderr and exit 1."""

from __future__ import annotations

import hashlib
import json
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader
from web3 import Web3

from tests.cli.conftest import UpProcess
from tests.helpers import cli_env, council_admit, run_cli

PASSWORD = "agreements password"
PATENT = "201710601862.3"


def ok(*args: str, env: dict[str, str]) -> Any:
    out = run_cli(*args, env=env)
    assert out.returncode == 0, f"ipledger {' '.join(args)}\n{out.stdout}\n{out.stderr}"
    return out


def ok_json(*args: str, env: dict[str, str]) -> dict[str, Any]:
    return json.loads(ok(*args, env=env).stdout)


def fails(*args: str, env: dict[str, str]) -> str:
    """Runs a command that must fail cleanly: exit 1, one line on stderr, no traceback. Returns the line."""
    out = run_cli(*args, env=env)
    assert out.returncode == 1, f"ipledger {' '.join(args)} exited {out.returncode}\n{out.stdout}\n{out.stderr}"
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in out.stderr, out.stderr
    return lines[0]


def new_keys(tmp_path: Path, names: tuple[str, ...], env: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """A keystore per name, made at once (scrypt is slow): the keystore paths and the accounts' addresses."""
    keys = {who: str(tmp_path / f"{who}.json") for who in names}
    with ThreadPoolExecutor(len(keys)) as pool:
        list(pool.map(lambda k: ok("keys", "new", k, env=env), keys.values()))
    return keys, {who: "0x" + json.loads(Path(k).read_text())["address"] for who, k in keys.items()}


def admit_university_and_firm(address: dict[str, str], env: dict[str, str]) -> tuple[int, int]:
    """The operator admits the example university (HK business registration) and firm (USCC); their party ids."""
    uni = ok_json(
        "party",
        "admit",
        "--json",
        "--kind",
        "university",
        "--identifier",
        "12345678",
        "--jurisdiction",
        "hksar",
        "--scheme",
        "hkbrn",
        "--name-en",
        "Example University of Hong Kong",
        "--account",
        address["uni"],
        env=env,
    )["partyId"]
    firm = ok_json(
        "party",
        "admit",
        "--json",
        "--kind",
        "firm",
        "--identifier",
        "91110108551385082Q",
        "--name-zh",
        "前海示例科技",
        "--name-en",
        "Qianhai Example Tech",
        "--account",
        address["firm"],
        env=env,
    )["partyId"]
    return uni, firm


def day(delta: timedelta) -> str:
    return (datetime.now(UTC) + delta).date().isoformat()


@pytest.mark.slow
def test_register_license_pledge_and_release_a_patent(up, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    p: UpProcess = up(
        env={"IPLEDGER_CONFIRMATIONS": "0", "IPLEDGER_FINAL_AFTER": "0", "IPLEDGER_GOVERNANCE_DELAY": "1"}
    )
    p.wait_healthy()
    env = cli_env(IPLEDGER_API_URL=p.api, IPLEDGER_DATA_DIR=str(p.data_dir), IPLEDGER_KEYSTORE_PASSWORD=PASSWORD)

    keys, address = new_keys(tmp_path, ("uni", "firm", "bank", "verifier"), env)
    uni, firm = admit_university_and_firm(address, env)
    # a bank carries power over others' rights: the council admits it through the timelock
    council_admit(
        env,
        f"http://127.0.0.1:{p.node_port}",
        tmp_path / "admit-bank.json",
        "--kind",
        "financial_institution",
        "--identifier",
        "91110000100000000R",
        "--name-en",
        "Example Bank",
        "--account",
        address["bank"],
    )
    bank = ok_json("party", "show", "3", "--json", env=env)["partyId"]
    assert ok_json("party", "show", "3", "--json", env=env)["accounts"] == [Web3.to_checksum_address(address["bank"])]
    # so does an asset verifier (a patent agency that checks claims against the CNIPA register)
    council_admit(
        env,
        f"http://127.0.0.1:{p.node_port}",
        tmp_path / "admit-verifier.json",
        "--kind",
        "asset_verifier",
        "--identifier",
        "91440300MA5G2X1U2J",
        "--name-en",
        "Example Patent Agency",
        "--account",
        address["verifier"],
    )
    verifier = ok_json("party", "show", "4", "--json", env=env)["partyId"]

    # bad input: one line, exit 1, before any key is touched
    register = ("asset", "register", "--jurisdiction", "CN", "--kind", "invention", "--title", "一种数据存证方法")
    with ThreadPoolExecutor(2) as pool:
        bad_digit, bad_shares = pool.map(
            lambda args: fails(*register, *args, "--keystore", keys["uni"], env=env),
            [("--number", "201710601862.4", "--owner", f"{uni}:10000"), ("--number", PATENT, "--owner", f"{uni}:5000")],
        )
    assert "check digit" in bad_digit and "expected 3" in bad_digit
    assert "10000" in bad_shares

    # the university registers its patent
    asset = ok_json(
        *register,
        "--json",
        "--number",
        f"ZL{PATENT}",
        "--filing-date",
        "2017-07-20",
        "--owner",
        f"{uni}:10000",
        "--keystore",
        keys["uni"],
        env=env,
    )
    assert asset["owners"] == [{"partyId": uni, "share": 10000}] and asset["details"]["number"] == f"CN{PATENT}"
    assert asset["status"] == "claimed"
    a = str(asset["assetId"])

    # a claim: shown as such, and nothing is proposed on it until an asset verifier confirms it
    assert "CLAIMED: claim, not yet confirmed by an asset verifier" in ok("asset", "show", a, env=env).stdout
    line = fails(
        "agreement",
        "propose",
        "licence",
        "--asset",
        a,
        "--document",
        "ab" * 32,
        "--licensee",
        str(firm),
        "--type",
        "exclusive",
        "--territory",
        "CN",
        "--end",
        day(timedelta(days=365)),
        "--royalty-basis",
        "lump_sum",
        "--royalty-amount",
        "1",
        env=env,
    )
    assert "not yet confirmed by an asset verifier" in line and "ipledger asset confirm" in line
    extract = tmp_path / "register-extract.pdf"
    extract.write_bytes(b"%PDF-1.7 CNIPA register extract")
    assert "not an account of an asset verifier" in fails(
        "asset", "confirm", a, "--extract", str(extract), "--keystore", keys["uni"], env=env
    )
    confirmed = ok_json(
        "asset", "confirm", a, "--extract", str(extract), "--keystore", keys["verifier"], "--json", env=env
    )
    assert confirmed["status"] == "confirmed" and confirmed["verifierPartyId"] == verifier
    assert confirmed["registerExtractHash"] == "0x" + hashlib.sha256(extract.read_bytes()).hexdigest()
    assert "only an open claim" in fails(
        "asset", "reject", a, "--reason", "cd" * 32, "--keystore", keys["verifier"], env=env
    )

    # an exclusive licence for mainland China to the firm; the document is hashed locally
    contract = tmp_path / "licence-contract.pdf"
    contract.write_bytes(b"%PDF-1.7 licence contract")
    licence = ok_json(
        "agreement",
        "propose",
        "--json",
        "licence",
        "--asset",
        a,
        "--document",
        str(contract),
        "--licensee",
        str(firm),
        "--type",
        "exclusive",
        "--territory",
        "CN",
        "--end",
        day(timedelta(days=3 * 365)),
        "--royalty-basis",
        "percentage",
        "--royalty-rate",
        "300",
        "--minimum-annual",
        "100000",
        env=env,
    )
    lid = licence["agreementId"]
    assert licence["requiredParties"] == [uni, firm] and licence["territory"] == ["CN"]
    assert licence["terms"]["documentHash"] == "0x" + hashlib.sha256(contract.read_bytes()).hexdigest()

    signed = ok("agreement", "sign", lid, "--keystore", keys["uni"], env=env).stdout
    assert "exclusive" in signed and "CN" in signed and "3% of sales" in signed and "Qianhai Example Tech" in signed
    assert "still to sign" in signed
    assert "not a party" in fails("agreement", "sign", lid, "--keystore", keys["bank"], env=env)
    ok("agreement", "sign", lid, "--keystore", keys["firm"], env=env)
    assert ok_json("agreement", "execute", lid, "--json", env=env)["status"] == "effective"

    title = ok("asset", "title", a, env=env).stdout
    assert "exclusive" in title and f"#{firm} Qianhai" in title and "no pledge in force" in title

    # the licence certificate the CLI writes reads in words, in both languages; the university, which has no
    # Chinese name, is named in English in both
    pdf = tmp_path / "licence-certificate.pdf"
    ok("agreement", "certificate", lid, "--pdf", str(pdf), env=env)
    text = re.sub(r"\s+", "", "".join(page.extract_text() for page in PdfReader(pdf).pages))
    for phrase in (
        f"Example University of Hong Kong（香港商业登记号码 12345678）以独占许可方式，将发明专利 CN{PATENT}"
        "《一种数据存证方法》许可给前海示例科技（统一社会信用代码 91110108551385082Q）实施；地域：中国大陆 (CN)",
        "Example University of Hong Kong (HK Business Registration No. 12345678) granted Qianhai Example Tech "
        f"(Unified Social Credit Code 91110108551385082Q) an exclusive licence of invention patent CN{PATENT} "
        '"一种数据存证方法" for Mainland China (CN)',
        "许可费Royalty净销售额的 3%；每年最低 CNY 100,000.00（人民币壹拾万元整）",
        "3% of net sales; minimum annual royalty CNY 100,000.00 (one hundred thousand CNY)",
        "出具时法律状态Legal status when issued有效",
        "In force, as of",
    ):
        assert re.sub(r"\s+", "", phrase) in text, phrase
    assert "/Example" not in text

    # the university pledges the patent to the bank
    # (without --json: a short summary in words, local times, no JSON)
    proposed = ok(
        "agreement",
        "propose",
        "pledge",
        "--asset",
        a,
        "--document",
        "ab" * 32,
        "--pledgee",
        str(bank),
        "--amount",
        "3000000",
        "--end",
        day(timedelta(days=365)),
        env=env,
    ).stdout
    found = re.search(r"^agreement (0x[0-9a-f]{64}) proposed: pledge of asset " + a + "$", proposed, re.M)
    assert found, proposed
    pledge = found[1]
    assert "{" not in proposed and len(proposed.splitlines()) <= 5, proposed
    assert "Example Bank" in proposed and "pledgee" in proposed and f"agreement sign {pledge}" in proposed
    assert re.search(r"^sign by: \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} \S+$", proposed, re.M), proposed
    ok("agreement", "sign", pledge, "--keystore", keys["uni"], env=env)
    ok("agreement", "sign", pledge, "--keystore", keys["bank"], env=env)
    executed = ok("agreement", "execute", pledge, env=env).stdout
    assert f"agreement {pledge} (pledge of asset {a}) is effective" in executed and "{" not in executed, executed
    assert re.search(r"^effective since: \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} \S+$", executed, re.M), executed
    assert f"ipledger agreement certificate {pledge}" in executed

    # an assignment needs the bank's consent while the pledge is in force
    sale = ok_json(
        "agreement",
        "propose",
        "--json",
        "assignment",
        "--asset",
        a,
        "--document",
        "cd" * 32,
        "--assignee",
        f"{firm}:10000",
        env=env,
    )
    assert sale["requiredParties"] == [uni, firm, bank]
    ok("agreement", "sign", sale["agreementId"], "--keystore", keys["uni"], env=env)
    ok("agreement", "sign", sale["agreementId"], "--keystore", keys["firm"], env=env)
    line = fails("agreement", "execute", sale["agreementId"], env=env)
    assert "Example Bank" in line and f"#{bank}" in line and "must sign" in line

    # the bank releases the pledge; the assignment can now be executed with the two signatures it has
    assert (
        ok_json("agreement", "release", pledge, "--json", "--keystore", keys["bank"], env=env)["status"] == "released"
    )
    assert ok_json("agreement", "execute", sale["agreementId"], "--json", env=env)["status"] == "effective"

    # the licence is ended by both its parties
    assert (
        ok_json(
            "agreement", "terminate", lid, "--json", "--keystore", keys["uni"], "--keystore", keys["firm"], env=env
        )["status"]
        == "terminated"
    )
    report = ok_json("asset", "title", a, "--json", env=env)
    assert (
        report["owners"] == [{"partyId": firm, "share": 10000}] and report["licences"] == [] and report["pledges"] == []
    )
    assert report["status"] == "confirmed" and report["statusDecidedBy"]["verifierPartyId"] == verifier
    assert [e["event"] for e in report["history"]] == [
        "AssetRegistered",
        "AssetConfirmed",
        "AgreementExecuted",
        "AgreementExecuted",
        "PledgeReleased",
        "TitleTransferred",
        "AgreementExecuted",
        "AgreementTerminated",
    ]
    shown = ok("agreement", "show", lid, env=env).stdout
    assert "status: terminated" in shown and "exclusive" in shown and "3% of sales" in shown

    # a licence back to the university: the firm (now the owner) signs, then the university withdraws
    back = ok_json(
        "agreement",
        "propose",
        "--json",
        "licence",
        "--asset",
        a,
        "--document",
        "ef" * 32,
        "--licensee",
        str(uni),
        "--type",
        "ordinary",
        "--territory",
        "HK",
        "--end",
        day(timedelta(days=365)),
        "--royalty-basis",
        "lump_sum",
        "--royalty-amount",
        "1",
        env=env,
    )["agreementId"]
    ok("agreement", "sign", back, "--keystore", keys["firm"], env=env)
    assert "not an account of a party" in fails("agreement", "withdraw", back, "--keystore", keys["bank"], env=env)
    withdrawn = ok_json("agreement", "withdraw", back, "--json", "--keystore", keys["uni"], env=env)
    assert withdrawn["status"] == "withdrawn" and withdrawn["withdrawnBy"] == uni
    assert "withdrawn" in fails("agreement", "execute", back, env=env)
    p.interrupt()
