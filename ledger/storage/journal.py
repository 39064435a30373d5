"""The durable journal of the data directory: accepted evidence, and what the asset and document services keep
(``journal.sqlite3``, SQLite in WAL mode with synchronous=FULL; or, with ``IPLEDGER_JOURNAL_URL``, a PostgreSQL
database shared by several processes: :mod:`ledger.storage.journal_pg` says what holds there, and
:mod:`ledger.storage.journal_copy` moves a SQLite journal into it).

Nothing is acknowledged before its row is committed here, so an API crash loses nothing that was
acknowledged; the pipeline (``ledger.services.pipeline``) drives every row to the chain and on to finality, and on
restart picks up where it stopped. A single registration's later states (sent, anchored, final) are facts
the pipeline reads again from the chain, so they are committed without waiting for the disk
(``durable=False``: synchronous=NORMAL for that transaction). WAL keeps them through a crash of the
process, and a later durable commit makes them durable too; only a crash of the machine can undo the
newest of them, and then the pipeline finds them again. Tables:

- ``submissions``: one per accepted request. A *single* is a party-signed registration relayed as one
  transaction; a *batch* is a party-signed Merkle root over many hashes, anchored inside a batch tree.
- ``items``: one per binding (the party-bound hash that goes on chain; column ``content_hash``; primary key:
  first accepted wins), pointing at its submission and its
  index in the submission tree. A submission that expired gives its hashes up to a later one.
- ``batches``: one per anchored batch tree: root, size, transaction, block, status.

One owner per single: a single is sent only by whoever holds it in the ``sending`` state, recorded in
its row (``owner``: the process, ``lease_until``: when others may take it over). A request journals its
single directly as ``sending``, owned by its process; the pipeline takes a ``queued`` row, or a
``sending`` row whose owner died or whose lease ran out, only by a compare-and-set on the row
(:meth:`Store.claim`), so two senders of one registration can never both hold it.

Storage faults are answered, not raised raw: a full disk (or database size limit) raises
:class:`~ledger.errors.StorageFull`, a write lock held by another process past the busy timeout
:class:`~ledger.errors.StorageBusy`; the write is rolled back whole and can be retried.

This module is the only code that opens ``journal.sqlite3`` (:data:`JOURNAL_FILE` in the data directory), so
everything in it shares the one connection policy of :class:`Store`: one SQLite connection per thread, WAL,
``synchronous=FULL`` (each write transaction is on disk when it returns, except the ``durable=False`` ones
above), ``foreign_keys=ON``, a busy timeout of :data:`BUSY_TIMEOUT` seconds, writes serialised in this process
by a lock and across processes by ``BEGIN IMMEDIATE``. Besides the evidence tables it keeps, for the asset and
document services:

- ``asset_details``: the off-chain details of a registered asset (number, title, dates, evidence; JSON), one
  row per asset id, committed by the SHA-256 the chain holds.
- ``proposals``: one per proposed agreement (id = the EIP-712 struct hash of its terms): kind, asset, terms and
  details (JSON), the signatures collected so far (JSON by party id), status (proposed, executed, withdrawn)
  and the transaction that closed it.
- ``document_keys``: the X25519 document key a party published, with the account that published it.

Schema and migrations. The layout has one version, :data:`SCHEMA_VERSION`, kept in SQLite's
``PRAGMA user_version`` (0 in journals written before versioning). Opening a journal applies, in one
``BEGIN IMMEDIATE`` transaction, every migration of :data:`MIGRATIONS` above its version, in order, and then
sets the version: a crash or a full disk midway leaves the journal at its old version, untouched, and the next
open does it again; two processes opening at once migrate once (the second re-reads the version under the write
lock). Migrations only add (tables, columns, indexes) and move rows; none drops data. A journal whose version
is newer than this code knows is refused (:class:`~ledger.errors.DataDirError`) without a write: an older
release must not write a layout it does not know. A change of layout is a new migration appended to
:data:`MIGRATIONS` with a test that opens a journal of the previous version, never an edit of an old one.
"""

from __future__ import annotations

import errno
import json
import os
import secrets
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, cast

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from ledger.domain.evidence import ANCHORED, EXPIRED, FINAL, QUEUED, SENDING, SENT, Submission
from ledger.errors import DataDirError, StorageBusy, StorageFull, StorageUnavailable
from ledger.storage import journal_pg

#: The journal's file name in the data directory.
JOURNAL_FILE = "journal.sqlite3"
#: The marker ``ipledger journal migrate`` leaves in a data directory whose journal it moved to PostgreSQL (its text:
#: where, without a password); the SQLite journal stays as a backup, and is no longer opened.
MOVED_FILE = "journal.moved"

# The tables as journals before versioning (user_version 0) had them: the evidence journal's (with the columns
# added later, see ``ADDED_COLUMNS``), the asset service's ``proposals`` (which also held asset details as
# "asset:N" rows) and the document service's ``document_keys``. Version 1 is this layout, whichever of its parts
# an old journal already had.
BASELINE_SCHEMA = """
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
    error TEXT,
    owner TEXT,
    lease_until REAL
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
CREATE TABLE IF NOT EXISTS proposals (
    agreement_id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    asset_id INTEGER NOT NULL,
    terms TEXT NOT NULL,
    details TEXT NOT NULL,
    signatures TEXT NOT NULL DEFAULT '{}',
    status TEXT NOT NULL DEFAULT 'proposed',
    tx_hash TEXT,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS document_keys (
    party_id INTEGER PRIMARY KEY,
    public_key BLOB NOT NULL,
    account TEXT NOT NULL,
    updated_at REAL NOT NULL
);
"""


