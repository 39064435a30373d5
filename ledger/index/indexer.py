"""The indexer: follows the suite's contract events into SQL (SQLAlchemy Core) for listing and search.

Every decoded event that changes state is kept in ``events`` (block, log index, name, arguments); the query
tables (batches, parties, assets, agreements, disputes, ...) are a pure function of that log, applied event
by event. Single evidence registrations, the bulk of the traffic, only ever add a row: their row in
``evidence`` (with its block and log index) is their record, and they are not copied into ``events``. So a
reorganisation is handled by deleting the evidence rows, events and block hashes from the first orphaned
block on, and replaying the remaining log into the other, emptied query tables: no row of an orphaned block
survives.

A catch-up reads logs with plain ``eth_getLogs`` calls (no web3 result formatting), decodes static event
data straight from the hex words, and writes each range in one transaction with DB-API ``executemany``.

The index is SQLite at ``DATA_DIR/index.sqlite3`` by default, or any SQLAlchemy URL (PostgreSQL through
psycopg: ``postgresql+psycopg://user@host/db``) in ``IPLEDGER_INDEX_URL``. Blocks are read up to
``confirmations`` behind the head. Batched evidence items are not on chain one by one: the batch root is,
and its items come from the journal (``Store``) of the service that anchored it.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import json
import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eth_abi import decode as abi_decode
from eth_utils import event_abi_to_log_topic
from eth_utils.abi import collapse_if_tuple
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
    and_,
    create_engine,
    delete,
    func,
    insert,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy import event as sa_event
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from web3 import Web3

from ledger.chain.artifacts import SUITE, load_artifact
from ledger.chain.tx import FunctionCodec, NodeRefused, as_hex, as_int, rpc
from ledger.domain import codes
from ledger.domain.agreements import ASSET_STATUS_NOTES
from ledger.domain.eip712 import ACCOUNT_ACTIONS
from ledger.domain.inputs import DIGITS_RE, INT64_MAX, UNIX_TIME_MAX, parse_uint
from ledger.domain.results import IndexStatus
from ledger.errors import IndexUnavailable, InvalidInput, LedgerError

if TYPE_CHECKING:
    from ledger.config import Settings
    from ledger.facade import Ledger

log = logging.getLogger("ipledger.index")

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
CHUNK = 2000  # most blocks per eth_getLogs request
FIRST_SPAN = 100  # blocks of the first request of a sync; later spans adapt to aim at TARGET_LOGS logs each
TARGET_LOGS = 4000

metadata = MetaData()

blocks = Table(
    "blocks", metadata,
    Column("number", BigInteger, primary_key=True, autoincrement=False),
    Column("hash", String(66), nullable=False),
    Column("timestamp", BigInteger, nullable=False, index=True),
)
events = Table(
    "events", metadata,
    Column("block", BigInteger, primary_key=True, autoincrement=False),
    Column("log_index", Integer, primary_key=True, autoincrement=False),
    Column("tx", String(66), nullable=False),
    Column("contract", String(40), nullable=False),
    Column("name", String(40), nullable=False),
    Column("args", Text, nullable=False),
)
evidence = Table(
    "evidence", metadata,
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
    "batches", metadata,
    Column("root", String(66), primary_key=True),
    Column("anchorer", String(42), nullable=False),
    Column("size", Integer, nullable=False),
    Column("block", BigInteger, nullable=False),
    Column("log_index", Integer, nullable=False),
    Column("time", BigInteger, nullable=False),
    Column("tx", String(66), nullable=False),
)
parties = Table(
    "parties", metadata,
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
party_events = Table(  # a party's history: suspensions, recoveries, account changes (ledger.parties.PARTY_EVENTS)
    "party_events", metadata,
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
    "party_accounts", metadata,
    Column("party_id", BigInteger, primary_key=True, autoincrement=False),
    Column("account", String(42), primary_key=True),
    Column("block", BigInteger, nullable=False),
)
assets = Table(
    "assets", metadata,
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
    "asset_owners", metadata,
    Column("asset_id", BigInteger, primary_key=True, autoincrement=False),
    Column("party_id", BigInteger, primary_key=True, autoincrement=False, index=True),
    Column("share", Integer, nullable=False),
)
agreements = Table(
    "agreements", metadata,
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
    "agreement_parties", metadata,
    Column("agreement_id", String(66), primary_key=True),
    Column("party_id", BigInteger, primary_key=True, autoincrement=False, index=True),
    Column("role", String(16), nullable=False),
)
pending_signatures = Table(  # AgreementSigned precedes AgreementExecuted in the same transaction
    "pending_signatures", metadata,
    Column("agreement_id", String(66), primary_key=True),
    Column("party_id", BigInteger, primary_key=True, autoincrement=False),
    Column("signer", String(42), nullable=False),
)
disputes = Table(
    "disputes", metadata,
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
    "cursor", metadata,
    Column("contract", String(42), primary_key=True),  # "suite": one cursor for the suite's addresses
    Column("last_block", BigInteger, nullable=False),
    Column("last_hash", String(66), nullable=False),
)

index_meta = Table(
    "index_meta", metadata,
    Column("key", String(32), primary_key=True),
    Column("value", String(64), nullable=False),
)

#: The layout of the tables. An index written under another layout is dropped and read again from the chain
#: when opened (it is a copy of the chain, so nothing is lost).
SCHEMA_VERSION = "6"

#: Tables derived from the event log (emptied and replayed on a reorganisation; ``evidence`` is cut back instead).
DERIVED = (batches, parties, party_events, party_accounts, assets, asset_owners, agreements, agreement_parties,
           pending_signatures, disputes)  # fmt: skip

# The index stores each on-chain code as its word (ledger.domain.codes); jurisdictions as their upper-case names.
ASSET_JURISDICTIONS = {int(j): j.name for j in codes.AssetJurisdiction.choices()}
ASSET_KINDS = {int(k): k.word for k in codes.AssetKind.choices()}
AGREEMENT_KINDS = {int(k): k.word for k in codes.AgreementKind.choices()}
TERMED_KINDS = frozenset(int(k) for k in codes.AgreementKind.choices() if k.termed)  # transfers are complete once in effect
ROLES = {k.word: k.roles for k in codes.AgreementKind.choices()}
SUBJECT_KINDS = {int(s): s.word for s in codes.SubjectKind.choices()}
OUTCOMES = {int(o): o.word for o in codes.Outcome.choices()}
ALGORITHMS = {int(a): a.word for a in codes.HashAlgorithm.choices()}


#: A party's events as its history names them (``party_events``).
PARTY_EVENTS = {"PartyAdmitted": "admitted", "PartyAccountAdded": "account_added", "PartyAccountRemoved": "account_removed",
                "PartyAccountsChanged": "accounts_changed", "PartySuspended": "suspended",
                "PartySuspensionConfirmed": "suspension_confirmed", "PartyReinstated": "reinstated",
                "RecoveryProposed": "recovery_proposed", "RecoveryVetoed": "recovery_vetoed",
                "RecoveryCancelled": "recovery_cancelled", "RecoveryExecuted": "recovery_executed"}  # fmt: skip
ACCOUNT_ACTION_NAMES = {v: k for k, v in ACCOUNT_ACTIONS.items()}
#: Most history entries a party answer carries (newest first).
PARTY_HISTORY_LIMIT = 50


#: Events that only add an evidence row: not copied into ``events`` (see the module docstring).
UNLOGGED = frozenset({"EvidenceRegistered"})
EVIDENCE_COLUMNS = ("content_hash", "kind", "party_id", "registrant", "algorithm", "metadata_commitment", "supersedes",
                    "batch_root", "item_index", "block", "log_index", "time", "tx")  # fmt: skip


def _insert_many(db: Connection, table: Table, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
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
    engine = create_engine(url, future=True, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":

        @sa_event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            cur = dbapi_connection.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

    return engine


def _hex(value: Any) -> str:
    return "0x" + bytes(value).hex()


@functools.lru_cache(maxsize=4096)
def _checksum(address: str) -> str:
    return Web3.to_checksum_address(address)


def _signed(value: int) -> int:
    return value - (1 << 256) if value >> 255 else value


def _word_expr(abi_type: str, word: str, prefixed: bool) -> str | None:
    """A Python expression reading one 32-byte ABI word of a static type as its JSON value, or None if the type
    is not a single static word. ``word`` is an expression for the 64 hex digits, with a ``0x`` in front when
    ``prefixed`` (a topic) and without (a slice of the data)."""
    digits = f"{word}[2:]" if prefixed else word
    if "[" in abi_type or "(" in abi_type:
        return None
    if abi_type == "address":
        return f"_checksum('0x' + {word}[{26 if prefixed else 24}:])"
    if abi_type == "bool":
        return f"(int({digits}, 16) != 0)"
    if abi_type.startswith("uint"):
        return f"int({digits}, 16)"
    if abi_type.startswith("int"):
        return f"_signed(int({digits}, 16))"
    if abi_type.startswith("bytes") and abi_type[5:].isdigit():
        size = int(abi_type[5:])
        if prefixed:
            return word if size == 32 else f"{word}[:{2 + 2 * size}]"
        return f"('0x' + {word}[:{2 * size}])"
    return None


def _from_abi(value: Any, item: Mapping[str, Any]) -> Any:
    """An eth-abi decoded value as web3 shows it, in JSON: bytes as 0x-hex, addresses checksummed, arrays as
    lists, structs as objects named by their components."""
    abi_type = str(item["type"])
    if abi_type.endswith("]"):
        inner = {**item, "type": abi_type[: abi_type.rindex("[")]}
        return [_from_abi(v, inner) for v in value]
    if abi_type == "tuple":
        return {c["name"]: _from_abi(v, c) for v, c in zip(value, item["components"], strict=True)}
    if abi_type == "address":
        return _checksum(value)
    if isinstance(value, (bytes, bytearray)):
        return _hex(value)
    return value


class EventDecoder:
    """Decodes the raw JSON-RPC logs of one event (one contract, one topic0) into ``{name: value}``, as web3's
    decoder has them (bytes as 0x-hex, addresses checksummed, structs as objects).

    ``decode`` is generated from the ABI once: one dict display whose values read the topics and the data's
    hex words directly (most events, EvidenceRegistered among them, are all static words), with the dynamic
    part of the data, if any, decoded by eth-abi. A catch-up decodes every log, so this is its inner loop.
    Indexed values of dynamic types are their topic hash."""

    def __init__(self, contract: str, abi: dict[str, Any]) -> None:
        self.contract = contract
        self.name = str(abi["name"])
        inputs = abi["inputs"]
        data = [i for i in inputs if not i["indexed"]]
        self.data_types = [collapse_if_tuple(i) for i in data]
        static = all(_word_expr(t, "w", False) is not None for t in self.data_types)
        exprs: list[str] = []
        topic, word = 1, 0
        for item in inputs:
            abi_type = collapse_if_tuple(item)
            if item["indexed"]:
                exprs.append(_word_expr(abi_type, f"topics[{topic}]", True) or f"topics[{topic}]")
                topic += 1
            elif static:
                exprs.append(str(_word_expr(abi_type, f"data[{2 + 64 * word}:{66 + 64 * word}]", False)))
                word += 1
            else:
                exprs.append(f"_from_abi(body[{word}], items[{word}])")
                word += 1
        fields = ", ".join(f"{item['name']!r}: {expr}" for item, expr in zip(inputs, exprs, strict=True))
        head = "" if static else "    body = _abi_decode(types, bytes.fromhex(data[2:]))\n"
        source = f"def decode(topics, data):\n{head}    return {{{fields}}}\n"
        namespace: dict[str, Any] = {"_checksum": _checksum, "_signed": _signed, "_from_abi": _from_abi,
                                     "_abi_decode": abi_decode, "types": self.data_types, "items": data}  # fmt: skip
        exec(compile(source, f"<decoder {contract}.{self.name}>", "exec"), namespace)  # noqa: S102 - source built above from the ABI
        self.decode: Callable[[list[str], str], dict[str, Any]] = namespace["decode"]


class Indexer:
    """Follows the suite's events on ``ledger.w3`` into ``engine``."""

    def __init__(self, ledger: Ledger, engine: Engine) -> None:
        self.ledger = ledger
        self.engine = engine
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.last_error: str | None = None
        self._agreement_view: FunctionCodec | None = None
        self._decoders: dict[tuple[str, str], EventDecoder] = {}
        self.addresses: dict[str, str] = {}
        for name in SUITE:
            addr = Web3.to_checksum_address(ledger.manifest.address(name))
            self.addresses[addr.lower()] = name
            for item in load_artifact(name)["abi"]:
                if item["type"] == "event":
                    topic = "0x" + event_abi_to_log_topic(item).hex()
                    self._decoders[(addr.lower(), topic)] = EventDecoder(name, item)
        with _database_errors():
            self._open_schema()

    def _open_schema(self) -> None:
        """Creates the tables, or drops and recreates them if they were written under another layout."""
        inspector = sa_inspect(self.engine)
        version = None
        if inspector.has_table(index_meta.name):
            with self.engine.connect() as db:
                version = db.execute(select(index_meta.c.value).where(index_meta.c.key == "schema")).scalar()
        if version != SCHEMA_VERSION and any(inspector.has_table(t.name) for t in metadata.sorted_tables):
            log.warning("the index was written under layout %s, not %s: rebuilding it from the chain", version, SCHEMA_VERSION)
            metadata.drop_all(self.engine)
        metadata.create_all(self.engine)
        with self.engine.begin() as db:
            if db.execute(select(index_meta.c.value).where(index_meta.c.key == "schema")).scalar() is None:
                db.execute(insert(index_meta).values(key="schema", value=SCHEMA_VERSION))

    # --- syncing -------------------------------------------------------------------------------

    @property
    def w3(self) -> Web3:
        return self.ledger.w3

    def _cursor(self, db: Connection, *, lock: bool = False) -> tuple[int, str | None]:
        """The last indexed block and its hash; ``lock`` holds the cursor row until the transaction ends
        (PostgreSQL: another replica writing the same range waits, then sees the cursor moved)."""
        stmt = select(cursor_table).where(cursor_table.c.contract == "suite")
        row = db.execute(stmt.with_for_update() if lock else stmt).first()
        if row is None:
            return self.ledger.manifest.deploy_block - 1, None
        return int(row.last_block), str(row.last_hash)

    def _set_cursor(self, db: Connection, number: int, block_hash: str) -> None:
        db.execute(delete(cursor_table).where(cursor_table.c.contract == "suite"))
        db.execute(insert(cursor_table).values(contract="suite", last_block=number, last_hash=block_hash))

    def target_block(self) -> int:
        return int(self.w3.eth.block_number) - int(self.ledger.settings.confirmations)

    def sync(self, progress: Callable[[int, int], None] | None = None, to_block: int | None = None) -> int:
        """Reads events up to ``to_block`` (default: ``confirmations`` behind the head); returns the last
        indexed block. ``progress(done_blocks, total_blocks)`` is called after each range."""
        with self._lock, _database_errors():
            for attempt in range(5):
                try:
                    return self._sync(progress, to_block)
                except _Moved:  # the chain reorganised while a range was read: check again and re-read
                    log.info("the chain moved during an index sync (attempt %s); re-checking", attempt + 1)
            return self._sync(progress, to_block)

    def _sync(self, progress: Callable[[int, int], None] | None, to_block: int | None) -> int:
        self._check_reorg()
        target = self.target_block() if to_block is None else min(to_block, self.target_block())
        with self.engine.connect() as db:
            start = self._cursor(db)[0] + 1
        total = max(0, target - start + 1)
        if progress:
            progress(0, total)
        # The next range's logs are fetched and decoded in a second thread while this one is written.
        span, frm = FIRST_SPAN, start
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="index-fetch") as pool:
            pending = pool.submit(self._fetch, frm, min(frm + span - 1, target)) if frm <= target else None
            while pending is not None:
                fetched = pending.result()
                span = _next_span(span, fetched.to - fetched.frm + 1, len(fetched.rows))
                nxt = fetched.to + 1
                pending = pool.submit(self._fetch, nxt, min(nxt + span - 1, target)) if nxt <= target else None
                try:
                    self._write(fetched)
                except BaseException:
                    if pending is not None:
                        pending.cancel()
                    raise
                if progress:
                    progress(fetched.to - start + 1, total)
        with self.engine.connect() as db:
            return self._cursor(db)[0]

    def _rpc(self, method: str, params: list[Any]) -> Any:
        """One JSON-RPC call without web3's result formatters (the logs of a catch-up are many)."""
        return rpc(self.w3, method, params)

    def _header(self, number: int) -> tuple[str, int]:
        """The hash and time of block ``number``; _Moved when the chain has no such block (any more)."""
        block = self._rpc("eth_getBlockByNumber", [hex(number), False])
        if block is None:
            raise _Moved()
        return as_hex(block["hash"]), as_int(block["timestamp"])

    def _fetch(self, frm: int, to: int) -> _Fetched:
        """Reads and decodes the logs of blocks ``frm..to``.

        The last block's header is read before and after the logs: if its hash changed, the chain moved in
        between and the sync starts over. Block hashes come with the logs; block times too where the node
        sends ``blockTimestamp`` in logs (anvil, geth), else from the headers."""
        last_hash, last_time = self._header(to)
        logs = self._rpc("eth_getLogs", [{"address": [_checksum(a) for a in self.addresses],
                                          "fromBlock": hex(frm), "toBlock": hex(to)}])  # fmt: skip
        if self._header(to)[0] != last_hash:
            raise _Moved()
        block_rows: dict[int, dict[str, Any]] = {to: {"number": to, "hash": last_hash, "timestamp": last_time}}
        rows: list[dict[str, Any]] = []
        for entry in logs:
            if entry.get("removed"):
                continue
            topics = entry["topics"]
            decoder = self._decoders.get((str(entry["address"]).lower(), topics[0] if topics else ""))
            if decoder is None:
                continue
            number = int(entry["blockNumber"], 16)
            known = block_rows.get(number)
            if known is None:
                stamp = entry.get("blockTimestamp")
                known = block_rows[number] = {"number": number, "hash": entry["blockHash"],
                                              "timestamp": int(stamp, 16) if stamp else None}  # fmt: skip
            elif known["hash"] != entry["blockHash"]:  # logs of two branches in one answer
                raise _Moved()
            args = decoder.decode(topics, entry["data"])
            if decoder.name == "AgreementExecuted" and int(args["kind"]) in TERMED_KINDS:
                args.update(self._term(args["agreementId"], entry["blockHash"]))
            rows.append({"block": number, "log_index": int(entry["logIndex"], 16), "tx": entry["transactionHash"],
                         "contract": decoder.contract, "name": decoder.name, "args": args})  # fmt: skip
        for number, row in block_rows.items():
            if row["timestamp"] is None:
                block_hash, row["timestamp"] = self._header(number)
                if block_hash != row["hash"]:
                    raise _Moved()
        rows.sort(key=lambda r: (r["block"], r["log_index"]))
        return _Fetched(frm, to, last_hash, block_rows, rows)

    def _term(self, agreement_id: str, block_hash: str) -> dict[str, Any]:
        """A licence's or pledge's start and end (and a sublicence's parent licence), which its event does not
        carry: read from the contract at the
        block of the event (EIP-1898), so that a reorganisation cannot mix branches. Kept in the event's
        arguments, so a replay needs no chain."""
        if self._agreement_view is None:
            self._agreement_view = FunctionCodec(self.ledger.assets, "agreement")
        codec = self._agreement_view
        call = {"to": codec.address, "data": codec.encode(bytes.fromhex(agreement_id[2:]))}
        try:
            (view,) = codec.decode(rpc(self.w3, "eth_call", [call, {"blockHash": block_hash}]))
        except NodeRefused:
            # The node keeps no state at that block (the embedded node keeps the last blocks' states in memory
            # only, none from before a restart; docs/operations.md). Start and end are written once, when the
            # agreement is executed, so the latest state has them; one missing there was on another branch.
            (view,) = codec.decode(rpc(self.w3, "eth_call", [call, "latest"]))
            if int(view[6]) == 0:  # effectiveAt
                raise _Moved() from None
        parent = bytes(view[11])
        return {"start": int(view[4]), "end": int(view[5]), "parent": "0x" + parent.hex() if any(parent) else None}

    def _write(self, f: _Fetched) -> None:
        """Applies one fetched range in one database transaction, and moves the cursor to its last block."""
        with self.engine.begin() as db:
            if self._cursor(db, lock=True)[0] != f.frm - 1:  # another writer (a replica) moved the cursor meanwhile
                raise _Moved()
            have = set(db.execute(select(blocks.c.number).where(blocks.c.number.between(f.frm, f.to))).scalars())
            new_blocks = [row for number, row in sorted(f.block_rows.items()) if number not in have]
            if new_blocks:
                db.execute(insert(blocks), new_blocks)
            if f.rows:
                logged = [(r["block"], r["log_index"], r["tx"], r["contract"], r["name"],
                           json.dumps(r["args"], separators=(",", ":"))) for r in f.rows if r["name"] not in UNLOGGED]  # fmt: skip
                if logged:
                    _insert_many(db, events, ("block", "log_index", "tx", "contract", "name", "args"), logged)
                self._apply_all(db, f.rows, {n: int(r["timestamp"]) for n, r in f.block_rows.items()})
            self._set_cursor(db, f.to, f.last_hash)

    def _check_reorg(self) -> int | None:
        """Compares stored block hashes with the chain, newest first; on a mismatch deletes every event and
        block from the first mismatching block on and replays the rest. Returns the fork point, if any."""
        with self.engine.connect() as db:
            last, last_hash = self._cursor(db)
        if last_hash is None:
            return None
        good: int | None = None
        mismatch = False
        below: int | None = None
        while good is None:  # newest first, a page at a time: usually the newest block still matches
            stmt = select(blocks.c.number, blocks.c.hash).order_by(blocks.c.number.desc()).limit(64)
            if below is not None:
                stmt = stmt.where(blocks.c.number < below)
            with self.engine.connect() as db:
                page = db.execute(stmt).all()
            if not page:
                break
            for number, block_hash in page:
                try:
                    onchain: str | None = self._header(int(number))[0]
                except _Moved:  # no such block on this chain; a node that does not answer is not a fork
                    onchain = None
                if onchain == block_hash:
                    good = int(number)
                    break
                mismatch = True
            below = int(page[-1][0])
        if not mismatch:
            return None
        keep = good if good is not None else self.ledger.manifest.deploy_block - 1
        log.warning("chain reorganisation below block %s: rolling the index back to block %s", last, keep)
        with self.engine.begin() as db:
            db.execute(delete(events).where(events.c.block > keep))
            db.execute(delete(evidence).where(evidence.c.block > keep))
            db.execute(delete(blocks).where(blocks.c.number > keep))
            keep_hash = db.execute(select(blocks.c.hash).where(blocks.c.number == keep)).scalar()
            if keep_hash is None:
                db.execute(delete(cursor_table))
            else:
                self._set_cursor(db, keep, keep_hash)
            self._replay(db)
        return keep

    def _replay(self, db: Connection) -> None:
        for table in DERIVED:
            db.execute(delete(table))
        times = {int(n): int(t) for n, t in db.execute(select(blocks.c.number, blocks.c.timestamp)).all()}
        rows = [{**row, "args": json.loads(row["args"])}
                for row in db.execute(select(events).order_by(events.c.block, events.c.log_index)).mappings()]  # fmt: skip
        self._apply_all(db, rows, times, replay=True)

    def rebuild(self, progress: Callable[[int, int], None] | None = None, to_block: int | None = None) -> int:
        """Drops every index table and syncs from the deployment block."""
        with self._lock, _database_errors():
            metadata.drop_all(self.engine)
            self._open_schema()
        return self.sync(progress, to_block)

    # --- applying one event to the query tables ------------------------------------------------

    def _apply_all(self, db: Connection, rows: list[dict[str, Any]], times: Mapping[int, int], *,
                   replay: bool = False) -> None:  # fmt: skip
        """Applies decoded events in log order; runs of single registrations (the bulk of a catch-up) are
        inserted together, anything else one by one in between. A ``replay`` (after a reorganisation) leaves
        the evidence rows alone: those of the kept blocks are still there."""
        run: list[tuple[Any, ...]] = []
        for ev in rows:
            if ev["name"] == "EvidenceRegistered":
                a = ev["args"]
                run.append((a["binding"], "single", int(a["partyId"]), a["registrant"], int(a["algorithm"]),
                            a["metadataCommitment"], a["supersedes"], None, 0, ev["block"], ev["log_index"],
                            times[ev["block"]], ev["tx"]))  # fmt: skip
                continue
            if run:
                _insert_many(db, evidence, EVIDENCE_COLUMNS, run)
                run = []
            self._apply(db, ev, times[ev["block"]], replay=replay)
        if run:
            _insert_many(db, evidence, EVIDENCE_COLUMNS, run)

    def _apply(self, db: Connection, ev: dict[str, Any], ts: int, *, replay: bool = False) -> None:
        a = ev["args"]
        name = ev["name"]
        at = {"block": ev["block"], "log_index": ev["log_index"], "time": ts, "tx": ev["tx"]}
        if name in PARTY_EVENTS:
            self._party_event(db, name, a, at)
        if name == "EvidenceRegistered":
            db.execute(insert(evidence).values(
                content_hash=a["binding"], kind="single", party_id=int(a["partyId"]), registrant=a["registrant"],
                algorithm=int(a["algorithm"]), metadata_commitment=a["metadataCommitment"], supersedes=a["supersedes"],
                batch_root=None, item_index=0, **at))  # fmt: skip
        elif name == "BatchAnchored":
            db.execute(insert(batches).values(root=a["root"], anchorer=a["anchorer"], size=int(a["size"]), **at))
            if not replay:
                self._batch_items(db, a["root"], at)
        elif name == "PartyAdmitted":
            prof = a["profile"]
            if isinstance(prof, dict):
                prof = [prof[k] for k in ("kind", "jurisdiction", "scheme", "identifier", "nameZh", "nameEn")]
            kind, juris, scheme, identifier, name_zh, name_en = prof
            db.execute(insert(parties).values(
                party_id=int(a["partyId"]), kind=int(kind), jurisdiction=int(juris), scheme=int(scheme), identifier=identifier,
                identifier_commitment=a["identifierCommitment"], name_zh=name_zh, name_en=name_en, status="active", **at))  # fmt: skip
        elif name == "PartyAccountAdded":
            db.execute(delete(party_accounts).where(party_accounts.c.account == a["account"]))
            db.execute(insert(party_accounts).values(party_id=int(a["partyId"]), account=a["account"], block=ev["block"]))
        elif name == "PartyAccountRemoved":
            db.execute(delete(party_accounts).where(and_(party_accounts.c.party_id == int(a["partyId"]),
                                                         party_accounts.c.account == a["account"])))  # fmt: skip
        elif name in ("PartySuspended", "PartyReinstated"):
            status = "suspended" if name == "PartySuspended" else "active"
            db.execute(update(parties).where(parties.c.party_id == int(a["partyId"])).values(status=status))
        elif name == "AssetRegistered":
            owners = [{"partyId": int(o), "share": int(s)} for o, s in zip(a["owners"], a["shares"], strict=True)]
            db.execute(insert(assets).values(
                asset_id=int(a["assetId"]), jurisdiction=ASSET_JURISDICTIONS.get(int(a["jurisdiction"]), "OTHER"),
                kind=ASSET_KINDS.get(int(a["kind"]), "other_patent"), number_hash=a["numberHash"], owners=json.dumps(owners),
                details_hash=a["detailsHash"], frozen=False, status="claimed", **at))  # fmt: skip
            self._set_owners(db, int(a["assetId"]), owners)
        elif name in ("AssetConfirmed", "ClaimRejected"):
            db.execute(update(assets).where(assets.c.asset_id == int(a["assetId"])).values(
                status="confirmed" if name == "AssetConfirmed" else "struck", verifier=int(a["verifierPartyId"])))  # fmt: skip
        elif name in ("TitleTransferred", "TitleRestored"):
            owners = [{"partyId": int(o), "share": int(s)} for o, s in zip(a["owners"], a["shares"], strict=True)]
            db.execute(update(assets).where(assets.c.asset_id == int(a["assetId"])).values(owners=json.dumps(owners)))
            self._set_owners(db, int(a["assetId"]), owners)
        elif name == "AgreementSigned":
            db.execute(delete(pending_signatures).where(and_(pending_signatures.c.agreement_id == a["agreementId"],
                                                             pending_signatures.c.party_id == int(a["partyId"]))))  # fmt: skip
            db.execute(insert(pending_signatures).values(agreement_id=a["agreementId"], party_id=int(a["partyId"]), signer=a["signer"]))
        elif name == "AgreementExecuted":
            self._agreement(db, a, at)
        elif name in ("AgreementTerminated", "PledgeReleased", "AgreementVoided"):
            status = {"AgreementTerminated": "terminated", "PledgeReleased": "released", "AgreementVoided": "voided"}[name]
            db.execute(update(agreements).where(agreements.c.agreement_id == a["agreementId"])
                       .values(status=status, closed_block=ev["block"]))  # fmt: skip
            if name != "PledgeReleased":  # a licence's sublicences end with it (the contract derives the same)
                db.execute(update(agreements).where(and_(agreements.c.parent_licence == a["agreementId"],
                                                         agreements.c.status == "effective"))
                           .values(status="ended_with_parent", closed_block=ev["block"]))  # fmt: skip
        elif name in ("AssetFrozen", "AssetUnfrozen"):
            db.execute(update(assets).where(assets.c.asset_id == int(a["assetId"])).values(frozen=name == "AssetFrozen"))
            if name == "AssetFrozen":
                db.execute(update(disputes).where(disputes.c.dispute_id == a["disputeId"]).values(asset_id=int(a["assetId"])))
        elif name == "DisputeOpened":
            kind = SUBJECT_KINDS.get(int(a["kind"]), "unknown")
            asset_id: int | None = None
            if kind == "asset":
                asset_id = int(a["subjectId"], 16)
                asset_id = asset_id if asset_id < 2**63 else None
            elif kind == "agreement":
                asset_id = db.execute(select(agreements.c.asset_id).where(agreements.c.agreement_id == a["subjectId"])).scalar()
            db.execute(insert(disputes).values(
                dispute_id=a["disputeId"], subject_kind=kind, subject_id=a["subjectId"], asset_id=asset_id,
                institution=int(a["institution"]), claimant=int(a["claimant"]), respondent=int(a["respondent"]),
                claim_hash=a["claimHash"], arbitrators=",".join(a["arbitrators"]), status="open", **at))  # fmt: skip
        elif name == "DisputeClosed":
            db.execute(update(disputes).where(disputes.c.dispute_id == a["disputeId"]).values(
                status="closed", outcome=OUTCOMES.get(int(a["outcome"]), "unknown"), award_hash=a["awardHash"]))  # fmt: skip

    def _party_event(self, db: Connection, name: str, a: dict[str, Any], at: dict[str, Any]) -> None:
        """A party's suspension, recovery and account events: one history row each, and the party's suspension
        and pending recovery as the contract keeps them (the lapse of a provisional suspension is a matter of
        time, not of an event: :func:`party_record` judges it at the index's time, by the contract's rule)."""
        party_id = int(a["partyId"])
        account = a.get("account") or a.get("newAccount")
        detail = {k: (int(v) if isinstance(v, int) else v) for k, v in a.items() if k in ("executableAt", "nonce", "threshold", "reasonHash")}
        if name == "PartyAccountsChanged":
            detail["action"] = ACCOUNT_ACTION_NAMES.get(int(a["action"]), "unknown")
        db.execute(insert(party_events).values(party_id=party_id, event=PARTY_EVENTS[name], account=account,
                                               detail=json.dumps(detail) if detail else None, **at))  # fmt: skip
        row = parties.c.party_id == party_id
        if name == "PartySuspended":
            db.execute(update(parties).where(row).values(suspension="provisional", suspended_at=at["time"]))
        elif name == "PartySuspensionConfirmed":
            db.execute(update(parties).where(row).values(suspension="confirmed"))
        elif name == "PartyReinstated":
            db.execute(update(parties).where(row).values(suspension=None, suspended_at=None))
        elif name == "RecoveryProposed":
            db.execute(update(parties).where(row).values(recovery_account=a["newAccount"], recovery_at=int(a["executableAt"])))
        elif name in ("RecoveryVetoed", "RecoveryCancelled", "RecoveryExecuted"):
            db.execute(update(parties).where(row).values(recovery_account=None, recovery_at=None))

    def _set_owners(self, db: Connection, asset_id: int, owners: list[dict[str, int]]) -> None:
        db.execute(delete(asset_owners).where(asset_owners.c.asset_id == asset_id))
        for o in owners:
            db.execute(insert(asset_owners).values(asset_id=asset_id, party_id=o["partyId"], share=o["share"]))

    def _agreement(self, db: Connection, a: dict[str, Any], at: dict[str, Any]) -> None:
        agreement_id, asset_id = a["agreementId"], int(a["assetId"])
        kind = AGREEMENT_KINDS.get(int(a["kind"]), "unknown")
        grantor_role, grantee_role = ROLES.get(kind, ("grantor", "grantee"))
        owners = {int(p) for p in db.execute(select(asset_owners.c.party_id).where(asset_owners.c.asset_id == asset_id)).scalars()}
        sigs = db.execute(select(pending_signatures.c.party_id, pending_signatures.c.signer)
                          .where(pending_signatures.c.agreement_id == agreement_id)
                          .order_by(pending_signatures.c.party_id)).all()  # fmt: skip
        members = [{"partyId": int(p), "role": grantor_role if int(p) in owners else grantee_role, "signer": s} for p, s in sigs]
        db.execute(insert(agreements).values(
            agreement_id=agreement_id, asset_id=asset_id, kind=kind, status="effective", document_hash=a["documentHash"],
            details_hash=a["detailsHash"], parties=json.dumps(members), closed_block=None, start_time=a.get("start"),
            end_time=a.get("end"), parent_licence=a.get("parent"), **at))  # fmt: skip
        for m in members:
            db.execute(insert(agreement_parties).values(agreement_id=agreement_id, party_id=m["partyId"], role=m["role"]))
        db.execute(delete(pending_signatures).where(pending_signatures.c.agreement_id == agreement_id))

    def _batch_items(self, db: Connection, root: str, at: dict[str, Any]) -> None:
        """The items of an anchored batch, from the journal (the chain holds the root only)."""
        try:
            store = self.ledger.store
            batch = store.batch_by_root(bytes.fromhex(root[2:]))
        except Exception:  # no journal here: the batch is indexed without its items
            return
        if batch is None:
            return
        items: list[tuple[str, Any]] = [(_hex(content), sub) for sub in store.batch_submissions(batch.id)
                                        for content in store.submission_hashes(sub.id)]  # fmt: skip
        # registered before by the same party (singly or in an earlier batch): the earlier record stands
        taken: set[tuple[str, int]] = set()
        for k in range(0, len(items), 500):
            chunk = [content for content, _ in items[k : k + 500]]
            taken.update((str(b), int(p)) for b, p in db.execute(
                select(evidence.c.content_hash, evidence.c.party_id).where(evidence.c.content_hash.in_(chunk))))
        rows = []
        for index, (content, sub) in enumerate(items):
            if (content, int(sub.party_id)) in taken:
                continue
            taken.add((content, int(sub.party_id)))
            rows.append((content, "batch", int(sub.party_id), sub.registrant, int(sub.algorithm), None, None, root, index,
                         at["block"], at["log_index"], at["time"], at["tx"]))  # fmt: skip
        if rows:
            _insert_many(db, evidence, EVIDENCE_COLUMNS, rows)

    # --- status and background running -----------------------------------------------------------

    def status(self) -> IndexStatus:
        with _database_errors(), self.engine.connect() as db:
            last, last_hash = self._cursor(db)
            counts = {t.name: int(db.execute(select(func.count()).select_from(t)).scalar() or 0)
                      for t in (evidence, batches, parties, assets, agreements, disputes)}  # fmt: skip
        try:
            head: int | None = int(self.w3.eth.block_number)
        except Exception:
            head = None
        conf = int(self.ledger.settings.confirmations)
        return {
            "database": self.engine.dialect.name,
            "lastBlock": last if last_hash is not None else None,
            "lastHash": last_hash,
            "head": head,
            "confirmations": conf,
            "behind": None if head is None else max(0, head - conf - last),
            "deployBlock": self.ledger.manifest.deploy_block,
            "counts": counts,
            "running": self._thread is not None and self._thread.is_alive(),
            "lastError": self.last_error,
        }

    def run_forever(self, stop: threading.Event, poll: float | None = None) -> None:
        """Syncs every ``poll`` seconds (Settings.index_poll) until ``stop`` is set; errors are logged and retried."""
        interval = float(poll if poll is not None else getattr(self.ledger.settings, "index_poll", 2.0))
        while not stop.is_set():
            try:
                self.sync()
                self.last_error = None
            except Exception as exc:  # a node restart or a database hiccup: try again next round
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("index sync failed: %s", self.last_error)
            stop.wait(interval)

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self.run_forever, args=(self._stop,), daemon=True, name="indexer")
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    # --- queries -----------------------------------------------------------------------------------

    def query(self, what: str, params: dict[str, str | None]) -> dict[str, Any]:
        with _database_errors():
            return QUERIES[what](self.engine, params)

    @functools.cached_property
    def suspension_period(self) -> int:
        """The party registry's ``suspensionConfirmationPeriod()`` (immutable: read once)."""
        return int(self.ledger.evidence.functions.suspensionConfirmationPeriod().call())

    def party(self, party_id: int, *, now: int | None = None, limit: int = PARTY_HISTORY_LIMIT) -> dict[str, Any] | None:
        """:func:`party_record` of ``party_id`` (None if not indexed yet)."""
        period = self.suspension_period
        with _database_errors():
            return party_record(self.engine, party_id, period=period, now=now, limit=limit)


