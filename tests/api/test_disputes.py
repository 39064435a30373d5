"""Disputes through the API: a firm disputes an exclusive licence; the arbitration institution's opening,
signed by two of its arbitrators, freezes the patent, a licence change is refused while frozen, the award,
signed likewise, voids the licence in the same transaction, and the title report shows it void from the
award's time. One arbitrator alone, one signing twice, or another institution's account: 400 naming
`signatures`, before the contract."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from eth_utils import keccak

from ledger.domain import eip712
from tests.api.conftest import Api
from tests.api.test_agreements_scenario import (
    YEAR,
    Parties,
    agree,
    confirm_asset,
    register_asset,
    time_travel,
)
from tests.helpers import account

CLAIM = "0x" + keccak(text="statement of claim.pdf").hex()
AWARD = "0x" + keccak(text="award.pdf").hex()


def signed(api: Api, path: str, body: dict[str, Any], signers: list[Any], **kw: Any) -> Any:
    payload = api.client.post(path + "/payload", json=body)
    assert payload.status_code == 200, payload.text
    typed = payload.json()["typedData"]
    sigs = [{"signer": s.address, "signature": "0x" + eip712.sign(typed, s).hex()} for s in signers]
    return api.client.post(path, json={**body, "deadline": typed["message"]["deadline"], "signatures": sigs})


def admit_institution(api: Api, label: str = "qianhai-arbitration", **over: Any) -> tuple[list[Any], int]:
    """An arbitration institution with two arbitrator accounts."""
    arbs = [account(label), account(f"{label}-2")]
    pid = api.admit(
        arbs[0],
        "ARB-0001",
        kind="arbitration_institution",
        identifierScheme="other",
        accounts=[a.address for a in arbs],
        **over,
    )
    return arbs, pid


def test_a_disputed_licence_is_frozen_then_voided_by_the_award(api: Api) -> None:
    p = Parties(api)
    arbs, p_arb = admit_institution(
        api, jurisdiction="mainland", nameZh="深圳国际仲裁院", nameEn="Shenzhen Court of International Arbitration"
    )
    b = register_asset(api, p.uni, p.p_uni, "201710601862.3", "Battery separator")
    now = time_travel(api, 10)
    lic = agree(
        api,
        {
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

    body = {
        "subject": "agreement",
        "subjectId": lic["agreementId"],
        "claimant": p.p_x,
        "respondent": p.p_uni,
        "claimHash": CLAIM,
        "institution": p_arb,
    }
    # a firm is no arbitration institution, and an institution cannot be a party
    bad = api.client.post("/v1/disputes/payload", json={**body, "institution": p.p_x})
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "institution"
    bad = api.client.post("/v1/disputes/payload", json={**body, "claimant": p_arb})
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "institution"
    # a signature may not be made to last more than a year (the contract refuses it too)
    bad = api.client.post("/v1/disputes/payload", json={**body, "deadline": now + 400 * 86400})
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "deadline"
    # one arbitrator alone, one signing twice, a firm's account with an arbitrator's: refused early, nothing frozen
    for signers in ([arbs[0]], [arbs[0], arbs[0]], [arbs[0], p.x]):
        bad = signed(api, "/v1/disputes", body, signers)
        assert bad.status_code == 400 and bad.json()["error"]["field"] == "signatures", bad.text
    assert api.client.get(f"/v1/assets/{b}").json()["frozen"] is False
    opened = signed(api, "/v1/disputes", body, arbs)
    assert opened.status_code == 201, opened.text
    dispute = opened.json()
    assert dispute["status"] == "open" and dispute["assetId"] == b and dispute["institution"] == p_arb
    assert api.client.get(f"/v1/assets/{b}").json()["frozen"] is True

    # a licence change is refused while frozen
    resp = api.client.post(
        "/v1/agreements",
        json={
            "documentHash": CLAIM,
            "kind": "licence",
            "assetId": b,
            "licensee": p.p_z,
            "licenceType": "ordinary",
            "territory": ["HK"],
            "start": now,
            "end": now + YEAR,
            "royalty": {"basis": "lump_sum", "amount": "1"},
        },
    )
    assert resp.status_code == 409 and resp.json()["error"]["field"] == "assetId"

    before_award = time_travel(api, 100)
    time_travel(api, 10)  # the award is in a later block than before_award
    award = {"outcome": "agreement_voided", "awardHash": AWARD}
    forged = signed(api, f"/v1/disputes/{dispute['disputeId']}/award", award, [account("not-the-arbitrator"), arbs[1]])
    assert forged.status_code == 400 and forged.json()["error"]["field"] == "signatures"
    alone = signed(api, f"/v1/disputes/{dispute['disputeId']}/award", award, [arbs[1]])
    assert alone.status_code == 400 and alone.json()["error"]["field"] == "signatures"
    assert api.client.get(f"/v1/agreements/{lic['agreementId']}").json()["status"] != "voided"
    closed = signed(api, f"/v1/disputes/{dispute['disputeId']}/award", award, arbs)
    assert closed.status_code == 200, closed.text
    assert closed.json()["status"] == "closed" and closed.json()["outcome"] == "agreement_voided"
    award_time = closed.json()["closedAt"]
    assert api.client.get(f"/v1/agreements/{lic['agreementId']}").json()["status"] == "voided"
    assert api.client.get(f"/v1/assets/{b}").json()["frozen"] is False

    title_before = api.client.get(f"/v1/assets/{b}/title", params={"at": before_award}).json()
    assert [x["agreementId"] for x in title_before["licences"]] == [lic["agreementId"]]
    title_after = api.client.get(f"/v1/assets/{b}/title", params={"at": award_time}).json()
    assert title_after["licences"] == []
    events = [e["event"] for e in title_after["history"]]
    assert events[-3:] == ["AssetFrozen", "AssetUnfrozen", "AgreementVoided"] or events[-3:] == [
        "AssetFrozen",
        "AgreementVoided",
        "AssetUnfrozen",
    ]

    resp = api.client.post(f"/v1/disputes/{dispute['disputeId']}/award/payload", json=award)
    assert resp.status_code == 400 and resp.json()["error"]["field"] == "dispute_id"
    assert api.client.get("/v1/disputes/0x" + "01" * 32).status_code == 404
    assert api.client.get("/v1/disputes/nope").status_code == 400


def test_the_case_file_verifies_and_fails_when_any_item_is_altered(api: Api, tmp_path: Path) -> None:
    import io
    import json
    import zipfile

    from ledger.certificates.casefile import verify_case
    from ledger.certificates.verify import Rpc
    from ledger.domain.hashing import HashAlgorithm, hash_bytes

    p = Parties(api)
    arbs, p_arb = admit_institution(api, nameEn="Arbitration Centre")
    drawing = hash_bytes(b"design drawing", HashAlgorithm.SHA256)
    resp = api.client.post("/v1/evidence", json=api.single_body(p.uni, drawing))
    assert resp.status_code == 202, resp.text
    api.ledger.pipeline.drain()
    fields = {
        "jurisdiction": "CN",
        "kind": "invention",
        "number": "201710601862.3",
        "title": "Battery separator",
        "owners": [{"partyId": p.p_uni, "share": 10_000}],
        "evidence": ["0x" + drawing.hex()],
    }
    payload = api.client.post("/v1/assets/payload", json=fields).json()
    sig = eip712.sign(payload["typedData"], p.uni)
    resp = api.client.post(
        "/v1/assets",
        json={
            **fields,
            "deadline": payload["typedData"]["message"]["deadline"],
            "signatures": [{"signer": p.uni.address, "signature": "0x" + sig.hex()}],
        },
    )
    b = resp.json()["assetId"]
    assert confirm_asset(api, b).status_code == 200  # an asset verifier confirms the claim
    now = time_travel(api, 10)
    lic = agree(
        api,
        {
            "kind": "licence",
            "assetId": b,
            "licensee": p.p_y,
            "licenceType": "exclusive",
            "territory": ["CN"],
            "start": now,
            "end": now + YEAR,
            "royalty": {"basis": "lump_sum", "amount": "1"},
        },
        p.uni,
        p.y,
    )
    body = {
        "subject": "agreement",
        "subjectId": lic["agreementId"],
        "claimant": p.p_x,
        "respondent": p.p_uni,
        "claimHash": CLAIM,
        "institution": p_arb,
    }
    did = signed(api, "/v1/disputes", body, arbs).json()["disputeId"]
    signed(api, f"/v1/disputes/{did}/award", {"outcome": "agreement_voided", "awardHash": AWARD}, arbs)

    resp = api.client.get(f"/v1/disputes/{did}/case-file")
    assert resp.status_code == 200 and resp.headers["content-type"] == "application/zip"
    data = resp.content
    rpc = Rpc.from_web3(api.chain.w3)
    report = verify_case(data, rpc)
    failing = [(f, [c.to_json() for c in r.checks if c.status == "failed"]) for f, r in report.items if not r.passed]
    assert report.passed, (report.problems, failing)
    # and with the command an arbitrator runs, against the node alone
    from tests.helpers import cli_env, run_cli

    case_zip = tmp_path / "case.zip"
    case_zip.write_bytes(data)
    out = run_cli("verify-case", str(case_zip), "--rpc-url", api.chain.node_url, env=cli_env())
    assert out.returncode == 0 and "CASE VERIFIED" in out.stdout, out.stdout + out.stderr
    kinds = [i["kind"] for i in json.loads(zipfile.ZipFile(io.BytesIO(data)).read("case.json"))["items"]]
    assert {"evidence-certificate", "agreement-certificate", "title-event", "dispute-opened", "dispute-closed"} <= set(
        kinds
    )
    assert zipfile.ZipFile(io.BytesIO(data)).read("summary.pdf").startswith(b"%PDF-")

    def altered(name: str, change: Any) -> bytes:
        src = zipfile.ZipFile(io.BytesIO(data))
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as dst:
            for n in src.namelist():
                content = src.read(n)
                if n == name:
                    doc = json.loads(content)
                    change(doc)
                    content = json.dumps(doc).encode()
                dst.writestr(n, content)
        return out.getvalue()

    names = [n for n in zipfile.ZipFile(io.BytesIO(data)).namelist() if n.startswith("items/")]
    for name in names:
        doc = json.loads(zipfile.ZipFile(io.BytesIO(data)).read(name))
        target = "blockTimestamp" if "anchor" not in doc else None

        def change(d: dict[str, Any], target: str | None = target) -> None:
            if "anchor" in d:
                d["anchor"]["blockTimestamp"] += 1
            elif "time" in d:
                d["time"] += 1
            else:
                d["blockTimestamp"] += 1

        bad = verify_case(altered(name, change), rpc)
        assert not bad.passed, name
        if name == names[-1]:
            case_zip.write_bytes(altered(name, change))
            out = run_cli("verify-case", str(case_zip), "--rpc-url", api.chain.node_url, env=cli_env())
            assert out.returncode == 1 and "CASE NOT VERIFIED" in out.stdout
    # an item removed from the archive is noticed too
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for n in src.namelist():
            if n != names[0]:
                dst.writestr(n, src.read(n))
    assert not verify_case(out.getvalue(), rpc).passed
