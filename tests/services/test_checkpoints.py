"""Checkpoints on a public chain, with two local nodes: the session anvil as the consortium chain and a second
anvil (chain id 31338) as the public stand-in (docs/operations.md "Checkpoints on a public chain").

The checkpoint writer is stepped by hand (the background task of `ipledger up` calls the same ``step``); its clock
is the test's, so that no test waits for wall-clock time."""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient
from web3 import Web3

from api.app import create_app
from ledger.certificates.verify import Rpc, verify
from ledger.chain.deployment import Manifest, manifest_path
from ledger.chain.node import free_port
from ledger.config import Settings
from ledger.domain.hashing import hash_bytes
from ledger.facade import Ledger
from tests.anchor_node import PUBLIC_CHAIN_ID, PublicNode
from tests.api.conftest import OPERATOR_TOKEN, Api
from tests.helpers import Chain, account, cli_env, make_uscc, run_cli


@pytest.fixture
def public() -> Iterator[PublicNode]:
    node = PublicNode(free_port()).start()
    try:
        yield node
    finally:
        node.stop()


class Clock:
    def __init__(self) -> None:
        self.now = 1_900_000_000.0

    def __call__(self) -> float:
        return self.now


def _ledger(anvil: Chain, tmp_path: Path, url: str) -> tuple[Ledger, Settings]:
    settings = Settings(
        data_dir=tmp_path / "data",
        operator_token=OPERATOR_TOKEN,
        confirmations=1,
        final_after=0,
        public_url="http://127.0.0.1:8000",
        anchor_rpc_url=url,
        anchor_confirmations=3,
        checkpoint_interval=60,
    )
    # a copy of the session's manifest: the anchors this test adds stay in this test
    manifest = dataclasses.replace(anvil.manifest, anchors={})
    manifest.save(manifest_path(settings.data_dir, manifest.chain_id))
    ledger = Ledger(
        w3=anvil.w3,
        manifest=manifest,
        settings=settings,
        relayer=anvil.sender,
        registrar=anvil.registrar_sender,
        governance=anvil.governance_sender,
    )
    return ledger, settings


@pytest.fixture
def anchor_key(public: PublicNode) -> LocalAccount:
    key = account("checkpoint-anchor")
    public.w3.provider.make_request("anvil_setBalance", [key.address, hex(10**20)])  # type: ignore[arg-type]
    return key


def _api(anvil: Chain, tmp_path: Path, url: str, key: LocalAccount) -> Iterator[Api]:
    ledger, settings = _ledger(anvil, tmp_path, url)
    ledger.anchor_account = key
    clock = Clock()
    ledger.checkpoints.clock = clock
    app = create_app(ledger, settings, run_pipeline=False)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Api(client, ledger, anvil)
    ledger.close()


@pytest.fixture
def capi(anvil: Chain, tmp_path: Path, public: PublicNode, anchor_key: LocalAccount) -> Iterator[Api]:
    yield from _api(anvil, tmp_path, public.url, anchor_key)


def _register(api: Api, firm: LocalAccount, content: bytes) -> str:
    resp = api.client.post("/v1/evidence", json=api.single_body(firm, hash_bytes(content, 1)))
    assert resp.status_code == 202, resp.text
    assert api.ledger.pipeline.drain()
    return "0x" + hash_bytes(content, 1).hex()


def _batch(api: Api, firm: LocalAccount, contents: list[bytes]) -> str:
    resp = api.client.post("/v1/evidence/batch", json=api.batch_body(firm, [hash_bytes(c, 1) for c in contents]))
    assert resp.status_code == 202, resp.text
    assert api.ledger.pipeline.drain()
    api.chain.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    api.ledger.pipeline.step()
    return "0x" + hash_bytes(contents[0], 1).hex()


def _certificate(api: Api, key: str) -> dict[str, Any]:
    resp = api.client.get(f"/v1/evidence/{key}/certificate")
    assert resp.status_code == 200, resp.text
    return resp.json()  # type: ignore[no-any-return]


def _checkpoint_until_final(api: Api, public: PublicNode) -> None:
    api.chain.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type] - the record one block deep
    cp = api.ledger.checkpoints
    cp.step()  # deploys, plans and sends
    cp.step()  # recorded
    public.mine(3)
    cp.step()  # final
    assert [a["lastError"] for a in cp.status()] == [None]


def _verify(api: Api, doc: dict[str, Any], public: PublicNode | None) -> Any:
    anchors = {PUBLIC_CHAIN_ID: Rpc.from_web3(public.w3)} if public is not None else {}
    return verify(doc, Rpc.from_web3(api.chain.w3), anchors=anchors)


