"""Connections to EVM JSON-RPC nodes, and the lean request path: the only code that builds web3 providers.

:func:`connect` gives a ``Web3`` over :class:`PooledHTTPProvider` (one kept-alive HTTP connection per thread)
whose every call is bounded by IPLEDGER_RPC_TIMEOUT: a hung node is answered with ``ChainUnavailable`` after
one timeout, never retried into several; only a refused connection, which fails at once, is retried.
:func:`remember_chain_id` answers ``eth_chainId`` from memory; :func:`probe_head` and :func:`read_head` ask
for the head once, with a short timeout and no retries (`/v1/health`, the embedded node's state guard).

The lean JSON-RPC path of the request handlers is here too. web3's middleware and formatters cost about a
millisecond of Python per call, more than the node takes to answer an ``eth_call``, so the hot paths
(relaying a registration, looking one up, following the journal) send requests straight to the provider
with :func:`rpc` and encode calls with :class:`FunctionCodec`; they read the head through
``ledger.chain.head.ChainHead`` and sign with ``ledger.chain.sender.TxSender``. What a node raises is turned
into ledger errors by ``ledger.chain.codec``, below this module; :class:`FunctionCodec` is here, beside
:func:`rpc`, because its :meth:`~FunctionCodec.call` sends through it.
"""

from __future__ import annotations

import base64
import http.client
import json
import threading
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlsplit

import orjson
import requests
from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_utils.abi import function_abi_to_4byte_selector, get_abi_input_types, get_abi_output_types
from web3 import Web3
from web3.middleware import Web3Middleware
from web3.providers.base import JSONBaseProvider
from web3.providers.rpc import HTTPProvider
from web3.providers.rpc.utils import ExceptionRetryConfiguration
from web3.types import RPCEndpoint, RPCResponse

from ledger.chain.artifacts import decode_revert
from ledger.chain.codec import as_revert, short_error
from ledger.errors import ChainUnavailable, LedgerError, TransactionFailed

# --- connections -----------------------------------------------------------------------------------------

#: Seconds one JSON-RPC call may take when IPLEDGER_RPC_TIMEOUT is unset or unreadable.
DEFAULT_RPC_TIMEOUT = 3.0


def rpc_timeout() -> float:
    """IPLEDGER_RPC_TIMEOUT (seconds one JSON-RPC call may take), else ``DEFAULT_RPC_TIMEOUT``."""
    from ledger.config import Settings

    try:
        return float(Settings().rpc_timeout)
    except Exception:  # noqa: BLE001 - a malformed environment is reported where the settings are used
        return DEFAULT_RPC_TIMEOUT


def connect(rpc_url: str, *, timeout: float | None = None) -> Web3:
    """A Web3 connected to ``rpc_url``; raises :class:`ChainUnavailable` when it does not answer.

    Every JSON-RPC call over it is bounded by ``timeout`` (default IPLEDGER_RPC_TIMEOUT): a hung node is
    answered with ``ChainUnavailable`` after one timeout, never retried into several (only a refused
    connection, which fails at once, is retried).
    """
    timeout = rpc_timeout() if timeout is None else timeout
    w3 = Web3(PooledHTTPProvider(rpc_url, request_kwargs={"timeout": timeout}))
    remember_chain_id(w3)
    try:
        w3.eth.chain_id  # noqa: B018 - a cheap round trip that proves the endpoint answers
    except Exception as exc:  # noqa: BLE001 - whatever the transport raises, the answer is: no node here
        raise ChainUnavailable(f"no EVM JSON-RPC node answers at {_redact(rpc_url)} ({type(exc).__name__})") from None
    return w3


class NodeConnectionError(ConnectionError):
    """The node could not be reached, or it dropped the connection, or it did not answer in time."""


class NodeUnreachable(NodeConnectionError):
    """Nothing listens at the node's address (the connection was refused): nothing was sent, so a call may be
    retried at once."""


class NodeTimeout(NodeConnectionError):
    """The node did not answer within the timeout (hung, suspended, overloaded): never retried."""


