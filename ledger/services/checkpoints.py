"""Checkpoints of the ledger on public chains: the background writer and the certificates' ``checkpoint`` section
(docs/operations.md "Checkpoints on a public chain"; the format in docs/certificate.md §11).

Algorithm, per configured public chain, at each step (every few seconds while `ipledger up` runs):

1. Connect (each JSON-RPC call bounded by IPLEDGER_RPC_TIMEOUT). A chain that does not answer is skipped and
   tried again at the next step: the ledger keeps working, and checkpoints catch up once it answers.
2. On first use, deploy ``CheckpointRegistry`` there (written by the anchor key alone) and record it in the
   deployment manifest's ``anchors``; later, check that chain's genesis block and the contract's code.
3. Settle what is not final, oldest first: a ``planned`` checkpoint is sent unless the contract already holds it
   (a crash after the broadcast); a ``sent`` one becomes ``recorded`` with its receipt, or ``planned`` again when
   the node no longer knows its transaction; a ``recorded`` one whose block left the public chain (a
   reorganisation below IPLEDGER_ANCHOR_CONFIRMATIONS) goes back to ``planned`` and is sent again; one whose block
   has the confirmations becomes ``final``, and only final checkpoints go into certificates.
4. When everything is recorded and IPLEDGER_CHECKPOINT_INTERVAL has passed since the last one, plan the next:
   from the block after the last one's range (the contract's ``nextBlock``) to the consortium's head less
   IPLEDGER_CONFIRMATIONS, at most IPLEDGER_CHECKPOINT_MAX_BLOCKS blocks, reading the evidence registry's logs in
   spans of :data:`LOG_SPAN` blocks. A range without records is not written (unless it is a full
   ``checkpoint_max_blocks`` stretch, so that a long quiet stretch does not hold the next records back).

Every wait is bounded: a receipt is looked for once per step, never waited for.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from web3 import Web3

from ledger.certificates.checkpoint import record_leaf
from ledger.chain.artifacts import load_artifact
from ledger.chain.connection import Connection
from ledger.chain.deployment import (
    CHECKPOINT_REGISTRY,
    check_anchor,
    deploy_checkpoint_registry,
    record_anchor,
)
from ledger.chain.rpc import as_hex, as_int, connect, rpc
from ledger.chain.sender import TxSender
from ledger.config import Settings, anchor_urls
from ledger.domain import merkle
from ledger.domain.checkpoints import BATCH_ANCHORED, EVIDENCE_REGISTERED, Leaf, batch_leaf, evidence_leaf, tree_root
from ledger.errors import LedgerError
from ledger.storage.checkpoints import CheckpointRow, CheckpointStore

log = logging.getLogger("ipledger.checkpoints")

#: Most consortium blocks per eth_getLogs request.
LOG_SPAN = 2000
#: Most public-chain blocks searched back for a checkpoint's event when the contract holds it but the store has
#: no transaction for it (a crash right after the broadcast).
EVENT_LOOKBACK = 20_000
#: Seconds before the verifier's endpoints try again a public chain that did not answer.
RECONNECT = 30.0
#: Seconds between two steps of the background writer (at most; a step that found work runs again sooner).
POLL = 2.0

EV_TOPIC = "0x" + keccak(text=EVIDENCE_REGISTERED).hex()
BA_TOPIC = "0x" + keccak(text=BATCH_ANCHORED).hex()


class CheckpointMismatch(LedgerError):
    code = "checkpoint_mismatch"


@dataclass
class Anchor:
    """One configured public chain."""

    url: str
    w3: Web3 | None = None
    chain_id: int | None = None
    sender: TxSender | None = None
    contract: Any = None
    last_error: str | None = None
    last_step: float | None = None
    #: ``time.monotonic()`` before which :meth:`Checkpointer.endpoints` does not try to connect again.
    retry_at: float = 0.0


class Checkpointer:
    """Writes checkpoints of ``conn``'s deployment to the public chains of ``urls`` with ``account`` (the anchor
    key), keeping their state in ``store``; ``data_dir`` holds the deployment manifest it adds each contract to."""

    def __init__(
        self,
        conn: Connection,
        store: CheckpointStore,
        settings: Settings,
        account: LocalAccount | None,
        *,
        urls: list[str] | None = None,
        connect_fn: Callable[[str], Web3] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.conn = conn
        self.store = store
        self.settings = settings
        self.account = account
        self.anchors = [Anchor(u) for u in (urls if urls is not None else anchor_urls(settings))]
        self._connect = connect_fn or (lambda url: connect(url, timeout=float(settings.rpc_timeout)))
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._trees: dict[tuple[int, int], merkle.MerkleTree] = {}
        self.clock = clock

    # --- the background task -----------------------------------------------------------------------

    def step(self) -> None:
        """One pass over every public chain; a chain that fails is reported in :meth:`status` and tried again."""
        with self._lock:
            for anchor in self.anchors:
                try:
                    self._step(anchor)
                    anchor.last_error = None
                except Exception as exc:  # noqa: BLE001 - a public chain's fault never stops the ledger
                    error = scrub_endpoint(_describe(exc), anchor.url)
                    if anchor.w3 is not None and not isinstance(exc, LedgerError):
                        anchor.w3 = None  # connect again next time
                    # once per new fault, not every step while a chain stays down
                    (log.debug if error == anchor.last_error else log.warning)(
                        "checkpoint on chain %s: %s", anchor.chain_id or "?", error
                    )
                    anchor.last_error = error
                    anchor.last_step = time.time()
                    continue
                anchor.last_step = time.time()

    def run_forever(self, stop: threading.Event, poll: float = POLL) -> None:
        while not stop.is_set():
            self.step()
            stop.wait(poll)

    def start(self) -> None:
        if not self.anchors or self.account is None or (self._thread is not None and self._thread.is_alive()):
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self.run_forever, args=(self._stop,), daemon=True, name="checkpoints")
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def status(self) -> list[dict[str, Any]]:
        """Each public chain: its id, contract, last checkpoint and last error (no URL: it may carry a key)."""
        out = []
        for anchor in self.anchors:
            last = self.store.last(anchor.chain_id) if anchor.chain_id is not None else None
            record = self.conn.manifest.anchors.get(str(anchor.chain_id)) if anchor.chain_id else None
            out.append(
                {
                    "chainId": anchor.chain_id,
                    "contract": record["address"] if record else None,
                    "lastCheckpoint": _row_json(last) if last else None,
                    "lastError": anchor.last_error,
                }
            )
        return out

    def endpoints(self) -> dict[int, Web3]:
        """The public chains this service reaches, by chain id, for verifying certificates' checkpoints; each is
        connected on first use (one that does not answer is left out)."""
        out: dict[int, Web3] = {}
        for anchor in self.anchors:
            w3 = anchor.w3
            if w3 is None:
                # not connected by the writer (it is not running, or the chain is down): try, at most every
                # RECONNECT seconds, so that a chain that is down costs a request one timeout now and then, not each
                if time.monotonic() < anchor.retry_at:
                    continue
                try:
                    w3 = self._connect(anchor.url)
                    anchor.chain_id = anchor.chain_id or int(w3.eth.chain_id)
                except Exception:  # noqa: BLE001 - a public chain that does not answer: its check is skipped
                    anchor.retry_at = time.monotonic() + RECONNECT
                    continue
            if anchor.chain_id is not None:
                out[anchor.chain_id] = w3
        return out

    # --- one public chain ---------------------------------------------------------------------------

    def _step(self, anchor: Anchor) -> None:
        if self.account is None:
            raise CheckpointMismatch("no anchor key (IPLEDGER_ANCHOR_KEYSTORE): checkpoints are not written")
        if anchor.w3 is None:
            w3 = self._connect(anchor.url)
            anchor.chain_id = int(w3.eth.chain_id)
            if anchor.chain_id == self.conn.manifest.chain_id:
                raise CheckpointMismatch("a checkpoint chain must be another chain than the consortium's")
            record = check_anchor(w3, self.conn.manifest, anchor.chain_id)
            sender = TxSender(w3, self.account, receipt_timeout=float(self.settings.rpc_timeout) * 20)
            if record is None:
                record = deploy_checkpoint_registry(sender, self.conn.manifest)
                record_anchor(Path(self.settings.data_dir), self.conn.manifest, record)
                log.info("checkpoint contract deployed on chain %s at %s", anchor.chain_id, record["address"])
            anchor.w3, anchor.sender = w3, sender
            anchor.contract = w3.eth.contract(
                address=Web3.to_checksum_address(record["address"]), abi=load_artifact(CHECKPOINT_REGISTRY)["abi"]
            )
        self._settle(anchor)
        if not self.store.unsettled(_cid(anchor)) or all(
            r.state == "recorded" for r in self.store.unsettled(_cid(anchor))
        ):
            planned = self._plan(anchor)
            if planned is not None:
                self._settle(anchor)

    def _settle(self, anchor: Anchor) -> None:
        cid, w3 = _cid(anchor), anchor.w3
        assert w3 is not None and anchor.sender is not None
        head = int(w3.eth.block_number)
        for row in self.store.unsettled(cid):
            if row.state == "sent":
                assert row.tx_hash is not None
                receipt = rpc(w3, "eth_getTransactionReceipt", [row.tx_hash])
                if receipt is not None and as_int(receipt["status"]) == 1:
                    self.store.mark_recorded(
                        cid, row.index, row.tx_hash, as_int(receipt["blockNumber"]), as_hex(receipt["blockHash"])
                    )
                elif receipt is not None or rpc(w3, "eth_getTransactionByHash", [row.tx_hash]) is None:
                    log.warning("checkpoint %s on chain %s: its transaction is gone; sending it again", row.index, cid)
                    self.store.mark_dropped(cid, row.index)
                    anchor.sender.resync()  # the account's nonce went back with the transaction
                else:
                    return  # pending in the node's pool: look again at the next step
                row = self.store.get(cid, row.index) or row
            if row.state == "recorded":
                assert row.public_block is not None
                block = rpc(w3, "eth_getBlockByNumber", [hex(row.public_block), False])
                if block is None or as_hex(block["hash"]).lower() != str(row.public_block_hash).lower():
                    log.warning(
                        "checkpoint %s on chain %s: block %s left the chain (reorganisation); sending it again",
                        row.index,
                        cid,
                        row.public_block,
                    )
                    self.store.mark_dropped(cid, row.index)
                    anchor.sender.resync()  # the account's nonce went back with the transaction
                    row = self.store.get(cid, row.index) or row
                elif head - int(row.public_block or 0) + 1 >= int(self.settings.anchor_confirmations):
                    self.store.mark_final(cid, row.index)
                    continue
                else:
                    continue
            if row.state == "planned":
                if not self._send(anchor, row):
                    return

    def _send(self, anchor: Anchor, row: CheckpointRow) -> bool:
        """Sends a planned checkpoint, unless the contract holds it already; False when it cannot go yet."""
        cid, contract, sender = _cid(anchor), anchor.contract, anchor.sender
        assert sender is not None and anchor.w3 is not None
        count = int(contract.functions.count().call())
        if count > row.index:
            held = contract.functions.checkpoint(row.index).call()
            if (int(held[0]), int(held[1]), "0x" + bytes(held[3]).hex(), "0x" + bytes(held[4]).hex()) != (
                row.from_block,
                row.to_block,
                row.block_hash,
                row.root,
            ):
                raise CheckpointMismatch(
                    f"the contract on chain {cid} holds another checkpoint {row.index} than this service planned"
                )
            found = self._find_event(anchor, row.index)
            if found is None:
                return False
            self.store.mark_recorded(cid, row.index, *found)
            return True
        if count < row.index:
            raise CheckpointMismatch(f"the contract on chain {cid} holds {count} checkpoints; {row.index} is next here")
        # the consortium range must still be the one planned (a reorganisation below IPLEDGER_CONFIRMATIONS)
        block = rpc(self.conn.w3, "eth_getBlockByNumber", [hex(row.to_block), False])
        if block is None or as_hex(block["hash"]).lower() != row.block_hash:
            log.warning("checkpoint %s: the consortium block %s changed; planning again", row.index, row.to_block)
            self.store.discard(cid, row.index)
            return False
        fn = contract.functions.record(
            row.from_block, row.to_block, bytes.fromhex(row.block_hash[2:]), bytes.fromhex(row.root[2:])
        )
        tx_hash = sender.send_call(fn, wait=False)
        assert isinstance(tx_hash, str)
        self.store.mark_sent(cid, row.index, tx_hash)
        log.info("checkpoint %s (blocks %s..%s) sent to chain %s", row.index, row.from_block, row.to_block, cid)
        return True

    def _find_event(self, anchor: Anchor, index: int) -> tuple[str, int, str] | None:
        """The transaction, block and block hash of checkpoint ``index``'s event, searched back at most
        :data:`EVENT_LOOKBACK` blocks of the public chain."""
        w3, address = anchor.w3, anchor.contract.address
        assert w3 is not None
        head = int(w3.eth.block_number)
        topic0 = "0x" + keccak(text="CheckpointRecorded(uint256,uint64,uint64,bytes32,bytes32)").hex()
        topic1 = "0x" + index.to_bytes(32, "big").hex()
        end = head
        while end >= max(0, head - EVENT_LOOKBACK):
            start = max(0, end - LOG_SPAN + 1, head - EVENT_LOOKBACK)
            logs = rpc(
                w3,
                "eth_getLogs",
                [{"address": address, "topics": [topic0, topic1], "fromBlock": hex(start), "toBlock": hex(end)}],
            )
            for entry in logs or []:
                if not entry.get("removed"):
                    return as_hex(entry["transactionHash"]), as_int(entry["blockNumber"]), as_hex(entry["blockHash"])
            end = start - 1
        return None

    def _plan(self, anchor: Anchor) -> CheckpointRow | None:
        cid, contract = _cid(anchor), anchor.contract
        last = self.store.last(cid)
        if last is not None and self.clock() - last.created_at < float(self.settings.checkpoint_interval):
            return None
        index = int(contract.functions.count().call())
        expected = last.index + 1 if last is not None else 0
        if index != expected:
            raise CheckpointMismatch(
                f"the contract on chain {cid} holds {index} checkpoints, this service's store {expected}: "
                "another writer, or a lost data directory"
            )
        start = int(contract.functions.nextBlock().call())
        head = int(self.conn.w3.eth.block_number) - int(self.settings.confirmations)
        end = min(head, start + int(self.settings.checkpoint_max_blocks) - 1)
        if end < start:
            return None
        capped = end - start + 1 == int(self.settings.checkpoint_max_blocks)
        leaves, block_hash = self.read_leaves(start, end)
        if not leaves and not capped:
            return None
        hashes = [leaf.hash for leaf in leaves]
        root = "0x" + tree_root(hashes).hex()
        row = self.store.plan(cid, index, start, end, block_hash, root, hashes, now=self.clock())
        log.info("checkpoint %s planned for chain %s: blocks %s..%s, %s leaves", index, cid, start, end, len(hashes))
        return row

    def read_leaves(self, start: int, end: int) -> tuple[list[Leaf], str]:
        """The leaves of consortium blocks ``start..end`` in chain order, and the hash of block ``end``; the range is
        read again (up to three times) when block ``end`` changed while it was read."""
        registry = Web3.to_checksum_address(self.conn.manifest.address("EvidenceRegistry"))
        for _ in range(3):
            before = rpc(self.conn.w3, "eth_getBlockByNumber", [hex(end), False])
            leaves: list[Leaf] = []
            frm = start
            while frm <= end:
                to = min(end, frm + LOG_SPAN - 1)
                logs = rpc(
                    self.conn.w3,
                    "eth_getLogs",
                    [
                        {
                            "address": registry,
                            "topics": [[EV_TOPIC, BA_TOPIC]],
                            "fromBlock": hex(frm),
                            "toBlock": hex(to),
                        }
                    ],
                )
                leaves += [_leaf(entry) for entry in logs or [] if not entry.get("removed")]
                frm = to + 1
            after = rpc(self.conn.w3, "eth_getBlockByNumber", [hex(end), False])
            if before is not None and after is not None and as_hex(before["hash"]) == as_hex(after["hash"]):
                leaves.sort(key=lambda leaf: (leaf.block_number, leaf.log_index))
                return leaves, as_hex(after["hash"]).lower()
        raise CheckpointMismatch("the consortium chain kept moving while a checkpoint's range was read")

    # --- certificates ------------------------------------------------------------------------------

    def attach(self, doc: dict[str, Any]) -> dict[str, Any]:
        """``doc`` (an evidence certificate) with a ``checkpoint`` list: one entry per public chain whose final
        checkpoint covers the record (docs/certificate.md §11); unchanged when none does."""
        try:
            leaf = merkle.leaf_hash(record_leaf(doc))
            block = int(doc["anchor"]["blockNumber"])
        except (KeyError, TypeError, ValueError):
            return doc
        entries = []
        for key, record in sorted(self.conn.manifest.anchors.items()):
            cid = int(key)
            row = self.store.covering(cid, block)
            if row is None or row.tx_hash is None or row.public_block is None:
                continue
            position = self.store.position(cid, row.index, leaf)
            if position is None:
                continue
            tree = self._trees.get((cid, row.index))
            if tree is None:
                if len(self._trees) > 16:
                    self._trees.clear()
                tree = self._trees[(cid, row.index)] = merkle.MerkleTree(self.store.leaf_hashes(cid, row.index))
            entries.append(
                {
                    "chainId": cid,
                    "contract": record["address"],
                    "transactionHash": row.tx_hash.lower(),
                    "blockNumber": row.public_block,
                    "blockHash": str(row.public_block_hash).lower(),
                    "index": row.index,
                    "fromBlock": row.from_block,
                    "toBlock": row.to_block,
                    "consortiumBlockHash": row.block_hash,
                    "root": row.root,
                    "proof": tree.inclusion_proof(position).to_json(),
                }
            )
        if entries:
            doc["checkpoint"] = entries
        return doc


def _cid(anchor: Anchor) -> int:
    assert anchor.chain_id is not None
    return anchor.chain_id


def _leaf(entry: dict[str, Any]) -> Leaf:
    topics = [as_hex(t) for t in entry["topics"]]
    number = as_int(entry["blockNumber"])
    if topics[0] == EV_TOPIC:
        data = evidence_leaf(bytes.fromhex(topics[1][2:]), int(topics[2], 16), "0x" + topics[3][-40:], number)
    else:
        data = batch_leaf(bytes.fromhex(topics[1][2:]), number)
    return Leaf(number, as_int(entry["logIndex"]), data)


def _row_json(row: CheckpointRow) -> dict[str, Any]:
    return {
        "index": row.index,
        "fromBlock": row.from_block,
        "toBlock": row.to_block,
        "root": row.root,
        "leaves": row.leaf_count,
        "state": row.state,
        "transactionHash": row.tx_hash,
        "blockNumber": row.public_block,
        "createdAt": row.created_at,
    }


def scrub_endpoint(text: str, url: str) -> str:
    """``text`` without the endpoint's credentials or path (an API key often sits in either)."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    for secret in (parts.username, parts.password, parts.path if len(parts.path) > 1 else None, parts.query or None):
        if secret:
            text = text.replace(secret, "…")
    return text


def _describe(exc: Exception) -> str:
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {message[:300]}"
