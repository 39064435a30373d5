"""Creators linked to parties (issue 15): metadata naming creators by party, a creator's own signature added to a
registration made by their employer, listed in the certificate and checked by the verifier against the chain; and
everything the service and the contract refuse."""

from __future__ import annotations

import copy
import io
import time
from typing import Any

from eth_account.signers.local import LocalAccount

from ledger.certificates.verify import Rpc, verify
from ledger.domain import eip712
from ledger.domain.codes import CreatorRole
from ledger.domain.hashing import HashAlgorithm, hash_bytes
from ledger.domain.metadata import metadata_commitment, validate_metadata
from tests.api.conftest import Api
from tests.api.test_individuals import body as person_body
from tests.helpers import account

DRAFT = b"design draft: a folding bicycle hinge, sheet 1 of 3"


def creators_domain(api: Api) -> eip712.Domain:
    d = api.client.get("/v1/creators/signing-domain").json()
    return eip712.Domain(d["chainId"], d["verifyingContract"], name=d["name"])


def endorsement(
    api: Api, who: LocalAccount, binding: bytes, registrant: int, role: str = "designer", **over: Any
) -> dict[str, Any]:
    nonce = api.client.get(f"/v1/accounts/{who.address}").json()["nonce"]
    deadline = max(api.chain.now(), int(time.time())) + 600
    fields = {"nonce": nonce, "deadline": deadline, **over}
    message = eip712.creator_endorsement_message(
        creators_domain(api),
        binding=binding,
        registrant_party_id=registrant,
        role=int(CreatorRole.from_word(role)),
        creator=who.address,
        nonce=fields["nonce"],
        deadline=fields["deadline"],
    )
    return {
        "registrantPartyId": registrant,
        "role": role,
        "creator": who.address,
        "nonce": fields["nonce"],
        "deadline": fields["deadline"],
        "signature": "0x" + eip712.sign(message, who).hex(),
    }


def registered_by_firm(api: Api, firm: LocalAccount, metadata: dict[str, Any] | None) -> bytes:
    content = hash_bytes(DRAFT, HashAlgorithm.SHA256)
    extra: dict[str, Any] = {}
    if metadata is not None:
        extra["metadata_commitment"] = metadata_commitment(validate_metadata(metadata))
    body = api.single_body(firm, content, **extra)
    if metadata is not None:
        body["metadata"] = metadata
    resp = api.client.post("/v1/evidence", json=body)
    assert resp.status_code == 202, resp.text
    assert api.ledger.pipeline.drain()
    api.chain.w3.provider.make_request("evm_mine", [])
    api.ledger.pipeline.step()
    return bytes.fromhex(body["binding"][2:])


def admit_person(api: Api, who: LocalAccount) -> int:
    resp = api.client.post("/v1/parties/individuals", json=person_body(accounts=[who.address]), headers=api.auth)
    assert resp.status_code == 201, resp.text
    return int(resp.json()["partyId"])