@contextlib.contextmanager
def _database_errors() -> Iterator[None]:
    """A failing index database becomes IndexUnavailable: one line naming the driver's problem, no SQL."""
    try:
        yield
    except DBAPIError as exc:
        detail = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else type(exc).__name__
        raise IndexUnavailable(f"the index database failed: {detail}") from None


@dataclass(frozen=True)
class _Fetched:
    """The decoded logs of one block range, ready to be written."""

    frm: int
    to: int
    last_hash: str
    block_rows: dict[int, dict[str, Any]]
    rows: list[dict[str, Any]]


def _next_span(span: int, blocks_read: int, logs_read: int) -> int:
    """Blocks to ask for next: halved when a range held more than twice TARGET_LOGS, doubled (up to CHUNK)
    when it held less than half, so that busy stretches come in bounded answers and quiet ones in few calls."""
    if logs_read > 2 * TARGET_LOGS:
        return max(1, blocks_read // 2)
    if logs_read < TARGET_LOGS // 2:
        return min(CHUNK, max(span, blocks_read) * 2)
    return max(1, blocks_read)


class _Moved(LedgerError):
    """A block changed while a range was read; the next sync detects the reorganisation."""

    code = "chain_moved"

    def __init__(self) -> None:
        super().__init__("the chain reorganised while the index read it; try again")


# --- query helpers -------------------------------------------------------------------------------------


MAX_CURSOR = 256  # characters: base64 of a JSON list of at most a few BIGINTs


def encode_cursor(key: Iterable[int]) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(key), separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(text: str, size: int) -> list[int]:
    if len(text) > MAX_CURSOR:  # a real cursor is a few BIGINTs: nothing long (or deep) reaches the decoder
        raise InvalidInput("cursor is malformed (use nextCursor from a previous page)", field="cursor")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        key = json.loads(raw)
    except Exception:
        raise InvalidInput("cursor is malformed (use nextCursor from a previous page)", field="cursor") from None
    if not (isinstance(key, list) and len(key) == size and all(type(k) is int and 0 <= k <= INT64_MAX for k in key)):
        raise InvalidInput("cursor is malformed (use nextCursor from a previous page)", field="cursor")
    return key


def _limit(value: str | None) -> int:
    if value in (None, ""):
        return DEFAULT_LIMIT
    text = str(value)
    if not DIGITS_RE.fullmatch(text):  # ASCII digits only (ledger.inputs)
        raise InvalidInput(f"limit must be a whole number from 1 to {MAX_LIMIT}", field="limit")
    n = int(text) if len(text) <= 6 else MAX_LIMIT + 1
    if not 1 <= n <= MAX_LIMIT:
        raise InvalidInput(f"limit must be from 1 to {MAX_LIMIT} (got {text[:12]})", field="limit")
    return n


def _int(value: str | None, field: str) -> int | None:
    if value in (None, ""):
        return None
    return parse_uint(str(value), field, maximum=INT64_MAX)  # ASCII digits, a BIGINT (ledger.inputs)


def _time(value: str | None, field: str) -> int | None:
    """Unix seconds, or an ISO-8601 date or date-time (UTC unless an offset is given)."""
    if value in (None, ""):
        return None
    text = str(value).strip()
    if text.isdigit() or DIGITS_RE.fullmatch(text):  # unix seconds: ASCII digits, a BIGINT (ledger.inputs)
        return parse_uint(text, field, maximum=UNIX_TIME_MAX)
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"{field} must be unix seconds or an ISO-8601 date/time", field=field) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp())


