"""Party admission and suspension through the API (operator token), a party's own account changes and
recovery veto (its signatures), who holds each power, and bad input."""

from __future__ import annotations

import pytest

from tests.api.conftest import Api
from tests.helpers import account


def test_the_operator_admits_a_firm_with_a_valid_uscc(api: Api) -> None:
    a = account("p1")
    resp = api.client.post(
        "/v1/parties",
        headers=api.auth,
        json={
            "kind": "firm",
            "jurisdiction": "mainland",
            "identifierScheme": "uscc",
            "identifier": "91110108551385082q",
            "nameZh": "前海甲公司",
            "nameEn": "Qianhai A",
            "accounts": [a.address.lower()],
        },
    )
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert body["partyId"] == 1 and body["identifier"] == "91110108551385082Q" and body["status"] == "active"
    assert body["accounts"] == [a.address] and body["transactionHash"].startswith("0x")
    assert api.client.get("/v1/parties/1").json()["nameZh"] == "前海甲公司"
    assert api.client.get(f"/v1/accounts/{a.address}").json() == {
        "account": a.address,
        "partyId": 1,
        "active": True,
        "nonce": 0,
    }


def test_a_university_with_a_hk_brn_is_admitted(api: Api) -> None:
    pid = api.admit(
        account("u"),
        "12345678",
        kind="university",
        jurisdiction="hksar",
        identifierScheme="hkbrn",
        nameZh="香港某大學",
        nameEn="A University of Hong Kong",
    )
    assert api.client.get(f"/v1/parties/{pid}").json()["kind"] == "university"


def test_admission_without_the_operator_token_is_refused_and_writes_nothing(api: Api) -> None:
    body = {
        "kind": "firm",
        "jurisdiction": "mainland",
        "identifierScheme": "uscc",
        "identifier": "91110108551385082Q",
        "nameEn": "A",
        "accounts": [account("x").address],
    }
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        resp = api.client.post("/v1/parties", json=body, headers=headers)
        assert resp.status_code == 403 and resp.json()["error"]["code"] == "permission_denied"
    assert api.client.get("/v1/parties/1").status_code == 404


def test_bad_party_input_names_the_field(api: Api) -> None:
    a = account("bad").address
    base = {
        "kind": "firm",
        "jurisdiction": "mainland",
        "identifierScheme": "uscc",
        "identifier": "91110108551385082Q",
        "nameEn": "A",
        "accounts": [a],
    }
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
    body = {
        "kind": "firm",
        "jurisdiction": "mainland",
        "identifierScheme": "uscc",
        "identifier": "91110108551385082Q",
        "nameEn": "B",
        "accounts": [account("second").address],
    }
    resp = api.client.post("/v1/parties", json=body, headers=api.auth)
    assert resp.status_code == 409 and resp.json()["error"]["field"] == "identifier"
    resp = api.client.post(
        "/v1/parties", json={**body, "identifier": "91110000600037341L", "accounts": [a.address]}, headers=api.auth
    )
    assert resp.status_code == 409 and resp.json()["error"]["field"] == "accounts[0]"


def test_a_lookalike_identifier_answers_409_naming_the_canonical_form(api: Api) -> None:
    api.admit(account("first"), "91110108551385082Q")
    for lookalike in ("91110108551385082q", " 91110108551385082Q ", "９１１１０１０８５５１３８５０８２Ｑ"):
        body = {
            "kind": "firm",
            "jurisdiction": "mainland",
            "identifierScheme": "uscc",
            "identifier": lookalike,
            "nameEn": "Copy",
            "accounts": [account("copy").address],
        }
        resp = api.client.post("/v1/parties", json=body, headers=api.auth)
        assert resp.status_code == 409, resp.text
        error = resp.json()["error"]
        assert error["field"] == "identifier" and "canonical form" in error["message"] and "party 1" in error["message"]


