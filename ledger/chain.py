"""Connections to EVM JSON-RPC chains, and the embedded single-node chain (anvil) with persisted state."""

from __future__ import annotations

import base64
import http.client
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

import requests
from web3 import Web3
from web3.middleware import Web3Middleware
from web3.providers.rpc import HTTPProvider
from web3.providers.rpc.utils import ExceptionRetryConfiguration

from ledger.errors import ChainUnavailable, DataDirError, PortInUse, ToolchainError

REPO_ROOT = Path(__file__).resolve().parents[1]

#: Anvil's well-known development mnemonic. Its keys are public: they are used only on the embedded node.
DEV_MNEMONIC = "test test test test test test test test test test test junk"
#: Private key of the first development account (operator and relayer on the embedded node).
DEV_OPERATOR_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
DEV_CHAIN_ID = 31337


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
    except Exception as exc:
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
        proxied = any(k in urllib.request.getproxies() for k in ("http", "https", "all")) and not urllib.request.proxy_bypass(host)
        if not proxied:
            self._request_session_manager = _KeptConnections(str(endpoint_uri))  # type: ignore[assignment]


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


def find_anvil() -> Path:
    """The anvil binary: ``$IPLEDGER_ANVIL_BINARY``, then the npm package's native binary, then PATH."""
    env = os.environ.get("IPLEDGER_ANVIL_BINARY")
    if env:
        return Path(env)
    machine = platform.machine().lower()
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(machine, machine)
    system = platform.system().lower()
    native = REPO_ROOT / "node_modules" / "@foundry-rs" / f"anvil-{system}-{arch}" / "bin" / "anvil"
    if native.exists():
        return native
    found = shutil.which("anvil")
    if found:
        return Path(found)
    raise ToolchainError("anvil not found: run `npm ci` (package @foundry-rs/anvil) or set IPLEDGER_ANVIL_BINARY")


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def ensure_writable_dir(path: Path) -> Path:
    """Creates ``path`` if needed and proves it writable; raises :class:`DataDirError` otherwise."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".write-probe"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise DataDirError(f"data directory {path} is not writable ({exc.strerror or exc})", field="data_dir") from None
    return path


def _terminate_with_parent() -> None:
    """In the child: ask Linux to send SIGTERM when the parent dies, so that a crashed `ipledger up` does not
    leave the node running (SIGTERM makes anvil write its state)."""
    if platform.system() != "Linux":
        return
    import ctypes

    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


@dataclass
class EmbeddedNode:
    """anvil on loopback with its state persisted in ``data_dir/chain``.

    The state file is rewritten every ``state_interval`` seconds and on a clean exit; docs/operations.md
    records what a kill -9 loses.
    """

    data_dir: Path
    port: int = 8545
    host: str = "127.0.0.1"
    state_interval: int = 1
    chain_id: int = DEV_CHAIN_ID
    block_time: float | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)
    restored: bool = field(default=False, init=False)
    _guard_stop: threading.Event = field(default_factory=threading.Event, init=False, repr=False)
    _guard_thread: threading.Thread | None = field(default=None, init=False, repr=False)
    _log: IO[bytes] | None = field(default=None, init=False, repr=False)

    @property
    def rpc_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def state_dir(self) -> Path:
        return self.data_dir / "chain"

    @property
    def state_file(self) -> Path:
        return self.state_dir / "state.json"

    def command(self) -> list[str]:
        cmd = [
            str(find_anvil()),
            "--host", self.host,
            "--port", str(self.port),
            "--chain-id", str(self.chain_id),
            "--mnemonic", DEV_MNEMONIC,
            "--state", str(self.state_file),
            "--state-interval", str(self.state_interval),
            "--preserve-historical-states",
        ]  # fmt: skip
        if self.block_time:
            cmd += ["--block-time", str(self.block_time)]
        return cmd

    @property
    def pid_file(self) -> Path:
        return self.state_dir / "anvil.pid"

    def _stop_orphan(self) -> None:
        """Stops a node left running on this data dir by a process that died (its pid file remains)."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            return
        if not cmdline or not cmdline[0].endswith(b"anvil") or str(self.state_file).encode() not in cmdline:
            return
        os.kill(pid, signal.SIGTERM)
        for _ in range(100):
            if not Path(f"/proc/{pid}").exists():
                break
            time.sleep(0.1)

    @property
    def good_state_file(self) -> Path:
        return self.state_dir / "state.good.json"

    def _state_complete(self, path: Path, *, parse: bool = False) -> bool:
        """Whether a state dump is whole. anvil rewrites the file in place, so a kill during a dump can leave
        it empty or cut short; a cheap check (a JSON object from its first to its last byte) runs every
        interval, a full parse at start."""
        try:
            if parse:
                return isinstance(json.loads(path.read_bytes()), dict)
            size = path.stat().st_size
            if size < 2:
                return False
            with open(path, "rb") as fh:
                head = fh.read(1)
                fh.seek(-1, os.SEEK_END)
                tail = fh.read(1)
            return head == b"{" and tail in (b"}", b"\n")
        except (OSError, ValueError):
            return False

    def _keep_good_copy(self) -> None:
        """Copies a whole state dump aside (atomically), so that a dump cut short by a crash can be replaced."""
        if not self._state_complete(self.state_file):
            return
        tmp = self.good_state_file.with_suffix(".tmp")
        try:
            shutil.copyfile(self.state_file, tmp)
            if not self._state_complete(tmp):
                return
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, self.good_state_file)
        except OSError:
            pass

    def _restore_state_if_cut(self) -> None:
        if self.state_file.exists() and not self._state_complete(self.state_file, parse=True):
            if self.good_state_file.exists() and self._state_complete(self.good_state_file, parse=True):
                shutil.copyfile(self.good_state_file, self.state_file)
                self.restored = True
            else:
                raise ChainUnavailable(
                    f"the embedded node's state {self.state_file} is damaged and no earlier good copy exists; "
                    "move it aside to start a new chain"
                )

    def _guard(self) -> None:
        while not self._guard_stop.wait(self.state_interval):
            self._keep_good_copy()

    def start(self, *, timeout: float = 30.0) -> str:
        ensure_writable_dir(self.state_dir)
        self._stop_orphan()
        self._restore_state_if_cut()
        if not port_is_free(self.host, self.port):
            raise PortInUse(f"port {self.port} on {self.host} is already in use (choose another with --node-port)")
        self._log = open(self.state_dir / "anvil.log", "ab")  # noqa: SIM115 - kept open for the child's life
        self.process = subprocess.Popen(
            self.command(),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C in a terminal goes to us; we stop the node cleanly
            preexec_fn=_terminate_with_parent,
        )
        self.pid_file.write_text(str(self.process.pid))
        self._guard_stop.clear()
        self._guard_thread = threading.Thread(target=self._guard, name="anvil-state-guard", daemon=True)
        self._guard_thread.start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self._close_log()
                tail = (self.state_dir / "anvil.log").read_text(errors="replace").strip().splitlines()[-3:]
                raise ChainUnavailable("the embedded node exited at start: " + " / ".join(tail))
            try:
                w3 = Web3(HTTPProvider(self.rpc_url, request_kwargs={"timeout": 1}))
                if w3.eth.chain_id == self.chain_id:
                    return self.rpc_url
            except Exception:
                time.sleep(0.1)
        self.stop()
        raise ChainUnavailable(f"the embedded node did not answer on {self.rpc_url} within {timeout:.0f}s")

    def stop(self, *, timeout: float = 15.0) -> None:
        """Stops the node with SIGTERM so that it writes its state; SIGKILL if it does not exit."""
        self._guard_stop.set()
        proc = self.process
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.process = None
        self._close_log()
        self._keep_good_copy()

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL, as a crash would: no state is written beyond the last interval dump."""
        self._guard_stop.set()
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None
        self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> EmbeddedNode:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
