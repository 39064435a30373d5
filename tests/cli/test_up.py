"""`ipledger up` and `ipledger node`: the embedded chain, first deployment, reuse, and crash survival."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from web3 import Web3

from ledger.chain.node import free_port
from tests.helpers import IPLEDGER, run_cli


def test_up_serves_health_and_ctrl_c_stops_everything(up) -> None:  # type: ignore[no-untyped-def]
    p = up()
    health = p.wait_healthy()
    assert health["chainId"] == 31337
    anvil = p.anvil_pid()
    assert p.interrupt() == 0
    time.sleep(0.5)
    assert subprocess.run(["kill", "-0", str(anvil)], capture_output=True).returncode != 0, "the node kept running"
    assert (p.data_dir / "chain" / "state.json.gz").exists()
    assert not (p.data_dir / "ipledger.lock").read_text(), "the lock file still names a stopped process"


def test_up_keeps_the_event_index_current_in_the_background(up) -> None:  # type: ignore[no-untyped-def]
    p = up(env={"IPLEDGER_CONFIRMATIONS": "0", "IPLEDGER_INDEX_POLL": "0.2"})
    p.wait_healthy()
    w3 = Web3(Web3.HTTPProvider(f"http://127.0.0.1:{p.node_port}"))
    w3.eth.send_transaction({"from": w3.eth.accounts[2], "to": w3.eth.accounts[3], "value": 1})
    head = w3.eth.block_number
    deadline, status = time.monotonic() + 30, {}
    while time.monotonic() < deadline:
        status = httpx.get(p.api + "/v1/index/status", timeout=5).json()
        if status.get("lastBlock") is not None and status["lastBlock"] >= head:
            break
        time.sleep(0.2)
    assert status["running"] is True and status["lastBlock"] >= head, status
    assert (p.data_dir / "index.sqlite3").exists()
    assert p.interrupt() == 0


@pytest.mark.slow
def test_after_kill_9_of_the_node_the_deployment_blocks_and_receipts_survive(up) -> None:  # type: ignore[no-untyped-def]
    p = up()
    first = p.wait_healthy()
    w3 = Web3(Web3.HTTPProvider(f"http://127.0.0.1:{p.node_port}"))
    tx = w3.eth.send_transaction({"from": w3.eth.accounts[2], "to": w3.eth.accounts[3], "value": 12345})
    receipt = w3.eth.wait_for_transaction_receipt(tx)
    time.sleep(2.5)  # past the 1 s state interval
    os.kill(p.anvil_pid(), signal.SIGKILL)
    p.kill_all()

    q = up()
    second = q.wait_healthy()
    assert second["contracts"] == first["contracts"], "the deployment was not reused"
    manifest = json.loads((q.data_dir / "deployments" / "31337.json").read_text())
    assert manifest["contracts"]["EvidenceRegistry"]["address"] == first["contracts"]["EvidenceRegistry"]
    w3 = Web3(Web3.HTTPProvider(f"http://127.0.0.1:{q.node_port}"))
    again = w3.eth.get_transaction_receipt(tx)
    assert again["blockHash"] == receipt["blockHash"]
    assert w3.eth.get_block(receipt["blockNumber"])["hash"] == receipt["blockHash"]
    assert w3.eth.get_code(first["contracts"]["EvidenceRegistry"]) != b""
    q.interrupt()


def test_up_refuses_a_port_in_use(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        out = run_cli("up", "--data-dir", str(tmp_path / "d"), "--port", str(port))
    assert out.returncode == 1
    assert out.stderr.strip().startswith("error:") and f"port {port}" in out.stderr
    assert "Traceback" not in out.stderr
    assert not (tmp_path / "d" / "chain").exists(), "nothing should be started or written"


def test_up_refuses_a_data_dir_that_is_not_writable(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    out = run_cli("up", "--data-dir", str(blocker / "data"), "--port", str(free_port()))
    assert out.returncode == 1
    assert "not writable" in out.stderr and "Traceback" not in out.stderr


def test_up_refuses_an_unreachable_rpc_url(tmp_path: Path) -> None:
    out = run_cli(
        "up",
        "--data-dir",
        str(tmp_path),
        "--rpc-url",
        "http://user:pw@127.0.0.1:9/x?key=secret",
        "--port",
        str(free_port()),
    )
    assert out.returncode == 1
    assert "no EVM JSON-RPC node answers at http://127.0.0.1:9/x" in out.stderr
    assert "secret" not in out.stderr and "pw" not in out.stderr and "Traceback" not in out.stderr


def test_node_listens_where_host_says_and_sigterm_writes_the_state(tmp_path: Path) -> None:
    """`ipledger node --host 0.0.0.0` (the compose `node` service) answers on a non-loopback address of this
    machine, and SIGTERM (what `docker compose stop` sends) stops it after writing the state."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect(("192.0.2.1", 9))  # no packet is sent: this only picks the address of the outgoing interface
        address = s.getsockname()[0]
    if address.startswith("127."):
        pytest.skip("this machine has no non-loopback IPv4 address")
    port = free_port()
    proc = subprocess.Popen(
        [IPLEDGER, "node", "--data-dir", str(tmp_path / "d"), "--host", "0.0.0.0", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        w3 = Web3(Web3.HTTPProvider(f"http://{address}:{port}", request_kwargs={"timeout": 2}))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                assert w3.eth.chain_id == 31337
                break
            except Exception:
                time.sleep(0.3)
        else:
            pytest.fail(f"the node did not answer on {address}:{port}: {proc.stderr.read() if proc.stderr else ''}")
        w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "listening on 0.0.0.0" in out and "node stopped; state written" in out
    assert (tmp_path / "d" / "chain" / "state.json.gz").stat().st_size > 0


def test_node_refuses_a_host_that_is_not_an_address(tmp_path: Path) -> None:
    out = run_cli("node", "--data-dir", str(tmp_path / "d"), "--host", "everywhere", "--port", str(free_port()))
    assert out.returncode == 1
    assert out.stderr.strip() == "error: --host / IPLEDGER_NODE_HOST must be an IP address, not 'everywhere'"
    assert not (tmp_path / "d" / "chain").exists()