def _range(params: dict[str, str | None]) -> tuple[int | None, int | None]:
    frm, to = _time(params.get("from"), "from"), _time(params.get("to"), "to")
    if frm is not None and to is not None and frm > to:
        raise InvalidInput("from is after to", field="from")
    return frm, to


def _choice(value: str | None, field: str, allowed: Iterable[str]) -> str | None:
    if value in (None, ""):
        return None
    allowed = list(allowed)
    if value not in allowed:
        raise InvalidInput(f"{field} must be one of {', '.join(allowed)}", field=field)
    return value


def _hash(value: str | None, field: str) -> str | None:
    if value in (None, ""):
        return None
    text = str(value).lower()
    text = text if text.startswith("0x") else "0x" + text
    if len(text) != 66 or any(c not in "0123456789abcdef" for c in text[2:]):
        raise InvalidInput(f"{field} must be 32 bytes of hex", field=field)
    return text


def check_params(params: dict[str, Any], allowed: Iterable[str]) -> None:
    allowed = set(allowed) | {"cursor", "limit"}
    for key in params:
        if key not in allowed:
            raise InvalidInput(f"unknown query parameter {key!r} (allowed: {', '.join(sorted(allowed))})", field=key)


def _page(engine: Engine, table: Table, conds: list[Any], params: dict[str, str | None], key_cols: list[Any],
          shape: Callable[[dict[str, Any]], dict[str, Any]]) -> dict[str, Any]:  # fmt: skip
    limit = _limit(params.get("limit"))
    if params.get("cursor"):
        key = decode_cursor(str(params["cursor"]), len(key_cols))
        # keyset pagination, newest first: (k1, k2, ...) < cursor as a row value, which both SQLite and
        # PostgreSQL answer with a range scan of the index that orders the list
        conds = [*conds, tuple_(*key_cols) < tuple_(*key)]
    stmt = select(table).where(and_(True, *conds)).order_by(*[c.desc() for c in key_cols]).limit(limit + 1)
    with engine.connect() as db:
        rows = [dict(r) for r in db.execute(stmt).mappings().all()]
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor([int(rows[-1][c.name]) for c in key_cols]) if more and rows else None
    return {"items": [shape(r) for r in rows], "nextCursor": next_cursor}


