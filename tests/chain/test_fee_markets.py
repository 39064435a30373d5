"""The ledger on the two fee markets a deployment meets (issue 14, "consortium layout kept true"): a zero-gas-price
permissioned chain (Besu QBFT with `zeroBaseFee` and a zero minimum gas price: no account holds or needs any ether)
and an EIP-1559 chain with a base fee (the rest of the suite runs on that one: anvil's default). anvil is configured
as the first here (`--base-fee 0 --gas-price 0 --disable-min-priority-fee`), and the whole path runs on it with
service keys that hold nothing: deployment, admission, a relayed registration, a batch, certificates that verify."""

from __future__ import annotations

import io
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account import Account
from fastapi.testclient import TestClient
from web3 import Web3

from api.app import create_app
from ledger.certificates.verify import Rpc, verify
from ledger.chain.deployment import deploy_suite
from ledger.chain.node import find_anvil, free_port
from ledger.chain.powers import dev_governance, dev_registrar
from ledger.chain.sender import TxSender
from ledger.config import Settings
from ledger.domain.hashing import HashAlgorithm, hash_bytes
from ledger.facade import Ledger
from tests.api.conftest import OPERATOR_TOKEN, Api
from tests.helpers import TEST_RECOVERY_DELAY, TEST_SUSPENSION_PERIOD, Chain, account


@pytest.fixture
def zero_gas_node() -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [str(find_anvil()), "--host", "127.0.0.1", "--port", str(port), "--base-fee", "0", "--gas-price", "0",
         "--disable-min-priority-fee", "--silent"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": 2})).is_connected():
                    break
            except Exception:  # noqa: BLE001 - not listening yet
                pass
            assert time.monotonic() < deadline, "anvil did not start"
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_everything_runs_on_a_zero_gas_price_chain_with_keys_that_hold_nothing(
    zero_gas_node: str, tmp_path: Path
) -> None:
    w3 = Web3(Web3.HTTPProvider(zero_gas_node))
    assert w3.eth.get_block("latest")["baseFeePerGas"] == 0
    operator = Account.create()  # a fresh relayer: no ether at all
    for key in (operator, dev_registrar(), dev_governance()):
        w3.provider.make_request("anvil_setBalance", [key.address, "0x0"])
    manifest = deploy_suite(
        TxSender(w3, operator),
        registrar=dev_registrar().address,
        governance=dev_governance().address,
        recovery_delay=TEST_RECOVERY_DELAY,
        suspension_period=TEST_SUSPENSION_PERIOD,
    )
    chain = Chain(
        name="zero-gas",
        w3=w3,
        operator=operator,
        manifest=manifest,
        snapshot_fn=lambda: None,
        revert_fn=lambda _s: None,
        funder=w3.eth.accounts[0],
        node_url=zero_gas_node,
    )
    settings = Settings(
        data_dir=tmp_path / "data", operator_token=OPERATOR_TOKEN, confirmations=1, final_after=0,
        public_url="http://127.0.0.1:8000",
    )  # fmt: skip
    ledger = Ledger(
        w3=w3,
        manifest=manifest,
        settings=settings,
        relayer=TxSender(w3, operator),
        registrar=TxSender(w3, dev_registrar()),
        governance=TxSender(w3, dev_governance()),
    )
    with TestClient(create_app(ledger, settings, run_pipeline=False), raise_server_exceptions=False) as client:
        api = Api(client, ledger, chain)
        firm = account("zero-gas-firm")
        api.admit(firm, "91110108551385082Q")
        doc, files = b"zero-gas drawing", [b"a", b"b", b"c"]
        single = client.post("/v1/evidence", json=api.single_body(firm, hash_bytes(doc, HashAlgorithm.SHA256)))
        assert single.status_code == 202, single.text
        batch = client.post(
            "/v1/evidence/batch", json=api.batch_body(firm, [hash_bytes(f, HashAlgorithm.SHA256) for f in files])
        )
        assert batch.status_code == 202, batch.text
        assert ledger.pipeline.drain()
        w3.provider.make_request("evm_mine", [])
        ledger.pipeline.step()
        for content in (doc, files[1]):
            cert = client.get(f"/v1/evidence/0x{hash_bytes(content, HashAlgorithm.SHA256).hex()}/certificate")
            assert cert.status_code == 200, cert.text
            report = verify(cert.json(), Rpc.from_web3(w3), file=io.BytesIO(content))
            assert report.passed, report.to_json()
        receipt = w3.eth.get_transaction_receipt(cert.json()["anchor"]["transactionHash"])
        assert receipt["effectiveGasPrice"] == 0
    ledger.close()
    assert w3.eth.get_balance(operator.address) == 0  # nothing was ever paid
