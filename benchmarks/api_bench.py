"""Measures 6-8: the real FastAPI app under uvicorn (in a thread of this process) over the benchmark chain."""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from api.app import create_app
from api.schemas import EvidenceBatchCreate
from benchmarks.common import count_rpc
from benchmarks.env import BenchChain
from benchmarks.report import Result, ratio_result
from ledger.chain.node import DEV_OPERATOR_KEY, free_port
from ledger.chain.rpc import connect
from ledger.chain.sender import TxSender
from ledger.config import Settings
from ledger.domain.evidence import sign_batch, sign_single
from ledger.domain.hashing import HashAlgorithm, public_binding
from ledger.facade import Ledger

SHA256 = 1
OPERATOR_TOKEN = "bench-operator-token"
JSON_HEADERS = {"Content-Type": "application/json"}
CHAIN_ID = {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}


@dataclass
class Service:
    chain: BenchChain
    ledger: Ledger
    app: Any
    url: str
    server: uvicorn.Server
    thread: threading.Thread


@contextmanager
def running_service(chain: BenchChain, *, batch_interval: float = 0.1) -> Iterator[Service]:
    """The real app (create_app, pipeline on) served by uvicorn on 127.0.0.1:<free port>; stopped on exit."""
    with tempfile.TemporaryDirectory(prefix="ipledger-bench-api-") as tmp:
        settings = Settings(
            data_dir=Path(tmp) / "data",
            operator_token=OPERATOR_TOKEN,
            confirmations=1,
            batch_interval=batch_interval,
            public_url="http://127.0.0.1",
        )
        w3 = connect(chain.rpc_url, timeout=60)  # the service's own connection, as `ipledger up` opens it
        relayer = TxSender(w3, Account.from_key(DEV_OPERATOR_KEY))
        ledger = Ledger(w3=w3, manifest=chain.manifest, settings=settings, relayer=relayer)
        app = create_app(ledger, settings, run_pipeline=True)

        def ping() -> dict[str, bool]:
            return {"ok": True}

        def batch_parse(body: EvidenceBatchCreate) -> dict[str, int]:
            return {"count": len(body.hashes)}

        app.add_api_route("/bench/ping", ping, methods=["GET"])  # benchmark-only trivial route, same app
        # benchmark-only: the HTTP and FastAPI share of POST /v1/evidence/batch (same body model, no work)
        app.add_api_route("/bench/batch-parse", batch_parse, methods=["POST"])
        port = free_port()
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            log_level="warning",
            access_log=False,
            lifespan="on",
            timeout_keep_alive=60,
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, name="bench-uvicorn", daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        try:
            yield Service(chain, ledger, app, f"http://127.0.0.1:{port}", server, thread)
        finally:
            server.should_exit = True
            thread.join(30)
            ledger.close()


def client(url: str) -> httpx.Client:
    return httpx.Client(base_url=url, timeout=300)


def unique_hashes(n: int, label: str) -> list[bytes]:
    seed = keccak(text=f"bench:{label}:{time.time_ns()}:{os.getpid()}")
    return [keccak(seed + i.to_bytes(8, "big")) for i in range(n)]


# --- 6: bulk ingest ---------------------------------------------------------------------------------


def batch_body(svc: Service, party: LocalAccount, hashes: list[bytes], deadline: int) -> bytes:
    """Exactly tests/api/conftest.py ``Api.batch_body`` (the content hashes' public bindings to the bench party,
    party 1), pre-encoded so the client's JSON work is not timed."""
    hashes = [public_binding(hh, 1, HashAlgorithm.SHA256) for hh in hashes]
    req = sign_batch(party, svc.chain.domain(), bindings=hashes, algorithm=SHA256, deadline=deadline)
    body = {
        "algorithm": "sha256",
        "bindings": ["0x" + hh.hex() for hh in hashes],
        "partyId": 1,
        "registrant": party.address,
        "deadline": deadline,
        "signature": "0x" + req.signature.hex(),
    }
    return json.dumps(body, separators=(",", ":")).encode()


