"""Claims and their confirmation over HTTP: a registration is a claim marked as such everywhere; nothing is
proposed on it (409 naming assetId) until an asset verifier's signed confirmation, relayed by the API, confirms it;
a false claim is rejected and its number registered by the rightful owner; every refusal is a 4xx envelope naming
the field, checked before the contract is asked."""

from __future__ import annotations

from typing import Any

from eth_utils import keccak

from ledger import eip712
from tests.api.conftest import Api
from tests.api.test_agreements_scenario import DOC, YEAR, Parties, api_verifier, confirm_asset, register_asset
from tests.helpers import account

NUMBER = "201710601862.3"


def refused(resp: Any, status: int, field: str, code: str | None = None) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    err = resp.json()["error"]
    assert err["field"] == field, err
    if code:
        assert err["code"] == code, err
    return err


def decision(api: Api, asset_id: int, signer: Any, *, reject: bool = False, account_: str | None = None,
             hash_: str | None = None, deadline: int | None = None) -> Any:
    key, path = ("reasonHash", "rejection") if reject else ("registerExtractHash", "confirmation")
    digest, deadline = hash_ or "0x" + keccak(text="extract").hex(), deadline or api.chain.now() + 3600
    typed = api.client.get(f"/v1/assets/{asset_id}/{path}", params={key: digest, "deadline": deadline})
    if typed.status_code != 200:  # refused already when the typed data is asked for
        return typed
    body = {key: digest, "deadline": deadline, "signer": account_ or signer.address,
            "signature": "0x" + eip712.sign(typed.json(), signer).hex()}  # fmt: skip
    return api.client.post(f"/v1/assets/{asset_id}/{path}", json=body)


def test_a_claim_is_marked_refused_for_dealing_and_confirmed_by_a_verifier_only(api: Api) -> None:
    p = Parties(api)
    verifier, p_ver = api_verifier(api)
    a = register_asset(api, p.uni, p.p_uni, NUMBER, "一种数据存证方法", confirm=False)

    shown = api.client.get(f"/v1/assets/{a}").json()
    assert shown["status"] == "claimed" and "not yet confirmed by an asset verifier" in shown["statusNote"]
    title = api.client.get(f"/v1/assets/{a}/title").json()
    assert title["status"] == "claimed" and title["statusDecidedBy"] is None

    now = api.chain.now()
    licence = {"documentHash": DOC, "kind": "licence", "assetId": a, "licensee": p.p_y, "licenceType": "ordinary",
               "territory": ["CN"], "start": now, "end": now + YEAR, "royalty": {"basis": "lump_sum", "amount": "1"}}  # fmt: skip
    err = refused(api.client.post("/v1/agreements", json=licence), 409, "assetId", "asset_not_confirmed")
    assert "not yet confirmed by an asset verifier" in err["message"]

    # neither the owner, a firm nor an unknown key confirms; a bad signature is named; nothing was sent
    for who in (p.uni, p.x, account("nobody")):
        refused(decision(api, a, who), 403, "signer", "not_an_asset_verifier")
    refused(decision(api, a, account("impostor"), account_=verifier.address), 400, "signature", "signature_rejected")
    past = api.chain.now() - 10
    refused(api.client.post(f"/v1/assets/{a}/confirmation", json={"registerExtractHash": "0x" + "11" * 32, "deadline": past,
                                                                 "signer": verifier.address, "signature": "0x" + "22" * 65}),
            400, "deadline")  # fmt: skip
    refused(api.client.get(f"/v1/assets/{a}/confirmation", params={"registerExtractHash": "xyz", "deadline": now + 60}),
            400, "registerExtractHash")  # fmt: skip
    assert api.client.get(f"/v1/assets/{a}").json()["status"] == "claimed"

    done = decision(api, a, verifier)
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "confirmed" and done.json()["verifierPartyId"] == p_ver and done.json()["transactionHash"]
    title = api.client.get(f"/v1/assets/{a}/title").json()
    assert title["status"] == "confirmed" and title["statusDecidedBy"]["verifierPartyId"] == p_ver
    assert [e["event"] for e in title["history"]] == ["AssetRegistered", "AssetConfirmed"]
    assert api.client.post("/v1/agreements", json=licence).status_code == 201

    # a confirmed asset is neither confirmed again nor rejected: only an award changes its title
    refused(decision(api, a, verifier), 409, "asset_id", "asset_claim_conflict")
    refused(decision(api, a, verifier, reject=True), 409, "asset_id", "asset_claim_conflict")
    refused(api.client.get("/v1/assets/99/confirmation", params={"registerExtractHash": "0x" + "11" * 32, "deadline": now + 60}),
            404, "asset_id")  # fmt: skip


def test_a_verifier_does_not_decide_its_own_claim_nor_while_suspended(api: Api) -> None:
    p = Parties(api)
    verifier, p_ver = api_verifier(api)
    own = register_asset(api, verifier, p_ver, NUMBER, "Owned by the agency", confirm=False)
    refused(decision(api, own, verifier), 409, "signer", "asset_claim_conflict")
    other = register_asset(api, p.uni, p.p_uni, "ZL201810000001.4", "Battery separator", confirm=False)
    api.chain.registrar_sender.send_call(api.ledger.evidence.functions.suspendParty(p_ver, b"\0" * 32))
    refused(decision(api, other, verifier), 403, "signer", "party_not_active")


def test_a_squatters_claim_is_rejected_and_the_rightful_owner_registers_the_number(api: Api) -> None:
    p = Parties(api)
    squat = register_asset(api, p.x, p.p_x, NUMBER, "一种数据存证方法", confirm=False)
    fields = {"jurisdiction": "CN", "kind": "invention", "number": "ZL" + NUMBER, "title": "一种数据存证方法",
              "owners": [{"partyId": p.p_uni, "share": 10_000}]}  # fmt: skip
    err = refused(api.client.post("/v1/assets/payload", json=fields), 409, "number")
    assert "asset verifier can reject it" in err["message"]

    rejected = confirm_asset(api, squat, reject=True)
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["status"] == "struck" and "number is free" in rejected.json()["statusNote"]
    assert api.client.get(f"/v1/assets/{squat}/title").json()["history"][-1]["event"] == "ClaimRejected"

    mine = register_asset(api, p.uni, p.p_uni, NUMBER, "一种数据存证方法")
    assert mine != squat and api.client.get(f"/v1/assets/{mine}").json()["status"] == "confirmed"
    refused(decision(api, squat, api_verifier(api)[0]), 409, "asset_id", "asset_claim_conflict")
