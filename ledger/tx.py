"""The one place that sends transactions: nonces, gas, fees, receipts and revert decoding.

It also holds the lean JSON-RPC path of the request handlers. web3's middleware and formatters cost about a
millisecond of Python per call, more than the node takes to answer an ``eth_call``, so the hot paths
(relaying a registration, looking one up, following the journal) send requests straight to the provider
with :func:`rpc` (over kept-alive connections, ``ledger.chain.PooledHTTPProvider``), encode calls with
:class:`FunctionCodec`, read the head through :class:`ChainHead` and sign dynamic-fee transactions
directly with the account's key.
"""

from __future__ import annotations

import ast
import threading
import time
from dataclasses import dataclass
from typing import Any, cast

import coincurve
import rlp
from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_account.signers.local import LocalAccount
from eth_utils import keccak, to_canonical_address
from eth_utils.abi import function_abi_to_4byte_selector, get_abi_input_types, get_abi_output_types
from web3 import Web3
from web3.exceptions import ContractLogicError, TimeExhausted
from web3.providers.base import JSONBaseProvider
from web3.types import TxParams

from ledger.artifacts import decode_revert
from ledger.errors import ChainUnavailable, ContractRevert, LedgerError, TransactionFailed

#: How old a head block may be when its base fee prices a transaction (seconds).
FEE_MAX_AGE = 1.0


# --- the lean JSON-RPC path ---------------------------------------------------------------------------


class NodeRefused(TransactionFailed):
    """The node answered a JSON-RPC request with an error that carries no revert data."""

    def __init__(self, method: str, rpc_message: str) -> None:
        super().__init__(f"the node refused {method}: {rpc_message[:200]}")
        self.rpc_message = rpc_message


def rpc(w3: Web3, method: str, params: list[Any]) -> Any:
    """One JSON-RPC request straight to the provider, past web3's middleware; returns the raw ``result``.

    Results are as the node sends them (hex strings from a JSON-RPC node; web3's eth-tester provider answers
    with ints, which :func:`as_int` reads alike). A revert is decoded into a :class:`ContractRevert`, any other
    error answer raises :class:`NodeRefused`, a lost connection :class:`ChainUnavailable`.
    """
    provider = w3.provider
    try:
        if isinstance(provider, JSONBaseProvider):
            response = provider.make_request(method, params)  # type: ignore[arg-type]
        else:  # an in-process provider formats requests in its own middleware
            response = provider.request_func(w3, w3.middleware_onion)(method, params)
    except Exception as exc:
        err = as_revert(exc)
        if type(err) is TransactionFailed:
            raise NodeRefused(method, _short(exc)) from None
        raise err from None
    error = response.get("error")
    if error is None:
        return response.get("result")
    if isinstance(error, dict):
        data = error.get("data")
        if isinstance(data, dict):
            data = data.get("data")
        message = str(error.get("message", error))
        if error.get("code") == 3 or "revert" in message.lower():
            raise decode_revert(data if isinstance(data, str) and data.startswith("0x") else None)
        raise NodeRefused(method, message)
    raise NodeRefused(method, str(error))


def as_int(value: Any) -> int:
    """A JSON-RPC quantity (hex string) or an int."""
    if isinstance(value, int):
        return value
    if isinstance(value, (bytes, bytearray)):
        return int.from_bytes(value, "big")
    return int(str(value), 16)


def as_hex(value: Any) -> str:
    """A JSON-RPC data value (hash, address) as a 0x-prefixed hex string."""
    if isinstance(value, (bytes, bytearray)):
        return "0x" + bytes(value).hex()
    return str(value)


class FunctionCodec:
    """Encodes calls of one contract function and decodes its results with eth-abi directly, from the ABI.

    The same bytes as web3's contract functions, at a tenth of the cost.
    """

    def __init__(self, contract: Any, name: str) -> None:
        matches = [item for item in contract.abi if item.get("type") == "function" and item.get("name") == name]
        if len(matches) != 1:
            raise ValueError(f"expected exactly one function {name} in the ABI, found {len(matches)}")
        self.abi = matches[0]
        self.address = str(contract.address)
        self.selector = function_abi_to_4byte_selector(self.abi)
        self.input_types = get_abi_input_types(self.abi)
        self.output_types = get_abi_output_types(self.abi)

    def encode(self, *args: Any) -> str:
        return "0x" + (self.selector + abi_encode(self.input_types, args)).hex()

    def decode(self, result: Any) -> tuple[Any, ...]:
        raw = bytes(result) if isinstance(result, (bytes, bytearray)) else bytes.fromhex(str(result).removeprefix("0x"))
        return tuple(abi_decode(self.output_types, raw))

    def call(self, w3: Web3, *args: Any, block: str = "latest", sender: str | None = None) -> tuple[Any, ...]:
        """Runs the function as an ``eth_call``; a revert raises the decoded ledger error."""
        tx: dict[str, Any] = {"to": self.address, "data": self.encode(*args)}
        if sender is not None:
            tx["from"] = sender
        return self.decode(rpc(w3, "eth_call", [tx, block]))


