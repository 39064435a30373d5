"""The indexer: follows the suite's contract events into SQL (SQLAlchemy Core) for listing and search.

Every decoded event is kept in ``events`` (block, log index, name, arguments); the query tables (evidence,
batches, parties, assets, agreements, disputes, ...) are a pure function of that log, applied event by event.
So a reorganisation is handled by deleting the events (and block hashes) from the first orphaned block on,
and replaying the remaining log into emptied query tables: no row of an orphaned block survives.

The index is SQLite at ``DATA_DIR/index.sqlite3`` by default, or any SQLAlchemy URL (PostgreSQL through
psycopg: ``postgresql+psycopg://user@host/db``) in ``IPLEDGER_INDEX_URL``. Blocks are read up to
``confirmations`` behind the head. Batched evidence items are not on chain one by one: the batch root is,
and its items come from the journal (``Store``) of the service that anchored it.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eth_utils import event_abi_to_log_topic
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Engine,
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
    update,
)
from sqlalchemy.engine import Connection
from web3 import Web3
from web3._utils.events import get_event_data

from ledger.artifacts import SUITE, load_artifact
from ledger.errors import InvalidInput, LedgerError

if TYPE_CHECKING:
    from ledger.config import Settings
    from ledger.service import Ledger

log = logging.getLogger("ipledger.index")

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
CHUNK = 2000  # blocks per eth_getLogs request

metadata = MetaData()

blocks = Table(
    "blocks", metadata,
    Column("number", BigInteger, primary_key=True, autoincrement=False),
    Column("hash", String(66), nullable=False),
    Column("timestamp", BigInteger, nullable=False),
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
    Column("content_hash", String(66), primary_key=True),
    Column("kind", String(8), nullable=False),  # single | batch
    Column("party_id", BigInteger, nullable=False, index=True),
    Column("registrant", String(42), nullable=False),
    Column("algorithm", Integer, nullable=False),
    Column("metadata_commitment", String(66)),
    Column("supersedes", String(66)),
    Column("batch_root", String(66)),
    Column("block", BigInteger, nullable=False),
    Column("log_index", Integer, nullable=False),
    Column("item_index", Integer, nullable=False),
    Column("time", BigInteger, nullable=False, index=True),
    Column("tx", String(66), nullable=False),
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
    Column("status", String(12), nullable=False),
    Column("block", BigInteger, nullable=False),
    Column("log_index", Integer, nullable=False),
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
    Column("status", String(12), nullable=False),
    Column("document_hash", String(66), nullable=False),
    Column("details_hash", String(66), nullable=False),
    Column("parties", Text, nullable=False),  # JSON [{"partyId", "role", "signer"}]
    Column("block", BigInteger, nullable=False),
    Column("log_index", Integer, nullable=False),
    Column("time", BigInteger, nullable=False, index=True),
    Column("tx", String(66), nullable=False),
    Column("closed_block", BigInteger),
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
    Column("arbitrator", String(42), nullable=False),
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

#: Tables derived from the event log (emptied and replayed on a reorganisation).
DERIVED = (evidence, batches, parties, party_accounts, assets, asset_owners, agreements, agreement_parties,
           pending_signatures, disputes)  # fmt: skip

ASSET_JURISDICTIONS = {1: "CN", 2: "HK", 3: "PCT", 4: "OTHER"}
ASSET_KINDS = {1: "invention", 2: "utility_model", 3: "design", 4: "standard_patent_r", 5: "standard_patent_o",
               6: "short_term_patent", 7: "pct_application", 8: "other_patent"}  # fmt: skip
AGREEMENT_KINDS = {1: "assignment", 2: "licence", 3: "equity_contribution", 4: "pledge"}
ROLES = {"assignment": ("assignor", "assignee"), "licence": ("licensor", "licensee"),
         "equity_contribution": ("contributor", "company"), "pledge": ("pledgor", "pledgee")}  # fmt: skip
SUBJECT_KINDS = {1: "asset", 2: "agreement", 3: "evidence"}
OUTCOMES = {1: "dismissed", 2: "agreement_voided", 3: "title_restored"}
ALGORITHMS = {1: "sha256", 2: "sm3"}


def default_url(settings: Settings) -> str:
    return settings.index_url or f"sqlite:///{Path(settings.data_dir).resolve() / 'index.sqlite3'}"


def make_engine(url: str) -> Engine:
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return create_engine(url, future=True, pool_pre_ping=True)


def _hex(value: Any) -> str:
    return "0x" + bytes(value).hex()


def _jsonable(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        return _hex(value)
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


class Indexer:
    """Follows the suite's events on ``ledger.w3`` into ``engine``."""

    def __init__(self, ledger: Ledger, engine: Engine) -> None:
        self.ledger = ledger
        self.engine = engine
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.last_error: str | None = None
        self._topics: dict[tuple[str, bytes], tuple[str, dict[str, Any]]] = {}
        self.addresses: dict[str, str] = {}
        for name in SUITE:
            addr = Web3.to_checksum_address(ledger.manifest.address(name))
            self.addresses[addr.lower()] = name
            for item in load_artifact(name)["abi"]:
                if item["type"] == "event":
                    self._topics[(addr.lower(), event_abi_to_log_topic(item))] = (name, item)
        metadata.create_all(engine)

    # --- syncing -------------------------------------------------------------------------------

    @property
    def w3(self) -> Web3:
        return self.ledger.w3

    def _cursor(self, db: Connection) -> tuple[int, str | None]:
        row = db.execute(select(cursor_table).where(cursor_table.c.contract == "suite")).first()
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
        with self._lock:
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
        frm = start
        while frm <= target:
            to = min(frm + CHUNK - 1, target)
            self._read_range(frm, to)
            if progress:
                progress(to - start + 1, total)
            frm = to + 1
        with self.engine.connect() as db:
            return self._cursor(db)[0]

    def _read_range(self, frm: int, to: int) -> None:
        headers: dict[int, Any] = {}

        def header(n: int) -> Any:
            if n not in headers:
                headers[n] = self.w3.eth.get_block(n)
            return headers[n]

        # the range's last header before and after its logs: if the chain moved in between, read it again
        last = header(to)
        logs = self.w3.eth.get_logs({"address": [Web3.to_checksum_address(a) for a in self.addresses],
                                     "fromBlock": frm, "toBlock": to})  # fmt: skip
        if _hex(self.w3.eth.get_block(to)["hash"]) != _hex(last["hash"]):
            raise _Moved()
        with self.engine.begin() as db:
            for entry in sorted(logs, key=lambda x: (int(x["blockNumber"]), int(x["logIndex"]))):
                if entry.get("removed"):
                    continue
                number = int(entry["blockNumber"])
                hdr = header(number)
                if _hex(hdr["hash"]) != _hex(entry["blockHash"]):  # the chain moved under us: retry later
                    raise _Moved()
                topic = bytes(entry["topics"][0]) if entry["topics"] else b""
                found = self._topics.get((str(entry["address"]).lower(), topic))
                if found is None:
                    continue
                contract_name, abi = found
                decoded = get_event_data(self.w3.codec, abi, entry)
                if db.execute(select(blocks.c.number).where(blocks.c.number == number)).first() is None:
                    db.execute(insert(blocks).values(number=number, hash=_hex(hdr["hash"]), timestamp=int(hdr["timestamp"])))
                row = {"block": number, "log_index": int(entry["logIndex"]), "tx": _hex(entry["transactionHash"]),
                       "contract": contract_name, "name": decoded["event"],
                       "args": json.dumps(_jsonable(dict(decoded["args"])))}  # fmt: skip
                db.execute(insert(events).values(**row))
                self._apply(db, row, int(hdr["timestamp"]))
            if db.execute(select(blocks.c.number).where(blocks.c.number == to)).first() is None:
                db.execute(insert(blocks).values(number=to, hash=_hex(last["hash"]), timestamp=int(last["timestamp"])))
            self._set_cursor(db, to, _hex(last["hash"]))

    def _check_reorg(self) -> int | None:
        """Compares stored block hashes with the chain, newest first; on a mismatch deletes every event and
        block from the first mismatching block on and replays the rest. Returns the fork point, if any."""
        with self.engine.connect() as db:
            last, last_hash = self._cursor(db)
            if last_hash is None:
                return None
            stored = db.execute(select(blocks.c.number, blocks.c.hash).order_by(blocks.c.number.desc())).all()
        good: int | None = None
        mismatch = False
        for number, block_hash in stored:
            try:
                onchain = self.w3.eth.get_block(int(number))
            except Exception:
                onchain = None
            if onchain is not None and _hex(onchain["hash"]) == block_hash:
                good = int(number)
                break
            mismatch = True
        if not mismatch:
            return None
        keep = good if good is not None else self.ledger.manifest.deploy_block - 1
        log.warning("chain reorganisation below block %s: rolling the index back to block %s", last, keep)
        with self.engine.begin() as db:
            db.execute(delete(events).where(events.c.block > keep))
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
        times = dict(db.execute(select(blocks.c.number, blocks.c.timestamp)).all())
        for row in db.execute(select(events).order_by(events.c.block, events.c.log_index)).mappings().all():
            self._apply(db, dict(row), int(times[row["block"]]))

    def rebuild(self, progress: Callable[[int, int], None] | None = None, to_block: int | None = None) -> int:
        """Drops every index table and syncs from the deployment block."""
        with self._lock:
            metadata.drop_all(self.engine)
            metadata.create_all(self.engine)
        return self.sync(progress, to_block)

    # --- applying one event to the query tables ------------------------------------------------

    def _apply(self, db: Connection, ev: dict[str, Any], ts: int) -> None:
        a = json.loads(ev["args"])
        name = ev["name"]
        at = {"block": ev["block"], "log_index": ev["log_index"], "time": ts, "tx": ev["tx"]}
        if name == "EvidenceRegistered":
            db.execute(insert(evidence).values(
                content_hash=a["contentHash"], kind="single", party_id=int(a["partyId"]), registrant=a["registrant"],
                algorithm=int(a["algorithm"]), metadata_commitment=a["metadataCommitment"], supersedes=a["supersedes"],
                batch_root=None, item_index=0, **at))  # fmt: skip
        elif name == "BatchAnchored":
            db.execute(insert(batches).values(root=a["root"], anchorer=a["anchorer"], size=int(a["size"]), **at))
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
                details_hash=a["detailsHash"], frozen=False, **at))  # fmt: skip
            self._set_owners(db, int(a["assetId"]), owners)
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
                claim_hash=a["claimHash"], arbitrator=a["arbitrator"], status="open", **at))  # fmt: skip
        elif name == "DisputeClosed":
            db.execute(update(disputes).where(disputes.c.dispute_id == a["disputeId"]).values(
                status="closed", outcome=OUTCOMES.get(int(a["outcome"]), "unknown"), award_hash=a["awardHash"]))  # fmt: skip

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
            details_hash=a["detailsHash"], parties=json.dumps(members), closed_block=None, **at))  # fmt: skip
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
        index = 0
        for sub in store.batch_submissions(batch.id):
            for content in store.submission_hashes(sub.id):
                if db.execute(select(evidence.c.content_hash).where(evidence.c.content_hash == _hex(content))).first():
                    index += 1
                    continue
                db.execute(insert(evidence).values(
                    content_hash=_hex(content), kind="batch", party_id=int(sub.party_id), registrant=sub.registrant,
                    algorithm=int(sub.algorithm), metadata_commitment=None, supersedes=None, batch_root=root,
                    item_index=index, **at))  # fmt: skip
                index += 1

    # --- status and background running -----------------------------------------------------------

    def status(self) -> dict[str, Any]:
        with self.engine.connect() as db:
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
        return QUERIES[what](self.engine, params)


