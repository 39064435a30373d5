"""The aggregator and relay pipeline: drives every journalled submission to the chain and on to finality.

One background thread ticks every ``tick`` seconds:

1. queued singles are sent (after a crash of the API between journalling and sending);
2. queued batch submissions are gathered into a batch — its composition fixed in the journal first —
   when the oldest has waited ``batch_interval`` seconds or ``batch_max_items`` items are waiting, and
   the batch root is anchored;
3. sent transactions are followed: a receipt marks them anchored; ``confirmations`` blocks later, with
   the block hash unchanged, final. A transaction the node no longer knows (a node restarted from an
   older state) is sent again. A batch root the contract already holds is never anchored twice: the
   contract refuses a second anchor of the same root, and the pipeline reads the anchor back instead.

So after a crash of the API or the node every acknowledged hash is anchored exactly once.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Any

from web3 import Web3
from web3.exceptions import TransactionNotFound

from ledger import merkle
from ledger.errors import ContractRevert, LedgerError
from ledger.store import ANCHORED, FINAL, QUEUED, REJECTED, SENT, Batch, Store, Submission
from ledger.tx import call

if TYPE_CHECKING:
    from ledger.evidence import EvidenceService

log = logging.getLogger("ipledger.pipeline")


class Pipeline:
    def __init__(self, service: EvidenceService, store: Store, *, tick: float = 0.2) -> None:
        self.service = service
        self.store = store
        self.ledger = service.ledger
        self.settings = service.ledger.settings
        self.tick = tick
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._wake = threading.Event()

    # --- lifecycle ---

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="ipledger-pipeline", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def wake(self) -> None:
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.step()
            except LedgerError as exc:
                log.warning("pipeline step failed: %s", exc.message)
            except Exception:
                log.exception("pipeline step failed")
            self._wake.wait(self.tick)
            self._wake.clear()

    # --- one step ---

    def step(self, *, force_batch: bool = False) -> None:
        """One pass over the journal. ``force_batch`` anchors waiting submissions without waiting."""
        for sub in self.store.queued("single"):
            try:
                self.service.send_single(sub)
            except ContractRevert:
                pass  # recorded as rejected by send_single
        self._maybe_batch(force=force_batch)
        for batch in self.store.open_batches():
            self._follow_batch(batch)
        for sub in self.store.in_flight_singles():
            self._follow_single(sub)

    def _maybe_batch(self, *, force: bool) -> None:
        waiting = self._drop_expired(self.store.queued("batch"))
        if not waiting:
            return
        total = sum(s.count for s in waiting)
        oldest = min(s.created_at for s in waiting)
        due = force or total >= self.settings.batch_max_items or time.time() - oldest >= self.settings.batch_interval
        if not due:
            return
        chosen: list[Submission] = []
        items = 0
        for sub in waiting:
            if chosen and items + sub.count > self.settings.batch_max_items:
                break
            chosen.append(sub)
            items += sub.count
        tree = merkle.MerkleTree(merkle.leaf_hash(bytes(s.digest or b"")) for s in chosen)
        batch = self.store.create_batch(tree.root, [s.id for s in chosen], items)
        self._anchor(batch)

    def _drop_expired(self, waiting: list[Submission]) -> list[Submission]:
        """A submission is anchored only before its signed deadline (the certificate checks it); one whose
        deadline has passed (an outage longer than IPLEDGER_MIN_DEADLINE_MARGIN) is rejected, not anchored."""
        if not waiting:
            return waiting
        now = max(int(time.time()), int(self.ledger.w3.eth.get_block("latest")["timestamp"]))
        keep = []
        for sub in waiting:
            if sub.deadline <= now + 30:
                self.store.mark_submission(sub.id, status=REJECTED, error="the signed deadline passed before anchoring")
                log.warning("submission %s rejected: its deadline passed before anchoring", sub.id)
            else:
                keep.append(sub)
        return keep

    def _anchor(self, batch: Batch) -> None:
        relayer = self.ledger.require_relayer()
        onchain = call(self.ledger.evidence.functions.batch(batch.root))
        if int(onchain[2]) != 0:  # already anchored (a previous run sent it): read it back, never twice
            self._record_anchor_from_chain(batch)
            return
        fn = self.ledger.evidence.functions.anchorBatch(batch.root, batch.size)
        try:
            tx_hash = relayer.send_call(fn, wait=False)
        except ContractRevert as exc:
            if exc.name == "BatchAlreadyAnchored":
                self._record_anchor_from_chain(batch)
                return
            raise
        self.store.set_batch_state(batch.id, SENT, tx_hash=str(tx_hash))

    def _record_anchor_from_chain(self, batch: Batch) -> None:
        b = call(self.ledger.evidence.functions.batch(batch.root))
        block_number = int(b[3])
        logs = self.ledger.evidence.events.BatchAnchored().get_logs(
            from_block=block_number, to_block=block_number, argument_filters={"root": batch.root}
        )
        if not logs:
            return
        self._mark_anchored(batch, logs[0]["transactionHash"], block_number, logs[0]["blockHash"], int(b[2]))

    def _mark_anchored(self, batch: Batch, tx_hash: Any, block_number: int, block_hash: Any, timestamp: int) -> None:
        self.store.set_batch_state(
            batch.id,
            ANCHORED,
            tx_hash=Web3.to_hex(tx_hash),
            block_number=block_number,
            block_hash=Web3.to_hex(block_hash),
            block_timestamp=timestamp,
        )

    def _follow_batch(self, batch: Batch) -> None:
        w3 = self.ledger.w3
        if batch.status == QUEUED or batch.tx_hash is None:
            self._anchor(batch)
            return
        if batch.status == SENT:
            receipt = _receipt(w3, batch.tx_hash)
            if receipt is None:
                if _unknown(w3, batch.tx_hash):
                    log.info("batch %s: transaction lost by the node, anchoring again", batch.id)
                    self.ledger.require_relayer().resync()
                    self._anchor(batch)
                return
            if int(receipt["status"]) != 1:
                self._anchor(batch)  # reverted: most likely anchored meanwhile; read back or resend
                return
            block = w3.eth.get_block(receipt["blockNumber"])
            self._mark_anchored(batch, receipt["transactionHash"], int(receipt["blockNumber"]), receipt["blockHash"], int(block["timestamp"]))
            return
        if batch.status == ANCHORED:
            state = self._confirmation_state(batch.block_number, batch.block_hash, batch.tx_hash)
            if state == "final":
                self.store.set_batch_state(batch.id, FINAL)
            elif state == "lost":
                log.info("batch %s: anchor lost from the chain, anchoring again", batch.id)
                self.store.set_batch_state(batch.id, SENT, block_number=None, block_hash=None, block_timestamp=None)
                self.ledger.require_relayer().resync()
                self._anchor(self.store.batch(batch.id))  # type: ignore[arg-type]

    def _follow_single(self, sub: Submission) -> None:
        w3 = self.ledger.w3
        if sub.tx_hash is None:
            return
        if sub.status == SENT:
            receipt = _receipt(w3, sub.tx_hash)
            if receipt is None:
                if _unknown(w3, sub.tx_hash):
                    self._resend_single(sub)
                return
            if int(receipt["status"]) != 1:
                self._settle_failed_single(sub)
                return
            block = w3.eth.get_block(receipt["blockNumber"])
            self.store.mark_submission(
                sub.id,
                status=ANCHORED,
                block_number=int(receipt["blockNumber"]),
                block_hash=Web3.to_hex(receipt["blockHash"]),
                block_timestamp=int(block["timestamp"]),
            )
        elif sub.status == ANCHORED:
            state = self._confirmation_state(sub.block_number, sub.block_hash, sub.tx_hash)
            if state == "final":
                self.store.mark_submission(sub.id, status=FINAL)
            elif state == "lost":
                self.store.mark_submission(sub.id, status=SENT, block_number=None, block_hash=None, block_timestamp=None)
                self._resend_single(sub)

    def _resend_single(self, sub: Submission) -> None:
        record = self.service.chain_record(bytes(sub.hashes))
        if record is not None and record["registrant"] == sub.registrant:
            # our registration is on chain after all (another transaction carried it): read it back
            self.store.mark_submission(sub.id, status=ANCHORED, block_number=record["blockNumber"], block_timestamp=record["timestamp"])
            return
        log.info("single %s: transaction lost by the node, sending again", sub.id)
        self.ledger.require_relayer().resync()
        try:
            self.service.send_single(sub)
        except ContractRevert:
            pass

    def _settle_failed_single(self, sub: Submission) -> None:
        record = self.service.chain_record(bytes(sub.hashes))
        if record is not None and record["registrant"] == sub.registrant:
            self.store.mark_submission(sub.id, status=ANCHORED, block_number=record["blockNumber"], block_timestamp=record["timestamp"])
        else:
            self.store.mark_submission(sub.id, status=REJECTED, error="the registration transaction reverted")

    def _confirmation_state(self, block_number: int | None, block_hash: str | None, tx_hash: str | None) -> str:
        """'final', 'pending' or 'lost' (the block or the transaction is no longer on the chain)."""
        w3 = self.ledger.w3
        if block_number is None:
            return "pending"
        try:
            block = w3.eth.get_block(block_number)
        except Exception:
            block = None
        if block is None or (block_hash and Web3.to_hex(block["hash"]) != block_hash):
            return "lost"
        if tx_hash and _receipt(w3, tx_hash) is None:
            return "lost"
        latest = int(w3.eth.block_number)
        old_enough = time.time() - int(block["timestamp"]) >= self.settings.final_after
        return "final" if latest - block_number >= self.settings.confirmations and old_enough else "pending"

    def drain(self, timeout: float = 60.0) -> bool:
        """Steps until nothing is queued or in flight short of anchoring (tests and shutdown)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.step(force_batch=True)
            counts = self.store.counts()
            if not counts.get(QUEUED) and not counts.get(SENT):
                return True
            time.sleep(0.05)
        return False


def _receipt(w3: Web3, tx_hash: str) -> Any:
    try:
        return w3.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
    except TransactionNotFound:
        return None


def _unknown(w3: Web3, tx_hash: str) -> bool:
    try:
        w3.eth.get_transaction(tx_hash)  # type: ignore[arg-type]
        return False
    except TransactionNotFound:
        return True