@dataclass(frozen=True)
class Head:
    """A block as read from the node, and when it was read (``time.monotonic()``)."""

    number: int
    hash: str
    timestamp: int
    base_fee: int | None
    seen: float


def _head_of(block: Any) -> Head | None:
    if not block:
        return None
    base = block.get("baseFeePerGas")
    return Head(
        number=as_int(block["number"]),
        hash=as_hex(block["hash"]),
        timestamp=as_int(block["timestamp"]),
        base_fee=None if base is None else as_int(base),
        seen=time.monotonic(),
    )


class ChainHead:
    """The latest block as last read from the node, shared by the threads of one connection.

    A chain's head only moves forward, so a head read a moment ago is a lower bound of the chain's height and
    clock: good enough to price a transaction, to check a deadline against, or to show that a record is
    ``confirmations`` blocks deep. Callers that need the newest head ask for it (``max_age=0`` or
    :meth:`refresh`); the pipeline refreshes it on every step.
    """

    def __init__(self, w3: Web3, *, max_age: float = 1.0) -> None:
        self.w3 = w3
        self.max_age = max_age
        self._lock = threading.Lock()
        self._head: Head | None = None

    def latest(self, max_age: float | None = None) -> Head:
        head = self._head
        limit = self.max_age if max_age is None else max_age
        if head is not None and time.monotonic() - head.seen <= limit:
            return head
        return self.refresh()

    def refresh(self) -> Head:
        asked = time.monotonic()
        with self._lock:
            head = self._head
            if head is not None and head.seen >= asked:  # another thread read it while this one waited
                return head
            fresh = _head_of(rpc(self.w3, "eth_getBlockByNumber", ["latest", False]))
            if fresh is None:
                raise ChainUnavailable("the chain node has no latest block")
            self._head = fresh
            return fresh

    def block(self, number: int) -> Head | None:
        """Block ``number`` of the chain as it is now, or None if the chain is shorter."""
        return _head_of(rpc(self.w3, "eth_getBlockByNumber", [hex(number), False]))


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
            # the sender keeps transactions as plain dicts; their keys are TxParams's
            return int(self.w3.eth.estimate_gas(cast(TxParams, tx)))
        except Exception as exc:
            raise as_revert(exc) from None

    def send_call(self, fn: Any, *, gas: int | None = None, wait: bool = True) -> SentTransaction | str:
        """Builds, estimates, signs and sends a contract function call (``contract.functions.f(...)``)."""
        return self.send({"to": fn.address, "data": fn._encode_transaction_data(), "value": 0}, gas=gas, wait=wait)

    def send(self, tx: dict[str, Any], *, gas: int | None = None, wait: bool = True) -> SentTransaction | str:
        """Signs and sends ``tx`` from this account. Without ``gas`` the call is estimated first (which decodes a
        revert before anything is broadcast); with it, the caller vouches for the limit."""
        tx = {**tx, "from": self.address, "chainId": self.chain_id()}
        if gas is None:
            gas = int(self.estimate(tx) * self.gas_margin) + 10_000
        tx["gas"] = gas
        tx.update(self._fees())
        with self._lock:
            if self._nonce is None:
                self._nonce = self._pending_nonce()
            tx["nonce"] = self._nonce
            try:
                tx_hash = self._broadcast(tx)
            except NodeRefused as exc:
                tx_hash = self._retry(tx, exc)
            except ContractRevert:
                self._nonce = None  # resynchronise from the node next time
                raise
            except LedgerError:
                self._nonce = None
                raise
            self._nonce = tx["nonce"] + 1
        if not wait:
            return tx_hash
        return self.wait(tx_hash, tx)

    def _retry(self, tx: dict[str, Any], exc: NodeRefused) -> str:
        """One more try after a refusal that a fresh nonce or fresh fees can cure; called under the lock."""
        text = exc.rpc_message.lower()
        if "nonce" in text:
            tx["nonce"] = self._pending_nonce()  # another sender used this account
        elif any(word in text for word in ("base fee", "basefee", "underpriced", "fee cap", "feecap")):
            self.head.refresh()  # the fees came from a head that fees have since outgrown
            tx.update(self._fees())
        else:
            self._nonce = None
            raise TransactionFailed(f"the node refused the transaction: {exc.rpc_message[:200]}") from None
        try:
            return self._broadcast(tx)
        except LedgerError as again:
            self._nonce = None
            if isinstance(again, ContractRevert):
                raise
            message = again.rpc_message if isinstance(again, NodeRefused) else again.message
            raise TransactionFailed(f"the node refused the transaction: {message[:200]}") from None

    def _pending_nonce(self) -> int:
        return as_int(rpc(self.w3, "eth_getTransactionCount", [self.address, "pending"]))

    def _broadcast(self, tx: dict[str, Any]) -> str:
        raw = self.sign(tx)
        return as_hex(rpc(self.w3, "eth_sendRawTransaction", ["0x" + raw.hex()]))

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
