"""The document vault through the API: a document sealed for a university and a firm, granted to the
arbitrator, is readable by exactly those three; altered ciphertext is refused; only signed actions of
the right parties change anything."""

from __future__ import annotations

import base64
import time
from typing import Any

from eth_account.signers.local import LocalAccount

from ledger.domain import eip712
from ledger.domain.hashing import HashAlgorithm, hash_bytes
from ledger.services.documents import payload_hash
from ledger.storage.vault.crypto import add_reader, seal
from ledger.storage.vault.envelope import Envelope
from ledger.storage.vault.keys import ReaderKey
from tests.api.conftest import Api
from tests.helpers import account

CONTRACT = "许可合同（签署版）/ signed licence contract".encode() * 50


def act(api: Api, who: LocalAccount, action: str, document_id: str, payload: bytes) -> dict[str, Any]:
    deadline = int(time.time()) + 600
    msg = eip712.document_action_message(api.ledger.evidence_service.domain(), action, document_id, payload, deadline)
    return {"account": who.address, "deadline": deadline, "signature": "0x" + eip712.sign(msg, who).hex()}


def test_a_document_for_two_parties_granted_to_the_arbitrator_is_readable_by_exactly_those_three(api: Api) -> None:
    uni, firm, arb, other = account("doc-uni"), account("doc-firm"), account("doc-arb"), account("doc-other")
    p_uni = api.admit(uni, "12345678", kind="university", jurisdiction="hksar", identifierScheme="hkbrn", nameEn="Uni")
    p_firm = api.admit(firm, "91110108551385082Q")
    p_arb = api.admit(arb, "ARB-1", kind="arbitration_institution", identifierScheme="other", nameEn="Arbitration")
    p_other = api.admit(other, "91110000600037341L")
    keys = {
        p: ReaderKey.from_eth_private_key(bytes(a.key))
        for p, a in ((p_uni, uni), (p_firm, firm), (p_arb, arb), (p_other, other))
    }
    for p, a in ((p_uni, uni), (p_firm, firm), (p_arb, arb)):
        pub = keys[p].public_bytes()
        resp = api.client.post(
            "/v1/document-keys",
            json={"publicKey": "0x" + pub.hex(), **act(api, a, "publish-key", "", payload_hash(pub))},
        )
        assert resp.status_code == 200, resp.text
    published = {
        p: bytes.fromhex(api.client.get(f"/v1/parties/{p}/document-key").json()["publicKey"][2:])
        for p in (p_uni, p_firm)
    }

    # the university seals on its own machine and registers the document's hash as evidence
    envelope, blob = seal(CONTRACT, p_uni, published)
    body = {
        "envelope": envelope.to_json(),
        "ciphertext": base64.b64encode(blob).decode(),
        **act(api, uni, "store", envelope.document_id, payload_hash(envelope.to_bytes(), blob)),
    }
    wrong_owner = {**body, **act(api, firm, "store", envelope.document_id, payload_hash(envelope.to_bytes(), blob))}
    assert api.client.post("/v1/documents", json=wrong_owner).status_code == 403
    assert api.client.post("/v1/documents", json=body).status_code == 201
    assert (
        api.client.post(
            "/v1/evidence", json=api.single_body(uni, hash_bytes(CONTRACT, HashAlgorithm.SHA256))
        ).status_code
        == 202
    )
    api.ledger.pipeline.drain()
    doc = envelope.document_id

    # the firm (a reader) grants the arbitrator: it unwraps on its machine and wraps for the arbitrator's key
    arb_pub = bytes.fromhex(api.client.get(f"/v1/parties/{p_arb}/document-key").json()["publicKey"][2:])
    current = Envelope.from_json(api.client.get(f"/v1/documents/{doc}").json())
    granted = add_reader(current, p_firm, keys[p_firm], p_arb, arb_pub)
    outsider = api.client.post(
        f"/v1/documents/{doc}/grants",
        json={"envelope": granted.to_json(), **act(api, other, "grant", doc, payload_hash(granted.to_bytes()))},
    )
    assert outsider.status_code == 403
    resp = api.client.post(
        f"/v1/documents/{doc}/grants",
        json={"envelope": granted.to_json(), **act(api, firm, "grant", doc, payload_hash(granted.to_bytes()))},
    )
    assert resp.status_code == 200, resp.text

    def read(p: int) -> Any:
        return api.client.post(
            f"/v1/documents/{doc}/decrypt", json={"party": p, "privateKey": "0x" + keys[p].private_bytes().hex()}
        )

    for p in (p_uni, p_firm, p_arb):
        r = read(p)
        assert r.status_code == 200 and r.content == CONTRACT
    assert read(p_other).status_code == 403

    # altered ciphertext is refused
    storage = api.ledger.documents.vault.storage
    original = storage.get_blob(doc, granted.blob_id)
    storage.put_blob(doc, granted.blob_id, bytes([original[0] ^ 1]) + original[1:])
    r = read(p_arb)
    assert r.status_code == 400 and r.json()["error"]["code"] == "vault_integrity_error"
    storage.put_blob(doc, granted.blob_id, original)

    # the owner revokes the arbitrator; only the owner can
    revoke = {"reader": p_arb, **act(api, firm, "revoke", doc, payload_hash(str(p_arb).encode()))}
    assert api.client.post(f"/v1/documents/{doc}/revocations", json=revoke).status_code == 403
    revoke = {"reader": p_arb, **act(api, uni, "revoke", doc, payload_hash(str(p_arb).encode()))}
    assert api.client.post(f"/v1/documents/{doc}/revocations", json=revoke).status_code == 200
    assert read(p_arb).status_code == 403
