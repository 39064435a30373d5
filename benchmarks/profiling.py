"""Evidence for unmet targets: JSON-RPC round trips per request and cProfile of the service call paths."""

from __future__ import annotations

import cProfile
import io
import pstats
import time
from collections.abc import Callable
from typing import Any

from benchmarks.common import count_rpc


def profile(fn: Callable[[], Any], *, top: int = 14, sort: str = "tottime") -> tuple[float, str]:
    """Runs ``fn`` under cProfile; returns its wall seconds and the top functions by ``sort``."""
    wall, text, _ = profile_stats(fn, top=top, sort=sort)
    return wall, text


def calls_of(stats: pstats.Stats, file_suffix: str, func: str) -> int:
    """How many times ``func`` defined in a file ending with ``file_suffix`` ran."""
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    return sum(v[1] for (f, _, name), v in raw.items() if name == func and f.endswith(file_suffix))


def profile_stats(fn: Callable[[], Any], *, top: int = 14, sort: str = "tottime") -> tuple[float, str, pstats.Stats]:
    prof = cProfile.Profile()
    t0 = time.perf_counter()
    prof.enable()
    try:
        fn()
    finally:
        prof.disable()
    wall = time.perf_counter() - t0
    out = io.StringIO()
    stats = pstats.Stats(prof, stream=out)
    stats.sort_stats(sort).print_stats(top)
    lines = [ln for ln in out.getvalue().splitlines() if ln.strip()]
    start = next((i for i, ln in enumerate(lines) if ln.lstrip().startswith("ncalls")), 0)
    return wall, "\n".join(_shorten(ln) for ln in lines[start:]), stats


def _shorten(line: str) -> str:
    for marker in ("/site-packages/", "/work/main/", "/lib/python3"):
        i = line.find(marker)
        if i >= 0:
            j = line.rfind(" ", 0, i)
            line = line[: j + 1] + line[i + len(marker) :]
    return line


# --- the report's "where the time goes" section --------------------------------------------------------------


def _ms_per(fn: Callable[[], Any], n: int) -> float:
    """The median of ``n`` timed calls, in ms (robust to bursts of other load)."""
    import statistics

    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def _filtered(top: str, keep: tuple[str, ...], limit: int = 16) -> str:
    lines = top.splitlines()
    head, body = lines[:1], [ln for ln in lines[1:] if any(k in ln for k in keep)]
    return "\n".join(head + body[:limit])


