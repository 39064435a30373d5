"""`ipledger verify` on an agreement certificate says apart whether it is authentic and whether the agreement is
in force: an exclusive licence verified while in force (exit 0, "in force"), with its contract document (passes)
and with another file (fails, exit 1); after an arbitral award voids it, the same certificate is still authentic
but "VOIDED by arbitral award" with the dispute (exit 3), and in force `--at` a moment before the award; `--file`
is refused where it does not apply (a case file, a case file's item)."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path
from typing import Any

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