class _Moved(LedgerError):
    """A block changed while a range was read; the next sync detects the reorganisation."""

    code = "chain_moved"

    def __init__(self) -> None:
        super().__init__("the chain reorganised while the index read it; try again")


# --- query helpers -------------------------------------------------------------------------------------


def encode_cursor(key: Iterable[int]) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(key), separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(text: str, size: int) -> list[int]:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        key = json.loads(raw)
    except Exception:
        raise InvalidInput("cursor is malformed (use nextCursor from a previous page)", field="cursor") from None
    if not (isinstance(key, list) and len(key) == size and all(type(k) is int and k >= 0 for k in key)):
        raise InvalidInput("cursor is malformed (use nextCursor from a previous page)", field="cursor")
    return key


def _limit(value: str | None) -> int:
    if value in (None, ""):
        return DEFAULT_LIMIT
    try:
        n = int(str(value))
    except ValueError:
        raise InvalidInput(f"limit must be a whole number from 1 to {MAX_LIMIT}", field="limit") from None
    if not 1 <= n <= MAX_LIMIT:
        raise InvalidInput(f"limit must be from 1 to {MAX_LIMIT} (got {n})", field="limit")
    return n


def _int(value: str | None, field: str) -> int | None:
    if value in (None, ""):
        return None
    try:
        n = int(str(value))
    except ValueError:
        raise InvalidInput(f"{field} must be a whole number", field=field) from None
    if n < 0:
        raise InvalidInput(f"{field} must not be negative", field=field)
    return n


