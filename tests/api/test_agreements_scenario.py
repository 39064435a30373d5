"""The agreements scenario, end to end through the API on anvil: an HK university assigns, licenses and
contributes patents to Qianhai firms, a firm pledges one to a bank; then every forbidden step is refused —
by the API with a clear 4xx, and by the contract when submitted directly — and the title report of each
asset is exactly right at three points in time."""

from __future__ import annotations

from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from ledger.domain import agreements as ag
from ledger.domain import eip712
from ledger.errors import ContractRevert
from tests.api.conftest import Api
from tests.helpers import account

YEAR = 365 * 86400
DOC = "0x" + keccak(text="signed contract.pdf").hex()


class Parties:
    def __init__(self, api: Api) -> None:
        self.api = api
        self.uni, self.x, self.y, self.z, self.w, self.bank = (account(n) for n in ("hku", "x", "y", "z", "w", "bank"))
        self.p_uni = api.admit(
            self.uni,
            "12345678",
            kind="university",
            jurisdiction="hksar",
            identifierScheme="hkbrn",
            nameZh="香港示例大學",
            nameEn="Example University of Hong Kong",
        )
        self.p_x = api.admit(self.x, "91110108551385082Q", nameZh="前海甲科技", nameEn="Qianhai X Tech")
        self.p_y = api.admit(self.y, "91110000600037341L", nameZh="前海乙科技", nameEn="Qianhai Y Tech")
        self.p_z = api.admit(self.z, "Z-0001", identifierScheme="other", jurisdiction="other", nameEn="Z Ltd")
        self.p_w = api.admit(self.w, "91440300MA5DC6QX9C", nameZh="前海丙公司", nameEn="Qianhai W Co")
        self.p_bank = api.admit(self.bank, "91110000100000000R", kind="financial_institution", nameEn="Example Bank")


def time_travel(api: Api, seconds: int) -> int:
    api.chain.w3.provider.make_request("evm_increaseTime", [seconds])
    api.chain.w3.provider.make_request("evm_mine", [])
    return api.chain.now()


def api_verifier(api: Api, label: str = "api-asset-verifier") -> tuple[LocalAccount, int]:
    """An asset verifier party (admitted by governance through the API on first use on this chain)."""
    acct = account(label)
    pid = int(api.ledger.evidence.functions.partyOf(acct.address).call()[0])
    if pid == 0:
        pid = api.admit(
            acct,
            f"VER-{label}".upper(),
            kind="asset_verifier",
            identifierScheme="other",
            jurisdiction="other",
            nameEn="Example Patent Agency",
        )
    return acct, pid


def confirm_asset(api: Api, asset_id: int, verifier: LocalAccount | None = None, *, reject: bool = False) -> Any:
    """A verifier's signed confirmation (or rejection) of a claim, relayed by the API; returns the response."""
    verifier = verifier or api_verifier(api)[0]
    key, path = ("reasonHash", "rejection") if reject else ("registerExtractHash", "confirmation")
    digest, deadline = "0x" + keccak(text=f"{path}:{asset_id}").hex(), api.chain.now() + 3600
    typed = api.client.get(f"/v1/assets/{asset_id}/{path}", params={key: digest, "deadline": deadline})
    assert typed.status_code == 200, typed.text
    body = {
        key: digest,
        "deadline": deadline,
        "signer": verifier.address,
        "signature": "0x" + eip712.sign(typed.json(), verifier).hex(),
    }
    return api.client.post(f"/v1/assets/{asset_id}/{path}", json=body)


def register_asset(
    api: Api, owner: LocalAccount, owner_id: int, number: str, title: str, *, confirm: bool = True
) -> int:
    fields = {
        "jurisdiction": "CN",
        "kind": "invention",
        "number": number,
        "title": title,
        "filingDate": "2017-07-20",
        "owners": [{"partyId": owner_id, "share": 10_000}],
    }
    payload = api.client.post("/v1/assets/payload", json=fields)
    assert payload.status_code == 200, payload.text
    sig = eip712.sign(payload.json()["typedData"], owner)
    fields["deadline"] = payload.json()["typedData"]["message"]["deadline"]
    resp = api.client.post(
        "/v1/assets", json={**fields, "signatures": [{"signer": owner.address, "signature": "0x" + sig.hex()}]}
    )
    assert resp.status_code == 201, resp.text
    asset_id = int(resp.json()["assetId"])
    if confirm:  # an asset verifier confirms the claim: only then can agreements be executed on it
        done = confirm_asset(api, asset_id)
        assert done.status_code == 200 and done.json()["status"] == "confirmed", done.text
    return asset_id


