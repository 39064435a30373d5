"""The API skeleton: health, OpenAPI, and one JSON error envelope for every error."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient

from api.app import create_app
from ledger.config import Settings
from ledger.facade import Ledger
from tests.helpers import Chain


@pytest.fixture
def client(anvil: Chain, tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(data_dir=tmp_path)
    ledger = Ledger(w3=anvil.w3, manifest=anvil.manifest, settings=settings)
    app = create_app(ledger, settings)
    boom = APIRouter()

    @boom.get("/v1/_boom")
    def _boom() -> None:
        raise RuntimeError("secret internals /home/operator/key.json")

    @boom.get("/v1/_refused")
    def _refused() -> None:  # what a geth or Besu node answers a call that runs past its limit
        from ledger.chain.rpc import NodeRefused

        raise NodeRefused("eth_call", "execution aborted (timeout = 5s)")

    app.include_router(boom)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def test_health_reports_chain_block_contracts_and_version(client: TestClient, anvil: Chain) -> None:
    body = client.get("/v1/health").json()
    assert body["chainId"] == anvil.w3.eth.chain_id
    assert body["latestBlock"] == anvil.w3.eth.block_number
    assert body["contracts"]["EvidenceRegistry"] == anvil.manifest.address("EvidenceRegistry")
    assert body["version"] and body["artifactVersion"]


def test_openapi_is_served(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert "/v1/health" in spec["paths"]
    assert client.get("/docs").status_code == 200


def test_unknown_route_answers_the_error_envelope(client: TestClient) -> None:
    resp = client.get("/v1/nothing-here")
    assert resp.status_code == 404
    assert resp.json() == {"error": {"code": "not_found", "message": "Not Found"}}


def test_unexpected_errors_answer_500_without_internals(client: TestClient) -> None:
    resp = client.get("/v1/_boom")
    assert resp.status_code == 500
    assert resp.json() == {"error": {"code": "internal_error", "message": "the server could not complete the request"}}
    assert "secret" not in resp.text and "Traceback" not in resp.text


def test_health_answers_503_when_the_node_is_gone(tmp_path: Path, anvil: Chain) -> None:
    from web3 import Web3

    dead = Web3(Web3.HTTPProvider("http://127.0.0.1:9", request_kwargs={"timeout": 1}))
    ledger = Ledger(w3=dead, manifest=anvil.manifest, settings=Settings(data_dir=tmp_path))
    with TestClient(create_app(ledger), raise_server_exceptions=False) as c:
        resp = c.get("/v1/health")
    assert resp.status_code == 503
    assert resp.json()["error"]["code"] == "chain_unavailable"


def test_a_setting_found_wrong_while_serving_answers_503_naming_no_internals(
    tmp_path: Path, anvil: Chain, caplog: pytest.LogCaptureFixture
) -> None:
    """`up`, `serve` and `worker` check the journal and index settings at start (tests/cli/test_storage_settings.py);
    an app whose ledger did not (or a setting that goes wrong later) answers 503, never 500, and logs why."""
    settings = Settings(data_dir=tmp_path, index_url="postgresql+nosuchdriver://ipledger:pw-4711@db.internal/index")
    ledger = Ledger(w3=anvil.w3, manifest=anvil.manifest, settings=settings)
    with TestClient(create_app(ledger, settings), raise_server_exceptions=False) as c:
        resp = c.get("/v1/index/evidence")
    assert resp.status_code == 503, resp.text
    assert resp.json()["error"]["code"] == "service_misconfigured"
    assert int(resp.headers["Retry-After"]) > 0  # as every 503
    assert "pw-4711" not in resp.text and "db.internal" not in resp.text and "nosuchdriver" not in resp.text
    logged = [r.getMessage() for r in caplog.records if r.name == "ipledger.api"]
    assert any("IPLEDGER_INDEX_URL" in m and "postgresql+nosuchdriver" in m for m in logged), logged
    assert not any("pw-4711" in m for m in logged), logged


def test_a_call_or_transaction_the_node_refuses_answers_503_not_500(client: TestClient) -> None:
    resp = client.get("/v1/_refused")
    assert resp.status_code == 503, resp.text
    assert resp.json()["error"]["code"] == "transaction_failed"
    assert "execution aborted" in resp.json()["error"]["message"]
    assert int(resp.headers["Retry-After"]) > 0