def _time(value: str | None, field: str) -> int | None:
    """Unix seconds, or an ISO-8601 date or date-time (UTC unless an offset is given)."""
    if value in (None, ""):
        return None
    text = str(value).strip()
    if text.isdigit():
        return int(text)
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
        # keyset pagination, newest first: (k1, k2, ...) < cursor, lexicographically
        ors = []
        for i in range(len(key_cols)):
            ors.append(and_(*[key_cols[j] == key[j] for j in range(i)], key_cols[i] < key[i]))
        conds = [*conds, or_(*ors)]
    stmt = select(table).where(and_(True, *conds)).order_by(*[c.desc() for c in key_cols]).limit(limit + 1)
    with engine.connect() as db:
        rows = [dict(r) for r in db.execute(stmt).mappings().all()]
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor([int(rows[-1][c.name]) for c in key_cols]) if more and rows else None
    return {"items": [shape(r) for r in rows], "nextCursor": next_cursor}


EVIDENCE_FILTERS = ("party", "from", "to", "kind", "registrant")
ASSET_FILTERS = ("owner", "number", "jurisdiction", "kind")
AGREEMENT_FILTERS = ("party", "type", "status", "asset", "from", "to")
DISPUTE_FILTERS = ("party", "status", "asset")


def query_evidence(engine: Engine, params: dict[str, str | None]) -> dict[str, Any]:
    check_params(params, EVIDENCE_FILTERS)
    conds: list[Any] = []
    if (party := _int(params.get("party"), "party")) is not None:
        conds.append(evidence.c.party_id == party)
    frm, to = _range(params)
    if frm is not None:
        conds.append(evidence.c.time >= frm)
    if to is not None:
        conds.append(evidence.c.time <= to)
    if kind := _choice(params.get("kind"), "kind", ("single", "batch")):
        conds.append(evidence.c.kind == kind)
    if registrant := params.get("registrant"):
        if not Web3.is_address(registrant):
            raise InvalidInput("registrant must be an address", field="registrant")
        conds.append(evidence.c.registrant == Web3.to_checksum_address(registrant))

    def shape(r: dict[str, Any]) -> dict[str, Any]:
        return {"contentHash": r["content_hash"], "kind": r["kind"], "partyId": r["party_id"], "registrant": r["registrant"],
                "algorithm": ALGORITHMS.get(r["algorithm"], str(r["algorithm"])), "metadataCommitment": r["metadata_commitment"],
                "supersedes": r["supersedes"], "batchRoot": r["batch_root"], "blockNumber": r["block"], "time": r["time"],
                "transactionHash": r["tx"]}  # fmt: skip

    return _page(engine, evidence, conds, params, [evidence.c.block, evidence.c.log_index, evidence.c.item_index], shape)


