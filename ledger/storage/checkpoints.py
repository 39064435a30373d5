"""The checkpoints written to public chains: ``checkpoints.sqlite3`` in the data directory (docs/operations.md
"Checkpoints on a public chain"). Its own file, apart from the journal, so that neither's schema moves the other.

File policy: SQLite in WAL mode with ``synchronous=FULL`` (each write transaction is on disk when it returns), a busy
timeout of :data:`BUSY_TIMEOUT` seconds, writes serialised in this process by a lock.

Rows of ``checkpoints`` (primary key: the public chain's id and the checkpoint's index in its contract):

- ``from_block``, ``to_block``, ``block_hash`` (the consortium block hash at ``to_block``), ``root``,
  ``leaf_count``: the checkpoint as planned (``ledger.domain.checkpoints``);
- ``state``: ``planned`` (not sent, or sent and dropped by a reorganisation of the public chain: sent again),
  ``sent`` (a transaction ``tx_hash`` was broadcast), ``recorded`` (mined at ``public_block`` with hash
  ``public_block_hash``), ``final`` (that block has the configured confirmations);
- ``created_at``, ``sent_at``, ``final_at``: unix seconds.

Rows of ``leaves``: the leaf hashes of each checkpoint in tree order, so that a certificate's proof is computed
without reading the consortium's logs again.

Crash safety: a checkpoint is planned (row and leaves in one transaction) before its transaction is sent; its
transaction hash is written right after the broadcast. A crash in between leaves a ``planned`` row whose record
may be on chain already: the writer compares the contract's count with the rows before it sends anything, so the
same range is never recorded twice (the contract refuses overlaps anyway).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ledger.storage.journal import storage_errors

CHECKPOINTS_FILE = "checkpoints.sqlite3"
BUSY_TIMEOUT = 10.0
STATES = ("planned", "sent", "recorded", "final")

SCHEMA = """
CREATE TABLE IF NOT EXISTS checkpoints (
    anchor_chain_id INTEGER NOT NULL,
    idx INTEGER NOT NULL,
    from_block INTEGER NOT NULL,
    to_block INTEGER NOT NULL,
    block_hash TEXT NOT NULL,
    root TEXT NOT NULL,
    leaf_count INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('planned', 'sent', 'recorded', 'final')),
    tx_hash TEXT,
    public_block INTEGER,
    public_block_hash TEXT,
    created_at INTEGER NOT NULL,
    sent_at INTEGER,
    final_at INTEGER,
    resent INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (anchor_chain_id, idx)
);
CREATE TABLE IF NOT EXISTS leaves (
    anchor_chain_id INTEGER NOT NULL,
    idx INTEGER NOT NULL,
    position INTEGER NOT NULL,
    leaf_hash BLOB NOT NULL,
    PRIMARY KEY (anchor_chain_id, idx, position)
);
CREATE INDEX IF NOT EXISTS leaves_by_hash ON leaves (anchor_chain_id, leaf_hash);
"""


@dataclass(frozen=True)
class CheckpointRow:
    anchor_chain_id: int
    index: int
    from_block: int
    to_block: int
    block_hash: str
    root: str
    leaf_count: int
    state: str
    tx_hash: str | None
    public_block: int | None
    public_block_hash: str | None
    created_at: int
    sent_at: int | None
    final_at: int | None
    resent: int


_COLUMNS = (
    "anchor_chain_id, idx, from_block, to_block, block_hash, root, leaf_count, state, tx_hash, public_block, "
    "public_block_hash, created_at, sent_at, final_at, resent"
)


class CheckpointStore:
    """The checkpoint rows of one data directory (see the module docstring)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        with storage_errors():
            path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT, isolation_level=None, check_same_thread=False)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=FULL")
            self._conn.executescript(SCHEMA)

    @classmethod
    def in_data_dir(cls, data_dir: Path) -> CheckpointStore:
        return cls(Path(data_dir) / CHECKPOINTS_FILE)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock, storage_errors():
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def _rows(self, sql: str, params: Sequence[object]) -> list[CheckpointRow]:
        with self._lock, storage_errors():
            return [CheckpointRow(*r) for r in self._conn.execute(sql, params).fetchall()]

    # --- writing ---------------------------------------------------------------------------------

    def plan(
        self,
        anchor_chain_id: int,
        index: int,
        from_block: int,
        to_block: int,
        block_hash: str,
        root: str,
        leaf_hashes: Sequence[bytes],
        now: float | None = None,
    ) -> CheckpointRow:
        """Writes a planned checkpoint and its leaves in one transaction (``now``: its creation time)."""
        now = int(time.time() if now is None else now)
        with self._tx() as db:
            db.execute(
                "INSERT INTO checkpoints (anchor_chain_id, idx, from_block, to_block, block_hash, root, leaf_count, "
                "state, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'planned', ?)",
                (anchor_chain_id, index, from_block, to_block, block_hash, root, len(leaf_hashes), now),
            )
            db.executemany(
                "INSERT INTO leaves (anchor_chain_id, idx, position, leaf_hash) VALUES (?, ?, ?, ?)",
                ((anchor_chain_id, index, i, h) for i, h in enumerate(leaf_hashes)),
            )
        row = self.get(anchor_chain_id, index)
        assert row is not None
        return row

    def discard(self, anchor_chain_id: int, index: int) -> None:
        """Deletes a checkpoint that is not on chain (its consortium range reorganised before it was sent)."""
        with self._tx() as db:
            db.execute("DELETE FROM leaves WHERE anchor_chain_id = ? AND idx = ?", (anchor_chain_id, index))
            db.execute("DELETE FROM checkpoints WHERE anchor_chain_id = ? AND idx = ?", (anchor_chain_id, index))

    def mark_sent(self, anchor_chain_id: int, index: int, tx_hash: str) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE checkpoints SET state = 'sent', tx_hash = ?, sent_at = ?, public_block = NULL, "
                "public_block_hash = NULL WHERE anchor_chain_id = ? AND idx = ?",
                (tx_hash, int(time.time()), anchor_chain_id, index),
            )

    def mark_recorded(self, anchor_chain_id: int, index: int, tx_hash: str, block: int, block_hash: str) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE checkpoints SET state = 'recorded', tx_hash = ?, public_block = ?, public_block_hash = ? "
                "WHERE anchor_chain_id = ? AND idx = ?",
                (tx_hash, block, block_hash, anchor_chain_id, index),
            )

    def mark_final(self, anchor_chain_id: int, index: int) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE checkpoints SET state = 'final', final_at = ? WHERE anchor_chain_id = ? AND idx = ?",
                (int(time.time()), anchor_chain_id, index),
            )

    def mark_dropped(self, anchor_chain_id: int, index: int) -> None:
        """The public chain reorganised its transaction away: back to ``planned``, to be sent again."""
        with self._tx() as db:
            db.execute(
                "UPDATE checkpoints SET state = 'planned', tx_hash = NULL, public_block = NULL, "
                "public_block_hash = NULL, final_at = NULL, resent = resent + 1 WHERE anchor_chain_id = ? AND idx = ?",
                (anchor_chain_id, index),
            )

    # --- reading ---------------------------------------------------------------------------------

    def get(self, anchor_chain_id: int, index: int) -> CheckpointRow | None:
        rows = self._rows(
            f"SELECT {_COLUMNS} FROM checkpoints WHERE anchor_chain_id = ? AND idx = ?",  # noqa: S608 - constant columns
            (anchor_chain_id, index),
        )
        return rows[0] if rows else None

    def last(self, anchor_chain_id: int) -> CheckpointRow | None:
        rows = self._rows(
            f"SELECT {_COLUMNS} FROM checkpoints WHERE anchor_chain_id = ? ORDER BY idx DESC LIMIT 1",  # noqa: S608
            (anchor_chain_id,),
        )
        return rows[0] if rows else None

    def unsettled(self, anchor_chain_id: int) -> list[CheckpointRow]:
        """Checkpoints not yet final, oldest first."""
        return self._rows(
            f"SELECT {_COLUMNS} FROM checkpoints WHERE anchor_chain_id = ? AND state != 'final' ORDER BY idx",  # noqa: S608
            (anchor_chain_id,),
        )

    def all(self, anchor_chain_id: int, limit: int = 100) -> list[CheckpointRow]:
        """The latest ``limit`` checkpoints, newest first."""
        return self._rows(
            f"SELECT {_COLUMNS} FROM checkpoints WHERE anchor_chain_id = ? ORDER BY idx DESC LIMIT ?",  # noqa: S608
            (anchor_chain_id, min(int(limit), 1000)),
        )

    def chains(self) -> list[int]:
        with self._lock, storage_errors():
            return [int(r[0]) for r in self._conn.execute("SELECT DISTINCT anchor_chain_id FROM checkpoints")]

    def covering(self, anchor_chain_id: int, block: int, state: str = "final") -> CheckpointRow | None:
        """The checkpoint of ``state`` whose range holds consortium block ``block``."""
        rows = self._rows(
            f"SELECT {_COLUMNS} FROM checkpoints WHERE anchor_chain_id = ? AND from_block <= ? AND to_block >= ? "  # noqa: S608
            "AND state = ?",
            (anchor_chain_id, block, block, state),
        )
        return rows[0] if rows else None

    def position(self, anchor_chain_id: int, index: int, leaf_hash: bytes) -> int | None:
        with self._lock, storage_errors():
            row = self._conn.execute(
                "SELECT position FROM leaves WHERE anchor_chain_id = ? AND leaf_hash = ? AND idx = ?",
                (anchor_chain_id, leaf_hash, index),
            ).fetchone()
        return None if row is None else int(row[0])

    def leaf_hashes(self, anchor_chain_id: int, index: int) -> list[bytes]:
        with self._lock, storage_errors():
            rows = self._conn.execute(
                "SELECT leaf_hash FROM leaves WHERE anchor_chain_id = ? AND idx = ? ORDER BY position",
                (anchor_chain_id, index),
            ).fetchall()
        return [bytes(r[0]) for r in rows]
