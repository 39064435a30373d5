"""Party admission and management through the API (operator token), and its bad input."""

from __future__ import annotations

from tests.api.conftest import Api
from tests.helpers import account


def test_the_operator_admits_a_firm_with_a_valid_uscc(api: Api) -> None:
    a = account("p1")
    resp = api.client.post("/v1/parties", headers=api.auth, json={
        "kind": "firm", "jurisdiction": "mainland", "identifierScheme": "uscc", "identifier": "91110108551385082q",
        "nameZh": "前海甲公司", "nameEn": "Qianhai A", "accounts": [a.address.lower()]})  # fmt: skip
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert body["partyId"] == 1 and body["identifier"] == "91110108551385082Q" and body["status"] == "active"
    assert body["accounts"] == [a.address] and body["transactionHash"].startswith("0x")
    assert api.client.get("/v1/parties/1").json()["nameZh"] == "前海甲公司"
    assert api.client.get(f"/v1/accounts/{a.address}").json() == {"account": a.address, "partyId": 1, "active": True, "nonce": 0}


def test_a_university_with_a_hk_brn_is_admitted(api: Api) -> None:
    pid = api.admit(account("u"), "12345678", kind="university", jurisdiction="hksar", identifierScheme="hkbrn",
                    nameZh="香港某大學", nameEn="A University of Hong Kong")  # fmt: skip
    assert api.client.get(f"/v1/parties/{pid}").json()["kind"] == "university"


def test_admission_without_the_operator_token_is_refused_and_writes_nothing(api: Api) -> None:
    body = {"kind": "firm", "jurisdiction": "mainland", "identifierScheme": "uscc", "identifier": "91110108551385082Q",
            "nameEn": "A", "accounts": [account("x").address]}  # fmt: skip
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        resp = api.client.post("/v1/parties", json=body, headers=headers)
        assert resp.status_code == 403 and resp.json()["error"]["code"] == "permission_denied"
    assert api.client.get("/v1/parties/1").status_code == 404


def test_bad_party_input_names_the_field(api: Api) -> None:
    a = account("bad").address
    base = {"kind": "firm", "jurisdiction": "mainland", "identifierScheme": "uscc", "identifier": "91110108551385082Q",
            "nameEn": "A", "accounts": [a]}  # fmt: skip
    cases = [
        ({"identifier": "91110000600037341M"}, "identifier", 400),  # wrong check character
        ({"identifierScheme": "hkbrn", "identifier": "1234567", "jurisdiction": "hksar"}, "identifier", 400),
        ({"kind": "bank"}, "kind", 422),
        ({"accounts": ["0x1234"]}, "accounts[0]", 400),
        ({"accounts": []}, "accounts", 422),
        ({"nameEn": "", "nameZh": ""}, "nameZh", 400),
        ({"jurisdiction": "hksar"}, "jurisdiction", 400),  # a USCC is mainland
        ({"unexpected": 1}, "unexpected", 422),
    ]
    for change, field, status in cases:
        resp = api.client.post("/v1/parties", json={**base, **change}, headers=api.auth)
        assert resp.status_code == status, (change, resp.text)
        assert resp.json()["error"]["field"] == field, (change, resp.json())
    assert api.client.get("/v1/parties/1").status_code == 404


def test_a_taken_identifier_or_account_answers_409(api: Api) -> None:
    a = account("first")
    api.admit(a, "91110108551385082Q")
    body = {"kind": "firm", "jurisdiction": "mainland", "identifierScheme": "uscc", "identifier": "91110108551385082Q",
            "nameEn": "B", "accounts": [account("second").address]}  # fmt: skip
    resp = api.client.post("/v1/parties", json=body, headers=api.auth)
    assert resp.status_code == 409 and resp.json()["error"]["field"] == "identifier"
    resp = api.client.post("/v1/parties", json={**body, "identifier": "91110000600037341L", "accounts": [a.address]}, headers=api.auth)
    assert resp.status_code == 409 and resp.json()["error"]["field"] == "accounts[0]"


def test_suspend_reinstate_and_rotate_through_the_api(api: Api) -> None:
    a, b = account("s-a"), account("s-b")
    pid = api.admit(a, "91110108551385082Q")
    resp = api.client.post(f"/v1/parties/{pid}/suspend", json={"reason": "court order"}, headers=api.auth)
    assert resp.json()["status"] == "suspended"
    assert api.client.get(f"/v1/accounts/{a.address}").json()["active"] is False
    assert api.client.post(f"/v1/parties/{pid}/reinstate", headers=api.auth).json()["status"] == "active"
    resp = api.client.post(f"/v1/parties/{pid}/accounts/rotate", json={"old": a.address, "new": b.address}, headers=api.auth)
    assert resp.json()["accounts"] == [b.address]
    resp = api.client.delete(f"/v1/parties/{pid}/accounts/{b.address}", headers=api.auth)
    assert resp.status_code == 400 and resp.json()["error"]["details"]["revert"] == "PartyLastAccount"
    assert api.client.get("/v1/parties/99").status_code == 404
    assert api.client.get("/v1/parties/0").status_code == 422


def test_a_party_rotates_its_own_account_through_the_api(api: Api) -> None:
    from ledger import eip712

    old, new = account("own-old"), account("own-new")
    pid = api.admit(old, "91110108551385082Q")
    deadline = api.chain.now() + 600
    msg = eip712.rotation_message(api.ledger.evidence_service.domain(), old.address, new.address, deadline)
    body = {"oldAccount": old.address, "newAccount": new.address, "deadline": deadline,
            "oldSignature": "0x" + eip712.sign(msg, old).hex(), "newSignature": "0x" + eip712.sign(msg, account("x")).hex()}  # fmt: skip
    resp = api.client.post("/v1/accounts/rotate", json=body)
    assert resp.status_code == 400 and resp.json()["error"]["field"] == "newSignature"
    body["newSignature"] = "0x" + eip712.sign(msg, new).hex()
    resp = api.client.post("/v1/accounts/rotate", json=body)
    assert resp.status_code == 200, resp.text
    assert resp.json()["accounts"] == [new.address] and resp.json()["partyId"] == pid
    again = api.client.post("/v1/accounts/rotate", json=body)  # the old account is no party's any more
    assert again.status_code == 400 and again.json()["error"]["field"] == "oldAccount"