#: Columns added to ``submissions`` after its first layout, before versioning (added by migration 1 when missing).
ADDED_COLUMNS = (("owner", "TEXT"), ("lease_until", "REAL"))


def _statements(script: str) -> list[str]:
    """The statements of a schema script (no literal in these scripts holds a semicolon)."""
    return [part.strip() for part in script.split(";") if part.strip()]


def _migrate_to_1(db: sqlite3.Connection) -> None:
    """The three unversioned layouts in one: creates whichever tables, columns and indexes are missing."""
    for statement in _statements(BASELINE_SCHEMA):
        db.execute(statement)
    have = {str(r[1]) for r in db.execute("PRAGMA table_info(submissions)")}
    for name, kind in ADDED_COLUMNS:
        if name not in have:
            db.execute(f"ALTER TABLE submissions ADD COLUMN {name} {kind}")
    db.execute("CREATE INDEX IF NOT EXISTS submissions_open ON submissions(status, created_at)")


def _migrate_to_2(db: sqlite3.Connection) -> None:
    """Asset details move from "asset:N" rows of ``proposals`` to a table of their own (their JSON unchanged)."""
    db.execute(
        "CREATE TABLE asset_details (asset_id INTEGER PRIMARY KEY, details TEXT NOT NULL, recorded_at REAL NOT NULL)"
    )
    db.execute(
        "INSERT INTO asset_details (asset_id, details, recorded_at) SELECT CAST(substr(agreement_id, 7) AS INTEGER),"
        " details, created_at FROM proposals WHERE substr(agreement_id, 1, 6) = 'asset:'"
    )
    db.execute("DELETE FROM proposals WHERE substr(agreement_id, 1, 6) = 'asset:'")


@dataclass(frozen=True)
class Migration:
    """One step of the journal's layout: applied to a journal of version ``version - 1``."""

    version: int
    summary: str
    apply: Callable[[sqlite3.Connection], None]


#: Every migration, in order; the last one's version is :data:`SCHEMA_VERSION`. Append only.
MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "the evidence, proposal and document-key tables of unversioned journals", _migrate_to_1),
    Migration(2, "asset details in their own table, out of the proposals", _migrate_to_2),
)
SCHEMA_VERSION = MIGRATIONS[-1].version

#: Seconds a sender holds a single before the pipeline may take it over (its owner must have sent it, or given
#: it back, well within this: see ``SEND_WITHIN``).
LEASE_SECONDS = 60.0
#: Seconds after claiming a single within which its owner may still start sending it; after that it gives it
#: back unsent. Half the lease: a send that starts in time has ended (bounded by the RPC timeout) before the
#: lease runs out.
SEND_WITHIN = LEASE_SECONDS / 2

#: Seconds SQLite waits for another connection's write lock before the write fails as StorageBusy.
BUSY_TIMEOUT = 5.0
#: Seconds a write that joined a group commit waits for the group's leader to commit it (``Store._grouped``).
GROUP_WAIT = 60.0

T = TypeVar("T")


class _Group:
    """Writes gathered for one group commit, and what became of them."""

    def __init__(self) -> None:
        self.writes: list[Callable[[Any], Any]] = []
        self.results: list[Any] = []
        self.error: BaseException | None = None
        self.done = threading.Event()


def _error_for_member(error: BaseException) -> BaseException:
    """The error a member of a failed group raises: the leader's storage error as a new instance of its own (an
    exception object is not raised in several threads at once), anything else as a storage failure."""
    if isinstance(error, StorageUnavailable):
        return type(error)(error.message, field=error.field, details=dict(error.details))
    return StorageUnavailable("the journal could not record the request; nothing was recorded, it can be retried")


_owner: tuple[int, str] | None = None
#: This host's name in owner tokens (bounded: the journal keeps it in every held row).
_HOST = socket.gethostname()[:64] or "localhost"


def process_owner() -> str:
    """This process's owner token: its PID and a random part, so a later process with the same PID (a restarted
    container) is told apart from this one, and its host, so that processes of other hosts sharing a PostgreSQL
    journal are not judged by this host's PIDs."""
    global _owner
    pid = os.getpid()
    if _owner is None or _owner[0] != pid:
        _owner = (pid, f"{pid}:{secrets.token_hex(6)}@{_HOST}")
    return _owner[1]


def owner_alive(owner: str | None) -> bool:
    """Whether the process that holds ``owner`` may still be running: this process, or another live PID of this
    host. A previous incarnation with this process's PID is dead. A process of another host (a replica sharing a
    PostgreSQL journal) cannot be looked at from here: it counts as alive, and its lease decides (``LEASE_SECONDS``;
    the hosts' clocks must agree to well within ``SEND_WITHIN``). Tokens without a host (written before hosts were
    recorded) are of this host."""
    if not owner:
        return False
    if owner == process_owner():
        return True
    token, _, host = owner.partition("@")
    if host and host != _HOST:
        return True
    try:
        pid = int(token.split(":", 1)[0])
    except ValueError:
        return False
    if pid == os.getpid():
        return False  # an earlier process that had this PID
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def damaged_sqlite(exc: BaseException | None) -> bool:
    """Whether ``exc`` is SQLite saying its file is not a database or is damaged (``SQLITE_NOTADB``,
    ``SQLITE_CORRUPT``, and their extended codes)."""
    code = getattr(exc, "sqlite_errorcode", None)
    return code is not None and (code & 0xFF) in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)


