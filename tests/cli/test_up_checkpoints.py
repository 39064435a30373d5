"""`ipledger up` with IPLEDGER_ANCHOR_RPC_URL: the checkpoint contract is deployed on the public chain (a second
anvil) on first use and recorded in the deployment manifest, the background task checkpoints a registration, the
service's certificate carries the checkpoint, and `ipledger verify --anchor-rpc-url` checks it on both chains."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from eth_account import Account
from web3 import Web3

from ledger.chain.artifacts import load_artifact
from ledger.chain.deployment import Manifest
from ledger.chain.node import free_port
from ledger.domain.hashing import hash_bytes, public_binding
from ledger.storage.keys import write_keystore
from tests.anchor_node import PUBLIC_CHAIN_ID, PublicNode
from tests.helpers import cli_env, run_cli

PASSWORD = "anchor-keystore-password"


@pytest.fixture
def public() -> Iterator[PublicNode]:
    node = PublicNode(free_port()).start()
    try:
        yield node
    finally:
        node.stop()


def _wait(what: str, check, timeout: float = 60):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def test_up_deploys_the_checkpoint_contract_on_first_use_and_checkpoints_in_the_background(
    up, public: PublicNode, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    anchor = Account.create()
    keystore = write_keystore(tmp_path / "anchor.json", anchor, PASSWORD, kdf="pbkdf2")
    public.w3.provider.make_request("anvil_setBalance", [anchor.address, hex(10**20)])  # type: ignore[arg-type]
    p = up(
        env={
            "IPLEDGER_ANCHOR_RPC_URL": public.url,
            "IPLEDGER_ANCHOR_KEYSTORE": str(keystore),
            "IPLEDGER_ANCHOR_KEYSTORE_PASSWORD": PASSWORD,
            "IPLEDGER_CHECKPOINT_INTERVAL": "1",
            "IPLEDGER_ANCHOR_CONFIRMATIONS": "1",
        }
    )
    p.wait_healthy()
    manifest_file = p.data_dir / "deployments" / "31337.json"
    anchors = _wait("the checkpoint contract", lambda: Manifest.load(manifest_file).anchors)
    record = anchors[str(PUBLIC_CHAIN_ID)]
    assert record["writer"] == anchor.address and public.w3.eth.get_code(record["address"])
    assert "checkpoints every 1 s to 1 public chain(s)" in p.output()

    # a firm registers directly from its own account; the background task checkpoints it
    firm = p.admit_firm("Qianhai Checkpoint Firm")
    w3 = Web3(Web3.HTTPProvider(f"http://127.0.0.1:{p.node_port}"))
    w3.eth.send_transaction({"from": w3.eth.accounts[2], "to": firm.address, "value": 10**18})
    manifest = Manifest.load(manifest_file)
    content = hash_bytes(b"registered while up anchors\n", 1)
    party = httpx.get(f"{p.api}/v1/accounts/{firm.address}", timeout=10)
    registry = w3.eth.contract(
        address=Web3.to_checksum_address(manifest.address("EvidenceRegistry")),
        abi=load_artifact("EvidenceRegistry")["abi"],
    )
    assert party.status_code == 200, party.text
    binding = public_binding(content, int(party.json()["partyId"]), 1)
    tx = registry.functions.register((binding, 1, b"\0" * 32, b"\0" * 32)).build_transaction(
        {"from": firm.address, "nonce": w3.eth.get_transaction_count(firm.address), "chainId": 31337}
    )
    sent = w3.eth.send_raw_transaction(firm.sign_transaction(tx).raw_transaction)
    assert w3.eth.wait_for_transaction_receipt(sent)["status"] == 1

    def certificate() -> dict | None:  # type: ignore[type-arg]
        resp = httpx.get(f"{p.api}/v1/evidence/0x{content.hex()}/certificate", timeout=10)
        return resp.json() if resp.status_code == 200 and "checkpoint" in resp.json() else None

    doc = _wait("a certificate with its checkpoint", certificate)
    assert doc["checkpoint"][0]["contract"] == record["address"]
    (status,) = httpx.get(f"{p.api}/v1/health", timeout=10).json()["checkpoints"]
    assert status["chainId"] == PUBLIC_CHAIN_ID and status["lastError"] is None, status
    assert status["lastCheckpoint"]["state"] == "final" and status["contract"] == record["address"]
    cert = tmp_path / "certificate.json"
    cert.write_text(json.dumps(doc), encoding="utf-8")
    out = run_cli(
        "verify",
        str(cert),
        "--rpc-url",
        f"http://127.0.0.1:{p.node_port}",
        "--anchor-rpc-url",
        public.url,
        "--json",
        env=cli_env(),
    )
    report = json.loads(out.stdout)
    assert out.returncode == 0 and report["assurance"]["level"] == "public", out.stdout + out.stderr
    assert p.interrupt() == 0


def test_up_refuses_checkpoints_without_the_anchor_key(tmp_path: Path) -> None:
    out = run_cli(
        "up",
        "--data-dir",
        str(tmp_path / "data"),
        "--port",
        str(free_port()),
        "--node-port",
        str(free_port()),
        env=cli_env(IPLEDGER_ANCHOR_RPC_URL=f"http://127.0.0.1:{free_port()}", IPLEDGER_NODE_BLOCK_TIME="0"),
        timeout=120,
    )
    assert out.returncode != 0 and "Traceback" not in out.stderr, out.stdout + out.stderr
    assert "IPLEDGER_ANCHOR_KEYSTORE" in out.stdout + out.stderr


def test_up_refuses_the_relayers_key_as_the_anchor_key(tmp_path: Path) -> None:
    from ledger.facade import dev_operator

    keystore = write_keystore(tmp_path / "relayer.json", dev_operator(), PASSWORD, kdf="pbkdf2")
    out = run_cli(
        "up",
        "--data-dir",
        str(tmp_path / "data"),
        "--port",
        str(free_port()),
        "--node-port",
        str(free_port()),
        env=cli_env(
            IPLEDGER_ANCHOR_RPC_URL=f"http://127.0.0.1:{free_port()}",
            IPLEDGER_ANCHOR_KEYSTORE=str(keystore),
            IPLEDGER_ANCHOR_KEYSTORE_PASSWORD=PASSWORD,
            IPLEDGER_NODE_BLOCK_TIME="0",
        ),
        timeout=120,
    )
    assert out.returncode != 0 and "Traceback" not in out.stderr, out.stdout + out.stderr
    assert "must be its own key" in out.stdout + out.stderr