NO_BLOCK = 2**62  # a block bound that nothing reaches: the time range holds no indexed block

EVIDENCE_FILTERS = ("party", "from", "to", "kind", "registrant")
ASSET_FILTERS = ("owner", "number", "jurisdiction", "kind", "status")
AGREEMENT_FILTERS = ("party", "type", "status", "asset", "from", "to")
DISPUTE_FILTERS = ("party", "status", "asset")


def query_evidence(engine: Engine, params: dict[str, str | None]) -> dict[str, Any]:
    check_params(params, EVIDENCE_FILTERS)
    conds: list[Any] = []
    if (party := _int(params.get("party"), "party")) is not None:
        conds.append(evidence.c.party_id == party)
    frm, to = _range(params)
    if frm is not None or to is not None:
        # Block times never decrease, so the time range is a block range, which the indexes scan in order.
        # The bounds are looked up first and passed as values: PostgreSQL plans a scan of the ordering index
        # only when it can see them (with subqueries it fetched every matching row and sorted).
        with engine.connect() as db:
            if frm is not None:
                lo = db.execute(select(func.min(blocks.c.number)).where(blocks.c.timestamp >= frm)).scalar()
                conds += [evidence.c.block >= (NO_BLOCK if lo is None else int(lo)), evidence.c.time >= frm]
            if to is not None:
                hi = db.execute(select(func.max(blocks.c.number)).where(blocks.c.timestamp <= to)).scalar()
                conds += [evidence.c.block <= (-1 if hi is None else int(hi)), evidence.c.time <= to]
    if kind := _choice(params.get("kind"), "kind", ("single", "batch")):
        conds.append(evidence.c.kind == kind)
    if registrant := params.get("registrant"):
        if not Web3.is_address(registrant):
            raise InvalidInput("registrant must be an address", field="registrant")
        conds.append(evidence.c.registrant == Web3.to_checksum_address(registrant))

    def shape(r: dict[str, Any]) -> dict[str, Any]:
        return {"binding": r["content_hash"], "kind": r["kind"], "partyId": r["party_id"], "registrant": r["registrant"],
                "algorithm": ALGORITHMS.get(r["algorithm"], str(r["algorithm"])), "metadataCommitment": r["metadata_commitment"],
                "supersedes": r["supersedes"], "batchRoot": r["batch_root"], "blockNumber": r["block"], "time": r["time"],
                "transactionHash": r["tx"]}  # fmt: skip

    return _page(engine, evidence, conds, params, [evidence.c.block, evidence.c.log_index, evidence.c.item_index], shape)


