"""The index kept in step with the chain: catch-up, reorganisations and the background thread (:class:`Indexer`).

A catch-up reads logs with plain ``eth_getLogs`` calls (no web3 result formatting) and decodes them in a
second thread (``ledger.index.reader``), and writes each range in one database transaction with DB-API
``executemany``, moving the cursor in the same transaction: a crash leaves the index at the end of a whole
range. Blocks are read up to ``confirmations`` behind the head. A range whose last block changed while it
was read is read again, and a replica that moved the cursor meanwhile (PostgreSQL, several API processes)
makes this one re-check instead of writing twice.

A reorganisation is handled by deleting the evidence rows, events and block hashes from the first orphaned
block on, and replaying the remaining log into the other, emptied query tables: no row of an orphaned block
survives; a node that does not answer is never taken for one. Batched evidence items are not on chain one by
one: the batch root is, and its items come from the journal (``Store``) of the service that anchored it.

The indexer receives what it uses: the connection (``w3``), the deployment's address book (``manifest``), the
settings, the index's engine and, to read batch items, a way to open the journal.
"""

from __future__ import annotations

import functools
import json
import logging
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, and_, delete, func, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from web3 import Web3

from ledger.chain.deployment import Manifest, contract
from ledger.chain.node import ensure_writable_dir
from ledger.chain.rpc import as_hex
from ledger.domain.results import IndexPage, IndexStatus
from ledger.index.queries import PARTY_HISTORY_LIMIT, QUERIES, party_record
from ledger.index.reader import Fetched, Moved, RangeReader
from ledger.index.schema import (
    ACCOUNT_ACTION_NAMES,
    AGREEMENT_KINDS,
    ASSET_JURISDICTIONS,
    ASSET_KINDS,
    DERIVED,
    EVIDENCE_COLUMNS,
    OUTCOMES,
    PARTY_EVENTS,
    ROLES,
    SUBJECT_KINDS,
    agreement_parties,
    agreements,
    asset_owners,
    assets,
    batches,
    blocks,
    cursor_table,
    database_errors,
    default_url,
    disputes,
    events,
    evidence,
    insert_many,
    make_engine,
    metadata,
    open_or_set_aside,
    parties,
    party_accounts,
    party_events,
    pending_signatures,
)

if TYPE_CHECKING:
    from ledger.config import Settings
    from ledger.storage.journal import Store

log = logging.getLogger("ipledger.index")

CHUNK = 2000  # most blocks per eth_getLogs request
# Blocks of the first request of a sync; later spans adapt to aim at TARGET_LOGS logs each. Small, because the
# first answer is the only one nothing overlaps: the next range is fetched while the previous one is written.
FIRST_SPAN = 16
TARGET_LOGS = 4000

#: Events that only add an evidence row: not copied into ``events`` (see the module docstring).
UNLOGGED = frozenset({"EvidenceRegistered"})