def propose(api: Api, body: dict[str, Any]) -> dict[str, Any]:
    resp = api.client.post("/v1/agreements", json={"documentHash": DOC, **body})
    assert resp.status_code == 201, resp.text
    return resp.json()


def sign(api: Api, proposal: dict[str, Any], *signers: LocalAccount) -> list[Any]:
    responses = []
    for s in signers:
        sig = eip712.sign(proposal["typedData"], s)
        responses.append(
            api.client.post(
                f"/v1/agreements/{proposal['agreementId']}/signatures",
                json={"signer": s.address, "signature": "0x" + sig.hex()},
            )
        )
    return responses


def agree(api: Api, body: dict[str, Any], *signers: LocalAccount) -> dict[str, Any]:
    proposal = propose(api, body)
    for r in sign(api, proposal, *signers):
        assert r.status_code == 200, r.text
    resp = api.client.post(f"/v1/agreements/{proposal['agreementId']}/execute")
    assert resp.status_code == 200, resp.text
    assert resp.json()["status"] == "effective"
    return resp.json()


def direct(api: Api, proposal: dict[str, Any], *signers: LocalAccount) -> ContractRevert:
    """Submits the terms straight to the contract (no API pre-checks) and returns the revert."""
    terms = ag.Terms(
        **{
            "kind": proposal["terms"]["kind"],
            "asset_id": proposal["terms"]["assetId"],
            "grantees": tuple(proposal["terms"]["grantees"]),
            "shares": tuple(proposal["terms"]["shares"]),
            "licence_type": proposal["terms"]["licenceType"],
            "territory": int(proposal["terms"]["territory"], 16),
            "field_of_use": bytes.fromhex(proposal["terms"]["fieldOfUse"][2:]),
            "sublicensable": proposal["terms"]["sublicensable"],
            "parent_licence": bytes.fromhex(proposal["terms"]["parentLicence"][2:]),
            "start": proposal["terms"]["start"],
            "end": proposal["terms"]["end"],
            "document_hash": bytes.fromhex(proposal["terms"]["documentHash"][2:]),
            "details_hash": bytes.fromhex(proposal["terms"]["detailsHash"][2:]),
            "salt": bytes.fromhex(proposal["terms"]["salt"][2:]),
            "deadline": proposal["terms"]["deadline"],
        }
    )
    sigs = [(s.address, eip712.sign(proposal["typedData"], s)) for s in signers]
    with pytest.raises(ContractRevert) as err:
        api.ledger.require_relayer().send_call(api.ledger.assets.functions.execute(terms.as_tuple(), sigs))
    return err.value