def test_powerful_kinds_are_admitted_with_the_governance_key_and_refused_without_it(api: Api) -> None:
    body = {
        "kind": "arbitration_institution",
        "jurisdiction": "mainland",
        "identifierScheme": "other",
        "identifier": "ARB-0001",
        "nameEn": "Arbitration Centre",
        "accounts": [account("arb").address],
    }
    governance, api.ledger.governance = api.ledger.governance, None
    try:
        resp = api.client.post("/v1/parties", json=body, headers=api.auth)
        assert resp.status_code == 403 and "governance" in resp.json()["error"]["message"]
    finally:
        api.ledger.governance = governance
    resp = api.client.post("/v1/parties", json=body, headers=api.auth)
    assert resp.status_code == 201 and resp.json()["kind"] == "arbitration_institution"
    tx = api.ledger.w3.eth.get_transaction(resp.json()["transactionHash"])
    assert tx["from"] == api.chain.governance.address != api.chain.operator.address


def test_a_service_key_cannot_be_admitted_as_a_partys_account(api: Api) -> None:
    body = {
        "kind": "firm",
        "jurisdiction": "mainland",
        "identifierScheme": "uscc",
        "identifier": "91110108551385082Q",
        "nameEn": "A",
        "accounts": [api.chain.operator.address],
    }
    resp = api.client.post("/v1/parties", json=body, headers=api.auth)
    assert resp.status_code == 400 and resp.json()["error"]["field"] == "accounts[0]"


def test_suspend_confirm_and_reinstate_through_the_api(api: Api) -> None:
    a = account("s-a")
    pid = api.admit(a, "91110108551385082Q")
    resp = api.client.post(f"/v1/parties/{pid}/suspend", json={"reason": "court order"}, headers=api.auth)
    body = resp.json()
    assert body["status"] == "suspended" and body["suspension"] == "provisional" and body["suspensionLapsesAt"]
    tx = api.ledger.w3.eth.get_transaction(body["transactionHash"])
    assert tx["from"] == api.chain.registrar.address  # the registrar's key, not the relayer's
    assert api.client.get(f"/v1/accounts/{a.address}").json()["active"] is False
    resp = api.client.post(f"/v1/parties/{pid}/suspension/confirm", headers=api.auth)
    assert resp.status_code == 200 and resp.json()["suspension"] == "confirmed"
    assert api.client.post(f"/v1/parties/{pid}/reinstate", headers=api.auth).json()["status"] == "active"
    assert api.client.get("/v1/parties/99").status_code == 404
    assert api.client.get("/v1/parties/0").status_code == 422


def _change_body(
    api: Api,
    pid: int,
    action: str,
    signers: list,
    *,
    account_: str | None = None,
    new=None,
    threshold: int = 1,
    nonce: int | None = None,
    deadline: int | None = None,
) -> dict:
    from ledger.domain import eip712

    party = api.client.get(f"/v1/parties/{pid}").json()
    nonce = party["accountNonce"] if nonce is None else nonce
    deadline = deadline or api.chain.now() + 600
    acct = new.address if action == "add" else account_
    msg = eip712.account_change_message(
        api.ledger.evidence_service.domain(),
        party_id=pid,
        action=action,
        account=acct,
        new_account=new.address if action == "rotate" else None,
        threshold=threshold,
        nonce=nonce,
        deadline=deadline,
    )
    body = {
        "action": action,
        "account": acct,
        "threshold": threshold,
        "nonce": nonce,
        "deadline": deadline,
        "signatures": [{"signer": s.address, "signature": "0x" + eip712.sign(msg, s).hex()} for s in signers],
    }
    if action == "rotate":
        body["newAccount"] = new.address
    if new is not None:
        body["newAccountSignature"] = "0x" + eip712.sign(msg, new).hex()
    return body


def test_a_party_rotates_its_own_account_through_the_api_and_the_operator_cannot(api: Api) -> None:
    old, new, own = account("own-old"), account("own-new"), account("operator-controlled")
    pid = api.admit(old, "91110108551385082Q")
    forged = _change_body(api, pid, "rotate", [own], account_=old.address, new=own)
    resp = api.client.post(f"/v1/parties/{pid}/accounts", json=forged, headers=api.auth)  # the token changes nothing
    assert resp.status_code == 403 and resp.json()["error"]["field"] == "signatures[0].signer"
    body = _change_body(api, pid, "rotate", [old], account_=old.address, new=new)
    resp = api.client.post(f"/v1/parties/{pid}/accounts", json=body)
    assert resp.status_code == 200, resp.text
    assert resp.json()["accounts"] == [new.address] and resp.json()["accountNonce"] == 1
    again = api.client.post(f"/v1/parties/{pid}/accounts", json=body)  # a replay carries a used nonce
    assert again.status_code == 409 and again.json()["error"]["field"] == "nonce"


