"""The fault suite's harness: `ipledger up` as a restartable subprocess, a load generator that records what it
sent and what the API acknowledged, and an accounting step that reads the chain itself.

Counting rules (docs/operations.md, "The fault suite"):

- *sent*: content hashes whose request reached the API (a refused connection sends nothing);
- *acknowledged*: hashes of requests answered 202 with a receipt id;
- *on chain*: acknowledged hashes the chain holds. A relayed single counts when ``registrationTimes`` (the
  contract's view over ``record``) gives it a timestamp and its ``EvidenceRegistered`` event names our
  registrant. A batched hash counts when the EIP-712 digest of its submission — computed here from what we
  sent — is a leaf of a batch root that a ``BatchAnchored`` event shows on chain with the same size; the
  journal only says which batch to look in (its members are hashed here and must give the anchored root);
- *lost*: acknowledged and not on chain once the service has recovered and drained;
- *duplicated*: a hash registered by two events, a reverted registration or anchor sent by the relayer for a
  hash or root of the scenario (a second send), a batch root anchored twice, a submission found in two
  anchored batches, or an anchored root whose members the journal cannot give.

Everything is bounded: each wait has a deadline, each HTTP request a timeout.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from web3 import HTTPProvider, Web3

from ledger.certificates.evidence import complete as complete_certificate
from ledger.certificates.verify import Rpc, verify
from ledger.chain.artifacts import load_artifact
from ledger.domain import eip712, merkle
from ledger.domain.evidence import sign_batch, sign_single
from ledger.domain.hashing import HashAlgorithm, public_binding
from ledger.services.evidence import record_key
from tests.helpers import IPLEDGER, cli_env

SINGLE, BATCH = "single", "batch"
EVIDENCE_REGISTERED = "0x" + keccak(text="EvidenceRegistered(bytes32,uint256,address,uint8,bytes32,bytes32)").hex()
BATCH_ANCHORED = "0x" + keccak(text="BatchAnchored(bytes32,address,uint32)").hex()


def _free_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(predicate: Callable[[], bool], timeout: float, what: str, step: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


# --- the service ---------------------------------------------------------------------------------------


class Service:
    """One data directory and the `ipledger up` that runs on it; restarted on the same ports, as a user would."""

    def __init__(self, data_dir: Path, log_dir: Path, env: dict[str, str] | None = None) -> None:
        self.data_dir = data_dir
        self.log_dir = log_dir
        log_dir.mkdir(parents=True, exist_ok=True)
        self.env = env or {}
        self.port = _free_port()
        self.node_port = _free_port()
        self.proc: subprocess.Popen[str] | None = None
        self.log_path: Path | None = None
        self.starts = 0
        self.firm: LocalAccount | None = None
        self._info: dict[str, Any] = {}

    # -- processes --

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def rpc_url(self) -> str:
        return f"http://127.0.0.1:{self.node_port}"

    @property
    def token(self) -> str:
        return (self.data_dir / "operator.token").read_text().strip()

    def launch(self, *, port: int | None = None, node_port: int | None = None) -> tuple[subprocess.Popen[str], Path]:
        """Starts `ipledger up` on this data directory (in its own process group) without waiting."""
        self.starts += 1
        log_path = self.log_dir / f"up-{self.starts:02d}.log"
        log = open(log_path, "w")  # noqa: SIM115 - the child holds it; closed here right after the fork
        try:
            proc = subprocess.Popen(
                [
                    IPLEDGER,
                    "up",
                    "--data-dir",
                    str(self.data_dir),
                    "--port",
                    str(port or self.port),
                    "--node-port",
                    str(node_port or self.node_port),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                text=True,
                env=cli_env(**self.env),
                start_new_session=True,
            )
        finally:
            log.close()
        return proc, log_path

    def start(self, timeout: float = 60) -> dict[str, Any]:
        self.proc, self.log_path = self.launch()
        return self.wait_healthy(timeout)

    def wait_healthy(self, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                raise AssertionError(f"ipledger up exited ({self.proc and self.proc.returncode}): {self.log_tail()}")
            try:
                r = httpx.get(self.api + "/v1/health", timeout=2)
                if r.status_code == 200:
                    self._info = r.json()
                    return self._info
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"the API did not become healthy within {timeout:.0f}s: {self.log_tail()}")

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def healthy(self) -> bool:
        try:
            return self.running() and httpx.get(self.api + "/v1/health", timeout=3).status_code == 200
        except httpx.HTTPError:
            return False

    def ensure_running(self, notes: list[str] | None = None) -> None:
        """A running, healthy service: a scenario starts from here whatever the previous one left. When the
        data directory no longer starts (an earlier scenario failed and says why), a fresh one is used, so
        that one defect does not fail every later scenario; ``notes`` gets a line saying so."""
        if self.running():
            try:
                self.wait_healthy(20)
                return
            except AssertionError:
                self.kill_all()
        try:
            self.start()
            return
        except AssertionError as exc:
            self.kill_all()
            why = str(exc).strip().splitlines()[-1][:200]
        self.data_dir = self.data_dir.with_name(f"{self.data_dir.name}-fresh{self.starts}")
        self.firm = None
        self.start()
        self.admit_firm()
        if notes is not None:
            notes.append(f"the data directory left by the previous scenario did not start ({why}): used a fresh one")

    def log_tail(self, chars: int = 3000) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")[-chars:]

    def node_pids(self, node_port: int | None = None) -> list[int]:
        """The anvil processes serving this service's node port (from /proc, whoever started them)."""
        port = str(node_port or self.node_port).encode()
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if argv and argv[0].endswith(b"anvil") and b"--port" in argv:
                i = argv.index(b"--port")
                if i + 1 < len(argv) and argv[i + 1] == port:
                    pids.append(int(entry.name))
        return pids

    def node_pid(self, timeout: float = 10) -> int:
        found: list[int] = []

        def look() -> bool:
            found[:] = self.node_pids()
            return len(found) == 1

        wait_for(look, timeout, f"one node process on port {self.node_port}")
        return found[0]

    def stop_clean(self, timeout: float = 30) -> int:
        """Ctrl-C: SIGINT to `ipledger up`; returns its exit status."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill_all()
            raise AssertionError(
                f"ipledger up did not stop within {timeout:.0f}s of SIGINT: {self.log_tail()}"
            ) from None

    def kill_api(self) -> None:
        """SIGKILL of the API's process group (its node, in its own session, is told by the kernel)."""
        assert self.proc is not None
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=10)

    def kill_node(self) -> None:
        os.kill(self.node_pid(), signal.SIGKILL)

    def kill_all(self) -> None:
        """A crash of everything: SIGKILL of the node, then at once of the API's process group."""
        for pid in self.node_pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.proc is not None and self.proc.poll() is None:
            self.kill_api()
        wait_for(lambda: not self.node_pids(), 10, "the node to exit")

    def shutdown(self) -> None:
        if self.running():
            try:
                self.stop_clean()
            except AssertionError:
                pass
        self.kill_all()

    # -- chain and parties --

    @property
    def relayer(self) -> str:
        return str(self._info["relayer"])

    @property
    def evidence_address(self) -> str:
        return str(self._info["contracts"]["EvidenceRegistry"])

    def admit_firm(self) -> LocalAccount:
        """A party account admitted on chain (once per data directory), in a state dump before any fault."""
        if self.firm is not None:
            return self.firm
        firm: LocalAccount = Account.create()
        resp = httpx.post(
            self.api + "/v1/parties",
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=30,
            json={
                "kind": "firm",
                "jurisdiction": "mainland",
                "identifierScheme": "uscc",
                "identifier": "91110108551385082Q",
                "nameEn": "Fault Suite Ltd",
                "accounts": [firm.address],
            },
        )
        assert resp.status_code == 201, resp.text
        chain = ChainView(self)
        wait_for(lambda: chain.party_of(firm.address) != 0, 30, "the admission on chain")
        time.sleep(3)  # past the node's state interval: a node killed later restarts with the admission
        self.firm = firm
        return firm


