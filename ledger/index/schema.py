"""The index's tables and their layout version: one SQL copy of the suite's events (SQLAlchemy Core).

Every decoded event that changes state is kept in ``events`` (block, log index, name, arguments); the query
tables (batches, parties, assets, agreements, disputes, ...) are a pure function of that log, applied event
by event (``ledger.index.sync``). Single evidence registrations, the bulk of the traffic, only ever add a row:
their row in ``evidence`` (with its block and log index) is their record, and they are not copied into
``events``. ``blocks`` keeps the hash of every block read, ``cursor`` the last one, ``index_meta`` the layout
version: an index written under another layout is dropped and read again from the chain when opened (it is a
copy of the chain, so nothing is lost).

The index is SQLite at ``DATA_DIR/index.sqlite3`` by default (WAL, ``synchronous=NORMAL``: it can always be
rebuilt, so a commit need not wait for the disk), or any SQLAlchemy URL (PostgreSQL through psycopg:
``postgresql+psycopg://user@host/db``) in ``IPLEDGER_INDEX_URL``. A failing database is reported as
``IndexUnavailable`` (:func:`database_errors`), never as SQL.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Engine,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    insert,
    select,
)
from sqlalchemy import event as sa_event
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

from ledger.domain import codes
from ledger.domain.eip712 import ACCOUNT_ACTIONS
from ledger.errors import ConfigurationError, IndexUnavailable
from ledger.storage.journal import damaged_sqlite

if TYPE_CHECKING:
    from ledger.config import Settings

log = logging.getLogger("ipledger.index")

metadata = MetaData()

blocks = Table(
    "blocks",
    metadata,
    Column("number", BigInteger, primary_key=True, autoincrement=False),
    Column("hash", String(66), nullable=False),
    Column("timestamp", BigInteger, nullable=False, index=True),
)
events = Table(
    "events",
    metadata,
    Column("block", BigInteger, primary_key=True, autoincrement=False),
    Column("log_index", Integer, primary_key=True, autoincrement=False),
    Column("tx", String(66), nullable=False),
    Column("contract", String(40), nullable=False),
    Column("name", String(40), nullable=False),
    Column("args", Text, nullable=False),
)
evidence = Table(
    "evidence",
    metadata,
    # the binding recorded (docs/certificate.md "Bindings"; the column keeps its name), per party: a copy of a
    # party's binding recorded by another party is its own row
    Column("content_hash", String(66), primary_key=True),
    Column("kind", String(8), nullable=False),  # single | batch
    Column("party_id", BigInteger, primary_key=True),
    Column("registrant", String(42), nullable=False),
    Column("algorithm", Integer, nullable=False),
    Column("metadata_commitment", String(66)),
    Column("supersedes", String(66)),
    Column("batch_root", String(66)),
    Column("block", BigInteger, nullable=False),
    Column("log_index", Integer, nullable=False),
    Column("item_index", Integer, nullable=False),
    Column("time", BigInteger, nullable=False),
    Column("tx", String(66), nullable=False),
    # Lists run newest first by position (block, log index, item index), optionally within one party, kind or
    # registrant: each filter has an index ending in the position, so a page is an index range scan.
    Index("ix_evidence_position", "block", "log_index", "item_index"),
    Index("ix_evidence_party", "party_id", "block", "log_index", "item_index"),
    Index("ix_evidence_kind", "kind", "block", "log_index", "item_index"),
    Index("ix_evidence_registrant", "registrant", "block", "log_index", "item_index"),
)
batches = Table(
    "batches",
    metadata,
    Column("root", String(66), primary_key=True),
    Column("anchorer", String(42), nullable=False),
    Column("size", Integer, nullable=False),
    Column("block", BigInteger, nullable=False),
    Column("log_index", Integer, nullable=False),
    Column("time", BigInteger, nullable=False),
    Column("tx", String(66), nullable=False),
)
parties = Table(
    "parties",
    metadata,
    Column("party_id", BigInteger, primary_key=True, autoincrement=False),
    Column("kind", Integer, nullable=False),
    Column("jurisdiction", Integer, nullable=False),
    Column("scheme", Integer, nullable=False),
    Column("identifier", Text, nullable=False),
    Column("identifier_commitment", String(66), nullable=False),
    Column("name_zh", Text, nullable=False),
    Column("name_en", Text, nullable=False),
    Column("status", String(12), nullable=False),  # as the last suspension event left it; see party_record
    Column("block", BigInteger, nullable=False),
    Column("log_index", Integer, nullable=False),
    Column("time", BigInteger, nullable=False),
    Column("tx", String(66), nullable=False),
    # the suspension record as the contract keeps it: None, "provisional" (lapses suspension period after
    # suspended_at unless confirmed) or "confirmed"; and the pending recovery, if any
    Column("suspension", String(12)),
    Column("suspended_at", BigInteger),
    Column("recovery_account", String(42)),
    Column("recovery_at", BigInteger),
)
party_events = Table(  # a party's history: suspensions, recoveries, account changes (PARTY_EVENTS)
    "party_events",
    metadata,
    Column("party_id", BigInteger, primary_key=True, autoincrement=False),
    Column("block", BigInteger, primary_key=True, autoincrement=False),
    Column("log_index", Integer, primary_key=True, autoincrement=False),
    Column("event", String(24), nullable=False),
    Column("account", String(42)),
    Column("detail", Text),  # JSON: executableAt, action, nonce, threshold, reasonHash
    Column("time", BigInteger, nullable=False),
    Column("tx", String(66), nullable=False),
)
party_accounts = Table(
    "party_accounts",
    metadata,
    Column("party_id", BigInteger, primary_key=True, autoincrement=False),
    Column("account", String(42), primary_key=True),
    Column("block", BigInteger, nullable=False),
)
assets = Table(
    "assets",
    metadata,
    Column("asset_id", BigInteger, primary_key=True, autoincrement=False),
    Column("jurisdiction", String(8), nullable=False, index=True),
    Column("kind", String(24), nullable=False),
    Column("number_hash", String(66), nullable=False, index=True),
    Column("owners", Text, nullable=False),  # JSON [{"partyId", "share"}]
    Column("details_hash", String(66), nullable=False),
    Column("frozen", Boolean, nullable=False),
    # claimed (not yet confirmed by an asset verifier) | confirmed | struck; the verifier that decided
    Column("status", String(12), nullable=False, index=True),
    Column("verifier", BigInteger),
    Column("block", BigInteger, nullable=False),
    Column("log_index", Integer, nullable=False),
    Column("time", BigInteger, nullable=False),
    Column("tx", String(66), nullable=False),
)
asset_owners = Table(
    "asset_owners",
    metadata,
    Column("asset_id", BigInteger, primary_key=True, autoincrement=False),
    Column("party_id", BigInteger, primary_key=True, autoincrement=False, index=True),
    Column("share", Integer, nullable=False),
)
agreements = Table(
    "agreements",
    metadata,
    Column("agreement_id", String(66), primary_key=True),
    Column("asset_id", BigInteger, nullable=False, index=True),
    Column("kind", String(24), nullable=False),
    Column("status", String(20), nullable=False),  # ... "ended_with_parent": a sublicence whose parent was closed
    Column("document_hash", String(66), nullable=False),
    Column("details_hash", String(66), nullable=False),
    Column("parties", Text, nullable=False),  # JSON [{"partyId", "role", "signer"}]
    Column("block", BigInteger, nullable=False),
    Column("log_index", Integer, nullable=False),
    Column("time", BigInteger, nullable=False, index=True),
    Column("tx", String(66), nullable=False),
    Column("closed_block", BigInteger),
    # the term of a licence or pledge (unix seconds; end 0 = open-ended pledge), None for a transfer
    Column("start_time", BigInteger),
    Column("end_time", BigInteger),
    # a sublicence's parent licence (it ends when the parent is terminated or voided), None otherwise
    Column("parent_licence", String(66), index=True),
)
agreement_parties = Table(
    "agreement_parties",
    metadata,
    Column("agreement_id", String(66), primary_key=True),
    Column("party_id", BigInteger, primary_key=True, autoincrement=False, index=True),
    Column("role", String(16), nullable=False),
)
pending_signatures = Table(  # AgreementSigned precedes AgreementExecuted in the same transaction
    "pending_signatures",
    metadata,
    Column("agreement_id", String(66), primary_key=True),
    Column("party_id", BigInteger, primary_key=True, autoincrement=False),
    Column("signer", String(42), nullable=False),
)
disputes = Table(
    "disputes",
    metadata,
    Column("dispute_id", String(66), primary_key=True),
    Column("subject_kind", String(12), nullable=False),
    Column("subject_id", String(66), nullable=False),
    Column("asset_id", BigInteger, index=True),
    Column("institution", BigInteger, nullable=False),
    Column("claimant", BigInteger, nullable=False),
    Column("respondent", BigInteger, nullable=False),
    Column("claim_hash", String(66), nullable=False),
    Column("arbitrators", Text, nullable=False),  # the institution's accounts that signed the opening, comma-separated
    Column("status", String(8), nullable=False),
    Column("outcome", String(16)),
    Column("award_hash", String(66)),
    Column("block", BigInteger, nullable=False),
    Column("log_index", Integer, nullable=False),
    Column("time", BigInteger, nullable=False),
    Column("tx", String(66), nullable=False),
)
cursor_table = Table(
    "cursor",
    metadata,
    Column("contract", String(42), primary_key=True),  # "suite": one cursor for the suite's addresses
    Column("last_block", BigInteger, nullable=False),
    Column("last_hash", String(66), nullable=False),
)

index_meta = Table(
    "index_meta",
    metadata,
    Column("key", String(32), primary_key=True),
    Column("value", String(64), nullable=False),
)

#: The layout of the tables. An index written under another layout is dropped and read again from the chain
#: when opened (it is a copy of the chain, so nothing is lost).
SCHEMA_VERSION = "6"

#: Tables derived from the event log (emptied and replayed on a reorganisation; ``evidence`` is cut back instead).
DERIVED = (
    batches,
    parties,
    party_events,
    party_accounts,
    assets,
    asset_owners,
    agreements,
    agreement_parties,
    pending_signatures,
    disputes,
)

#: The words the columns hold for the contracts' enum codes (read by the sync, accepted by the queries).
# The index stores each on-chain code as its word (ledger.domain.codes); jurisdictions as their upper-case names.
ASSET_JURISDICTIONS = {int(j): j.name for j in codes.AssetJurisdiction.choices()}
ASSET_KINDS = {int(k): k.word for k in codes.AssetKind.choices()}
AGREEMENT_KINDS = {int(k): k.word for k in codes.AgreementKind.choices()}
TERMED_KINDS = frozenset(
    int(k) for k in codes.AgreementKind.choices() if k.termed
)  # transfers are complete once in effect
ROLES = {k.word: k.roles for k in codes.AgreementKind.choices()}
SUBJECT_KINDS = {int(s): s.word for s in codes.SubjectKind.choices()}
OUTCOMES = {int(o): o.word for o in codes.Outcome.choices()}
ALGORITHMS = {int(a): a.word for a in codes.HashAlgorithm.choices()}


#: A party's events as its history names them (``party_events``).
PARTY_EVENTS = {
    "PartyAdmitted": "admitted",
    "PartyAccountAdded": "account_added",
    "PartyAccountRemoved": "account_removed",
    "PartyAccountsChanged": "accounts_changed",
    "PartySuspended": "suspended",
    "PartySuspensionConfirmed": "suspension_confirmed",
    "PartyReinstated": "reinstated",
    "RecoveryProposed": "recovery_proposed",
    "RecoveryVetoed": "recovery_vetoed",
    "RecoveryCancelled": "recovery_cancelled",
    "RecoveryExecuted": "recovery_executed",
}
ACCOUNT_ACTION_NAMES = {v: k for k, v in ACCOUNT_ACTIONS.items()}

#: The columns of an evidence row, in the order :func:`insert_many` takes them.
EVIDENCE_COLUMNS = (
    "content_hash",
    "kind",
    "party_id",
    "registrant",
    "algorithm",
    "metadata_commitment",
    "supersedes",
    "batch_root",
    "item_index",
    "block",
    "log_index",
    "time",
    "tx",
)


def insert_many(db: Connection, table: Table, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
    """A plain DB-API ``executemany``: SQLAlchemy's per-row parameter processing costs more than the insert
    itself on a catch-up of many events. Values are already plain ints, strings and None."""
    mark = "?" if db.dialect.paramstyle == "qmark" else "%s"
    sql = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join([mark] * len(columns))})"
    db.exec_driver_sql(sql, rows)


def default_url(settings: Settings) -> str:
    return settings.index_url or f"sqlite:///{Path(settings.data_dir).resolve() / 'index.sqlite3'}"


def make_engine(url: str) -> Engine:
    """An engine for the index at ``url``. SQLite runs in WAL mode with ``synchronous=NORMAL``: the index can
    always be rebuilt from the chain, so a commit need not wait for the disk, only stay consistent."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    expected = "postgresql+psycopg://user@host/db, or sqlite:///path"
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigurationError(
            f"IPLEDGER_INDEX_URL is not a database URL (expected {expected})", field="index_url"
        ) from None
    if parsed.get_backend_name() not in ("postgresql", "sqlite"):
        raise ConfigurationError(
            f"IPLEDGER_INDEX_URL must name a PostgreSQL or SQLite database ({expected}); leave it unset for SQLite "
            "in the data directory",
            field="index_url",
        )
    try:
        engine = create_engine(parsed, future=True, pool_pre_ping=True)
    except (NoSuchModuleError, ImportError):
        raise ConfigurationError(
            f"IPLEDGER_INDEX_URL names a database driver this service does not have ({parsed.drivername}): use "
            f"{expected}",
            field="index_url",
        ) from None
    if engine.dialect.name == "sqlite":

        @sa_event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            cur = dbapi_connection.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

    return engine