def explain(
    svc: Any,
    *,
    direct_hash: bytes | None,
    batch_items: int,
    k: int = 10,
    http_batch_ms: float | None = None,
    growth_steps: int = 0,
) -> str:
    """Markdown: where a relayed single, a lookup and a bulk batch spend their time (pipeline stopped)."""
    import json

    from api.routes.evidence import _parse_hashes
    from api.schemas import EvidenceBatchCreate
    from benchmarks.api_bench import batch_body, unique_hashes
    from ledger.domain import eip712, merkle
    from ledger.domain.evidence import recover_digest, sign_single

    ledger, c = svc.ledger, svc.chain
    ledger.pipeline.stop()  # its background RPCs would be counted too
    es = ledger.evidence_service
    out: list[str] = ["## Where the time goes (profile of the request paths)", ""]
    out.append(
        "Measured in this process after the runs above, with the pipeline thread stopped so that only the "
        "request's own JSON-RPC calls are counted. `cProfile` inflates pure-Python code, so the wall times "
        "are taken without it and the profiles are for attribution only."
    )
    out.append("")

    rpc_ms = _ms_per(lambda: ledger.w3.eth.block_number, 50)
    contract_ms = _ms_per(lambda: ledger.evidence, 20)
    deadline = c.now() + 3600
    msg = sign_single(c.party, c.domain(), binding=b"\x11" * 32, algorithm=1, nonce=0, deadline=deadline)
    full = msg.message(c.domain())
    digest_ms = _ms_per(lambda: eip712.digest(full), 20)
    digest = eip712.digest(full)
    recover_ms = _ms_per(lambda: recover_digest(digest, msg.signature), 20)
    tx = {
        "to": c.evidence.address,
        "data": "0x",
        "value": 0,
        "gas": 100_000,
        "nonce": 0,
        "chainId": c.manifest.chain_id,
        "maxFeePerGas": 10**9,
        "maxPriorityFeePerGas": 10**9,
    }
    sign_ms = _ms_per(lambda: ledger.relayer.sign(tx), 20)
    last = ledger.store.queued("single") or ledger.store.in_flight_singles()
    commit_ms = lazy_ms = float("nan")
    if last:  # a changed value each time: SQLite writes nothing for an UPDATE that changes nothing
        seq = iter(range(10**6))
        commit_ms = _ms_per(lambda: ledger.store.mark_submission(last[-1].id, error=f"bench {next(seq)}"), 20)
        lazy_ms = _ms_per(
            lambda: ledger.store.mark_submission(last[-1].id, error=f"bench {next(seq)}", durable=False), 20
        )
        ledger.store.mark_submission(last[-1].id, error=last[-1].error)
    out += [
        "Unit costs in this process (medians of 20-50 calls each):",
        "",
        f"- one JSON-RPC round trip to anvil through web3 (`eth_blockNumber`): **{rpc_ms:.2f} ms**",
        f"- one access to `Connection.evidence` (a web3 contract object, built once per connection): **{contract_ms:.2f} ms**",
        f"- one EIP-712 digest of an `Evidence` message (`eip712.digest`, eth-account): **{digest_ms:.2f} ms**",
        f"- one signature recovery from that digest (eth-account over coincurve): **{recover_ms:.2f} ms**",
        f"- one transaction signed by the relayer (`TxSender.sign`, coincurve): **{sign_ms:.2f} ms**",
        f"- one journal write (`Store.mark_submission`: a SQLite transaction, WAL, synchronous=FULL): **{commit_ms:.2f} ms**; "
        f"one that the pipeline can derive again (`durable=False`: synchronous=NORMAL): **{lazy_ms:.2f} ms**",
        "",
    ]

    # relayed single
    reqs = [
        sign_single(c.party, c.domain(), binding=hh, algorithm=1, nonce=0, deadline=deadline)
        for hh in unique_hashes(2 * k, "explain-single")
    ]
    with count_rpc(ledger.w3) as tally:
        it = iter(reqs[:k])
        wall = _ms_per(lambda: es.submit_single(next(it)), k)
        rpc = tally.summary(k)
        rpc_ms = sum(tally.seconds.values()) / k * 1000  # a mean: the counts are per request on average
    _, top, stats = profile_stats(lambda: [es.submit_single(r) for r in reqs[k:]], sort="cumulative", top=60)
    n_contract = calls_of(stats, "ledger/chain/connection.py", "evidence") / k
    n_recover = calls_of(stats, "ledger/domain/evidence.py", "recover_digest") / k
    n_digest = calls_of(stats, "ledger/domain/eip712.py", "digest") / k
    n_sign = calls_of(stats, "ledger/chain/sender.py", "sign") / k
    n_commit = (
        sum(
            calls_of(stats, "ledger/storage/journal.py", f)
            for f in ("add_submission", "_update", "create_batch", "set_batch_state")
        )
        / k
    )
    accounted = (
        rpc_ms
        + n_contract * contract_ms
        + n_digest * digest_ms
        + n_recover * recover_ms
        + n_sign * sign_ms
        + n_commit * commit_ms
    )
    out += [
        f"### `EvidenceService.submit_single` (the body of POST /v1/evidence): {wall:.1f} ms per request (median)",
        "",
        f"- {rpc}",
        f"- per request: {n_contract:g} contract objects built ({n_contract * contract_ms:.1f} ms), "
        f"{n_digest:g} EIP-712 digest ({n_digest * digest_ms:.1f} ms), {n_recover:g} signature recovery "
        f"({n_recover * recover_ms:.1f} ms), {n_sign:g} transaction signed ({n_sign * sign_ms:.1f} ms), "
        f"{n_commit:g} journal transactions (at most {n_commit * commit_ms:.1f} ms), "
        f"JSON-RPC waits ({rpc_ms:.1f} ms): {accounted:.1f} of the {wall:.1f} ms",
        "",
        "```",
        _filtered(top, ("ledger/", "eth_keys", "abi.py", "contract.py(", "estimate", "recv_into", "sqlite")),
        "```",
        "",
    ]

    if direct_hash is not None:
        with count_rpc(ledger.w3) as tally:
            cold = _ms_per(lambda: es._lookup(direct_hash), 2 * k)  # noqa: SLF001 - the path of a record not yet settled
            cold_rpc = tally.summary(2 * k)
        with count_rpc(ledger.w3) as tally:
            wall = _ms_per(lambda: es.lookup(direct_hash), 2 * k)
            rpc = tally.summary(2 * k)
            rpc_ms = sum(tally.seconds.values()) / (2 * k) * 1000
        _, top, stats = profile_stats(lambda: [es.lookup(direct_hash) for _ in range(2 * k)], sort="cumulative", top=60)
        n_contract = calls_of(stats, "ledger/chain/connection.py", "evidence") / (2 * k)
        out += [
            f"### `EvidenceService.lookup` of a direct record (GET /v1/evidence/{{hash}}): {wall:.2f} ms per request (median)",
            "",
            f"- {rpc}",
            f"- the same lookup read from the chain and the journal, as for a record not yet settled: {cold:.1f} ms; {cold_rpc}",
            f"- per request: {n_contract:g} contract objects built ({n_contract * contract_ms:.0f} ms) and JSON-RPC "
            f"waits ({rpc_ms:.0f} ms): {n_contract * contract_ms + rpc_ms:.0f} of the {wall:.0f} ms",
            "",
            "```",
            _filtered(top, ("ledger/", "contract.py(", "abi.py", "recv_into", "sqlite")),
            "```",
            "",
        ]

    # bulk batch: the stages of POST /v1/evidence/batch
    hashes = unique_hashes(batch_items, "explain-batch")
    body = batch_body(svc, c.party, hashes, deadline)
    stages: list[tuple[str, float]] = []

    def stage(name: str, fn: Callable[[], Any]) -> Any:
        t0 = time.perf_counter()
        result = fn()
        stages.append((name, time.perf_counter() - t0))
        return result

    import httpx

    with httpx.Client(base_url=svc.url, timeout=300) as cl:
        cl.get("/bench/ping")
        echo = []
        for _ in range(3):
            t0 = time.perf_counter()
            cl.post("/bench/batch-parse", content=body, headers={"Content-Type": "application/json"}).raise_for_status()
            echo.append(time.perf_counter() - t0)
    echo_s = sorted(echo)[1]
    data = stage("json.loads of the body", lambda: json.loads(body))
    model = stage("pydantic `EvidenceBatchCreate` validation", lambda: EvidenceBatchCreate.model_validate(data))
    raw = stage("`_parse_hashes` (hex → bytes)", lambda: _parse_hashes(model.hashes))
    stage(
        "`MerkleTree` of the leaf hashes (inside submit_batch)",
        lambda: merkle.MerkleTree(merkle.leaf_hash(hh) for hh in raw),
    )
    from ledger.domain.evidence import BatchRequest

    req = BatchRequest(1, raw, c.party.address, deadline, bytes.fromhex(model.signature[2:]))
    with count_rpc(ledger.w3) as tally:
        stage("`EvidenceService.submit_batch` in all (tree, checks, journal)", lambda: es.submit_batch(req))
        rpc = tally.summary(1)
    hashes2 = unique_hashes(batch_items, "explain-batch2")
    body2 = batch_body(svc, c.party, hashes2, deadline)
    m2 = EvidenceBatchCreate.model_validate(json.loads(body2))
    req2 = BatchRequest(1, _parse_hashes(m2.hashes), c.party.address, deadline, bytes.fromhex(m2.signature[2:]))
    _, top = profile(lambda: es.submit_batch(req2), sort="cumulative", top=40)
    total = sum(s for _, s in stages[:3]) + stages[4][1]
    out += [
        f"### POST /v1/evidence/batch with {batch_items:,} hashes: stages run in-process",
        "",
        "| stage | ms | hashes/s if alone |",
        "|---|---|---|",
        *[f"| {n} | {s * 1000:.0f} | {batch_items / s:,.0f} |" for n, s in stages],
        f"| sum (without the separate tree row) | {total * 1000:.0f} | {batch_items / total:,.0f} |",
        f"| over HTTP, a benchmark-only route taking the same body model and doing nothing else (median of 3) "
        f"| {echo_s * 1000:.0f} | {batch_items / echo_s:,.0f} |",
        *(
            [
                f"| over HTTP, the real POST /v1/evidence/batch (row 6, median) | {http_batch_ms:.0f} | "
                f"{batch_items / http_batch_ms * 1000:,.0f} |"
            ]
            if http_batch_ms
            else []
        ),
        "",
        f"- submit_batch: {rpc}",
        "",
        "```",
        _filtered(top, ("ledger/", "sqlite", "merkle", "eip712", "json")),
        "```",
        "",
        *journal_growth(batch_items, steps=growth_steps),
    ]
    return "\n".join(out)