def _failed(report: Any) -> set[str]:
    return {c.name for c in report.checks if c.status == "failed"}


def test_a_checkpoint_covers_direct_and_batched_records_and_their_certificates_verify_on_both_chains(
    capi: Api, public: PublicNode, tmp_path: Path
) -> None:
    firm = account("checkpoint-firm")
    capi.admit(firm, make_uscc("checkpoint-1"))
    direct = _register(capi, firm, b"checkpointed drawing\n")
    batched = _batch(capi, firm, [b"checkpointed item 1\n", b"checkpointed item 2\n"])
    assert "checkpoint" not in _certificate(capi, direct)  # no checkpoint yet: the certificate is as before
    _checkpoint_until_final(capi, public)

    manifest = Manifest.load(manifest_path(capi.ledger.settings.data_dir, capi.ledger.manifest.chain_id))
    assert set(manifest.anchors) == {str(PUBLIC_CHAIN_ID)}  # the address book records the public contract
    for key in (direct, batched):
        doc = _certificate(capi, key)
        (entry,) = doc["checkpoint"]
        assert entry["chainId"] == PUBLIC_CHAIN_ID and entry["contract"] == manifest.anchors["31338"]["address"]
        report = _verify(capi, doc, public)
        assert report.passed, report.to_json()
        names = [c.name for c in report.checks if c.name.startswith("checkpoint")]
        assert names == ["checkpoint-proof", "checkpoint-consortium", "checkpoint-anchor"]
        assert report.assurance.level == "public" and report.assurance.anchors[0]["confirmations"] >= 3
        assert f"anchored on public chain {PUBLIC_CHAIN_ID}" in report.assurance.detail

        # without the public chain the certificate is still valid, at the consortium's word alone
        alone = _verify(capi, doc, None)
        assert alone.passed and alone.assurance.level == "consortium"
        assert [c.status for c in alone.checks if c.name == "checkpoint-anchor"] == ["skipped"]

    # the API verifies against the public chains it is configured with
    resp = capi.client.post("/v1/verify", json={"certificate": _certificate(capi, direct)})
    assert resp.status_code == 200 and resp.json()["assurance"]["level"] == "public", resp.text

    # `ipledger verify --anchor-rpc-url` checks it against the public chain and says so
    cert = tmp_path / "certificate.json"
    cert.write_text(json.dumps(_certificate(capi, batched)), encoding="utf-8")
    args = ["verify", str(cert), "--rpc-url", capi.chain.node_url]
    out = run_cli(*args, "--anchor-rpc-url", public.url, env=cli_env())
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"ASSURANCE: public chain (anchored on public chain {PUBLIC_CHAIN_ID} at block" in out.stdout
    out = run_cli(*args, "--json", env=cli_env())
    report = json.loads(out.stdout)
    assert out.returncode == 0 and report["assurance"]["level"] == "consortium", out.stdout


@pytest.mark.parametrize(
    ("what", "change", "fails"),
    [
        ("proof path", lambda e: e["proof"]["path"].__setitem__(0, "0x" + "00" * 32), {"checkpoint-proof"}),
        ("root", lambda e: e.__setitem__("root", "0x" + "11" * 32), {"checkpoint-proof", "checkpoint-anchor"}),
        (
            "consortium block hash",
            lambda e: e.__setitem__("consortiumBlockHash", "0x" + "22" * 32),
            {"checkpoint-consortium", "checkpoint-anchor"},
        ),
        ("range", lambda e: e.__setitem__("toBlock", e["fromBlock"]), {"checkpoint-consortium", "checkpoint-anchor"}),
    ],
)
def test_a_tampered_checkpoint_is_refused(
    capi: Api, public: PublicNode, what: str, change: Any, fails: set[str]
) -> None:
    firm = account("checkpoint-firm-2")
    capi.admit(firm, make_uscc("checkpoint-2"))
    _register(capi, firm, b"first of two\n")
    key = _register(capi, firm, b"second of two\n")
    _checkpoint_until_final(capi, public)
    doc = copy.deepcopy(_certificate(capi, key))
    change(doc["checkpoint"][0])
    report = _verify(capi, doc, public)
    assert not report.passed and _failed(report) >= fails, (what, report.to_json())
    assert report.assurance.level == "none"


