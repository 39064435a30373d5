"""The embedded node: one chain for any number of restarts, state written atomically and only on change, one
process per data directory, and a supervisor that retries with backoff."""

from __future__ import annotations

import gzip
import json
import os
import random
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from web3 import Web3

from ledger.chain.node import (
    DataDirLock,
    EmbeddedNode,
    NodeSupervisor,
    canonical_state,
    find_anvil,
    free_port,
    header_hash,
)
from ledger.errors import ChainUnavailable, DataDirInUse


def send(w3: Web3, value: int) -> bytes:
    tx = w3.eth.send_transaction({"from": w3.eth.accounts[0], "to": w3.eth.accounts[1], "value": value})
    w3.eth.wait_for_transaction_receipt(tx)
    return bytes(tx)


def wait_for(predicate, timeout: float = 15.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_restarts_clean_and_killed_keep_one_chain_and_every_dumped_block(tmp_path: Path) -> None:
    genesis, txs = None, []
    for cycle in range(6):
        node = EmbeddedNode(tmp_path, port=free_port())
        w3 = Web3(Web3.HTTPProvider(node.start()))
        try:
            block0 = w3.eth.get_block(0)["hash"]
            genesis = genesis or block0
            assert block0 == genesis, f"cycle {cycle}: the genesis block changed"
            for tx in txs:
                assert w3.eth.get_transaction_receipt(tx)["status"] == 1, f"cycle {cycle}: a dumped block was lost"
            assert [w3.eth.get_block(n)["parentHash"] for n in range(1, w3.eth.block_number + 1)] == [
                w3.eth.get_block(n)["hash"] for n in range(w3.eth.block_number)
            ]
            txs.append(send(w3, cycle + 1))
            head = w3.eth.get_block("latest")
            wait_for(lambda: node.last_dump is not None and node.last_dump.hash == "0x" + bytes(head["hash"]).hex())
        finally:
            node.kill() if cycle % 2 else node.stop()
    # anvil adds a genesis block of its own at every start; the loader keeps the canonical one only
    state = json.loads(gzip.decompress(node.state_file.read_bytes()))
    assert sum(1 for b in state["blocks"] if int(b["header"]["number"], 16) == 0) == 2  # ours + this run's
    kept, dropped = canonical_state(state)
    assert dropped == 1 and [int(b["header"]["number"], 16) for b in kept["blocks"]] == list(range(7))


def test_an_idle_node_mines_nothing_and_writes_nothing(tmp_path: Path) -> None:
    node = EmbeddedNode(tmp_path, port=free_port())
    w3 = Web3(Web3.HTTPProvider(node.start()))
    try:
        send(w3, 1)
        wait_for(lambda: node.last_dump is not None and node.last_dump.block == 1)
        stat, head = node.state_file.stat(), w3.eth.block_number
        time.sleep(3)  # 12 looks of the guard, 3 state intervals
        again = node.state_file.stat()
        assert w3.eth.block_number == head, "an idle node mined blocks"
        assert (again.st_mtime_ns, again.st_size, again.st_ino) == (stat.st_mtime_ns, stat.st_size, stat.st_ino)
        send(w3, 2)  # a change is written within the state interval
        wait_for(lambda: node.state_file.stat().st_ino != stat.st_ino, timeout=5)
    finally:
        node.stop()
    assert not list(node.state_dir.glob("*.tmp")) and not node.load_file.exists()


def test_a_damaged_state_is_reported_not_replaced_by_a_new_chain(tmp_path: Path) -> None:
    node = EmbeddedNode(tmp_path, port=free_port())
    send(Web3(Web3.HTTPProvider(node.start())), 1)
    node.stop()
    whole = node.state_file.read_bytes()
    node.state_file.write_bytes(whole[: len(whole) // 2])  # what no atomic write leaves; a disk fault might
    with pytest.raises(ChainUnavailable) as err:
        EmbeddedNode(tmp_path, port=free_port()).start()
    assert "damaged" in err.value.message
    assert node.state_file.read_bytes() == whole[: len(whole) // 2], "the damaged state must be left for the operator"


def _legacy_data_dir(tmp_path: Path) -> tuple[Path, bytes, bytes]:
    """A data directory as the previous version left it: anvil's own ``--state`` file after three starts, which
    holds three genesis blocks, ordered so that anvil itself would pick a wrong one."""
    state = tmp_path / "chain" / "state.json"
    state.parent.mkdir(parents=True)
    genesis = tx = b""
    for start in range(3):
        port = free_port()
        proc = subprocess.Popen(
            [str(find_anvil()), "--port", str(port), "--state", str(state), "--quiet", "--preserve-historical-states"]
        )
        try:
            w3 = Web3(Web3.HTTPProvider(f"http://127.0.0.1:{port}"))
            wait_for(lambda: w3.is_connected())
            if start == 0:
                tx = send(w3, 5)
                genesis = bytes(w3.eth.get_block(0)["hash"])
            time.sleep(1.1)  # distinct genesis timestamps
        finally:
            proc.terminate()  # anvil writes its state on SIGTERM
            proc.wait(10)
    data = json.loads(state.read_text())
    zeros = [b for b in data["blocks"] if int(b["header"]["number"], 16) == 0]
    assert len(zeros) == 3, "anvil no longer adds a genesis block per start: revisit canonical_state"
    rest = [b for b in data["blocks"] if int(b["header"]["number"], 16) != 0]
    zeros.sort(key=lambda b: header_hash(b["header"]) == "0x" + genesis.hex())  # the real one first, a wrong one last
    data["blocks"] = zeros + rest
    state.write_text(json.dumps(data))
    return state, genesis, tx


def test_an_earlier_versions_state_with_several_genesis_blocks_loads_its_own_chain(tmp_path: Path) -> None:
    legacy, genesis, tx = _legacy_data_dir(tmp_path)
    node = EmbeddedNode(tmp_path, port=free_port())
    w3 = Web3(Web3.HTTPProvider(node.start()))
    try:
        assert node.dropped_blocks == 2
        assert bytes(w3.eth.get_block(0)["hash"]) == genesis
        assert w3.eth.get_transaction_receipt(tx)["status"] == 1
        # written once in the new format, and the old file removed right after (the two are not one step)
        wait_for(lambda: node.state_file.exists() and not legacy.exists())
    finally:
        node.stop()


def test_header_hash_matches_the_node(tmp_path: Path) -> None:
    node = EmbeddedNode(tmp_path, port=free_port())
    w3 = Web3(Web3.HTTPProvider(node.start()))
    try:
        send(w3, 3)
        node.dump(force=True)
    finally:
        node.stop()
    blocks = json.loads(gzip.decompress(node.state_file.read_bytes()))["blocks"]
    again = EmbeddedNode(tmp_path, port=free_port())
    w3 = Web3(Web3.HTTPProvider(again.start()))
    try:
        for b in blocks:
            number = int(b["header"]["number"], 16)
            if number:  # block 0: this start's own genesis is beside ours
                assert header_hash(b["header"]) == "0x" + bytes(w3.eth.get_block(number)["hash"]).hex()
    finally:
        again.stop()


LOCKER = """
import sys, time
from pathlib import Path
from ledger.chain.node import DataDirLock
lock = DataDirLock.acquire(Path(sys.argv[1]), purpose="test holder")
print("locked", flush=True)
time.sleep(60)
"""


def test_one_process_per_data_directory_and_the_holder_is_named(tmp_path: Path) -> None:
    holder = subprocess.Popen([sys.executable, "-c", LOCKER, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with pytest.raises(DataDirInUse) as err:
            DataDirLock.acquire(tmp_path, purpose="second")
        assert f"process {holder.pid} (test holder)" in err.value.message
        with pytest.raises(DataDirInUse):
            EmbeddedNode(tmp_path, port=free_port()).start()
        assert not (tmp_path / "chain" / "anvil.pid").exists(), "nothing may be started on a locked data directory"
    finally:
        holder.kill()
        holder.wait()
    lock = DataDirLock.acquire(tmp_path, purpose="after")  # the kernel released the dead holder's lock
    lock.release()


def test_a_node_whose_owner_died_is_stopped_but_a_live_owners_node_is_not(tmp_path: Path) -> None:
    first = EmbeddedNode(tmp_path, port=free_port())
    first.start()
    try:
        with pytest.raises(DataDirInUse):
            EmbeddedNode(tmp_path, port=free_port()).start()
        assert first.alive() and Web3(Web3.HTTPProvider(first.rpc_url)).is_connected()
    finally:
        first.stop()
    # An orphan: anvil still running from this data directory, its owner gone (the lock is free).
    orphan = subprocess.Popen([str(find_anvil()), "--port", str(free_port()), "--quiet"], cwd=tmp_path / "chain")
    (tmp_path / "chain" / "anvil.pid").write_text(str(orphan.pid))
    second = EmbeddedNode(tmp_path, port=free_port())
    try:
        second.start()
        assert orphan.wait(timeout=15) is not None
    finally:
        second.stop()
        orphan.kill()


def test_the_supervisor_retries_with_backoff_until_the_port_is_free(tmp_path: Path) -> None:
    node = EmbeddedNode(tmp_path, port=free_port())
    node.start()
    events: list[str] = []
    sup = NodeSupervisor(node, report=events.append, first_delay=0.2, max_delay=0.8, poll=0.1).start()
    try:
        assert [sup.delay(n) for n in range(1, 6)] == [0.2, 0.4, 0.8, 0.8, 0.8]
        pid = node.status()["pid"]
        blocker = socket.socket()
        try:
            os.kill(pid, 9)
            node.process.wait(10)  # type: ignore[union-attr]
            blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            wait_for(lambda: _bind(blocker, node.port), timeout=10)
            blocker.listen()
            wait_for(lambda: sup.attempts >= 3, timeout=15)
            status = sup.status()
            assert status["state"] == "restarting" and "in use" in status["lastError"]
            assert status["nextRetryIn"] is not None and status["nextRetryIn"] <= 0.8
        finally:
            blocker.close()
        wait_for(lambda: sup.status()["state"] == "running" and node.alive(), timeout=15)
        assert sup.restarts == 1 and Web3(Web3.HTTPProvider(node.rpc_url)).is_connected()
        assert any("next try in" in e for e in events) and "running again" in events[-1]
    finally:
        sup.stop()
        node.stop()


def _bind(sock: socket.socket, port: int) -> bool:
    try:
        sock.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False


def test_canonical_state_prefers_the_manifest_genesis_on_a_chain_at_block_0() -> None:
    def header(ts: int) -> dict[str, object]:
        return {
            "parentHash": "0x" + "00" * 32,
            "sha3Uncles": "0x" + "11" * 32,
            "miner": "0x" + "00" * 20,
            "stateRoot": "0x" + "22" * 32,
            "transactionsRoot": "0x" + "22" * 32,
            "receiptsRoot": "0x" + "22" * 32,
            "logsBloom": "0x" + "00" * 256,
            "difficulty": "0x0",
            "number": "0x0",
            "gasLimit": "0x1c9c380",
            "gasUsed": "0x0",
            "timestamp": hex(ts),
            "extraData": "0x",
            "mixHash": "0x" + "00" * 32,
            "nonce": "0x0000000000000000",
            "baseFeePerGas": "0x3b9aca00",
        }

    blocks = [{"header": header(ts)} for ts in (30, 10, 20)]
    random.shuffle(blocks)
    hint = header_hash(header(20))
    kept, dropped = canonical_state(
        {"best_block_number": 0, "blocks": list(blocks), "transactions": []}, genesis_hint=hint
    )
    assert dropped == 2 and [b["header"]["timestamp"] for b in kept["blocks"]] == [hex(20)]
    kept, _ = canonical_state({"best_block_number": "0x0", "blocks": list(blocks), "transactions": []})
    assert [b["header"]["timestamp"] for b in kept["blocks"]] == [hex(10)]  # the oldest: the first start's


def test_listens_on_tells_the_process_that_holds_a_port_from_another(tmp_path: Path) -> None:
    """What lets a starting node tell its own answer from that of a process which took its port first."""
    from ledger.chain.node import listens_on

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        assert listens_on(os.getpid(), port) is True
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
        try:
            assert listens_on(child.pid, port) is False
        finally:
            child.kill()
            child.wait()
    assert listens_on(os.getpid(), port) is False


def test_a_node_whose_port_another_node_answers_on_is_not_taken_for_started(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process answering eth_chainId on the port (it took the port after the free-port check) is not
    this node: the start fails instead of handing out a connection to somebody else's chain."""
    other = EmbeddedNode(tmp_path / "other", port=free_port())
    other.start()
    try:
        mine = EmbeddedNode(tmp_path / "mine", port=other.port)
        monkeypatch.setattr(
            "ledger.chain.node.port_is_free", lambda host, port: True
        )  # the race: the check saw it free
        with pytest.raises(ChainUnavailable):
            mine.start(timeout=5)
        assert mine.process is None
    finally:
        other.stop()
