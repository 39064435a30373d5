"""Evidence through the API: relayed singles, batches, status, certificates that verify, and bad input."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount

from ledger.certificates.verify import Rpc, verify
from ledger.domain.hashing import HashAlgorithm, hash_bytes, public_binding
from tests.api.conftest import Api
from tests.helpers import account, h

DOC = "设计图纸 v1 — design drawing".encode()


def register_single(api: Api, firm: LocalAccount, content: bytes, **kw: Any) -> dict[str, Any]:
    resp = api.client.post("/v1/evidence", json=api.single_body(firm, content, **kw))
    assert resp.status_code == 202, resp.text
    return resp.json()


def test_a_relayed_registration_goes_from_pending_to_final_with_a_certificate_that_verifies(
    api: Api, firm: LocalAccount
) -> None:
    content = hash_bytes(DOC, HashAlgorithm.SHA256)
    accepted = register_single(api, firm, content)
    assert accepted["status"] == "pending" and accepted["transactionHash"].startswith("0x")
    assert api.ledger.pipeline.drain()
    api.chain.w3.provider.make_request("evm_mine", [])
    api.ledger.pipeline.step()
    info = api.client.get(f"/v1/evidence/{content.hex()}").json()
    assert info["status"] == "final" and info["method"] == "direct" and info["partyId"] == 1
    assert api.client.get(f"/v1/receipts/{accepted['receiptId']}").json()["status"] == "final"
    cert = api.client.get(f"/v1/evidence/0x{content.hex()}/certificate").json()
    assert cert["anchor"]["transactionHash"] == accepted["transactionHash"]
    report = verify(cert, Rpc.from_web3(api.chain.w3), file=io.BytesIO(DOC))
    assert report.passed, report.to_json()
    assert [c.name for c in report.checks] == [
        "format",
        "file",
        "binding",
        "chain",
        "block",
        "transaction",
        "record",
        "party",
        "registrations",
    ]
    assert cert["evidence"]["binding"] == "0x" + public_binding(content, 1, HashAlgorithm.SHA256).hex()
    assert cert["registrations"]["count"] == 1 and cert["registrations"]["listed"][0]["partyId"] == 1


def test_an_sm3_registration_with_metadata_and_a_supersedes_link(api: Api, firm: LocalAccount) -> None:
    v1 = hash_bytes(b"v1", HashAlgorithm.SM3)
    v2 = hash_bytes(b"v2", HashAlgorithm.SM3)
    register_single(api, firm, v1, algorithm="sm3")
    api.ledger.pipeline.drain()
    register_single(api, firm, v2, algorithm="sm3", supersedes=v1, metadata_commitment=h("meta"))
    api.ledger.pipeline.drain()
    info = api.client.get(f"/v1/evidence/{v2.hex()}").json()
    v1_binding = "0x" + public_binding(v1, 1, HashAlgorithm.SM3).hex()
    assert info["algorithm"] == "sm3" and info["supersedes"] == v1_binding
    assert [v["binding"] for v in info["versions"]] == [v1_binding]
    cert = api.client.get(f"/v1/evidence/{v2.hex()}/certificate").json()
    assert verify(cert, Rpc.from_web3(api.chain.w3), file=io.BytesIO(b"v2")).passed


def test_registering_a_hash_twice_answers_409_naming_the_first(api: Api, firm: LocalAccount) -> None:
    content = h("twice")
    first = register_single(api, firm, content)
    resp = api.client.post("/v1/evidence", json=api.single_body(firm, content))
    assert resp.status_code == 409
    api.ledger.pipeline.drain()
    resp = api.client.post("/v1/evidence", json=api.single_body(firm, content))
    assert resp.status_code == 409
    err = resp.json()["error"]
    assert err["code"] == "evidence_already_registered" and err["details"]["partyId"] == 1
    assert first["receiptId"]


def test_a_batch_is_anchored_and_each_item_has_a_certificate_that_verifies(api: Api, firm: LocalAccount) -> None:
    files = [f"source file {i}".encode() for i in range(25)]
    hashes = [hash_bytes(f, HashAlgorithm.SHA256) for f in files]
    resp = api.client.post("/v1/evidence/batch", json=api.batch_body(firm, hashes))
    assert resp.status_code == 202, resp.text
    body = resp.json()
    assert body["status"] == "queued" and body["count"] == 25 and body["duplicates"] == []
    assert api.client.get(f"/v1/evidence/{hashes[3].hex()}").json()["status"] == "queued"
    assert api.ledger.pipeline.drain()
    for i in (0, 7, 24):
        info = api.client.get(f"/v1/evidence/{hashes[i].hex()}").json()
        assert info["method"] == "batch" and info["status"] in ("registered", "final") and info["submissionIndex"] == i
        cert = api.client.get(f"/v1/evidence/{hashes[i].hex()}/certificate").json()
        report = verify(cert, Rpc.from_web3(api.chain.w3), file=io.BytesIO(files[i]))
        assert report.passed, report.to_json()
        assert "submission-signature" in [c.name for c in report.checks]


def test_two_submissions_share_one_batch_root_and_the_same_content_is_recorded_for_both_parties(
    api: Api, firm: LocalAccount
) -> None:
    other = account("api-firm-2")
    api.admit(other, "91110000600037341L")
    a = [h(f"a{i}") for i in range(5)]
    b = [h(f"b{i}") for i in range(3)] + [a[2]]
    api.client.post("/v1/evidence/batch", json=api.batch_body(firm, a))
    resp = api.client.post("/v1/evidence/batch", json=api.batch_body(other, b)).json()
    assert resp["duplicates"] == []  # the other party's binding of a[2] is its own
    again = api.client.post("/v1/evidence/batch", json=api.batch_body(firm, [a[2], h("new")])).json()
    binding = "0x" + public_binding(a[2], 1, HashAlgorithm.SHA256).hex()
    assert again["duplicates"] == [{"index": 0, "binding": binding, "receiptId": "sub_1"}]
    api.ledger.pipeline.drain()
    ca = api.client.get(f"/v1/evidence/{a[0].hex()}/certificate").json()
    cb = api.client.get(f"/v1/evidence/{b[0].hex()}/certificate").json()
    assert ca["anchor"]["batch"]["root"] == cb["anchor"]["batch"]["root"]
    both = api.client.get(f"/v1/evidence/{a[2].hex()}").json()
    assert both["partyId"] == 1 and both["registrationCount"] == 2
    assert [r["partyId"] for r in both["registrations"]] == [1, 2]
    assert api.client.get(f"/v1/evidence/{a[2].hex()}", params={"partyId": 2}).json()["partyId"] == 2
    for cert in (ca, cb):
        assert verify(cert, Rpc.from_web3(api.chain.w3)).passed


def test_the_verify_endpoint_streams_the_file_and_reports_each_check(api: Api, firm: LocalAccount) -> None:
    content = hash_bytes(DOC, HashAlgorithm.SHA256)
    register_single(api, firm, content)
    api.ledger.pipeline.drain()
    cert = api.client.get(f"/v1/evidence/{content.hex()}/certificate").json()
    ok = api.client.post(
        "/v1/verify", files={"certificate": ("c.json", json.dumps(cert)), "file": ("f.bin", DOC)}
    ).json()
    assert ok["verdict"] == "passed"
    bad = api.client.post(
        "/v1/verify", files={"certificate": ("c.json", json.dumps(cert)), "file": ("f.bin", DOC + b"!")}
    ).json()
    assert bad["verdict"] == "failed" and [c["name"] for c in bad["checks"] if c["status"] == "failed"] == ["file"]
    plain = api.client.post("/v1/verify", json={"certificate": cert}).json()
    assert plain["verdict"] == "passed" and plain["checks"][1] == {
        "name": "file",
        "status": "skipped",
        "detail": "no file given: the content hash is taken from the certificate",
    }
    malformed = api.client.post("/v1/verify", json={"certificate": {"format": "nope"}}).json()
    assert malformed["verdict"] == "failed" and malformed["checks"][0]["name"] == "format"
    # a member named twice (docs/certificate.md §3), in the JSON body or in the multipart part: a failed format
    # check naming it, never the last value silently taken
    text = json.dumps(cert).replace('"version": 2,', '"version": 2, "version": 2,', 1)
    for resp in (
        api.client.post(
            "/v1/verify",
            content=b'{"certificate": ' + text.encode() + b"}",
            headers={"Content-Type": "application/json"},
        ),
        api.client.post("/v1/verify", files={"certificate": ("c.json", text), "file": ("f.bin", DOC)}),
    ):
        assert resp.status_code == 200, resp.text
        report = resp.json()
        assert report["verdict"] == "failed" and [c["name"] for c in report["checks"]] == ["format"]
        assert "'version' twice" in report["checks"][0]["detail"]
    # a boolean is not an integer
    flagged = {**cert, "version": True}
    report = api.client.post("/v1/verify", json={"certificate": flagged}).json()
    assert report["verdict"] == "failed" and "version" in report["checks"][0]["detail"]


def test_an_oversized_upload_to_verify_is_refused(api: Api, firm: LocalAccount) -> None:
    api.ledger.settings.max_upload_bytes = 1000
    resp = api.client.post("/v1/verify", files={"certificate": ("c.json", "{}"), "file": ("f.bin", b"x" * 5000)})
    assert resp.status_code == 413 and resp.json()["error"]["field"] == "file"


@pytest.mark.parametrize(
    ("change", "field", "status"),
    [
        ({"binding": "0x1234"}, "binding", 400),
        ({"binding": "zz" * 32}, "binding", 400),
        ({"binding": ""}, "binding", 400),
        ({"partyId": 2}, "partyId", 400),
        ({"partyId": 0}, "partyId", 400),
        ({"algorithm": "md5"}, "algorithm", 422),
        ({"registrant": "0xnope"}, "registrant", 400),
        ({"signature": "0x"}, "signature", 400),
        ({"signature": "0x" + "11" * 65}, "signature", 400),
        ({"nonce": 5}, "signature", 400),
        ({"extra": True}, "extra", 422),
    ],
)
def test_bad_single_registrations_name_the_field_and_write_nothing(
    api: Api, firm: LocalAccount, change: dict, field: str, status: int
) -> None:
    body = {**api.single_body(firm, h("bad")), **change}
    resp = api.client.post("/v1/evidence", json=body)
    assert resp.status_code == status, resp.text
    assert resp.json()["error"]["field"] == field
    assert api.ledger.store.counts() == {}


def test_expired_or_too_short_deadlines_are_refused(api: Api, firm: LocalAccount) -> None:
    for deadline in (api.chain.now() - 10, api.chain.now() + 30):
        resp = api.client.post("/v1/evidence", json=api.single_body(firm, h("late"), deadline=deadline))
        assert resp.status_code == 400 and resp.json()["error"]["field"] == "deadline"
    assert api.ledger.store.counts() == {}


def test_signatures_from_no_party_or_a_suspended_party_are_refused(api: Api, firm: LocalAccount) -> None:
    stranger = account("stranger")
    resp = api.client.post("/v1/evidence", json=api.single_body(stranger, h("s")))
    assert resp.status_code == 403 and resp.json()["error"]["field"] == "registrant"
    api.client.post("/v1/parties/1/suspend", json={"reason": "audit"}, headers=api.auth)
    resp = api.client.post("/v1/evidence", json=api.single_body(firm, h("s")))
    assert resp.status_code == 403 and resp.json()["error"]["code"] == "party_not_active"
    resp = api.client.post("/v1/evidence/batch", json=api.batch_body(firm, [h("s1")]))
    assert resp.status_code == 403
    assert api.ledger.store.counts() == {}


def test_bad_batches_name_the_field_and_write_nothing(api: Api, firm: LocalAccount) -> None:
    good = api.batch_body(firm, [h("1"), h("2")])
    dup = api.batch_body(firm, [h("1"), h("2"), h("1")])
    cases = [
        (dup, "bindings[2]", 400),
        ({**good, "bindings": [good["bindings"][0], "0x12"]}, "bindings[1]", 400),
        ({**good, "bindings": [good["bindings"][0], "xy" * 32]}, "bindings[1]", 400),
        ({**good, "bindings": []}, "bindings", 422),
        ({**good, "bindings": list(reversed(good["bindings"]))}, "signature", 400),  # signed another root
        ({**good, "partyId": 5}, "partyId", 400),
        ({**good, "algorithm": "sm3"}, "signature", 400),
        ({**good, "deadline": api.chain.now() - 1}, "deadline", 400),
    ]
    for body, field, status in cases:
        resp = api.client.post("/v1/evidence/batch", json=body)
        assert resp.status_code == status, (field, resp.text)
        assert resp.json()["error"]["field"] == field, resp.json()
    api.ledger.settings.max_batch_request = 2
    resp = api.client.post("/v1/evidence/batch", json=api.batch_body(firm, [h("1"), h("2"), h("3")]))
    assert resp.status_code == 413 and resp.json()["error"]["field"] == "bindings"
    assert api.ledger.store.counts() == {}


def test_unknown_hashes_and_receipts_answer_404_and_malformed_ones_400(api: Api) -> None:
    assert api.client.get(f"/v1/evidence/{h('none').hex()}").status_code == 404
    assert api.client.get("/v1/evidence/xyz").json()["error"]["field"] == "content_hash"
    assert api.client.get("/v1/receipts/sub_99").status_code == 404
    assert api.client.get("/v1/receipts/nope").status_code == 400


def test_a_certificate_of_a_queued_item_is_not_issued_yet(api: Api, firm: LocalAccount) -> None:
    api.client.post("/v1/evidence/batch", json=api.batch_body(firm, [h("q")]))
    resp = api.client.get(f"/v1/evidence/{h('q').hex()}/certificate")
    assert resp.status_code == 409 and resp.json()["error"]["details"]["status"] == "queued"


def test_the_same_content_by_two_parties_is_recorded_for_both_and_the_lookup_names_the_first(
    api: Api, firm: LocalAccount
) -> None:
    other = account("api-firm-second")
    second = api.admit(other, "91110000600037341L")
    content = hash_bytes(DOC, HashAlgorithm.SHA256)
    register_single(api, other, content)
    api.ledger.pipeline.drain()
    api.chain.w3.provider.make_request("evm_mine", [])
    register_single(api, firm, content)
    api.ledger.pipeline.drain()
    info = api.client.get(f"/v1/evidence/0x{content.hex()}").json()
    assert info["partyId"] == second and info["contentHash"] == "0x" + content.hex()
    assert info["registrationCount"] == 2 and [r["partyId"] for r in info["registrations"]] == [second, 1]
    assert info["registrations"][0]["blockNumber"] < info["registrations"][1]["blockNumber"]
    mine = api.client.get(f"/v1/evidence/0x{content.hex()}/certificate", params={"partyId": 1}).json()
    assert mine["registrant"]["partyId"] == 1
    assert [r["partyId"] for r in mine["registrations"]["listed"]] == [second, 1]
    report = verify(mine, Rpc.from_web3(api.chain.w3), file=io.BytesIO(DOC))
    assert report.passed, report.to_json()
    assert f"party {second} registered this content first" in {c.name: c.detail for c in report.checks}["registrations"]
    # a certificate that hides the earlier registration fails its registrations check
    hidden = json.loads(json.dumps(mine))
    hidden["registrations"]["listed"] = hidden["registrations"]["listed"][1:]
    hidden["registrations"]["count"] = 1
    report = verify(hidden, Rpc.from_web3(api.chain.w3))
    assert [c.name for c in report.checks if c.status == "failed"] == ["registrations"]
    assert f"party {second} registered this content at block" in report.to_json()["checks"][-1]["detail"]
