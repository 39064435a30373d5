"""The one place that sends transactions: nonces, gas, fees, receipts and revert decoding."""

from __future__ import annotations

import ast
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

    def resync(self) -> None:
        """Forgets the cached nonce; the next send reads it from the node (after a node restart)."""
        with self._lock:
            self._nonce = None

    def estimate(self, tx: dict[str, Any]) -> int:
        try:
            return int(self.w3.eth.estimate_gas(tx))
        except Exception as exc:
            raise as_revert(exc) from None

    def send_call(self, fn: Any, *, gas: int | None = None, wait: bool = True) -> SentTransaction | str:
        """Builds, estimates, signs and sends a contract function call (``contract.functions.f(...)``)."""
        return self.send({"to": fn.address, "data": fn._encode_transaction_data(), "value": 0}, gas=gas, wait=wait)

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
                if "nonce" in str(exc).lower() and revert_data(exc) is None:
                    # another sender used this account: re-read the nonce and try once more
                    tx["nonce"] = int(self.w3.eth.get_transaction_count(self.address, "pending"))
                    signed = self.account.sign_transaction(tx)
                    try:
                        tx_hash = self.w3.eth.send_raw_transaction(signed.raw_transaction)
                        self._nonce = tx["nonce"] + 1
                    except Exception:
                        self._nonce = None
                        raise TransactionFailed(f"the node refused the transaction: {_short(exc)}") from None
                    return self.wait(tx_hash, tx) if wait else "0x" + bytes(tx_hash).hex()
                self._nonce = None  # resynchronise from the node next time
                if revert_data(exc) is not None:
                    raise as_revert(exc) from None
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
            except Exception as exc:
                if revert_data(exc) is not None:
                    return decode_revert(revert_data(exc))
        return TransactionFailed(f"transaction {sent.tx_hash} failed in block {sent.block_number}")

    def _fees(self) -> dict[str, int]:
        block = self.w3.eth.get_block("latest")
        base = block.get("baseFeePerGas")
        if base is None:
            return {"gasPrice": int(self.w3.eth.gas_price)}
        tip = 1_000_000_000 if base > 0 else 0
        return {"maxFeePerGas": int(base) * 2 + tip, "maxPriorityFeePerGas": tip}


def revert_data(exc: BaseException) -> bytes | str | None:
    """The raw revert data carried by an exception from web3 (any node) or eth-tester, or None."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ContractLogicError) and current.data:
            return current.data  # type: ignore[return-value]
        arg = current.args[0] if current.args else None
        if isinstance(arg, dict) and arg.get("data"):  # a JSON-RPC error object
            data = arg["data"]
            return data.get("data") if isinstance(data, dict) else data
        if isinstance(arg, bytes) and type(current).__name__ in ("TransactionFailed", "Revert"):  # eth-tester, py-evm
            return arg
        if isinstance(arg, BaseException) and arg.args and isinstance(arg.args[0], bytes):
            return arg.args[0]
        if isinstance(arg, str) and type(current).__name__ == "TransactionFailed":  # eth-tester's eth_call path
            literal = arg.removeprefix("execution reverted: ")
            if literal.startswith(("b'", 'b"')):
                try:
                    value = ast.literal_eval(literal)
                except (ValueError, SyntaxError):
                    value = None
                if isinstance(value, bytes):
                    return value
        current = current.__cause__ or current.__context__
    return None


def as_revert(exc: BaseException) -> ContractRevert | TransactionFailed | ChainUnavailable:
    """Turns an exception from a call or gas estimate into a ledger error."""
    data = revert_data(exc)
    if data is not None:
        return decode_revert(data)
    if isinstance(exc, ContractLogicError) or type(exc).__name__ == "TransactionFailed":
        return decode_revert(None)
    if isinstance(exc, (ConnectionError, OSError)) or "Connection" in type(exc).__name__:
        return ChainUnavailable(f"the chain node does not answer ({type(exc).__name__})")
    return TransactionFailed(f"the node refused the call: {_short(exc)}")


def call(fn: Any, block: Any = "latest") -> Any:
    """Runs a view (``contract.functions.f(...)``) and decodes a revert into a ledger error."""
    try:
        return fn.call(block_identifier=block)
    except Exception as exc:
        raise as_revert(exc) from None


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
