"""Measure 7d: relayed singles with the service as deployed in several processes (issue 14, deliverable 4).

`ipledger serve` replicas (each its own process) check and journal, one `ipledger worker` (its own process) sends,
over a throwaway PostgreSQL journal; the clients run here, in this process. Side by side, round by round, with the
same client threads: the same registrations pre-signed as plain transactions and sent with
`eth_sendRawTransaction` to the same node (the peer of measure 7). Reported for 1 and 2 replicas, for 2 replicas
of one `ipledger serve --workers 2` on one port, and for 2 replicas with a second relayer account
(`ipledger worker --singles-only`) sharing the singles; each layout on a chain and a journal of its own:

- accepted: 202 answers per second (checked against every contract rule by a simulation, and journalled);
- on chain: registrations per second from the first request until the last one is on chain (the worker's
  sending included), against the peer's rate until its last transaction is mined.

Where it stops: the CPU seconds each process (replicas, worker, node, PostgreSQL, the clients here) spends per
registration while each side runs (from ``/proc``), and the blocks the automining node mines for each side.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from eth_account import Account
from eth_utils import keccak

from benchmarks.api_bench import CHAIN_ID, JSON_HEADERS, _pool_run, unique_hashes
from benchmarks.env import BenchChain
from benchmarks.report import Result, ratio_result
from ledger.chain.deployment import manifest_path
from ledger.chain.node import free_port
from ledger.domain.evidence import sign_single
from ledger.domain.hashing import HashAlgorithm, public_binding
from ledger.storage.keys import write_keystore

PASSWORD = "bench password"
IPLEDGER = str(Path(__file__).resolve().parents[1] / ".venv" / "bin" / "ipledger")


@dataclass
class Layout:
    urls: list[str]
    workers: list[int]  # the workers' pids: the anchoring relayer's, then any `--singles-only` ones
    replicas: list[int]  # the replicas' pids


def _cpu_seconds(pid: int) -> float:
    """User and system CPU seconds of a process so far (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _postgres_pids() -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


class CpuMeter:
    """CPU seconds spent by each part of the deployed layout (and this process's clients) between two reads."""

    def __init__(self, chain: BenchChain, where: Layout) -> None:
        node = chain.node.process.pid if chain.node.process is not None else None
        self.parts: dict[str, list[int]] = {
            "replicas": where.replicas,
            "worker": where.workers,
            "node": [node] if node is not None else [],
            "PostgreSQL": _postgres_pids(),
            "clients": [os.getpid()],
        }
        self._start = self._read()

    def _read(self) -> dict[str, float]:
        return {part: sum(_cpu_seconds(p) for p in pids) for part, pids in self.parts.items()}

    def restart(self) -> None:
        self.parts["PostgreSQL"] = _postgres_pids()  # a backend per connection: those opened since count too
        self._start = self._read()

    def spent(self) -> dict[str, float]:
        now = self._read()
        return {part: now[part] - self._start[part] for part in now}


@contextmanager
def layout(
    chain: BenchChain, journal_url: str, replicas: int, relayers: int = 1, *, one_port: bool = False
) -> Iterator[Layout]:
    """``replicas`` `ipledger serve` processes (``one_port``: one `ipledger serve --workers replicas`), one
    `ipledger worker` of the anchoring relayer and ``relayers - 1`` `ipledger worker --singles-only` of relayer
    accounts of their own (funded here) on ``chain``; yields where they run."""
    with tempfile.TemporaryDirectory(prefix="ipledger-bench-scale-") as tmp:
        root = Path(tmp)
        chain.manifest.save(manifest_path(root / "data", chain.manifest.chain_id))
        keystore = write_keystore(root / "relayer.json", chain.operator, PASSWORD, kdf="pbkdf2")
        env = {k: v for k, v in os.environ.items() if not k.startswith("IPLEDGER_")}
        env.update(
            IPLEDGER_RPC_URL=chain.node.rpc_url,
            IPLEDGER_DATA_DIR=str(root / "data"),
            IPLEDGER_JOURNAL_URL=journal_url,
            IPLEDGER_KEYSTORE_PASSWORD=PASSWORD,
            IPLEDGER_CONFIRMATIONS="1",
            IPLEDGER_FINAL_AFTER="0",
            IPLEDGER_BATCH_INTERVAL="0.2",
            IPLEDGER_RELAYER_LOCK_DIR=str(root / "locks"),
            IPLEDGER_OPERATOR_TOKEN="bench-token",
        )
        procs: list[subprocess.Popen[bytes]] = []
        try:
            procs.append(
                subprocess.Popen(
                    [IPLEDGER, "worker"],
                    env={**env, "IPLEDGER_KEYSTORE": str(keystore)},
                    stdout=(root / "worker.log").open("wb"),
                    stderr=subprocess.STDOUT,
                )
            )
            for k in range(1, relayers):
                extra = Account.from_key(keccak(text=f"ipledger-bench:scale-relayer-{k}"))
                chain.fund(extra.address)
                extra_keystore = write_keystore(root / f"relayer{k}.json", extra, PASSWORD, kdf="pbkdf2")
                procs.append(
                    subprocess.Popen(
                        [IPLEDGER, "worker", "--singles-only"],
                        env={**env, "IPLEDGER_KEYSTORE": str(extra_keystore)},
                        stdout=(root / f"worker{k}.log").open("wb"),
                        stderr=subprocess.STDOUT,
                    )
                )
            urls = []
            for i in range(1 if one_port else replicas):
                port = free_port()
                procs.append(
                    subprocess.Popen(
                        [IPLEDGER, "serve", "--port", str(port), *(["--workers", str(replicas)] if one_port else [])],
                        env=env,
                        stdout=(root / f"serve{i}.log").open("wb"),
                        stderr=subprocess.STDOUT,
                    )
                )
                urls.append(f"http://127.0.0.1:{port}")
            deadline = time.monotonic() + 90
            logs = [root / "worker.log", *(root / f"worker{k}.log" for k in range(1, relayers))]
            while not all(_healthy(u) for u in urls) or not all("leading" in log.read_text() for log in logs):
                if time.monotonic() > deadline:
                    raise RuntimeError("the layout did not start: " + logs[0].read_text()[-500:])
                time.sleep(0.2)
            serving = [p.pid for p in procs[relayers:]]
            if one_port:  # the replicas are the forked children of the one `serve`
                while len(serving := sorted(_children(procs[relayers].pid))) < replicas:
                    if time.monotonic() > deadline:
                        raise RuntimeError("the replicas of `serve --workers` did not start")
                    time.sleep(0.2)
            yield Layout(urls, [p.pid for p in procs[:relayers]], serving)
        finally:
            for p in procs:
                if p.poll() is None:
                    p.send_signal(signal.SIGTERM)
            for p in procs:
                try:
                    p.wait(30)
                except subprocess.TimeoutExpired:
                    p.kill()


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue
    return found


def _healthy(url: str) -> bool:
    try:
        return httpx.get(url + "/v1/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def deployed_singles(
    chain: BenchChain,
    journal_url: str,
    *,
    replicas: int,
    n: int,
    rounds: int,
    threads: int,
    relayers: int = 1,
    one_port: bool = False,
) -> list[Result]:
    w3 = chain.w3
    deadline = int(w3.eth.get_block("latest")["timestamp"]) + 7200
    domain = chain.domain()
    per_round = max(1, n // rounds)
    tag = (f"{replicas}" if relayers == 1 else f"{replicas}r{relayers}") + ("w" if one_port else "")
    peer = Account.from_key(keccak(text=f"ipledger-bench:scale-raw-sender-{tag}"))
    chain.fund(peer.address)
    accepted: list[tuple[float, float]] = []
    landed: list[tuple[float, float]] = []
    spent: dict[str, float] = {}  # CPU seconds of each part while our side ran, over every round
    peer_spent: dict[str, float] = {}  # the same while the peer ran
    blocks: dict[str, int] = {}  # blocks the automining node mined while each side ran
    with ExitStack() as stack:
        where = stack.enter_context(layout(chain, journal_url, replicas, relayers, one_port=one_port))
        urls = where.urls
        meter = CpuMeter(chain, where)
        for r in range(rounds):
            bodies: list[tuple[str, bytes]] = []
            bindings = []
            for i, content in enumerate(unique_hashes(per_round, f"scale{tag}-api{r}")):
                binding = public_binding(content, 1, HashAlgorithm.SHA256)
                req = sign_single(chain.party, domain, binding=binding, algorithm=1, nonce=0, deadline=deadline)
                body = {
                    "binding": "0x" + binding.hex(),
                    "partyId": 1,
                    "algorithm": "sha256",
                    "registrant": chain.party.address,
                    "nonce": 0,
                    "deadline": deadline,
                    "signature": "0x" + req.signature.hex(),
                }
                bodies.append((urls[i % len(urls)], json.dumps(body).encode()))
                bindings.append(binding)
            base = int(w3.eth.get_block("latest").get("baseFeePerGas") or 0)
            fees = {"maxFeePerGas": base * 4 + 2_000_000_000, "maxPriorityFeePerGas": 1_000_000_000}
            nonce = int(w3.eth.get_transaction_count(peer.address))
            raws = []
            for content in unique_hashes(per_round, f"scale{tag}-raw{r}"):
                req = sign_single(chain.party, domain, binding=content, algorithm=1, nonce=0, deadline=deadline)
                tx = chain.evidence.functions.registerBySignature(req.as_args()).build_transaction(
                    {"from": peer.address, "nonce": nonce, "gas": 200_000, "chainId": chain.manifest.chain_id, **fees}
                )
                raws.append("0x" + bytes(peer.sign_transaction(tx).raw_transaction).hex())
                nonce += 1

            def ours() -> tuple[float, float]:
                meter.restart()
                first = int(w3.eth.block_number)
                t0 = time.perf_counter()
                secs = _pool_run("", threads, bodies, _post, lambda cl: None)
                _until_recorded(chain, bindings)
                rate = per_round / secs, per_round / (time.perf_counter() - t0)
                blocks["ours"] = blocks.get("ours", 0) + int(w3.eth.block_number) - first
                for part, seconds in meter.spent().items():
                    spent[part] = spent.get(part, 0.0) + seconds
                return rate

            def theirs() -> tuple[float, float]:
                meter.restart()
                first = int(w3.eth.block_number)
                t0 = time.perf_counter()
                secs = _pool_run(chain.node.rpc_url, threads, raws, _raw, lambda cl: cl.post("/", json=CHAIN_ID))
                _until_nonce(chain, peer.address, nonce)
                rate = per_round / secs, per_round / (time.perf_counter() - t0)
                blocks["peer"] = blocks.get("peer", 0) + int(w3.eth.block_number) - first
                for part, seconds in meter.spent().items():
                    peer_spent[part] = peer_spent.get(part, 0.0) + seconds
                return rate

            got: dict[str, tuple[float, float]] = {}
            for k in ("ours", "peer") if r % 2 == 0 else ("peer", "ours"):
                got[k] = ours() if k == "ours" else theirs()
            accepted.append((got["ours"][0], got["peer"][0]))
            landed.append((got["ours"][1], got["peer"][1]))
    label = f"{replicas} `ipledger serve` replica{'s' if replicas > 1 else ''} + 1 `ipledger worker`"
    if one_port:
        label = f"1 `ipledger serve --workers {replicas}` + 1 `ipledger worker`"
    if relayers > 1:
        label += f" + {relayers - 1} `ipledger worker --singles-only` of {relayers - 1} more relayer account" + (
            "s" if relayers > 2 else ""
        )
    total = per_round * rounds
    cores = os.cpu_count() or 1
    cpu = ", ".join(f"{part} {1000 * seconds / total:.2f}" for part, seconds in spent.items())
    ours_ms, peer_ms = sum(spent.values()) / total * 1000, sum(peer_spent.values()) / total * 1000
    where_it_stops = (
        f"CPU ms per registration, from request to record on chain: {cpu}; {ours_ms:.2f} ms in all, against "
        f"{peer_ms:.2f} ms for the peer's (node {1000 * peer_spent.get('node', 0) / total:.2f}, clients "
        f"{1000 * peer_spent.get('clients', 0) / total:.2f}): where both keep this machine's {cores} cores "
        f"busy, the ratio is at most {peer_ms / ours_ms if ours_ms else 0:.2f}×. The automining node mined "
        f"{blocks.get('ours', 0) / total:.2f} blocks per registration for ours (each worker sends what it claimed "
        "as one JSON-RPC batch), "
        f"{blocks.get('peer', 0) / total:.2f} for the peer's (its clients send at once)"
    )
    return [
        ratio_result(
            f"7d-{tag}",
            f"relayed singles accepted, service in its own processes ({label}, PostgreSQL journal; {total} in "
            f"{rounds} rounds, {threads} client threads)",
            "req/s",
            f"`eth_sendRawTransaction` of the same calls pre-signed, same node, {threads} threads",
            ">=",
            0.5,
            accepted,
            note="202 = checked against every contract rule (a simulation on the node) and journalled in PostgreSQL; "
            f"the worker sends it. {where_it_stops}",
        ),
        ratio_result(
            f"7e-{tag}",
            f"relayed singles on chain, service in its own processes ({label})",
            "reg/s",
            "the same raw transactions until the last is mined",
            ">=",
            0.5,
            landed,
            note="from the first request until every registration is recorded on chain (the worker's sending "
            "included), against the peer until its last transaction is mined",
        ),
    ]


def _post(cl: httpx.Client, job: tuple[str, bytes]) -> None:
    url, body = job
    resp = cl.post(url + "/v1/evidence", content=body, headers=JSON_HEADERS)
    if resp.status_code != 202:
        raise RuntimeError(f"POST /v1/evidence answered {resp.status_code}: {resp.text[:300]}")


def _raw(cl: httpx.Client, raw: str) -> None:
    out = cl.post("/", json={"jsonrpc": "2.0", "id": 1, "method": "eth_sendRawTransaction", "params": [raw]}).json()
    if "error" in out:
        raise RuntimeError(f"eth_sendRawTransaction: {out['error']}")


def _until_recorded(chain: BenchChain, bindings: list[bytes], timeout: float = 300) -> None:
    """Waits until every binding is recorded; asks the node only about those not seen recorded yet (the node's
    time spent on the benchmark's own polling is not the service's)."""
    deadline = time.monotonic() + timeout
    keys = [keccak(b + (1).to_bytes(32, "big")) for b in bindings]
    while True:
        found = chain.evidence.functions.records(keys[-1:]).call()
        if all(int(rec[3]) for rec in found):  # the last accepted first (sent last): then look at the rest
            found = chain.evidence.functions.records(keys).call()
            keys = [k for k, rec in zip(keys, found, strict=True) if not int(rec[3])]
            if not keys:
                return
        if time.monotonic() > deadline:
            raise RuntimeError("the worker did not record every registration in time")
        time.sleep(0.05)


def _until_nonce(chain: BenchChain, account: str, nonce: int, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while int(chain.w3.eth.get_transaction_count(account)) < nonce:
        if time.monotonic() > deadline:
            raise RuntimeError("the peer's transactions were not mined in time")
        time.sleep(0.05)


LAYOUTS = ((1, 1, False), (2, 1, False), (2, 1, True), (2, 2, False))  # replicas, relayer accounts, one port


def measure(server_url: str, *, n: int, rounds: int, threads: int) -> list[Result]:
    """Every layout of LAYOUTS, each on a chain and a journal of its own (a new embedded anvil with the suite, a
    new database on the PostgreSQL server at ``server_url``): anvil answers more slowly as its chain grows, so on
    one chain each layout would meet a slower peer than the one before it."""
    from tests.pg import fresh_database

    results: list[Result] = []
    for replicas, relayers, one_port in LAYOUTS:
        with BenchChain.start() as chain:
            results += deployed_singles(
                chain,
                fresh_database(server_url),
                replicas=replicas,
                n=n,
                rounds=rounds,
                threads=threads,
                relayers=relayers,
                one_port=one_port,
            )
    return results


def postgres_url() -> Iterator[str | None]:
    """A throwaway PostgreSQL server's URL, or None (with the reason printed) where it cannot run."""
    from tests.pg import PostgresUnavailable, temporary_postgres

    try:
        with temporary_postgres() as url:
            yield url
    except PostgresUnavailable as exc:
        print(f"[bench] the deployed-layout rows skipped: {exc}")
        yield None


postgres = contextmanager(postgres_url)