def test_a_public_reorganisation_below_the_confirmations_makes_the_checkpoint_go_again(
    capi: Api, public: PublicNode
) -> None:
    cp = capi.ledger.checkpoints
    cp.step()  # nothing to checkpoint yet: deploys the contract only
    assert cp.store.last(PUBLIC_CHAIN_ID) is None and cp.status()[0]["contract"] is not None
    before = public.w3.provider.make_request("evm_snapshot", [])["result"]  # type: ignore[arg-type]
    firm = account("checkpoint-firm-3")
    capi.admit(firm, make_uscc("checkpoint-3"))
    key = _register(capi, firm, b"reorganised away\n")
    capi.chain.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    cp.step()  # planned and sent
    cp.step()  # recorded
    recorded = cp.store.last(PUBLIC_CHAIN_ID)
    assert recorded is not None and recorded.state == "recorded" and recorded.resent == 0
    # the public chain drops the checkpoint's block (2 blocks deep, below the 3 confirmations) and grows another
    public.mine(1)
    public.w3.provider.make_request("evm_revert", [before])  # type: ignore[arg-type]
    public.mine(1)
    cp.step()
    again = cp.store.last(PUBLIC_CHAIN_ID)
    assert again is not None and again.resent == 1 and again.state in ("sent", "recorded"), again
    cp.step()
    public.mine(3)
    cp.step()
    final = cp.store.last(PUBLIC_CHAIN_ID)
    assert final is not None and final.state == "final"
    doc = _certificate(capi, key)
    report = _verify(capi, doc, public)
    assert report.passed and report.assurance.level == "public", report.to_json()
    abi = [
        {"type": "function", "name": "count", "inputs": [], "outputs": [{"type": "uint256"}], "stateMutability": "view"}
    ]
    contract = public.w3.eth.contract(address=Web3.to_checksum_address(doc["checkpoint"][0]["contract"]), abi=abi)
    assert contract.functions.count().call() == 1  # recorded once, not twice


def test_an_unavailable_public_chain_leaves_the_ledger_working_and_checkpoints_catch_up(
    anvil: Chain, tmp_path: Path
) -> None:
    port = free_port()
    key = account("checkpoint-anchor")
    for capi in _api(anvil, tmp_path, f"http://operator:s3cret@127.0.0.1:{port}", key):
        firm = account("checkpoint-firm-4")
        capi.admit(firm, make_uscc("checkpoint-4"))
        key_hash = _register(capi, firm, b"while the public chain is down\n")
        capi.chain.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
        cp = capi.ledger.checkpoints
        cp.step()
        (status,) = cp.status()
        assert status["lastError"] is not None and status["lastCheckpoint"] is None
        assert "s3cret" not in str(status)  # no credentials of the endpoint in the status
        assert "checkpoint" not in _certificate(capi, key_hash)  # the ledger keeps working
        later = _register(capi, firm, b"still registering\n")

        node = PublicNode(port).start()  # the public chain comes back
        try:
            node.w3.provider.make_request("anvil_setBalance", [key.address, hex(10**20)])  # type: ignore[arg-type]
            _checkpoint_until_final(capi, node)
            for h in (key_hash, later):
                report = _verify(capi, _certificate(capi, h), node)
                assert report.passed and report.assurance.level == "public", report.to_json()
        finally:
            node.stop()


def test_a_checkpoint_sent_before_a_crash_is_found_on_chain_not_recorded_twice(capi: Api, public: PublicNode) -> None:
    firm = account("checkpoint-firm-5")
    capi.admit(firm, make_uscc("checkpoint-5"))
    key = _register(capi, firm, b"sent, then the service crashed\n")
    capi.chain.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    cp = capi.ledger.checkpoints
    cp.step()  # planned and sent (automine: already on chain)
    sent = cp.store.last(PUBLIC_CHAIN_ID)
    assert sent is not None and sent.state == "sent"
    # the crash: the store lost the transaction (as if it died between the broadcast and writing it down)
    cp.store.mark_dropped(PUBLIC_CHAIN_ID, sent.index)
    restarted = type(cp)(capi.ledger.connection, cp.store, capi.ledger.settings, cp.account, clock=cp.clock)
    restarted.step()
    found = cp.store.last(PUBLIC_CHAIN_ID)
    assert found is not None and found.state in ("recorded", "final") and found.tx_hash == sent.tx_hash
    assert restarted.anchors[0].contract.functions.count().call() == 1
    public.mine(3)
    restarted.step()
    capi.ledger.certificates.checkpoints = restarted
    report = _verify(capi, _certificate(capi, key), public)
    assert report.passed and report.assurance.level == "public", report.to_json()


