"""The time-stamp authority when it cannot stamp: without an aggregator key, or with keys it cannot read, a request
is an RFC 3161 rejection (systemFailure) and the published chain a 503 — never a 500."""

from __future__ import annotations

import hashlib
from pathlib import Path

from asn1crypto import tsp

from ledger.certificates.timestamp import TimeStampResponse
from tests.api.conftest import Api

QUERY = {"Content-Type": "application/timestamp-query"}


def query() -> bytes:
    imprint = hashlib.sha256(b"refusals").digest()
    return tsp.TimeStampReq(
        {"version": "v1", "message_imprint": {"hash_algorithm": {"algorithm": "sha256"}, "hashed_message": imprint}}
    ).dump()


def fail_info(body: bytes) -> tuple[str, set[str]]:
    status = TimeStampResponse.load(body)["status"]
    return status["status"].native, set(status["fail_info"].native or ())


def test_without_an_aggregator_key_a_request_is_a_system_failure(api: Api) -> None:
    api.ledger.relayer = None
    resp = api.client.post("/v1/tsa", content=query(), headers={**QUERY, **api.auth})
    assert resp.status_code == 200 and resp.headers["content-type"] == "application/timestamp-reply"
    assert fail_info(resp.content) == ("rejection", {"system_failure"})


def test_unreadable_keys_answer_a_rejection_and_a_503_never_a_500(api: Api, tmp_path: Path) -> None:
    (tmp_path / "tsa.pem").write_text("not a certificate")
    api.ledger.settings = api.ledger.settings.model_copy(
        update={"tsa_cert": tmp_path / "tsa.pem", "tsa_key": tmp_path / "missing.key"}
    )
    resp = api.client.post("/v1/tsa", content=query(), headers={**QUERY, **api.auth})
    assert resp.status_code == 200 and fail_info(resp.content) == ("rejection", {"system_failure"})
    for path in ("/v1/tsa/ca.pem", "/v1/tsa/tsa.pem"):
        answer = api.client.get(path)
        assert answer.status_code == 503, answer.text
        assert answer.json()["error"]["code"] == "storage_unavailable"


def test_the_published_chain_of_the_embedded_default_is_pem(api: Api) -> None:
    for path in ("/v1/tsa/ca.pem", "/v1/tsa/tsa.pem"):
        answer = api.client.get(path)
        assert answer.status_code == 200 and answer.text.startswith("-----BEGIN CERTIFICATE-----")
    assert (Path(api.ledger.settings.data_dir) / "tsa" / "tsa.key.pem").exists()
