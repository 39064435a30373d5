"""Claims and their confirmation over HTTP: a registration is a claim marked as such everywhere; nothing is
proposed on it (409 naming assetId) until an asset verifier's signed confirmation, relayed by the API, confirms it;
a false claim is rejected and its number registered by the rightful owner; every refusal is a 4xx envelope naming
the field, checked before the contract is asked."""

from __future__ import annotations

from typing import Any

from eth_utils import keccak

from ledger.domain import eip712
from tests.api.conftest import Api
from tests.api.test_agreements_scenario import (
    DOC,
    YEAR,
    Parties,
    api_verifier,
    confirm_asset,
    register_asset,
)
from tests.helpers import account

NUMBER = "201710601862.3"


def refused(resp: Any, status: int, field: str, code: str | None = None) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    err = resp.json()["error"]
    assert err["field"] == field, err
    if code:
        assert err["code"] == code, err
    return err


def decision(
    api: Api,
    asset_id: int,
    signer: Any,
    *,
    reject: bool = False,
    account_: str | None = None,
    hash_: str | None = None,
    deadline: int | None = None,
) -> Any:
    key, path = ("reasonHash", "rejection") if reject else ("registerExtractHash", "confirmation")
    digest, deadline = hash_ or "0x" + keccak(text="extract").hex(), deadline or api.chain.now() + 3600
    typed = api.client.get(f"/v1/assets/{asset_id}/{path}", params={key: digest, "deadline": deadline})
    if typed.status_code != 200:  # refused already when the typed data is asked for
        return typed
    body = {
        key: digest,
        "deadline": deadline,
        "signer": account_ or signer.address,
        "signature": "0x" + eip712.sign(typed.json(), signer).hex(),
    }
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
    licence = {
        "documentHash": DOC,
        "kind": "licence",
        "assetId": a,
        "licensee": p.p_y,
        "licenceType": "ordinary",
        "territory": ["CN"],
        "start": now,
        "end": now + YEAR,
        "royalty": {"basis": "lump_sum", "amount": "1"},
    }
    err = refused(api.client.post("/v1/agreements", json=licence), 409, "assetId", "asset_not_confirmed")
    assert "not yet confirmed by an asset verifier" in err["message"]

    # neither the owner, a firm nor an unknown key confirms; a bad signature is named; nothing was sent
    for who in (p.uni, p.x, account("nobody")):
        refused(decision(api, a, who), 403, "signer", "not_an_asset_verifier")
    refused(decision(api, a, account("impostor"), account_=verifier.address), 400, "signature", "signature_rejected")
    past = api.chain.now() - 10
    refused(
        api.client.post(
            f"/v1/assets/{a}/confirmation",
            json={
                "registerExtractHash": "0x" + "11" * 32,
                "deadline": past,
                "signer": verifier.address,
                "signature": "0x" + "22" * 65,
            },
        ),
        400,
        "deadline",
    )
    refused(
        api.client.get(f"/v1/assets/{a}/confirmation", params={"registerExtractHash": "xyz", "deadline": now + 60}),
        400,
        "registerExtractHash",
    )
    assert api.client.get(f"/v1/assets/{a}").json()["status"] == "claimed"

    done = decision(api, a, verifier)
    assert done.status_code == 200, done.text
    assert (
        done.json()["status"] == "confirmed"
        and done.json()["verifierPartyId"] == p_ver
        and done.json()["transactionHash"]
    )
    title = api.client.get(f"/v1/assets/{a}/title").json()
    assert title["status"] == "confirmed" and title["statusDecidedBy"]["verifierPartyId"] == p_ver
    assert [e["event"] for e in title["history"]] == ["AssetRegistered", "AssetConfirmed"]
    assert api.client.post("/v1/agreements", json=licence).status_code == 201

    # a confirmed asset is neither confirmed again nor rejected: only an award changes its title
    refused(decision(api, a, verifier), 409, "asset_id", "asset_claim_conflict")
    refused(decision(api, a, verifier, reject=True), 409, "asset_id", "asset_claim_conflict")
    refused(
        api.client.get(
            "/v1/assets/99/confirmation", params={"registerExtractHash": "0x" + "11" * 32, "deadline": now + 60}
        ),
        404,
        "asset_id",
    )


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
    fields = {
        "jurisdiction": "CN",
        "kind": "invention",
        "number": "ZL" + NUMBER,
        "title": "一种数据存证方法",
        "owners": [{"partyId": p.p_uni, "share": 10_000}],
    }
    err = refused(api.client.post("/v1/assets/payload", json=fields), 409, "number")
    assert "asset verifier can reject it" in err["message"]

    rejected = confirm_asset(api, squat, reject=True)
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["status"] == "struck" and "number is free" in rejected.json()["statusNote"]
    assert api.client.get(f"/v1/assets/{squat}/title").json()["history"][-1]["event"] == "ClaimRejected"
    # a struck claim is not disputed: the API says so, naming the field, before the contract does
    from tests.api.test_disputes import admit_institution

    _, p_arb = admit_institution(api, nameEn="Arbitration Centre")
    body = {
        "subject": "asset",
        "subjectId": squat,
        "claimant": p.p_uni,
        "respondent": p.p_x,
        "claimHash": "0x" + "cc" * 32,
        "institution": p_arb,
    }
    refused(api.client.post("/v1/disputes/payload", json=body), 409, "subjectId")

    mine = register_asset(api, p.uni, p.p_uni, NUMBER, "一种数据存证方法")
    assert mine != squat and api.client.get(f"/v1/assets/{mine}").json()["status"] == "confirmed"
    refused(decision(api, squat, api_verifier(api)[0]), 409, "asset_id", "asset_claim_conflict")


