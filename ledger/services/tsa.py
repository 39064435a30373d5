"""The time-stamp authority: RFC 3161 tokens whose time is the block time of an on-chain anchor.

A request (:meth:`TimeStampService.stamp`) is checked in this order: its bearer token (the operator's or a
client's, :class:`~ledger.storage.tsa.ClientTokens`), the client's rate (:class:`RateLimiter`, a token bucket per
client), its content type, then the TimeStampReq itself (``ledger.certificates.timestamp.parse_request``). Every
refusal, and every failure to anchor, is answered as an RFC 3161 ``rejection`` with its ``failInfo``: the caller
always gets a TimeStampResp, never an exception.

Anchoring (:class:`Anchorer`): an accepted request's leaf (``tsa_leaf``: the imprint and the token's serial
number) waits at most ``IPLEDGER_TSA_MAX_WAIT`` seconds for others; then one background thread builds an RFC
9162 tree over the leaves waiting (at most :data:`MAX_BATCH` of them), anchors its root with the aggregator's
``EvidenceRegistry.anchorBatch(root, size)`` through THE sender, waits for the receipt (and for
``IPLEDGER_CONFIRMATIONS`` blocks on top), and hands every waiting request its transaction, block, timestamp and
audit path. The token's ``genTime`` is that block's timestamp.

The anchor is the service's own time stamp, not a party's act: no journal row, no party, no record in anyone's
name; the index sees a batch root without items. Nothing is kept once a token is answered: a crash loses the
answers in flight (their clients ask again), never a token already given.
"""

from __future__ import annotations

import hmac
import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

from ledger.certificates.timestamp import (
    DEFAULT_POLICY,
    LedgerAnchorInfo,
    Refusal,
    Signer,
    TimeStampRequest,
    new_serial,
    parse_request,
    rejection,
    token_response,
    tsa_leaf,
)
from ledger.chain.connection import Connection
from ledger.chain.rpc import as_hex, as_int
from ledger.chain.sender import SentTransaction, receipt
from ledger.config import Settings
from ledger.domain import merkle
from ledger.errors import LedgerError
from ledger.storage.tsa import ClientTokens, TsaFiles, TsaMaterial, ensure_local_tsa, load_tsa, local_password

log = logging.getLogger("ipledger.tsa")

#: Most leaves in one anchored TSA tree.
MAX_BATCH = 4096
#: Most requests waiting for an anchor at once; more are refused (systemFailure) until the queue drains.
MAX_PENDING = 20_000
#: Longest a request waits for its anchor's receipt and confirmations (seconds) before it is refused.
ANCHOR_TIMEOUT = 120.0
#: The content type of a request (RFC 3161 §3.4).
QUERY_TYPE = "application/timestamp-query"


def open_material(settings: Settings) -> TsaMaterial:
    """The TSA's key and chain: the configured ones (IPLEDGER_TSA_CERT / _KEY / _CA), else the embedded default's in
    DATA_DIR/tsa, made on first use."""
    password = settings.tsa_key_password.get_secret_value() if settings.tsa_key_password else None
    if settings.tsa_cert is not None and settings.tsa_key is not None:
        return load_tsa(cert=settings.tsa_cert, key=settings.tsa_key, ca=settings.tsa_ca, password=password)
    files = TsaFiles.in_data_dir(Path(settings.data_dir))
    if ensure_local_tsa(Path(settings.data_dir), password):
        log.info("time-stamp authority: made a local CA and TSA certificate in %s", files.directory)
    ca = files.ca if files.ca.exists() else None
    return load_tsa(cert=files.cert, key=files.key, ca=ca, password=local_password(files, password))


def published_chain(settings: Settings) -> tuple[bytes, bytes]:
    """The CA certificate and the TSA certificate (PEM) this deployment publishes for its TSA (IPLEDGER_TSA_CA and
    IPLEDGER_TSA_CERT, else DATA_DIR/tsa/ca.pem and tsa.pem); each empty when there is none. Reads only: no key is
    made."""
    if settings.tsa_cert is not None and settings.tsa_key is not None:
        ca, cert = settings.tsa_ca, settings.tsa_cert
    else:
        files = TsaFiles.in_data_dir(Path(settings.data_dir))
        ca, cert = files.ca, files.cert

    def read(path: Path | None) -> bytes:
        try:
            return Path(path).read_bytes() if path is not None else b""
        except OSError:
            return b""

    return read(ca), read(cert)