def _number_hashes(number: str) -> list[str]:
    from ledger.domain.agreements import number_hash
    from ledger.services.assets import normalise_number

    text = number.strip()
    found = {_hex(number_hash(text)), _hex(number_hash(text.upper()))}
    for juris, kinds in (("CN", ("invention", "utility_model", "design")), ("HK", ("standard_patent_r",)),
                         ("PCT", ("pct_application",)), ("OTHER", ("other_patent",))):  # fmt: skip
        for kind in kinds:
            try:
                found.add(_hex(number_hash(normalise_number(juris, kind, text)[0])))
            except Exception:  # noqa: S112 - not a number of that jurisdiction/kind
                continue
    return sorted(found)


def query_assets(engine: Engine, params: dict[str, str | None]) -> dict[str, Any]:
    check_params(params, ASSET_FILTERS)
    conds: list[Any] = []
    if (owner := _int(params.get("owner"), "owner")) is not None:
        conds.append(assets.c.asset_id.in_(select(asset_owners.c.asset_id).where(asset_owners.c.party_id == owner)))
    if number := params.get("number"):
        conds.append(assets.c.number_hash.in_(_number_hashes(str(number))))
    if juris := params.get("jurisdiction"):
        juris = _choice(str(juris).upper(), "jurisdiction", ASSET_JURISDICTIONS.values())
        conds.append(assets.c.jurisdiction == juris)
    if kind := _choice(params.get("kind"), "kind", ASSET_KINDS.values()):
        conds.append(assets.c.kind == kind)
    if status := _choice(params.get("status"), "status", ASSET_STATUS_NOTES):
        conds.append(assets.c.status == status)

    def shape(r: dict[str, Any]) -> dict[str, Any]:
        return {"assetId": r["asset_id"], "jurisdiction": r["jurisdiction"], "kind": r["kind"], "numberHash": r["number_hash"],
                "owners": json.loads(r["owners"]), "detailsHash": r["details_hash"], "frozen": bool(r["frozen"]),
                "status": r["status"], "statusNote": ASSET_STATUS_NOTES[r["status"]], "verifierPartyId": r["verifier"],
                "blockNumber": r["block"], "time": r["time"], "transactionHash": r["tx"]}  # fmt: skip

    return _page(engine, assets, conds, params, [assets.c.block, assets.c.log_index], shape)


