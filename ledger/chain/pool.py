"""A relayer's transactions that anvil holds in its pool but never mines: found, and mined or sent again unchanged.

anvil (1.7) can keep a transaction in its pool for ever, in three ways (each measured with thousands of
concurrent transactions from one account):

- **ready, but no block comes.** Its instant miner mines when a transaction arrives, as much as one block holds
  (30 M gas: some 1,400 transfers or 500 registrations). What a burst leaves beyond that waits for the next
  arrival, and after the last one, for ever;
- **queued behind a nonce already mined.** A transaction is filed as waiting for its predecessor's nonce when
  that predecessor is mined, and pruned from the pool, between the moment anvil read the account's nonce for it
  and the moment it files it. Nothing provides that nonce again, so the transaction, and every later one of the
  account, waits in the pool's queue. A node that mines by consensus (Besu, geth) re-checks its queue at every
  block; anvil does not. Three bursts of 6,000 in fourteen left one there;
- **wedged.** With anvil's default limit of 1,000 transactions per block its instant miner stops mining for good
  in such a burst, spinning (the embedded node raises the limit: ``ledger.chain.node.MAX_BLOCK_TRANSACTIONS``;
  a node started by someone else may not, and docs/operations.md says so).

For the ledger that is a registration acknowledged and never anchored: its transaction stays known to the node,
so the pipeline waits for it until its age limit gives it up. :class:`PoolWatch` follows one relayer account.
While the account has transactions in flight and its mined nonce has not moved for :data:`STUCK_AFTER` seconds
(beyond the node's block interval), it looks at the account's transactions in the pool (``txpool_content``).
Only when the lowest of them carries the account's next nonce, so that nothing but the node stands in its way:

- queued: it takes each one's signed bytes (``eth_getRawTransactionByHash``), removes the account's
  transactions from the pool (``anvil_removePoolTransactions``) and sends the same bytes again, in nonce order;
- then, or when it was ready already, on a node that mines on arrival (``anvil_getAutomine``), it asks for
  blocks (``evm_mine``, each as much as a block holds) until nothing of the account is ready or a block takes
  nothing of it. A node set to mine by the clock, or by hand, is left to do so.

The same bytes: the same transactions with the same hashes, so the journal's records stay true, nothing signed
changes and nothing can land twice; a transaction mined meanwhile is refused as used (ignored). The blocks are
what the node would have mined had it not missed the moment. Should the process die between the removal and the
sending, the transactions are unknown to the node, which the pipeline already cures by sending them again. Any
node other than anvil is left alone.
"""

from __future__ import annotations

import logging
import threading
import time

from web3 import Web3

from ledger.chain.rpc import NodeRefused, as_int, rpc, rpc_batch
from ledger.errors import LedgerError

log = logging.getLogger("ipledger.sender")

#: Seconds the account's mined nonce must stand still, with transactions of it in flight, beyond the node's
#: block interval, before its pool is looked at. (anvil mines on arrival within milliseconds; a block that takes
#: longer to mine only makes the look find nothing to do.)
STUCK_AFTER = 3.0
#: Seconds between two looks at the account's mined nonce.
CHECK_EVERY = 1.0
#: Transactions whose signed bytes are read in one JSON-RPC batch.
READ_CHUNK = 500
#: Most blocks asked for at one cure (each holds up to 30 M gas); the rest at the next.
MAX_BLOCKS = 200