class RateLimiter:
    """A token bucket per client: ``burst`` requests at once, refilled at ``rate`` per second; at most
    ``max_clients`` buckets are kept (the least recently used goes first; there are at most 10,000 clients and the
    operator, so none is dropped in practice)."""

    def __init__(self, rate: float, burst: int, max_clients: int = 10_001) -> None:
        self.rate, self.burst, self.max_clients = rate, float(burst), max_clients
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, client: str) -> float:
        """0 when the client may go on (one token taken), else the seconds until it may."""
        now = time.monotonic()
        with self._lock:
            tokens, at = self._buckets.pop(client, (self.burst, now))
            tokens = min(self.burst, tokens + (now - at) * self.rate)
            wait = 0.0
            if tokens >= 1:
                tokens -= 1
            else:
                wait = (1 - tokens) / self.rate
            self._buckets[client] = (tokens, now)
            while len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)
            return wait


@dataclass
class _Waiting:
    leaf: bytes
    arrived: float
    done: threading.Event = field(default_factory=threading.Event)
    anchor: LedgerAnchorInfo | None = None
    block_time: int = 0
    failure: str | None = None


class Anchorer:
    """Gathers leaves for at most ``max_wait`` seconds and anchors each gathering as one batch root."""

    def __init__(self, conn: Connection, settings: Settings) -> None:
        self.conn = conn
        self.settings = settings
        self._queue: list[_Waiting] = []
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stop = False

    def anchor(self, leaf: bytes, arrived: float) -> _Waiting:
        """Blocks until ``leaf`` is anchored (or could not be): the waiting entry with its anchor or failure."""
        entry = _Waiting(leaf, arrived)
        with self._cond:
            if self._stop:
                raise Refusal("system_failure", "the time-stamp authority is stopping")
            if len(self._queue) >= MAX_PENDING:
                raise Refusal("system_failure", "too many time-stamp requests are waiting; try again shortly")
            self._queue.append(entry)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="ipledger-tsa", daemon=True)
                self._thread.start()
            self._cond.notify_all()
        bound = self.settings.tsa_max_wait + ANCHOR_TIMEOUT + 5
        if not entry.done.wait(bound):
            raise Refusal("system_failure", "the anchor did not arrive in time")
        return entry

    def stop(self, timeout: float = 10.0) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._stop:
                    self._cond.wait()
                if self._stop:
                    for entry in self._queue:
                        entry.failure = "the time-stamp authority is stopping"
                        entry.done.set()
                    self._queue.clear()
                    return
                due = self._queue[0].arrived + self.settings.tsa_max_wait
                while len(self._queue) < MAX_BATCH and not self._stop and time.time() < due:
                    self._cond.wait(max(0.0, due - time.time()))
                batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
            self._anchor(batch)

    def _anchor(self, batch: list[_Waiting]) -> None:
        try:
            tree = merkle.MerkleTree(merkle.leaf_hash(w.leaf) for w in batch)
            sent, block_time = self._send(tree.root, len(batch))
            contract = self.conn.evidence.address
            for index, entry in enumerate(batch):
                entry.anchor = LedgerAnchorInfo(
                    chain_id=self.conn.manifest.chain_id,
                    contract=contract,
                    transaction=sent.tx_hash,
                    block_number=sent.block_number,
                    block_hash=sent.block_hash,
                    root=tree.root,
                    leaf_index=index,
                    tree_size=tree.size,
                    audit_path=tuple(tree.proof(index)),
                )
                entry.block_time = block_time
        except LedgerError as exc:
            log.warning("time-stamp batch of %d not anchored: %s", len(batch), exc.message)
            for entry in batch:
                entry.failure = "the chain did not take the anchor; try again shortly"
        except Exception:  # noqa: BLE001 - a defect must not leave requests waiting: each is refused
            log.exception("time-stamp batch of %d not anchored", len(batch))
            for entry in batch:
                entry.failure = "the anchor failed; try again shortly"
        for entry in batch:
            entry.done.set()

    def _send(self, root: bytes, size: int) -> tuple[SentTransaction, int]:
        relayer = self.conn.require_relayer()
        fn = self.conn.evidence.functions.anchorBatch(root, size)
        sent = relayer.send_call(fn, wait=True)
        if not isinstance(sent, SentTransaction):  # wait=True gives the mined transaction
            raise LedgerError("the anchor was sent without waiting for its receipt")
        deadline = time.monotonic() + ANCHOR_TIMEOUT
        while True:
            head = self.conn.head.refresh()
            if head.number - sent.block_number >= self.settings.confirmations:
                break
            if time.monotonic() > deadline:
                raise LedgerError(f"the anchor did not reach {self.settings.confirmations} confirmations in time")
            time.sleep(0.2)
        if self.settings.confirmations:
            rcpt = receipt(self.conn.w3, sent.tx_hash)
            if rcpt is None or as_hex(rcpt["blockHash"]) != sent.block_hash or as_int(rcpt["status"]) != 1:
                raise LedgerError("the anchoring block left the chain")
        block = self.conn.head.block(sent.block_number)
        if block is None or block.hash != sent.block_hash:
            raise LedgerError("the anchoring block left the chain")
        log.info("time-stamp batch of %d anchored in block %d", size, sent.block_number)
        return sent, block.timestamp