def _number_hashes(number: str) -> list[str]:
    from ledger.agreements import number_hash
    from ledger.assets import normalise_number

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

    def shape(r: dict[str, Any]) -> dict[str, Any]:
        return {"assetId": r["asset_id"], "jurisdiction": r["jurisdiction"], "kind": r["kind"], "numberHash": r["number_hash"],
                "owners": json.loads(r["owners"]), "detailsHash": r["details_hash"], "frozen": bool(r["frozen"]),
                "blockNumber": r["block"], "time": r["time"], "transactionHash": r["tx"]}  # fmt: skip

    return _page(engine, assets, conds, params, [assets.c.block, assets.c.log_index], shape)


def query_agreements(engine: Engine, params: dict[str, str | None]) -> dict[str, Any]:
    check_params(params, AGREEMENT_FILTERS)
    conds: list[Any] = []
    if (party := _int(params.get("party"), "party")) is not None:
        conds.append(agreements.c.agreement_id.in_(
            select(agreement_parties.c.agreement_id).where(agreement_parties.c.party_id == party)))
    if kind := _choice(params.get("type"), "type", AGREEMENT_KINDS.values()):
        conds.append(agreements.c.kind == kind)
    if status := _choice(params.get("status"), "status", ("effective", "terminated", "released", "voided")):
        conds.append(agreements.c.status == status)
    if (asset := _int(params.get("asset"), "asset")) is not None:
        conds.append(agreements.c.asset_id == asset)
    frm, to = _range(params)
    if frm is not None:
        conds.append(agreements.c.time >= frm)
    if to is not None:
        conds.append(agreements.c.time <= to)

    def shape(r: dict[str, Any]) -> dict[str, Any]:
        return {"agreementId": r["agreement_id"], "assetId": r["asset_id"], "type": r["kind"], "status": r["status"],
                "documentHash": r["document_hash"], "detailsHash": r["details_hash"], "parties": json.loads(r["parties"]),
                "blockNumber": r["block"], "time": r["time"], "transactionHash": r["tx"]}  # fmt: skip

    return _page(engine, agreements, conds, params, [agreements.c.block, agreements.c.log_index], shape)