def bulk_ingest(svc: Service, *, items: int, posts: int) -> tuple[list[Result], dict[str, Any]]:
    c = svc.chain
    deadline = c.now() + 3600
    all_hashes = [unique_hashes(items, f"batch{i}") for i in range(posts)]
    bodies = [batch_body(svc, c.party, hashes, deadline) for hashes in all_hashes]
    accepted: list[float] = []
    receipts: list[str] = []
    done: dict[str, float] = {}
    stop = threading.Event()

    def poll() -> None:  # a second client follows the receipts while the first keeps posting
        with client(svc.url) as cl:
            while not stop.is_set():
                for rid in list(receipts):
                    if rid in done:
                        continue
                    st = cl.get(f"/v1/receipts/{rid}").json()
                    if st["status"] in ("registered", "final"):
                        done[rid] = time.perf_counter()
                    elif st["status"] == "rejected":
                        raise RuntimeError(f"batch {rid} rejected: {st}")
                time.sleep(0.02)

    poller = threading.Thread(target=poll, name="bench-poll", daemon=True)
    with client(svc.url) as cl:
        cl.get("/bench/ping")  # connection up before the clock starts
        t_first = time.perf_counter()
        poller.start()
        for body in bodies:
            t0 = time.perf_counter()
            resp = cl.post("/v1/evidence/batch", content=body, headers=JSON_HEADERS)
            dt = time.perf_counter() - t0
            if resp.status_code != 202:
                raise RuntimeError(f"batch POST answered {resp.status_code}: {resp.text[:300]}")
            receipts.append(resp.json()["receiptId"])
            accepted.append(items / dt)
        limit_wait = time.monotonic() + 300
        while len(done) < len(receipts) and poller.is_alive() and time.monotonic() < limit_wait:
            time.sleep(0.02)
        stop.set()
        poller.join(10)
    if len(done) < len(receipts):
        raise RuntimeError(f"only {len(done)} of {len(receipts)} batches anchored within the wait")
    anchored_rate = items * posts / (max(done.values()) - t_first)
    sub = svc.ledger.store.submission(int(receipts[-1].removeprefix("sub_")))
    anchor_gas = None
    if sub is not None and sub.tx_hash:
        anchor_gas = int(c.w3.eth.get_transaction_receipt(sub.tx_hash)["gasUsed"])
    extra = {
        "first_hash": all_hashes[0][0],
        "accepted_rates": accepted,
        "anchored_rate": anchored_rate,
        "anchor_gas": anchor_gas,
        "items": items,
    }
    med = statistics.median(accepted)
    results = [
        Result(
            "6",
            f"bulk ingest over HTTP: hashes accepted/s (POST /v1/evidence/batch, {items:,} hashes × {posts})",
            ours=med,
            unit="hashes/s",
            peer=100_000,
            peer_label="",
            kind="limit",
            op=">=",
            target=1.0,
            ratio=med / 100_000,
            rounds=[a / 100_000 for a in accepted],
            stat="median",
            note="request wall time per POST; median of the POSTs",
        ),
        Result(
            "6",
            f"bulk ingest over HTTP: hashes anchored/s with proofs kept ({items * posts:,} hashes)",
            ours=anchored_rate,
            unit="hashes/s",
            peer=50_000,
            peer_label="",
            kind="limit",
            op=">=",
            target=1.0,
            ratio=anchored_rate / 50_000,
            note="from the first POST to every receipt `registered`"
            + (f"; one anchor = {anchor_gas:,} gas = {anchor_gas / items:.3g} gas/item" if anchor_gas else ""),
        ),
    ]
    return results, extra


# --- 7: relayed single registrations --------------------------------------------------------------------


def _pool_run(
    url: str,
    threads: int,
    jobs: list[Any],
    fn: Callable[[httpx.Client, Any], None],
    warm: Callable[[httpx.Client], Any],
) -> float:
    """Runs ``fn(client, job)`` for every job on ``threads`` threads, one httpx client each; wall seconds."""
    chunks = [jobs[i::threads] for i in range(threads)]
    clients = [client(url) for _ in range(threads)]
    barrier = threading.Barrier(threads + 1)

    def worker(cl: httpx.Client, chunk: list[Any]) -> None:
        barrier.wait()
        for job in chunk:
            fn(cl, job)

    try:
        for cl in clients:  # open the connections before the clock starts
            warm(cl)
        with ThreadPoolExecutor(threads) as ex:
            futs = [ex.submit(worker, cl, ch) for cl, ch in zip(clients, chunks, strict=True)]
            barrier.wait()
            t0 = time.perf_counter()
            for f in futs:
                f.result()
            return time.perf_counter() - t0
    finally:
        for cl in clients:
            cl.close()


