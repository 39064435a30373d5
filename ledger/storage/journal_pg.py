"""The journal on PostgreSQL (``IPLEDGER_JOURNAL_URL``): the engine, the layout (Alembic), the errors, and the thin
adapter that lets :class:`~ledger.storage.journal.Store` run its statements there unchanged.

The journal's statements are written once, in SQLite's SQL with ``?`` placeholders; on PostgreSQL they run through
SQLAlchemy's engine (``exec_driver_sql``) after :func:`to_pg` has turned the few SQLite spellings into
PostgreSQL's (``?`` → ``%s``, ``IS ?`` → ``IS NOT DISTINCT FROM %s``; an ``INSERT`` into a table with a generated
id returns it). The statements that differ more (``INSERT OR REPLACE``) are written for each backend where they are
used.

What the journal relies on across processes (the guarantees SQLite gives by ``BEGIN IMMEDIATE``):

- **One writer at a time.** Every write transaction starts with ``pg_advisory_xact_lock`` on one key
  (:data:`WRITE_LOCK`), held until its commit or rollback, so write transactions of all processes sharing the
  database run one after another, as they do on SQLite. Each statement runs at READ COMMITTED, after the lock, so a
  write transaction sees every write committed before it: the read-then-write steps (a single's "first accepted
  wins", a proposal's signatures, a batch's composition) stay correct with several processes. Reads take no lock.
- **Claims are compare-and-set.** :meth:`Store.claim` is one ``UPDATE … WHERE status = … AND owner IS NOT
  DISTINCT FROM …``; even without the lock above, PostgreSQL re-checks that condition on the row's newest version
  after waiting for a concurrent update of it, so two claimants of one row cannot both succeed.
- **Receipt ids** (submission and batch ids) come from each table's sequence: unique across processes, never
  reused (a rolled-back transaction leaves a gap).
- **Bounded waits.** ``lock_timeout`` (:data:`~ledger.storage.journal.BUSY_TIMEOUT`) bounds the wait for the write
  lock (then :class:`~ledger.errors.StorageBusy`), ``connect_timeout`` the connection, the pool's timeout a free
  connection.
- **Connections.** A pooled connection that sat idle for a second or more is pinged before use and replaced if
  the server dropped it; a write's settings and its lock take one round trip (:func:`begin_write`).
- **Durability.** A commit returns once PostgreSQL has it on disk (``synchronous_commit`` as the server sets it,
  ``on`` by default); a ``durable=False`` transaction sets ``synchronous_commit = off`` for itself, the equivalent
  of SQLite's ``synchronous=NORMAL``: lost only by a crash of the database server, and read again from the chain.

The layout is Alembic's (``ledger/storage/migrations``), revision ``v<N>`` for the journal's layout version N
(:data:`~ledger.storage.journal.SCHEMA_VERSION`); the baseline is ``v2``, the layout SQLite journals have at
version 2. Opening the journal upgrades it to the head revision under a transaction-level advisory lock
(:data:`MIGRATE_LOCK`): PostgreSQL's DDL is transactional, so a failure midway leaves the old layout, and two
processes opening at once migrate once. A database at a revision this release does not know is refused without a
write.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Engine,
    Float,
    ForeignKey,
    LargeBinary,
    MetaData,
    Table,
    Text,
    create_engine,
)
from sqlalchemy.engine import Connection
from sqlalchemy.engine.url import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from ledger.errors import StorageBusy, StorageFull, StorageUnavailable

#: Alembic's scripts of the journal's PostgreSQL layout.
MIGRATIONS_DIR = Path(__file__).with_name("migrations")
#: The table Alembic keeps the journal's revision in.
VERSION_TABLE = "journal_revision"
#: Advisory lock keys (transaction-level): one writer at a time; one migrator at a time.
WRITE_LOCK = 0x49504C_4A524E_01  # "IPL" "JRN" 1
MIGRATE_LOCK = 0x49504C_4A524E_02

# The journal's tables as SQLAlchemy Core sees them, in the column order of SQLite's (``SELECT *`` reads them
# into the dataclasses by position) and in dependency order. The types are SQLite's declared ones: INTEGER ->
# BIGINT (SQLite's integers are 64-bit), REAL -> DOUBLE PRECISION, BLOB -> BYTEA, TEXT -> TEXT.
metadata = MetaData()
batches = Table(
    "batches",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("root", LargeBinary, nullable=False, unique=True),
    Column("size", BigInteger, nullable=False),
    Column("item_count", BigInteger, nullable=False),
    Column("created_at", Float(53), nullable=False),
    Column("status", Text, nullable=False),
    Column("tx_hash", Text),
    Column("block_number", BigInteger),
    Column("block_hash", Text),
    Column("block_timestamp", BigInteger),
)
submissions = Table(
    "submissions",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("kind", Text, nullable=False),
    Column("registrant", Text, nullable=False),
    Column("party_id", BigInteger, nullable=False),
    Column("algorithm", BigInteger, nullable=False),
    Column("count", BigInteger, nullable=False),
    Column("root", LargeBinary),
    Column("hashes", LargeBinary, nullable=False),
    Column("deadline", BigInteger, nullable=False),
    Column("signature", LargeBinary, nullable=False),
    Column("digest", LargeBinary),
    Column("payload", Text),
    Column("created_at", Float(53), nullable=False),
    Column("status", Text, nullable=False),
    Column("batch_id", BigInteger, ForeignKey("batches.id")),
    Column("batch_index", BigInteger),
    Column("tx_hash", Text),
    Column("block_number", BigInteger),
    Column("block_hash", Text),
    Column("block_timestamp", BigInteger),
    Column("error", Text),
    Column("owner", Text),
    Column("lease_until", Float(53)),
    CheckConstraint("kind IN ('single', 'batch')", name="submissions_kind"),
)
items = Table(
    "items",
    metadata,
    Column("content_hash", LargeBinary, primary_key=True),
    Column("submission_id", BigInteger, ForeignKey("submissions.id"), nullable=False),
    Column("item_index", BigInteger, nullable=False),
)
proposals = Table(
    "proposals",
    metadata,
    Column("agreement_id", Text, primary_key=True),
    Column("kind", Text, nullable=False),
    Column("asset_id", BigInteger, nullable=False),
    Column("terms", Text, nullable=False),
    Column("details", Text, nullable=False),
    Column("signatures", Text, nullable=False, server_default="{}"),
    Column("status", Text, nullable=False, server_default="proposed"),
    Column("tx_hash", Text),
    Column("created_at", Float(53), nullable=False),
)
asset_details = Table(
    "asset_details",
    metadata,
    Column("asset_id", BigInteger, primary_key=True, autoincrement=False),
    Column("details", Text, nullable=False),
    Column("recorded_at", Float(53), nullable=False),
)
document_keys = Table(
    "document_keys",
    metadata,
    Column("party_id", BigInteger, primary_key=True, autoincrement=False),
    Column("public_key", LargeBinary, nullable=False),
    Column("account", Text, nullable=False),
    Column("updated_at", Float(53), nullable=False),
)
#: Every table of the journal, parents before children (the order a copy inserts them in).
TABLES: tuple[Table, ...] = (batches, submissions, items, proposals, asset_details, document_keys)
#: Tables whose id a sequence generates (set past the highest copied id after a copy).
SEQUENCED = ("batches", "submissions")


def normalise_url(url: str) -> str:
    """``postgresql://`` means psycopg (version 3), as for the index."""
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def shown_url(url: str) -> str:
    """The URL without its password, for messages and status."""
    try:
        return make_url(normalise_url(url)).render_as_string(hide_password=True)
    except ArgumentError:
        return "(not a database URL)"