class TimeStampService:
    """Answers RFC 3161 requests (:meth:`stamp`) and manages the client tokens."""

    def __init__(self, conn: Connection, settings: Settings, clients: ClientTokens, material: TsaMaterial) -> None:
        self.conn = conn
        self.settings = settings
        self.clients = clients
        self.material = material
        self.signer = Signer(material.key, material.certificate)
        self.policy = settings.tsa_policy or DEFAULT_POLICY
        self.limiter = RateLimiter(settings.tsa_rate, settings.tsa_burst)
        self.anchorer = Anchorer(conn, settings)

    def close(self) -> None:
        self.anchorer.stop()

    def client_of(self, token: str | None) -> str:
        """The name the request's bearer token authenticates (``operator``, or a client's), else a Refusal."""
        if not token:
            raise Refusal("bad_request", "authentication required: Authorization: Bearer <token>")
        operator = self.settings.operator_token.get_secret_value() if self.settings.operator_token else ""
        if operator and hmac.compare_digest(token.encode("utf-8", "surrogateescape"), operator.encode()):
            return "operator"
        name = self.clients.authenticate(token)
        if name is None:
            raise Refusal("bad_request", "the bearer token is not a valid TSA token (unknown or revoked)")
        return name

    def stamp(self, body: bytes, *, content_type: str, token: str | None) -> tuple[bytes, float]:
        """The DER TimeStampResp answering ``body``, and the seconds a rate-limited client should wait (else 0)."""
        arrived = time.time()
        client = "-"
        try:
            client = self.client_of(token)
            wait = self.limiter.take(client)
            if wait:
                raise _RateLimited(wait)
            if content_type.split(";", 1)[0].strip().lower() != QUERY_TYPE:
                raise Refusal("bad_request", f"the content type must be {QUERY_TYPE}")
            req = parse_request(body, self.policy)
            return self._grant(req, arrived), 0.0
        except _RateLimited as exc:
            log.info("time-stamp request of %s refused: rate limit", client)
            text = f"rate limit: at most {self.settings.tsa_rate:g} requests per second; retry in {exc.wait:.1f} s"
            return rejection("system_failure", text), exc.wait
        except Refusal as exc:
            log.info("time-stamp request of %s refused (%s): %s", client, exc.fail_info, exc.message)
            return rejection(exc.fail_info, exc.message), 0.0
        except Exception:  # noqa: BLE001 - always an RFC 3161 answer, never a 5xx
            log.exception("time-stamp request of %s failed", client)
            return rejection("system_failure", "the time-stamp authority failed; try again shortly"), 0.0

    def _grant(self, req: TimeStampRequest, arrived: float) -> bytes:
        if self.conn.relayer is None:
            raise Refusal("system_failure", "this service has no aggregator key to anchor time stamps")
        serial = new_serial()
        entry = self.anchorer.anchor(tsa_leaf(req.algorithm, req.imprint, serial), arrived)
        if entry.failure is not None or entry.anchor is None:
            raise Refusal("system_failure", entry.failure or "the anchor failed")
        accuracy = self.settings.tsa_accuracy
        if abs(entry.block_time - arrived) > accuracy:
            raise Refusal(
                "time_not_available",
                f"the anchoring block's time lies more than the stated accuracy ({accuracy} s) from the request's",
            )
        return token_response(
            req,
            signer=self.signer,
            serial=serial,
            gen_time=entry.block_time,
            accuracy=accuracy,
            policy=self.policy,
            anchor=entry.anchor,
        )


class _RateLimited(Exception):
    def __init__(self, wait: float) -> None:
        super().__init__("rate limited")
        self.wait = wait
