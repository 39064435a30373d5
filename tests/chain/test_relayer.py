"""The relayer account and the chain connection (ledger/chain/sender.py, ledger/chain/rpc.py), on real anvil nodes:

- one process per relayer account and chain: a second process is refused at start, naming the holder's PID;
- a nonce taken by another sender of the account is cured and the transaction sent, never an error;
- every JSON-RPC call is bounded: a suspended node (SIGSTOP) is answered 503 within 5 s.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from ledger.chain.node import find_anvil, free_port, listens_on
from ledger.chain.rpc import connect, rpc
from ledger.chain.sender import TxSender, claim_relayer, release_relayer
from ledger.config import Settings
from ledger.domain.evidence import SENT, sign_single
from ledger.errors import ChainUnavailable, RelayerInUse
from ledger.facade import Ledger
from tests.api.conftest import OPERATOR_TOKEN, Api, firm  # noqa: F401 - the admitted party fixture
from tests.helpers import Chain, account, h, make_anvil_chain

HOLD = """
import sys, time
from eth_account import Account
from ledger.chain.rpc import connect
from ledger.chain.sender import TxSender, claim_relayer
sender = TxSender(connect(sys.argv[1]), Account.from_key(sys.argv[2]))
claim_relayer(sender, sys.argv[3])
print("held", flush=True)
time.sleep(120)
"""


@pytest.fixture
def holder(anvil: Chain, tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the operator's relayer lock on the session anvil."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, anvil.node_url, anvil.operator.key.hex(), str(tmp_path / "locks")],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
        yield proc
    finally:
        proc.kill()
        proc.wait(10)


def test_a_second_process_with_the_same_relayer_on_the_same_chain_is_refused_naming_the_holder(
    anvil: Chain, tmp_path: Path, holder: subprocess.Popen[str]
) -> None:
    locks = tmp_path / "locks"
    sender = TxSender(connect(anvil.node_url), anvil.operator)
    with pytest.raises(RelayerInUse) as refused:
        claim_relayer(sender, locks)
    assert str(holder.pid) in refused.value.message
    # another account on the same chain is free
    other = TxSender(connect(anvil.node_url), account("relayer-other"))
    claim_relayer(other, locks)
    release_relayer(other)
    # the kernel releases the lock with its holder, however it ends
    holder.kill()
    holder.wait(10)
    claim_relayer(sender, locks)
    release_relayer(sender)


def test_the_pipeline_does_not_start_on_a_relayer_another_process_holds(
    anvil: Chain, tmp_path: Path, holder: subprocess.Popen[str]
) -> None:
    settings = Settings(data_dir=tmp_path / "data", relayer_lock_dir=tmp_path / "locks")
    w3 = connect(anvil.node_url)
    ledger = Ledger(w3=w3, manifest=anvil.manifest, settings=settings, relayer=TxSender(w3, anvil.operator))
    with pytest.raises(RelayerInUse):
        ledger.pipeline.start()
    with pytest.raises(RelayerInUse), TestClient(create_app(ledger, settings)):
        pass  # the app's startup fails: the service does not run
    ledger.close()


def test_senders_of_one_relayer_within_one_process_share_its_lock(anvil: Chain, tmp_path: Path) -> None:
    w3 = connect(anvil.node_url)
    first, second = TxSender(w3, anvil.operator), TxSender(w3, anvil.operator)
    claim_relayer(first, tmp_path)
    claim_relayer(second, tmp_path)
    release_relayer(first)
    release_relayer(second)


def test_a_nonce_another_sender_holds_in_the_pool_is_cured_not_refused(anvil: Chain) -> None:
    """Two processes sharing a key: the other's transaction holds this sender's next nonce in the node's pool
    ("replacement transaction underpriced"), then its identical transaction ("already imported")."""
    acct = account("tx-collide")
    anvil.fund(acct.address)
    mine, other = TxSender(anvil.w3, acct), TxSender(anvil.w3, acct)
    mine.send({"to": acct.address, "value": 0}, gas=21_000)  # `mine` caches the next nonce
    rpc(anvil.w3, "evm_setAutomine", [False])
    try:
        for value in (1, 2):  # the other sender takes the next nonces, pending in the pool
            other.send({"to": acct.address, "value": value}, gas=21_000, wait=False)
        sent = mine.send({"to": acct.address, "value": 3}, gas=21_000, wait=False)
        same = other.send({"to": acct.address, "value": 1}, gas=21_000, wait=False)  # its next nonce is taken too
        rpc(anvil.w3, "evm_mine", [])
    finally:
        rpc(anvil.w3, "evm_setAutomine", [True])
    for tx_hash in (sent, same):
        assert anvil.w3.eth.get_transaction_receipt(tx_hash)["status"] == 1  # type: ignore[arg-type]


def test_two_services_sharing_one_relayer_answer_every_accepted_registration(anvil: Chain, tmp_path: Path) -> None:
    """Two relaying services (two journals) with one relayer key, as two API processes would be: every
    registration they accept is answered without an error and lands once."""
    import threading

    firm_acct = account("shared-relayer-firm")
    anvil.admit([firm_acct.address])
    services = []
    for name in ("a", "b"):
        settings = Settings(data_dir=tmp_path / name, confirmations=0, final_after=0)
        services.append(
            Ledger(w3=anvil.w3, manifest=anvil.manifest, settings=settings, relayer=TxSender(anvil.w3, anvil.operator))
        )
    deadline = anvil.now() + 3600
    results: list[Any] = []

    def submit(ledger: Ledger, labels: list[str]) -> None:
        for label in labels:
            req = sign_single(firm_acct, anvil.domain(), binding=h(label), algorithm=1, nonce=0, deadline=deadline)
            try:
                results.append(ledger.evidence_service.submit_single(req))
            except Exception as exc:  # noqa: BLE001 - collected and asserted below
                results.append(exc)

    threads = [
        threading.Thread(
            target=submit, args=(svc, [f"shared {svc.settings.data_dir.name} {i}" for i in range(k, 30, 3)])
        )
        for svc in services
        for k in range(3)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert len(results) == 60 and not [r for r in results if isinstance(r, Exception)]
    for svc in services:
        assert svc.pipeline.drain(60)
        svc.close()
    for r in results:
        assert anvil.evidence.functions.record(r.hashes, r.party_id).call()[3] != 0  # on chain


# --- bounded waits ---------------------------------------------------------------------------------------


@pytest.fixture
def own_anvil(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """An anvil of this test's own (to SIGSTOP), answering on a free port. A port another process (another
    pytest-xdist worker) takes between `free_port` and anvil's bind makes this anvil exit: then another port is
    tried, and the node is used only once this process is seen listening on the port."""
    for _ in range(5):
        port = free_port()
        proc = subprocess.Popen(
            [str(find_anvil()), "--host", "127.0.0.1", "--port", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        url = f"http://127.0.0.1:{port}"
        for _ in range(200):
            if proc.poll() is not None:
                break
            try:
                connect(url, timeout=1)
            except ChainUnavailable:
                time.sleep(0.05)
                continue
            if listens_on(proc.pid, port):
                break
            time.sleep(0.05)
        if proc.poll() is None and listens_on(proc.pid, port):
            break
        proc.kill()
        proc.wait(10)
    else:
        pytest.fail("no anvil of this test's own came up on a free port")
    try:
        yield proc, url
    finally:
        proc.send_signal(signal.SIGCONT)
        proc.kill()
        proc.wait(10)


def _suspend(pid: int) -> None:
    """SIGSTOP, then wait until every thread of the process is stopped: kill() returns before the kernel has
    stopped the threads running on other cores, and one of them could still answer a request sent at once."""
    os.kill(pid, signal.SIGSTOP)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            states = [
                Path(f"/proc/{pid}/task/{t}/stat").read_text().rsplit(")", 1)[1].split()[0]
                for t in os.listdir(f"/proc/{pid}/task")
            ]
        except (OSError, IndexError):
            return  # no /proc: nothing more to wait for
        if all(state in ("T", "t") for state in states):
            return
        time.sleep(0.01)
    pytest.fail(f"process {pid} did not stop within 10 s of SIGSTOP")


def test_a_suspended_node_is_answered_503_within_five_seconds(
    own_anvil: tuple[subprocess.Popen[bytes], str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    proc, url = own_anvil
    chain = make_anvil_chain(url)
    monkeypatch.setenv("IPLEDGER_RPC_TIMEOUT", "2")
    w3 = connect(url)  # the service's own connection, bounded by IPLEDGER_RPC_TIMEOUT
    settings = Settings(data_dir=tmp_path / "data", operator_token=OPERATOR_TOKEN, confirmations=0, final_after=0)
    ledger = Ledger(
        w3=w3,
        manifest=chain.manifest,
        settings=settings,
        relayer=TxSender(w3, chain.operator),
        registrar=TxSender(w3, chain.registrar),
    )
    api = Api(
        TestClient(create_app(ledger, settings, run_pipeline=False), raise_server_exceptions=False), ledger, chain
    )
    party = account("sigstop-firm")
    api.admit(party, "91110108551385082Q")
    body = api.single_body(party, h("sigstop"))
    _suspend(proc.pid)
    try:
        for method, path, kw in (
            ("POST", "/v1/evidence", {"json": body}),
            ("GET", f"/v1/evidence/{h('x').hex()}", {}),
            ("GET", "/v1/parties/1", {}),
        ):
            started = time.monotonic()
            resp = api.client.request(method, path, **kw)
            took = time.monotonic() - started
            assert resp.status_code == 503 and resp.json()["error"]["code"] == "chain_unavailable", resp.text
            assert took < 5, f"{method} {path} took {took:.1f} s"
    finally:
        os.kill(proc.pid, signal.SIGCONT)
    resp = api.client.post("/v1/evidence", json=body)
    assert resp.status_code == 202 and resp.json()["status"] == "pending"
    assert ledger.store.item(api.binding(party, h("sigstop")))[0].status == SENT  # type: ignore[index]
    ledger.close()


def test_the_connection_does_not_retry_a_timeout(own_anvil: tuple[subprocess.Popen[bytes], str]) -> None:
    proc, url = own_anvil
    w3 = connect(url, timeout=1)
    _suspend(proc.pid)
    try:
        started = time.monotonic()
        with pytest.raises(ChainUnavailable):
            rpc(w3, "eth_blockNumber", [])
        assert time.monotonic() - started < 2.5  # one timeout, not web3's five tries
    finally:
        os.kill(proc.pid, signal.SIGCONT)