def test_a_designer_adds_her_own_signature_to_her_employers_registration_and_the_certificate_proves_it(
    api: Api, firm: LocalAccount
) -> None:
    designer = account("api-designer")
    person = admit_person(api, designer)
    employer = api.party_of(firm)
    metadata = {"title": "Folding hinge", "kind": "design", "creators": [{"partyId": person, "role": "designer"}]}
    binding = registered_by_firm(api, firm, metadata)

    done = api.client.post(
        f"/v1/evidence/0x{binding.hex()}/endorsements", json=endorsement(api, designer, binding, employer)
    )
    assert done.status_code == 201, done.text
    entry = done.json()
    assert (entry["partyId"], entry["role"], entry["account"]) == (person, "designer", designer.address)
    assert entry["naturalPerson"]["en"] == f"natural person, party {person}" and entry["nameEn"] == ""
    assert "Lee Ka Yan" not in done.text  # a person is named by number in everything public

    listed = api.client.get(f"/v1/evidence/0x{binding.hex()}/endorsements", params={"partyId": employer}).json()[
        "endorsements"
    ]
    assert listed == [entry]
    cert = api.client.get(f"/v1/evidence/0x{binding.hex()}/certificate", params={"partyId": employer}).json()
    assert cert["endorsements"] == [entry]
    cert["evidence"]["metadata"] = validate_metadata(metadata)  # the registrant's copy carries its metadata
    rpc = Rpc.from_web3(api.chain.w3)
    report = verify(cert, rpc, file=io.BytesIO(DRAFT))
    assert report.passed, report.to_json()
    assert "endorsements" in [c.name for c in report.checks] and "metadata" in [c.name for c in report.checks]

    from ledger.certificates.render.pdf import render_html

    page = render_html(cert, verify_url="http://127.0.0.1:8000/")
    assert "Creators&#x27; own signatures" in page or "Creators' own signatures" in page
    assert f"natural person, party {person}: 设计人 / designer" in page

    # tampering with what the endorsement says is caught against the chain
    for key, value in (
        ("role", "author"),
        ("partyId", employer),
        ("account", firm.address),
        ("blockNumber", entry["blockNumber"] - 1),
        ("transactionHash", "0x" + "11" * 32),
        ("contract", api.ledger.manifest.address("DisputeRegistry")),
    ):
        forged = copy.deepcopy(cert)
        forged["endorsements"][0][key] = value
        bad = verify(forged, rpc)
        assert not bad.passed, key
        assert any(c.name == "endorsements" and c.status == "failed" for c in bad.checks), key
    # an endorsement of another role than the metadata names fails the metadata cross-check
    other = copy.deepcopy(cert)
    other["evidence"]["metadata"]["creators"][0]["role"] = "inventor"
    other["evidence"]["metadataCommitment"] = "0x" + metadata_commitment(other["evidence"]["metadata"]).hex()
    assert not verify(other, rpc).passed


def test_what_is_refused_changes_nothing(api: Api, firm: LocalAccount) -> None:
    designer, stranger = account("api-designer"), account("api-stranger")
    person = admit_person(api, designer)
    employer = api.party_of(firm)
    binding = registered_by_firm(api, firm, None)
    url = f"/v1/evidence/0x{binding.hex()}/endorsements"

    def refused(body: dict[str, Any], status: int, field: str, path: str = url) -> None:
        resp = api.client.post(path, json=body)
        assert resp.status_code == status, resp.text
        assert resp.json()["error"]["field"] == field, resp.text

    good = endorsement(api, designer, binding, employer)
    refused(endorsement(api, stranger, binding, employer), 400, "creator")  # no party's account
    refused(endorsement(api, firm, binding, employer), 400, "creator")  # the registrant itself
    refused(good, 404, "binding", f"/v1/evidence/0x{'22' * 32}/endorsements")  # no such record
    refused({**good, "role": "author"}, 400, "signature")  # signed for another role
    refused({**good, "registrantPartyId": person}, 404, "binding")  # the person has no such record
    refused(endorsement(api, designer, binding, employer, nonce=7), 400, "nonce")
    refused(endorsement(api, designer, binding, employer, deadline=1), 400, "deadline")
    refused({**good, "role": "janitor"}, 422, "role")  # schema errors are 422
    refused({**good, "signature": "0x1234"}, 400, "signature")
    refused({**good, "surprise": 1}, 422, "surprise")
    assert api.client.get(url, params={"partyId": employer}).json()["endorsements"] == []

    assert api.client.post(url, json=good).status_code == 201
    refused(endorsement(api, designer, binding, employer), 409, "creator")  # once per record and creator
    assert len(api.client.get(url, params={"partyId": employer}).json()["endorsements"]) == 1


