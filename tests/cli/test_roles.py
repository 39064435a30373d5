"""The service as several processes (issue 14, process roles): an `ipledger serve` replica that checks and journals,
two `ipledger worker` processes of which exactly one leads the relayer account, over a PostgreSQL journal. The
leader is SIGKILLed: the standby takes over, and every registration the replica acknowledged reaches the chain
once."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ledger.chain.deployment import manifest_path
from ledger.chain.node import free_port
from ledger.chain.rpc import FunctionCodec
from ledger.domain import eip712
from ledger.domain.evidence import sign_batch, sign_single
from ledger.domain.hashing import HashAlgorithm, hash_bytes, public_binding
from ledger.storage.keys import write_keystore
from tests.helpers import IPLEDGER, Chain, account, cli_env

PASSWORD = "roles password"


class Proc:
    def __init__(self, name: str, args: list[str], env: dict[str, str], log: Path) -> None:
        self.name, self.log = name, log
        self._fh = log.open("wb")
        self.p = subprocess.Popen([IPLEDGER, *args], env=env, stdout=self._fh, stderr=subprocess.STDOUT)

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.p.poll() is None:
            self.p.send_signal(sig)
            try:
                self.p.wait(20)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait(10)
        self._fh.close()


def _until(what: str, check: Any, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        assert time.monotonic() < deadline, f"not within {timeout:.0f}s: {what}"
        time.sleep(0.2)


class Client:
    """Registrations of one admitted firm, posted to a replica at ``api``."""

    def __init__(self, anvil: Chain, api: str) -> None:
        self.api = api
        self.firm = firm = account("roles-firm")
        self.party = anvil.admit([firm.address])
        self.domain = eip712.Domain(anvil.manifest.chain_id, anvil.manifest.address("EvidenceRegistry"))
        self.deadline = anvil.now() + 3600

    def binding(self, label: bytes) -> bytes:
        return public_binding(hash_bytes(label, HashAlgorithm.SHA256), self.party, HashAlgorithm.SHA256)

    def single(self, label: bytes) -> str:
        binding, party = self.binding(label), self.party
        req = sign_single(
            self.firm, self.domain, binding=binding, algorithm=1, nonce=0, deadline=self.deadline, party_id=party
        )
        resp = httpx.post(
            self.api + "/v1/evidence",
            json={
                "binding": "0x" + binding.hex(),
                "partyId": party,
                "algorithm": "sha256",
                "registrant": self.firm.address,
                "nonce": 0,
                "deadline": self.deadline,
                "signature": "0x" + req.signature.hex(),
            },
            timeout=30,
        )
        assert resp.status_code == 202, resp.text
        assert resp.json()["transactionHash"] is None  # the replica sent nothing itself
        return str(resp.json()["receiptId"])

    def batch(self, labels: list[bytes]) -> str:
        bindings = [self.binding(x) for x in labels]
        req = sign_batch(self.firm, self.domain, bindings=bindings, algorithm=1, deadline=self.deadline)
        resp = httpx.post(
            self.api + "/v1/evidence/batch",
            json={
                "algorithm": "sha256",
                "bindings": ["0x" + b.hex() for b in bindings],
                "partyId": self.party,
                "registrant": self.firm.address,
                "deadline": self.deadline,
                "signature": "0x" + req.signature.hex(),
            },
            timeout=30,
        )
        assert resp.status_code == 202, resp.text
        return str(resp.json()["receiptId"])

    def on_chain(self, receipt: str) -> bool:
        status = httpx.get(f"{self.api}/v1/receipts/{receipt}", timeout=10).json()["status"]
        assert status != "rejected", status
        return status in ("registered", "final")


@pytest.fixture
def procs() -> Iterator[list[Proc]]:
    started: list[Proc] = []
    yield started
    for p in started:
        p.stop(signal.SIGKILL)


def _environment(anvil: Chain, postgres_db: str, tmp_path: Path) -> tuple[dict[str, str], Path]:
    """The processes' environment (a data directory with the deployment, the shared journal) and the keystore of
    the anchoring relayer (the operator)."""
    data = tmp_path / "data"
    anvil.manifest.save(manifest_path(data, anvil.manifest.chain_id))
    keystore = write_keystore(tmp_path / "relayer.json", anvil.operator, PASSWORD, kdf="pbkdf2")
    base = cli_env(
        IPLEDGER_RPC_URL=anvil.node_url,
        IPLEDGER_DATA_DIR=str(data),
        IPLEDGER_JOURNAL_URL=postgres_db,
        IPLEDGER_KEYSTORE_PASSWORD=PASSWORD,
        IPLEDGER_CONFIRMATIONS="0",
        IPLEDGER_FINAL_AFTER="0",
        IPLEDGER_BATCH_INTERVAL="0.5",
        IPLEDGER_RELAYER_LOCK_DIR=str(tmp_path / "locks"),
        IPLEDGER_OPERATOR_TOKEN="roles-token",
    )
    return base, keystore


@pytest.mark.slow
def test_a_second_relayer_account_shares_the_singles_and_the_anchoring_worker_does_the_rest(
    anvil: Chain, postgres_db: str, tmp_path: Path, procs: list[Proc]
) -> None:
    """`ipledger worker --singles-only` with another (funded, unprivileged) relayer account sends the singles the
    replica just accepted, beside the worker of the anchoring relayer; batches, confirmations and everything else
    stay with the latter. Each registration is on chain once."""
    first_block = anvil.w3.eth.block_number
    base, keystore = _environment(anvil, postgres_db, tmp_path)
    second = account("roles-second-relayer")
    anvil.fund(second.address)
    second_keystore = write_keystore(tmp_path / "second.json", second, PASSWORD, kdf="pbkdf2")
    port = free_port()
    helper = Proc(
        "singles",
        ["worker", "--singles-only"],
        {**base, "IPLEDGER_KEYSTORE": str(second_keystore)},
        tmp_path / "singles.log",
    )
    procs.append(helper)
    _until("the singles worker leads its account", lambda: "sending singles" in helper.text(), 60)
    serve = Proc("serve", ["serve", "--port", str(port)], base, tmp_path / "serve.log")
    procs.append(serve)
    client = Client(anvil, f"http://127.0.0.1:{port}")
    _until("the replica answers", lambda: _get(client.api + "/v1/health") == 200, 60)

    # the anchoring relayer's worker is not running yet: only the second account can send these
    early = [client.single(f"shared {i}".encode()) for i in range(4)]
    _until("the second account sent them", lambda: anvil.w3.eth.get_transaction_count(second.address) >= 4, 30)
    anchor = Proc("anchor", ["worker"], {**base, "IPLEDGER_KEYSTORE": str(keystore)}, tmp_path / "anchor.log")
    procs.append(anchor)
    _until("the anchoring worker leads", lambda: "sending and anchoring" in anchor.text(), 60)
    late = [client.single(f"shared {i}".encode()) for i in range(4, 12)] + [client.batch([b"s1", b"s2"])]
    for r in early + late:
        _until(f"{r} on chain", lambda r=r: client.on_chain(r), 60)

    for i in range(12):
        logs = anvil.evidence.events.EvidenceRegistered().get_logs(
            from_block=0, argument_filters={"binding": client.binding(f"shared {i}".encode()), "partyId": client.party}
        )
        assert len(logs) == 1
    # the second account sent singles only: each of its transactions is a registerBySignature
    selector = FunctionCodec(anvil.evidence, "registerBySignature").selector
    sent_by_second = [
        tx
        for number in range(first_block, anvil.w3.eth.block_number + 1)
        for tx in anvil.w3.eth.get_block(number, full_transactions=True)["transactions"]
        if tx["from"] == second.address  # type: ignore[index]
    ]
    assert len(sent_by_second) >= 4
    assert all(bytes(tx["input"])[:4] == selector for tx in sent_by_second)  # type: ignore[index]
    assert "Traceback" not in helper.text() + anchor.text() + serve.text()


@pytest.mark.slow
def test_one_worker_leads_the_relayer_and_a_standby_takes_over_after_a_sigkill(
    anvil: Chain, postgres_db: str, tmp_path: Path, procs: list[Proc]
) -> None:
    base, keystore = _environment(anvil, postgres_db, tmp_path)
    port = free_port()
    workers = [
        Proc(f"worker{i}", ["worker"], {**base, "IPLEDGER_KEYSTORE": str(keystore)}, tmp_path / f"worker{i}.log")
        for i in range(2)
    ]
    procs.extend(workers)
    leader = _until(
        "a worker leads",
        lambda: next((w for w in workers if "leading relayer" in w.text()), None),
        60,
    )
    standby = next(w for w in workers if w is not leader)
    _until("the other stands by", lambda: "standing by" in standby.text(), 60)
    assert "leading relayer" not in standby.text()
    serve = Proc("serve", ["serve", "--port", str(port)], base, tmp_path / "serve.log")
    procs.append(serve)
    client = Client(anvil, f"http://127.0.0.1:{port}")
    _until("the replica answers", lambda: _get(client.api + "/v1/health") == 200, 60)
    single, batch, on_chain, party = client.single, client.batch, client.on_chain, client.party

    before = [single(b"before the kill"), batch([b"b1", b"b2", b"b3"])]
    for r in before:
        _until(f"{r} on chain by the leader", lambda r=r: on_chain(r), 60)

    leader.stop(signal.SIGKILL)
    _until("the standby leads", lambda: "leading relayer" in standby.text(), 15)
    after = [single(b"after the kill"), batch([b"a1", b"a2"])]
    for r in after:
        _until(f"{r} on chain by the new leader", lambda r=r: on_chain(r), 60)

    # each registration is on chain once: one EvidenceRegistered per single, one BatchAnchored per batch root
    for label in (b"before the kill", b"after the kill"):
        binding = client.binding(label)
        logs = anvil.evidence.events.EvidenceRegistered().get_logs(
            from_block=0, argument_filters={"binding": binding, "partyId": party}
        )
        assert len(logs) == 1
    assert "Traceback" not in serve.text() + standby.text()


def _get(url: str) -> int:
    try:
        return httpx.get(url, timeout=5).status_code
    except httpx.HTTPError:
        return 0


def _children(pid: int) -> set[int]:
    """The processes whose parent is ``pid`` (from /proc)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.add(int(entry.name))
    return found


