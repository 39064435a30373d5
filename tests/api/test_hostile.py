"""The hostile corpus against a real `ipledger up` (embedded anvil, real journal and index), over real sockets.

For every request of tests/api/hostile_corpus.py: no 5xx, the answer it must get, the JSON error envelope
on every error, no change of state (the chain's block number, the relayer's nonces, the contracts' counters,
the journal's and the index's row counts, the vault's files), and an answer (or a close) within a bounded
time where the case is about time. Afterwards the process is alive, healthy, and its memory bounded.

Also here: the pieces those guarantees rest on, each tested so that removing it fails a test — the depth
scan (``api.limits.json_depth``), the interpreter's recursion limit after every entry point's imports, and
``Retry-After`` on 503 answers.
"""

from __future__ import annotations

import json
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from web3 import Web3

from api.limits import ALLOWANCE, BATCH_BYTES_PER_HASH, json_depth
from ledger.chain.artifacts import load_artifact
from ledger.config import Settings
from ledger.domain import eip712
from ledger.domain.evidence import sign_single
from ledger.domain.hashing import HashAlgorithm, public_binding
from tests.api.hostile_corpus import Case, Context, build
from tests.cli.conftest import UpProcess
from tests.helpers import Chain, account

pytestmark = pytest.mark.slow

TOKEN = "hostile-operator-token"
READ_TIMEOUT = 2.0
BODY_TIMEOUT = 5.0
MAX_BODY = 1 << 20
BATCH_LIMIT = 100_000 * BATCH_BYTES_PER_HASH + ALLOWANCE
RSS_GROWTH_BOUND = 200 * 2**20  # generous: the largest buffered bodies are a few MB


def _context(
    party_id: int = 1,
    account_: str = "0x" + "00" * 20,
    evidence_hash: str = "0x" + "00" * 32,
    receipt_id: str = "r",
    now: int = 0,
) -> Context:
    return Context(
        TOKEN,
        party_id,
        account_,
        evidence_hash,
        receipt_id,
        now or int(time.time()),
        READ_TIMEOUT,
        BODY_TIMEOUT,
        MAX_BODY,
        BATCH_LIMIT,
    )


# The ids of the cases, known at collection; the cases themselves are rebuilt over the server's real ids.
CASE_NAMES = [c.name for c in build(_context())]
assert len(CASE_NAMES) >= 150 and len(set(CASE_NAMES)) == len(CASE_NAMES)


@dataclass
class Server:
    up: UpProcess
    w3: Web3
    ctx: Context
    relayer: str
    contracts: dict[str, Any]
    cases: list[Case]
    rss_before: int = 0
    snapshots: list[dict[str, Any]] = field(default_factory=list)

    def snapshot(self) -> dict[str, Any]:
        """Everything a request could change."""
        state: dict[str, Any] = {
            "block": self.w3.eth.block_number,
            "relayer_nonce": self.w3.eth.get_transaction_count(self.relayer, "latest"),
            "relayer_pending": self.w3.eth.get_transaction_count(self.relayer, "pending"),
        }
        for name, fn in (
            ("EvidenceRegistry", "partyCount"),
            ("IPAssetRegistry", "assetCount"),
            ("DisputeRegistry", "disputeCount"),
        ):
            state[f"{name}.{fn}"] = self.contracts[name].functions[fn]().call()
        db = sqlite3.connect(f"file:{self.up.data_dir / 'journal.sqlite3'}?mode=ro", uri=True, timeout=10)
        try:
            tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
            for t in tables:  # rows only: a service may create its (empty) tables on first use
                rows = db.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0]  # noqa: S608 - names from the schema
                if rows:
                    state[f"journal.{t}"] = rows
        finally:
            db.close()
        status = httpx.get(self.up.api + "/v1/index/status", timeout=10).json()
        state["index"] = status.get("counts")
        vault = self.up.data_dir / "vault"
        state["vault_files"] = sorted(str(p.relative_to(vault)) for p in vault.rglob("*")) if vault.exists() else []
        return state

    def rss(self) -> int:
        for line in Path(f"/proc/{self.up.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise AssertionError("no VmRSS")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    env = {
        "IPLEDGER_OPERATOR_TOKEN": TOKEN,
        "IPLEDGER_READ_TIMEOUT": str(READ_TIMEOUT),
        "IPLEDGER_BODY_TIMEOUT": str(BODY_TIMEOUT),
        "IPLEDGER_CONFIRMATIONS": "0",
        "IPLEDGER_FINAL_AFTER": "0",
    }
    up = UpProcess(tmp_path_factory.mktemp("hostile") / "data", env=env)
    try:
        health = up.wait_healthy()
        w3 = Web3(Web3.HTTPProvider(f"http://127.0.0.1:{up.node_port}", request_kwargs={"timeout": 10}))
        contracts = {
            name: w3.eth.contract(address=addr, abi=load_artifact(name)["abi"])
            for name, addr in health["contracts"].items()
        }
        ctx = _setup(up)
        srv = Server(up, w3, ctx, health["relayer"], contracts, build(ctx))
        assert [c.name for c in srv.cases] != [] and len(srv.cases) == len(CASE_NAMES)
        for _ in range(3):  # warm every route's code path once before the memory baseline
            httpx.get(up.api + "/v1/index/evidence", timeout=10)
            httpx.post(up.api + "/v1/verify", json={"certificate": {}}, timeout=10)
        srv.rss_before = srv.rss()
        srv.snapshots.append(srv.snapshot())
        yield srv
    finally:
        up.kill_all()


