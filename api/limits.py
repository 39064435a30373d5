"""Transport-level limits of the API: body size, JSON depth, read timeouts, connections, malformed HTTP.

Guarantees (docs/operations.md, "Limits on requests", lists every limit with its setting):

- **Body size.** Every request has a body limit chosen by its route (:func:`body_policy`): a request whose
  ``Content-Length`` announces more is answered 413 before a byte of its body is read, and a body sent
  without a length (chunked) is counted as it arrives and answered 413 as soon as it passes the limit.
  Either way the connection is closed after the answer (the rest of the body is never read).
- **Read timeouts.** The server waits at most ``IPLEDGER_READ_TIMEOUT`` seconds for the next bytes of a
  body and at most ``IPLEDGER_BODY_TIMEOUT`` for a whole (buffered) body; then it answers 408 and closes
  the connection. Under ``ipledger up`` (:func:`server_options`) a request head must also arrive within
  ``IPLEDGER_READ_TIMEOUT`` of the connection (or of the previous answer), else the connection is closed.
- **Head size.** A request line and headers over ``MAX_HEAD_BYTES`` answer 431 (the server itself refuses a
  head that does not arrive whole within that size; one sent in a single burst reaches the app).
- **JSON depth.** Bodies other than multipart forms are read whole (within their limit) and their nesting
  of arrays and objects is measured by a linear scan of the bytes (:func:`json_depth`) *before* any parser
  sees them; deeper than ``IPLEDGER_MAX_JSON_DEPTH`` answers 400. No recursive parser ever meets a deep
  document (``ledger/__init__.py`` also keeps the interpreter's recursion limit at its default).
- **The envelope.** Every answer given here is the API's JSON envelope ``{"error": {"code", "message",
  "field"?}}``; under ``ipledger up`` so are malformed HTTP (400), a request head that never completes (408)
  and a connection over ``IPLEDGER_MAX_CONNECTIONS`` (503 with ``Retry-After``).

The middleware is pure ASGI (no request objects) and wraps the whole FastAPI app (``api.app.create_app``).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
from array import array
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from ledger.certificates.evidence import MAX_CERTIFICATE_BYTES
from ledger.config import Settings
from ledger.domain.inputs import DOCUMENT_MAX_BYTES

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# A batch hash is `"0x" + 64 hex` in quotes with a separator and some whitespace: 80 bytes is generous.
BATCH_BYTES_PER_HASH = 80
# The fields around the list or the file (JSON keys, signature, multipart headers and boundaries).
ALLOWANCE = 64 * 1024
# The largest request head (request line and headers): uvicorn buffers no more of an incomplete one
# (`ipledger up`), the middleware answers 431 beyond it.
MAX_HEAD_BYTES = 16 * 1024
# Seconds an idle keep-alive connection stays open between requests under `ipledger up`.
KEEP_ALIVE_SECONDS = 5
# The transport limit of POST /v1/tsa: beyond it 413 in the envelope; up to it the route answers RFC 3161 itself.
TSA_TRANSPORT_LIMIT = 64 * 1024
# Retry-After of the 503 answered to a connection over IPLEDGER_MAX_CONNECTIONS.
RETRY_AFTER_SECONDS = 2


@dataclass(frozen=True)
class BodyPolicy:
    """How the body of one request is read: its limit in bytes, whether the route streams it itself (not
    buffered here, not depth-checked: a multipart upload) and what sizes the limit (named in the 413)."""

    limit: int
    streamed: bool
    setting: str
    #: A binary body (DER): never scanned as JSON.
    binary: bool = False


def body_policy(settings: Settings, method: str, path: str, content_type: str) -> BodyPolicy:
    """The body limit of a request, by route. Everything not named here gets ``IPLEDGER_MAX_BODY_BYTES``."""
    default = BodyPolicy(settings.max_body_bytes, False, "IPLEDGER_MAX_BODY_BYTES")
    if method != "POST":
        return default
    if path == "/v1/evidence/batch":
        limit = settings.max_batch_request * BATCH_BYTES_PER_HASH + ALLOWANCE
        return BodyPolicy(max(limit, settings.max_body_bytes), False, "IPLEDGER_MAX_BATCH_REQUEST")
    if path == "/v1/documents":
        # the ciphertext travels as base64 (4 bytes per 3) next to an envelope of at most 64 recipients
        limit = (DOCUMENT_MAX_BYTES + 2) // 3 * 4 + 16 * ALLOWANCE
        return BodyPolicy(max(limit, settings.max_body_bytes), False, "the vault's largest document")
    if path == "/v1/tsa":
        # DER, not JSON; the route itself answers an RFC 3161 rejection above MAX_REQUEST_BYTES (8 KiB)
        return BodyPolicy(TSA_TRANSPORT_LIMIT, False, "the time-stamp request limit", binary=True)
    if path == "/v1/verify":
        if content_type.split(";", 1)[0].strip().lower() == "multipart/form-data":
            # the route streams the file part and enforces its own per-part limits as it parses
            limit = settings.max_upload_bytes + MAX_CERTIFICATE_BYTES + ALLOWANCE
            return BodyPolicy(limit, True, "IPLEDGER_MAX_UPLOAD_BYTES")
        return BodyPolicy(2 * MAX_CERTIFICATE_BYTES + ALLOWANCE, False, "the largest certificate")
    return default


# --- JSON depth ---------------------------------------------------------------------------------------------

# A JSON string: possessive, so that it never backtracks; an unterminated one runs to the end of the input.
_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+"?', re.DOTALL)
_NOT_BRACKETS = bytes(sorted(set(range(256)) - set(b"[]{}")))
_SIGNS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")  # +1 / -1 as signed bytes


def json_depth(body: bytes, *, at_most: int | None = None) -> int:
    """The deepest nesting of arrays and objects in ``body`` (brackets inside strings do not count).

    Linear in the size of ``body`` and done in C (regular expression, translate, accumulate): no recursion,
    no Python loop over the bytes. Invalid JSON gets a number too, never less than its nesting: an
    unterminated string hides the rest (no parser gets past it), and closing brackets that come first do not
    cancel the opening ones after them (the number is then the rise from the lowest point).
    With ``at_most``, a body with no more opening brackets than that returns their count without a scan.
    """
    opening = body.count(b"[") + body.count(b"{")
    if at_most is not None and opening <= at_most:
        return opening
    stripped = _STRING.sub(b"", body) if b'"' in body else body
    brackets = stripped.translate(None, _NOT_BRACKETS)
    if not brackets:
        return 0
    running = list(itertools.accumulate(array("b", brackets.translate(_SIGNS))))
    # stray closing brackets first cannot hide what follows: depth is counted from the lowest point
    return max(0, max(running) - min(0, min(running)))


# --- the middleware -----------------------------------------------------------------------------------------


class _BodyTooLarge(Exception):
    def __init__(self, policy: BodyPolicy) -> None:
        super().__init__(policy.setting)
        self.policy = policy


class _BodyTimeout(Exception):
    pass


class _Disconnected(Exception):
    pass


def error_response(
    status: int, code: str, message: str, field: str | None = None, headers: dict[str, str] | None = None
) -> tuple[list[tuple[bytes, bytes]], bytes]:
    """Headers and body of an answer in the API's error envelope; the connection closes after it."""
    error: dict[str, str] = {"code": code, "message": message}
    if field:
        error["field"] = field
    body = json.dumps({"error": error}, ensure_ascii=False).encode()
    raw = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    raw += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()]
    return raw, body