def make_engine(url: str, *, busy_timeout: float) -> Engine:
    """An engine for a PostgreSQL journal; only PostgreSQL is accepted (SQLite is the data directory's file)."""
    from ledger.errors import DataDirError

    try:
        parsed = make_url(normalise_url(url))
    except ArgumentError:
        raise DataDirError(
            "IPLEDGER_JOURNAL_URL is not a database URL (expected postgresql+psycopg://user@host/db)",
            field="journal_url",
        ) from None
    if parsed.get_backend_name() != "postgresql":
        raise DataDirError(
            "IPLEDGER_JOURNAL_URL must name a PostgreSQL database (postgresql+psycopg://user@host/db); leave it "
            "unset for the SQLite journal in the data directory",
            field="journal_url",
        )
    try:
        engine = create_engine(
            parsed,
            future=True,
            pool_timeout=busy_timeout,
            connect_args={"connect_timeout": max(1, int(busy_timeout))},
        )
    except (NoSuchModuleError, ImportError):
        raise DataDirError(
            f"IPLEDGER_JOURNAL_URL names a database driver this service does not have ({parsed.drivername}): "
            "use postgresql+psycopg://user@host/db",
            field="journal_url",
        ) from None
    _ping_when_idle(engine)
    return engine


#: A pooled connection idle longer than this is pinged before use (seconds).
PING_AFTER_IDLE = 1.0


