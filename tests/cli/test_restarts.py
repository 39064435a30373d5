"""`ipledger up` for months: restart cycles (clean and SIGKILL) keep one chain, its deployment and everything
acknowledged; an idle service mines and writes nothing; a second instance on the data directory is refused; the
node supervisor waits out a busy port; `/v1/health` answers in time with the node stopped."""

from __future__ import annotations

import os
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from web3 import Web3

from ledger.chain.artifacts import load_artifact
from ledger.domain import eip712
from ledger.domain.evidence import sign_batch
from tests.cli.conftest import UpProcess

ENV = {"IPLEDGER_BATCH_INTERVAL": "0.3", "IPLEDGER_FINAL_AFTER": "2"}


def node_rpc(p: UpProcess, method: str, params: list[Any]) -> Any:
    r = httpx.post(
        f"http://127.0.0.1:{p.node_port}",
        json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params},
        timeout=10,
    )
    return r.json()["result"]


def admit(p: UpProcess) -> Any:
    return p.admit_firm("Restart Test Ltd")


def register_batch(p: UpProcess, firm: Any, n: int = 3) -> tuple[str, list[bytes]]:
    d = httpx.get(p.api + "/v1/signing-domain", timeout=10).json()
    hashes = [os.urandom(32) for _ in range(n)]
    req = sign_batch(
        firm,
        eip712.Domain(d["chainId"], d["verifyingContract"]),
        bindings=hashes,
        algorithm=1,
        deadline=int(time.time()) + 3600,
    )
    body = {
        "algorithm": "sha256",
        "bindings": ["0x" + x.hex() for x in hashes],
        "partyId": 1,
        "registrant": firm.address,
        "deadline": req.deadline,
        "signature": "0x" + req.signature.hex(),
    }
    resp = httpx.post(p.api + "/v1/evidence/batch", json=body, timeout=30)
    assert resp.status_code == 202, resp.text
    return resp.json()["receiptId"], hashes


def wait_dumped(p: UpProcess, timeout: float = 20) -> dict[str, Any]:
    """Waits until the state file on disk holds the node's head; returns the health answer."""
    deadline = time.monotonic() + timeout
    while True:
        health = httpx.get(p.api + "/v1/health", timeout=5).json()
        dump = health["node"]["stateFile"]
        if dump is not None and dump["block"] == health["latestBlock"]:
            return health
        assert time.monotonic() < deadline, health
        time.sleep(0.2)


def wait_final(p: UpProcess, receipts: list[str], timeout: float = 90) -> None:
    deadline, pending = time.monotonic() + timeout, set(receipts)
    while pending and time.monotonic() < deadline:
        for r in list(pending):
            if httpx.get(f"{p.api}/v1/receipts/{r}", timeout=5).json().get("status") == "final":
                pending.discard(r)
        time.sleep(0.3)
    assert not pending, f"not final: {sorted(pending)[:5]}"


@pytest.mark.slow
def test_restart_cycles_clean_and_killed_keep_the_chain_deployment_every_dumped_block_and_everything_acknowledged(
    up,
) -> None:  # type: ignore[no-untyped-def]
    first: dict[str, Any] = {}
    genesis = None
    dumped: list[tuple[int, str]] = []  # (block, hash) on disk before each stop
    receipts: dict[str, list[bytes]] = {}
    firm = None
    # six cycles cover each kind of stop twice; tests/faults runs ten under load with the chain-side accounting
    for cycle in range(6):
        p = up(env=ENV)
        health = p.wait_healthy()
        block0 = node_rpc(p, "eth_getBlockByNumber", ["0x0", False])["hash"]
        if cycle == 0:
            first, genesis, firm = health, block0, admit(p)
        assert health["contracts"] == first["contracts"], f"cycle {cycle}: the deployment changed"
        assert block0 == genesis, f"cycle {cycle}: the genesis block changed"
        for number, block_hash in dumped:
            assert node_rpc(p, "eth_getBlockByNumber", [hex(number), False])["hash"] == block_hash, (
                f"cycle {cycle}: lost block {number}"
            )
        receipt, hashes = register_batch(p, firm)
        receipts[receipt] = hashes
        if cycle % 3 == 2:  # killed right after the acknowledgement: it may be on disk in the journal only
            p.kill_all()
            continue
        health = wait_dumped(p)
        dumped.append((health["node"]["stateFile"]["block"], health["node"]["stateFile"]["blockHash"]))
        if cycle % 3 == 1:  # SIGKILL of the whole process group, the node with it (parent-death signal)
            p.kill_all()
        else:
            assert p.interrupt() == 0, p.output()

    p = up(env=ENV)
    p.wait_healthy()
    wait_final(p, list(receipts))
    for receipt, hashes in receipts.items():  # every acknowledged hash, final, under its receipt
        for content in hashes:
            body = httpx.get(f"{p.api}/v1/evidence/0x{content.hex()}", timeout=10).json()
            assert body["status"] == "final" and body["receiptId"] == receipt, body
    w3 = Web3(Web3.HTTPProvider(f"http://127.0.0.1:{p.node_port}"))
    evidence = w3.eth.contract(
        address=first["contracts"]["EvidenceRegistry"], abi=load_artifact("EvidenceRegistry")["abi"]
    )
    roots = [bytes(log["args"]["root"]) for log in evidence.events.BatchAnchored().get_logs(from_block=0)]
    assert len(roots) == len(set(roots)) >= len(receipts), "a batch was anchored twice"
    assert p.interrupt() == 0


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UpProcess]:
    p = UpProcess(tmp_path_factory.mktemp("restarts") / "data", env=ENV)
    try:
        p.wait_healthy()
        yield p
    finally:
        if p.proc.poll() is None:
            p.kill_all()