class _KeptConnections:
    """Posts JSON-RPC requests over one kept-alive HTTP connection per thread (``http.client``).

    It stands in for web3's ``requests`` session, which spends most of a millisecond of CPU per request
    (settings merged from the environment, a ``.netrc`` look-up, a new TLS context) where the node itself
    answers an ``eth_call`` in less. It answers web3's session manager's ``make_post_request`` and raises what
    web3's retry configuration expects (``ConnectionError`` subclasses, ``requests.HTTPError``).
    """

    def __init__(self, endpoint_uri: str) -> None:
        parts = urlsplit(endpoint_uri)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {_redact(endpoint_uri)}")
        self.https = parts.scheme == "https"
        self.host = parts.hostname
        self.port = parts.port or (443 if self.https else 80)
        self.target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self.auth: str | None = None
        if parts.username is not None:
            token = f"{parts.username}:{parts.password or ''}".encode()
            self.auth = "Basic " + base64.b64encode(token).decode()
        self._local = threading.local()

    def _connection(self, timeout: float) -> http.client.HTTPConnection:
        conn: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
        if conn is None:
            if self.https:
                conn = http.client.HTTPSConnection(self.host, self.port, timeout=timeout)
            else:
                conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
            self._local.conn = conn
        return conn

    def _drop(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def make_post_request(self, endpoint_uri: str, data: bytes, **kwargs: Any) -> bytes:
        timeout = kwargs.get("timeout") or 10.0
        timeout = timeout[-1] if isinstance(timeout, tuple) else timeout
        headers = {k: v for k, v in (kwargs.get("headers") or {}).items()}
        headers.setdefault("Content-Type", "application/json")
        if self.auth is not None:
            headers.setdefault("Authorization", self.auth)
        body = data if isinstance(data, bytes) else json.dumps(data).encode()
        for attempt in (1, 2):
            reused = getattr(self._local, "conn", None) is not None
            conn = self._connection(float(timeout))
            try:
                conn.request("POST", self.target, body=body, headers=headers)
                response = conn.getresponse()
                content = response.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as exc:
                self._drop()
                if reused and attempt == 1:
                    continue  # the node closed a kept-alive connection: once more on a new one
                raise NodeConnectionError(f"the node dropped the connection ({type(exc).__name__})") from None
            except ConnectionRefusedError:
                self._drop()
                raise NodeUnreachable("the node refuses connections") from None
            except TimeoutError:
                self._drop()
                raise NodeTimeout(f"the node did not answer within {float(timeout):g} s") from None
            except (OSError, http.client.HTTPException) as exc:
                self._drop()
                raise NodeConnectionError(f"the node does not answer ({type(exc).__name__})") from None
            if response.will_close:
                self._drop()
            if response.status >= 400:
                raise requests.HTTPError(f"{response.status} {response.reason} from the node")
            return content
        raise NodeConnectionError("the node dropped the connection")  # pragma: no cover - the loop returns or raises


class PooledHTTPProvider(HTTPProvider):
    """web3's ``HTTPProvider`` over :class:`_KeptConnections`: the same requests, retries and answers, at a
    fraction of the CPU per request. An endpoint reached through a proxy from the environment keeps web3's
    ``requests`` session, which honours it."""

    def __init__(self, endpoint_uri: str, **kwargs: Any) -> None:
        # web3 retries a failed call 5 times by default, timeouts included: a hung node would cost five
        # timeouts. Only a refused connection (no time spent, nothing sent) is retried here.
        kwargs.setdefault(
            "exception_retry_configuration",
            ExceptionRetryConfiguration(errors=(NodeUnreachable,), retries=3, backoff_factor=0.1),
        )
        super().__init__(endpoint_uri, **kwargs)
        host = urlsplit(str(endpoint_uri)).hostname or ""
        proxied = any(
            k in urllib.request.getproxies() for k in ("http", "https", "all")
        ) and not urllib.request.proxy_bypass(host)
        if not proxied:
            self._request_session_manager = _KeptConnections(str(endpoint_uri))  # type: ignore[assignment]

    def make_large_request(self, method: str, params: Any) -> RPCResponse:
        """``make_request`` for an answer of megabytes (an index catch-up's eth_getLogs): parsed by orjson from
        the bytes, without web3's text copy. orjson reads an integer literal beyond 64 bits as a float, so the
        caller must take every value it uses as a hex string, which JSON-RPC sends quantities as (the indexer
        refuses anything else); what orjson refuses goes to web3's own parser."""
        raw = self._make_request(method, self.encode_rpc_request(method, params))  # type: ignore[arg-type]
        try:
            return cast(RPCResponse, orjson.loads(raw))
        except orjson.JSONDecodeError:
            return self.decode_rpc_response(raw)


CHAIN_ID_MIDDLEWARE = "ipledger_chain_id"


def remember_chain_id(w3: Web3) -> None:
    """Answers ``eth_chainId`` on this connection from memory once the node has answered it.

    web3 asks for the chain id before every ``eth_call`` and gas estimate (to validate the transaction's
    chain); a node's chain id never changes, and the ledger checks it against its deployment manifest when it
    opens. Installing it twice on one Web3 is a no-op.
    """
    if CHAIN_ID_MIDDLEWARE in w3.middleware_onion:
        return
    remembered: dict[str, Any] = {}

    class ChainIdMemo(Web3Middleware):
        def wrap_make_request(self, make_request: Any) -> Any:
            def middleware(method: Any, params: Any) -> Any:
                if method != "eth_chainId":
                    return make_request(method, params)
                answer = remembered.get("answer")
                if answer is None:
                    answer = make_request(method, params)
                    if answer.get("result") is None or answer.get("error") is not None:
                        return answer
                    remembered["answer"] = answer
                return dict(answer)

            return middleware

    w3.middleware_onion.inject(ChainIdMemo, name=CHAIN_ID_MIDDLEWARE, layer=0)


def _redact(url: str) -> str:
    """The URL without credentials (user:password@ or an API key in the query)."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


# --- the head, asked once (health, the embedded node's state guard) ------------------------------------


def json_rpc(url: str, method: str, params: list[Any], *, timeout: float) -> Any:
    """One JSON-RPC call on a new connection, bounded by ``timeout`` per socket operation and not retried; raises
    :class:`NodeConnectionError` when the node does not answer, ``RuntimeError`` for an error answer."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80, timeout=timeout)
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()
    try:
        conn.request("POST", parts.path or "/", body=body, headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        content = response.read()
    except (OSError, http.client.HTTPException) as exc:
        raise NodeConnectionError(f"the node does not answer ({type(exc).__name__})") from None
    finally:
        conn.close()
    try:
        answer = json.loads(content)
    except ValueError:
        raise NodeConnectionError(f"the node answered {response.status} without JSON") from None
    if answer.get("error") is not None:
        raise RuntimeError(f"{method}: {answer['error']}")
    return answer.get("result")


@dataclass(frozen=True)
class NodeHead:
    number: int
    hash: str
    timestamp: int


def read_head(url: str, *, timeout: float) -> NodeHead:
    """The node's latest block, asked once with a short timeout (no retries): for health and the state guard."""
    block = json_rpc(url, "eth_getBlockByNumber", ["latest", False], timeout=timeout)
    if not isinstance(block, dict):
        raise NodeConnectionError("the node has no latest block")
    return NodeHead(int(block["number"], 16), str(block["hash"]), int(block["timestamp"], 16))


def probe_head(w3: Web3, *, timeout: float) -> NodeHead:
    """The latest block of the node behind ``w3``, asked once, each socket operation bounded by ``timeout`` and
    nothing retried (web3's provider retries a failed request for many seconds): `/v1/health` answers in time
    whatever the node does. An in-process provider (eth-tester) is asked through web3."""
    provider = w3.provider
    url = getattr(provider, "endpoint_uri", None)
    if not isinstance(provider, HTTPProvider) or not url:
        block = w3.eth.get_block("latest")
        return NodeHead(int(block["number"]), "0x" + bytes(block["hash"]).hex(), int(block["timestamp"]))
    payload: dict[str, Any] = {"jsonrpc": "2.0", "id": 1, "method": "eth_getBlockByNumber", "params": ["latest", False]}
    try:
        response = requests.post(str(url), json=payload, timeout=(timeout, timeout))
        latest: Any = response.json().get("result")
    except (requests.RequestException, ValueError, AttributeError) as exc:
        raise NodeConnectionError(f"the node does not answer ({type(exc).__name__})") from None
    if not isinstance(latest, dict):
        raise NodeConnectionError("the node has no latest block")
    return NodeHead(int(latest["number"], 16), str(latest["hash"]), int(latest["timestamp"], 16))


# --- the lean JSON-RPC path ---------------------------------------------------------------------------


class NodeRefused(TransactionFailed):
    """The node answered a JSON-RPC request with an error that carries no revert data."""

    def __init__(self, method: str, rpc_message: str) -> None:
        super().__init__(f"the node refused {method}: {rpc_message[:200]}")
        self.rpc_message = rpc_message


def rpc(w3: Web3, method: str, params: list[Any], *, large: bool = False) -> Any:
    """One JSON-RPC request straight to the provider, past web3's middleware; returns the raw ``result``.
    ``large``: the answer may run to megabytes and every value the caller uses is a hex string
    (:meth:`PooledHTTPProvider.make_large_request`).

    Results are as the node sends them (hex strings from a JSON-RPC node; web3's eth-tester provider answers
    with ints, which :func:`as_int` reads alike). A revert is decoded into a :class:`ContractRevert`, any other
    error answer raises :class:`NodeRefused`, a lost connection :class:`ChainUnavailable`.
    """
    provider = w3.provider
    try:
        if large and isinstance(provider, PooledHTTPProvider):
            response = provider.make_large_request(method, params)
        elif isinstance(provider, JSONBaseProvider):
            response = provider.make_request(method, params)  # type: ignore[arg-type]
        else:  # an in-process provider formats requests in its own middleware
            response = provider.request_func(w3, w3.middleware_onion)(method, params)
    except Exception as exc:  # noqa: BLE001 - each provider raises its own classes; as_revert classifies them
        err = as_revert(exc)
        if type(err) is TransactionFailed:
            raise NodeRefused(method, short_error(exc)) from None
        raise err from None
    return _result(method, response)


def rpc_batch(w3: Web3, calls: Sequence[tuple[str, list[Any]]]) -> list[Any]:
    """Several JSON-RPC requests in one HTTP round trip (a JSON-RPC 2.0 batch); each entry of the answer is the
    call's ``result``, or the :class:`LedgerError` that :func:`rpc` would raise for it (returned, not raised, so
    the caller decides which failure counts first). A lost connection raises :class:`ChainUnavailable` for all.
    A provider that cannot batch (web3's in-process one), or a node that refuses batches, is asked one by one."""
    provider = w3.provider
    if isinstance(provider, PooledHTTPProvider) and len(calls) > 1:
        try:
            responses = provider.make_batch_request([(cast(RPCEndpoint, m), p) for m, p in calls])
        except Exception as exc:  # noqa: BLE001 - each provider raises its own classes; as_revert classifies them
            err = as_revert(exc)
            if type(err) is TransactionFailed:
                raise NodeRefused("a batch request", short_error(exc)) from None
            raise err from None
        if isinstance(responses, list) and len(responses) == len(calls):
            answers: list[Any] = []
            for (method, _), response in zip(calls, responses, strict=True):
                try:
                    answers.append(_result(method, cast(dict[str, Any], response)))
                except LedgerError as exc:
                    answers.append(exc)
            return answers
    answers = []
    for method, params in calls:
        try:
            answers.append(rpc(w3, method, params))
        except ChainUnavailable:
            raise
        except LedgerError as exc:
            answers.append(exc)
    return answers


def _result(method: str, response: Any) -> Any:
    """A JSON-RPC answer's ``result``, or the error it carries raised as :func:`rpc` describes."""
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