def _ping_when_idle(engine: Engine) -> None:
    """SQLAlchemy's ``pool_pre_ping``, only for connections that sat idle in the pool for ``PING_AFTER_IDLE``:
    a connection the server dropped (a restart, a cut session) is replaced before a transaction uses it, and one
    handed back a moment ago, as under load, costs no extra round trip. A ping that fails raises
    ``DisconnectionError``, on which the pool discards the connection and checks out another (up to three
    times), as the pool's own pre-ping does."""
    from sqlalchemy import event
    from sqlalchemy.exc import DisconnectionError

    @event.listens_for(engine, "connect")
    @event.listens_for(engine, "checkin")
    def _idle_from(_dbapi_conn: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("idle_since")
        if since is not None and time.monotonic() - since < PING_AFTER_IDLE:
            return
        try:
            dbapi_conn.execute("SELECT 1")
            dbapi_conn.rollback()
        except Exception as exc:  # noqa: BLE001 - any failure means the connection is not usable
            raise DisconnectionError(f"the pooled connection failed its ping ({type(exc).__name__})") from exc


@lru_cache(maxsize=256)
def to_pg(sql: str) -> str:
    """A journal statement in PostgreSQL's spelling (none of the journal's literals holds ``?`` or ``%``)."""
    sql = re.sub(r"\bIS \?", "IS NOT DISTINCT FROM %s", sql)
    sql = sql.replace("?", "%s")
    if re.match(r"\s*INSERT INTO (submissions|batches)\b", sql) and "RETURNING" not in sql:
        sql += " RETURNING id"
    return sql


class Cursor:
    """What the journal's code reads of a DB-API cursor: rows, ``rowcount`` and ``lastrowid``."""

    def __init__(self, rows: list[Any], rowcount: int, lastrowid: int | None) -> None:
        self._rows = rows
        self.rowcount = rowcount
        self.lastrowid = lastrowid

    def fetchone(self) -> Any:
        return self._rows[0] if self._rows else None

    def fetchall(self) -> list[Any]:
        return list(self._rows)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._rows)


