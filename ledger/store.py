"""The durable journal of accepted evidence: SQLite in WAL mode with synchronous=FULL in the data dir.

Nothing is acknowledged before its row is committed here, so an API crash loses nothing that was
acknowledged; the pipeline (``ledger.pipeline``) drives every row to the chain and on to finality, and on
restart picks up where it stopped. A single registration's later states (sent, anchored, final) are facts
the pipeline reads again from the chain, so they are committed without waiting for the disk
(``durable=False``: synchronous=NORMAL for that transaction). WAL keeps them through a crash of the
process, and a later durable commit makes them durable too; only a crash of the machine can undo the
newest of them, and then the pipeline finds them again. Tables:

- ``submissions``: one per accepted request. A *single* is a party-signed registration relayed as one
  transaction; a *batch* is a party-signed Merkle root over many hashes, anchored inside a batch tree.
- ``items``: one per content hash (primary key: first accepted wins), pointing at its submission and its
  index in the submission tree.
- ``batches``: one per anchored batch tree: root, size, transaction, block, status.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS submissions (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('single', 'batch')),
    registrant TEXT NOT NULL,
    party_id INTEGER NOT NULL,
    algorithm INTEGER NOT NULL,
    count INTEGER NOT NULL,
    root BLOB,
    hashes BLOB NOT NULL,
    deadline INTEGER NOT NULL,
    signature BLOB NOT NULL,
    digest BLOB,
    payload TEXT,
    created_at REAL NOT NULL,
    status TEXT NOT NULL,
    batch_id INTEGER REFERENCES batches(id),
    batch_index INTEGER,
    tx_hash TEXT,
    block_number INTEGER,
    block_hash TEXT,
    block_timestamp INTEGER,
    error TEXT
);
CREATE INDEX IF NOT EXISTS submissions_status ON submissions(status, kind);
CREATE INDEX IF NOT EXISTS submissions_batch ON submissions(batch_id, batch_index);
CREATE TABLE IF NOT EXISTS items (
    content_hash BLOB PRIMARY KEY,
    submission_id INTEGER NOT NULL REFERENCES submissions(id),
    item_index INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS items_submission ON items(submission_id, item_index);
CREATE TABLE IF NOT EXISTS batches (
    id INTEGER PRIMARY KEY,
    root BLOB NOT NULL UNIQUE,
    size INTEGER NOT NULL,
    item_count INTEGER NOT NULL,
    created_at REAL NOT NULL,
    status TEXT NOT NULL,
    tx_hash TEXT,
    block_number INTEGER,
    block_hash TEXT,
    block_timestamp INTEGER
);
CREATE INDEX IF NOT EXISTS batches_status ON batches(status);
"""

# Submission and batch states. A submission moves queued -> sent -> anchored -> final; "rejected" is final
# for a single the chain refused (for example a hash registered directly on chain first).
QUEUED, SENT, ANCHORED, FINAL, REJECTED = "queued", "sent", "anchored", "final", "rejected"


@dataclass(frozen=True)
class Submission:
    id: int
    kind: str
    registrant: str
    party_id: int
    algorithm: int
    count: int
    root: bytes | None
    hashes: bytes
    deadline: int
    signature: bytes
    digest: bytes | None
    payload: str | None
    created_at: float
    status: str
    batch_id: int | None
    batch_index: int | None
    tx_hash: str | None
    block_number: int | None
    block_hash: str | None
    block_timestamp: int | None
    error: str | None

    @property
    def receipt_id(self) -> str:
        return f"sub_{self.id}"


@dataclass(frozen=True)
class Batch:
    id: int
    root: bytes
    size: int
    item_count: int
    created_at: float
    status: str
    tx_hash: str | None
    block_number: int | None
    block_hash: str | None
    block_timestamp: int | None