def test_an_idle_service_mines_nothing_and_writes_no_state(running: UpProcess) -> None:
    health = wait_dumped(running)
    state = running.data_dir / "chain" / "state.json.gz"
    stat, log_size = state.stat(), (running.data_dir / "chain" / "anvil.log").stat().st_size
    time.sleep(4)
    again = httpx.get(running.api + "/v1/health", timeout=5).json()
    assert again["latestBlock"] == health["latestBlock"], "an idle node mined blocks"
    after = state.stat()
    assert (after.st_mtime_ns, after.st_size, after.st_ino) == (stat.st_mtime_ns, stat.st_size, stat.st_ino)
    assert (running.data_dir / "chain" / "anvil.log").stat().st_size == log_size, "the node log grows while idle"


def test_a_second_instance_on_the_data_directory_is_refused_naming_the_first(
    running: UpProcess, tmp_path: Path
) -> None:
    before = running.anvil_pid()
    second = UpProcess(running.data_dir, env=ENV)
    try:
        code = second.proc.wait(timeout=30)
    finally:
        if second.proc.poll() is None:
            second.kill_all()
    out = second.output()
    assert code == 1, out
    assert f"in use by process {running.proc.pid} (ipledger up)" in out and "Traceback" not in out
    assert len(out.strip().splitlines()) == 1, out
    assert running.anvil_pid() == before, "the first instance's node was touched"
    assert running.wait_healthy(timeout=5)["node"]["state"] == "running"


def test_health_answers_within_2_s_while_the_node_is_stopped(running: UpProcess) -> None:
    pid = running.wait_healthy()["node"]["pid"]
    os.kill(pid, signal.SIGSTOP)
    try:
        for _ in range(3):
            started = time.monotonic()
            resp = httpx.get(running.api + "/v1/health", timeout=10)
            elapsed = time.monotonic() - started
            assert resp.status_code == 503 and elapsed < 2.0, (resp.status_code, elapsed)
            error = resp.json()["error"]
            assert error["code"] == "chain_unavailable" and "does not answer" in error["message"]
            assert error["details"]["node"]["pid"] == pid
    finally:
        os.kill(pid, signal.SIGCONT)
    assert running.wait_healthy(timeout=10)["node"]["pid"] == pid


def test_the_supervisor_retries_while_the_port_is_busy_and_the_api_recovers(running: UpProcess) -> None:
    health = running.wait_healthy()
    blocker = socket.socket()
    blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        os.kill(health["node"]["pid"], signal.SIGKILL)
        deadline = time.monotonic() + 10
        while True:  # take the port before the supervisor restarts the node on it
            try:
                blocker.bind(("127.0.0.1", running.node_port))
                break
            except OSError:
                assert time.monotonic() < deadline
        blocker.listen()
        deadline, error = time.monotonic() + 20, {}
        while time.monotonic() < deadline:
            resp = httpx.get(running.api + "/v1/health", timeout=10)
            if resp.status_code == 503:
                error = resp.json()["error"]
                if error["details"]["node"]["attempts"] >= 2:
                    break
            time.sleep(0.2)
        node = error["details"]["node"]
        assert node["state"] == "restarting" and "in use" in node["lastError"] and node["nextRetryIn"] is not None
        assert "restarting" in error["message"] and "next try in" in error["message"]
    finally:
        blocker.close()
    # no manual restart: the node answers again, and the supervisor records the restart (a moment after the
    # node's first answer, which health may already report)
    deadline = time.monotonic() + 40
    recovered = running.wait_healthy(timeout=40)
    while recovered["node"]["state"] != "running" and time.monotonic() < deadline:
        time.sleep(0.2)
        recovered = running.wait_healthy(timeout=40)
    assert recovered["node"]["state"] == "running" and recovered["node"]["restarts"] >= 1
    assert recovered["contracts"] == health["contracts"]


def test_nothing_is_final_before_its_block_is_in_the_state_file_on_disk(up) -> None:  # type: ignore[no-untyped-def]
    """Confirmations 0 and a short IPLEDGER_FINAL_AFTER, but state writes an hour apart: an acknowledged batch is
    anchored and stays non-final until a dump holds its block (here, the dump of a clean stop)."""
    env = {**ENV, "IPLEDGER_FINAL_AFTER": "0.2", "IPLEDGER_NODE_STATE_INTERVAL": "3600"}
    p = up(env=env)
    p.wait_healthy()
    time.sleep(1)  # the first write (a new chain) is done; the next may come in an hour
    firm = admit(p)
    receipt, _ = register_batch(p, firm)
    deadline, status = time.monotonic() + 20, ""
    while status != "registered" and time.monotonic() < deadline:
        status = httpx.get(f"{p.api}/v1/receipts/{receipt}", timeout=5).json()["status"]
        time.sleep(0.2)
    assert status == "registered"
    time.sleep(3)  # many times IPLEDGER_FINAL_AFTER
    assert httpx.get(f"{p.api}/v1/receipts/{receipt}", timeout=5).json()["status"] == "registered"
    health = httpx.get(p.api + "/v1/health", timeout=5).json()
    assert health["node"]["stateFile"]["block"] < health["latestBlock"]
    assert p.interrupt() == 0  # a clean stop writes the state
    q = up(env=env)
    q.wait_healthy()
    wait_final(q, [receipt], timeout=30)
    assert q.interrupt() == 0