# --- load ---------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    """One request: when it started (monotonic), how long it took, how it ended."""

    kind: str
    started: float
    elapsed: float
    status: int | None  # None: no HTTP answer (timeout, connection cut after sending)
    code: str | None = None
    retry_after: str | None = None
    error: str | None = None


@dataclass
class SentBatch:
    hashes: list[bytes]
    root: bytes
    digest: bytes


class Load:
    """Worker threads posting signed relayed singles (POST /v1/evidence) and batches (POST /v1/evidence/batch)
    to ``service`` until stopped; records every hash sent, every hash acknowledged and every answer."""

    def __init__(
        self, service: Service, *, singles: int = 2, batches: int = 0, batch_size: int = 200, timeout: float = 20.0
    ) -> None:
        self.service = service
        self.firm = service.admit_firm()
        d = httpx.get(service.api + "/v1/signing-domain", timeout=10).json()
        self.domain = eip712.Domain(int(d["chainId"]), d["verifyingContract"])
        self.deadline = max(int(time.time()), ChainView(service).now()) + 7200
        self.batch_size = batch_size
        self.timeout = timeout
        self._lock = threading.Lock()
        self.sent_singles: set[bytes] = set()
        self.acked_singles: dict[bytes, str] = {}
        # binding -> content hash: the load sends bindings (the firm is party 1), as a party's client does
        self.contents: dict[bytes, bytes] = {}
        self.sent_batches: list[SentBatch] = []
        self.acked_batches: dict[str, SentBatch] = {}
        self.outcomes: list[Outcome] = []
        self.connect_failures = 0
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._singles, daemon=True, name=f"load-single-{i}") for i in range(singles)
        ]
        self._threads += [
            threading.Thread(target=self._batches, daemon=True, name=f"load-batch-{i}") for i in range(batches)
        ]

    def start(self) -> Load:
        for t in self._threads:
            t.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(self.timeout + 10)
        assert not any(t.is_alive() for t in self._threads), "a load thread did not stop"

    # -- counts --

    @property
    def sent(self) -> int:
        with self._lock:
            return len(self.sent_singles) + sum(len(b.hashes) for b in self.sent_batches)

    @property
    def acked(self) -> int:
        with self._lock:
            return len(self.acked_singles) + sum(len(b.hashes) for b in self.acked_batches.values())

    @property
    def acked_requests(self) -> int:
        with self._lock:
            return len(self.acked_singles) + len(self.acked_batches)

    def receipts(self) -> list[str]:
        with self._lock:
            return list(self.acked_singles.values()) + list(self.acked_batches)

    def wait_acked(self, requests: int, timeout: float = 60) -> None:
        wait_for(
            lambda: self.acked_requests >= requests,
            timeout,
            f"{requests} acknowledged requests (have {self.acked_requests})",
        )

    def during(self, start: float, end: float) -> list[Outcome]:
        with self._lock:
            return [o for o in self.outcomes if start <= o.started < end]

    # -- workers --

    def _post(
        self, client: httpx.Client, kind: str, path: str, body: dict[str, Any]
    ) -> tuple[bool, httpx.Response | None]:
        """(sent, response): sent is False only when the connection was refused (nothing reached the API)."""
        t0 = time.monotonic()
        try:
            resp = client.post(self.service.api + path, json=body)
        except httpx.ConnectError:
            with self._lock:
                self.connect_failures += 1
            return False, None
        except httpx.HTTPError as exc:
            with self._lock:
                self.outcomes.append(Outcome(kind, t0, time.monotonic() - t0, None, error=type(exc).__name__))
            return True, None
        code = None
        if resp.status_code >= 400:
            try:
                code = resp.json()["error"]["code"]
            except (ValueError, KeyError, TypeError):
                code = "<no error envelope>"
        with self._lock:
            self.outcomes.append(
                Outcome(kind, t0, time.monotonic() - t0, resp.status_code, code, resp.headers.get("retry-after"))
            )
        return True, resp

    def _singles(self) -> None:
        with httpx.Client(timeout=self.timeout) as client:
            while not self._stop.is_set():
                content = self._binding()
                req = sign_single(self.firm, self.domain, binding=content, algorithm=1, nonce=0, deadline=self.deadline)
                body = {
                    "binding": "0x" + content.hex(),
                    "partyId": 1,
                    "algorithm": "sha256",
                    "registrant": self.firm.address,
                    "nonce": 0,
                    "deadline": self.deadline,
                    "signature": "0x" + req.signature.hex(),
                }
                sent, resp = self._post(client, SINGLE, "/v1/evidence", body)
                if sent:
                    with self._lock:
                        self.sent_singles.add(content)
                if resp is not None and resp.status_code == 202:
                    with self._lock:
                        self.acked_singles[content] = resp.json()["receiptId"]
                else:  # refused or unanswered: do not spin
                    self._stop.wait(0.1)

    def _binding(self) -> bytes:
        """A fresh content hash's public binding to the firm's party (1), remembered with its content hash."""
        content = os.urandom(32)
        binding = public_binding(content, 1, HashAlgorithm.SHA256)
        with self._lock:
            self.contents[binding] = content
        return binding

    def _batches(self) -> None:
        with httpx.Client(timeout=self.timeout) as client:
            while not self._stop.is_set():
                hashes = [self._binding() for _ in range(self.batch_size)]
                req = sign_batch(self.firm, self.domain, bindings=hashes, algorithm=1, deadline=self.deadline)
                root = merkle.MerkleTree(merkle.leaf_hash(x) for x in hashes).root
                digest = eip712.digest(
                    eip712.batch_submission_message(
                        self.domain,
                        root=root,
                        count=len(hashes),
                        algorithm=1,
                        registrant=self.firm.address,
                        deadline=self.deadline,
                    )
                )
                batch = SentBatch(hashes, root, digest)
                body = {
                    "algorithm": "sha256",
                    "bindings": ["0x" + x.hex() for x in hashes],
                    "partyId": 1,
                    "registrant": self.firm.address,
                    "deadline": self.deadline,
                    "signature": "0x" + req.signature.hex(),
                }
                sent, resp = self._post(client, BATCH, "/v1/evidence/batch", body)
                if sent:
                    with self._lock:
                        self.sent_batches.append(batch)
                if resp is not None and resp.status_code == 202:
                    with self._lock:
                        self.acked_batches[resp.json()["receiptId"]] = batch
                else:
                    self._stop.wait(0.1)
                self._stop.wait(0.05)  # a batch client posts in steps; the singles keep the API busy