def storage_error(exc: BaseException) -> StorageUnavailable | None:
    """The ledger error a SQLite or OS error stands for, if it is a resource fault (full, locked)."""
    if isinstance(exc, sqlite3.Error):
        code = getattr(exc, "sqlite_errorcode", None)
        text = str(exc).lower()
        if code == sqlite3.SQLITE_FULL or "database or disk is full" in text:
            return StorageFull("the journal's disk is full: nothing was written; retry once space is freed")
        if code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED) or "database is locked" in text or "is locked" in text:
            return StorageBusy("the journal is locked by another process; try again shortly")
        if damaged_sqlite(exc):
            return StorageUnavailable(
                f"the journal file is damaged ({getattr(exc, 'sqlite_errorname', 'corrupt')}): nothing was written; "
                "the service's operator must restore it"
            )
        if code is not None and (code & 0xFF) == sqlite3.SQLITE_IOERR:
            return StorageUnavailable(
                f"the journal could not be written ({getattr(exc, 'sqlite_errorname', 'I/O error')})"
            )
        return None
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return StorageFull("the journal's disk is full: nothing was written; retry once space is freed")
    return None


@contextmanager
def storage_errors() -> Iterator[None]:
    """Turns resource faults of SQLite, PostgreSQL and the file system into :class:`StorageUnavailable` errors."""
    try:
        yield
    except (sqlite3.Error, OSError) as exc:
        err = storage_error(exc)
        if err is None:
            raise
        raise err from None
    except (DBAPIError, PoolTimeout) as exc:
        err = journal_pg.storage_error(exc)
        if err is None:
            raise
        raise err from None


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


@dataclass(frozen=True)
class Proposal:
    """A proposed agreement as journalled: its terms and details as the asset service wrote them (JSON objects),
    the signatures collected so far by party id (``{"signer", "signature"}``), its status and closing
    transaction."""

    agreement_id: str
    kind: str
    asset_id: int
    terms: dict[str, Any]
    details: dict[str, Any]
    signatures: dict[str, dict[str, str]]
    status: str
    tx_hash: str | None
    created_at: float


@dataclass(frozen=True)
class DocumentKey:
    """The X25519 document key a party published, and the account that published it."""

    party_id: int
    public_key: bytes
    account: str
    updated_at: float


def journal_version(db: sqlite3.Connection) -> int:
    """The layout version recorded in a journal (0: written before versioning, or new)."""
    (version,) = db.execute("PRAGMA user_version").fetchone()
    return int(version)