def _indexed_time(engine: Engine) -> int:
    """The time of the last block the index has read: "now" for whether a term has ended, so that an answer
    agrees with the rest of the index (0 before anything is indexed)."""
    with engine.connect() as db:
        last = db.execute(select(cursor_table.c.last_block).where(cursor_table.c.contract == "suite")).scalar()
        if last is None:
            return 0
        return int(db.execute(select(blocks.c.timestamp).where(blocks.c.number == last)).scalar() or 0)


def query_agreements(engine: Engine, params: dict[str, str | None]) -> dict[str, Any]:
    check_params(params, AGREEMENT_FILTERS)
    conds: list[Any] = []
    if (party := _int(params.get("party"), "party")) is not None:
        conds.append(agreements.c.agreement_id.in_(
            select(agreement_parties.c.agreement_id).where(agreement_parties.c.party_id == party)))
    if kind := _choice(params.get("type"), "type", AGREEMENT_KINDS.values()):
        conds.append(agreements.c.kind == kind)
    now = _indexed_time(engine)
    end = func.coalesce(agreements.c.end_time, 0)  # NULL (a transfer) would make NOT(...) unknown
    lapsed = and_(end > 0, end <= now)
    status = _choice(params.get("status"), "status", ("effective", "expired", "terminated", "released", "voided",
                                                      "ended_with_parent"))  # fmt: skip
    if status == "effective":
        conds += [agreements.c.status == "effective", ~lapsed]
    elif status == "expired":
        conds += [agreements.c.status == "effective", lapsed]
    elif status:
        conds.append(agreements.c.status == status)
    if (asset := _int(params.get("asset"), "asset")) is not None:
        conds.append(agreements.c.asset_id == asset)
    frm, to = _range(params)
    if frm is not None:
        conds.append(agreements.c.time >= frm)
    if to is not None:
        conds.append(agreements.c.time <= to)

    def shape(r: dict[str, Any]) -> dict[str, Any]:
        expired = r["status"] == "effective" and bool(r["end_time"]) and r["end_time"] <= now
        return {"agreementId": r["agreement_id"], "assetId": r["asset_id"], "type": r["kind"],
                "status": "expired" if expired else r["status"], "start": r["start_time"], "end": r["end_time"],
                "documentHash": r["document_hash"], "detailsHash": r["details_hash"], "parties": json.loads(r["parties"]),
                "parentLicence": r["parent_licence"], "blockNumber": r["block"], "time": r["time"], "transactionHash": r["tx"]}  # fmt: skip

    return _page(engine, agreements, conds, params, [agreements.c.block, agreements.c.log_index], shape)