class RequestLimits:
    """ASGI middleware enforcing body size, read timeouts and JSON depth (the module's guarantees)."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        head_size = len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"")
        head_size += sum(len(k) + len(v) + 4 for k, v in scope.get("headers", ()))
        if head_size > MAX_HEAD_BYTES:
            raw, body = error_response(
                431,
                "headers_too_large",
                f"the request line and headers take {head_size} bytes; at most {MAX_HEAD_BYTES} are accepted",
                "headers",
            )
            await send({"type": "http.response.start", "status": 431, "headers": raw})
            await send({"type": "http.response.body", "body": body, "more_body": False})
            return
        headers = _headers(scope)
        policy = body_policy(self.settings, scope["method"], scope["path"], headers.get("content-type", ""))
        started = False

        async def send_tracked(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        async def answer(status: int, code: str, message: str, field: str | None = None) -> None:
            if started:  # too late for an answer: the connection is closed with the request unfinished
                return
            raw, body = error_response(status, code, message, field)
            await send({"type": "http.response.start", "status": status, "headers": raw})
            await send({"type": "http.response.body", "body": body, "more_body": False})

        length = headers.get("content-length")
        if length is not None:
            if not length.isascii() or not length.isdigit():
                await answer(400, "invalid_input", "Content-Length is not a number", "content-length")
                return
            if int(length) > policy.limit:
                await answer(413, "payload_too_large", _too_large(policy, int(length)), "body")
                return
        try:
            if policy.streamed:
                await self.app(scope, self._counted(receive, policy), send_tracked)
                return
            body = await self._read_body(receive, policy)
            ctype = headers.get("content-type", "").split(";", 1)[0].strip().lower()
            if body and not policy.binary and ctype not in ("multipart/form-data", "application/x-www-form-urlencoded"):
                depth = json_depth(body, at_most=self.settings.max_json_depth)
                if depth > self.settings.max_json_depth:
                    await answer(
                        400,
                        "json_too_deep",
                        f"the body nests arrays and objects {depth} deep; at most "
                        f"{self.settings.max_json_depth} levels are accepted",
                        "body",
                    )
                    return
            await self.app(scope, _replay(body, receive), send_tracked)
        except _BodyTooLarge as exc:
            await answer(413, "payload_too_large", _too_large(exc.policy, None), "body")
        except _BodyTimeout as exc:
            await answer(408, "request_timeout", str(exc), "body")
        except _Disconnected:
            return

    async def _read_body(self, receive: Receive, policy: BodyPolicy) -> bytes:
        """The whole body, within the size limit, the idle timeout and the whole-body deadline."""
        chunks: list[bytes] = []
        size = 0
        deadline = time.monotonic() + self.settings.body_timeout
        while True:
            wait = min(self.settings.read_timeout, deadline - time.monotonic())
            message = await _receive_within(receive, wait, self.settings)
            if message["type"] == "http.disconnect":
                raise _Disconnected
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > policy.limit:
                raise _BodyTooLarge(policy)
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    def _counted(self, receive: Receive, policy: BodyPolicy) -> Receive:
        """``receive`` counting the body against the limit, with the idle timeout between chunks."""
        size = 0

        async def counted() -> Message:
            nonlocal size
            message = await _receive_within(receive, self.settings.read_timeout, self.settings)
            if message["type"] == "http.request":
                size += len(message.get("body", b""))
                if size > policy.limit:
                    raise _BodyTooLarge(policy)
            return message

        return counted


async def _receive_within(receive: Receive, seconds: float, settings: Settings) -> Message:
    try:
        return await asyncio.wait_for(receive(), timeout=max(seconds, 0.0))
    except TimeoutError:
        raise _BodyTimeout(
            f"the request body did not arrive in time (IPLEDGER_READ_TIMEOUT {settings.read_timeout:g} s between "
            f"chunks, IPLEDGER_BODY_TIMEOUT {settings.body_timeout:g} s in all)"
        ) from None


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives the buffered body once, then defers to the server's (for disconnects)."""
    given = False

    async def replay() -> Message:
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _headers(scope: Scope) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in scope.get("headers", ()):
        name = key.decode("latin-1").lower()
        if name not in out:  # the first of a repeated header (the server rejects conflicting lengths)
            out[name] = value.decode("latin-1")
    return out


