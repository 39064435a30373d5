"""The aggregator and relay pipeline: drives every journalled submission to the chain and on to finality.

One background thread ticks every ``tick`` seconds:

1. queued singles are sent (after a crash of the API between journalling and sending);
2. queued batch submissions are gathered into a batch — its composition fixed in the journal first —
   when the oldest has waited ``batch_interval`` seconds or ``batch_max_items`` items are waiting, and
   the batch root is anchored;
3. sent transactions are followed: a receipt marks them anchored; ``confirmations`` blocks and
   ``final_after`` seconds later, with the transaction still in the same block, final. A transaction the
   node no longer knows (a node restarted from an older state) is sent again. A batch root the contract
   already holds is never anchored twice: the contract refuses a second anchor of the same root, and the
   pipeline reads the anchor back instead.

Each step reads the head once (it is shared with the request paths through ``Ledger.head``) and checks that
the head it saw last is still on the chain; only when it is not (a reorganisation, a node restarted from an
older state) are all anchored transactions looked at again. Sent singles are found in the registration
events of the blocks mined since the previous step (one ``eth_getLogs`` for all of them); one that has not
turned up after a few steps (reverted, lost, or sent before the pipeline started) is looked up by its
receipt. An anchored transaction costs one receipt read, when it is due to become final.

So after a crash of the API or the node every acknowledged hash is anchored exactly once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from typing import TYPE_CHECKING, Any



from ledger import merkle
from ledger.errors import ContractRevert, LedgerError
from ledger.store import ANCHORED, FINAL, QUEUED, REJECTED, SENT, Batch, Store, Submission
from ledger.tx import Head, as_hex, as_int, call, receipt, rpc, transaction_known

if TYPE_CHECKING:
    from ledger.evidence import EvidenceService

log = logging.getLogger("ipledger.pipeline")

#: Steps a sent single may go unseen in the registration events before its receipt is read, and then every
#: how many steps again.
RECEIPT_AFTER_STEPS = 3
RECEIPT_EVERY_STEPS = 5
#: Blocks of registration events read at once: at the first step, or after a gap.
LOG_WINDOW = 256
#: Registration events kept to match sent singles that are marked sent after their block was read.
RECENT_KEPT = 100_000


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
        self._seen: Head | None = None  # the head of the previous step
        self._blocks: dict[int, Head | None] = {}  # blocks read during the current step
        self._log_cursor: int | None = None  # the last block whose registration events were read
        # transaction hash -> (block number, block hash, block time or None) of recent registration events
        self._recent: OrderedDict[str, tuple[int, str, int | None]] = OrderedDict()
        self._unseen: dict[int, int] = {}  # sent single -> steps it has not been found in the events

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
            if self.service.in_hand(bytes(sub.hashes)):
                continue  # its request is sending it
            try:
                self.service.send_single(sub)
            except ContractRevert:
                pass  # recorded as rejected by send_single
        self._maybe_batch(force=force_batch)
        if not self.store.has_in_flight():
            return
        self._blocks = {}
        head = self.ledger.head.refresh()
        recheck = self._chain_moved(head)
        for batch in self.store.open_batches():
            self._follow_batch(batch, head)
        if recheck:
            self._recent.clear()
            self._log_cursor = None
        sent = self.store.singles(SENT)
        if sent:
            self._read_registrations(head)
        for sub in sent:
            self._follow_sent_single(sub, head)
        still = {sub.id for sub in sent}
        self._unseen = {k: v for k, v in self._unseen.items() if k in still}
        due_block = head.number - self.settings.confirmations
        due_time = time.time() - self.settings.final_after
        anchored = self.store.singles(ANCHORED) if recheck else self.store.anchored_singles_due(due_block, due_time)
        for sub in anchored:
            self._follow_anchored_single(sub, head)
        self._seen = head

    def _chain_moved(self, head: Head) -> bool:
        """Whether the chain may have dropped blocks since the previous step: on the first step, when the head
        went back, or when the previous head is no longer the block at its height."""
        seen = self._seen
        if seen is None or head.number < seen.number:
            return True
        if head.number == seen.number:
            return head.hash != seen.hash
        block = self._block(seen.number)
        return block is None or block.hash != seen.hash

    def _read_registrations(self, head: Head) -> None:
        """Reads the registration events of the blocks mined since the last read, up to ``head``."""
        if self._log_cursor is not None and head.number <= self._log_cursor:
            return
        start = max(0, head.number - LOG_WINDOW + 1)
        if self._log_cursor is not None:
            start = max(start, self._log_cursor + 1)
        contract = self.ledger.evidence
        query = {"address": contract.address, "topics": [self.service.registered_topic], "fromBlock": hex(start), "toBlock": hex(head.number)}
        try:
            logs = rpc(self.ledger.w3, "eth_getLogs", [query])
        except LedgerError as exc:
            log.info("registration events unreadable (%s); following sent singles by their receipts", exc.message)
            self._log_cursor = None
            return
        for entry in logs or []:
            if entry.get("removed"):
                continue
            stamp = entry.get("blockTimestamp")
            self._recent[as_hex(entry["transactionHash"]).lower()] = (
                as_int(entry["blockNumber"]), as_hex(entry["blockHash"]), None if stamp is None else as_int(stamp)
            )
        while len(self._recent) > RECENT_KEPT:
            self._recent.popitem(last=False)
        self._log_cursor = head.number

    def _block(self, number: int) -> Head | None:
        if number not in self._blocks:
            self._blocks[number] = self.ledger.head.block(number)
        return self._blocks[number]

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
        now = max(int(time.time()), self.ledger.head.latest().timestamp)
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
            tx_hash=as_hex(tx_hash),
            block_number=block_number,
            block_hash=as_hex(block_hash),
            block_timestamp=timestamp,
        )

    def _follow_batch(self, batch: Batch, head: Head) -> None:
        w3 = self.ledger.w3
        if batch.status == QUEUED or batch.tx_hash is None:
            self._anchor(batch)
            return
        if batch.status == SENT:
            rcpt = receipt(w3, batch.tx_hash)
            if rcpt is None:
                if not transaction_known(w3, batch.tx_hash):
                    log.info("batch %s: transaction lost by the node, anchoring again", batch.id)
                    self.ledger.require_relayer().resync()
                    self._anchor(batch)
                return
            if as_int(rcpt["status"]) != 1:
                self._anchor(batch)  # reverted: most likely anchored meanwhile; read back or resend
                return
            number = as_int(rcpt["blockNumber"])
            block = self._block(number)
            if block is None:
                return  # the block went away between the two reads: look again next step
            self._mark_anchored(batch, rcpt["transactionHash"], number, rcpt["blockHash"], block.timestamp)
            return
        if batch.status == ANCHORED:
            state = self._confirmation_state(head, batch.block_number, batch.block_hash, batch.block_timestamp, batch.tx_hash)
            if state == "final":
                self.store.set_batch_state(batch.id, FINAL)
            elif state == "lost":
                log.info("batch %s: anchor lost from the chain, anchoring again", batch.id)
                self.store.set_batch_state(batch.id, SENT, block_number=None, block_hash=None, block_timestamp=None)
                self.ledger.require_relayer().resync()
                self._anchor(self.store.batch(batch.id))  # type: ignore[arg-type]

    def _follow_sent_single(self, sub: Submission, head: Head) -> None:
        w3 = self.ledger.w3
        if sub.tx_hash is None:
            return
        found = self._recent.get(sub.tx_hash.lower())
        if found is not None:  # an event of the transaction: it succeeded in that block
            number, block_hash, stamp = found
            if stamp is None:
                block = head if number == head.number and block_hash == head.hash else self._block(number)
                if block is None:
                    return  # the block went away between the two reads: look again next step
                stamp = block.timestamp
            self._mark_single_anchored(sub, number, block_hash, stamp)
            return
        unseen = self._unseen.get(sub.id, 0) + 1
        self._unseen[sub.id] = unseen
        due = unseen == RECEIPT_AFTER_STEPS or (unseen > RECEIPT_AFTER_STEPS and (unseen - RECEIPT_AFTER_STEPS) % RECEIPT_EVERY_STEPS == 0)
        if self._log_cursor is not None and not due:
            return
        rcpt = receipt(w3, sub.tx_hash)
        if rcpt is None:
            if not transaction_known(w3, sub.tx_hash):
                self._resend_single(sub)
            return
        if as_int(rcpt["status"]) != 1:
            self._settle_failed_single(sub)
            return
        number = as_int(rcpt["blockNumber"])
        block = head if number == head.number and as_hex(rcpt["blockHash"]) == head.hash else self._block(number)
        if block is None:
            return  # the block went away between the two reads: look again next step
        self._mark_single_anchored(sub, number, as_hex(rcpt["blockHash"]), block.timestamp)

    def _mark_single_anchored(self, sub: Submission, number: int, block_hash: str, timestamp: int) -> None:
        self._unseen.pop(sub.id, None)
        self.store.mark_submission(
            sub.id, status=ANCHORED, block_number=number, block_hash=block_hash, block_timestamp=timestamp, durable=False
        )

    def _follow_anchored_single(self, sub: Submission, head: Head) -> None:
        state = self._confirmation_state(head, sub.block_number, sub.block_hash, sub.block_timestamp, sub.tx_hash)
        if state == "final":
            self.store.mark_submission(sub.id, status=FINAL, durable=False)
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

    def _confirmation_state(
        self, head: Head, block_number: int | None, block_hash: str | None, block_timestamp: int | None,
        tx_hash: str | None,
    ) -> str:  # fmt: skip
        """'final', 'pending' or 'lost' (the block or the transaction is no longer on the chain).

        A transaction's receipt names the block that holds it on the chain as it is now, so one receipt read
        shows both that the transaction is still there and that its block is unchanged.
        """
        if block_number is None:
            return "pending"
        if head.number < block_number:
            return "lost"  # the chain is shorter than it was
        if tx_hash:
            rcpt = receipt(self.ledger.w3, tx_hash)
            if rcpt is None or as_int(rcpt["blockNumber"]) != block_number:
                return "lost"
            if block_hash and as_hex(rcpt["blockHash"]) != block_hash:
                return "lost"
        else:
            block = self._block(block_number)
            if block is None or (block_hash and block.hash != block_hash):
                return "lost"
        if block_timestamp is None:
            block = self._block(block_number)
            block_timestamp = block.timestamp if block is not None else None
        old_enough = block_timestamp is not None and time.time() - block_timestamp >= self.settings.final_after
        return "final" if head.number - block_number >= self.settings.confirmations and old_enough else "pending"

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