def test_a_long_stretch_is_caught_up_in_contiguous_checkpoints_of_at_most_the_configured_blocks(
    anvil: Chain, tmp_path: Path, public: PublicNode, anchor_key: LocalAccount
) -> None:
    ledger, settings = _ledger(anvil, tmp_path, public.url)
    for _ in range(8):
        anvil.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    # about four checkpoints from the registry's deployment to the head, whatever the session's chain holds
    first = anvil.manifest.contracts["EvidenceRegistry"].deploy_block
    most = max(2, (int(anvil.w3.eth.block_number) - first) // 4)
    settings = settings.model_copy(update={"checkpoint_max_blocks": most, "anchor_confirmations": 0})
    ledger.settings = settings
    ledger.anchor_account = anchor_key
    clock = Clock()
    ledger.checkpoints.clock = clock
    app = create_app(ledger, settings, run_pipeline=False)
    with TestClient(app, raise_server_exceptions=False) as client:
        api = Api(client, ledger, anvil)
        firm = account("checkpoint-firm-6")
        api.admit(firm, make_uscc("checkpoint-6"))
        key = _register(api, firm, b"caught up in several checkpoints\n")
        for _ in range(most + 2):
            api.chain.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
        cp = ledger.checkpoints
        head = int(anvil.w3.eth.block_number) - settings.confirmations
        for _ in range(2 * ((head - first) // most + 3)):  # each pass writes at most one checkpoint
            clock.now += settings.checkpoint_interval
            cp.step()
            cp.step()
        rows = sorted(cp.store.all(PUBLIC_CHAIN_ID, limit=1000), key=lambda r: r.index)
        assert rows[0].from_block == first
        assert all(b.from_block == a.to_block + 1 for a, b in zip(rows, rows[1:], strict=False))
        assert all(r.to_block - r.from_block + 1 <= most for r in rows) and len(rows) >= 3
        # what is left is a quiet stretch shorter than `most` blocks: not written until a record or a whole stretch
        assert head - most < rows[-1].to_block <= head
        assert all(r.state == "final" for r in rows)
        report = _verify(api, _certificate(api, key), public)
        assert report.passed and report.assurance.level == "public", report.to_json()
    ledger.close()


def test_an_endpoints_credentials_path_and_query_never_reach_the_status() -> None:
    from ledger.services.checkpoints import scrub_endpoint

    url = "https://user:pw-123@rpc.example/v3/KEY-abc?apikey=Q-9"
    text = f"ChainUnavailable: the node at {url} does not answer (https://rpc.example/v3/KEY-abc)"
    scrubbed = scrub_endpoint(text, url)
    assert not any(s in scrubbed for s in ("pw-123", "KEY-abc", "Q-9")), scrubbed


def test_two_public_chains_each_get_their_checkpoint_and_the_certificate_carries_both(
    anvil: Chain, tmp_path: Path, public: PublicNode, anchor_key: LocalAccount
) -> None:
    second = PublicNode(free_port(), chain_id=PUBLIC_CHAIN_ID + 1).start()
    try:
        second.w3.provider.make_request("anvil_setBalance", [anchor_key.address, hex(10**20)])  # type: ignore[arg-type]
        for api in _api(anvil, tmp_path, f"{public.url}, {second.url}", anchor_key):
            firm = account("checkpoint-firm-7")
            api.admit(firm, make_uscc("checkpoint-7"))
            key = _register(api, firm, b"anchored on two public chains\n")
            api.chain.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
            cp = api.ledger.checkpoints
            cp.step()
            cp.step()
            public.mine(3)
            second.mine(3)
            cp.step()
            assert [s["lastError"] for s in cp.status()] == [None, None]
            doc = _certificate(api, key)
            assert [e["chainId"] for e in doc["checkpoint"]] == [PUBLIC_CHAIN_ID, PUBLIC_CHAIN_ID + 1]
            both = verify(
                doc,
                Rpc.from_web3(anvil.w3),
                anchors={PUBLIC_CHAIN_ID: Rpc.from_web3(public.w3), PUBLIC_CHAIN_ID + 1: Rpc.from_web3(second.w3)},
            )
            assert both.passed and [a["chainId"] for a in both.assurance.anchors] == [31338, 31339]
            one = _verify(api, doc, public)  # the second chain's check is skipped, the first reached
            assert one.passed and [a["chainId"] for a in one.assurance.anchors] == [31338]
            skipped = [c for c in one.checks if c.name == "checkpoint-anchor" and c.status == "skipped"]
            assert len(skipped) == 1 and "31339" in skipped[0].detail
    finally:
        second.stop()