def _too_large(policy: BodyPolicy, announced: int | None) -> str:
    size = f"announces {announced} bytes" if announced is not None else "is larger"
    return f"the request body {size}; this call accepts at most {policy.limit} bytes (sized by {policy.setting})"


# --- the HTTP server (uvicorn) under `ipledger up` -------------------------------------------------------------


def server_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments of ``uvicorn.run`` for ``ipledger up``: the protocol below and uvicorn's own limits."""
    return {
        "http": http_protocol(settings),
        "timeout_keep_alive": KEEP_ALIVE_SECONDS,
        "h11_max_incomplete_event_size": MAX_HEAD_BYTES,
    }


def http_protocol(settings: Settings) -> type[asyncio.Protocol]:
    """uvicorn's h11 protocol with three additions (uvicorn has no other hook for them, as of 0.3x):

    - malformed HTTP (uvicorn's ``send_400_response``) is answered in the JSON envelope, not plain text;
    - a request head must arrive within ``IPLEDGER_READ_TIMEOUT`` of the connection or of the previous
      answer (uvicorn itself waits for ever), else the connection is closed: with a 408 if part of a head
      (or of an answered request's body) arrived, silently if nothing did (a client may be about to reuse it);
    - past ``IPLEDGER_MAX_CONNECTIONS`` open connections a new one is answered 503 with ``Retry-After``
      and closed (uvicorn's ``limit_concurrency`` answers plain text without ``Retry-After``).
    """
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    head_timeout = settings.read_timeout
    max_connections = settings.max_connections

    class LedgerH11Protocol(H11Protocol):
        _head_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            if len(self.connections) > max_connections:
                self.logger.warning(
                    "refused a connection: %d open (IPLEDGER_MAX_CONNECTIONS)", len(self.connections) - 1
                )
                self._answer_and_close(
                    503,
                    "server_busy",
                    "too many open connections; try again shortly",
                    {"Retry-After": str(RETRY_AFTER_SECONDS)},
                )
                return
            self._arm_head_timer()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm_head_timer()
            super().connection_lost(exc)

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._arm_head_timer()

        def send_400_response(self, msg: str) -> None:
            self._disarm_head_timer()
            self._answer_and_close(400, "bad_request", f"malformed HTTP request: {msg}")

        def _arm_head_timer(self) -> None:
            self._disarm_head_timer()
            if not self.transport.is_closing():
                self._head_timer = self.loop.call_later(head_timeout, self._head_timed_out)

        def _disarm_head_timer(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def _head_timed_out(self) -> None:
            self._head_timer = None
            # only while no request is being served: the next head has not fully arrived (or the body of a
            # request already answered is still trickling in)
            if self.transport.is_closing() or (self.cycle is not None and not self.cycle.response_complete):
                return
            if self.conn.their_state is h11.IDLE and not self.conn.trailing_data[0]:
                self.transport.close()  # idle, nothing of a next request: closed silently, like keep-alive
                return
            self._answer_and_close(
                408,
                "request_timeout",
                f"the request head did not arrive within {head_timeout:g} s (IPLEDGER_READ_TIMEOUT)",
            )

        def _answer_and_close(
            self, status: int, code: str, message: str, headers: dict[str, str] | None = None
        ) -> None:
            raw, body = error_response(status, code, message, None, headers)
            reason = {400: b"Bad Request", 408: b"Request Timeout", 503: b"Service Unavailable"}[status]
            head = (
                b"HTTP/1.1 %d %s\r\n" % (status, reason) + b"".join(k + b": " + v + b"\r\n" for k, v in raw) + b"\r\n"
            )
            if not self.transport.is_closing():
                self.transport.write(head + body)
                self.transport.close()

    return LedgerH11Protocol
