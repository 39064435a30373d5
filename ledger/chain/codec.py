"""Revert and error decoding: what a node, web3 or eth-tester raises, as the ledger's errors.

A contract's revert reaches Python in many shapes: a JSON-RPC error object from any node, web3's
``ContractLogicError``, eth-tester's and py-evm's own exceptions (sometimes only as the text of one).
:func:`revert_data` finds the raw revert data in any of them, and :func:`as_revert` turns the exception into
a :class:`ContractRevert` decoded from the suite's custom errors (``ledger.chain.artifacts.decode_revert``),
a plain :class:`TransactionFailed`, or :class:`ChainUnavailable` for a lost connection: callers catch ledger
errors only, never a transport's. :func:`call` runs a web3 contract view through that decoding.
"""

from __future__ import annotations

import ast
from typing import Any

from web3.exceptions import ContractLogicError

from ledger.chain.artifacts import decode_revert
from ledger.errors import ChainUnavailable, ContractRevert, TransactionFailed


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
    return TransactionFailed(f"the node refused the call: {short_error(exc)}")


def call(fn: Any, block: Any = "latest") -> Any:
    """Runs a view (``contract.functions.f(...)``) and decodes a revert into a ledger error."""
    try:
        return fn.call(block_identifier=block)
    except Exception as exc:  # noqa: BLE001 - each provider raises its own classes; as_revert classifies them
        raise as_revert(exc) from None


def short_error(exc: BaseException) -> str:
    """The first line of an exception's text (or its type's name), at most 200 characters: for messages."""
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:200]