@pytest.mark.parametrize(
    ("change", "field", "status"),
    [
        ({"deadline": 1}, "deadline", 400),
        ({"action": "steal"}, "action", 422),
        ({"signatures": []}, "signatures", 422),
        ({"newAccountSignature": "0x" + "11" * 65}, "newAccountSignature", 400),
        ({"threshold": 0}, "threshold", 422),
    ],
)
def test_bad_account_changes_name_the_field(api: Api, change: dict, field: str, status: int) -> None:
    old, new = account("bad-old"), account("bad-new")
    pid = api.admit(old, "91110108551385082Q")
    body = {**_change_body(api, pid, "add", [old], new=new, threshold=1), **change}
    resp = api.client.post(f"/v1/parties/{pid}/accounts", json=body)
    assert resp.status_code == status, resp.text
    assert resp.json()["error"]["field"] == field
    assert api.client.get(f"/v1/parties/{pid}").json()["accounts"] == [old.address]


def test_a_recovery_is_proposed_vetoed_and_reported_through_the_api(api: Api) -> None:
    from ledger.domain import eip712

    a, fresh = account("rec-a"), account("rec-fresh")
    pid = api.admit(a, "91110108551385082Q")
    resp = api.client.post(f"/v1/parties/{pid}/recovery", json={"newAccount": fresh.address}, headers=api.auth)
    assert resp.status_code == 200, resp.text
    pending = resp.json()["pendingRecovery"]
    assert pending["newAccount"] == fresh.address
    early = api.client.post(f"/v1/parties/{pid}/recovery/execute")
    assert early.status_code == 409
    msg = eip712.recovery_veto_message(
        api.ledger.evidence_service.domain(),
        party_id=pid,
        new_account=fresh.address,
        executable_at=pending["executableAt"],
    )
    veto = {"account": a.address, "signature": "0x" + eip712.sign(msg, a).hex()}
    resp = api.client.post(f"/v1/parties/{pid}/recovery/veto", json=veto)
    assert resp.status_code == 200 and resp.json()["pendingRecovery"] is None and resp.json()["accounts"] == [a.address]


def test_powers_lists_the_role_holders_of_every_contract(api: Api) -> None:
    body = api.client.get("/v1/powers").json()
    roles = body["contracts"]["EvidenceRegistry"]["roles"]
    assert roles["REGISTRAR_ROLE"] == [api.chain.registrar.address]
    assert roles["GOVERNANCE_ROLE"] == [api.chain.governance.address] == roles["DEFAULT_ADMIN_ROLE"]
    assert roles["ANCHOR_ROLE"] == [api.chain.operator.address]
    relayer = api.chain.operator.address
    held = [r for c in body["contracts"].values() for r, holders in c["roles"].items() if relayer in holders]
    assert held == ["ANCHOR_ROLE"]  # the relayer anchors and holds nothing else
    assert body["service"] == {
        "relayer": relayer,
        "registrar": api.chain.registrar.address,
        "governance": api.chain.governance.address,
    }