class Session:
    """One SQLAlchemy connection as the journal's code uses a ``sqlite3.Connection``: ``execute`` and
    ``executemany`` of its SQLite-spelled statements."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        pg = to_pg(sql)
        result = self.conn.exec_driver_sql(pg, tuple(params))
        if not result.returns_rows:
            return Cursor([], result.rowcount, None)
        rows = [tuple(r) for r in result.fetchall()]
        if pg.endswith(" RETURNING id"):
            return Cursor([], len(rows), int(rows[0][0]) if rows else None)
        return Cursor(rows, result.rowcount, None)

    def executemany(self, sql: str, seq: Any) -> None:
        params = [tuple(p) for p in seq]
        if params:
            self.conn.exec_driver_sql(to_pg(sql), params)


def begin_write(conn: Connection, *, durable: bool, busy_timeout: float) -> None:
    """The start of every write transaction: bounded lock waits, durability, and the one-writer lock, in one
    round trip (statements without parameters go as one simple query; every value here is a number of ours)."""
    statements = [f"SET LOCAL lock_timeout = '{int(busy_timeout * 1000)}ms'"]
    if not durable:
        statements.append("SET LOCAL synchronous_commit = off")
    statements.append(f"SELECT pg_advisory_xact_lock({int(WRITE_LOCK)})")
    conn.exec_driver_sql("; ".join(statements))


# SQLSTATEs of resource faults: https://www.postgresql.org/docs/current/errcodes-appendix.html
_FULL = {"53100"}  # disk_full
_BUSY = {"55P03", "40001", "40P01", "57014", "53300"}  # lock timeout, serialization, deadlock, canceled, too many


def storage_error(exc: BaseException) -> StorageUnavailable | None:
    """The ledger error a PostgreSQL (driver or pool) error stands for, if it is a resource fault."""
    if isinstance(exc, PoolTimeout):
        return StorageBusy("every connection to the journal database is in use; try again shortly")
    if not isinstance(exc, DBAPIError):
        return None
    state = str(getattr(exc.orig, "sqlstate", "") or "")
    if state in _FULL:
        return StorageFull("the journal database's disk is full: nothing was written; retry once space is freed")
    if state in _BUSY:
        return StorageBusy("the journal is locked by another process; try again shortly")
    if exc.connection_invalidated or state.startswith(("08", "57P", "53")) or (not state and _is_operational(exc)):
        return StorageUnavailable("the journal database cannot be reached; nothing was written; try again shortly")
    return None


def _is_operational(exc: DBAPIError) -> bool:
    from sqlalchemy.exc import InterfaceError, OperationalError

    return isinstance(exc, OperationalError | InterfaceError)


# --- the layout (Alembic) ------------------------------------------------------------------------------------


def _script() -> Any:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config, ScriptDirectory.from_config(config)


def head_revision() -> str:
    """The newest revision this release knows."""
    _, script = _script()
    return str(script.get_current_head())


def known_revisions() -> set[str]:
    _, script = _script()
    return {str(r.revision) for r in script.walk_revisions()}


def current_revision(conn: Connection) -> str | None:
    """The revision recorded in the database (None: no journal there yet)."""
    from alembic.runtime.migration import MigrationContext

    context = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
    revision = context.get_current_revision()
    return str(revision) if revision is not None else None


def upgrade(conn: Connection, where: str) -> None:
    """Brings the journal at ``conn`` to the head revision, in the caller's transaction, under the migration lock;
    refuses (DataDirError, without a write) a revision this release does not know."""
    from alembic.runtime.environment import EnvironmentContext

    from ledger.errors import DataDirError

    conn.exec_driver_sql("SELECT pg_advisory_xact_lock(%s)", (MIGRATE_LOCK,))
    config, script = _script()
    revision = current_revision(conn)
    head = str(script.get_current_head())
    if revision == head:
        return
    if revision is not None and revision not in known_revisions():
        raise DataDirError(
            f"the journal at {where} has layout revision {revision}, unknown to this release (newest known: {head}):"
            " it was written by a later release; run that release (or a later one) on it",
            field="journal_url",
        )

    def steps(rev: Any, _context: Any) -> Any:
        return script._upgrade_revs(head, rev)  # noqa: SLF001 - what `alembic upgrade head` runs

    with EnvironmentContext(config, script, fn=steps, destination_rev=head) as env:
        env.configure(connection=conn, version_table=VERSION_TABLE, transactional_ddl=True)
        with env.begin_transaction():
            env.run_migrations()