def test_the_operator_cannot_endorse_for_a_creator_on_chain(api: Api, firm: LocalAccount) -> None:
    """The relayer's own signature, or a direct call from the service's keys, makes no endorsement: the contract
    checks the creator's signature and the caller's party."""
    designer = account("api-designer")
    admit_person(api, designer)
    employer = api.party_of(firm)
    binding = registered_by_firm(api, firm, None)
    creators = api.ledger.connection.contract("CreatorRegistry")
    body = endorsement(api, designer, binding, employer)
    relayer = api.ledger.require_relayer()
    forged = eip712.sign(
        eip712.creator_endorsement_message(
            creators_domain(api),
            binding=binding,
            registrant_party_id=employer,
            role=int(CreatorRole.DESIGNER),
            creator=designer.address,
            nonce=body["nonce"],
            deadline=body["deadline"],
        ),
        account("api-stranger"),
    )
    from ledger.errors import ContractRevert

    for fn in (
        creators.functions.endorseBySignature(
            binding, employer, 2, designer.address, body["nonce"], body["deadline"], forged
        ),
        creators.functions.endorse(binding, employer, 2),  # from the relayer: no party's account
    ):
        try:
            relayer.send_call(fn)
        except ContractRevert as exc:
            assert exc.name in ("SignatureInvalid", "AccountNotAParty"), exc.name
        else:
            raise AssertionError("the contract accepted an endorsement the creator did not make")
    assert int(creators.functions.endorsement(binding, employer, api.party_of(designer)).call()[2]) == 0


def test_metadata_given_to_the_api_is_checked_before_anything_is_sent(api: Api, firm: LocalAccount) -> None:
    content = hash_bytes(b"another draft", HashAlgorithm.SHA256)
    metadata = {"title": "Hinge", "creators": [{"partyId": 999, "role": "designer"}]}
    commitment = metadata_commitment(validate_metadata(metadata))
    body = api.single_body(firm, content, metadata_commitment=commitment)
    body["metadata"] = metadata
    resp = api.client.post("/v1/evidence", json=body)
    assert resp.status_code == 400 and resp.json()["error"]["field"] == "metadata.creators[0].partyId", resp.text
    body["metadata"] = {"title": "Hinge", "kind": "design"}  # valid, but not what the signature commits to
    resp = api.client.post("/v1/evidence", json=body)
    assert resp.status_code == 400 and resp.json()["error"]["field"] == "metadataCommitment", resp.text
    body["metadata"] = {"title": "Hinge", "creators": [{"partyId": 1, "role": "janitor"}]}
    resp = api.client.post("/v1/evidence", json=body)
    assert resp.status_code == 400 and resp.json()["error"]["field"] == "metadata.creators[0].role", resp.text
    assert api.client.get(f"/v1/evidence/{content.hex()}").status_code == 404


def test_the_signing_domains_publish_every_type_signed_in_them(api: Api) -> None:
    evidence = api.client.get("/v1/signing-domain").json()
    assert evidence["verifyingContract"] == api.ledger.manifest.address("EvidenceRegistry")
    assert evidence["types"]["PersonalDataRequest"] == eip712.PERSONAL_DATA_REQUEST_TYPE
    assert evidence["types"]["CertificateConsent"] == eip712.CERTIFICATE_CONSENT_TYPE
    assert evidence["types"]["Evidence"] == eip712.EVIDENCE_TYPE
    creators = api.client.get("/v1/creators/signing-domain").json()
    assert (creators["name"], creators["verifyingContract"]) == (
        eip712.CREATORS_DOMAIN_NAME,
        api.ledger.manifest.address("CreatorRegistry"),
    )
    assert creators["types"] == {"CreatorEndorsement": eip712.CREATOR_ENDORSEMENT_TYPE}
    typehash = api.ledger.connection.contract("CreatorRegistry").functions.ENDORSEMENT_TYPEHASH().call()
    assert bytes(typehash) == eip712.CREATOR_ENDORSEMENT_TYPEHASH
