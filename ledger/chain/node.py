"""The embedded single-node chain (anvil) with persisted state, and its development keys.

The embedded node keeps one chain for any number of restarts (clean or killed): its state is written by us,
atomically and only when a block was mined, and reduced to its canonical chain before each start. One process
at a time owns a data directory (:class:`DataDirLock`); :class:`NodeSupervisor` restarts a node that dies.
Connections to a node (the embedded one or any other) are ``ledger.chain.rpc``'s.
"""

from __future__ import annotations

import fcntl
import gzip
import json
import logging
import os
import platform
import secrets
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import rlp
from eth_utils import keccak

from ledger.chain.rpc import NodeConnectionError, NodeHead, json_rpc, read_head
from ledger.errors import ChainUnavailable, DataDirError, DataDirInUse, LedgerError, PortInUse, ToolchainError

log = logging.getLogger("ipledger.node")

REPO_ROOT = Path(__file__).resolve().parents[2]

#: Anvil's well-known development mnemonic. Its keys are public: they are used only on the embedded node.
DEV_MNEMONIC = "test test test test test test test test test test test junk"
#: Private key of the first development account (operator and relayer on the embedded node).
DEV_OPERATOR_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
DEV_CHAIN_ID = 31337


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


def listens_on(pid: int, port: int) -> bool | None:
    """Whether process ``pid`` holds a TCP socket listening on ``port`` (IPv4 or IPv6): ``None`` where Linux's
    ``/proc`` cannot tell. A node that lost the race for its port to another process exits, but a probe in the
    meantime would be answered by that other process: this tells the two apart."""
    inodes: set[str] = set()
    try:
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            if not os.path.exists(table):
                continue
            with open(table, encoding="ascii") as f:
                next(f, None)
                for line in f:
                    fields = line.split()
                    # local address "HEX_IP:HEX_PORT", state 0A = LISTEN, inode in column 10
                    if len(fields) > 9 and fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                        inodes.add(fields[9])
        fds = os.listdir(f"/proc/{pid}/fd")
    except (OSError, ValueError):
        return None
    for fd in fds:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:[") and target[8:-1] in inodes:
            return True
    return False


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def ensure_writable_dir(path: Path) -> Path:
    """Creates ``path`` if needed and proves it writable; raises :class:`DataDirError` otherwise. The probe file is
    this call's own: processes and threads sharing the directory (`ipledger serve` replicas and a worker) prove it
    at the same moment without removing each other's."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".write-probe-{os.getpid()}-{threading.get_ident()}-{secrets.token_hex(4)}"
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


# --- the embedded node ----------------------------------------------------------------------------

#: The data directory's lock file (an exclusive ``flock`` held for the life of `ipledger up` / `ipledger node`).
LOCK_FILE = "ipledger.lock"
#: Historical states anvil keeps (in memory only) for calls at recent blocks (EIP-1898); see docs/operations.md.
HISTORY_STATES = 64
#: Transactions anvil's instant miner takes from its pool for one block. With its default (1,000) anvil 1.7's
#: miner stopped for good in nearly every burst of thousands of concurrent transactions, spinning and growing in
#: memory. Raised, a block takes every ready transaction that fits its gas. ``evm_setAutomine true`` (the state
#: guard's resume below) gives the miner back its 1,000, which is why senders keep fewer than that unmined
#: (``ledger.chain.sender.MAX_IN_FLIGHT``); docs/operations.md, "Transactions the node holds and does not mine".
MAX_BLOCK_TRANSACTIONS = 100_000
#: How often the state guard looks at the node's head (seconds).
GUARD_POLL = 0.25
#: Longest wait for one state dump from the node (seconds).
DUMP_TIMEOUT = 300.0


class DataDirLock:
    """One process per data directory: an exclusive ``fcntl.flock`` on ``DATA_DIR/ipledger.lock``, held until
    :meth:`release` or the process's end (the kernel releases it when the process dies, however it dies). The
    holder's PID is written into the file after the lock is taken, so that a refused start can name it."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    @classmethod
    def acquire(cls, data_dir: Path, *, purpose: str) -> DataDirLock:
        """Takes the lock or raises :class:`DataDirInUse` naming the process that holds it; never waits."""
        ensure_writable_dir(data_dir)
        path = data_dir / LOCK_FILE
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            holder = cls._holder(path)
            raise DataDirInUse(
                f"data directory {data_dir} is in use by {holder}; stop it first or choose another --data-dir",
                field="data_dir",
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()} {purpose}\n".encode())
        os.fsync(fd)
        return cls(path, fd)

    @staticmethod
    def _holder(path: Path) -> str:
        """'process PID (what)' from the lock file; its holder writes it just after locking, so wait a moment."""
        for _ in range(20):
            try:
                pid, _, what = path.read_text(encoding="utf-8", errors="replace").strip().partition(" ")
            except OSError:
                pid, what = "", ""
            if pid.isdigit():
                return f"process {pid}" + (f" ({what})" if what else "")
            time.sleep(0.05)
        return "another process"

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            try:
                os.ftruncate(fd, 0)
            except OSError:
                pass
            os.close(fd)  # closing the only descriptor releases the flock


# Header fields in RLP order (London to Prague); the optional ones end the list when absent.
_HEADER_FIELDS = (
    "parentHash",
    "sha3Uncles",
    "miner",
    "stateRoot",
    "transactionsRoot",
    "receiptsRoot",
    "logsBloom",
    "difficulty",
    "number",
    "gasLimit",
    "gasUsed",
    "timestamp",
    "extraData",
    "mixHash",
    "nonce",
    "baseFeePerGas",
    "withdrawalsRoot",
    "blobGasUsed",
    "excessBlobGas",
    "parentBeaconBlockRoot",
    "requestsHash",
)
_HEADER_INTS = frozenset(
    {"difficulty", "number", "gasLimit", "gasUsed", "timestamp", "baseFeePerGas", "blobGasUsed", "excessBlobGas"}
)


def header_hash(header: dict[str, Any]) -> str:
    """The block hash of a header as anvil serialises it in a state dump (keccak of its RLP)."""
    items: list[int | bytes] = []
    for name in _HEADER_FIELDS:
        value = header.get(name)
        if value is None:
            break
        items.append(_quantity(value) if name in _HEADER_INTS else bytes.fromhex(str(value)[2:]))
    return "0x" + keccak(rlp.encode(items)).hex()


def _quantity(value: Any) -> int:
    return value if isinstance(value, int) else int(str(value), 16)


def canonical_state(state: dict[str, Any], *, genesis_hint: str | None = None) -> tuple[dict[str, Any], int]:
    """Keeps only the canonical chain of a state dump: the best block and its ancestors, their transactions, and
    no historical states. Returns the state and how many blocks were dropped.

    anvil builds a fresh genesis block (with the current time) at every start and keeps it beside the loaded
    chain, so every dump after a restart holds one more block 0; which of them anvil takes as its genesis when
    loading depends on their order. This makes the choice: the ancestor of the best block (or, on a chain that
    is still at block 0, ``genesis_hint`` if it is among them, else the oldest).
    """
    blocks = state.get("blocks") or []
    by_hash = {header_hash(b["header"]): b for b in blocks}
    best = state.get("best_block_number")
    if best is None:
        return state, 0
    best = _quantity(best)
    heads = sorted(
        (h for h, b in by_hash.items() if _quantity(b["header"]["number"]) == best),
        key=lambda h: (h != genesis_hint, _quantity(by_hash[h]["header"]["timestamp"])),
    )
    if not heads:
        return state, 0  # anvil refuses it ("Best hash not found"); the start reports that
    keep: list[str] = []
    cursor: str | None = heads[0]
    while cursor is not None and cursor in by_hash:
        keep.append(cursor)
        header = by_hash[cursor]["header"]
        cursor = None if _quantity(header["number"]) == 0 else str(header["parentHash"])
    kept = set(keep)
    state["blocks"] = [by_hash[h] for h in reversed(keep)]
    state["transactions"] = [t for t in state.get("transactions") or [] if t.get("block_hash") in kept]
    state["historical_states"] = None
    return state, len(blocks) - len(keep)


@dataclass
class DumpInfo:
    """The last state dump written: its head, when, how long it took and its size."""

    block: int
    hash: str
    written_at: float
    seconds: float
    bytes: int


@dataclass
class EmbeddedNode:
    """anvil on loopback, with its chain persisted in ``data_dir/chain/state.json.gz``.

    anvil loads the state at start (``--load-state``) and never writes it itself. A guard thread looks at the
    head every :data:`GUARD_POLL` seconds and, when a new block was mined (and at least ``state_interval``
    seconds after the previous dump), asks the node for its state (``anvil_dumpState``) and writes it
    atomically: temporary file, fsync, rename, fsync of the directory. A clean stop writes it once more before
    SIGTERM. So the file is always a whole dump, nothing is written while the chain is idle, and a crash loses
    at most the blocks mined since the last dump. Before loading, the dump is reduced to its canonical chain
    (:func:`canonical_state`), so any number of restarts keeps one genesis block. docs/operations.md has the
    details.

    The data directory is locked (:class:`DataDirLock`) for the node's life, unless the caller passes the lock
    it holds for the whole process.
    """

    data_dir: Path
    port: int = 8545
    host: str = "127.0.0.1"
    state_interval: float = 1.0
    chain_id: int = DEV_CHAIN_ID
    block_time: float | None = None
    history: int = HISTORY_STATES
    lock: DataDirLock | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)
    #: At the last start: an old-format state was cut short and its earlier whole copy was used.
    restored: bool = field(default=False, init=False)
    #: At the last start: blocks dropped from the loaded dump because they were not on its canonical chain.
    dropped_blocks: int = field(default=0, init=False)
    last_dump: DumpInfo | None = field(default=None, init=False)
    last_dump_error: str | None = field(default=None, init=False)
    #: When the node last answered the guard (``time.time()``), and the head it reported.
    last_answer: float | None = field(default=None, init=False)
    last_head: NodeHead | None = field(default=None, init=False)
    _owns_lock: bool = field(default=False, init=False, repr=False)
    _dumped: tuple[int, str] | None = field(default=None, init=False, repr=False)
    _dump_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _guard_stop: threading.Event = field(default_factory=threading.Event, init=False, repr=False)
    _guard_thread: threading.Thread | None = field(default=None, init=False, repr=False)
    _log: IO[bytes] | None = field(default=None, init=False, repr=False)

    @property
    def rpc_url(self) -> str:
        """The URL this process uses: loopback when the node listens on every address."""
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"

    @property
    def state_dir(self) -> Path:
        return self.data_dir / "chain"

    @property
    def state_file(self) -> Path:
        return self.state_dir / "state.json.gz"

    @property
    def legacy_state_file(self) -> Path:
        """Where earlier versions let anvil write its state (in place, every second); read once, then removed."""
        return self.state_dir / "state.json"

    @property
    def good_state_file(self) -> Path:
        """Earlier versions' copy of the last whole ``state.json``."""
        return self.state_dir / "state.good.json"

    @property
    def load_file(self) -> Path:
        """The canonical chain handed to anvil at start (plain JSON, as ``--load-state`` reads it); removed once
        the node answers."""
        return self.state_dir / "load.json"

    @property
    def pid_file(self) -> Path:
        return self.state_dir / "anvil.pid"

    def command(self, load: Path | None = None) -> list[str]:
        cmd = [
            str(find_anvil()),
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--chain-id",
            str(self.chain_id),
            "--mnemonic",
            DEV_MNEMONIC,
            "--prune-history",
            str(self.history),
            "--quiet",  # no line per request in anvil.log (errors at start are still printed)
            "--max-transactions",
            str(MAX_BLOCK_TRANSACTIONS),
        ]
        if load is not None:
            cmd += ["--load-state", str(load)]
        if self.block_time:
            cmd += ["--block-time", str(self.block_time)]
        return cmd

    # --- start and stop ---------------------------------------------------------------------------

    def start(self, *, timeout: float = 30.0) -> str:
        """Starts anvil from the last state dump (a new chain when there is none); returns its URL. Raises
        :class:`DataDirInUse` when another process holds the data directory, :class:`PortInUse`, or
        :class:`ChainUnavailable` when the node does not come up or the dump is damaged."""
        ensure_writable_dir(self.state_dir)
        if self.lock is None or not self.lock.held:
            self.lock = DataDirLock.acquire(self.data_dir, purpose="ipledger embedded node")
            self._owns_lock = True
        if self.alive():
            return self.rpc_url
        self._close_log()
        self._stop_orphan()
        if not port_is_free(self.host, self.port):
            raise PortInUse(f"port {self.port} on {self.host} is already in use (choose another with --node-port)")
        load, from_legacy = self._prepare_state()
        self._log = open(self.state_dir / "anvil.log", "ab")  # noqa: SIM115 - kept open for the child's life
        self.process = subprocess.Popen(
            self.command(load),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=self.state_dir,  # also how an orphan is recognised (/proc/PID/cwd)
            start_new_session=True,  # Ctrl-C in a terminal goes to us; we stop the node cleanly
            preexec_fn=_terminate_with_parent,
        )
        self.pid_file.write_text(str(self.process.pid))
        head = self._wait_answering(timeout)
        if load is not None:
            load.unlink(missing_ok=True)
        # The dump just loaded is what is on disk: nothing to write until a new block (a legacy state is
        # written once in the new format, and a first start writes its genesis).
        self._dumped = (head.number, head.hash) if load is not None and not from_legacy else None
        self._start_guard()
        return self.rpc_url

    def restart(self, *, timeout: float = 30.0) -> str:
        """Starts the node again after it died (the supervisor's call); a no-op while it runs."""
        if self.process is not None and self.process.poll() is None:
            return self.rpc_url
        self.process = None
        return self.start(timeout=timeout)

    def _wait_answering(self, timeout: float) -> NodeHead:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self._close_log()
                tail = (self.state_dir / "anvil.log").read_text(errors="replace").strip().splitlines()[-3:]
                self.process = None
                raise ChainUnavailable("the embedded node exited at start: " + " / ".join(tail))
            try:
                # the answer counts only from our own process: another one may have taken the port first
                if (
                    int(json_rpc(self.rpc_url, "eth_chainId", [], timeout=1.0), 16) == self.chain_id
                    and listens_on(self.process.pid, self.port) is not False
                ):
                    return read_head(self.rpc_url, timeout=5.0)
            except (NodeConnectionError, RuntimeError, ValueError, TypeError):
                pass
            time.sleep(0.1)
        self._terminate(self.process)
        self.process = None
        self._close_log()
        raise ChainUnavailable(f"the embedded node did not answer on {self.rpc_url} within {timeout:.0f}s")

    def stop(self, *, timeout: float = 15.0) -> None:
        """Writes the state if a block was mined since the last dump, then stops the node (SIGTERM; SIGKILL if
        it does not exit) and releases the data directory if this node took it."""
        self._stop_guard()
        proc = self.process
        if proc is not None and proc.poll() is None:
            try:
                self.dump()
            except Exception:  # noqa: BLE001 - a node that cannot dump now still has its last dump on disk
                pass
            self._terminate(proc, timeout)
        self.process = None
        self._close_log()
        self._release_lock()

    def kill(self) -> None:
        """SIGKILL, as a crash would: nothing is written beyond the last dump."""
        self._stop_guard()
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None
        self._close_log()
        self._release_lock()

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @staticmethod
    def _terminate(proc: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def _release_lock(self) -> None:
        if self._owns_lock and self.lock is not None:
            self.lock.release()
            self.lock = None
            self._owns_lock = False

    def _stop_orphan(self) -> None:
        """Stops a node left running on this data directory by a process that died. Called only with the data
        directory locked, so its owner is gone: a live `ipledger up` holds the lock."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            cwd = Path(os.readlink(f"/proc/{pid}/cwd"))
        except OSError:
            return
        if not cmdline or not cmdline[0].endswith(b"anvil") or cwd != self.state_dir.resolve():
            return
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            return
        for _ in range(100):
            if not Path(f"/proc/{pid}").exists():
                break
            time.sleep(0.1)

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    # --- the state on disk ------------------------------------------------------------------------

    def _prepare_state(self) -> tuple[Path | None, bool]:
        """Writes the canonical chain of the last dump to :attr:`load_file`; returns it (None for a new chain)
        and whether it came from an earlier version's ``state.json``."""
        self.restored = False
        self.dropped_blocks = 0
        legacy = False
        if self.state_file.exists():
            try:
                state = json.loads(gzip.decompress(self.state_file.read_bytes()))
                if not isinstance(state, dict):
                    raise ValueError("not a JSON object")
            except (OSError, ValueError, EOFError) as exc:
                raise ChainUnavailable(
                    f"the embedded node's state {self.state_file} is damaged ({type(exc).__name__}); move it aside "
                    "to start a new chain, or restore it from a backup"
                ) from None
        else:
            state = self._legacy_state()
            if state is None:
                return None, False
            legacy = True
        state, self.dropped_blocks = canonical_state(state, genesis_hint=self._manifest_genesis())
        tmp = self.load_file.with_suffix(".tmp")
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(state, fh, separators=(",", ":"))
        os.replace(tmp, self.load_file)
        return self.load_file, legacy

    def _legacy_state(self) -> dict[str, Any] | None:
        """An earlier version's ``state.json`` (or, when a crash cut it short, its ``state.good.json``)."""
        for path in (self.legacy_state_file, self.good_state_file):
            if not path.exists():
                continue
            try:
                state = json.loads(path.read_bytes())
            except (OSError, ValueError):
                state = None
            if isinstance(state, dict):
                self.restored = path == self.good_state_file
                return state
        if self.legacy_state_file.exists():
            raise ChainUnavailable(
                f"the embedded node's state {self.legacy_state_file} is damaged and no earlier good copy exists; "
                "move it aside to start a new chain"
            )
        return None

    def _manifest_genesis(self) -> str | None:
        try:
            data = json.loads((self.data_dir / "deployments" / f"{self.chain_id}.json").read_text())
            return str(data["genesisHash"]).lower()
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def dump(self, *, force: bool = False) -> bool:
        """Writes the node's state if its head moved since the last dump (or ``force``); returns whether it
        wrote. The head is read before and after the dump: a block mined meanwhile could leave the dump's
        accounts ahead of its blocks, so such a dump is taken again — the last try with mining paused."""
        with self._dump_lock:
            before = read_head(self.rpc_url, timeout=5.0)
            if not force and self._dumped == (before.number, before.hash):
                return False
            started = time.monotonic()
            for attempt in range(3):
                paused = attempt == 2 and not self.block_time
                if paused:
                    json_rpc(self.rpc_url, "evm_setAutomine", [False], timeout=5.0)
                try:
                    if paused:
                        before = read_head(self.rpc_url, timeout=5.0)
                    blob = json_rpc(self.rpc_url, "anvil_dumpState", [], timeout=DUMP_TIMEOUT)
                    after = read_head(self.rpc_url, timeout=5.0)
                finally:
                    if paused:
                        json_rpc(self.rpc_url, "evm_setAutomine", [True], timeout=5.0)
                if (after.number, after.hash) == (before.number, before.hash):
                    data = bytes.fromhex(str(blob)[2:])
                    self._write_atomically(data)
                    self._dumped = (after.number, after.hash)
                    self.last_dump = DumpInfo(
                        after.number, after.hash, time.time(), time.monotonic() - started, len(data)
                    )
                    self.last_dump_error = None
                    self._drop_legacy_files()
                    return True
                before = after
            return False

    def durable(self, block_number: int) -> bool:
        """Whether block ``block_number`` of the live chain is in the state file on disk. The file's head is an
        ancestor of (or equal to) the live head: the node started from it, or it was dumped from this node."""
        dumped = self._dumped
        return dumped is not None and dumped[0] >= block_number

    def _write_atomically(self, data: bytes) -> None:
        if data[:2] != b"\x1f\x8b":
            raise RuntimeError("anvil_dumpState did not answer a gzip stream")
        tmp = self.state_file.with_name(self.state_file.name + ".tmp")
        try:
            with open(tmp, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.state_file)
        except OSError:
            tmp.unlink(missing_ok=True)
            raise
        dir_fd = os.open(self.state_dir, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def _drop_legacy_files(self) -> None:
        for path in (self.legacy_state_file, self.good_state_file, self.good_state_file.with_suffix(".tmp")):
            path.unlink(missing_ok=True)

    # --- the guard --------------------------------------------------------------------------------

    def _start_guard(self) -> None:
        if self._guard_thread is not None and self._guard_thread.is_alive():
            return
        self._guard_stop.clear()
        self._guard_thread = threading.Thread(target=self._guard, name="anvil-state-guard", daemon=True)
        self._guard_thread.start()

    def _stop_guard(self) -> None:
        self._guard_stop.set()
        thread = self._guard_thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=DUMP_TIMEOUT)
        self._guard_thread = None

    def _guard(self) -> None:
        last_try = float("-inf")
        while not self._guard_stop.wait(GUARD_POLL):
            if not self.alive():
                continue
            try:
                head = read_head(self.rpc_url, timeout=2.0)
            except (NodeConnectionError, RuntimeError, ValueError, KeyError):
                continue
            self.last_answer, self.last_head = time.time(), head
            if self._dumped == (head.number, head.hash) or time.monotonic() - last_try < self.state_interval:
                continue
            last_try = time.monotonic()
            try:
                self.dump()
            except Exception as exc:  # noqa: BLE001 - kept for /v1/health and tried again at the next interval
                message = f"{type(exc).__name__}: {exc}"[:300]
                if message != self.last_dump_error:
                    log.warning("could not write the embedded node's state: %s", message)
                self.last_dump_error = message

    def status(self) -> dict[str, Any]:
        """The node's process, the last head it answered and the last dump on disk (no call to the node)."""
        now = time.time()
        dump = self.last_dump
        return {
            "pid": self.process.pid if self.alive() and self.process is not None else None,
            "rpcUrl": self.rpc_url,
            "lastAnswerAgo": round(now - self.last_answer, 3) if self.last_answer is not None else None,
            "stateFile": {
                "block": dump.block,
                "blockHash": dump.hash,
                "writtenAgo": round(now - dump.written_at, 3),
                "seconds": round(dump.seconds, 3),
                "bytes": dump.bytes,
            }
            if dump is not None
            else None,
            "stateFileError": self.last_dump_error,
        }

    def __enter__(self) -> EmbeddedNode:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class NodeSupervisor:
    """Restarts the embedded node whenever it dies, for as long as the service runs: the first retry after
    ``first_delay`` seconds, each further one after twice the previous delay, at most ``max_delay``. What it is
    doing (running, restarting: attempts, last error, next retry) is in :meth:`status`, which `/v1/health`
    reports."""

    def __init__(
        self,
        node: EmbeddedNode,
        *,
        report: Callable[[str], None] = lambda message: log.warning("%s", message),
        first_delay: float = 1.0,
        max_delay: float = 30.0,
        poll: float = 0.5,
    ) -> None:
        self.node = node
        self.report = report
        self.first_delay = first_delay
        self.max_delay = max_delay
        self.poll = poll
        self.state = "running"
        self.restarts = 0
        self.attempts = 0
        self.last_error: str | None = None
        self.next_retry: float | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> NodeSupervisor:
        self._thread = threading.Thread(target=self._run, name="node-supervisor", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=60)
        self.state = "stopped"

    def delay(self, attempt: int) -> float:
        """Seconds before retry number ``attempt`` (1, 2, ...)."""
        return float(min(self.max_delay, self.first_delay * 2 ** min(attempt - 1, 30)))

    def _run(self) -> None:
        while not self._stop.wait(self.poll):
            if self.node.alive():
                continue
            proc = self.node.process
            code = proc.poll() if proc is not None else None
            self.state, self.attempts = "restarting", 0
            self.report(f"the embedded node exited (code {code}); restarting it from its last state dump")
            while not self._stop.is_set():
                self.attempts += 1
                try:
                    self.node.restart()
                except (LedgerError, OSError) as exc:
                    self.last_error = getattr(exc, "message", None) or str(exc) or type(exc).__name__
                    wait = self.delay(self.attempts)
                    self.next_retry = time.time() + wait
                    self.report(
                        f"could not restart the embedded node (attempt {self.attempts}): {self.last_error}; "
                        f"next try in {wait:.0f} s"
                    )
                    if self._stop.wait(wait):
                        return
                    continue
                self.restarts += 1
                self.state, self.next_retry = "running", None
                self.report(
                    f"the embedded node is running again (attempt {self.attempts}, pid {self.node.status()['pid']})"
                )
                break

    def status(self) -> dict[str, Any]:
        now = time.time()
        body: dict[str, Any] = {
            "embedded": True,
            "state": self.state if self.state != "running" or self.node.alive() else "restarting",
            "restarts": self.restarts,
            "attempts": self.attempts if self.state == "restarting" else 0,
            "lastError": self.last_error,
            "nextRetryIn": round(max(0.0, self.next_retry - now), 3)
            if self.next_retry is not None and self.state == "restarting"
            else None,
        }
        body.update(self.node.status())
        return body