class Store:
    """Thread-safe access to the journal. Each write is one transaction, committed durably."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._write_lock = threading.Lock()
        with self._conn() as db:
            db.executescript(SCHEMA)

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA cache_size=-65536")
            self._local.conn = conn
        return conn

    @contextmanager
    def transaction(self, *, durable: bool = True) -> Iterator[sqlite3.Connection]:
        """One write transaction. A durable one is on disk when this returns (fsync); one that is not is
        written to the WAL, safe from a crash of the process but not of the machine."""
        with self._write_lock:
            db = self._conn()
            if not durable:
                db.execute("PRAGMA synchronous=NORMAL")
            try:
                db.execute("BEGIN IMMEDIATE")
                try:
                    yield db
                except BaseException:
                    db.execute("ROLLBACK")
                    raise
                db.execute("COMMIT")
            finally:
                if not durable:
                    db.execute("PRAGMA synchronous=FULL")

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    # --- writes ---

    def add_submission(
        self,
        *,
        kind: str,
        registrant: str,
        party_id: int,
        algorithm: int,
        hashes: Sequence[bytes],
        root: bytes | None,
        deadline: int,
        signature: bytes,
        digest: bytes | None,
        payload: str | None = None,
    ) -> tuple[Submission, list[tuple[int, bytes, int]]]:
        """Journals a submission and its items in one transaction.

        Returns the submission and the items that were already journalled, as ``(index, hash,
        earlier_submission_id)``; those keep their earlier submission (first accepted wins). A single whose
        hash is already journalled is not written at all (the caller reports the conflict).
        """
        with self.transaction() as db:
            if kind == "single":
                row = db.execute("SELECT submission_id FROM items WHERE content_hash = ?", (hashes[0],)).fetchone()
                if row:
                    return self._submission_by_id(db, int(row[0])), [(0, hashes[0], int(row[0]))]
            created = time.time()
            blob = b"".join(hashes)
            cur = db.execute(
                "INSERT INTO submissions (kind, registrant, party_id, algorithm, count, root, hashes, deadline,"
                " signature, digest, payload, created_at, status) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (kind, registrant, party_id, algorithm, len(hashes), root, blob, deadline, signature,
                 digest, payload, created, QUEUED),
            )  # fmt: skip
            sub_id = int(cur.lastrowid or 0)
            if kind == "single":  # its one item is free: checked above, in this same transaction
                db.execute("INSERT INTO items (content_hash, submission_id, item_index) VALUES (?,?,0)", (hashes[0], sub_id))
                return Submission(sub_id, kind, registrant, party_id, algorithm, 1, root, blob, deadline, signature, digest,
                                  payload, created, QUEUED, None, None, None, None, None, None, None), []  # fmt: skip
            db.executemany(
                "INSERT OR IGNORE INTO items (content_hash, submission_id, item_index) VALUES (?,?,?)",
                ((hh, sub_id, i) for i, hh in enumerate(hashes)),
            )
            (written,) = db.execute("SELECT COUNT(*) FROM items WHERE submission_id = ?", (sub_id,)).fetchone()
            existing: list[tuple[int, bytes, int]] = []
            if written < len(hashes):
                mine = {r[0] for r in db.execute("SELECT item_index FROM items WHERE submission_id = ?", (sub_id,))}
                for i, hh in enumerate(hashes):
                    if i not in mine:
                        (earlier,) = db.execute("SELECT submission_id FROM items WHERE content_hash = ?", (hh,)).fetchone()
                        existing.append((i, hh, int(earlier)))
            return self._submission_by_id(db, sub_id), existing

    def mark_submission(self, sub_id: int, *, durable: bool = True, **fields: Any) -> None:
        """Updates a submission; ``durable=False`` for states the pipeline can read again from the chain."""
        self._update("submissions", sub_id, fields, durable=durable)

    def mark_batch(self, batch_id: int, **fields: Any) -> None:
        self._update("batches", batch_id, fields)

    def _update(self, table: str, row_id: int, fields: dict[str, Any], *, durable: bool = True) -> None:
        if not fields:
            return
        cols = ", ".join(f"{k} = ?" for k in fields)
        with self.transaction(durable=durable) as db:
            db.execute(f"UPDATE {table} SET {cols} WHERE id = ?", (*fields.values(), row_id))  # noqa: S608 - fixed names

    def create_batch(self, root: bytes, submission_ids: Sequence[int], item_count: int) -> Batch:
        """Fixes a batch's composition (its submissions in tree order) before anything is sent."""
        with self.transaction() as db:
            cur = db.execute(
                "INSERT INTO batches (root, size, item_count, created_at, status) VALUES (?,?,?,?,?)",
                (root, len(submission_ids), item_count, time.time(), QUEUED),
            )
            batch_id = int(cur.lastrowid or 0)
            db.executemany(
                "UPDATE submissions SET batch_id = ?, batch_index = ?, status = ? WHERE id = ? AND status = ?",
                ((batch_id, i, SENT, sid, QUEUED) for i, sid in enumerate(submission_ids)),
            )
            return self._batch(db, "id", batch_id)  # type: ignore[return-value]

    def set_batch_state(self, batch_id: int, status: str, **fields: Any) -> None:
        """Moves a batch and all its submissions to ``status`` together."""
        with self.transaction() as db:
            cols = ", ".join(f"{k} = ?" for k in ("status", *fields))
            db.execute(f"UPDATE batches SET {cols} WHERE id = ?", (status, *fields.values(), batch_id))  # noqa: S608
            sub_fields = {k: v for k, v in fields.items() if k in ("tx_hash", "block_number", "block_hash", "block_timestamp")}
            cols = ", ".join(f"{k} = ?" for k in ("status", *sub_fields))
            db.execute(f"UPDATE submissions SET {cols} WHERE batch_id = ?", (status, *sub_fields.values(), batch_id))  # noqa: S608

    # --- reads ---

    def submission(self, sub_id: int) -> Submission | None:
        row = self._conn().execute("SELECT * FROM submissions WHERE id = ?", (sub_id,)).fetchone()
        return Submission(*row) if row else None

    def _submission_by_id(self, db: sqlite3.Connection, sub_id: int) -> Submission:
        return Submission(*db.execute("SELECT * FROM submissions WHERE id = ?", (sub_id,)).fetchone())

    def item(self, content_hash: bytes) -> tuple[Submission, int] | None:
        row = self._conn().execute(
            "SELECT s.*, i.item_index FROM items i JOIN submissions s ON s.id = i.submission_id WHERE i.content_hash = ?",
            (content_hash,),
        ).fetchone()
        return (Submission(*row[:-1]), int(row[-1])) if row else None

    def submission_hashes(self, sub_id: int) -> list[bytes]:
        """The hashes of a submission in tree order, including those that kept an earlier submission."""
        sub = self.submission(sub_id)
        if sub is None:
            return []
        blob = bytes(sub.hashes)
        return [blob[i : i + 32] for i in range(0, len(blob), 32)]

    def queued(self, kind: str, limit: int = 1_000_000) -> list[Submission]:
        rows = self._conn().execute(
            "SELECT * FROM submissions WHERE status = ? AND kind = ? ORDER BY id LIMIT ?", (QUEUED, kind, limit)
        ).fetchall()
        return [Submission(*r) for r in rows]

    def in_flight_singles(self) -> list[Submission]:
        rows = self._conn().execute(
            "SELECT * FROM submissions WHERE kind = 'single' AND status IN (?, ?) ORDER BY id", (SENT, ANCHORED)
        ).fetchall()
        return [Submission(*r) for r in rows]

    def singles(self, status: str) -> list[Submission]:
        rows = self._conn().execute(
            "SELECT * FROM submissions WHERE status = ? AND kind = 'single' ORDER BY id", (status,)
        ).fetchall()
        return [Submission(*r) for r in rows]

    def anchored_singles_due(self, max_block: int, max_timestamp: float) -> list[Submission]:
        """Anchored singles whose block is at most ``max_block`` and no later than ``max_timestamp``: those that
        may have become final."""
        rows = self._conn().execute(
            "SELECT * FROM submissions WHERE status = ? AND kind = 'single' AND block_number <= ?"
            " AND (block_timestamp IS NULL OR block_timestamp <= ?) ORDER BY id",
            (ANCHORED, max_block, max_timestamp),
        ).fetchall()
        return [Submission(*r) for r in rows]

    def has_in_flight(self) -> bool:
        """Whether any batch or single is on its way to the chain or to finality."""
        db = self._conn()
        if db.execute("SELECT 1 FROM submissions WHERE status IN (?, ?) LIMIT 1", (SENT, ANCHORED)).fetchone():
            return True
        return db.execute("SELECT 1 FROM batches WHERE status IN (?, ?, ?) LIMIT 1", (QUEUED, SENT, ANCHORED)).fetchone() is not None

    def batch(self, batch_id: int) -> Batch | None:
        return self._batch(self._conn(), "id", batch_id)

    def batch_by_root(self, root: bytes) -> Batch | None:
        return self._batch(self._conn(), "root", root)

    def _batch(self, db: sqlite3.Connection, col: str, value: Any) -> Batch | None:
        row = db.execute(f"SELECT * FROM batches WHERE {col} = ?", (value,)).fetchone()  # noqa: S608 - fixed names
        return Batch(*row) if row else None

    def open_batches(self) -> list[Batch]:
        rows = self._conn().execute(
            "SELECT * FROM batches WHERE status IN (?, ?, ?) ORDER BY id", (QUEUED, SENT, ANCHORED)
        ).fetchall()
        return [Batch(*r) for r in rows]

    def batch_submissions(self, batch_id: int) -> list[Submission]:
        rows = self._conn().execute(
            "SELECT * FROM submissions WHERE batch_id = ? ORDER BY batch_index", (batch_id,)
        ).fetchall()
        return [Submission(*r) for r in rows]

    def counts(self) -> dict[str, int]:
        rows = self._conn().execute("SELECT status, SUM(count) FROM submissions GROUP BY status").fetchall()
        return {str(s): int(n or 0) for s, n in rows}