def query_disputes(engine: Engine, params: dict[str, str | None]) -> dict[str, Any]:
    check_params(params, DISPUTE_FILTERS)
    conds: list[Any] = []
    if (party := _int(params.get("party"), "party")) is not None:
        conds.append(or_(disputes.c.claimant == party, disputes.c.respondent == party, disputes.c.institution == party))
    if status := _choice(params.get("status"), "status", ("open", "closed")):
        conds.append(disputes.c.status == status)
    if (asset := _int(params.get("asset"), "asset")) is not None:
        conds.append(disputes.c.asset_id == asset)

    def shape(r: dict[str, Any]) -> dict[str, Any]:
        return {"disputeId": r["dispute_id"], "subjectKind": r["subject_kind"], "subjectId": r["subject_id"],
                "assetId": r["asset_id"], "institution": r["institution"], "claimant": r["claimant"],
                "respondent": r["respondent"], "claimHash": r["claim_hash"], "arbitrator": r["arbitrator"],
                "status": r["status"], "outcome": r["outcome"], "awardHash": r["award_hash"], "blockNumber": r["block"],
                "time": r["time"], "transactionHash": r["tx"]}  # fmt: skip

    return _page(engine, disputes, conds, params, [disputes.c.block, disputes.c.log_index], shape)


QUERIES: dict[str, Callable[[Engine, dict[str, str | None]], dict[str, Any]]] = {
    "evidence": query_evidence, "assets": query_assets, "agreements": query_agreements, "disputes": query_disputes,
}


def open_index(ledger: Ledger) -> Indexer:
    """The indexer of ``ledger`` on Settings.index_url (default SQLite in the data dir)."""
    settings = ledger.settings
    if not getattr(settings, "index_url", None):
        from ledger.chain import ensure_writable_dir

        ensure_writable_dir(Path(settings.data_dir))
    return Indexer(ledger, make_engine(default_url(settings)))