class Indexer:
    """Follows the suite's events on ``w3`` (the contracts of ``manifest``) into ``engine``.

    ``journal`` opens the journal of the service that anchors batches, whose items the chain does not hold;
    without it (or when it cannot be opened) a batch is indexed without its items.
    """

    def __init__(
        self,
        w3: Web3,
        manifest: Manifest,
        settings: Settings,
        engine: Engine,
        *,
        journal: Callable[[], Store] | None = None,
    ) -> None:
        self.w3 = w3
        self.manifest = manifest
        self.settings = settings
        self.engine = engine
        self.journal = journal
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.last_error: str | None = None
        self.reader = RangeReader(w3, manifest)
        self.addresses = self.reader.addresses
        self._decoders = self.reader.decoders
        self._opened = False
        self._opening = threading.Lock()

    def _open(self) -> None:
        """Creates (or checks) the tables on first use rather than in the constructor: an index database that does
        not answer when the service starts leaves the index routes answering 503 `index_unavailable` and the
        background sync retrying, while the rest of the service runs."""
        if self._opened:
            return
        with self._opening:
            if not self._opened:
                with database_errors():
                    open_or_set_aside(self.engine)
                self._opened = True

    # --- syncing -------------------------------------------------------------------------------

    def _cursor(self, db: Connection, *, lock: bool = False) -> tuple[int, str | None]:
        """The last indexed block and its hash; ``lock`` holds the cursor row until the transaction ends
        (PostgreSQL: another replica writing the same range waits, then sees the cursor moved)."""
        stmt = select(cursor_table).where(cursor_table.c.contract == "suite")
        row = db.execute(stmt.with_for_update() if lock else stmt).first()
        if row is None:
            return self.manifest.deploy_block - 1, None
        return int(row.last_block), str(row.last_hash)

    def _set_cursor(self, db: Connection, number: int, block_hash: str) -> None:
        db.execute(delete(cursor_table).where(cursor_table.c.contract == "suite"))
        db.execute(insert(cursor_table).values(contract="suite", last_block=number, last_hash=block_hash))

    def target_block(self) -> int:
        return int(self.w3.eth.block_number) - int(self.settings.confirmations)

    def sync(self, progress: Callable[[int, int], None] | None = None, to_block: int | None = None) -> int:
        """Reads events up to ``to_block`` (default: ``confirmations`` behind the head); returns the last
        indexed block. ``progress(done_blocks, total_blocks)`` is called after each range."""
        self._open()
        with self._lock, database_errors():
            for attempt in range(5):
                try:
                    return self._sync(progress, to_block)
                except Moved:  # the chain reorganised while a range was read: check again and re-read
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
            read = self.reader.read
            pending = pool.submit(read, frm, min(frm + span - 1, target)) if frm <= target else None
            while pending is not None:
                fetched = pending.result()
                span = _next_span(span, fetched.to - fetched.frm + 1, len(fetched.rows))
                nxt = fetched.to + 1
                pending = pool.submit(read, nxt, min(nxt + span - 1, target)) if nxt <= target else None
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

    def _header(self, number: int) -> tuple[str, int]:
        return self.reader.header(number)

    def _write(self, f: Fetched) -> None:
        """Applies one fetched range in one database transaction, and moves the cursor to its last block."""
        with self.engine.begin() as db:
            if self._cursor(db, lock=True)[0] != f.frm - 1:  # another writer (a replica) moved the cursor meanwhile
                raise Moved()
            have = set(db.execute(select(blocks.c.number).where(blocks.c.number.between(f.frm, f.to))).scalars())
            new_blocks = [row for number, row in sorted(f.block_rows.items()) if number not in have]
            if new_blocks:
                db.execute(insert(blocks), new_blocks)
            if f.rows:
                logged = [
                    (
                        r["block"],
                        r["log_index"],
                        r["tx"],
                        r["contract"],
                        r["name"],
                        json.dumps(r["args"], separators=(",", ":")),
                    )
                    for r in f.rows
                    if r["name"] not in UNLOGGED
                ]
                if logged:
                    insert_many(db, events, ("block", "log_index", "tx", "contract", "name", "args"), logged)
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
                except Moved:  # no such block on this chain; a node that does not answer is not a fork
                    onchain = None
                if onchain == block_hash:
                    good = int(number)
                    break
                mismatch = True
            below = int(page[-1][0])
        if not mismatch:
            return None
        keep = good if good is not None else self.manifest.deploy_block - 1
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
        rows = [
            {**row, "args": json.loads(row["args"])}
            for row in db.execute(select(events).order_by(events.c.block, events.c.log_index)).mappings()
        ]
        self._apply_all(db, rows, times, replay=True)

    def rebuild(self, progress: Callable[[int, int], None] | None = None, to_block: int | None = None) -> int:
        """Drops every index table and syncs from the deployment block."""
        with self._lock, database_errors():
            self._opened = False
            try:
                metadata.drop_all(self.engine)
            except DBAPIError:
                if self.engine.dialect.name != "sqlite":
                    raise
                # a damaged SQLite file, which open_or_set_aside sets aside
            open_or_set_aside(self.engine)
            self._opened = True
        return self.sync(progress, to_block)

    # --- applying one event to the query tables ------------------------------------------------

    def _apply_all(
        self, db: Connection, rows: list[dict[str, Any]], times: Mapping[int, int], *, replay: bool = False
    ) -> None:
        """Applies decoded events in log order; runs of single registrations (the bulk of a catch-up) are
        inserted together, anything else one by one in between. A ``replay`` (after a reorganisation) leaves
        the evidence rows alone: those of the kept blocks are still there."""
        run: list[tuple[Any, ...]] = []
        for ev in rows:
            if ev["name"] == "EvidenceRegistered":
                a = ev["args"]
                run.append(
                    (
                        a["binding"],
                        "single",
                        int(a["partyId"]),
                        a["registrant"],
                        int(a["algorithm"]),
                        a["metadataCommitment"],
                        a["supersedes"],
                        None,
                        0,
                        ev["block"],
                        ev["log_index"],
                        times[ev["block"]],
                        ev["tx"],
                    )
                )
                continue
            if run:
                insert_many(db, evidence, EVIDENCE_COLUMNS, run)
                run = []
            self._apply(db, ev, times[ev["block"]], replay=replay)
        if run:
            insert_many(db, evidence, EVIDENCE_COLUMNS, run)

    def _apply(self, db: Connection, ev: dict[str, Any], ts: int, *, replay: bool = False) -> None:
        a = ev["args"]
        name = ev["name"]
        at = {"block": ev["block"], "log_index": ev["log_index"], "time": ts, "tx": ev["tx"]}
        if name in PARTY_EVENTS:
            self._party_event(db, name, a, at)
        if name == "EvidenceRegistered":
            db.execute(
                insert(evidence).values(
                    content_hash=a["binding"],
                    kind="single",
                    party_id=int(a["partyId"]),
                    registrant=a["registrant"],
                    algorithm=int(a["algorithm"]),
                    metadata_commitment=a["metadataCommitment"],
                    supersedes=a["supersedes"],
                    batch_root=None,
                    item_index=0,
                    **at,
                )
            )
        elif name == "BatchAnchored":
            db.execute(insert(batches).values(root=a["root"], anchorer=a["anchorer"], size=int(a["size"]), **at))
            if not replay:
                self._batch_items(db, a["root"], at)
        elif name == "PartyAdmitted":
            prof = a["profile"]
            if isinstance(prof, dict):
                prof = [prof[k] for k in ("kind", "jurisdiction", "scheme", "identifier", "nameZh", "nameEn")]
            kind, juris, scheme, identifier, name_zh, name_en = prof
            db.execute(
                insert(parties).values(
                    party_id=int(a["partyId"]),
                    kind=int(kind),
                    jurisdiction=int(juris),
                    scheme=int(scheme),
                    identifier=identifier,
                    identifier_commitment=a["identifierCommitment"],
                    name_zh=name_zh,
                    name_en=name_en,
                    status="active",
                    **at,
                )
            )
        elif name == "PartyAccountAdded":
            db.execute(delete(party_accounts).where(party_accounts.c.account == a["account"]))
            db.execute(
                insert(party_accounts).values(party_id=int(a["partyId"]), account=a["account"], block=ev["block"])
            )
        elif name == "PartyAccountRemoved":
            db.execute(
                delete(party_accounts).where(
                    and_(party_accounts.c.party_id == int(a["partyId"]), party_accounts.c.account == a["account"])
                )
            )
        elif name in ("PartySuspended", "PartyReinstated"):
            status = "suspended" if name == "PartySuspended" else "active"
            db.execute(update(parties).where(parties.c.party_id == int(a["partyId"])).values(status=status))
        elif name == "AssetRegistered":
            owners = [{"partyId": int(o), "share": int(s)} for o, s in zip(a["owners"], a["shares"], strict=True)]
            db.execute(
                insert(assets).values(
                    asset_id=int(a["assetId"]),
                    jurisdiction=ASSET_JURISDICTIONS.get(int(a["jurisdiction"]), "OTHER"),
                    kind=ASSET_KINDS.get(int(a["kind"]), "other_patent"),
                    number_hash=a["numberHash"],
                    owners=json.dumps(owners),
                    details_hash=a["detailsHash"],
                    frozen=False,
                    status="claimed",
                    **at,
                )
            )
            self._set_owners(db, int(a["assetId"]), owners)
        elif name in ("AssetConfirmed", "ClaimRejected"):
            db.execute(
                update(assets)
                .where(assets.c.asset_id == int(a["assetId"]))
                .values(
                    status="confirmed" if name == "AssetConfirmed" else "struck", verifier=int(a["verifierPartyId"])
                )
            )
        elif name in ("TitleTransferred", "TitleRestored"):
            owners = [{"partyId": int(o), "share": int(s)} for o, s in zip(a["owners"], a["shares"], strict=True)]
            db.execute(update(assets).where(assets.c.asset_id == int(a["assetId"])).values(owners=json.dumps(owners)))
            self._set_owners(db, int(a["assetId"]), owners)
        elif name == "AgreementSigned":
            db.execute(
                delete(pending_signatures).where(
                    and_(
                        pending_signatures.c.agreement_id == a["agreementId"],
                        pending_signatures.c.party_id == int(a["partyId"]),
                    )
                )
            )
            db.execute(
                insert(pending_signatures).values(
                    agreement_id=a["agreementId"], party_id=int(a["partyId"]), signer=a["signer"]
                )
            )
        elif name == "AgreementExecuted":
            self._agreement(db, a, at)
        elif name in ("AgreementTerminated", "PledgeReleased", "AgreementVoided"):
            status = {"AgreementTerminated": "terminated", "PledgeReleased": "released", "AgreementVoided": "voided"}[
                name
            ]
            db.execute(
                update(agreements)
                .where(agreements.c.agreement_id == a["agreementId"])
                .values(status=status, closed_block=ev["block"])
            )
            if name != "PledgeReleased":  # a licence's sublicences end with it (the contract derives the same)
                db.execute(
                    update(agreements)
                    .where(and_(agreements.c.parent_licence == a["agreementId"], agreements.c.status == "effective"))
                    .values(status="ended_with_parent", closed_block=ev["block"])
                )
        elif name in ("AssetFrozen", "AssetUnfrozen"):
            db.execute(
                update(assets).where(assets.c.asset_id == int(a["assetId"])).values(frozen=name == "AssetFrozen")
            )
            if name == "AssetFrozen":
                db.execute(
                    update(disputes).where(disputes.c.dispute_id == a["disputeId"]).values(asset_id=int(a["assetId"]))
                )
        elif name == "DisputeOpened":
            kind = SUBJECT_KINDS.get(int(a["kind"]), "unknown")
            asset_id: int | None = None
            if kind == "asset":
                asset_id = int(a["subjectId"], 16)
                asset_id = asset_id if asset_id < 2**63 else None
            elif kind == "agreement":
                asset_id = db.execute(
                    select(agreements.c.asset_id).where(agreements.c.agreement_id == a["subjectId"])
                ).scalar()
            db.execute(
                insert(disputes).values(
                    dispute_id=a["disputeId"],
                    subject_kind=kind,
                    subject_id=a["subjectId"],
                    asset_id=asset_id,
                    institution=int(a["institution"]),
                    claimant=int(a["claimant"]),
                    respondent=int(a["respondent"]),
                    claim_hash=a["claimHash"],
                    arbitrators=",".join(a["arbitrators"]),
                    status="open",
                    **at,
                )
            )
        elif name == "DisputeClosed":
            db.execute(
                update(disputes)
                .where(disputes.c.dispute_id == a["disputeId"])
                .values(status="closed", outcome=OUTCOMES.get(int(a["outcome"]), "unknown"), award_hash=a["awardHash"])
            )

    def _party_event(self, db: Connection, name: str, a: dict[str, Any], at: dict[str, Any]) -> None:
        """A party's suspension, recovery and account events: one history row each, and the party's suspension
        and pending recovery as the contract keeps them (the lapse of a provisional suspension is a matter of
        time, not of an event: :func:`party_record` judges it at the index's time, by the contract's rule)."""
        party_id = int(a["partyId"])
        account = a.get("account") or a.get("newAccount")
        detail = {
            k: (int(v) if isinstance(v, int) else v)
            for k, v in a.items()
            if k in ("executableAt", "nonce", "threshold", "reasonHash")
        }
        if name == "PartyAccountsChanged":
            detail["action"] = ACCOUNT_ACTION_NAMES.get(int(a["action"]), "unknown")
        db.execute(
            insert(party_events).values(
                party_id=party_id,
                event=PARTY_EVENTS[name],
                account=account,
                detail=json.dumps(detail) if detail else None,
                **at,
            )
        )
        row = parties.c.party_id == party_id
        if name == "PartySuspended":
            db.execute(update(parties).where(row).values(suspension="provisional", suspended_at=at["time"]))
        elif name == "PartySuspensionConfirmed":
            db.execute(update(parties).where(row).values(suspension="confirmed"))
        elif name == "PartyReinstated":
            db.execute(update(parties).where(row).values(suspension=None, suspended_at=None))
        elif name == "RecoveryProposed":
            db.execute(
                update(parties).where(row).values(recovery_account=a["newAccount"], recovery_at=int(a["executableAt"]))
            )
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
        owners = {
            int(p)
            for p in db.execute(select(asset_owners.c.party_id).where(asset_owners.c.asset_id == asset_id)).scalars()
        }
        sigs = db.execute(
            select(pending_signatures.c.party_id, pending_signatures.c.signer)
            .where(pending_signatures.c.agreement_id == agreement_id)
            .order_by(pending_signatures.c.party_id)
        ).all()
        members = [
            {"partyId": int(p), "role": grantor_role if int(p) in owners else grantee_role, "signer": s}
            for p, s in sigs
        ]
        db.execute(
            insert(agreements).values(
                agreement_id=agreement_id,
                asset_id=asset_id,
                kind=kind,
                status="effective",
                document_hash=a["documentHash"],
                details_hash=a["detailsHash"],
                parties=json.dumps(members),
                closed_block=None,
                start_time=a.get("start"),
                end_time=a.get("end"),
                parent_licence=a.get("parent"),
                **at,
            )
        )
        for m in members:
            db.execute(
                insert(agreement_parties).values(agreement_id=agreement_id, party_id=m["partyId"], role=m["role"])
            )
        db.execute(delete(pending_signatures).where(pending_signatures.c.agreement_id == agreement_id))

    def _batch_items(self, db: Connection, root: str, at: dict[str, Any]) -> None:
        """The items of an anchored batch, from the journal (the chain holds the root only)."""
        if self.journal is None:
            return
        try:
            store = self.journal()
            batch = store.batch_by_root(bytes.fromhex(root[2:]))
        except Exception:  # noqa: BLE001 - no journal here: the batch is indexed without its items
            return
        if batch is None:
            return
        items: list[tuple[str, Any]] = [
            (as_hex(content), sub)
            for sub in store.batch_submissions(batch.id)
            for content in store.submission_hashes(sub.id)
        ]
        # registered before by the same party (singly or in an earlier batch): the earlier record stands
        taken: set[tuple[str, int]] = set()
        for k in range(0, len(items), 500):
            chunk = [content for content, _ in items[k : k + 500]]
            taken.update(
                (str(b), int(p))
                for b, p in db.execute(
                    select(evidence.c.content_hash, evidence.c.party_id).where(evidence.c.content_hash.in_(chunk))
                )
            )
        rows = []
        for index, (content, sub) in enumerate(items):
            if (content, int(sub.party_id)) in taken:
                continue
            taken.add((content, int(sub.party_id)))
            rows.append(
                (
                    content,
                    "batch",
                    int(sub.party_id),
                    sub.registrant,
                    int(sub.algorithm),
                    None,
                    None,
                    root,
                    index,
                    at["block"],
                    at["log_index"],
                    at["time"],
                    at["tx"],
                )
            )
        if rows:
            insert_many(db, evidence, EVIDENCE_COLUMNS, rows)

    # --- status and background running -----------------------------------------------------------

    def status(self) -> IndexStatus:
        self._open()
        with database_errors(), self.engine.connect() as db:
            last, last_hash = self._cursor(db)
            counts = {
                t.name: int(db.execute(select(func.count()).select_from(t)).scalar() or 0)
                for t in (evidence, batches, parties, assets, agreements, disputes)
            }
        try:
            head: int | None = int(self.w3.eth.block_number)
        except Exception:  # noqa: BLE001 - the status still answers while the node does not
            head = None
        conf = int(self.settings.confirmations)
        return {
            "database": self.engine.dialect.name,
            "lastBlock": last if last_hash is not None else None,
            "lastHash": last_hash,
            "head": head,
            "confirmations": conf,
            "behind": None if head is None else max(0, head - conf - last),
            "deployBlock": self.manifest.deploy_block,
            "counts": counts,
            "running": self._thread is not None and self._thread.is_alive(),
            "lastError": self.last_error,
        }

    def run_forever(self, stop: threading.Event, poll: float | None = None) -> None:
        """Syncs every ``poll`` seconds (Settings.index_poll) until ``stop`` is set; errors are logged and retried."""
        interval = float(poll if poll is not None else getattr(self.settings, "index_poll", 2.0))
        while not stop.is_set():
            try:
                self.sync()
                self.last_error = None
            except Exception as exc:  # noqa: BLE001 - a node restart or a database hiccup: try again next round
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

    def query(self, what: str, params: dict[str, str | None]) -> IndexPage:
        self._open()
        with database_errors():
            return QUERIES[what](self.engine, params)

    @functools.cached_property
    def suspension_period(self) -> int:
        """The party registry's ``suspensionConfirmationPeriod()`` (immutable: read once)."""
        return int(contract(self.w3, self.manifest, "EvidenceRegistry").functions.suspensionConfirmationPeriod().call())

    def party(
        self, party_id: int, *, now: int | None = None, limit: int = PARTY_HISTORY_LIMIT
    ) -> dict[str, Any] | None:
        """:func:`party_record` of ``party_id`` (None if not indexed yet)."""
        period = self.suspension_period
        self._open()
        with database_errors():
            return party_record(self.engine, party_id, period=period, now=now, limit=limit)


def _next_span(span: int, blocks_read: int, logs_read: int) -> int:
    """Blocks to ask for next: halved when a range held more than twice TARGET_LOGS, doubled (up to CHUNK)
    when it held less than half, so that busy stretches come in bounded answers and quiet ones in few calls."""
    if logs_read > 2 * TARGET_LOGS:
        return max(1, blocks_read // 2)
    if logs_read < TARGET_LOGS // 2:
        return min(CHUNK, max(span, blocks_read) * 2)
    return max(1, blocks_read)


def open_index(
    w3: Web3, manifest: Manifest, settings: Settings, *, journal: Callable[[], Store] | None = None
) -> Indexer:
    """The indexer of the deployment ``manifest`` on ``w3``, on Settings.index_url (default SQLite in the data
    dir); ``journal`` as :class:`Indexer` takes it."""
    if not getattr(settings, "index_url", None):
        ensure_writable_dir(Path(settings.data_dir))
    return Indexer(w3, manifest, settings, make_engine(default_url(settings)), journal=journal)