def query_disputes(engine: Engine, params: dict[str, str | None]) -> dict[str, Any]:
    check_params(params, DISPUTE_FILTERS)
    conds: list[Any] = []
    if (party := _int(params.get("party"), "party")) is not None:
        conds.append(or_(disputes.c.claimant == party, disputes.c.respondent == party, disputes.c.institution == party))
    if status := _choice(params.get("status"), "status", codes.DisputeStatus.words()):
        conds.append(disputes.c.status == status)
    if (asset := _int(params.get("asset"), "asset")) is not None:
        conds.append(disputes.c.asset_id == asset)

    def shape(r: dict[str, Any]) -> dict[str, Any]:
        return {"disputeId": r["dispute_id"], "subjectKind": r["subject_kind"], "subjectId": r["subject_id"],
                "assetId": r["asset_id"], "institution": r["institution"], "claimant": r["claimant"],
                "respondent": r["respondent"], "claimHash": r["claim_hash"], "arbitrators": r["arbitrators"].split(","),
                "status": r["status"], "outcome": r["outcome"], "awardHash": r["award_hash"], "blockNumber": r["block"],
                "time": r["time"], "transactionHash": r["tx"]}  # fmt: skip

    return _page(engine, disputes, conds, params, [disputes.c.block, disputes.c.log_index], shape)