class PoolWatch:
    """Follows one account on one node; :meth:`check` is called often (each step of the pipeline)."""

    def __init__(self, w3: Web3, address: str) -> None:
        self.w3 = w3
        self.address = address
        self._anvil: bool | None = None  # whether the node is anvil (asked once)
        self._interval = 0.0  # anvil's block interval, 0 when it mines on arrival
        self._next_at = 0.0  # time.monotonic() of the next look
        self._mined: int | None = None  # the account's mined nonce at the last look
        self._since = 0.0  # time.monotonic() since which it has not moved
        #: Transactions sent again, and blocks asked for, since the start (for tests and the log).
        self.resent = 0
        self.blocks = 0

    def check(self, next_nonce: int | None, lock: threading.Lock | None = None) -> bool:
        """Looks (at most every :data:`CHECK_EVERY` seconds) whether the account's transactions are stuck in the
        node's pool and, if so, cures it (:meth:`cure`); returns whether it did. ``next_nonce`` is the nonce the
        account's sender will use next (None when it does not know: nothing of this process is in flight);
        ``lock`` is held during a cure, so that the sender sends nothing meanwhile."""
        now = time.monotonic()
        if now < self._next_at:
            return False
        self._next_at = now + CHECK_EVERY
        if next_nonce is None or not self._is_anvil():
            self._mined = None
            return False
        mined = self._mined_nonce()
        if mined >= next_nonce:
            self._mined = None  # nothing in flight
            return False
        if mined != self._mined:
            self._mined, self._since = mined, now
            return False
        if now - self._since < STUCK_AFTER + self._interval:
            return False
        self._since = now  # whatever the cure finds, wait as long again before the next
        if lock is None:
            return self.cure()
        with lock:
            return self.cure()

    def cure(self) -> bool:
        """Mines, or sends again unchanged and mines, the account's transactions in the node's pool, when the
        lowest of them carries the account's next nonce; returns whether it did either."""
        waiting, ready = self._waiting()
        mined = self._mined_nonce()
        nonces = sorted(n for n in waiting if n >= mined)
        if not nonces or nonces[0] != mined:
            return False  # nothing waits, or the next nonce is missing (the pipeline sends its transaction again)
        resent = 0
        if mined not in ready:
            resent = self._send_again([waiting[n] for n in nonces])
            if not resent:
                return False
        automine = rpc(self.w3, "anvil_getAutomine", []) is True
        blocks = self._mine(ready=not resent) if automine else 0
        done = [f"sent {resent} of them again unchanged"] if resent else []
        done += [f"asked the node for {blocks} blocks"] if blocks else []
        if done:
            log.warning(
                "the node held %d transactions of %s (from nonce %d) in its pool without mining them (an anvil "
                "defect): %s",
                len(nonces),
                self.address,
                mined,
                "; ".join(done),
            )
        return bool(resent or blocks)

    def _send_again(self, hashes: list[str]) -> int:
        """Reads the signed bytes of ``hashes`` (in nonce order), removes the account's transactions from the
        pool and sends the bytes again in that order; returns how many the node took."""
        raws: list[str] = []
        for i in range(0, len(hashes), READ_CHUNK):
            answers = rpc_batch(self.w3, [("eth_getRawTransactionByHash", [x]) for x in hashes[i : i + READ_CHUNK]])
            raws += [a for a in answers if isinstance(a, str) and a.startswith("0x")]
        if not raws:
            return 0
        rpc(self.w3, "anvil_removePoolTransactions", [self.address])
        sent = 0
        for raw in raws:  # one by one, in nonce order: each arrives after the one it waits for
            try:
                rpc(self.w3, "eth_sendRawTransaction", [raw])
                sent += 1
            except NodeRefused:
                continue  # mined meanwhile (nonce used), or held again already
        self.resent += sent
        return sent

    def _mine(self, *, ready: bool) -> int:
        """Asks for blocks while the account has ready transactions and each block takes some; returns how many.
        ``ready``: the caller has just seen one (else the pool is read first)."""
        blocks = 0
        if not ready and not self._waiting()[1]:
            return 0  # nothing of the account is ready (what was sent again was mined as it arrived)
        before = self._mined_nonce()
        while blocks < MAX_BLOCKS:
            rpc(self.w3, "evm_mine", [])
            blocks += 1
            after = self._mined_nonce()
            if after == before or not self._waiting()[1]:
                break
            before = after
        self.blocks += blocks
        return blocks

    def _mined_nonce(self) -> int:
        return as_int(rpc(self.w3, "eth_getTransactionCount", [self.address, "latest"]))

    def _waiting(self) -> tuple[dict[int, str], set[int]]:
        """The account's transactions in the node's pool (nonce -> hash), and the nonces of those ready."""
        content = rpc(self.w3, "txpool_content", [], large=True)
        found: dict[int, str] = {}
        ready: set[int] = set()
        if not isinstance(content, dict):
            return found, ready
        me = self.address.lower()
        for section in ("pending", "queued"):  # anvil's "pending" are the ready ones
            accounts = content.get(section)
            if not isinstance(accounts, dict):
                continue
            for account, by_nonce in accounts.items():
                if str(account).lower() != me or not isinstance(by_nonce, dict):
                    continue
                for nonce, tx in by_nonce.items():
                    tx_hash = tx.get("hash") if isinstance(tx, dict) else None
                    if isinstance(tx_hash, str) and str(nonce).isdigit():
                        found[int(nonce)] = tx_hash
                        if section == "pending":
                            ready.add(int(nonce))
        return found, ready

    def _is_anvil(self) -> bool:
        if self._anvil is None:
            try:
                version = rpc(self.w3, "web3_clientVersion", [])
            except LedgerError:
                return False  # asked again at the next look
            self._anvil = isinstance(version, str) and version.lower().startswith("anvil")
            if self._anvil:
                try:
                    interval = rpc(self.w3, "anvil_getIntervalMining", [])
                except LedgerError:
                    interval = None
                self._interval = float(as_int(interval)) if interval else 0.0
        return self._anvil
