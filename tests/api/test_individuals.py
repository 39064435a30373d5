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


def consent_body(api: Api, who: Any, pid: int, bindings: list[str], **over: Any) -> dict[str, Any]:
    from ledger.domain import eip712

    now = max(api.chain.now(), int(time.time()))
    fields: dict[str, Any] = {
        "partyId": pid,
        "recipient": "Hong Kong International Arbitration Centre",
        "recipientParty": 0,
        "bindings": bindings,
        "purpose": "arbitration of a design dispute",
        "expires": now + 7 * 86400,
        "nonce": api.client.get(f"/v1/parties/{pid}/personal-data/nonce").json()["nonce"],
        "deadline": now + 600,
        **over,
    }
    message = eip712.certificate_consent_message(
        api.domain(),
        party_id=fields["partyId"],
        recipient=fields["recipient"],
        recipient_party=fields["recipientParty"],
        bindings=fields["bindings"],
        purpose=fields["purpose"],
        expires=fields["expires"],
        nonce=fields["nonce"],
        deadline=fields["deadline"],
    )
    return {**fields, "account": who.address, "signature": "0x" + eip712.sign(message, who).hex()}


def test_a_recipient_gets_the_named_copy_with_the_persons_consent_until_it_is_revoked(api: Api) -> None:
    person, stranger = account("api-person"), account("api-consent-stranger")
    pid = api.client.post("/v1/parties/individuals", json=body(), headers=api.auth).json()["partyId"]
    content = bytes.fromhex("ab" * 32)
    assert api.client.post("/v1/evidence", json=api.single_body(person, content)).status_code == 202
    api.ledger.pipeline.drain()
    binding = "0x" + api.binding(person, content).hex()

    by_stranger = api.client.post(f"/v1/parties/{pid}/consents", json=consent_body(api, stranger, pid, [binding]))
    assert by_stranger.status_code == 403 and by_stranger.json()["error"]["field"] == "account"
    bad = api.client.post(
        f"/v1/parties/{pid}/consents", json=consent_body(api, person, pid, [binding], expires=1, recipient="")
    )
    assert bad.status_code in (400, 422) and bad.json()["error"]["field"] in ("recipient", "expires"), bad.text
    signed_consent = consent_body(api, person, pid, [binding])
    recorded = api.client.post(f"/v1/parties/{pid}/consents", json=signed_consent)
    assert recorded.status_code == 201, recorded.text
    digest = recorded.json()["digest"]

    path = f"/v1/parties/{pid}/certificate/consented"
    copy = api.client.post(path, json={"consent": signed_consent, "registration": "0x" + content.hex()})
    assert copy.status_code == 200, copy.text
    holder = copy.json()["holder"]
    assert holder["nameEn"] == NAME_EN and holder["consent"]["digest"] == digest
    assert holder["recipient"]["name"] == "Hong Kong International Arbitration Centre"
    assert api.client.post("/v1/verify", json={"certificate": copy.json()}).json()["verdict"] == "passed"
    public = api.client.get(f"/v1/evidence/0x{content.hex()}/certificate").json()
    assert "holder" not in public and NAME_EN not in str(public)

    altered = {**signed_consent, "purpose": "anything at all"}
    refused = api.client.post(path, json={"consent": altered, "registration": "0x" + content.hex()})
    assert refused.status_code == 403 and refused.json()["error"]["field"] == "consent.signature"
    assert NAME_EN not in refused.text
    extra = api.client.post(path, json={"consent": signed_consent, "registration": binding, "name": "x"})
    assert extra.status_code in (400, 422)

    revoke = signed(api, person, "revoke-consent", pid, digest)
    revoked = api.client.post(f"/v1/parties/{pid}/consents/{digest}/revoke", json=revoke)
    assert revoked.status_code == 200 and revoked.json()["revokedAt"] is not None, revoked.text
    after = api.client.post(path, json={"consent": signed_consent, "registration": "0x" + content.hex()})
    assert after.status_code == 409 and after.json()["error"]["field"] == "consent"
    seen = api.client.post(f"/v1/parties/{pid}/personal-data", json=signed(api, person, "show", pid)).json()
    assert [(c["digest"], c["issued"]) for c in seen["consents"]] == [(digest, 1)]