def relayed_singles(svc: Service, *, n: int, rounds: int, threads: int) -> tuple[Result, dict[str, Any]]:
    c = svc.chain
    w3 = c.w3
    deadline = c.now() + 3600
    domain = c.domain()
    per_round = max(1, n // rounds)

    # The peer: registerBySignature calls of the same party, pre-signed as plain transactions by another account
    # with explicit nonces, gas and fees, sent with eth_sendRawTransaction.
    peer_acct = Account.from_key(keccak(text="ipledger-bench:raw-sender"))
    c.fund(peer_acct.address)
    base = int(w3.eth.get_block("latest").get("baseFeePerGas") or 0)
    fees = {"maxFeePerGas": base * 4 + 2_000_000_000, "maxPriorityFeePerGas": 1_000_000_000}
    peer_nonce = int(w3.eth.get_transaction_count(peer_acct.address))
    registered: list[bytes] = []

    def signed_single(content: bytes) -> Any:
        return sign_single(c.party, domain, binding=content, algorithm=SHA256, nonce=0, deadline=deadline)

    def api_job(cl: httpx.Client, body: bytes) -> None:
        resp = cl.post("/v1/evidence", content=body, headers=JSON_HEADERS)
        if resp.status_code != 202:
            raise RuntimeError(f"POST /v1/evidence answered {resp.status_code}: {resp.text[:300]}")

    def raw_job(cl: httpx.Client, raw: str) -> None:
        resp = cl.post("/", json={"jsonrpc": "2.0", "id": 1, "method": "eth_sendRawTransaction", "params": [raw]})
        out = resp.json()
        if "error" in out:
            raise RuntimeError(f"eth_sendRawTransaction: {out['error']}")

    pairs: list[tuple[float, float]] = []
    with count_rpc(svc.ledger.w3) as tally:
        for r in range(rounds):
            api_bodies = []
            for content in unique_hashes(per_round, f"single-api{r}"):
                binding = public_binding(content, 1, HashAlgorithm.SHA256)  # as the party's client computes it
                req = signed_single(binding)
                api_bodies.append(
                    json.dumps(
                        {
                            "binding": "0x" + binding.hex(),
                            "partyId": 1,
                            "algorithm": "sha256",
                            "registrant": c.party.address,
                            "nonce": 0,
                            "deadline": deadline,
                            "signature": "0x" + req.signature.hex(),
                        }
                    ).encode()
                )
                registered.append(content)
            raws = []
            for content in unique_hashes(per_round, f"single-raw{r}"):
                fn = c.evidence.functions.registerBySignature(signed_single(content).as_args())
                tx = fn.build_transaction(
                    {
                        "from": peer_acct.address,
                        "nonce": peer_nonce,
                        "gas": 200_000,
                        "chainId": c.manifest.chain_id,
                        **fees,
                    }
                )
                raws.append("0x" + bytes(peer_acct.sign_transaction(tx).raw_transaction).hex())
                peer_nonce += 1
            runs = {
                "ours": lambda: _pool_run(svc.url, threads, api_bodies, api_job, lambda cl: cl.get("/bench/ping")),
                "peer": lambda: _pool_run(c.rpc_url, threads, raws, raw_job, lambda cl: cl.post("/", json=CHAIN_ID)),
            }
            secs = {}
            for k in ("ours", "peer") if r % 2 == 0 else ("peer", "ours"):
                secs[k] = runs[k]()
                _settle(svc, peer_acct.address, peer_nonce if k == "peer" else 0)  # untimed
            pairs.append((per_round / secs["ours"], per_round / secs["peer"]))
    total = per_round * rounds
    req_calls = sum(tally.calls.values()) - tally.pipeline_calls
    result = ratio_result(
        "7",
        f"relayed single registrations over HTTP (POST /v1/evidence, {total} in {rounds} rounds, "
        f"{threads} client threads)",
        "req/s",
        f"`eth_sendRawTransaction` of the same calls pre-signed, same node, {threads} threads",
        ">=",
        0.5,
        pairs,
        note="each side's transactions are mined by the automining node; 202 = journalled and sent. During this "
        f"measure the service made {req_calls / total:.1f} JSON-RPC calls per request from its request threads, "
        f"and its pipeline thread {tally.pipeline_calls / total:.1f} more per request (following in-flight singles)",
    )
    return result, {"registered": registered}


def _settle(svc: Service, peer: str, nonce: int, timeout: float = 120) -> None:
    """Waits (untimed) for the peer's transactions to be mined and the API's singles to be sent."""
    w3 = svc.chain.w3
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        counts = svc.ledger.store.counts()
        if int(w3.eth.get_transaction_count(peer)) >= nonce and not counts.get("queued"):
            return
        time.sleep(0.05)
    raise RuntimeError("transactions did not settle")


# --- 8: GET /v1/evidence/{hash} ------------------------------------------------------------------------------


def _await_final(svc: Service, path: str, timeout: float = 120) -> None:
    """Waits (untimed) until the looked-up hash's receipt is final: the pipeline has seen its block
    `confirmations` deep and `final_after` seconds old, as a lookup of a settled record finds it. The bench's anvil
    mines only on transactions, so a block is mined each second while waiting: the looked-up record may be in the
    last block the previous measure made, which nothing else would ever bury."""
    end = time.monotonic() + timeout
    mined = time.monotonic()
    with client(svc.url) as cl:
        first = cl.get(path)
        if first.status_code != 200:
            raise RuntimeError(f"GET {path} answered {first.status_code}: {first.text[:300]}")
        receipt_id = first.json().get("receiptId")
        if receipt_id is None:
            return
        while time.monotonic() < end:
            if cl.get(f"/v1/receipts/{receipt_id}").json().get("status") == "final":
                return
            if time.monotonic() - mined >= 1.0:
                svc.chain.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
                mined = time.monotonic()
            time.sleep(0.1)
    raise RuntimeError(f"{path}: the receipt did not become final within {timeout:.0f} s")


def lookups(svc: Service, *, label: str, key: str, content: bytes, n: int, rounds: int) -> Result:
    pairs: list[tuple[float, float]] = []
    path = f"/v1/evidence/0x{content.hex()}"
    _await_final(svc, path)
    t_start = time.perf_counter()
    with count_rpc(svc.ledger.w3) as tally, client(svc.url) as cl:
        first = cl.get(path)
        if first.status_code != 200:
            raise RuntimeError(f"GET {path} answered {first.status_code}: {first.text[:300]}")
        cl.get("/bench/ping")

        def run(p: str) -> float:
            t0 = time.perf_counter()
            for _ in range(n):
                resp = cl.get(p)
                if resp.status_code != 200:
                    raise RuntimeError(f"GET {p} answered {resp.status_code}")
            return n / (time.perf_counter() - t0)

        for r in range(rounds):
            if r % 2 == 0:
                ours = run(path)
                peer = run("/bench/ping")
            else:
                peer = run("/bench/ping")
                ours = run(path)
            pairs.append((ours, peer))
    elapsed = time.perf_counter() - t_start
    lookups_made = n * rounds + 1
    req_calls = sum(tally.calls.values()) - tally.pipeline_calls
    return ratio_result(
        key,
        f"GET /v1/evidence/{{hash}}, {label} ({n} sequential requests × {rounds} rounds)",
        "req/s",
        "GET /bench/ping: trivial route added to the same app, same client",
        ">=",
        0.5,
        pairs,
        note=f"status of the looked-up hash: {first.json().get('method')}/{first.json().get('status')}, looked up once "
        f"its receipt was final (an untimed wait); "
        f"{req_calls / lookups_made:.1f} JSON-RPC calls per lookup; the pipeline thread made "
        f"{tally.pipeline_calls / elapsed:.0f} calls/s in the background meanwhile",
    )