@pytest.mark.slow
def test_the_agreements_scenario(api: Api) -> None:
    p = Parties(api)
    a = register_asset(api, p.uni, p.p_uni, "201710601862.3", "一种数据存证方法 / A method of data attestation")
    b = register_asset(api, p.uni, p.p_uni, "ZL201810000001.4", "Battery separator")
    c = register_asset(api, p.uni, p.p_uni, "201910000003.8", "Sensor array")
    t0 = time_travel(api, 10)
    now = time_travel(api, 10)  # every agreement below is in a later block than t0

    # the university assigns A to X, licenses B (exclusive CN to Y, ordinary HK to Z), contributes C to W for 5%
    agree(api, {"kind": "assignment", "assetId": a, "assignees": [{"partyId": p.p_x, "share": 10_000}]}, p.uni, p.x)
    excl = agree(
        api,
        {
            "kind": "licence",
            "assetId": b,
            "licensee": p.p_y,
            "licenceType": "exclusive",
            "territory": ["CN"],
            "fieldOfUse": "all",
            "start": now,
            "end": now + 3 * YEAR,
            "royalty": {"basis": "percentage", "rate": 300, "minimumAnnual": "100000", "currency": "CNY"},
        },
        p.uni,
        p.y,
    )
    ordinary = agree(
        api,
        {
            "kind": "licence",
            "assetId": b,
            "licensee": p.p_z,
            "licenceType": "ordinary",
            "territory": ["HK"],
            "start": now,
            "end": now + 2 * YEAR,
            "royalty": {"basis": "lump_sum", "amount": "500000", "currency": "HKD"},
        },
        p.uni,
        p.z,
    )
    equity = agree(
        api,
        {
            "kind": "equity_contribution",
            "assetId": c,
            "company": p.p_w,
            "equity": {
                "appraiser": "深圳某资产评估有限公司",
                "appraisalReportHash": "0x" + keccak(text="appraisal").hex(),
                "appraisedValue": "8000000",
                "agreedValue": "7500000",
                "capitalAmount": "500000",
                "equityShare": 500,
            },
        },
        p.uni,
        p.w,
    )
    pledge = agree(
        api,
        {
            "kind": "pledge",
            "assetId": a,
            "pledgee": p.p_bank,
            "start": now,
            "end": now + YEAR,
            "amount": "3000000",
            "currency": "CNY",
        },
        p.x,
        p.bank,
    )
    t1 = time_travel(api, 10)

    # refusals: a second exclusive mainland licence of B overlapping Y's term
    second = propose(
        api,
        {
            "kind": "licence",
            "assetId": b,
            "licensee": p.p_x,
            "licenceType": "exclusive",
            "territory": ["CN"],
            "start": now + YEAR,
            "end": now + 4 * YEAR,
            "royalty": {"basis": "lump_sum", "amount": "1"},
        },
    )
    sign(api, second, p.uni, p.x)
    resp = api.client.post(f"/v1/agreements/{second['agreementId']}/execute")
    assert resp.status_code == 400 and resp.json()["error"]["details"]["revert"] == "LicenceOverlaps"
    assert direct(api, second, p.uni, p.x).name == "LicenceOverlaps"

    # X assigning A without the bank
    sale = propose(api, {"kind": "assignment", "assetId": a, "assignees": [{"partyId": p.p_y, "share": 10_000}]})
    assert p.p_bank in sale["requiredParties"]
    sign(api, sale, p.x, p.y)
    resp = api.client.post(f"/v1/agreements/{sale['agreementId']}/execute")
    assert resp.status_code == 400 and resp.json()["error"]["details"]["missingParties"] == [p.p_bank]
    err = direct(api, sale, p.x, p.y)
    assert err.name == "AgreementSignatureMissing" and err.args_["partyId"] == p.p_bank

    # Z sublicensing B (its ordinary licence is not sublicensable)
    resp = api.client.post(
        "/v1/agreements",
        json={
            "documentHash": DOC,
            "kind": "licence",
            "assetId": b,
            "licensee": p.p_x,
            "licenceType": "ordinary",
            "territory": ["HK"],
            "start": now,
            "end": now + YEAR,
            "royalty": {"basis": "lump_sum", "amount": "1"},
            "parentLicence": ordinary["agreementId"],
        },
    )
    assert resp.status_code == 400 and resp.json()["error"]["field"] == "parentLicence"
    forged = ag.Terms(
        int(ag.AgreementKind.LICENCE),
        b,
        (p.p_x,),
        (),
        int(ag.LicenceType.ORDINARY),
        ordinary_territory(ordinary),
        b"\0" * 32,
        False,
        bytes.fromhex(ordinary["agreementId"][2:]),
        now,
        now + YEAR,
        b"\1" * 32,
        b"\2" * 32,
        b"\3" * 32,
        api.chain.now() + 600,
    )
    msg = forged.message(api.ledger.agreement_service.domain())
    with pytest.raises(ContractRevert) as e:
        api.ledger.require_relayer().send_call(
            api.ledger.assets.functions.execute(
                forged.as_tuple(), [(p.z.address, eip712.sign(msg, p.z)), (p.x.address, eip712.sign(msg, p.x))]
            )
        )
    assert e.value.name == "SublicenceOutsideParent" and e.value.args_["reason"] == "parent not sublicensable"

    # a licence of C signed by the university after it contributed C
    late = propose(
        api,
        {
            "kind": "licence",
            "assetId": c,
            "licensee": p.p_y,
            "licenceType": "ordinary",
            "territory": ["CN"],
            "start": now,
            "end": now + YEAR,
            "royalty": {"basis": "lump_sum", "amount": "1"},
        },
    )
    assert late["requiredParties"] == [p.p_w, p.p_y]
    uni_sig = sign(api, late, p.uni)[0]
    assert uni_sig.status_code == 400 and uni_sig.json()["error"]["field"] == "signer"
    assert direct(api, late, p.uni, p.y).name == "AgreementSignerNotAParty"

    t2 = time_travel(api, 2 * YEAR + 100)  # Z's ordinary licence and the pledge have ended; Y's runs on

    # title reports at three points in time
    def title(asset: int, at: int) -> dict[str, Any]:
        resp = api.client.get(f"/v1/assets/{asset}/title", params={"at": at})
        assert resp.status_code == 200, resp.text
        return resp.json()

    uni_only = [{"partyId": p.p_uni, "share": 10_000}]
    for asset in (a, b, c):
        r = title(asset, t0)
        assert r["owners"] == uni_only and r["licences"] == [] and r["pledges"] == []
    ra = title(a, t1)
    assert ra["owners"] == [{"partyId": p.p_x, "share": 10_000}] and ra["licences"] == []
    assert [(x["agreementId"], x["pledgee"]) for x in ra["pledges"]] == [(pledge["agreementId"], p.p_bank)]
    rb = title(b, t1)
    assert rb["owners"] == uni_only and rb["pledges"] == []
    assert sorted(
        (x["agreementId"], x["licensee"], x["licenceType"], tuple(x["territory"])) for x in rb["licences"]
    ) == sorted(
        [(excl["agreementId"], p.p_y, "exclusive", ("CN",)), (ordinary["agreementId"], p.p_z, "ordinary", ("HK",))]
    )
    rc = title(c, t1)
    assert rc["owners"] == [{"partyId": p.p_w, "share": 10_000}] and rc["underAgreement"] == equity["agreementId"]
    ra2, rb2, rc2 = title(a, t2), title(b, t2), title(c, t2)
    assert ra2["owners"] == [{"partyId": p.p_x, "share": 10_000}] and ra2["pledges"] == []
    assert [x["agreementId"] for x in rb2["licences"]] == [excl["agreementId"]]
    assert rc2["owners"] == [{"partyId": p.p_w, "share": 10_000}]
    assert [e["event"] for e in ra2["history"]] == [
        "AssetRegistered",
        "AssetConfirmed",
        "TitleTransferred",
        "AgreementExecuted",
        "AgreementExecuted",
    ]
    assert ra2["status"] == "confirmed" and ra2["statusDecidedBy"]["verifierPartyId"] == api_verifier(api)[1]


