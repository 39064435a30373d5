"""The sockets of `ipledger serve --workers N` (cli/replicas.py): each replica's own listening socket on the shared
port, answering without Nagle's delay. The processes themselves are exercised in tests/cli/test_roles.py."""

from __future__ import annotations

import asyncio
import socket
import threading

import pytest

from cli import replicas
from ledger.chain.node import free_port


def test_replicas_bind_one_port_each_with_a_socket_of_their_own() -> None:
    port = free_port()
    first = replicas.bind("127.0.0.1", port)
    second = replicas.bind("127.0.0.1", port)  # SO_REUSEPORT: the kernel spreads connections over both
    try:
        replicas.bind("127.0.0.1", port, listen=False).close()  # the parent's check finds it usable
        plain = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        with pytest.raises(OSError):  # a process that does not share the port cannot take it
            plain.bind(("127.0.0.1", port))
        plain.close()
    finally:
        first.close()
        second.close()


def test_a_replica_answers_on_connections_without_nagles_delay() -> None:
    """asyncio turns TCP_NODELAY on only for accepted sockets whose protocol is TCP by name; a listening socket
    made with protocol 0 would leave Nagle's algorithm holding each answer's last segment (tens of ms)."""
    sock = replicas.bind("127.0.0.1", free_port())
    seen: list[int] = []

    class Probe(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            accepted = transport.get_extra_info("socket")
            seen.append(accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            transport.close()

    async def main() -> None:
        server = await asyncio.get_running_loop().create_server(Probe, sock=sock)
        async with server:
            _, writer = await asyncio.open_connection(*sock.getsockname())
            for _ in range(100):
                if seen:
                    break
                await asyncio.sleep(0.01)
            writer.close()

    # in a thread of its own: another test of this process (the browser's) may keep an event loop running here
    errors: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(main())
        except BaseException as exc:  # noqa: BLE001 - re-raised below, in the test's thread
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(30)
    assert not thread.is_alive() and errors == [], errors
    assert seen == [1]