def _two_children(pid: int) -> set[int] | None:
    kids = _children(pid)
    return kids if len(kids) == 2 else None


def _alive(pid: int) -> bool:
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.slow
@pytest.mark.parametrize("journal", ["postgresql", "sqlite"])
def test_serve_with_workers_runs_replicas_on_one_port_replaces_a_killed_one_and_stops_them_on_sigterm(
    anvil: Chain, postgres_db: str, tmp_path: Path, procs: list[Proc], journal: str
) -> None:
    """On PostgreSQL, or on the data directory's SQLite journal (the replicas and the worker on one host)."""
    base, keystore = _environment(anvil, postgres_db, tmp_path)
    if journal == "sqlite":
        del base["IPLEDGER_JOURNAL_URL"]
    port = free_port()
    serve = Proc("serve", ["serve", "--port", str(port), "--workers", "2"], base, tmp_path / "serve.log")
    worker = Proc("worker", ["worker"], {**base, "IPLEDGER_KEYSTORE": str(keystore)}, tmp_path / "worker.log")
    procs.extend([serve, worker])
    client = Client(anvil, f"http://127.0.0.1:{port}")
    _until("the replicas answer", lambda: _get(client.api + "/v1/health") == 200, 60)
    first = _until("two replica processes", lambda: _two_children(serve.p.pid), 30)
    # each request on a connection of its own: the kernel hands connections to both replicas
    receipts = [client.single(f"workers {i}".encode()) for i in range(6)]

    killed = min(first)
    os.kill(killed, signal.SIGKILL)
    _until("the killed replica is replaced", lambda: len(_children(serve.p.pid) - {killed}) == 2, 30)
    assert killed not in _children(serve.p.pid)
    receipts += [client.single(f"workers {i}".encode()) for i in range(6, 12)] + [client.batch([b"w1", b"w2"])]
    for r in receipts:
        _until(f"{r} on chain", lambda r=r: client.on_chain(r), 60)
    assert "starting another" in serve.text()

    replicas = _children(serve.p.pid)
    serve.p.send_signal(signal.SIGTERM)
    assert serve.p.wait(40) == 0
    _until("every replica ended with the parent", lambda: not any(_alive(pid) for pid in replicas), 10)
    assert "Traceback" not in serve.text()

    # a parent killed outright takes its replicas with it
    again = Proc("again", ["serve", "--port", str(port), "--workers", "2"], base, tmp_path / "again.log")
    procs.append(again)
    _until("the replicas answer again", lambda: _get(client.api + "/v1/health") == 200, 60)
    orphans = _until("two replicas", lambda: _two_children(again.p.pid), 30)
    again.stop(signal.SIGKILL)
    _until("the replicas of a killed parent end", lambda: not any(_alive(pid) for pid in orphans), 15)


def test_serve_with_workers_refuses_a_layout_it_cannot_run(anvil: Chain, tmp_path: Path) -> None:
    """Several processes cannot share one relayer account's key; and the number of processes is bounded."""
    data = tmp_path / "data"
    anvil.manifest.save(manifest_path(data, anvil.manifest.chain_id))
    env = cli_env(IPLEDGER_RPC_URL=anvil.node_url, IPLEDGER_DATA_DIR=str(data))
    port = str(free_port())
    keyed = subprocess.run(
        [IPLEDGER, "serve", "--port", port, "--workers", "2"],
        env={**env, "IPLEDGER_KEYSTORE": str(tmp_path / "k")},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert keyed.returncode == 1 and "IPLEDGER_KEYSTORE" in keyed.stderr, keyed.stderr
    for workers in ("0", "65"):
        out = subprocess.run(
            [IPLEDGER, "serve", "--port", port, "--workers", workers],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert out.returncode == 2 and "--workers" in out.stderr, out.stderr
        assert "Traceback" not in out.stderr
    assert "Traceback" not in keyed.stderr
