"""THE sender: the only code that signs transactions. Nonces, gas, fees, receipts and the relayer's lock.

Guarantees of the sender: a transaction is broadcast at most once per call; a refusal that a fresh nonce
or fresh fees cure (another process using the account, a head that fees outgrew) is retried a bounded
number of times, and what cannot be sent raises :class:`NotSent` (nothing was broadcast) while a broadcast
whose answer was lost raises :class:`SendUncertain` (carrying the transaction's hash, so that it can be
followed). While the node does not answer, threads waiting for the sender fail at once instead of each
waiting out its own timeout. One process per relayer account and chain (:class:`RelayerLock`).

Dynamic-fee transactions are signed here directly with the account's key (five times faster than
eth-account, byte for byte the same); fees come from the shared ``ledger.chain.head.ChainHead``, requests
go through ``ledger.chain.rpc.rpc`` and reverts are decoded by ``ledger.chain.codec``.
"""

from __future__ import annotations

import fcntl
import logging
import os
import random
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import coincurve
import rlp
from eth_account.signers.local import LocalAccount
from eth_utils import keccak, to_canonical_address
from web3 import Web3
from web3.exceptions import TimeExhausted
from web3.types import TxParams

from ledger.chain.artifacts import decode_revert
from ledger.chain.codec import as_revert, revert_data, short_error
from ledger.chain.head import ChainHead, Head
from ledger.chain.pool import PoolWatch
from ledger.chain.rpc import NodeRefused, as_hex, as_int, rpc, rpc_batch
from ledger.errors import ChainUnavailable, ContractRevert, LedgerError, RelayerInUse, TransactionFailed

log = logging.getLogger("ipledger.sender")

#: How old a head block may be when its base fee prices a transaction (seconds).
FEE_MAX_AGE = 1.0
#: Broadcasts of one transaction refused for a used nonce or low fees before the sender gives up (NotSent).
SEND_ATTEMPTS = 6

#: Most transactions of one account the sender keeps unmined at once; more are not sent now (:class:`NotSent`,
#: left to the pipeline, which sends them as the window opens). anvil's instant miner wedges with a thousand
#: transactions ready, which is its limit again whenever mining is paused and resumed (the embedded node's state
#: guard does that under load; ledger/chain/pool.py), and a node's pool keeps only so many of one sender; two
#: relayer accounts together stay below anvil's thousand.
MAX_IN_FLIGHT = 400
#: Seconds a read of the account's mined nonce counts as fresh for the window above.
MINED_FRESH = 0.05

#: Words of a node's refusal that mean another transaction took the nonce (another process uses the account).
_NONCE_TAKEN = (
    "nonce too low",
    "replacement transaction underpriced",
    "already known",
    "known transaction",
    "alreadyknown",
    "already imported",
    "nonce has already been used",
    "replacement",
)
#: Words of a refusal that say the node holds a transaction with this very hash already.
_ALREADY_HELD = ("known", "already imported")
_FEES_LOW = ("base fee", "basefee", "underpriced", "fee cap", "feecap", "max fee per gas less than")


class NotSent(ChainUnavailable):
    """Nothing was broadcast: the node refused the transaction, did not answer before it was sent, or the
    sender gave up in time (its caller may try again later)."""


class WindowFull(NotSent):
    """Nothing was broadcast: :data:`MAX_IN_FLIGHT` transactions of the account await mining (sent later)."""


class ClaimLost(NotSent):
    """Nothing was broadcast: the caller's ``before_broadcast`` found its claim taken (another process sends
    what the transaction would carry)."""


class NotMined(ChainUnavailable):
    """Sent, but no receipt came within the wait: the node holds the transaction or mines nothing now. It may
    still be mined, so its sender looks ``tx_hash`` up before acting again (an API caller gets a 503 naming it)."""

    def __init__(self, message: str, tx_hash: str) -> None:
        super().__init__(message)
        self.tx_hash = tx_hash


