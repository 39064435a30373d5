"""The aggregator and relay pipeline: drives every journalled submission to the chain and on to finality.

One background thread ticks every ``tick`` seconds:

1. queued singles are sent: those their request gave back unsent (the node did not answer), and those whose
   request's process died or did not send them within their lease. Each is claimed first by a
   compare-and-set on its journal row (``ledger.storage.journal``), so a single has one sender at a time and is never
   sent twice by two of them. Singles an API replica of ``ipledger serve`` journalled for the worker (``queued``,
   with the gas limit of the simulation that accepted them) go out together while that simulation is fresh
   (``SIMULATION_FRESH``): up to ``SEND_CHUNK`` claimed in one transaction, sent without a second estimate
   in one JSON-RPC batch, and recorded sent in one transaction. One the chain refuses after all fails on
   chain and is settled from its receipt like any other; every other single is estimated first;
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
receipt. A transaction due to become final costs one read of its block, shared by every transaction of that block
that the step looks at (one receipt read when its block's hash was not recorded). The singles a step
finds on chain, and those it finds final, are recorded in one journal transaction each.

A single whose hash turns up on chain under another transaction than the journal's (the party relayed it
itself, or an earlier send landed after all) is settled from the chain: the transaction that carried it
(found by its registration event at the record's block) is recorded, and its confirmations are followed.
A submission not on chain within its age limit (``IPLEDGER_SUBMISSION_MAX_AGE``, and never later than 10
minutes past its signed deadline, after which it cannot land) is given up as ``expired``, with one log line.

A fault (the node does not answer, the journal's disk is full or locked) is logged once when it starts and
once when it clears; meanwhile the pipeline retries with a growing pause (up to ``MAX_BACKOFF`` seconds),
and nothing is lost.

The relayer's transactions that the node holds in its pool but never mines (anvil's defects) are mined, or
taken back and sent again unchanged, once its mined nonce has stood still for a few seconds with transactions
in flight (``ledger.chain.pool``). The relayer keeps at most ``MAX_IN_FLIGHT`` transactions unmined
(``ledger.chain.sender``): a single beyond them is left queued for a later step, which is not a fault; a
batch's anchor is never held back.

So after a crash of the API or the node every acknowledged hash is anchored exactly once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from ledger.chain.codec import call
from ledger.chain.connection import Connection
from ledger.chain.head import Head
from ledger.chain.rpc import as_hex, as_int, rpc
from ledger.chain.sender import ClaimLost, WindowFull, claim_relayer, receipt, release_relayer, transaction_known
from ledger.domain import merkle
from ledger.domain.evidence import ANCHORED, FINAL, QUEUED, REJECTED, SENDING, SENT, Submission
from ledger.errors import ContractRevert, LedgerError
from ledger.services.evidence import EvidenceService
from ledger.storage.journal import SEND_WITHIN, Batch, Store, owner_alive, process_owner

log = logging.getLogger("ipledger.pipeline")

#: Steps a sent single may go unseen in the registration events before its receipt is read, and then every
#: how many steps again.
RECEIPT_AFTER_STEPS = 3
RECEIPT_EVERY_STEPS = 5
#: Blocks of registration events read at once: at the first step, or after a gap longer than LOG_SPAN_MAX.
LOG_WINDOW = 256
#: Most blocks of registration events one step reads since the previous one (an answer of bounded size).
LOG_SPAN_MAX = 2000
#: Registration events kept to match sent singles that are marked sent after their block was read.
RECENT_KEPT = 100_000
#: Longest pause between steps while a fault lasts (seconds).
MAX_BACKOFF = 5.0
#: Seconds past its signed deadline after which a submission not on chain expires whatever its age (the
#: contract refuses the signature after the deadline; the margin covers clocks that disagree).
DEADLINE_GRACE = 600
#: Seconds between two looks for submissions past their age limit.
EXPIRY_EVERY = 1.0
#: Singles claimed and sent together, at most.
SEND_CHUNK = 256
#: Seconds after its acceptance within which a single is sent with the gas limit of the simulation that accepted
#: it, unestimated; an older one is estimated again first (which also re-checks every contract rule).
SIMULATION_FRESH = 30.0
#: Seconds a batch's recorded anchoring transaction must stay unknown to the node before it counts as lost and
#: the batch is anchored again (another worker may have recorded it a moment before broadcasting it).
ANCHOR_LOST_AFTER = 3.0


class Pipeline:
    def __init__(self, service: EvidenceService, store: Store, conn: Connection, *, tick: float = 0.2) -> None:
        """``service`` sends and settles singles, ``store`` is the journal, ``conn`` the chain it anchors on (the
        evidence service's); the settings are the evidence service's."""
        self.service = service
        self.store = store
        self.conn = conn
        self.settings = service.settings
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
        self._batch_unknown: dict[int, float] = {}  # sent batch -> time.monotonic() its transaction was first unknown
        # singles found on chain / final during a step, recorded together at its end
        self._anchored_marks: list[tuple[int, int, str, int]] = []
        self._final_marks: list[int] = []
        self._expiry_at = 0.0  # time.monotonic() of the next look for submissions past their age limit
        self.fault: str | None = None  # the fault the pipeline is waiting out, if any
        #: Only send fresh singles (``ipledger worker --singles-only``, a relayer account that shares the load of
        #: another): no batches (they need the anchor role), no takeovers, no following; the worker that leads the
        #: anchoring relayer does all of those for every single, whichever account sent it.
        self.singles_only = False
        #: Whether this process may send now (``ipledger worker``: it still holds the relayer's lease). Asked at
        #: the start of each step and again right before a batch is anchored, so that a worker that lost the lead
        #: stops within a step, not a second later.
        self.may_send: Callable[[], bool] | None = None

    # --- lifecycle ---

    def start(self) -> None:
        """Starts the background thread; first takes the relayer's host-wide lock (``RelayerInUse`` if another
        process sends from the same account on the same chain)."""
        if self._thread is None:
            if self.conn.relayer is not None:
                claim_relayer(self.conn.relayer, self.settings.relayer_lock_dir)
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="ipledger-pipeline", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
            if self.conn.relayer is not None:
                release_relayer(self.conn.relayer)

    def wake(self) -> None:
        self._wake.set()

    def _run(self) -> None:
        pause = self.tick
        while not self._stop.is_set():
            try:
                self.step()
            except Exception as exc:  # noqa: BLE001 - every fault is logged once and waited out
                self._fault_started(exc)
                pause = min(max(pause * 2, self.tick), MAX_BACKOFF)
                self._stop.wait(pause)  # requests do not wake a pipeline that is waiting out a fault
                continue
            if self.fault is not None:
                log.warning("pipeline resumed: %s cleared", self.fault)
                self.fault = None
            pause = self.tick
            self._wake.wait(self.tick)
            self._wake.clear()

    def _fault_started(self, exc: Exception) -> None:
        """Logs a fault once, when it starts (a different fault is a new start)."""
        kind = exc.code if isinstance(exc, LedgerError) else type(exc).__name__
        if kind == self.fault:
            return
        self.fault = kind
        if isinstance(exc, LedgerError):
            log.warning("pipeline paused: %s (%s); retrying, up to every %.0f s", exc.message, kind, MAX_BACKOFF)
        else:
            log.exception("pipeline paused by an unexpected error; retrying, up to every %.0f s", MAX_BACKOFF)

    # --- one step ---

    def step(self, *, force_batch: bool = False) -> None:
        """One pass over the journal. ``force_batch`` anchors waiting submissions without waiting."""
        if self.may_send is not None and not self.may_send():
            return  # the lead was lost: the worker stops this pipeline
        self.service.record_unrecorded()
        self._send_queued_singles()
        if self.conn.relayer is not None:
            self.conn.relayer.cure_stuck()  # transactions the node holds and never mines (an anvil defect)
        if self.singles_only:
            return
        self._expire_overdue()
        self._maybe_batch(force=force_batch)
        if not self.store.has_in_flight():
            return
        self._blocks = {}
        head = self.conn.head.refresh()
        recheck = self._chain_moved(head)
        for batch in self.store.open_batches():
            self._follow_batch(batch, head)
        if recheck:
            self._recent.clear()
            self._log_cursor = None
        sent = self.store.singles(SENT)
        if sent:
            self._read_registrations(head)
        try:
            for sub in sent:
                self._follow_sent_single(sub, head)
        finally:
            self._flush_marks()
        still = {sub.id for sub in sent}
        self._unseen = {k: v for k, v in self._unseen.items() if k in still}
        due_block = head.number - self.settings.confirmations
        due_time = time.time() - self.settings.final_after
        anchored = self.store.singles(ANCHORED) if recheck else self.store.anchored_singles_due(due_block, due_time)
        try:
            for sub in anchored:
                self._follow_anchored_single(sub, head)
        finally:
            self._flush_marks()
        self._seen = head

    # --- singles to send, one owner each ---

    def _send_queued_singles(self) -> None:
        me = process_owner()
        now = time.time()
        fresh: dict[int, int] = {}  # single -> the gas limit of its simulation, sent together below
        for sub in self.store.claimable_singles(me, now):
            gas = self._simulated_gas(sub, now)
            if gas is not None:
                fresh[sub.id] = gas
                continue
            if self.singles_only:
                continue  # taken over, estimated and sent by the worker that leads the anchoring relayer
            takeover = sub.status == SENDING
            if takeover:
                if self.service.unrecorded(sub.id):
                    continue  # sent by this process; its `sent` mark waits for the journal
                if sub.lease_until is not None and sub.lease_until >= now and owner_alive(sub.owner):
                    continue  # its owner is alive and within its lease
            claimed = self.store.claim(sub.id, me, status=sub.status, held_by=sub.owner)
            if claimed is None:
                continue  # someone else changed it first
            if takeover:
                log.info("single %s: taken over from its sender %s (gone or out of time)", sub.id, sub.owner)
            self._send_claimed(claimed, check_chain=takeover or sub.tx_hash is not None)
        ids = list(fresh)
        for i in range(0, len(ids), SEND_CHUNK):
            self._send_fresh({sub_id: fresh[sub_id] for sub_id in ids[i : i + SEND_CHUNK]}, me)

    def _simulated_gas(self, sub: Submission, now: float) -> int | None:
        """The gas limit of a single's simulation at acceptance, if it may be sent on the strength of it: queued,
        never sent, accepted less than ``SIMULATION_FRESH`` seconds ago, and signed by an account's own key (a
        contract wallet's check is estimated when sent). Else None: estimated first, as any other send."""
        if sub.status != QUEUED or sub.owner is not None or sub.tx_hash is not None:
            return None
        if now - sub.created_at > SIMULATION_FRESH or self._overdue(sub):
            return None
        gas = self.service.simulated_gas(sub)
        return gas if gas > 0 else None

    def _send_fresh(self, gas_of: dict[int, int], me: str) -> None:
        """Sends singles just accepted, with the gas their simulation established: claimed in one transaction,
        sent in one JSON-RPC batch, recorded sent in one transaction. A registration the chain refuses after all
        (its party suspended meanwhile, say) fails on chain and is settled from its receipt like any other."""
        claimed = self.store.claim_queued(list(gas_of), me)
        sent = self.service.send_fresh_singles(claimed, gas_of, owner=me, not_after=time.monotonic() + SEND_WITHIN)
        self.service.record_sent_many(sent)

    def _send_claimed(self, sub: Submission, *, check_chain: bool) -> None:
        """Sends a single this pipeline holds; one that may have been sent before is looked for on chain first."""
        if check_chain or self._overdue(sub):
            if self.service.settle_from_chain(sub) is not None:
                return
        if self._overdue(sub):
            self._expire(sub, status=SENDING, held_by=process_owner())
            return
        try:
            self.service.send_single(sub, owner=process_owner(), not_after=time.monotonic() + SEND_WITHIN)
        except ContractRevert:
            pass  # settled (anchored, rejected or expired) by send_single
        except WindowFull:
            pass  # given back by send_single: sent at a later step, as the relayer's earlier ones are mined

    # --- the age limit ---

    def _limits(self) -> tuple[float, float]:
        now = time.time()
        return now - self.settings.submission_max_age, now - DEADLINE_GRACE

    def _overdue(self, sub: Submission) -> bool:
        max_created, max_deadline = self._limits()
        return sub.created_at < max_created or sub.deadline < max_deadline

    def _expire(self, sub: Submission, *, status: str, held_by: str | None) -> None:
        age = time.time() - sub.created_at
        reason = f"not on chain {age:.0f} s after it was accepted (limit {self.settings.submission_max_age:.0f} s"
        reason += ", or 10 minutes past its signed deadline)"
        if self.store.expire(sub.id, reason, status=status, held_by=held_by):
            log.warning("submission %s (%s) expired: %s", sub.id, sub.kind, reason)

    def _expire_overdue(self) -> None:
        """Gives up submissions past their age limit that are not on chain (at most once a second)."""
        if time.monotonic() < self._expiry_at:
            return
        self._expiry_at = time.monotonic() + EXPIRY_EVERY
        max_created, max_deadline = self._limits()
        for sub in self.store.overdue(max_created, max_deadline):
            if sub.kind == "batch" or (sub.status == QUEUED and sub.tx_hash is None):
                self._expire(sub, status=sub.status, held_by=None)  # never sent: nothing can land
                continue
            if self.service.settle_from_chain(sub) is not None:
                continue
            if sub.status == SENT and sub.tx_hash is not None and sub.deadline >= time.time() - DEADLINE_GRACE:
                if receipt(self.conn.w3, sub.tx_hash) is None and transaction_known(self.conn.w3, sub.tx_hash):
                    continue  # still in the node's pool and its signature still valid: it may yet land
            self._expire(sub, status=sub.status, held_by=None)

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
        # from the block after the last read, however many were mined since (a busy node mines a block per
        # transaction), up to LOG_SPAN_MAX; at the first step, or after a longer gap, the last LOG_WINDOW blocks
        start = max(0, head.number - LOG_WINDOW + 1)
        if self._log_cursor is not None:
            start = max(self._log_cursor + 1, head.number - LOG_SPAN_MAX + 1)
        contract = self.conn.evidence
        query = {
            "address": contract.address,
            "topics": [self.service.registered_topic],
            "fromBlock": hex(start),
            "toBlock": hex(head.number),
        }
        try:
            logs = rpc(self.conn.w3, "eth_getLogs", [query])
        except LedgerError as exc:
            log.info("registration events unreadable (%s); following sent singles by their receipts", exc.message)
            self._log_cursor = None
            return
        for entry in logs or []:
            if entry.get("removed"):
                continue
            stamp = entry.get("blockTimestamp")
            self._recent[as_hex(entry["transactionHash"]).lower()] = (
                as_int(entry["blockNumber"]),
                as_hex(entry["blockHash"]),
                None if stamp is None else as_int(stamp),
            )
        while len(self._recent) > RECENT_KEPT:
            self._recent.popitem(last=False)
        self._log_cursor = head.number

    def _block(self, number: int) -> Head | None:
        if number not in self._blocks:
            self._blocks[number] = self.conn.head.block(number)
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
        now = max(int(time.time()), self.conn.head.latest().timestamp)
        keep = []
        for sub in waiting:
            if sub.deadline <= now + 30:
                self.store.mark_submission(sub.id, status=REJECTED, error="the signed deadline passed before anchoring")
                log.warning("submission %s rejected: its deadline passed before anchoring", sub.id)
            else:
                keep.append(sub)
        return keep

    def _anchor(self, batch: Batch) -> None:
        relayer = self.conn.require_relayer()
        if self.may_send is not None and not self.may_send():
            return  # the lead was lost during this step: the new leader anchors it
        onchain = call(self.conn.evidence.functions.batch(batch.root))
        if int(onchain[2]) != 0:  # already anchored (a previous run sent it): read it back, never twice
            self._record_anchor_from_chain(batch)
            return
        fn = self.conn.evidence.functions.anchorBatch(batch.root, batch.size)
        # The transaction is recorded as the batch's before it is broadcast, compare-and-set on what this step
        # saw: of two workers that both lead for a moment (a lease lost between its check and the send), one
        # records and sends, the other sends nothing and follows the recorded transaction.
        seen: dict[str, Any] = {"status": batch.status, "tx_hash": batch.tx_hash}

        def claim(tx_hash: str) -> bool:
            if not self.store.claim_batch_send(batch.id, tx_hash, status=seen["status"], held_by=seen["tx_hash"]):
                return False
            seen.update(status=SENT, tx_hash=tx_hash)  # a retry at a fresh nonce or fees moves the claim on
            return True

        try:
            relayer.send_call(fn, wait=False, before_broadcast=claim, windowed=False)  # never behind the singles
        except ClaimLost:
            log.info("batch %s: another worker is anchoring it; following its transaction", batch.id)
        except ContractRevert as exc:
            if exc.name == "BatchAlreadyAnchored":
                self._record_anchor_from_chain(batch)
                return
            raise
        self._batch_unknown.pop(batch.id, None)

    def _record_anchor_from_chain(self, batch: Batch) -> None:
        b = call(self.conn.evidence.functions.batch(batch.root))
        block_number = int(b[3])
        logs = self.conn.evidence.events.BatchAnchored().get_logs(
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
        w3 = self.conn.w3
        if batch.status == QUEUED or batch.tx_hash is None:
            self._anchor(batch)
            return
        if batch.status == SENT:
            rcpt = receipt(w3, batch.tx_hash)
            if rcpt is None:
                if transaction_known(w3, batch.tx_hash):
                    self._batch_unknown.pop(batch.id, None)
                    return
                # Unknown to the node for ANCHOR_LOST_AFTER seconds of this process's looking: lost. (A moment
                # is not enough: another worker may have recorded it and be about to broadcast it.)
                since = self._batch_unknown.setdefault(batch.id, time.monotonic())
                if time.monotonic() - since >= ANCHOR_LOST_AFTER:
                    log.info("batch %s: transaction lost by the node, anchoring again", batch.id)
                    self.conn.require_relayer().resync()
                    self._anchor(batch)
                return
            self._batch_unknown.pop(batch.id, None)
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
            state = self._confirmation_state(
                head, batch.block_number, batch.block_hash, batch.block_timestamp, batch.tx_hash
            )
            if state == "final":
                self.store.set_batch_state(batch.id, FINAL)
            elif state == "lost":
                log.info("batch %s: anchor lost from the chain, anchoring again", batch.id)
                self.store.set_batch_state(batch.id, SENT, block_number=None, block_hash=None, block_timestamp=None)
                self.conn.require_relayer().resync()
                self._anchor(self.store.batch(batch.id))  # type: ignore[arg-type]

    def _follow_sent_single(self, sub: Submission, head: Head) -> None:
        w3 = self.conn.w3
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
        due = unseen == RECEIPT_AFTER_STEPS or (
            unseen > RECEIPT_AFTER_STEPS and (unseen - RECEIPT_AFTER_STEPS) % RECEIPT_EVERY_STEPS == 0
        )
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
        """Notes a single found on chain; the step records the singles it found together (``_flush_marks``)."""
        self._unseen.pop(sub.id, None)
        self._anchored_marks.append((sub.id, number, block_hash, timestamp))

    def _flush_marks(self) -> None:
        anchored, self._anchored_marks = self._anchored_marks, []
        final, self._final_marks = self._final_marks, []
        self.store.mark_anchored_many(anchored)
        self.store.mark_final_many(final)

    def _follow_anchored_single(self, sub: Submission, head: Head) -> None:
        state = self._confirmation_state(head, sub.block_number, sub.block_hash, sub.block_timestamp, sub.tx_hash)
        if state == "final":
            self._final_marks.append(sub.id)
        elif state == "lost":
            if self.service.settle_from_chain(sub) is not None:
                return  # on chain (perhaps in another block, by another transaction): followed from there
            self.store.mark_submission(sub.id, status=SENT, block_number=None, block_hash=None, block_timestamp=None)
            self._resend_single(self.store.submission(sub.id) or sub)

    def _resend_single(self, sub: Submission) -> None:
        """Sends a single again whose transaction the node lost, unless its record is on chain after all."""
        if self.service.settle_from_chain(sub) is not None:
            return  # on chain after all (another transaction carried it): recorded with that transaction
        claimed = self.store.claim(sub.id, process_owner(), status=sub.status, held_by=sub.owner)
        if claimed is None:
            return
        if self._overdue(claimed):
            self._expire(claimed, status=SENDING, held_by=process_owner())
            return
        log.info("single %s: transaction lost by the node, sending again", sub.id)
        self.conn.require_relayer().resync()
        self._send_claimed(claimed, check_chain=False)

    def _settle_failed_single(self, sub: Submission) -> None:
        if self.service.settle_from_chain(sub) is None:
            self.store.mark_submission(sub.id, status=REJECTED, error="the registration transaction reverted")

    def _confirmation_state(
        self,
        head: Head,
        block_number: int | None,
        block_hash: str | None,
        block_timestamp: int | None,
        tx_hash: str | None,
    ) -> str:
        """'final', 'pending' or 'lost' (the block or the transaction is no longer on the chain).

        With the block's hash recorded, the block at that height is read (once a step, whatever the number of
        transactions in it): the same hash is the same block, whose hash commits to its transactions, so the
        transaction is still there. Without it, the transaction's receipt names the block that holds it on the
        chain as it is now.
        """
        if block_number is None:
            return "pending"
        if head.number < block_number:
            return "lost"  # the chain is shorter than it was
        if tx_hash and not block_hash:
            rcpt = receipt(self.conn.w3, tx_hash)
            if rcpt is None or as_int(rcpt["blockNumber"]) != block_number:
                return "lost"
        else:
            block = self._block(block_number)
            if block is None or (block_hash and block.hash != block_hash):
                return "lost"
            if block_timestamp is None:
                block_timestamp = block.timestamp
        if block_timestamp is None:
            block = self._block(block_number)
            block_timestamp = block.timestamp if block is not None else None
        old_enough = block_timestamp is not None and time.time() - block_timestamp >= self.settings.final_after
        deep = head.number - block_number >= self.settings.confirmations
        # On the embedded node, also in a whole state dump on disk (Ledger.durable; docs/operations.md).
        return "final" if deep and old_enough and self.conn.durable(block_number) else "pending"

    def drain(self, timeout: float = 60.0) -> bool:
        """Steps until nothing is queued or in flight short of anchoring (tests and shutdown)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.step(force_batch=True)
            counts = self.store.counts()
            if not counts.get(QUEUED) and not counts.get(SENDING) and not counts.get(SENT):
                return True
            time.sleep(0.05)
        return False
