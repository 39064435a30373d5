"""Nothing acknowledged is lost: SIGKILL the API, or separately the node, in the middle of a bulk ingest;
after the restart every acknowledged hash is anchored exactly once and its certificate verifies."""

from __future__ import annotations

import os
import signal
import sqlite3
import threading
import time
from typing import Any

import httpx
import pytest
from eth_account import Account
from web3 import Web3

from ledger import eip712
from ledger.artifacts import load_artifact
from ledger.evidence import sign_batch
from ledger.verify import Rpc, verify
from tests.cli.conftest import UpProcess

BATCH = 2000


def admit_firm(p: UpProcess) -> Any:
    firm = Account.create()
    resp = httpx.post(p.api + "/v1/parties", headers={"Authorization": f"Bearer {p.token}"}, timeout=30, json={
        "kind": "firm", "jurisdiction": "mainland", "identifierScheme": "uscc", "identifier": "91110108551385082Q",
        "nameEn": "Crash Test Ltd", "accounts": [firm.address]})  # fmt: skip
    assert resp.status_code == 201, resp.text
    return firm


class Ingest(threading.Thread):
    """Posts signed batches until stopped; keeps what the API acknowledged (202)."""

    def __init__(self, p: UpProcess, firm: Any) -> None:
        super().__init__(daemon=True)
        self.p, self.firm = p, firm
        d = httpx.get(p.api + "/v1/signing-domain").json()
        self.domain = eip712.Domain(d["chainId"], d["verifyingContract"])
        self.acked: dict[str, list[bytes]] = {}
        self.stop_flag = threading.Event()
        self.round = 0

    def run(self) -> None:
        with httpx.Client(timeout=10) as client:
            while not self.stop_flag.is_set():
                self.round += 1
                hashes = [os.urandom(32) for _ in range(BATCH)]
                req = sign_batch(self.firm, self.domain, hashes=hashes, algorithm=1, deadline=int(time.time()) + 3600)
                body = {"algorithm": "sha256", "hashes": ["0x" + x.hex() for x in hashes], "registrant": self.firm.address,
                        "deadline": req.deadline, "signature": "0x" + req.signature.hex()}  # fmt: skip
                try:
                    resp = client.post(self.p.api + "/v1/evidence/batch", json=body)
                except httpx.HTTPError:
                    time.sleep(0.1)
                    continue
                if resp.status_code == 202:
                    self.acked[resp.json()["receiptId"]] = hashes


def wait_all_final(p: UpProcess, receipts: list[str], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    pending = set(receipts)
    while pending and time.monotonic() < deadline:
        for r in list(pending):
            try:
                if httpx.get(f"{p.api}/v1/receipts/{r}", timeout=5).json()["status"] == "final":
                    pending.discard(r)
            except httpx.HTTPError:
                pass
        time.sleep(0.3)
    assert not pending, f"not final: {sorted(pending)[:5]}"


def assert_exactly_once(p: UpProcess, ingest: Ingest) -> None:
    db = sqlite3.connect(p.data_dir / "journal.sqlite3")
    roots = [bytes(r[0]) for r in db.execute("SELECT root FROM batches")]
    assert len(roots) == len(set(roots))
    w3 = Web3(Web3.HTTPProvider(f"http://127.0.0.1:{p.node_port}"))
    manifest = httpx.get(p.api + "/v1/health").json()["contracts"]["EvidenceRegistry"]
    contract = w3.eth.contract(address=manifest, abi=load_artifact("EvidenceRegistry")["abi"])
    anchored = [bytes(log["args"]["root"]) for log in contract.events.BatchAnchored().get_logs(from_block=0)]
    assert len(anchored) == len(set(anchored)), "a batch root was anchored twice"
    used = {bytes(r[0]) for r in db.execute(
        "SELECT DISTINCT b.root FROM batches b JOIN submissions s ON s.batch_id = b.id")}  # fmt: skip
    assert used <= set(anchored)
    for receipt, hashes in ingest.acked.items():
        sub_id = int(receipt.removeprefix("sub_"))
        (count,) = db.execute("SELECT COUNT(*) FROM items WHERE submission_id = ?", (sub_id,)).fetchone()
        assert count == len(hashes), f"{receipt} lost items"
    # spot-check certificates against the chain
    for hashes in list(ingest.acked.values())[:: max(1, len(ingest.acked) // 4)]:
        cert = httpx.get(f"{p.api}/v1/evidence/0x{hashes[-1].hex()}/certificate", timeout=30).json()
        report = verify(cert, Rpc.from_web3(w3))
        assert report.passed, report.to_json()


def ingest_until(ingest: Ingest, acks: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while len(ingest.acked) < acks and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(ingest.acked) >= acks


@pytest.mark.slow
def test_a_sigkill_of_the_api_during_bulk_ingest_loses_nothing_acknowledged(up) -> None:  # type: ignore[no-untyped-def]
    env = {"IPLEDGER_BATCH_INTERVAL": "0.3", "IPLEDGER_CONFIRMATIONS": "1", "IPLEDGER_NODE_BLOCK_TIME": "1"}
    p = up(env=env)
    p.wait_healthy()
    firm = admit_firm(p)
    ingest = Ingest(p, firm)
    ingest.start()
    ingest_until(ingest, 6)
    os.kill(p.proc.pid, signal.SIGKILL)  # the API process; its node is stopped with it (parent-death signal)
    p.proc.wait(10)
    ingest.stop_flag.set()
    ingest.join(15)
    assert ingest.acked

    q = up(env=env)
    q.wait_healthy()
    wait_all_final(q, list(ingest.acked))
    assert_exactly_once(q, ingest)
    q.interrupt()


@pytest.mark.slow
def test_a_sigkill_of_the_node_during_bulk_ingest_loses_nothing_acknowledged(up) -> None:  # type: ignore[no-untyped-def]
    env = {"IPLEDGER_BATCH_INTERVAL": "0.3", "IPLEDGER_CONFIRMATIONS": "1", "IPLEDGER_NODE_BLOCK_TIME": "1"}
    p = up(env=env)
    p.wait_healthy()
    firm = admit_firm(p)
    time.sleep(2)  # the admission is in the persisted state
    ingest = Ingest(p, firm)
    ingest.start()
    ingest_until(ingest, 4)
    os.kill(p.anvil_pid(), signal.SIGKILL)
    ingest_until(ingest, len(ingest.acked) + 4, timeout=90)  # the supervisor restarts the node; ingest goes on
    ingest.stop_flag.set()
    ingest.join(15)
    wait_all_final(p, list(ingest.acked))
    assert_exactly_once(p, ingest)
    p.interrupt()
