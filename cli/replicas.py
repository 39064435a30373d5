"""`ipledger serve --workers N`: N API processes on one host, on one port.

The parent forks the replicas; each binds the port itself with ``SO_REUSEPORT`` (Linux then spreads incoming
connections evenly over the replicas' sockets, by a hash of each connection's addresses, where one shared socket
would hand a burst of connections to whichever replica wakes first), builds its own ledger and app after the
fork (no connection, pool or thread of the parent is used by a replica) and serves with uvicorn. The parent
supervises:

- a replica that ends before it is ready (serving; it says so through a pipe) failed to start (the port, the
  chain, the journal or the data directory refused it): every replica is stopped and the command ends with that
  replica's exit code, its error printed by the replica itself;
- a replica that ends once ready (killed, or out of memory) is replaced, at most ``RESTARTS_PER_MINUTE`` times a
  minute (more means something is wrong that restarting does not cure: everything stops, exit 1); the
  connections it held are lost (their clients retry), new ones go to the others;
- SIGTERM or SIGINT (Ctrl-C) to the parent is passed on as one SIGTERM to each replica, which finishes the
  requests it is answering (uvicorn's graceful shutdown); a replica still running ``STOP_TIMEOUT`` seconds
  later is killed. The replicas have a process group of their own, so a terminal's Ctrl-C reaches them once,
  through the parent, and they end with the parent if it is killed (``PR_SET_PDEATHSIG``).

The replicas are stateless (issue 14): what one journals, any other answers, through the shared journal.
Only processes of the same user can bind a port another holds with ``SO_REUSEPORT`` (Linux).
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import sys
import time
from collections.abc import Callable
from typing import Any

#: Replacements of replicas that ended on their own, within any minute, before the parent gives up.
RESTARTS_PER_MINUTE = 5
#: Seconds the replicas have to finish their requests after the parent passed SIGTERM on.
STOP_TIMEOUT = 30.0

_PR_SET_PDEATHSIG = 1
_STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}


def bind(host: str, port: int, *, listen: bool = True) -> socket.socket:
    """A replica's listening socket on the shared port (IPv6 when ``host`` is an IPv6 address); ``listen=False``
    only proves the port can be bound so (the parent's check; the socket is closed at once)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP named, not 0: asyncio sets TCP_NODELAY only on accepted sockets of that protocol, and without
    # it Nagle's algorithm holds each answer's last segment for the client's delayed ACK (tens of ms a request)
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        if listen:
            sock.listen(2048)
    except BaseException:
        sock.close()
        raise
    return sock


def _die_with_parent() -> None:
    """Asks Linux to send this process SIGTERM when its parent dies (a no-op elsewhere)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):  # no prctl: the replicas outlive a killed parent until stopped
        pass


Serve = Callable[[socket.socket, Callable[[], None]], int]


def _replica(serve: Serve, address: tuple[str, int], parent: int, ready_fd: int) -> None:
    """The body of a forked replica; never returns. ``serve(sock, ready)`` calls ``ready()`` once it serves."""
    code = 1

    def ready() -> None:
        try:
            os.write(ready_fd, b"1")
            os.close(ready_fd)
        except OSError:
            pass

    try:
        os.setpgid(0, 0)
        for sig in _STOP_SIGNALS:
            signal.signal(sig, signal.SIG_DFL)  # uvicorn installs its own once it serves
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
        _die_with_parent()
        if os.getppid() != parent:  # the parent died before the request above took effect
            os._exit(0)
        try:
            sock = bind(*address)
        except OSError as exc:
            print(f"error: cannot listen on {address[0]} port {address[1]} ({exc.strerror or exc})", file=sys.stderr)
            os._exit(1)
        code = serve(sock, ready)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # noqa: BLE001 - the replica's own error handling printed what it could; end it
        code = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


class Supervisor:
    """Forks ``workers`` replicas, each running ``serve(sock, ready)`` (which returns an exit code) on a socket of
    its own bound to ``host``:``port``, and keeps them running until a signal; see the module's header.
    :meth:`run` returns the command's exit code."""

    def __init__(self, serve: Serve, host: str, port: int, workers: int) -> None:
        self.serve = serve
        self.address = (host, port)
        self.workers = workers
        self.children: dict[int, int] = {}  # pid -> the read end of its readiness pipe
        self.ready: set[int] = set()
        self.restarts: list[float] = []
        self.stopping = False

    def _fork(self) -> None:
        parent = os.getpid()
        read_fd, write_fd = os.pipe()
        # Signals wait until the child has put the default handlers back: the parent's handler must never run
        # in a replica (it would signal the replica's siblings).
        signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
        try:
            pid = os.fork()
            if pid == 0:
                os.close(read_fd)
                for fd in self.children.values():
                    os.close(fd)
                _replica(self.serve, self.address, parent, write_fd)
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
        os.close(write_fd)
        os.set_blocking(read_fd, False)
        self.children[pid] = read_fd

    def _note_ready(self) -> None:
        for pid, fd in self.children.items():
            if pid in self.ready:
                continue
            try:
                if os.read(fd, 1):
                    self.ready.add(pid)
            except BlockingIOError:
                pass

    def _on_signal(self, signum: int, _frame: Any) -> None:
        if not self.stopping:
            self.stopping = True
            self._signal_all(signal.SIGTERM)

    def _signal_all(self, sig: int) -> None:
        for pid in list(self.children):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass

    def run(self) -> int:
        previous = {sig: signal.signal(sig, self._on_signal) for sig in _STOP_SIGNALS}
        code = 0
        try:
            for _ in range(self.workers):
                self._fork()
            code = self._watch()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return code

    def _watch(self) -> int:
        code = 0
        stop_by: float | None = None
        while self.children:
            if self.stopping and stop_by is None:
                stop_by = time.monotonic() + STOP_TIMEOUT
            if stop_by is not None and time.monotonic() > stop_by:
                print(f"replicas still running {STOP_TIMEOUT:.0f} s after SIGTERM: killing them", file=sys.stderr)
                self._signal_all(signal.SIGKILL)
                stop_by = time.monotonic() + STOP_TIMEOUT
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            except InterruptedError:
                continue
            if pid == 0:
                self._note_ready()
                time.sleep(0.1)
                continue
            self._note_ready()
            fd = self.children.pop(pid, None)
            if fd is None:
                continue
            os.close(fd)
            was_ready = pid in self.ready
            self.ready.discard(pid)
            if self.stopping:
                continue
            exit_code = os.waitstatus_to_exitcode(status)
            if not was_ready:  # it never served: it failed to start, and so would another
                code = exit_code if exit_code > 0 else 1
                self._give_up()
                continue
            now = time.monotonic()
            self.restarts = [t for t in self.restarts if now - t < 60] + [now]
            if len(self.restarts) > RESTARTS_PER_MINUTE:
                print(
                    f"error: API replicas keep ending ({len(self.restarts)} within a minute); stopping",
                    file=sys.stderr,
                )
                code = 1
                self._give_up()
                continue
            how = f"signal {-exit_code}" if exit_code < 0 else f"exit code {exit_code}"
            print(f"an API replica (process {pid}) ended ({how}); starting another", file=sys.stderr)
            self._fork()
        return code

    def _give_up(self) -> None:
        self.stopping = True
        self._signal_all(signal.SIGTERM)