def test_without_a_governance_key_the_governance_routes_answer_403_with_the_call_to_schedule(api: Api) -> None:
    """The embedded default and every real deployment: governance is the council's timelock, not the service's."""
    api.ledger.governance = None
    arb = account("arb-403").address
    body = {
        "kind": "arbitration_institution",
        "jurisdiction": "mainland",
        "identifierScheme": "uscc",
        "identifier": "91110108551385082Q",
        "nameEn": "An arbitration institution",
        "accounts": [arb],
    }
    resp = api.client.post("/v1/parties", json=body, headers=api.auth)
    assert resp.status_code == 403, resp.text
    err = resp.json()["error"]
    assert err["code"] == "permission_denied" and "needs governance" in err["message"]
    call = err["details"]["governanceCall"]
    assert call["target"] == api.chain.evidence.address
    fn, args = api.chain.evidence.decode_function_input(call["calldata"])
    assert fn.fn_name == "admitParty" and args["accounts"] == [arb]
    assert api.client.get("/v1/parties/1").status_code == 404
    pid = api.admit(account("firm-403"), "91110000600037341L")
    assert (
        api.client.post(f"/v1/parties/{pid}/suspend", json={"reason": "stolen key"}, headers=api.auth).status_code
        == 200
    )
    for path, name in (
        (f"/v1/parties/{pid}/suspension/confirm", "confirmSuspension"),
        (f"/v1/parties/{pid}/recovery", "proposeRecovery"),
    ):
        resp = api.client.post(
            path, json={"newAccount": account("new-403").address} if "recovery" in path else None, headers=api.auth
        )
        assert resp.status_code == 403, resp.text
        call = resp.json()["error"]["details"]["governanceCall"]
        assert call["target"] == api.chain.evidence.address
        assert api.chain.evidence.decode_function_input(call["calldata"])[0].fn_name == name
    assert api.client.get(f"/v1/parties/{pid}").json()["suspension"] == "provisional"


def test_a_party_shows_its_suspension_as_of_now_and_its_history_bounded(api: Api) -> None:
    """GET /v1/parties/{id}: a registrar's suspension reads provisional, then lapsed once its period passed
    without confirmation (as the contract judges it); the history lists the party's events newest first with the
    lapse at its time, at most 50 of them, and says how many there are."""
    from ledger.index.queries import PARTY_HISTORY_LIMIT
    from tests.helpers import TEST_SUSPENSION_PERIOD

    a = account("hist-a")
    pid = api.admit(a, "91110108551385082Q")
    api.client.post(f"/v1/parties/{pid}/suspend", json={"reason": "court order"}, headers=api.auth)
    shown = api.client.get(f"/v1/parties/{pid}").json()
    assert (shown["suspensionState"], shown["suspended"]) == ("provisional", True)
    assert shown["suspensionLapsesAt"] == shown["suspendedAt"] + TEST_SUSPENSION_PERIOD
    assert shown["history"] == [] and "not read" in shown["historyNote"]  # the index has not run yet

    api.chain.advance(TEST_SUSPENSION_PERIOD + 1)
    for _ in range(api.ledger.settings.confirmations):
        api.chain.w3.provider.make_request("evm_mine", [])
    api.ledger.index.sync()
    resp = api.client.get(f"/v1/parties/{pid}")
    assert resp.status_code == 200, resp.text
    shown = resp.json()
    assert (shown["suspensionState"], shown["suspended"], shown["status"]) == ("lapsed", False, "active")
    assert api.client.get(f"/v1/accounts/{a.address}").json()["active"] is True
    events = [e["event"] for e in shown["history"]]
    assert events == ["suspension_lapsed", "suspended", "account_added", "admitted"] and shown["historyTotal"] == 4
    assert shown["history"][0]["time"] == shown["suspensionLapsesAt"] and shown["history"][0]["block"] is None
    suspended = shown["history"][1]
    tx = api.ledger.w3.eth.get_transaction(suspended["transactionHash"])
    assert tx["from"] == api.chain.registrar.address and suspended["block"] == tx["blockNumber"]

    # many changes later, the answer still carries the newest 50 only
    for _ in range(PARTY_HISTORY_LIMIT):
        api.chain.sender.send_call(
            api.chain.evidence.functions.changeAccounts(
                *api.chain.account_change(pid, "set_threshold", signers=[a], threshold=1)
            )
        )
    api.chain.w3.provider.make_request("evm_mine", [])
    api.ledger.index.sync()
    shown = api.client.get(f"/v1/parties/{pid}").json()
    assert (
        len(shown["history"]) == PARTY_HISTORY_LIMIT and shown["historyTotal"] == PARTY_HISTORY_LIMIT + 5
    )  # 4 events and the lapse
    assert shown["history"][0] == {
        **shown["history"][0],
        "event": "accounts_changed",
        "action": "set_threshold",
        "nonce": PARTY_HISTORY_LIMIT - 1,
    }
    # actions answer the party without its history
    assert api.client.post(f"/v1/parties/{pid}/reinstate", headers=api.auth).json()["history"] is None