def ordinary_territory(proposal: dict[str, Any]) -> int:
    return int(proposal["terms"]["territory"], 16)


def test_an_agreement_certificate_verifies_and_fails_when_tampered(api: Api) -> None:
    import copy

    from ledger.certificates import agreement as agreement_certificate
    from ledger.certificates.verify import Rpc

    p = Parties(api)
    b = register_asset(api, p.uni, p.p_uni, "201710601862.3", "Battery separator")
    now = api.chain.now()
    lic = agree(
        api,
        {
            "kind": "licence",
            "assetId": b,
            "licensee": p.p_y,
            "licenceType": "exclusive",
            "territory": ["CN", "HK"],
            "start": now,
            "end": now + YEAR,
            "royalty": {"basis": "percentage", "rate": 250, "currency": "CNY"},
        },
        p.uni,
        p.y,
    )
    cert = api.client.get(f"/v1/agreements/{lic['agreementId']}/certificate").json()
    rpc = Rpc.from_web3(api.chain.w3)
    report = agreement_certificate.verify(cert, rpc)
    assert report.passed, report.to_json()
    assert [c.name for c in report.checks] == [
        "format",
        "details",
        "agreement-id",
        "chain",
        "signatures",
        "block",
        "transaction",
        "record",
        "parties",
    ]
    via_api = api.client.post("/v1/verify", json={"certificate": cert}).json()
    assert via_api["verdict"] == "passed"
    html = api.client.get(f"/v1/agreements/{lic['agreementId']}/certificate", params={"format": "html"}).text
    assert "独占许可<br>Exclusive licence" in html and lic["agreementId"] in html
    assert "中国大陆 (CN)、中国香港特别行政区 (HK)<br>Mainland China (CN), Hong Kong SAR (HK)" in html
    assert "净销售额的 2.5%<br>2.5% of net sales" in html and "<br>In force, as of " in html
    pdf = api.client.get(f"/v1/agreements/{lic['agreementId']}/certificate", params={"format": "pdf"})
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
    import io

    from pypdf import PdfReader

    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "IP Agreement Certificate" in text and cert["anchor"]["transactionHash"][:20] in text.replace("\n", "")
    assert "for a royalty of 2.5% of net sales" in " ".join(text.split())

    tampers = {
        ("agreement", "details", "royalty", "rate"): ("details", 300),
        ("agreement", "terms", "end"): ("agreement-id", now + 2 * YEAR),
        ("agreement", "id"): ("agreement-id", "0x" + "00" * 32),
        ("signatures", 0, "signature"): ("signatures", "0x" + "11" * 65),
        ("anchor", "blockHash"): ("block", "0x" + "22" * 32),
        ("anchor", "transactionHash"): ("transaction", "0x" + "33" * 32),
        ("parties", 0, "nameEn"): ("parties", "Someone Else"),
    }
    for path, (check, value) in tampers.items():
        doc = copy.deepcopy(cert)
        target: Any = doc
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
        failed = {c.name for c in agreement_certificate.verify(doc, rpc).checks if c.status == "failed"}
        assert check in failed, (path, failed)
