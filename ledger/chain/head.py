"""The chain's head as last read, shared by the threads of one connection (:class:`ChainHead`).

One read at a time goes to the node: threads that asked meanwhile take its answer, and while the node does not
answer they fail at once with ``ChainUnavailable`` instead of each waiting out its own timeout. The sender
prices transactions from it, the request paths check deadlines and confirmations against it."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from web3 import Web3

from ledger.chain.rpc import as_hex, as_int, rpc
from ledger.errors import ChainUnavailable


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
        self._failed: float = 0.0  # time.monotonic() of the last read that found the node unavailable

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
            if self._failed >= asked:  # another thread found the node unavailable while this one waited
                raise ChainUnavailable("the chain node does not answer")
            try:
                fresh = _head_of(rpc(self.w3, "eth_getBlockByNumber", ["latest", False]))
            except ChainUnavailable:
                self._failed = time.monotonic()
                raise
            if fresh is None:
                raise ChainUnavailable("the chain node has no latest block")
            self._head = fresh
            return fresh

    def block(self, number: int) -> Head | None:
        """Block ``number`` of the chain as it is now, or None if the chain is shorter."""
        return _head_of(rpc(self.w3, "eth_getBlockByNumber", [hex(number), False]))