class SendUncertain(ChainUnavailable):
    """The transaction was handed to the node but its answer was lost (a timeout or a dropped connection):
    it may be in the node's pool. ``tx_hash`` is its hash, computed from the signed bytes."""

    def __init__(self, message: str, tx_hash: str) -> None:
        super().__init__(message)
        self.tx_hash = tx_hash


def _message(exc: Exception) -> str:
    return str(getattr(exc, "rpc_message", None) or getattr(exc, "message", None) or exc)


def receipt(w3: Web3, tx_hash: str) -> dict[str, Any] | None:
    """The raw receipt of a transaction, or None while it is pending or unknown."""
    result = rpc(w3, "eth_getTransactionReceipt", [tx_hash])
    return dict(result) if result else None


def transaction_known(w3: Web3, tx_hash: str) -> bool:
    """Whether the node knows the transaction (pending or mined)."""
    return bool(rpc(w3, "eth_getTransactionByHash", [tx_hash]))


@dataclass(frozen=True)
class SentTransaction:
    tx_hash: str
    block_number: int
    block_hash: str
    gas_used: int
    status: int
    logs: list[Any]
    receipt: Any


class TxSender:
    """Signs and sends transactions from one local account, serialising nonces across threads.

    A call is estimated first unless its caller gives the gas limit (having run the same rules some other
    way), so a revert is decoded into a :class:`ContractRevert` before anything is broadcast. A transaction
    that still fails on chain is re-run as a call at its block to decode why. Fees come from a head read at
    most ``fee_max_age`` seconds ago (:class:`ChainHead`, shared with the request paths).
    """

    def __init__(
        self,
        w3: Web3,
        account: LocalAccount,
        *,
        receipt_timeout: float = 120.0,
        gas_margin: float = 1.2,
        head: ChainHead | None = None,
        fee_max_age: float = FEE_MAX_AGE,
    ):
        self.w3 = w3
        self.account = account
        self.receipt_timeout = receipt_timeout
        self.gas_margin = gas_margin
        self.head = head or ChainHead(w3)
        self.fee_max_age = fee_max_age
        self._key = coincurve.PrivateKey(bytes(account.key))
        self._lock = threading.Lock()
        self._nonce: int | None = None
        self._chain_id: int | None = None
        self._fees_of: tuple[Head, dict[str, int]] | None = None
        self._failed: float = 0.0  # time.monotonic() when a send last found the node unavailable
        self._mined = 0  # the account's mined nonce as last read (for MAX_IN_FLIGHT), and when
        self._mined_at = 0.0
        self._account_lock: RelayerLock | None = None
        self._pool_watch = PoolWatch(w3, self.address)

    @property
    def address(self) -> str:
        return str(self.account.address)

    def chain_id(self) -> int:
        if self._chain_id is None:
            self._chain_id = int(self.w3.eth.chain_id)
        return self._chain_id

    def cure_stuck(self) -> bool:
        """Has the node mine, or takes back and sends again unchanged, this account's transactions that it holds
        without mining them (anvil's defects; :class:`ledger.chain.pool.PoolWatch`), once its mined nonce has
        stood still for a few seconds with transactions in flight; returns whether it did. Looks at most once a
        second; nothing is sent from this account during a cure."""
        return self._pool_watch.check(self._nonce, self._lock)

    def resync(self) -> None:
        """Forgets the cached nonce; the next send reads it from the node (after a node restart)."""
        with self._lock:
            self._nonce = None

    def estimate(self, tx: dict[str, Any]) -> int:
        try:
            # the sender keeps transactions as plain dicts; their keys are TxParams's
            return int(self.w3.eth.estimate_gas(cast(TxParams, tx)))
        except Exception as exc:  # noqa: BLE001 - each provider raises its own classes; as_revert classifies them
            raise as_revert(exc) from None

    def send_call(
        self,
        fn: Any,
        *,
        gas: int | None = None,
        wait: bool = True,
        before_broadcast: Callable[[str], bool] | None = None,
        windowed: bool = True,
    ) -> SentTransaction | str:
        """Builds, estimates, signs and sends a contract function call (``contract.functions.f(...)``)."""
        # web3's calldata encoder: build_transaction would estimate gas, which send() does itself
        data = fn._encode_transaction_data()  # noqa: SLF001
        return self.send(
            {"to": fn.address, "data": data, "value": 0},
            gas=gas,
            wait=wait,
            before_broadcast=before_broadcast,
            windowed=windowed,
        )

    def send(
        self,
        tx: dict[str, Any],
        *,
        gas: int | None = None,
        wait: bool = True,
        not_after: float | None = None,
        before_broadcast: Callable[[str], bool] | None = None,
        windowed: bool = True,
    ) -> SentTransaction | str:
        """Signs and sends ``tx`` from this account. Without ``gas`` the call is estimated first (which decodes a
        revert before anything is broadcast); with it, the caller vouches for the limit.

        ``not_after`` (``time.monotonic()``) is the latest moment the broadcast may start; later, :class:`NotSent`.
        A nonce another sender took, or fees the head outgrew, are cured and retried up to ``SEND_ATTEMPTS``
        times; a refusal beyond that, or any other, raises :class:`NotSent`. A broadcast whose answer is lost
        raises :class:`SendUncertain`.

        ``before_broadcast(tx_hash)`` is asked with the hash of the signed transaction right before each
        broadcast (a retry signs anew, and asks again with the new hash): the caller records its claim on what
        the transaction carries. False, or an exception, and nothing is broadcast and the nonce stays free
        (:class:`NotSent`, or the exception).

        With :data:`MAX_IN_FLIGHT` transactions of the account unmined, :class:`WindowFull` (a :class:`NotSent`),
        unless ``windowed`` is False (one transaction that must not wait behind many, a batch's anchor).
        """
        asked = time.monotonic()
        tx = {**tx, "from": self.address, "chainId": self.chain_id()}
        if gas is None:
            gas = int(self.estimate(tx) * self.gas_margin) + 10_000
        tx["gas"] = gas
        tx.update(self._fees())
        with self._lock:
            if self._failed >= asked:  # the node stopped answering while this thread waited for the sender
                raise NotSent("the chain node does not answer")
            tx_hash = self._send_locked(tx, not_after, before_broadcast, windowed)
        if not wait:
            return tx_hash
        return self.wait(tx_hash, tx)

    def send_many(
        self, txs: list[dict[str, Any]], gases: list[int], *, not_after: float | None = None
    ) -> list[str | NotSent | SendUncertain]:
        """Signs ``txs`` with consecutive nonces and sends them in one JSON-RPC batch (one round trip, and a node
        that mines on arrival packs them into shared blocks). ``gases`` are their limits, vouched for by the
        caller as in :meth:`send`. Each entry of the answer is the transaction's hash, :class:`SendUncertain`
        (the batch's answer was lost: each may be in the node's pool) or :class:`NotSent`.

        A transaction the node refuses would leave its nonce open, and a later one the node took would wait behind
        it for ever: the refused ones are sent again one by one (fresh fees when the head outgrew them), first into
        such gaps, then after the batch's last. A gap that none of them can fill goes to a transfer of nothing to
        the relayer itself."""
        asked = time.monotonic()
        if not txs:
            return []
        chain_id = self.chain_id()
        fees = self._fees()
        prepared = [
            {**tx, "from": self.address, "chainId": chain_id, "gas": gas, **fees}
            for tx, gas in zip(txs, gases, strict=True)
        ]
        with self._lock:
            if self._failed >= asked:
                return [NotSent("the chain node does not answer")] * len(txs)
            if not_after is not None and time.monotonic() > not_after:
                return [NotSent("the transactions were not sent in time; they are left for the pipeline")] * len(txs)
            try:
                if self._nonce is None:
                    self._nonce = self._pending_nonce()
            except ChainUnavailable as exc:
                self._failed = time.monotonic()
                return [NotSent(exc.message)] * len(txs)
            first = self._nonce
            try:
                room = self._room(first)
            except ChainUnavailable as exc:
                self._failed = time.monotonic()
                return [NotSent(exc.message)] * len(txs)
            held_back: list[str | NotSent | SendUncertain] = [self._window_full()] * max(0, len(prepared) - room)
            prepared = prepared[: len(prepared) - len(held_back)]
            if not prepared:
                return held_back
            hashes: list[str] = []
            calls: list[tuple[str, list[Any]]] = []
            for k, tx in enumerate(prepared):
                tx["nonce"] = first + k
                raw = self.sign(tx)
                hashes.append("0x" + keccak(raw).hex())
                calls.append(("eth_sendRawTransaction", ["0x" + raw.hex()]))
            try:
                answers = rpc_batch(self.w3, calls)
            except ChainUnavailable as exc:
                self._nonce = None
                self._failed = time.monotonic()
                message = f"the node did not confirm the transaction ({exc.message})"
                uncertain: list[str | NotSent | SendUncertain] = [SendUncertain(message, x) for x in hashes]
                return uncertain + held_back
            results: list[str | NotSent | SendUncertain | None] = []
            for tx_hash, answer in zip(hashes, answers, strict=True):
                if not isinstance(answer, Exception):
                    results.append(as_hex(answer) if answer else tx_hash)
                elif self._held_already(tx_hash, answer):
                    results.append(tx_hash)
                else:
                    results.append(None)
            if all(isinstance(result, str) for result in results):
                self._nonce = first + len(prepared)
                return cast(list[str | NotSent | SendUncertain], results) + held_back
            self._after_refusals(prepared, answers, results, first, not_after)
            self._nonce = None  # whatever the node says is next
            return cast(list[str | NotSent | SendUncertain], results) + held_back

    def _room(self, first: int) -> int:
        """How many more transactions may be sent from nonce ``first`` on (:data:`MAX_IN_FLIGHT`); the mined
        nonce is read again when the window looks full (or the last read is ahead of ``first``) and that read is
        older than :data:`MINED_FRESH`. Called under the lock."""
        in_flight = first - self._mined
        if not 0 <= in_flight < MAX_IN_FLIGHT and time.monotonic() - self._mined_at > MINED_FRESH:
            # full, or a node restarted from an older state is behind the last read
            self._mined = as_int(rpc(self.w3, "eth_getTransactionCount", [self.address, "latest"]))
            self._mined_at = time.monotonic()
            in_flight = first - self._mined
        return max(0, min(MAX_IN_FLIGHT, MAX_IN_FLIGHT - in_flight))

    def _window_full(self) -> WindowFull:
        return WindowFull(f"{MAX_IN_FLIGHT} transactions of {self.address} await mining; this one is not sent now")

    def _held_already(self, tx_hash: str, answer: Exception) -> bool:
        """Whether a refusal says the node holds this very transaction already (a batch sent again)."""
        text = _message(answer).lower()
        if not any(word in text for word in _ALREADY_HELD):
            return False
        try:
            return transaction_known(self.w3, tx_hash)
        except LedgerError:
            return False

    def _after_refusals(
        self,
        prepared: list[dict[str, Any]],
        answers: list[Any],
        results: list[str | NotSent | SendUncertain | None],
        first: int,
        not_after: float | None,
    ) -> None:
        """After a batch the node refused parts of: the refused transactions (``None`` in ``results``) are sent
        again one by one, into the nonces the batch left open below the highest it got in first (a later
        transaction would wait behind such a gap for ever) and then above it. A nonce below that one that no
        transaction can take goes to a transfer of nothing to the relayer itself. Called under the lock."""
        held = {first + k for k, result in enumerate(results) if isinstance(result, str)}
        top = max(held, default=first - 1)
        gaps = [n for n in range(first, top + 1) if n not in held]
        following = top + 1
        lost = False
        for k, result in enumerate(results):
            if result is not None:
                continue
            tx, refusal = prepared[k], answers[k]
            outcome: str | NotSent | SendUncertain = NotSent(
                f"the node refused the transaction: {_message(refusal)[:200]}"
            )
            for _ in range(SEND_ATTEMPTS):
                if not_after is not None and time.monotonic() > not_after:
                    outcome = NotSent("the transaction was not sent in time; it is left for the pipeline")
                    break
                if gaps:
                    nonce = gaps[0]
                else:
                    nonce, following = following, following + 1
                state, detail = self._send_at(tx, nonce)
                if state in ("sent", "taken") and gaps and gaps[0] == nonce:
                    gaps.pop(0)  # the nonce is used now, by this transaction or another sender's
                if state == "sent":
                    outcome = detail
                    break
                if state == "uncertain":
                    outcome, lost = SendUncertain("the node did not confirm the transaction", detail), True
                    break
                if state == "unavailable":
                    outcome, lost = NotSent(detail), True
                    break
                if state == "refused":
                    outcome = NotSent(f"the node refused the transaction: {detail[:200]}")
                    break
                if nonce >= top + 1:  # another sender used the account: on from the node's next nonce
                    try:
                        following = max(following, self._pending_nonce())
                    except ChainUnavailable as exc:
                        self._failed = time.monotonic()
                        outcome, lost = NotSent(exc.message), True
                        break
            results[k] = outcome
            if lost:
                break  # the node stopped answering: the rest are not sent
        for k, result in enumerate(results):
            if result is None:
                results[k] = NotSent("the node stopped answering before the transaction was sent")
        # nothing could take these nonces: a transfer of nothing each, so that the later ones are mined (not while
        # the node does not answer: it may hold them, and the next send reads its nonce again)
        for nonce in [] if lost else gaps:
            filler = {key: value for key, value in prepared[0].items() if key not in ("to", "data", "value", "gas")}
            filler.update({"to": self.address, "value": 0, "data": "0x", "gas": 21_000})
            state, detail = self._send_at(filler, nonce)
            if state == "sent":
                log.warning("nonce %s of relayer %s went to a transfer of nothing (%s)", nonce, self.address, detail)
            elif state != "taken":
                log.warning("nonce %s of relayer %s stays open: %s", nonce, self.address, detail)

    def _send_at(self, tx: dict[str, Any], nonce: int) -> tuple[str, str]:
        """Signs ``tx`` at ``nonce`` and broadcasts it, refreshing fees the head outgrew: ("sent", hash),
        ("taken", message) when another transaction has that nonce, ("uncertain", hash) when the answer was
        lost, ("unavailable", message) when the node did not answer first, or ("refused", message)."""
        for _ in range(SEND_ATTEMPTS):
            tx["nonce"] = nonce
            raw = self.sign(tx)
            tx_hash = "0x" + keccak(raw).hex()
            try:
                return "sent", as_hex(rpc(self.w3, "eth_sendRawTransaction", ["0x" + raw.hex()])) or tx_hash
            except NodeRefused as exc:
                text = exc.rpc_message.lower()
                if any(word in text for word in _ALREADY_HELD) and self._held_already(tx_hash, exc):
                    return "sent", tx_hash
                if any(word in text for word in _NONCE_TAKEN):
                    return "taken", exc.rpc_message
                if any(word in text for word in _FEES_LOW):
                    try:
                        self.head.refresh()
                        tx.update(self._fees())
                    except ChainUnavailable as lost:
                        self._failed = time.monotonic()
                        return "unavailable", lost.message
                    continue
                return "refused", exc.rpc_message
            except ChainUnavailable:
                self._failed = time.monotonic()
                return "uncertain", tx_hash
            except LedgerError as exc:
                return "refused", exc.message
        return "refused", "fees kept rising above the transaction's"

    def _send_locked(
        self,
        tx: dict[str, Any],
        not_after: float | None,
        before_broadcast: Callable[[str], bool] | None = None,
        windowed: bool = True,
    ) -> str:
        """The broadcast with its bounded retries; called under the lock."""
        for attempt in range(SEND_ATTEMPTS):
            if not_after is not None and time.monotonic() > not_after:
                raise NotSent("the transaction was not sent in time; it is left for the pipeline")
            try:
                if self._nonce is None:
                    self._nonce = self._pending_nonce()
                full = windowed and attempt == 0 and not self._room(self._nonce)
            except ChainUnavailable as exc:
                self._failed = time.monotonic()
                raise NotSent(exc.message) from None
            if full:
                raise self._window_full()
            tx["nonce"] = self._nonce
            raw = self.sign(tx)
            tx_hash = "0x" + keccak(raw).hex()
            if before_broadcast is not None and not before_broadcast(tx_hash):
                raise ClaimLost("what the transaction carries was claimed by another sender; nothing was sent")
            try:
                sent = as_hex(rpc(self.w3, "eth_sendRawTransaction", ["0x" + raw.hex()]))
            except NodeRefused as exc:
                try:
                    cure = self._cure(tx, tx_hash, exc)
                except ChainUnavailable as lost:
                    self._nonce = None
                    self._failed = time.monotonic()
                    raise NotSent(lost.message) from None
                if cure == "sent":
                    return tx_hash  # the node holds this very transaction already
                if cure == "fail":
                    self._nonce = None
                    raise NotSent(f"the node refused the transaction: {exc.rpc_message[:200]}") from None
                time.sleep(random.uniform(0, 0.01 * attempt))  # two senders of one account: let them part
                continue
            except ContractRevert:
                self._nonce = None  # resynchronise from the node next time
                raise
            except ChainUnavailable as exc:
                self._nonce = None
                self._failed = time.monotonic()
                raise SendUncertain(f"the node did not confirm the transaction ({exc.message})", tx_hash) from None
            except LedgerError:
                self._nonce = None
                raise
            self._nonce = tx["nonce"] + 1
            return sent
        self._nonce = None
        raise NotSent(f"the relayer's nonce kept being taken ({SEND_ATTEMPTS} tries): another process uses the account")

    def _cure(self, tx: dict[str, Any], tx_hash: str, exc: NodeRefused) -> str:
        """After a refusal: "retry" when a fresh nonce or fresh fees may cure it (the cure applied to ``tx`` and
        the sender's nonce), "sent" when the node holds this very transaction already, else "fail"."""
        text = exc.rpc_message.lower()
        if any(word in text for word in _NONCE_TAKEN):
            if any(word in text for word in _ALREADY_HELD) and transaction_known(self.w3, tx_hash):
                self._nonce = int(tx["nonce"]) + 1
                return "sent"
            # another sender used this account: the next nonce the node will take
            self._nonce = max(self._pending_nonce(), int(tx["nonce"]) + 1)
            return "retry"
        if "nonce" in text:  # too high, or otherwise out of line with the node: read it again
            self._nonce = self._pending_nonce()
            return "retry"
        if any(word in text for word in _FEES_LOW):
            self.head.refresh()  # the fees came from a head that fees have since outgrown
            tx.update(self._fees())
            return "retry"
        return "fail"

    def _pending_nonce(self) -> int:
        return as_int(rpc(self.w3, "eth_getTransactionCount", [self.address, "pending"]))

    def sign(self, tx: dict[str, Any]) -> bytes:
        """The signed raw transaction. A dynamic-fee (EIP-1559) transaction without an access list is encoded and
        signed here directly, byte for byte as eth-account would and five times faster; anything else goes
        through eth-account."""
        if "maxFeePerGas" in tx and not tx.get("accessList") and "gasPrice" not in tx:
            data = tx.get("data") or b""
            fields: list[int | bytes | list[bytes]] = [
                int(tx["chainId"]),
                int(tx["nonce"]),
                int(tx["maxPriorityFeePerGas"]),
                int(tx["maxFeePerGas"]),
                int(tx["gas"]),
                to_canonical_address(tx["to"]) if tx.get("to") else b"",
                int(tx.get("value", 0)),
                bytes.fromhex(data.removeprefix("0x")) if isinstance(data, str) else bytes(data),
                [],
            ]
            rsv = self._key.sign_recoverable(keccak(b"\x02" + rlp.encode(fields)), hasher=None)  # low s, v in {0, 1}
            r, s, v = int.from_bytes(rsv[:32], "big"), int.from_bytes(rsv[32:64], "big"), rsv[64]
            return b"\x02" + rlp.encode([*fields, v, r, s])
        return bytes(self.account.sign_transaction(tx).raw_transaction)

    def wait(self, tx_hash: Any, tx: dict[str, Any] | None = None) -> SentTransaction:
        """The receipt of ``tx_hash``, waited for up to ``receipt_timeout`` seconds; meanwhile, once a second, a
        transaction of this account that the node holds without mining it is cured (:meth:`cure_stuck`), so
        that a registrar's or the council's transaction is not left behind an anvil defect either."""
        deadline = time.monotonic() + self.receipt_timeout
        while True:
            remaining = deadline - time.monotonic()
            try:
                receipt = self.w3.eth.wait_for_transaction_receipt(
                    tx_hash, timeout=max(0.05, min(1.0, remaining)), poll_latency=0.05
                )
                break
            except TimeExhausted:
                if time.monotonic() >= deadline:
                    shown = as_hex(tx_hash)
                    raise NotMined(
                        f"transaction {shown} was sent but no receipt came within {self.receipt_timeout:.0f}s: it "
                        "may still be mined; look it up before trying again",
                        shown,
                    ) from None
            except Exception as exc:  # noqa: BLE001 - any transport failure while waiting means the node is gone
                raise ChainUnavailable(f"lost the node while waiting for a receipt: {short_error(exc)}") from None
            try:
                self.cure_stuck()
            except LedgerError:
                pass  # looked at again a second later
        sent = SentTransaction(
            tx_hash=Web3.to_hex(receipt["transactionHash"]),
            block_number=int(receipt["blockNumber"]),
            block_hash=Web3.to_hex(receipt["blockHash"]),
            gas_used=int(receipt["gasUsed"]),
            status=int(receipt["status"]),
            logs=list(receipt["logs"]),
            receipt=receipt,
        )
        if sent.status != 1:
            raise self._explain_failure(tx, sent)
        return sent

    def _explain_failure(self, tx: dict[str, Any] | None, sent: SentTransaction) -> ContractRevert | TransactionFailed:
        if tx is not None:
            call = {k: tx[k] for k in ("from", "to", "data", "value") if k in tx}
            try:
                self.w3.eth.call(call, sent.block_number - 1)  # type: ignore[arg-type]
            except Exception as exc:  # noqa: BLE001 - replaying to read the revert: any failure is classified below
                if revert_data(exc) is not None:
                    return decode_revert(revert_data(exc))
        return TransactionFailed(f"transaction {sent.tx_hash} failed in block {sent.block_number}")

    def _fees(self) -> dict[str, int]:
        """Fees from a head at most ``fee_max_age`` seconds old: twice its base fee plus the tip, which stays
        above the base fee for several full blocks; a refusal for low fees refreshes the head and retries."""
        head = self.head.latest(self.fee_max_age)
        cached = self._fees_of
        if cached is not None and cached[0] is head:
            return cached[1]
        if head.base_fee is None:
            fees = {"gasPrice": as_int(rpc(self.w3, "eth_gasPrice", []))}
        else:
            tip = 1_000_000_000 if head.base_fee > 0 else 0
            fees = {"maxFeePerGas": head.base_fee * 2 + tip, "maxPriorityFeePerGas": tip}
        self._fees_of = (head, fees)
        return fees


