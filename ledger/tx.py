"""The one place that sends transactions: nonces, gas, fees, receipts and revert decoding."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.exceptions import ContractLogicError, TimeExhausted

from ledger.artifacts import decode_revert
from ledger.errors import ChainUnavailable, ContractRevert, TransactionFailed


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

    Every call is estimated first, so a revert is decoded into a :class:`ContractRevert` before anything
    is broadcast. A transaction that still fails on chain is re-run as a call at its block to decode why.
    """

    def __init__(self, w3: Web3, account: LocalAccount, *, receipt_timeout: float = 120.0, gas_margin: float = 1.2):
        self.w3 = w3
        self.account = account
        self.receipt_timeout = receipt_timeout
        self.gas_margin = gas_margin
        self._lock = threading.Lock()
        self._nonce: int | None = None
        self._chain_id: int | None = None

    @property
    def address(self) -> str:
        return str(self.account.address)

    def chain_id(self) -> int:
        if self._chain_id is None:
            self._chain_id = int(self.w3.eth.chain_id)
        return self._chain_id

    def estimate(self, tx: dict[str, Any]) -> int:
        try:
            return int(self.w3.eth.estimate_gas(tx))
        except ContractLogicError as exc:
            raise decode_revert(exc.data) from None  # type: ignore[arg-type]
        except ValueError as exc:  # nodes that answer a revert as a plain JSON-RPC error
            raise _value_error_revert(exc) from None

    def send_call(self, fn: Any, *, gas: int | None = None, wait: bool = True) -> SentTransaction | str:
        """Builds, estimates, signs and sends a contract function call (``contract.functions.f(...)``)."""
        tx = fn.build_transaction({"from": self.address, "chainId": self.chain_id(), "gas": 0, "nonce": 0})
        return self.send({"to": tx["to"], "data": tx["data"], "value": tx.get("value", 0)}, gas=gas, wait=wait)

    def send(self, tx: dict[str, Any], *, gas: int | None = None, wait: bool = True) -> SentTransaction | str:
        tx = {**tx, "from": self.address, "chainId": self.chain_id()}
        if gas is None:
            gas = int(self.estimate(tx) * self.gas_margin) + 10_000
        tx["gas"] = gas
        tx.update(self._fees())
        with self._lock:
            if self._nonce is None:
                self._nonce = int(self.w3.eth.get_transaction_count(self.address, "pending"))
            tx["nonce"] = self._nonce
            signed = self.account.sign_transaction(tx)
            try:
                tx_hash = self.w3.eth.send_raw_transaction(signed.raw_transaction)
            except Exception as exc:
                self._nonce = None  # resynchronise from the node next time
                if isinstance(exc, ContractLogicError):
                    raise decode_revert(exc.data) from None  # type: ignore[arg-type]
                raise TransactionFailed(f"the node refused the transaction: {_short(exc)}") from None
            self._nonce += 1
        if not wait:
            return "0x" + bytes(tx_hash).hex()
        return self.wait(tx_hash, tx)

    def wait(self, tx_hash: Any, tx: dict[str, Any] | None = None) -> SentTransaction:
        try:
            receipt = self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=self.receipt_timeout, poll_latency=0.05)
        except TimeExhausted:
            raise TransactionFailed(f"no receipt for {Web3.to_hex(tx_hash)} within {self.receipt_timeout:.0f}s") from None
        except Exception as exc:
            raise ChainUnavailable(f"lost the node while waiting for a receipt: {_short(exc)}") from None
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
            except ContractLogicError as exc:
                return decode_revert(exc.data)  # type: ignore[arg-type]
            except Exception:  # noqa: S110 - fall through to the generic message
                pass
        return TransactionFailed(f"transaction {sent.tx_hash} failed in block {sent.block_number}")

    def _fees(self) -> dict[str, int]:
        block = self.w3.eth.get_block("latest")
        base = block.get("baseFeePerGas")
        if base is None:
            return {"gasPrice": int(self.w3.eth.gas_price)}
        tip = 1_000_000_000 if base > 0 else 0
        return {"maxFeePerGas": int(base) * 2 + tip, "maxPriorityFeePerGas": tip}


def _value_error_revert(exc: ValueError) -> ContractRevert | TransactionFailed:
    arg = exc.args[0] if exc.args else None
    if isinstance(arg, dict) and arg.get("data"):
        return decode_revert(arg["data"])
    return TransactionFailed(f"the node refused the call: {_short(exc)}")


def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:200]


def wait_until(predicate: Any, timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())