# --- the chain, read directly -------------------------------------------------------------------------


class ChainView:
    """The node's JSON-RPC, read without the API: records, events, anchored roots, the relayer's reverts."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self.w3 = Web3(HTTPProvider(service.rpc_url, request_kwargs={"timeout": 10}))
        self.abi = load_artifact("EvidenceRegistry")["abi"]
        self.contract = self.w3.eth.contract(address=Web3.to_checksum_address(service.evidence_address), abi=self.abi)

    def now(self) -> int:
        return int(self.w3.eth.get_block("latest")["timestamp"])

    def head(self) -> int:
        return int(self.w3.eth.block_number)

    def genesis(self) -> str:
        return Web3.to_hex(self.w3.eth.get_block(0)["hash"])

    def code(self, address: str) -> bytes:
        return bytes(self.w3.eth.get_code(Web3.to_checksum_address(address)))

    def party_of(self, account: str) -> int:
        return int(self.contract.functions.partyOf(account).call()[0])

    def registration_times(self, hashes: Iterable[bytes], party_id: int = 1) -> dict[bytes, int]:
        """Registration times of bindings recorded by ``party_id`` (the load's firm is party 1), 0 where none."""
        out: dict[bytes, int] = {}
        todo = list(hashes)
        for i in range(0, len(todo), 500):
            chunk = todo[i : i + 500]
            recs = self.contract.functions.records([record_key(b, party_id) for b in chunk]).call()
            out.update(zip(chunk, (int(r[3]) for r in recs), strict=True))
        return out

    def _logs(self, topic: str, from_block: int) -> list[Any]:
        return list(
            self.w3.eth.get_logs(
                {"address": self.contract.address, "fromBlock": from_block, "toBlock": "latest", "topics": [topic]}
            )
        )

    def registrations(self, from_block: int = 0) -> tuple[Counter[bytes], dict[bytes, str]]:
        """EvidenceRegistered events: how many per content hash, and the registrant of each."""
        counts: Counter[bytes] = Counter()
        registrant: dict[bytes, str] = {}
        for log in self._logs(EVIDENCE_REGISTERED, from_block):
            h = bytes(log["topics"][1])
            counts[h] += 1
            registrant[h] = Web3.to_checksum_address(bytes(log["topics"][3])[-20:])
        return counts, registrant

    def anchors(self, from_block: int = 0) -> tuple[Counter[bytes], dict[bytes, int]]:
        """BatchAnchored events: how many per root, and the size of each."""
        counts: Counter[bytes] = Counter()
        sizes: dict[bytes, int] = {}
        for log in self._logs(BATCH_ANCHORED, from_block):
            root = bytes(log["topics"][1])
            counts[root] += 1
            sizes[root] = int.from_bytes(bytes(log["data"])[-32:], "big")
        return counts, sizes

    def relayer_reverts(self, from_block: int) -> list[tuple[str, bytes, str]]:
        """Reverted transactions the relayer sent to the evidence contract since ``from_block``: (function, key,
        tx hash), key being the binding of a registration or the root of an anchor."""
        relayer = self.service.relayer.lower()
        target = self.contract.address.lower()
        out = []
        for n in range(from_block, self.head() + 1):
            receipts = self.w3.provider.make_request("eth_getBlockReceipts", [hex(n)]).get("result") or []  # type: ignore[arg-type]
            for r in receipts:
                if int(r["status"], 16) == 1 or str(r.get("from", "")).lower() != relayer:
                    continue
                if str(r.get("to") or "").lower() != target:
                    out.append(("other", b"", r["transactionHash"]))
                    continue
                tx = self.w3.eth.get_transaction(r["transactionHash"])
                fn, args = self.contract.decode_function_input(tx["input"])
                if fn.fn_name == "registerBySignature":
                    delegated = args["delegated"]
                    request = delegated["request"] if isinstance(delegated, dict) else delegated[0]
                    key = request["binding"] if isinstance(request, dict) else request[0]
                elif fn.fn_name == "anchorBatch":
                    key = args["root"]
                else:
                    key = b""
                out.append((fn.fn_name, bytes(key), r["transactionHash"]))
        return out


# --- accounting ---------------------------------------------------------------------------------------


@dataclass
class Tally:
    scenario: str
    sent: int = 0
    acked: int = 0
    on_chain: int = 0
    lost: int = 0
    duplicated: int = 0
    unsettled: int = 0
    seconds: float = 0.0
    certificate_failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    done: bool = False
    failed: bool = False  # the scenario's test failed (for any of its assertions)
    loads: list[Load] = field(default_factory=list)

    def track(self, load: Load) -> Load:
        """Counts ``load`` in this scenario's row, even if the scenario fails before its accounting."""
        self.loads.append(load)
        return load

    def check(self) -> None:
        """The scenario's verdict on what it acknowledged: nothing lost, nothing twice, everything settled."""
        assert self.done, "the accounting did not finish"
        assert (self.lost, self.duplicated) == (0, 0), self.row()
        assert self.unsettled == 0, self.row()
        assert not self.certificate_failures, self.row()

    def row(self) -> str:
        if not self.done and self.loads:
            self.sent = sum(load.sent for load in self.loads)
            self.acked = sum(load.acked for load in self.loads)
        if not self.done:
            status = "INCOMPLETE"
        else:
            status = "FAIL" if self.failed or self.lost or self.duplicated else "ok"
        return (
            f"{self.scenario:<34} {self.sent:>7} {self.acked:>7} {self.on_chain:>8} {self.lost:>5} {self.duplicated:>5} "
            f"{self.unsettled:>9} {self.seconds:>6.0f}s  {status}"
            + ("  " + "; ".join(self.notes) if self.notes else "")
        )


HEADER = (
    f"{'scenario':<34} {'sent':>7} {'acked':>7} {'on chain':>8} {'lost':>5} {'dup':>5} {'unsettled':>9} {'time':>7}  "
    "result / notes"
)


def drain(service: Service, receipts: list[str], timeout: float = 90) -> list[str]:
    """Waits (bounded) until every receipt is final; returns those that are not."""
    pending = dict.fromkeys(receipts, "?")
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=5) as client:
        while pending and time.monotonic() < deadline:
            for r in list(pending):
                try:
                    resp = client.get(f"{service.api}/v1/receipts/{r}")
                except httpx.HTTPError:
                    break
                status = (
                    resp.json().get("status", f"http {resp.status_code}")
                    if resp.status_code == 200
                    else f"http {resp.status_code}"
                )
                if status == "final":
                    del pending[r]
                else:
                    pending[r] = status
            if pending:
                time.sleep(0.5)
    return [f"{r}={s}" for r, s in pending.items()]


