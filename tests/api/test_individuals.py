"""Natural persons through the API: admission with the identity off chain, the person's signed access and erasure,
the JSON error envelope, and no personal data in any answer but the person's own."""

from __future__ import annotations

import time
from typing import Any

from tests.api.conftest import Api
from tests.helpers import account

NAME_EN = "Lee Ka Yan"
# K987654: 36*9 + 20*8 + 9*7 + 8*6 + 7*5 + 6*4 + 5*3 + 4*2 = 677; 677 mod 11 = 6; check 11 - 6 = 5
HKID = "K987654(5)"


def body(**over: Any) -> dict[str, Any]:
    return {
        "jurisdiction": "hksar",
        "idScheme": "hkid",
        "identifier": HKID.lower(),
        "nameZh": "李嘉欣",
        "nameEn": NAME_EN,
        "consent": "I consent to the processing described in docs/privacy.md",
        "accounts": [account("api-person").address],
        **over,
    }


def signed(api: Api, who: Any, action: str, pid: int, subject: str = "0x" + "00" * 32) -> dict[str, Any]:
    from ledger.domain import eip712

    nonce = api.client.get(f"/v1/parties/{pid}/personal-data/nonce").json()["nonce"]
    deadline = max(api.chain.now(), int(time.time())) + 600  # the service takes the later of the two clocks
    message = eip712.personal_data_request_message(
        api.domain(), action=action, party_id=pid, subject=subject, nonce=nonce, deadline=deadline
    )
    return {
        "account": who.address,
        "nonce": nonce,
        "deadline": deadline,
        "signature": "0x" + eip712.sign(message, who).hex(),
    }


def test_a_person_is_admitted_shown_by_number_and_sees_and_erases_their_data(api: Api) -> None:
    person = account("api-person")
    resp = api.client.post("/v1/parties/individuals", json=body(), headers=api.auth)
    assert resp.status_code == 201, resp.text
    pid = resp.json()["partyId"]
    assert resp.json()["naturalPerson"]["en"] == f"natural person, party {pid}"
    public = api.client.get(f"/v1/parties/{pid}").json()
    assert public["kind"] == "individual" and public["nameEn"] == "" and NAME_EN not in str(public)
    assert HKID not in str(public)
    assert public["naturalPerson"] == {"en": f"natural person, party {pid}", "zh": f"自然人，第 {pid} 号当事人"}
    # the index decodes PartyAdmitted: for a person it sees only the commitment
    from sqlalchemy import select

    from ledger.index.schema import parties

    api.chain.w3.provider.make_request("evm_mine", [])  # the index reads up to head - 1 confirmation
    api.ledger.index.sync()
    with api.ledger.index.engine.connect() as db:
        row = db.execute(select(parties).where(parties.c.party_id == pid)).mappings().one()
    assert (row["kind"], row["name_zh"], row["name_en"]) == (7, "", "")
    assert row["identifier"] == public["identifier"] and row["identifier"].startswith("0x")
    dup = api.client.post("/v1/parties/individuals", json=body(accounts=[account("x").address]), headers=api.auth)
    assert dup.status_code == 409 and dup.json()["error"]["field"] == "identifier"
    assert "K987654" not in dup.text and NAME_EN not in dup.text

    seen = api.client.post(f"/v1/parties/{pid}/personal-data", json=signed(api, person, "show", pid))
    assert seen.status_code == 200, seen.text
    assert (seen.json()["identifier"], seen.json()["nameEn"]) == (HKID, NAME_EN)
    erased = api.client.post(f"/v1/parties/{pid}/personal-data/erase", json=signed(api, person, "erase", pid))
    assert erased.status_code == 200, erased.text
    assert erased.json()["state"] == "erased" and erased.json()["nameEn"] is None
    again = api.client.post(f"/v1/parties/{pid}/personal-data", json=signed(api, person, "show", pid))
    assert again.json()["identifier"] is None


def test_bad_person_input_answers_the_envelope_without_repeating_it(api: Api) -> None:
    for over, field in [
        ({"identifier": "K987654(4)"}, "identifier"),
        ({"idScheme": "ssn"}, "idScheme"),
        ({"nameZh": "", "nameEn": ""}, "nameEn"),
        ({"consent": ""}, "consent"),
    ]:
        resp = api.client.post("/v1/parties/individuals", json=body(**over), headers=api.auth)
        assert resp.status_code in (400, 422), resp.text
        error = resp.json()["error"]
        assert error["field"] == field, error
        assert "K987654" not in resp.text
    no_token = api.client.post("/v1/parties/individuals", json=body())
    assert no_token.status_code == 403
    via_parties = api.client.post(
        "/v1/parties",
        headers=api.auth,
        json={
            "kind": "individual",
            "jurisdiction": "hksar",
            "identifierScheme": "person_commitment",
            "identifier": "0x" + "ab" * 32,
            "accounts": [account("y").address],
        },
    )
    assert via_parties.status_code in (400, 422), via_parties.text  # the commitment is longer than an identifier
    assert via_parties.json()["error"]["field"] in ("kind", "identifier")
    assert api.chain.evidence.functions.partyCount().call() == 0


def test_a_stranger_cannot_read_a_persons_data(api: Api) -> None:
    resp = api.client.post("/v1/parties/individuals", json=body(), headers=api.auth)
    pid = resp.json()["partyId"]
    stranger = account("api-stranger")
    refused = api.client.post(f"/v1/parties/{pid}/personal-data", json=signed(api, stranger, "show", pid))
    assert refused.status_code == 403 and NAME_EN not in refused.text