QUERIES: dict[str, Callable[[Engine, dict[str, str | None]], dict[str, Any]]] = {
    "evidence": query_evidence, "assets": query_assets, "agreements": query_agreements, "disputes": query_disputes,
}


def suspension_state(suspension: str | None, suspended_at: int | None, period: int, now: int) -> tuple[str, int | None]:
    """A suspension record judged at ``now`` by the contract's rule (``PartyRegistry._inForce``): a confirmed
    suspension is in force; a provisional one until ``suspended_at + period`` (then "lapsed"); returns the
    state and, for a provisional or lapsed one, the time it lapses (lapsed)."""
    if suspension == "confirmed":
        return "confirmed", None
    if suspension == "provisional":
        lapses_at = int(suspended_at or 0) + int(period)
        return ("provisional" if now < lapses_at else "lapsed"), lapses_at
    return "none", None


def party_history_item(row: Mapping[str, Any]) -> dict[str, Any]:
    """One ``party_events`` row as the API shows it."""
    item: dict[str, Any] = {"event": row["event"], "time": int(row["time"]), "block": int(row["block"]),
                            "transactionHash": row["tx"]}  # fmt: skip
    if row["account"]:
        item["newAccount" if row["event"].startswith("recovery_") and row["event"] != "recovery_vetoed" else "account"] = row["account"]
    if row["detail"]:
        item.update(json.loads(row["detail"]))
    return item


def party_record(engine: Engine, party_id: int, *, period: int, now: int | None = None,
                 limit: int = PARTY_HISTORY_LIMIT) -> dict[str, Any] | None:  # fmt: skip
    """A party as the index has read it: its suspension judged at ``now`` (default: the time of the last indexed
    block) by the contract's rule, so that a registrar's suspension reads "lapsed" once its confirmation period
    has passed without a confirmation, and "reinstated" once lifted; its pending recovery; and its history, newest
    first, at most ``limit`` entries (``total`` counts them all), with a lapse as an entry at its time (it has no
    event). None if the index has not read the party's admission."""
    limit = max(1, min(int(limit), MAX_LIMIT))
    with engine.connect() as db:
        row = db.execute(select(parties).where(parties.c.party_id == party_id)).mappings().first()
        if row is None:
            return None
        total = int(db.execute(select(func.count()).select_from(party_events).where(party_events.c.party_id == party_id)).scalar() or 0)
        rows = db.execute(select(party_events).where(party_events.c.party_id == party_id)
                          .order_by(party_events.c.block.desc(), party_events.c.log_index.desc()).limit(limit)).mappings().all()  # fmt: skip
        last_lift = db.execute(select(func.max(party_events.c.block)).where(and_(party_events.c.party_id == party_id,
                                                                                 party_events.c.event == "reinstated"))).scalar()  # fmt: skip
    now = _indexed_time(engine) if now is None else int(now)
    state, lapses_at = suspension_state(row["suspension"], row["suspended_at"], period, now)
    if state == "none" and last_lift is not None:
        state = "reinstated"
    history = [party_history_item(dict(r)) for r in rows]
    if state == "lapsed" and lapses_at is not None:
        history.append({"event": "suspension_lapsed", "time": lapses_at, "block": None, "transactionHash": None})
        history.sort(key=lambda e: (e["time"], e["block"] if e["block"] is not None else -1), reverse=True)
        history = history[:limit]
        total += 1
    recovery = ({"newAccount": row["recovery_account"], "executableAt": int(row["recovery_at"])}
                if row["recovery_at"] is not None else None)  # fmt: skip
    return {"partyId": party_id, "suspensionState": state, "suspensionLapsesAt": lapses_at, "pendingRecovery": recovery,
            "history": history, "historyTotal": total, "asOf": now}  # fmt: skip


def open_index(ledger: Ledger) -> Indexer:
    """The indexer of ``ledger`` on Settings.index_url (default SQLite in the data dir)."""
    settings = ledger.settings
    if not getattr(settings, "index_url", None):
        from ledger.chain.node import ensure_writable_dir

        ensure_writable_dir(Path(settings.data_dir))
    return Indexer(ledger, make_engine(default_url(settings)))