def journal_batches(service: Service) -> dict[bytes, list[bytes]]:
    """The journal's batches: root -> the member submissions' digests in tree order (from the data directory's
    SQLite journal, or from the PostgreSQL journal a service of several processes shares: ``journal_url``)."""
    url = getattr(service, "journal_url", None)
    if url:
        from sqlalchemy import create_engine, text

        engine = create_engine(url)
        try:
            with engine.connect() as conn:
                batches = {int(i): bytes(root) for i, root in conn.execute(text("SELECT id, root FROM batches"))}
                members: dict[int, list[bytes]] = {i: [] for i in batches}
                for batch_id, digest in conn.execute(
                    text(
                        "SELECT batch_id, digest FROM submissions WHERE batch_id IS NOT NULL "
                        "ORDER BY batch_id, batch_index"
                    )
                ):
                    members.setdefault(int(batch_id), []).append(bytes(digest))
        finally:
            engine.dispose()
        return {batches[i]: members.get(i, []) for i in batches}
    db = sqlite3.connect(f"file:{service.data_dir / 'journal.sqlite3'}?mode=ro", uri=True, timeout=10)
    try:
        batches = {int(i): bytes(root) for i, root in db.execute("SELECT id, root FROM batches")}
        members: dict[int, list[bytes]] = {i: [] for i in batches}
        for batch_id, digest in db.execute(
            "SELECT batch_id, digest FROM submissions WHERE batch_id IS NOT NULL ORDER BY batch_id, batch_index"
        ):
            members.setdefault(int(batch_id), []).append(bytes(digest))
    finally:
        db.close()
    return {batches[i]: members.get(i, []) for i in batches}