# --- one process per relayer account and chain ----------------------------------------------------------


#: Chain ids of local development nodes (anvil, hardhat, ganache).
DEV_CHAIN_IDS = (31337, 1337)


def relayer_lock_dir(configured: Path | None = None) -> Path:
    """Where relayer locks live, host-wide: the setting, else $XDG_RUNTIME_DIR/ipledger, else
    /tmp/ipledger-locks."""
    if configured is not None:
        return Path(configured)
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and Path(runtime).is_dir():
        return Path(runtime) / "ipledger"
    return Path(tempfile.gettempdir()) / "ipledger-locks"


class RelayerLock:
    """An OS file lock (``flock``) on one relayer account on one chain, held for the life of the process.

    The lock file is named by the chain id, the chain's genesis block and the account, so two independent
    development chains with the same chain id and key do not count as one. The kernel releases the lock when
    its process ends however it ends, so a crashed holder never blocks a restart. Within one process the
    lock is shared (counted): only other processes are refused.
    """

    _held: dict[Path, tuple[int, int]] = {}  # path -> (file descriptor, holders in this process)
    _guard = threading.Lock()

    def __init__(self, path: Path) -> None:
        self.path = path
        self._holding = False

    @classmethod
    def for_account(cls, directory: Path, chain_id: int, genesis: str, address: str) -> RelayerLock:
        name = f"relayer-{chain_id}-{genesis.removeprefix('0x')[:16]}-{address.lower().removeprefix('0x')}.lock"
        return cls(Path(directory) / name)

    def acquire(self) -> None:
        """Takes the lock or raises :class:`RelayerInUse` naming the process that holds it."""
        if self._holding:
            return
        with RelayerLock._guard:
            held = RelayerLock._held.get(self.path)
            if held is not None:
                RelayerLock._held[self.path] = (held[0], held[1] + 1)
                self._holding = True
                return
            try:
                if not self.path.parent.is_dir():
                    self.path.parent.mkdir(parents=True, exist_ok=True)
                    try:
                        os.chmod(self.path.parent, 0o1777)  # shared by the host's users, like /tmp
                    except OSError:
                        pass
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                raise RelayerInUse(
                    f"cannot create the relayer lock {self.path} ({exc.strerror or exc}); set IPLEDGER_RELAYER_LOCK_DIR "
                    "to a writable directory",
                    field="relayer_lock_dir",
                ) from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                holder = _read_holder(fd)
                os.close(fd)
                raise RelayerInUse(
                    f"the relayer account is already in use on this chain by process {holder} (lock {self.path}); "
                    "two processes sending from one account collide on nonces: stop that process, or give this one "
                    "its own relayer keystore",
                    details={"pid": holder, "lock": str(self.path)},
                ) from None
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            RelayerLock._held[self.path] = (fd, 1)
            self._holding = True

    def release(self) -> None:
        if not self._holding:
            return
        self._holding = False
        with RelayerLock._guard:
            held = RelayerLock._held.get(self.path)
            if held is None:
                return
            fd, count = held
            if count > 1:
                RelayerLock._held[self.path] = (fd, count - 1)
                return
            del RelayerLock._held[self.path]
            try:
                os.ftruncate(fd, 0)
            except OSError:
                pass
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


