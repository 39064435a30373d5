"""The read queries the API (``/v1/index/*``) and the CLI (``ipledger index``) serve, over the index's tables.

Every parameter is parsed here, once for both front doors: a malformed or unknown one raises ``InvalidInput``
naming it (a 4xx, never a 500). Lists run newest first and page by keyset (``nextCursor``, an opaque base64 of
the last row's position): each filter has an index ending in the position, so a page is an index range scan on
SQLite and PostgreSQL alike. Time is the index's time (the last block it read), so that an answer agrees with
the rest of the index: a term has ended, or a provisional suspension lapsed, when the indexed chain says so.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Engine, Table, and_, func, or_, select, tuple_
from web3 import Web3

from ledger.chain.rpc import as_hex
from ledger.domain import codes
from ledger.domain.agreements import ASSET_STATUS_NOTES, number_hash
from ledger.domain.identifiers import normalise_number
from ledger.domain.inputs import DIGITS_RE, INT64_MAX, UNIX_TIME_MAX, parse_uint
from ledger.domain.results import (
    IndexedAgreement,
    IndexedAgreementPage,
    IndexedAsset,
    IndexedAssetPage,
    IndexedDispute,
    IndexedDisputePage,
    IndexedEvidence,
    IndexedEvidencePage,
    IndexPage,
)
from ledger.errors import InvalidInput
from ledger.index.schema import (
    AGREEMENT_KINDS,
    ALGORITHMS,
    ASSET_JURISDICTIONS,
    ASSET_KINDS,
    agreement_parties,
    agreements,
    asset_owners,
    assets,
    blocks,
    cursor_table,
    disputes,
    evidence,
    parties,
    party_events,
)

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
#: Most history entries a party answer carries (newest first).
PARTY_HISTORY_LIMIT = 50


MAX_CURSOR = 256  # characters: base64 of a JSON list of at most a few BIGINTs


def encode_cursor(key: Iterable[int]) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(key), separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(text: str, size: int) -> list[int]:
    if len(text) > MAX_CURSOR:  # a real cursor is a few BIGINTs: nothing long (or deep) reaches the decoder
        raise InvalidInput("cursor is malformed (use nextCursor from a previous page)", field="cursor")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        key = json.loads(raw)
    except ValueError:  # bad base64, bytes that are not UTF-8, or not JSON
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


T = TypeVar("T")


def check_params(params: dict[str, Any], allowed: Iterable[str]) -> None:
    allowed = set(allowed) | {"cursor", "limit"}
    for key in params:
        if key not in allowed:
            raise InvalidInput(f"unknown query parameter {key!r} (allowed: {', '.join(sorted(allowed))})", field=key)


def _page(
    engine: Engine,
    table: Table,
    conds: list[Any],
    params: dict[str, str | None],
    key_cols: list[Any],
    shape: Callable[[dict[str, Any]], T],
) -> tuple[list[T], str | None]:
    """One page of ``table``'s rows matching ``conds``, newest first, each shaped by ``shape``; and the cursor of the
    next page (None on the last)."""
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
    return [shape(r) for r in rows], next_cursor


NO_BLOCK = 2**62  # a block bound that nothing reaches: the time range holds no indexed block

EVIDENCE_FILTERS = ("party", "from", "to", "kind", "registrant")
ASSET_FILTERS = ("owner", "number", "jurisdiction", "kind", "status")
AGREEMENT_FILTERS = ("party", "type", "status", "asset", "from", "to")
DISPUTE_FILTERS = ("party", "status", "asset")


def query_evidence(engine: Engine, params: dict[str, str | None]) -> IndexedEvidencePage:
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

    def shape(r: dict[str, Any]) -> IndexedEvidence:
        return {
            "binding": r["content_hash"],
            "kind": r["kind"],
            "partyId": r["party_id"],
            "registrant": r["registrant"],
            "algorithm": ALGORITHMS.get(r["algorithm"], str(r["algorithm"])),
            "metadataCommitment": r["metadata_commitment"],
            "supersedes": r["supersedes"],
            "batchRoot": r["batch_root"],
            "blockNumber": r["block"],
            "time": r["time"],
            "transactionHash": r["tx"],
        }

    items, next_cursor = _page(
        engine, evidence, conds, params, [evidence.c.block, evidence.c.log_index, evidence.c.item_index], shape
    )
    return {"items": items, "nextCursor": next_cursor}


def _number_hashes(number: str) -> list[str]:
    text = number.strip()
    found = {as_hex(number_hash(text)), as_hex(number_hash(text.upper()))}
    for juris, kinds in (
        ("CN", ("invention", "utility_model", "design")),
        ("HK", ("standard_patent_r",)),
        ("PCT", ("pct_application",)),
        ("OTHER", ("other_patent",)),
    ):
        for kind in kinds:
            try:
                found.add(as_hex(number_hash(normalise_number(juris, kind, text)[0])))
            except InvalidInput:  # not a number of that jurisdiction/kind
                continue
    return sorted(found)


def query_assets(engine: Engine, params: dict[str, str | None]) -> IndexedAssetPage:
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

    def shape(r: dict[str, Any]) -> IndexedAsset:
        return {
            "assetId": r["asset_id"],
            "jurisdiction": r["jurisdiction"],
            "kind": r["kind"],
            "numberHash": r["number_hash"],
            "owners": json.loads(r["owners"]),
            "detailsHash": r["details_hash"],
            "frozen": bool(r["frozen"]),
            "status": r["status"],
            "statusNote": ASSET_STATUS_NOTES[r["status"]],
            "verifierPartyId": r["verifier"],
            "blockNumber": r["block"],
            "time": r["time"],
            "transactionHash": r["tx"],
        }

    items, next_cursor = _page(engine, assets, conds, params, [assets.c.block, assets.c.log_index], shape)
    return {"items": items, "nextCursor": next_cursor}


def _indexed_time(engine: Engine) -> int:
    """The time of the last block the index has read: "now" for whether a term has ended, so that an answer
    agrees with the rest of the index (0 before anything is indexed)."""
    with engine.connect() as db:
        last = db.execute(select(cursor_table.c.last_block).where(cursor_table.c.contract == "suite")).scalar()
        if last is None:
            return 0
        return int(db.execute(select(blocks.c.timestamp).where(blocks.c.number == last)).scalar() or 0)


def query_agreements(engine: Engine, params: dict[str, str | None]) -> IndexedAgreementPage:
    check_params(params, AGREEMENT_FILTERS)
    conds: list[Any] = []
    if (party := _int(params.get("party"), "party")) is not None:
        conds.append(
            agreements.c.agreement_id.in_(
                select(agreement_parties.c.agreement_id).where(agreement_parties.c.party_id == party)
            )
        )
    if kind := _choice(params.get("type"), "type", AGREEMENT_KINDS.values()):
        conds.append(agreements.c.kind == kind)
    now = _indexed_time(engine)
    end = func.coalesce(agreements.c.end_time, 0)  # NULL (a transfer) would make NOT(...) unknown
    lapsed = and_(end > 0, end <= now)
    status = _choice(
        params.get("status"),
        "status",
        ("effective", "expired", "terminated", "released", "voided", "ended_with_parent"),
    )
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

    def shape(r: dict[str, Any]) -> IndexedAgreement:
        expired = r["status"] == "effective" and bool(r["end_time"]) and r["end_time"] <= now
        return {
            "agreementId": r["agreement_id"],
            "assetId": r["asset_id"],
            "type": r["kind"],
            "status": "expired" if expired else r["status"],
            "start": r["start_time"],
            "end": r["end_time"],
            "documentHash": r["document_hash"],
            "detailsHash": r["details_hash"],
            "parties": json.loads(r["parties"]),
            "parentLicence": r["parent_licence"],
            "blockNumber": r["block"],
            "time": r["time"],
            "transactionHash": r["tx"],
        }

    items, next_cursor = _page(engine, agreements, conds, params, [agreements.c.block, agreements.c.log_index], shape)
    return {"items": items, "nextCursor": next_cursor}


def query_disputes(engine: Engine, params: dict[str, str | None]) -> IndexedDisputePage:
    check_params(params, DISPUTE_FILTERS)
    conds: list[Any] = []
    if (party := _int(params.get("party"), "party")) is not None:
        conds.append(or_(disputes.c.claimant == party, disputes.c.respondent == party, disputes.c.institution == party))
    if status := _choice(params.get("status"), "status", codes.DisputeStatus.words()):
        conds.append(disputes.c.status == status)
    if (asset := _int(params.get("asset"), "asset")) is not None:
        conds.append(disputes.c.asset_id == asset)

    def shape(r: dict[str, Any]) -> IndexedDispute:
        return {
            "disputeId": r["dispute_id"],
            "subjectKind": r["subject_kind"],
            "subjectId": r["subject_id"],
            "assetId": r["asset_id"],
            "institution": r["institution"],
            "claimant": r["claimant"],
            "respondent": r["respondent"],
            "claimHash": r["claim_hash"],
            "arbitrators": r["arbitrators"].split(","),
            "status": r["status"],
            "outcome": r["outcome"],
            "awardHash": r["award_hash"],
            "blockNumber": r["block"],
            "time": r["time"],
            "transactionHash": r["tx"],
        }

    items, next_cursor = _page(engine, disputes, conds, params, [disputes.c.block, disputes.c.log_index], shape)
    return {"items": items, "nextCursor": next_cursor}


QUERIES: dict[str, Callable[[Engine, dict[str, str | None]], IndexPage]] = {
    "evidence": query_evidence,
    "assets": query_assets,
    "agreements": query_agreements,
    "disputes": query_disputes,
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
    item: dict[str, Any] = {
        "event": row["event"],
        "time": int(row["time"]),
        "block": int(row["block"]),
        "transactionHash": row["tx"],
    }
    if row["account"]:
        item[
            "newAccount" if row["event"].startswith("recovery_") and row["event"] != "recovery_vetoed" else "account"
        ] = row["account"]
    if row["detail"]:
        item.update(json.loads(row["detail"]))
    return item


def party_record(
    engine: Engine, party_id: int, *, period: int, now: int | None = None, limit: int = PARTY_HISTORY_LIMIT
) -> dict[str, Any] | None:
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
        total = int(
            db.execute(
                select(func.count()).select_from(party_events).where(party_events.c.party_id == party_id)
            ).scalar()
            or 0
        )
        rows = (
            db.execute(
                select(party_events)
                .where(party_events.c.party_id == party_id)
                .order_by(party_events.c.block.desc(), party_events.c.log_index.desc())
                .limit(limit)
            )
            .mappings()
            .all()
        )
        last_lift = db.execute(
            select(func.max(party_events.c.block)).where(
                and_(party_events.c.party_id == party_id, party_events.c.event == "reinstated")
            )
        ).scalar()
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
    recovery = (
        {"newAccount": row["recovery_account"], "executableAt": int(row["recovery_at"])}
        if row["recovery_at"] is not None
        else None
    )
    return {
        "partyId": party_id,
        "suspensionState": state,
        "suspensionLapsesAt": lapses_at,
        "pendingRecovery": recovery,
        "history": history,
        "historyTotal": total,
        "asOf": now,
    }
