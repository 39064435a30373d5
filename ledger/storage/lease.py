"""Leadership of a relayer account among processes that share a PostgreSQL journal (issue 14, process roles).

Exactly one process sends from a relayer account at a time, so that its nonces are allocated in one place: the
leader holds a PostgreSQL *session* advisory lock named by the chain and the account, on a connection of its own.
The server releases the lock when that session ends, however it ends (a clean stop, a SIGKILL, a lost host: the
server notices the dead connection within its TCP keepalive), and a standby that asks every second takes over.
The leader checks its session every second too (:meth:`RelayerLease.held`): when the session is gone it has lost
the lock (the server may already have given it to another process) and must stop sending at once.

Without a PostgreSQL journal the host-wide file lock of ``ledger.chain.sender.claim_relayer`` is the only one: one
host, one process per relayer account.
"""

from __future__ import annotations

import hashlib
import threading
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import NullPool

__all__ = ["RelayerLease", "lease_key"]

#: Seconds to connect and the longest any statement of the lease may take.
LEASE_TIMEOUT = 5


def lease_key(chain_id: int, genesis: str, account: str) -> int:
    """The advisory-lock key (a signed 64-bit integer) of ``account`` on the chain of ``chain_id`` and ``genesis``."""
    digest = hashlib.sha256(f"ipledger-relayer|{chain_id}|{genesis.lower()}|{account.lower()}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class RelayerLease:
    """A PostgreSQL session advisory lock on one relayer account (see the module's header). Thread-safe."""

    def __init__(self, url: str, key: int) -> None:
        from ledger.storage.journal_pg import normalise_url

        self.key = key
        self._engine: Engine = create_engine(
            normalise_url(url),
            poolclass=NullPool,
            connect_args={
                "connect_timeout": LEASE_TIMEOUT,
                # the server ends a session whose client went away without a word within about 15 s
                "keepalives": 1,
                "keepalives_idle": 5,
                "keepalives_interval": 2,
                "keepalives_count": 3,
                "options": f"-c statement_timeout={LEASE_TIMEOUT * 1000}",
            },
        )
        self._conn: Connection | None = None
        self._lock = threading.Lock()

    def try_acquire(self) -> bool:
        """Takes the lock when no other session holds it; never waits. True when this process leads."""
        with self._lock:
            if self._conn is not None:
                return self._alive()
            try:
                conn = self._engine.connect()
            except Exception:  # noqa: BLE001 - the database is unreachable: no leadership, ask again later
                return False
            try:
                got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self.key}).scalar())
                conn.commit()
            except Exception:  # noqa: BLE001 - the session broke while asking: no leadership
                conn.close()
                return False
            if not got:
                conn.close()
                return False
            self._conn = conn
            return True

    def held(self) -> bool:
        """Whether this process still leads: its session answers and still holds the lock."""
        with self._lock:
            return self._conn is not None and self._alive()

    def _alive(self) -> bool:
        conn = self._conn
        assert conn is not None
        try:  # a session lock lasts as long as its session: a session that answers still holds it
            conn.execute(text("SELECT 1"))
            conn.commit()
        except Exception:  # noqa: BLE001 - the session is gone, and the lock with it
            self._drop()
            return False
        return True

    def release(self) -> None:
        """Gives the lock up (ending the session releases it too)."""
        with self._lock:
            if self._conn is not None:
                try:
                    self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self.key})
                    self._conn.commit()
                except Exception:  # noqa: BLE001 - a dead session holds nothing any more
                    pass
                self._drop()

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.invalidate()
                conn.close()
            except Exception:  # noqa: BLE001 - closing a broken connection
                pass

    def close(self) -> None:
        self.release()
        self._engine.dispose()

    def __enter__(self) -> RelayerLease:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
