"""What several benchmarks share: counting the JSON-RPC calls a Web3 makes."""

from __future__ import annotations

import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from web3 import Web3


class RpcTally:
    """Counts and times the JSON-RPC calls a Web3 makes (wraps its provider's ``make_request``)."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.seconds: defaultdict[str, float] = defaultdict(float)
        self.pipeline_calls = 0  # made by the ledger's background pipeline thread
        self._lock = threading.Lock()

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()
            self.seconds.clear()
            self.pipeline_calls = 0

    def summary(self, per: int = 1) -> str:
        total = sum(self.calls.values())
        secs = sum(self.seconds.values())
        parts = [f"{m} {n / per:.3g}" for m, n in self.calls.most_common()]
        return f"{total / per:.3g} JSON-RPC calls ({secs / per * 1000:.3g} ms) per request: " + ", ".join(parts)


@contextmanager
def count_rpc(w3: Web3) -> Iterator[RpcTally]:
    tally = RpcTally()
    provider = w3.provider
    original = provider.make_request

    def counted(method: Any, params: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return original(method, params)
        finally:
            with tally._lock:  # noqa: SLF001
                tally.calls[str(method)] += 1
                tally.seconds[str(method)] += time.perf_counter() - t0
                if threading.current_thread().name == "ipledger-pipeline":
                    tally.pipeline_calls += 1

    provider.make_request = counted  # type: ignore[method-assign]
    provider._request_func_cache = (None, None)  # noqa: SLF001 - rebuild the middleware chain over the wrapper
    try:
        yield tally
    finally:
        provider.make_request = original  # type: ignore[method-assign]
        provider._request_func_cache = (None, None)  # noqa: SLF001
