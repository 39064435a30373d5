"""Listing and search over the event index (``ledger.index``): evidence, assets, agreements, disputes.

Every list answers ``{"items": [...], "nextCursor": "..." | null}``, newest first (by block and log index).
``nextCursor`` is opaque and stable: pass it back as ``cursor`` for the next page; rows added meanwhile do
not shift pages. ``limit`` is 1–500 (default 50). Unknown parameters, repeated parameters, malformed
cursors, ``from`` after ``to`` and out-of-range limits answer 400 with ``error.field`` naming the input.
Numbers (ids, limits, unix seconds) are ASCII digits only and at most 2**63 − 1 (the index's BIGINT); the
parsing lives in ``ledger.index.queries`` so that the CLI's ``ipledger index`` applies the same rules.
Times are unix seconds or ISO-8601 (UTC unless an offset is given) and refer to the block time. The index
trails the chain by ``IPLEDGER_CONFIRMATIONS`` blocks; ``/v1/index/status`` says how far it has read.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from api.deps import LedgerDep
from ledger.domain.results import (
    IndexedAgreementPage,
    IndexedAssetPage,
    IndexedDisputePage,
    IndexedEvidencePage,
    IndexPage,
    IndexStatus,
)
from ledger.errors import InvalidInput
from ledger.facade import Ledger

router = APIRouter(tags=["index"])

Cursor = Annotated[str | None, Query(description="`nextCursor` of the previous page.")]
Limit = Annotated[str | None, Query(description="Page size, 1–500 (default 50), ASCII digits.")]
From = Annotated[
    str | None,
    Query(
        alias="from",
        description="Earliest block time (unix seconds in ASCII digits, at most 2**63 − 1, or ISO-8601), inclusive.",
    ),
]
To = Annotated[
    str | None,
    Query(description="Latest block time (unix seconds in ASCII digits or ISO-8601), inclusive; not before `from`."),
]
Party = Annotated[str | None, Query(description="A party id (ASCII digits, at most 2**63 − 1).")]


def _params(request: Request) -> dict[str, str | None]:
    params: dict[str, str | None] = {}
    for key, value in request.query_params.multi_items():
        if key in params:
            raise InvalidInput(f"query parameter {key!r} is given more than once", field=key)
        params[key] = value
    return params


def _run(ledger: Ledger, what: str, request: Request) -> IndexPage:
    return ledger.index.query(what, _params(request))


@router.get("/v1/index/evidence", response_model=IndexedEvidencePage, summary="List and search registered evidence")
def list_evidence(
    request: Request,
    ledger: LedgerDep,
    party: Party = None,
    from_: From = None,
    to: To = None,
    kind: Annotated[
        str | None, Query(description="`single` (registered alone) or `batch` (a Merkle batch item).")
    ] = None,
    registrant: Annotated[str | None, Query(description="The registering account (address).")] = None,
    cursor: Cursor = None,
    limit: Limit = None,
) -> IndexPage:
    """Evidence records: single registrations from the chain's `EvidenceRegistered` events, and the items of
    anchored batches (`BatchAnchored` roots, items from this service's journal). Filters: `party`, `from`/`to`
    (block time), `kind`, `registrant`. Each item: binding (docs/certificate.md "Bindings"), kind, partyId, registrant, algorithm,
    metadataCommitment, supersedes, batchRoot, blockNumber, time, transactionHash."""
    return _run(ledger, "evidence", request)


@router.get("/v1/index/assets", response_model=IndexedAssetPage, summary="List and search IP assets")
def list_assets(
    request: Request,
    ledger: LedgerDep,
    owner: Annotated[str | None, Query(description="A current owner's party id (ASCII digits).")] = None,
    number: Annotated[
        str | None, Query(description="Patent/application number, e.g. `201710601862.3` or `CN201710601862.3`.")
    ] = None,
    jurisdiction: Annotated[str | None, Query(description="`CN`, `HK`, `PCT` or `OTHER`.")] = None,
    kind: Annotated[str | None, Query(description="Asset kind, e.g. `invention`.")] = None,
    cursor: Cursor = None,
    limit: Limit = None,
) -> IndexPage:
    """Registered assets with their current owners (after transfers and restorations) and whether a dispute
    freezes them. Filters: `owner`, `number` (matched by its on-chain hash), `jurisdiction`, `kind`."""
    return _run(ledger, "assets", request)


@router.get("/v1/index/agreements", response_model=IndexedAgreementPage, summary="List and search agreements")
def list_agreements(
    request: Request,
    ledger: LedgerDep,
    party: Party = None,
    type: Annotated[
        str | None, Query(description="`assignment`, `licence`, `equity_contribution` or `pledge`.")
    ] = None,
    status: Annotated[
        str | None,
        Query(
            description="`effective`, `expired` (a licence or pledge past its end), `terminated`, `released`, `voided` or `ended_with_parent` (a sublicence whose parent licence was terminated or voided)."
        ),
    ] = None,
    asset: Annotated[str | None, Query(description="An asset id (ASCII digits, at most 2**63 − 1).")] = None,
    from_: From = None,
    to: To = None,
    cursor: Cursor = None,
    limit: Limit = None,
) -> IndexPage:
    """Executed agreements with their parties (from the `AgreementSigned` events of the executing transaction;
    role by whether the party owned the asset then), their term (`start`, `end`: licences and pledges) and
    status: the stored one, or `expired` for a licence or pledge past its end at the last indexed block.
    Filters: `party`, `type`, `status`, `asset`, `from`/`to` (execution block time)."""
    return _run(ledger, "agreements", request)


@router.get("/v1/index/disputes", response_model=IndexedDisputePage, summary="List and search disputes")
def list_disputes(
    request: Request,
    ledger: LedgerDep,
    party: Party = None,
    status: Annotated[str | None, Query(description="`open` or `closed`.")] = None,
    asset: Annotated[
        str | None, Query(description="The asset concerned (frozen by the dispute), ASCII digits.")
    ] = None,
    cursor: Cursor = None,
    limit: Limit = None,
) -> IndexPage:
    """Disputes with their institution, claimant, respondent, status and outcome. Filters: `party` (any of
    the three), `status`, `asset`."""
    return _run(ledger, "disputes", request)


@router.get("/v1/index/status", response_model=IndexStatus, summary="How far the index has read")
def index_status(request: Request, ledger: LedgerDep) -> IndexStatus:
    """The last indexed block and its hash, the chain head, the confirmations waited, how many blocks the
    index is behind, row counts, and whether the background indexer runs. Takes no parameters."""
    params = _params(request)
    if params:
        key = next(iter(params))
        raise InvalidInput(f"unknown query parameter {key!r} (this call takes none)", field=key)
    return ledger.index.status()