def _unmigrated_rows(path: Path) -> int:
    """How many rows a data directory's SQLite journal holds (0 if there is none), read without writing."""
    if not path.is_file():
        return 0
    with storage_errors():
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=BUSY_TIMEOUT)
        try:
            names = {str(r[0]) for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            return sum(
                int(db.execute(f"SELECT COUNT(*) FROM {t.name}").fetchone()[0])  # noqa: S608 - fixed names
                for t in journal_pg.TABLES
                if t.name in names
            )
        finally:
            db.close()


def moved_to(data_dir: Path) -> str | None:
    """Where the data directory's journal was moved (its :data:`MOVED_FILE` marker's text), if it was."""
    try:
        return (Path(data_dir) / MOVED_FILE).read_text(encoding="utf-8").strip() or "another database"
    except FileNotFoundError:
        return None


class Store:
    """Thread-safe access to the journal. Each write is one transaction, committed durably; single
    registrations journalled by several threads at once share one transaction and one commit (group commit,
    :meth:`_grouped`), and none of them is answered before that commit.

    The journal is the SQLite file at ``path`` (the default), or the PostgreSQL database at ``url``
    (``IPLEDGER_JOURNAL_URL``; see :mod:`ledger.storage.journal_pg` for what holds there across processes).
    Opening a journal brings its layout to :data:`SCHEMA_VERSION` (see the module's header; on PostgreSQL the
    Alembic revision ``v<SCHEMA_VERSION>``), or refuses a newer one with :class:`~ledger.errors.DataDirError`."""

    def __init__(self, path: Path | None = None, *, url: str | None = None) -> None:
        if (path is None) == (url is None):
            raise ValueError("a journal is a SQLite file (path) or a PostgreSQL database (url)")
        self.path = Path(path) if path is not None else Path()
        self.url = url
        self._engine: Engine | None = None
        self._local = threading.local()
        self._write_lock = threading.Lock()
        self._group_lock = threading.Lock()  # guards _open_group
        self._group_gate = threading.Lock()  # one group commits at a time; the next one gathers meanwhile
        self._open_group: _Group | None = None
        if url is not None:
            self._engine = journal_pg.make_engine(url, busy_timeout=BUSY_TIMEOUT)
            try:
                self._migrate_pg()
            except BaseException:
                self.close()
                raise
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._migrate()
        except BaseException:
            self.close()
            raise

    @classmethod
    def in_data_dir(cls, data_dir: Path, url: str | None = None) -> Store:
        """The journal of a data directory: the PostgreSQL database at ``url`` when given
        (``IPLEDGER_JOURNAL_URL``), else ``DATA_DIR/journal.sqlite3``."""
        if url:
            left = _unmigrated_rows(Path(data_dir) / JOURNAL_FILE) if moved_to(data_dir) is None else 0
            if left:
                raise DataDirError(
                    f"{Path(data_dir) / JOURNAL_FILE} holds {left} rows that are not in the journal database:"
                    " move them first with `ipledger journal migrate --to URL` (the service stopped), or unset"
                    " IPLEDGER_JOURNAL_URL; nothing was opened",
                    field="journal_url",
                )
            return cls(url=url)
        moved = moved_to(data_dir)
        if moved is not None:
            raise DataDirError(
                f"the journal of {data_dir} was moved to {moved} by `ipledger journal migrate`: set"
                " IPLEDGER_JOURNAL_URL to that database (the SQLite journal left there is a backup, no longer current)",
                field="journal_url",
            )
        return cls(Path(data_dir) / JOURNAL_FILE)

    @property
    def backend(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return "postgresql" if self._engine is not None else "sqlite"

    @property
    def location(self) -> str:
        """Where the journal is: its file, or its database URL without the password."""
        return journal_pg.shown_url(self.url) if self.url is not None else str(self.path)

    def layout(self) -> str:
        """The layout the journal is at: ``version N`` (SQLite's user_version) or ``revision vN`` (Alembic)."""
        if self._engine is None:
            with storage_errors():
                return f"version {journal_version(self._conn())}"
        with storage_errors(), self._engine.connect() as conn:
            return f"revision {journal_pg.current_revision(conn)}"

    def table_counts(self) -> dict[str, int]:
        """The number of rows of each of the journal's tables."""
        return {t.name: int(self._read(f"SELECT COUNT(*) FROM {t.name}")[0][0]) for t in journal_pg.TABLES}  # noqa: S608

    def _migrate_pg(self) -> None:
        assert self._engine is not None
        with storage_errors(), self._engine.begin() as conn:
            journal_pg.upgrade(conn, self.location)

    def _migrate(self) -> None:
        with storage_errors():
            try:
                db = self._conn()
                if self._check_version(journal_version(db)) == SCHEMA_VERSION:
                    return
            except sqlite3.DatabaseError as exc:
                if not damaged_sqlite(exc):
                    raise
                raise DataDirError(  # not a SQLite file at all, or a damaged one: nothing is touched
                    f"{self.path} is not a journal this service can open ({exc}): move it away and restore the copy"
                    " you keep of it, or start with none (what it acknowledged and has not yet recorded on chain"
                    " would then be lost); nothing was changed",
                    field="data_dir",
                ) from None
        with self.transaction() as db:
            version = self._check_version(journal_version(db))  # again under the write lock: another may have done it
            for migration in MIGRATIONS:
                if migration.version > version:
                    migration.apply(db)
                    db.execute(f"PRAGMA user_version = {int(migration.version)}")

    def _check_version(self, version: int) -> int:
        if version > SCHEMA_VERSION:
            raise DataDirError(
                f"{self.path} has journal layout version {version}, newer than this release knows ({SCHEMA_VERSION}):"
                " it was written by a later release; run that release (or a later one) on this data directory",
                field="data_dir",
            )
        return version

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT, isolation_level=None, check_same_thread=False)
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=FULL")
                conn.execute("PRAGMA foreign_keys=ON")
                conn.execute("PRAGMA cache_size=-65536")
            except BaseException:
                conn.close()
                raise
            self._local.conn = conn
        return conn

    @contextmanager
    def transaction(self, *, durable: bool = True) -> Iterator[Any]:
        """One write transaction. A durable one is on disk when this returns (fsync); one that is not is
        written to the WAL, safe from a crash of the process but not of the machine. A full disk or a lock held
        elsewhere rolls it back whole and raises a :class:`StorageUnavailable`. On PostgreSQL the same, with
        ``synchronous_commit`` and the one-writer advisory lock of :mod:`ledger.storage.journal_pg`."""
        if self._engine is not None:
            with self._write_lock, storage_errors(), self._engine.begin() as conn:
                journal_pg.begin_write(conn, durable=durable, busy_timeout=BUSY_TIMEOUT)
                yield journal_pg.Session(conn)
            return
        with self._write_lock, storage_errors():
            db = self._conn()
            if not durable:
                db.execute("PRAGMA synchronous=NORMAL")
            try:
                db.execute("BEGIN IMMEDIATE")
                try:
                    yield db
                    db.execute("COMMIT")
                except BaseException:
                    if db.in_transaction:
                        try:
                            db.execute("ROLLBACK")
                        except sqlite3.Error:
                            self._drop()  # a connection SQLite could not roll back is not used again
                    raise
            finally:
                if not durable and getattr(self._local, "conn", None) is db:
                    try:
                        db.execute("PRAGMA synchronous=FULL")
                    except sqlite3.Error:
                        self._drop()

    def _grouped(self, write: Callable[[Any], T]) -> T:
        """Runs ``write(db)`` in a write transaction shared with the writes other threads ask for meanwhile (group
        commit): one lock, one commit and one fsync for all of them, instead of one each. The first thread of a
        group leads it: it waits for the group before it to commit, closes its own, runs every write in order in
        one transaction and commits; the others wait for that commit. Each gets its own result only once the
        commit is durable; if the transaction fails, every write in it is rolled back and each thread gets the
        error, so nothing a caller acknowledges depends on a write that was not committed."""
        with self._group_lock:
            group = self._open_group
            leader = group is None
            if group is None:
                group = self._open_group = _Group()
            slot = len(group.writes)
            group.writes.append(write)
        if leader:
            with self._group_gate:
                with self._group_lock:
                    self._open_group = None  # from here on, writers form the next group
                try:
                    with self.transaction() as db:
                        group.results = [w(db) for w in group.writes]
                except BaseException as exc:
                    group.error = exc
                    raise
                finally:
                    group.done.set()
            return cast(T, group.results[slot])
        if not group.done.wait(GROUP_WAIT):
            raise StorageBusy("the journal did not commit in time; nothing was recorded and the request can be retried")
        if group.error is not None:
            raise _error_for_member(group.error)
        return cast(T, group.results[slot])

    def _drop(self) -> None:
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            try:
                conn.close()
            except sqlite3.Error:
                pass

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        with self._reading() as db:
            return list(db.execute(sql, params).fetchall())

    @contextmanager
    def _reading(self) -> Iterator[Any]:
        """A connection to read from: this thread's SQLite connection, or a pooled PostgreSQL one (no lock)."""
        if self._engine is not None:
            with storage_errors(), self._engine.connect() as conn:
                yield journal_pg.Session(conn)
            return
        with storage_errors():
            yield self._conn()

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
        if self._engine is not None:
            self._engine.dispose()

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
        owner: str | None = None,
    ) -> tuple[Submission, list[tuple[int, bytes, int]]]:
        """Journals a submission and its items in one transaction.

        Returns the submission and the items that were already journalled, as ``(index, hash,
        earlier_submission_id)``; those keep their earlier submission (first accepted wins, unless it expired).
        A single whose hash is already journalled is not written at all (the caller reports the conflict). A
        single with an ``owner`` is journalled as ``sending``, held by that owner for ``LEASE_SECONDS``. Singles
        arriving together share one commit (:meth:`_grouped`).
        """

        def insert(db: Any) -> tuple[Submission, list[tuple[int, bytes, int]]]:
            replaces = False
            if kind == "single":
                row = db.execute(
                    "SELECT i.submission_id, s.status FROM items i JOIN submissions s ON s.id = i.submission_id"
                    " WHERE i.content_hash = ?",
                    (hashes[0],),
                ).fetchone()
                if row and row[1] != EXPIRED:
                    return self._submission_by_id(db, int(row[0])), [(0, hashes[0], int(row[0]))]
                replaces = row is not None
            created = time.time()
            status, lease = (
                (SENDING, created + LEASE_SECONDS) if owner is not None and kind == "single" else (QUEUED, None)
            )
            held = owner if status == SENDING else None
            blob = b"".join(hashes)
            cur = db.execute(
                "INSERT INTO submissions (kind, registrant, party_id, algorithm, count, root, hashes, deadline,"
                " signature, digest, payload, created_at, status, owner, lease_until) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    kind,
                    registrant,
                    party_id,
                    algorithm,
                    len(hashes),
                    root,
                    blob,
                    deadline,
                    signature,
                    digest,
                    payload,
                    created,
                    status,
                    held,
                    lease,
                ),
            )
            sub_id = int(cur.lastrowid or 0)
            if kind == "single":  # its one item is free (or expired): checked above, in this same transaction
                if replaces:
                    db.execute(
                        "UPDATE items SET submission_id = ?, item_index = 0 WHERE content_hash = ?", (sub_id, hashes[0])
                    )
                else:
                    db.execute(
                        "INSERT INTO items (content_hash, submission_id, item_index) VALUES (?,?,0)",
                        (hashes[0], sub_id),
                    )
                return Submission(
                    sub_id,
                    kind,
                    registrant,
                    party_id,
                    algorithm,
                    1,
                    root,
                    blob,
                    deadline,
                    signature,
                    digest,
                    payload,
                    created,
                    status,
                    None,
                    None,
                    None,
                    None,
                    None,
                    None,
                    None,
                    held,
                    lease,
                ), []
            db.executemany(
                "INSERT INTO items (content_hash, submission_id, item_index) VALUES (?,?,?) ON CONFLICT(content_hash)"
                " DO UPDATE SET submission_id = excluded.submission_id, item_index = excluded.item_index"
                " WHERE (SELECT status FROM submissions WHERE id = items.submission_id) = 'expired'",
                ((hh, sub_id, i) for i, hh in enumerate(hashes)),
            )
            (written,) = db.execute("SELECT COUNT(*) FROM items WHERE submission_id = ?", (sub_id,)).fetchone()
            existing: list[tuple[int, bytes, int]] = []
            if written < len(hashes):
                mine = {r[0] for r in db.execute("SELECT item_index FROM items WHERE submission_id = ?", (sub_id,))}
                for i, hh in enumerate(hashes):
                    if i not in mine:
                        (earlier,) = db.execute(
                            "SELECT submission_id FROM items WHERE content_hash = ?", (hh,)
                        ).fetchone()
                        existing.append((i, hh, int(earlier)))
            return self._submission_by_id(db, sub_id), existing

        if kind == "single":
            return self._grouped(insert)
        with self.transaction() as db:
            return insert(db)

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

    # --- ownership of singles (compare-and-set on the row) ---

    def claim(self, sub_id: int, owner: str, *, status: str, held_by: str | None) -> Submission | None:
        """Takes a single to send it: only if it is still in ``status`` held by ``held_by`` (as its claimant saw
        it). Returns the claimed row, or None if someone else changed it first."""
        with self.transaction() as db:
            cur = db.execute(
                "UPDATE submissions SET status = ?, owner = ?, lease_until = ? WHERE id = ? AND status = ? AND owner IS ?",
                (SENDING, owner, time.time() + LEASE_SECONDS, sub_id, status, held_by),
            )
            if cur.rowcount != 1:
                return None
            return self._submission_by_id(db, sub_id)

    def release(self, sub_id: int, owner: str) -> None:
        """Gives a single back unsent (``queued``, no owner) for the pipeline to send later."""
        with self.transaction() as db:
            db.execute(
                "UPDATE submissions SET status = ?, owner = NULL, lease_until = NULL WHERE id = ? AND status = ? AND owner = ?",
                (QUEUED, sub_id, SENDING, owner),
            )

    def claim_queued(self, sub_ids: Sequence[int], owner: str) -> list[Submission]:
        """Takes the singles of ``sub_ids`` that are still queued and held by no one, in one transaction; returns
        those it took (in id order). The compare-and-set of :meth:`claim`, for many rows at once."""
        if not sub_ids:
            return []
        marks = ",".join("?" * len(sub_ids))
        with self.transaction() as db:
            lease = time.time() + LEASE_SECONDS  # also tells this claim's rows from any other
            db.execute(
                f"UPDATE submissions SET status = ?, owner = ?, lease_until = ? WHERE id IN ({marks})"  # noqa: S608
                " AND kind = 'single' AND status = ? AND owner IS NULL",
                (SENDING, owner, lease, *sub_ids, QUEUED),
            )
            rows = db.execute(
                f"SELECT * FROM submissions WHERE id IN ({marks}) AND status = ? AND owner = ? AND lease_until = ?"  # noqa: S608
                " ORDER BY id",
                (*sub_ids, SENDING, owner, lease),
            ).fetchall()
            return [Submission(*r) for r in rows]

    def release_many(self, sub_ids: Sequence[int], owner: str) -> None:
        """:meth:`release` for many singles, in one transaction."""
        if sub_ids:
            with self.transaction() as db:
                db.executemany(
                    "UPDATE submissions SET status = ?, owner = NULL, lease_until = NULL"
                    " WHERE id = ? AND status = ? AND owner = ?",
                    [(QUEUED, i, SENDING, owner) for i in sub_ids],
                )

    def mark_sent_many(self, sent: Sequence[tuple[int, str]]) -> None:
        """:meth:`mark_sent` for many singles, in one transaction."""
        if sent:
            with self.transaction(durable=False) as db:
                db.executemany(
                    "UPDATE submissions SET status = ?, tx_hash = ?, owner = NULL, lease_until = NULL WHERE id = ?",
                    [(SENT, tx_hash, i) for i, tx_hash in sent],
                )

    def mark_anchored_many(self, anchored: Sequence[tuple[int, int, str, int]]) -> None:
        """Records singles found on chain, ``(id, block number, block hash, block time)`` each, in one transaction
        (not durable: the pipeline reads them again from the chain)."""
        if anchored:
            with self.transaction(durable=False) as db:
                db.executemany(
                    "UPDATE submissions SET status = ?, block_number = ?, block_hash = ?, block_timestamp = ?"
                    " WHERE id = ?",
                    [(ANCHORED, number, block_hash, stamp, i) for i, number, block_hash, stamp in anchored],
                )

    def mark_final_many(self, sub_ids: Sequence[int]) -> None:
        """Marks singles final (their block has its confirmations), in one transaction (not durable)."""
        if sub_ids:
            with self.transaction(durable=False) as db:
                db.executemany("UPDATE submissions SET status = ? WHERE id = ?", [(FINAL, i) for i in sub_ids])

    def mark_sent(self, sub_id: int, tx_hash: str) -> None:
        """Records the transaction that carries a single; its owner's hold ends."""
        self.mark_submission(sub_id, status=SENT, tx_hash=tx_hash, owner=None, lease_until=None, durable=False)

    def expire(self, sub_id: int, reason: str, *, status: str, held_by: str | None) -> bool:
        """Gives a submission up as ``expired`` if it is still in ``status`` held by ``held_by``."""
        with self.transaction() as db:
            cur = db.execute(
                "UPDATE submissions SET status = ?, error = ?, owner = NULL, lease_until = NULL"
                " WHERE id = ? AND status = ? AND owner IS ? AND batch_id IS NULL",
                (EXPIRED, reason, sub_id, status, held_by),
            )
            return cur.rowcount == 1

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
            self._set_members(db, batch_id, status, fields)

    @staticmethod
    def _set_members(db: Any, batch_id: int, status: str, fields: dict[str, Any]) -> None:
        """Gives a batch's submissions the batch's ``status`` and those of ``fields`` they keep too."""
        sub_fields = {
            k: v for k, v in fields.items() if k in ("tx_hash", "block_number", "block_hash", "block_timestamp")
        }
        cols = ", ".join(f"{k} = ?" for k in ("status", *sub_fields))
        db.execute(f"UPDATE submissions SET {cols} WHERE batch_id = ?", (status, *sub_fields.values(), batch_id))  # noqa: S608

    def claim_batch_send(self, batch_id: int, tx_hash: str, *, status: str, held_by: str | None) -> bool:
        """Records ``tx_hash`` as the batch's anchoring transaction (``sent``), before it is broadcast: only if
        the batch is still in ``status`` with the transaction ``held_by`` (as its sender saw it). False when
        another sender recorded one first; that sender's transaction is the one to follow."""
        with self.transaction() as db:
            cur = db.execute(
                "UPDATE batches SET status = ?, tx_hash = ? WHERE id = ? AND status = ? AND tx_hash IS ?",
                (SENT, tx_hash, batch_id, status, held_by),
            )
            if cur.rowcount != 1:
                return False
            self._set_members(db, batch_id, SENT, {"tx_hash": tx_hash})
            return True

    # --- reads ---

    def submission(self, sub_id: int) -> Submission | None:
        rows = self._read("SELECT * FROM submissions WHERE id = ?", (sub_id,))
        return Submission(*rows[0]) if rows else None

    def _submission_by_id(self, db: Any, sub_id: int) -> Submission:
        return Submission(*db.execute("SELECT * FROM submissions WHERE id = ?", (sub_id,)).fetchone())

    def item(self, content_hash: bytes) -> tuple[Submission, int] | None:
        rows = self._read(
            "SELECT s.*, i.item_index FROM items i JOIN submissions s ON s.id = i.submission_id WHERE i.content_hash = ?",
            (content_hash,),
        )
        return (Submission(*rows[0][:-1]), int(rows[0][-1])) if rows else None

    def items(self, bindings: Sequence[bytes]) -> dict[bytes, tuple[Submission, int]]:
        """:meth:`item` for many bindings at once (those journalled), in queries of at most 500."""
        found: dict[bytes, tuple[Submission, int]] = {}
        for start in range(0, len(bindings), 500):
            chunk = list(bindings[start : start + 500])
            marks = ",".join("?" * len(chunk))
            rows = self._read(
                "SELECT s.*, i.item_index, i.content_hash FROM items i JOIN submissions s ON s.id = i.submission_id"
                f" WHERE i.content_hash IN ({marks})",  # noqa: S608 - placeholders only
                chunk,
            )
            for row in rows:
                found[bytes(row[-1])] = (Submission(*row[:-2]), int(row[-2]))
        return found

    def submission_hashes(self, sub_id: int) -> list[bytes]:
        """The hashes of a submission in tree order, including those that kept an earlier submission."""
        sub = self.submission(sub_id)
        if sub is None:
            return []
        blob = bytes(sub.hashes)
        return [blob[i : i + 32] for i in range(0, len(blob), 32)]

    def queued(self, kind: str, limit: int = 1_000_000) -> list[Submission]:
        rows = self._read(
            "SELECT * FROM submissions WHERE status = ? AND kind = ? ORDER BY id LIMIT ?", (QUEUED, kind, limit)
        )
        return [Submission(*r) for r in rows]

    def claimable_singles(self, owner: str, now: float) -> list[Submission]:
        """Singles the pipeline may claim: queued ones, and ``sending`` ones not held by ``owner`` or whose lease
        ran out (the caller checks whether their owner still lives)."""
        rows = self._read(
            "SELECT * FROM submissions WHERE kind = 'single' AND ((status = ? AND owner IS NULL)"
            " OR (status = ? AND (owner IS NULL OR owner != ? OR lease_until < ?))) ORDER BY id",
            (QUEUED, SENDING, owner, now),
        )
        return [Submission(*r) for r in rows]

    def overdue(self, max_created: float, max_deadline: float) -> list[Submission]:
        """Submissions not yet on chain (queued, or a single sent) accepted before ``max_created`` or whose
        deadline is before ``max_deadline``."""
        rows = self._read(
            "SELECT * FROM submissions WHERE status IN (?, ?) AND batch_id IS NULL AND (created_at < ? OR deadline < ?)"
            " ORDER BY id",
            (QUEUED, SENT, max_created, max_deadline),
        )
        return [Submission(*r) for r in rows]

    def in_flight_singles(self) -> list[Submission]:
        rows = self._read(
            "SELECT * FROM submissions WHERE kind = 'single' AND status IN (?, ?) ORDER BY id", (SENT, ANCHORED)
        )
        return [Submission(*r) for r in rows]

    def singles(self, status: str) -> list[Submission]:
        rows = self._read("SELECT * FROM submissions WHERE status = ? AND kind = 'single' ORDER BY id", (status,))
        return [Submission(*r) for r in rows]

    def anchored_singles_due(self, max_block: int, max_timestamp: float) -> list[Submission]:
        """Anchored singles whose block is at most ``max_block`` and no later than ``max_timestamp``: those that
        may have become final."""
        rows = self._read(
            "SELECT * FROM submissions WHERE status = ? AND kind = 'single' AND block_number <= ?"
            " AND (block_timestamp IS NULL OR block_timestamp <= ?) ORDER BY id",
            (ANCHORED, max_block, max_timestamp),
        )
        return [Submission(*r) for r in rows]

    def has_in_flight(self) -> bool:
        """Whether any batch or single is on its way to the chain or to finality."""
        if self._read("SELECT 1 FROM submissions WHERE status IN (?, ?) LIMIT 1", (SENT, ANCHORED)):
            return True
        return bool(self._read("SELECT 1 FROM batches WHERE status IN (?, ?, ?) LIMIT 1", (QUEUED, SENT, ANCHORED)))

    def batch(self, batch_id: int) -> Batch | None:
        with self._reading() as db:
            return self._batch(db, "id", batch_id)

    def batch_by_root(self, root: bytes) -> Batch | None:
        with self._reading() as db:
            return self._batch(db, "root", root)

    def _batch(self, db: Any, col: str, value: Any) -> Batch | None:
        row = db.execute(f"SELECT * FROM batches WHERE {col} = ?", (value,)).fetchone()  # noqa: S608 - fixed names
        return Batch(*row) if row else None

    def open_batches(self) -> list[Batch]:
        rows = self._read("SELECT * FROM batches WHERE status IN (?, ?, ?) ORDER BY id", (QUEUED, SENT, ANCHORED))
        return [Batch(*r) for r in rows]

    def batch_submissions(self, batch_id: int) -> list[Submission]:
        rows = self._read("SELECT * FROM submissions WHERE batch_id = ? ORDER BY batch_index", (batch_id,))
        return [Submission(*r) for r in rows]

    def counts(self) -> dict[str, int]:
        rows = self._read("SELECT status, SUM(count) FROM submissions GROUP BY status")
        return {str(s): int(n or 0) for s, n in rows}

    # --- asset details (the asset service) ---

    def put_asset_details(self, asset_id: int, details: dict[str, Any]) -> None:
        """Records (or replaces) the off-chain details of a registered asset."""
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO asset_details (asset_id, details, recorded_at) VALUES (?,?,?)"
                if self._engine is None
                else "INSERT INTO asset_details (asset_id, details, recorded_at) VALUES (?,?,?) ON CONFLICT (asset_id)"
                " DO UPDATE SET details = excluded.details, recorded_at = excluded.recorded_at",
                (asset_id, json.dumps(details), time.time()),
            )

    def asset_details(self, asset_id: int) -> dict[str, Any] | None:
        rows = self._read("SELECT details FROM asset_details WHERE asset_id = ?", (asset_id,))
        return dict(json.loads(rows[0][0])) if rows else None

    # --- agreement proposals (the asset service) ---

    def add_proposal(
        self, agreement_id: str, kind: str, asset_id: int, terms: dict[str, Any], details: dict[str, Any]
    ) -> bool:
        """Journals a new proposal (status ``proposed``, no signature). False, writing nothing, if a proposal with
        this id is already journalled."""
        with self.transaction() as db:
            cur = db.execute(
                "INSERT INTO proposals (agreement_id, kind, asset_id, terms, details, created_at) VALUES (?,?,?,?,?,?)"
                " ON CONFLICT(agreement_id) DO NOTHING",
                (agreement_id, kind, asset_id, json.dumps(terms), json.dumps(details), time.time()),
            )
            return cur.rowcount == 1

    def proposal(self, agreement_id: str) -> Proposal | None:
        rows = self._read("SELECT * FROM proposals WHERE agreement_id = ?", (agreement_id,))
        return _proposal(rows[0]) if rows else None

    def proposals(self) -> list[Proposal]:
        """Every journalled proposal, by agreement id."""
        return [_proposal(r) for r in self._read("SELECT * FROM proposals ORDER BY agreement_id")]

    def add_proposal_signature(self, agreement_id: str, party_id: int, signer: str, signature: str) -> bool:
        """Adds a party's signature to a proposal, reading and writing in one transaction (two parties signing at
        once both keep theirs). False, writing nothing, if that party has already signed or there is no such
        proposal."""
        with self.transaction() as db:
            row = db.execute("SELECT signatures FROM proposals WHERE agreement_id = ?", (agreement_id,)).fetchone()
            if row is None:
                return False
            stored = json.loads(row[0])
            if str(party_id) in stored:
                return False
            stored[str(party_id)] = {"signer": signer, "signature": signature}
            db.execute("UPDATE proposals SET signatures = ? WHERE agreement_id = ?", (json.dumps(stored), agreement_id))
            return True

    def close_proposal(self, agreement_id: str, status: str, tx_hash: str) -> None:
        """Records how a proposal ended (``executed``, ``withdrawn``) and the transaction that ended it."""
        with self.transaction() as db:
            db.execute(
                "UPDATE proposals SET status = ?, tx_hash = ? WHERE agreement_id = ?", (status, tx_hash, agreement_id)
            )

    # --- document keys (the document service) ---

    def put_document_key(self, party_id: int, public_key: bytes, account: str) -> None:
        """Records (or replaces) a party's published document key."""
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO document_keys (party_id, public_key, account, updated_at) VALUES (?,?,?,?)"
                if self._engine is None
                else "INSERT INTO document_keys (party_id, public_key, account, updated_at) VALUES (?,?,?,?)"
                " ON CONFLICT (party_id) DO UPDATE SET public_key = excluded.public_key, account = excluded.account,"
                " updated_at = excluded.updated_at",
                (party_id, public_key, account, time.time()),
            )

    def document_key(self, party_id: int) -> DocumentKey | None:
        rows = self._read(
            "SELECT party_id, public_key, account, updated_at FROM document_keys WHERE party_id = ?", (party_id,)
        )
        if not rows:
            return None
        party, public_key, account, updated_at = rows[0]
        return DocumentKey(int(party), bytes(public_key), str(account), float(updated_at))


def _proposal(row: Sequence[Any]) -> Proposal:
    agreement_id, kind, asset_id, terms, details, signatures, status, tx_hash, created_at = row
    return Proposal(
        str(agreement_id),
        str(kind),
        int(asset_id),
        json.loads(terms),
        json.loads(details),
        json.loads(signatures),
        str(status),
        tx_hash,
        float(created_at),
    )
