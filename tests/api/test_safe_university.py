"""A university whose account is a 2-of-3 Safe (Safe 1.4.1, its compatibility fallback handler answering ERC-1271)
registers a patent and signs an exclusive licence through the API; the licence takes effect on chain and its
certificate verifies. One owner's signature alone is refused by the service (asked through ERC-1271, as the
contract will), and so is a non-owner's."""

from __future__ import annotations

from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from ledger.chain import governance as gov
from ledger.domain import eip712
from tests.api.conftest import Api
from tests.api.test_agreements_scenario import confirm_asset
from tests.helpers import account

YEAR = 365 * 86400
DOC = "0x" + keccak(text="licence contract.pdf").hex()


def make_safe_university(api: Api) -> tuple[str, list[LocalAccount], int]:
    owners = [account(f"hku-officer-{i}") for i in range(3)]
    factory = gov.deploy_safe_factory(api.chain.sender)
    safe = gov.create_safe(api.chain.sender, factory, [o.address for o in owners], 2)
    pid = api.admit(
        owners[0],
        "12345678",
        kind="university",
        jurisdiction="hksar",
        identifierScheme="hkbrn",
        nameZh="香港示例大學",
        nameEn="Example University of Hong Kong",
        accounts=[safe],
    )
    return safe, owners, pid


def safe_sig(api: Api, safe: str, owners: list[LocalAccount], typed_data: dict[str, Any]) -> str:
    digest = eip712.digest(typed_data)
    return "0x" + gov.safe_wallet_signature(owners, int(api.chain.w3.eth.chain_id), safe, digest).hex()


def test_a_safe_university_signs_a_licence_end_to_end_and_the_certificate_verifies(api: Api) -> None:
    from ledger.certificates import agreement as agreement_certificate
    from ledger.certificates.verify import Rpc

    safe, owners, p_uni = make_safe_university(api)
    firm = account("safe-licensee")
    p_firm = api.admit(firm, "91110108551385082Q", nameZh="前海甲科技", nameEn="Qianhai X Tech")

    fields = {
        "jurisdiction": "CN",
        "kind": "invention",
        "number": "201710601862.3",
        "title": "Battery separator",
        "filingDate": "2017-07-20",
        "owners": [{"partyId": p_uni, "share": 10_000}],
    }
    payload = api.client.post("/v1/assets/payload", json=fields).json()
    fields["deadline"] = payload["typedData"]["message"]["deadline"]
    resp = api.client.post(
        "/v1/assets",
        json={
            **fields,
            "signatures": [
                {"signer": safe, "signature": safe_sig(api, safe, [owners[0], owners[2]], payload["typedData"])}
            ],
        },
    )
    assert resp.status_code == 201, resp.text
    asset_id = int(resp.json()["assetId"])
    assert confirm_asset(api, asset_id).status_code == 200  # an asset verifier confirms the claim

    now = api.chain.now()
    proposal = api.client.post(
        "/v1/agreements",
        json={
            "documentHash": DOC,
            "kind": "licence",
            "assetId": asset_id,
            "licensee": p_firm,
            "licenceType": "exclusive",
            "territory": ["CN"],
            "start": now,
            "end": now + YEAR,
            "royalty": {"basis": "percentage", "rate": 250, "currency": "CNY"},
        },
    )
    assert proposal.status_code == 201, proposal.text
    typed, aid = proposal.json()["typedData"], proposal.json()["agreementId"]
    url = f"/v1/agreements/{aid}/signatures"

    # below the Safe's threshold, or with a non-owner: refused before anything is stored
    for signers in ([owners[1]], [owners[1], account("not-an-officer")]):
        bad = api.client.post(url, json={"signer": safe, "signature": safe_sig(api, safe, signers, typed)})
        assert bad.status_code in (400, 422), bad.text
        assert bad.json()["error"]["field"] == "signature"
    assert api.client.get(f"/v1/agreements/{aid}").json()["signatures"] == {}

    ok = api.client.post(url, json={"signer": safe, "signature": safe_sig(api, safe, [owners[1], owners[2]], typed)})
    assert ok.status_code == 200, ok.text
    sig = eip712.sign(typed, firm)
    assert api.client.post(url, json={"signer": firm.address, "signature": "0x" + sig.hex()}).status_code == 200
    done = api.client.post(f"/v1/agreements/{aid}/execute")
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "effective"

    cert = api.client.get(f"/v1/agreements/{aid}/certificate").json()
    assert any(s["signer"] == safe for s in cert["signatures"])
    report = agreement_certificate.verify(cert, Rpc.from_web3(api.chain.w3))
    assert report.passed, report.to_json()