def account(
    service: Service,
    tally: Tally,
    loads: list[Load],
    *,
    from_block: int,
    drain_timeout: float = 90,
    certificates: int = 3,
) -> Tally:
    """Drains the acknowledged receipts, then counts from the chain. Fills ``tally`` (also on failure)."""
    acked_singles: dict[bytes, str] = {}
    sent_singles: set[bytes] = set()
    acked_batches: dict[str, SentBatch] = {}
    contents: dict[bytes, bytes] = {}
    for load in loads:
        contents.update(load.contents)
        acked_singles.update(load.acked_singles)
        sent_singles |= load.sent_singles
        acked_batches.update(load.acked_batches)
    tally.sent = sum(load.sent for load in loads)
    tally.acked = sum(load.acked for load in loads)

    unsettled = drain(service, [*acked_singles.values(), *acked_batches], drain_timeout)
    tally.unsettled = len(unsettled)
    if unsettled:
        tally.notes.append(f"not final after {drain_timeout:.0f}s: {', '.join(unsettled[:3])}")

    chain = ChainView(service)
    firm = service.firm.address if service.firm else ""
    # relayed singles: the contract's records and events
    times = chain.registration_times(acked_singles)
    counts, registrant = chain.registrations()
    singles_on_chain = {h for h, t in times.items() if t and registrant.get(h) == firm}
    twice = {h: c for h, c in counts.items() if c > 1 and (h in sent_singles)}
    # batches: anchored roots recomputed from the journal's members
    anchor_counts, sizes = chain.anchors()
    members = journal_batches(service) if acked_batches or anchor_counts else {}
    anchored_digests: Counter[bytes] = Counter()
    orphans = 0
    for root, size in sizes.items():
        leaves = members.get(root)
        if leaves is None or merkle.MerkleTree(merkle.leaf_hash(d) for d in leaves).root != root or len(leaves) != size:
            orphans += 1
            continue
        anchored_digests.update(leaves)
    batch_on_chain = {r for r, b in acked_batches.items() if anchored_digests[b.digest] >= 1}
    twice_batched = sum(1 for b in acked_batches.values() if anchored_digests[b.digest] > 1)
    roots_twice = sum(c - 1 for c in anchor_counts.values() if c > 1)
    # second sends that reverted
    reverts = chain.relayer_reverts(from_block)
    ours = [r for r in reverts if r[0] == "anchorBatch" or r[1] in sent_singles]
    others = len(reverts) - len(ours)

    tally.on_chain = len(singles_on_chain) + sum(len(acked_batches[r].hashes) for r in batch_on_chain)
    tally.lost = tally.acked - tally.on_chain
    tally.duplicated = sum(c - 1 for c in twice.values()) + twice_batched + roots_twice + len(ours) + orphans
    if tally.lost:
        missing = [h for h in acked_singles if h not in singles_on_chain][:2]
        tally.notes.append(
            f"lost: {len(acked_singles) - len(singles_on_chain)} singles "
            f"{[acked_singles[h] for h in missing]}, "
            f"{len(acked_batches) - len(batch_on_chain)} batch requests"
        )
    if ours:
        tally.notes.append(f"reverted second sends: {[(f, '0x' + k.hex()[:12], t[:12]) for f, k, t in ours[:3]]}")
    if orphans:
        tally.notes.append(f"{orphans} anchored roots the journal cannot account for")
    if others:
        tally.notes.append(f"{others} other reverted relayer transactions")

    # end to end: a few certificates, issued by the API, verified against the node
    rpc = Rpc.from_web3(chain.w3)
    samples = [h for h in list(singles_on_chain)[:certificates]]
    samples += [acked_batches[r].hashes[-1] for r in list(batch_on_chain)[:certificates]]
    failed = []
    for h in samples:
        try:
            resp = httpx.get(f"{service.api}/v1/evidence/0x{h.hex()}/certificate?partyId=1", timeout=30)
        except httpx.HTTPError as exc:
            failed.append(f"0x{h.hex()[:12]}: {type(exc).__name__}")
            continue
        if resp.status_code != 200:
            failed.append(f"0x{h.hex()[:12]}: {resp.status_code}")
            continue
        cert = resp.json()
        if cert["evidence"]["contentHash"] is None and h in contents:  # issued for the binding: the party adds it
            complete_certificate(cert, contents[h], None)
        report = verify(cert, rpc)
        if not report.passed:
            checks = [f"{c.name} ({c.detail[:80]})" for c in report.checks if c.status == "failed"]
            failed.append(f"0x{h.hex()[:12]}: {checks}")
    if failed:
        tally.certificate_failures = failed
        tally.notes.append(f"certificates that do not verify: {failed}")
    tally.done = True
    return tally


class HealthProbe:
    """GET /v1/health in a loop, one at a time, each answer recorded as an :class:`Outcome`."""

    def __init__(self, service: Service, timeout: float = 20.0) -> None:
        self.service = service
        self.timeout = timeout
        self.outcomes: list[Outcome] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="health-probe")

    def start(self) -> HealthProbe:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(self.timeout + 10)

    def _run(self) -> None:
        with httpx.Client(timeout=self.timeout) as client:
            while not self._stop.is_set():
                t0 = time.monotonic()
                try:
                    r = client.get(self.service.api + "/v1/health")
                    self.outcomes.append(
                        Outcome(
                            "health", t0, time.monotonic() - t0, r.status_code, retry_after=r.headers.get("retry-after")
                        )
                    )
                except httpx.HTTPError as exc:
                    self.outcomes.append(Outcome("health", t0, time.monotonic() - t0, None, error=type(exc).__name__))
                self._stop.wait(0.25)