def open_schema(engine: Engine) -> None:
    """Creates the tables, or drops and recreates them if they were written under another layout."""
    inspector = sa_inspect(engine)
    version = None
    if inspector.has_table(index_meta.name):
        with engine.connect() as db:
            version = db.execute(select(index_meta.c.value).where(index_meta.c.key == "schema")).scalar()
    if version != SCHEMA_VERSION and any(inspector.has_table(t.name) for t in metadata.sorted_tables):
        log.warning(
            "the index was written under layout %s, not %s: rebuilding it from the chain", version, SCHEMA_VERSION
        )
        metadata.drop_all(engine)
    metadata.create_all(engine)
    with engine.begin() as db:
        if db.execute(select(index_meta.c.value).where(index_meta.c.key == "schema")).scalar() is None:
            db.execute(insert(index_meta).values(key="schema", value=SCHEMA_VERSION))


def open_or_set_aside(engine: Engine) -> None:
    """:func:`open_schema`; an SQLite index file that is not a database or is damaged (``SQLITE_NOTADB``,
    ``SQLITE_CORRUPT``) is first set aside as ``NAME.damaged`` (its ``-wal`` and ``-shm`` removed) and a new one
    made: the index is rebuilt from the chain, so nothing is lost, and the service goes on."""
    try:
        open_schema(engine)
        return
    except DBAPIError as exc:
        if engine.dialect.name != "sqlite" or not damaged_sqlite(exc.orig):
            raise
        path = Path(str(engine.url.database or ""))
        if not path.name or not path.exists():
            raise
        engine.dispose()
        log.warning(
            "the index file %s is damaged (%s): set aside as %s.damaged; rebuilding the index from the chain",
            path,
            str(exc.orig).strip().splitlines()[0],
            path.name,
        )
        path.replace(path.with_name(path.name + ".damaged"))
        for extra in ("-wal", "-shm"):
            path.with_name(path.name + extra).unlink(missing_ok=True)
    open_schema(engine)


@contextlib.contextmanager
def database_errors() -> Iterator[None]:
    """A failing index database becomes IndexUnavailable: one line naming the driver's problem, no SQL."""
    try:
        yield
    except DBAPIError as exc:
        detail = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else type(exc).__name__
        raise IndexUnavailable(f"the index database failed: {detail}") from None
