"""The event index: catch-up against the node's raw eth_getLogs, and query latency at a million records.

Row 10 fills the benchmark anvil with single registrations (sent by the party's account, unsigned through
``anvil_impersonateAccount``: the chain content is what matters here, not how it got there), then times, in
interleaved rounds, a full ``Indexer.sync`` into an empty SQLite database against plain ``eth_getLogs``
requests over the same blocks (at most ``CHUNK`` blocks each, JSON parsed, nothing else done). The indexer
reads over the connection the service opens (``ledger.chain.rpc.connect``).

Row 11 loads 1,000,000 evidence rows into the index's own schema (SQLite in a temporary file; PostgreSQL on a
throwaway server from Debian's binaries when installed) and times each query of a mix — the lists the API
serves, with and without filters, first pages and cursor pages — through ``Indexer.query``, the call the
route makes. The figure is the 99th percentile over every query run.
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from eth_utils import keccak
from sqlalchemy import Engine, insert

from benchmarks.env import BenchChain
from benchmarks.report import Result, ratio_result
from ledger.chain.rpc import connect
from ledger.config import Settings
from ledger.index import schema, sync
from ledger.index.decoder import checksum
from ledger.index.sync import Indexer

DAY = 86_400


def rpc_call(client: httpx.Client, url: str, method: str, params: list[Any]) -> Any:
    answer = client.post(url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).json()
    if "error" in answer:
        raise RuntimeError(f"{method}: {answer['error']}")
    return answer["result"]


def fill_chain(
    chain: BenchChain, n: int, per_block: int = 100, *, first: int = 0, label: str = "index-bench", timeout: float = 120
) -> None:
    """Single registrations ``first`` .. ``n - 1`` (hashes of ``label`` and the number) by the bench party's own
    account, ``per_block`` to a block. benchmarks/node_bench.py fills its chain with it too."""
    url, party, ev = chain.rpc_url, chain.party.address, chain.evidence
    with httpx.Client(timeout=timeout) as client:
        rpc_call(client, url, "anvil_impersonateAccount", [party])
        rpc_call(client, url, "evm_setAutomine", [False])
        try:
            nonce = int(rpc_call(client, url, "eth_getTransactionCount", [party, "latest"]), 16)
            for start in range(first, n, per_block):
                batch = []
                for i in range(start, min(n, start + per_block)):
                    data = ev.encode_abi(
                        "register", args=[(keccak(text=f"{label} {i}"), 1, keccak(text=f"meta {i}"), b"\0" * 32)]
                    )
                    tx = {
                        "from": party,
                        "to": ev.address,
                        "data": data,
                        "gas": hex(150_000),
                        "nonce": hex(nonce + i - first),
                    }
                    batch.append({"jsonrpc": "2.0", "id": i, "method": "eth_sendTransaction", "params": [tx]})
                errors = [a for a in client.post(url, json=batch).json() if "error" in a]
                if errors:
                    raise RuntimeError(f"filling the chain failed: {errors[0]['error']}")
                rpc_call(client, url, "evm_mine", [])
        finally:
            rpc_call(client, url, "evm_setAutomine", [True])
            rpc_call(client, url, "anvil_stopImpersonatingAccount", [party])


def _raw_get_logs(client: httpx.Client, url: str, addresses: list[str], frm: int, to: int) -> int:
    count = 0
    for start in range(frm, to + 1, sync.CHUNK):
        params = {"address": addresses, "fromBlock": hex(start), "toBlock": hex(min(to, start + sync.CHUNK - 1))}
        count += len(rpc_call(client, url, "eth_getLogs", [params]))
    return count


def catch_up(chain: BenchChain, *, events: int, rounds: int) -> Result:
    fill_chain(chain, events)
    head = int(chain.w3.eth.block_number)
    pairs: list[tuple[float, float]] = []
    counted = 0
    # The indexer reads through the connection the service opens (ledger.chain.rpc.connect: pooled, orjson for
    # large answers), not the benchmark's plain web3 provider.
    w3 = connect(chain.rpc_url, timeout=120)
    with tempfile.TemporaryDirectory(prefix="ipledger-bench-index-") as tmp, httpx.Client(timeout=120) as client:
        settings = Settings(data_dir=Path(tmp), confirmations=0)
        for r in range(rounds):
            db = Path(tmp) / f"round-{r}.sqlite3"
            engine = schema.make_engine(f"sqlite:///{db}")
            indexer = Indexer(w3, chain.manifest, settings, engine)
            addresses = [checksum(a) for a in indexer.addresses]

            def peer() -> float:
                t = time.perf_counter()
                n = _raw_get_logs(client, chain.rpc_url, addresses, chain.manifest.deploy_block, head)
                return n / (time.perf_counter() - t)

            def ours() -> float:
                nonlocal counted
                t = time.perf_counter()
                indexer.sync(to_block=head)
                elapsed = time.perf_counter() - t
                with engine.connect() as conn:
                    counted = int(conn.exec_driver_sql("SELECT count(*) FROM evidence").scalar() or 0)
                    counted += int(conn.exec_driver_sql("SELECT count(*) FROM events").scalar() or 0)
                return counted / elapsed

            if r % 2 == 0:
                p, o = peer(), ours()
            else:
                o, p = ours(), peer()
            pairs.append((o, p))
            engine.dispose()
    return ratio_result(
        "10",
        f"index catch-up from an empty SQLite database ({counted:,} events, {head - chain.manifest.deploy_block + 1:,} blocks)",
        "events/s",
        f"raw `eth_getLogs` of the same blocks, ≤ {sync.CHUNK:,} blocks a request, JSON parsed",
        ">=",
        0.5,
        pairs,
        note=(
            f"{events:,} registrations, 100 to a block; ours = `Indexer.sync` (fetch, decode, write, cursor; the "
            "next range fetched while one is written) into a fresh database each round; the peer only fetches "
            "and parses"
        ),
    )


# --- query latency at scale ---------------------------------------------------------------------------


def load_evidence(
    engine: Engine, n: int, *, parties: int = 200, per_block: int = 40, t0: int = 1_767_225_600
) -> dict[str, Any]:
    """``n`` evidence rows (a tenth of them batch items) over ``n / per_block`` blocks a minute apart, with
    their blocks, straight into the index schema."""
    rnd = random.Random(7)
    registrants = [checksum("0x" + keccak(text=f"registrant {p}")[:20].hex()) for p in range(parties)]
    blocks_n = n // per_block
    is_pg = engine.dialect.name == "postgresql"
    schema.metadata.drop_all(engine)
    schema.metadata.create_all(engine)
    step = 50_000
    with engine.begin() as db:
        db.execute(
            insert(schema.blocks),
            [
                {"number": b, "hash": "0x" + keccak(b.to_bytes(8, "big")).hex(), "timestamp": t0 + 60 * b}
                for b in range(1, blocks_n + 1)
            ],
        )
    for start in range(0, n, step):
        rows = []
        for i in range(start, min(n, start + step)):
            block, pos = 1 + i // per_block, i % per_block
            party = rnd.randrange(parties)
            batch = pos >= per_block - per_block // 10
            rows.append(
                (
                    "0x" + keccak(i.to_bytes(8, "big")).hex(),
                    "batch" if batch else "single",
                    party + 1,
                    registrants[party],
                    1,
                    None,
                    None,
                    ("0x" + "ab" * 32) if batch else None,
                    pos if batch else 0,
                    block,
                    0 if batch else pos,
                    t0 + 60 * block,
                    "0x" + "cd" * 32,
                )
            )
        with engine.begin() as db:
            if is_pg:  # COPY: loading is not what is measured
                raw = db.connection.driver_connection
                with (
                    raw.cursor() as cur,
                    cur.copy(f"COPY evidence ({', '.join(schema.EVIDENCE_COLUMNS)}) FROM STDIN") as copy,
                ):
                    for row in rows:
                        copy.write_row(row)
            else:
                schema.insert_many(db, schema.evidence, schema.EVIDENCE_COLUMNS, rows)
    if is_pg:
        with engine.begin() as db:
            db.exec_driver_sql("ANALYZE")
    return {"t0": t0, "blocks": blocks_n, "parties": parties, "registrants": registrants}


def query_mix(facts: dict[str, Any], rnd: random.Random) -> list[dict[str, str]]:
    """One of each kind of list a user asks for, with random parties and months."""
    t0, span = facts["t0"], facts["blocks"] * 60
    party = str(rnd.randrange(facts["parties"]) + 1)
    month_start = t0 + rnd.randrange(max(1, span - 30 * DAY))
    day_start = t0 + rnd.randrange(max(1, span - DAY))
    return [
        {},
        {"limit": "500"},
        {"party": party},
        {"party": party, "from": str(month_start), "to": str(month_start + 30 * DAY)},
        {"from": str(day_start), "to": str(day_start + DAY)},
        {"kind": "single"},
        {"kind": "batch", "party": party},
        {"registrant": facts["registrants"][rnd.randrange(facts["parties"])]},
        {"to": str(t0 + span // 3)},
    ]


def query_latencies(indexer: Indexer, facts: dict[str, Any], rounds: int) -> list[float]:
    rnd = random.Random(11)
    times: list[float] = []
    for _ in range(rounds):
        for params in query_mix(facts, rnd):
            t = time.perf_counter()
            page = indexer.query("evidence", dict(params))
            times.append((time.perf_counter() - t) * 1000)
            if page["nextCursor"]:  # and the page after it
                t = time.perf_counter()
                indexer.query("evidence", {**params, "cursor": page["nextCursor"]})
                times.append((time.perf_counter() - t) * 1000)
    return times


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[98]


def query_p99(chain: BenchChain, engine: Engine, label: str, *, n: int, rounds: int) -> Result:
    t = time.perf_counter()
    facts = load_evidence(engine, n)
    load_s = time.perf_counter() - t
    with tempfile.TemporaryDirectory(prefix="ipledger-bench-query-") as tmp:
        indexer = Indexer(chain.w3, chain.manifest, Settings(data_dir=Path(tmp)), engine)
        query_latencies(indexer, facts, 2)  # warm the caches as a running service has them
        times = query_latencies(indexer, facts, rounds)
    worst, median = p99(times), statistics.median(times)
    return Result(
        "11",
        f"indexed query p99, {n:,} evidence records, {label}",
        ours=worst,
        unit="ms",
        peer=20.0,
        peer_label="",
        kind="limit",
        op="<=",
        target=1.0,
        ratio=worst / 20.0,
        note=(
            f"{len(times):,} queries (`Indexer.query('evidence', …)`: {len(query_mix(facts, random.Random(0)))} "
            f"kinds — no filter, limit 500, party, party + month, a day, kind, kind + party, registrant, "
            f"up to a time — each first page and its next page); median {median:.2f} ms, max {max(times):.1f} ms; "
            f"loading took {load_s:.0f} s"
        ),
    )


@contextmanager
def sqlite_engine() -> Iterator[Engine]:
    with tempfile.TemporaryDirectory(prefix="ipledger-bench-sqlite-") as tmp:
        engine = schema.make_engine(f"sqlite:///{Path(tmp) / 'index.sqlite3'}")
        try:
            yield engine
        finally:
            engine.dispose()


@contextmanager
def postgres_engine() -> Iterator[Engine | None]:
    """An engine on a throwaway PostgreSQL, or None (with the reason printed) where it cannot run."""
    from tests.pg import PostgresUnavailable, temporary_postgres

    try:
        with temporary_postgres() as url:
            engine = schema.make_engine(url)
            try:
                yield engine
            finally:
                engine.dispose()
    except PostgresUnavailable as exc:
        print(f"[bench] PostgreSQL row skipped: {exc}")
        yield None