def _setup(up: UpProcess) -> Context:
    """One party and one final registration, so that the corpus meets real rows."""
    firm = account("hostile-firm")
    body = {
        "kind": "firm",
        "jurisdiction": "mainland",
        "identifierScheme": "uscc",
        "identifier": "91110108551385082Q",
        "nameZh": "前海测试公司",
        "nameEn": "Qianhai Test Ltd",
        "accounts": [firm.address],
    }
    r = httpx.post(up.api + "/v1/parties", json=body, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
    assert r.status_code == 201, r.text
    party_id = int(r.json()["partyId"])
    d = httpx.get(up.api + "/v1/signing-domain", timeout=10).json()
    domain = eip712.Domain(int(d["chainId"]), d["verifyingContract"])
    nonce = int(httpx.get(up.api + f"/v1/accounts/{firm.address}", timeout=10).json()["nonce"])
    content = bytes.fromhex("c0" * 32)
    deadline = int(time.time()) + 7200
    binding = public_binding(content, party_id, HashAlgorithm.SHA256)  # computed by the party's client
    req = sign_single(firm, domain, binding=binding, algorithm=1, nonce=nonce, deadline=deadline)
    r = httpx.post(
        up.api + "/v1/evidence",
        timeout=30,
        json={
            "binding": "0x" + binding.hex(),
            "partyId": party_id,
            "algorithm": "sha256",
            "registrant": firm.address,
            "nonce": nonce,
            "deadline": deadline,
            "signature": "0x" + req.signature.hex(),
        },
    )
    assert r.status_code == 202, r.text
    receipt = r.json()["receiptId"]
    limit = time.monotonic() + 60
    while httpx.get(up.api + f"/v1/receipts/{receipt}", timeout=10).json()["status"] != "final":
        assert time.monotonic() < limit, "the setup registration did not become final"
        time.sleep(0.3)
    while True:  # and the index has read them (it follows the chain in the background)
        status = httpx.get(up.api + "/v1/index/status", timeout=10).json()
        if status.get("behind") == 0 and (status.get("counts") or {}).get("evidence", 0) >= 1:
            break
        assert time.monotonic() < limit, f"the index did not catch up: {status}"
        time.sleep(0.3)
    return _context(party_id, firm.address, "0x" + content.hex(), receipt)


# --- sending a case over a raw socket ---------------------------------------------------------------------------


@dataclass
class Outcome:
    status: int | None
    headers: dict[str, str]
    body: bytes
    elapsed: float
    sent: int
    note: str = ""


def _request_bytes(case: Case, port: int) -> tuple[bytes, bytes]:
    if case.raw is not None:
        return case.raw, b""
    lines = [f"{case.method} {case.target} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in case.headers]
    if case.stream is not None:
        lines.append("Transfer-Encoding: chunked")
    elif case.length != "":
        lines.append(f"Content-Length: {case.length if case.length is not None else len(case.body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"), case.body


def send(case: Case, port: int, budget: float = 90.0) -> Outcome:
    head, body = _request_bytes(case, port)
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.settimeout(budget)
    sent = 0
    stop = threading.Event()

    def sender() -> None:
        nonlocal sent
        try:
            sock.sendall(head)
            if case.stream is not None:
                chunk, total = case.stream
                piece = case.stream_byte * chunk
                while sent < total and not stop.is_set():
                    n = min(chunk, total - sent)
                    sock.sendall(b"%x\r\n" % n + piece[:n] + b"\r\n")
                    sent += n
                if not case.hold:
                    sock.sendall(b"0\r\n\r\n")
            elif case.trickle is not None:
                piece, pause, count = case.trickle
                sock.sendall(body)
                for _ in range(count):
                    if stop.wait(pause):
                        return
                    sock.sendall(piece)
                    sent += len(piece)
            else:
                for i in range(0, len(body), 1 << 16):
                    if stop.is_set():
                        return
                    sock.sendall(body[i : i + (1 << 16)])
                    sent += min(1 << 16, len(body) - i)
        except OSError:
            pass  # the server stopped reading (it refused the body) or closed the connection

    started = time.monotonic()
    thread = threading.Thread(target=sender, daemon=True)
    thread.start()
    data = b""
    note = ""
    try:
        while True:
            chunk = sock.recv(1 << 16)
            if not chunk:
                break
            data += chunk
            if _complete(data):
                break
    except TimeoutError:
        note = "no answer and no close within the budget"
    except ConnectionResetError:
        note = "reset"
    finally:
        elapsed = time.monotonic() - started
        stop.set()
        sock.close()
        thread.join(timeout=10)
    status, headers, payload = _parse(data)
    return Outcome(status, headers, payload, elapsed, sent, note)


def _complete(data: bytes) -> bool:
    head, sep, rest = data.partition(b"\r\n\r\n")
    if not sep:
        return False
    _, headers, _ = _parse(data)
    if "content-length" in headers:
        return len(rest) >= int(headers["content-length"])
    return False  # read to the close


def _parse(data: bytes) -> tuple[int | None, dict[str, str], bytes]:
    head, sep, rest = data.partition(b"\r\n\r\n")
    if not sep or not head.startswith(b"HTTP/1."):
        return None, {}, b""
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        out, buf = b"", rest
        while buf:
            size_line, _, buf = buf.partition(b"\r\n")
            size = int(size_line.split(b";")[0] or b"0", 16)
            if size == 0:
                break
            out, buf = out + buf[:size], buf[size + 2 :]
        rest = out
    return status, headers, rest


def check(case: Case, out: Outcome) -> list[str]:
    """What is wrong with the answer to ``case`` (empty: nothing)."""
    problems: list[str] = []
    if case.within is not None and out.elapsed > case.within:
        problems.append(f"answered after {out.elapsed:.1f} s, more than {case.within} s")
    if out.status is None:
        if out.note == "no answer and no close within the budget":
            problems.append("the server neither answered nor closed the connection")
        elif not case.closed_ok:
            problems.append(f"the connection closed without an answer ({out.note or 'closed'})")
        elif case.stream is not None and not case.hold and out.sent >= case.stream[1]:
            problems.append("the connection closed only after the whole body was read")
        return problems
    if out.status >= 500:
        problems.append(f"status {out.status}")
    if case.expect is not None:
        if out.status not in case.expect:
            problems.append(f"status {out.status}, expected one of {sorted(case.expect)}")
    elif not 400 <= out.status < 500:
        problems.append(f"status {out.status}, expected a 4xx")
    if out.status >= 400:
        problems += _envelope_problems(out)
        if case.code is not None and not problems:
            code = json.loads(out.body)["error"]["code"]
            if code != case.code:
                problems.append(f"error code {code!r}, expected {case.code!r}")
    return problems


def _envelope_problems(out: Outcome) -> list[str]:
    if not out.headers.get("content-type", "").startswith("application/json"):
        return [f"an error answered as {out.headers.get('content-type')!r}, not the JSON envelope: {out.body[:120]!r}"]
    try:
        doc = json.loads(out.body)
    except ValueError:
        return [f"an error body that is not JSON: {out.body[:120]!r}"]
    err = doc.get("error") if isinstance(doc, dict) else None
    if not isinstance(err, dict) or not isinstance(err.get("code"), str) or not isinstance(err.get("message"), str):
        return [f"not the error envelope: {out.body[:200]!r}"]
    if "field" in err and err["field"] is not None and not isinstance(err["field"], str):
        return [f"error.field is not a string: {err['field']!r}"]
    if "Traceback" in out.body.decode("utf-8", "replace"):
        return ["a traceback in the answer"]
    return []


# --- the corpus -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("index", range(len(CASE_NAMES)), ids=[n[:90] for n in CASE_NAMES])
def test_hostile_request(server: Server, index: int) -> None:
    case = server.cases[index]
    before = server.snapshot()
    out = send(case, server.up.port)
    assert server.up.proc.poll() is None, f"the server died on {case.name}: {server.up.output()}"
    after = server.snapshot()
    problems = check(case, out)
    if after != before:
        changed = {k: (before[k], after.get(k)) for k in before if before[k] != after.get(k)}
        problems.append(f"state changed: {changed}")
    owner = " (schema-level input rules)" if case.schema_level else ""
    assert not problems, (
        f"{case.category}/{case.name}{owner}: " + "; ".join(problems) + f" — answer {out.status} {out.body[:300]!r}"
    )


def test_afterwards_the_process_lives_with_bounded_memory_and_unchanged_state(server: Server) -> None:
    assert server.up.proc.poll() is None, server.up.output()
    health = httpx.get(server.up.api + "/v1/health", timeout=10)
    assert health.status_code == 200
    assert server.snapshot() == server.snapshots[0]
    growth = server.rss() - server.rss_before
    assert growth < RSS_GROWTH_BOUND, f"RSS grew by {growth / 2**20:.0f} MiB over the corpus"
    # the embedded node is alive too (a crash of the API used to take it down)
    assert server.w3.eth.block_number == server.snapshots[0]["block"]


def test_the_corpus_covers_every_category() -> None:
    categories = {c.category for c in build(_context())}
    assert {
        "deep-json",
        "huge-body",
        "missing-body",
        "slow",
        "multipart",
        "malformed-json",
        "content-type",
        "integers",
        "params",
        "unicode-digits",
        "text",
        "long",
        "decimals",
        "non-finite",
        "traversal",
        "bearer",
        "operator",
        "routes",
        "malformed-http",
    } <= categories


# --- the protections underneath -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "depth"),
    [
        (b"", 0),
        (b"{}", 1),
        (b"[[]]", 2),
        (b'{"a": [1, {"b": []}]}', 4),
        (b'["[[[[", "]]]]"]', 1),
        (b'["\\"[[[[["]', 1),
        (b'["\\\\", [[]]]', 3),
        (b"[" * 100_000, 100_000),
        (b"[" * 1000 + b"]" * 1000, 1000),
        (b'"[[[[[' + b"[" * 1000, 0),
        (b"]]]][", 3),
        (b"]" * 1000 + b"[" * 1000, 1000),
        (b'{"a": "\\u005b\\u005b"}', 1),
    ],
)
def test_json_depth_counts_nesting_outside_strings(body: bytes, depth: int) -> None:
    assert json_depth(body) == depth


def test_json_depth_is_linear_on_adversarial_strings() -> None:
    """An unterminated string full of escaped quotes used to make a backtracking pattern quadratic; the
    scan's pattern is possessive. A quadratic scan of 2 MB would take hours: this finishes (no timing asserted)."""
    body = b'["' + b'\\"' * (1 << 20)
    assert json_depth(body, at_most=4) == 1
    assert json_depth(b"[" * 70 + b'"' + b"\\" * (1 << 20), at_most=64) == 70


def test_no_entry_point_raises_the_recursion_limit() -> None:
    """py_ecc raises it to 100,000 at import; with that, a deep document crashed the process (C stack)."""
    code = (
        "import sys; import cli.main, api.app, ledger.facade, web3, eth_account, py_ecc; "
        "from api.app import create_app; print(sys.getrecursionlimit())"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "1000"


def test_a_deep_document_does_not_crash_even_a_parser_behind_the_scan() -> None:
    """Belt and braces: with the recursion limit kept, the json module raises instead of overflowing the stack."""
    code = "import ledger, json\ntry:\n    json.loads('[' * 100000 + ']' * 100000)\nexcept RecursionError:\n    print('refused')"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "refused", out.stderr[-500:]


def test_every_503_carries_retry_after(tmp_path: Path, anvil: Chain) -> None:
    from api.app import create_app
    from ledger.facade import Ledger

    dead = Web3(Web3.HTTPProvider("http://127.0.0.1:9", request_kwargs={"timeout": 1}))
    ledger = Ledger(w3=dead, manifest=anvil.manifest, settings=Settings(data_dir=tmp_path))
    with TestClient(create_app(ledger, run_pipeline=False), raise_server_exceptions=False) as c:
        for path in ("/v1/health", "/v1/parties/1", "/v1/evidence/" + "ab" * 32, "/v1/assets/1"):
            resp = c.get(path)
            assert resp.status_code == 503, (path, resp.text)
            assert resp.json()["error"]["code"] == "chain_unavailable"
            assert int(resp.headers["Retry-After"]) > 0, path
    ledger.close()
    # the index's database gone: index_unavailable, with Retry-After too
    broken = Settings(data_dir=tmp_path, index_url=f"sqlite:///{tmp_path / 'no' / 'such' / 'dir' / 'index.sqlite3'}")
    ledger = Ledger(w3=anvil.w3, manifest=anvil.manifest, settings=broken)
    with TestClient(create_app(ledger, run_pipeline=False), raise_server_exceptions=False) as c:
        resp = c.get("/v1/index/evidence")
        assert resp.status_code == 503, resp.text
        assert resp.json()["error"]["code"] == "index_unavailable"
        assert int(resp.headers["Retry-After"]) > 0
    ledger.close()


def test_the_limits_hold_in_process_too(api: Any) -> None:
    """The middleware is part of the app (not only of `ipledger up`): TestClient goes through it."""
    c = api.client
    resp = c.post("/v1/evidence", content=b"[" * 100, headers={"Content-Type": "application/json"})
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "json_too_deep"
    resp = c.post("/v1/evidence", content=b" " * (MAX_BODY + 1), headers={"Content-Type": "application/json"})
    assert resp.status_code == 413 and resp.json()["error"]["code"] == "payload_too_large"
    assert c.get("/static/" + "a" * 300).status_code == 404


@pytest.fixture
def small_server() -> Iterator[int]:
    """uvicorn with `ipledger up`'s options (api.limits.server_options) over a trivial app, on 127.0.0.1."""
    import asyncio

    import uvicorn

    from api.limits import server_options
    from ledger.chain.node import free_port

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"ok"})

    port = free_port()
    settings = Settings(read_timeout=1.0, max_connections=3)
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="error", lifespan="off", **server_options(settings)
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _read_all(sock: socket.socket) -> bytes:
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def test_the_server_refuses_connections_over_the_limit_with_retry_after(small_server: int) -> None:
    held = [socket.create_connection(("127.0.0.1", small_server), timeout=10) for _ in range(3)]
    try:
        extra = socket.create_connection(("127.0.0.1", small_server), timeout=10)
        status, headers, body = _parse(_read_all(extra))
        assert status == 503 and int(headers["retry-after"]) > 0
        assert json.loads(body)["error"]["code"] == "server_busy"
    finally:
        for s in held:
            s.close()