def test_an_award_strikes_a_squatters_confirmed_claim_and_the_title_report_says_so(api: Api) -> None:
    """A verifier was misled and confirmed the squatter: the university goes to arbitration; the award (outcome
    title_restored, relayed with two arbitrators' signatures) strikes the squatter's claim and gives the asset to
    the university; the title report shows the struck claim and the restored owner."""
    from tests.api.test_disputes import AWARD, CLAIM, admit_institution, signed

    p = Parties(api)
    arbs, p_arb = admit_institution(api, nameEn="Arbitration Centre")
    squat = register_asset(api, p.x, p.p_x, NUMBER, "一种数据存证方法")  # and (wrongly) confirmed
    body = {
        "subject": "asset",
        "subjectId": squat,
        "claimant": p.p_uni,
        "respondent": p.p_x,
        "claimHash": CLAIM,
        "institution": p_arb,
    }
    opened = signed(api, "/v1/disputes", body, arbs)
    assert opened.status_code == 201, opened.text
    did = opened.json()["disputeId"]
    award = {"outcome": "title_restored", "awardHash": AWARD, "owners": [{"partyId": p.p_uni, "share": 10_000}]}
    closed = signed(api, f"/v1/disputes/{did}/award", award, arbs)
    assert closed.status_code == 200, closed.text

    title = api.client.get(f"/v1/assets/{squat}/title").json()
    assert title["owners"] == [{"partyId": p.p_uni, "share": 10_000}] and title["status"] == "confirmed"
    struck = [e for e in title["history"] if e["event"] == "ClaimStruck"]
    assert [(e["formerOwners"], e["disputeId"]) for e in struck] == [([p.p_x], did)]
    assert [e["event"] for e in title["history"]][-3:] == ["AssetUnfrozen", "ClaimStruck", "TitleRestored"]
    # the case file carries the confirmation and the struck claim as title events, each checked against the chain,
    # and a changed former owner or verifier is caught
    import io
    import json
    import zipfile

    from ledger.certificates.casefile import verify_case
    from ledger.certificates.verify import Rpc

    data = api.client.get(f"/v1/disputes/{did}/case-file").content
    report = verify_case(data, Rpc.from_web3(api.chain.w3))
    assert report.passed, report.problems
    src = zipfile.ZipFile(io.BytesIO(data))
    docs = {n: json.loads(src.read(n)) for n in src.namelist() if n.endswith("-title-event.json")}
    by_event = {d["event"]: n for n, d in docs.items()}
    assert {"AssetConfirmed", "ClaimStruck"} <= set(by_event)
    for event, key, value in (("ClaimStruck", "formerOwners", [p.p_uni]), ("AssetConfirmed", "verifierPartyId", p.p_y)):
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as dst:
            for n in src.namelist():
                dst.writestr(n, json.dumps({**docs[n], key: value}) if n == by_event[event] else src.read(n))
        assert not verify_case(out.getvalue(), Rpc.from_web3(api.chain.w3)).passed, event
    # the university now licenses; the squatter's proposals need the university's signature, not its own
    now = api.chain.now()
    lic = api.client.post(
        "/v1/agreements",
        json={
            "documentHash": DOC,
            "kind": "licence",
            "assetId": squat,
            "licensee": p.p_y,
            "licenceType": "ordinary",
            "territory": ["CN"],
            "start": now,
            "end": now + YEAR,
            "royalty": {"basis": "lump_sum", "amount": "1"},
        },
    )
    assert lic.status_code == 201 and lic.json()["requiredParties"] == [p.p_uni, p.p_y]


def test_malformed_confirmations_are_refused_naming_the_field_and_change_nothing(api: Api) -> None:
    p = Parties(api)
    verifier, _ = api_verifier(api)
    claim = register_asset(api, p.uni, p.p_uni, NUMBER, "Data evidence method", confirm=False)
    good = {
        "registerExtractHash": "0x" + keccak(text="extract").hex(),
        "deadline": api.chain.now() + 3600,
        "signer": verifier.address,
        "signature": "0x" + "11" * 65,
    }
    bad_bodies = [
        ({**good, "registerExtractHash": "0x1234"}, "registerExtractHash"),
        ({**good, "registerExtractHash": "not hex"}, "registerExtractHash"),
        ({**good, "deadline": -1}, "deadline"),
        ({**good, "deadline": 2**64}, "deadline"),
        ({**good, "signer": "0xnot-an-address"}, "signer"),
        ({**good, "signature": "0x12"}, "signature"),
        ({k: v for k, v in good.items() if k != "signature"}, "signature"),
    ]
    for body, field in bad_bodies:
        resp = api.client.post(f"/v1/assets/{claim}/confirmation", json=body)
        assert 400 <= resp.status_code < 500, (body, resp.text)
        assert field in (resp.json()["error"].get("field") or ""), (body, resp.json())
    # a well-formed body whose signature is not the verifier's
    resp = api.client.post(f"/v1/assets/{claim}/confirmation", json=good)
    assert 400 <= resp.status_code < 500, resp.text
    assert api.client.post("/v1/assets/999999/confirmation", json=good).status_code == 404
    assert api.client.get(f"/v1/assets/{claim}").json()["status"] == "claimed"
