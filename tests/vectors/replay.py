"""Replays recorded JSON-RPC answers: the chain data of the conformance vectors (docs/conformance/).

``chain.json`` is a list of exchanges ``{"request": {"method", "params"}, "response": {"result"} | {"error"}}``
recorded from a real node. A request is answered from the exchange with the same method and the same params,
compared after :func:`normalise` (every ``0x`` string in lower case; of an ``eth_call`` object only ``to`` and
``data``). A request that was never recorded is answered with the JSON-RPC error -32001 "not recorded" and
counted in :attr:`Replay.misses`.

Run as a server for another implementation::

    python -m tests.vectors.replay docs/conformance/chain.json --port 8545
"""

from __future__ import annotations

import argparse
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

NOT_RECORDED = -32001


def normalise(value: Any, *, call: bool = False) -> Any:
    """``params`` as replay compares them."""
    if isinstance(value, str):
        return value.lower() if value.startswith(("0x", "0X")) else value
    if isinstance(value, list):
        return [normalise(v, call=call) for v in value]
    if isinstance(value, dict):
        keys = ("to", "data") if call else value.keys()
        return {k: normalise(value[k]) for k in keys if k in value}
    return value


def key(method: str, params: list[Any]) -> str:
    return json.dumps([method, normalise(params, call=method == "eth_call")], sort_keys=True)


class Replay:
    """The recorded answers of one ``chain.json``."""

    def __init__(self, exchanges: list[dict[str, Any]]) -> None:
        self.answers: dict[str, dict[str, Any]] = {}
        for ex in exchanges:
            self.answers[key(ex["request"]["method"], ex["request"]["params"])] = ex["response"]
        self.misses: list[tuple[str, list[Any]]] = []
        self._lock = threading.Lock()

    @classmethod
    def load(cls, path: Path) -> Replay:
        return cls(json.loads(path.read_text(encoding="utf-8")))

    def answer(self, method: str, params: list[Any]) -> dict[str, Any]:
        """The recorded ``result`` or ``error`` member for the request."""
        found = self.answers.get(key(method, params))
        if found is None:
            with self._lock:
                self.misses.append((method, params))
            return {"error": {"code": NOT_RECORDED, "message": f"not recorded: {method} {json.dumps(params)}"}}
        return found

    def handle(self, body: Any) -> Any:
        """A JSON-RPC 2.0 request object (or a batch of them) answered."""
        if isinstance(body, list):
            return [self.handle(b) for b in body]
        return {"jsonrpc": "2.0", "id": body.get("id"), **self.answer(body["method"], body.get("params") or [])}


@contextmanager
def serve(replay: Replay, port: int = 0) -> Iterator[str]:
    """An HTTP JSON-RPC endpoint on 127.0.0.1 answering from ``replay``; yields its URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            length = int(self.headers.get("Content-Length", 0))
            out = json.dumps(replay.handle(json.loads(self.rfile.read(length)))).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve recorded JSON-RPC answers (docs/conformance/chain.json).")
    parser.add_argument("chain", type=Path, help="the recorded exchanges, e.g. docs/conformance/chain.json")
    parser.add_argument("--port", type=int, default=8545)
    args = parser.parse_args()
    replay = Replay.load(args.chain)
    with serve(replay, args.port) as url:
        print(f"replaying {len(replay.answers)} recorded answers at {url} (Ctrl-C to stop)", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