def test_the_server_closes_a_connection_whose_head_never_completes(small_server: int) -> None:
    sock = socket.create_connection(("127.0.0.1", small_server), timeout=15)
    sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")  # no blank line: the head never ends
    status, _, body = _parse(_read_all(sock))  # returns: the server closed it (1 s here)
    assert status == 408 and json.loads(body)["error"]["code"] == "request_timeout"
    silent = socket.create_connection(("127.0.0.1", small_server), timeout=15)
    assert _read_all(silent) == b""  # nothing sent, nothing of a request: closed without an answer


def test_malformed_http_gets_the_envelope(small_server: int) -> None:
    sock = socket.create_connection(("127.0.0.1", small_server), timeout=10)
    sock.sendall(b"NOT HTTP AT ALL\r\n\r\n")
    status, headers, body = _parse(_read_all(sock))
    assert status == 400 and headers["content-type"] == "application/json"
    assert json.loads(body)["error"]["code"] == "bad_request"


def test_a_full_batch_fits_its_body_limit(api: Any) -> None:
    """The batch route's limit is sized from IPLEDGER_MAX_BATCH_REQUEST: 100,000 hashes, even pretty-printed,
    reach the route (refused there for its signature, not for its size); one byte over the limit does not."""
    settings = api.ledger.settings
    hashes = ["0x" + f"{i + 1:064x}" for i in range(settings.max_batch_request)]
    body = {
        "algorithm": "sha256",
        "hashes": hashes,
        "registrant": "0x" + "11" * 20,
        "deadline": int(time.time()) + 3600,
        "signature": "0x" + "00" * 65,
    }
    raw = json.dumps(body, indent=2).encode()
    resp = api.client.post("/v1/evidence/batch", content=raw, headers={"Content-Type": "application/json"})
    assert resp.status_code in (400, 403, 422), resp.text[:300]
    assert resp.json()["error"]["code"] != "payload_too_large"
    limit = settings.max_batch_request * BATCH_BYTES_PER_HASH + ALLOWANCE
    over = raw + b" " * (limit + 1 - len(raw))
    resp = api.client.post("/v1/evidence/batch", content=over, headers={"Content-Type": "application/json"})
    assert resp.status_code == 413 and resp.json()["error"]["code"] == "payload_too_large"