def journal_growth(items: int, steps: int) -> list[str]:
    """Markdown: the cost of journalling one submission of ``items`` hashes as the journal fills up."""
    if steps <= 0:
        return []
    import os
    import tempfile
    from pathlib import Path

    from ledger.storage.journal import Store

    rows = []
    with tempfile.TemporaryDirectory(prefix="ipledger-bench-journal-") as tmp:
        store = Store(Path(tmp) / "journal.sqlite3")
        try:
            for i in range(steps):
                hashes = [os.urandom(32) for _ in range(items)]
                t0 = time.perf_counter()
                store.add_submission(
                    kind="batch",
                    registrant="0x" + "11" * 20,
                    party_id=1,
                    algorithm=1,
                    hashes=hashes,
                    root=os.urandom(32),
                    deadline=1,
                    signature=b"s",
                    digest=os.urandom(32),
                )
                secs = time.perf_counter() - t0
                rows.append(f"| {i * items:,} | {secs * 1000:.0f} | {items / secs:,.0f} |")
        finally:
            store.close()
    return [
        f"### Journal growth: `Store.add_submission` of {items:,} hashes as the journal fills (a fresh journal)",
        "",
        "| items already journalled | ms | hashes/s |",
        "|---|---|---|",
        *rows,
        "",
    ]