def _read_holder(fd: int) -> str:
    try:
        text = os.pread(fd, 32, 0).decode(errors="replace").strip()
    except OSError:
        text = ""
    return text if text.isdigit() else "(unknown PID)"


def claim_relayer(sender: TxSender, directory: Path | None = None) -> RelayerLock:
    """Takes the host-wide lock of ``sender``'s account on its chain (idempotent per sender); raises
    :class:`RelayerInUse` when another process holds it."""
    lock = sender._account_lock  # noqa: SLF001 - the sender's own lock, kept with it
    if lock is None:
        genesis = rpc(sender.w3, "eth_getBlockByNumber", ["0x0", False])
        chain = as_hex(genesis["hash"]) if genesis else "0x"
        chain_id = sender.chain_id()
        if chain_id in DEV_CHAIN_IDS:
            # development nodes (anvil, hardhat) with one mnemonic can share chain id and genesis while being
            # different chains: tell them apart by their endpoint too
            endpoint = str(getattr(sender.w3.provider, "endpoint_uri", "") or "in-process")
            chain = keccak(text=f"{chain}|{endpoint}").hex()
        lock = RelayerLock.for_account(relayer_lock_dir(directory), chain_id, chain, sender.address)
        sender._account_lock = lock  # noqa: SLF001
    lock.acquire()
    return lock


def release_relayer(sender: TxSender) -> None:
    """Releases what :func:`claim_relayer` took (the lock stays while other holders in this process keep it)."""
    if sender._account_lock is not None:  # noqa: SLF001
        sender._account_lock.release()  # noqa: SLF001
