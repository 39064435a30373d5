"""Disputes: opened and closed by the arbitration institution — EIP-712 signatures of distinct accounts of it,
at least max(its threshold, 2), or of one wallet account of it — relayed; the contract applies the award."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import Response

from api.deps import LedgerDep
from api.openapi import binary, errors
from api.schemas import AwardCreate, AwardFields, DisputeCreate, DisputeFields
from ledger.domain.evidence import parse_signature
from ledger.domain.results import DisputePayload, DisputeView

router = APIRouter(tags=["disputes"])
DisputeIdPath = Annotated[str, Path(max_length=130, description="Dispute id: 32 bytes hex")]


@router.post(
    "/v1/disputes/payload",
    response_model=DisputePayload,
    responses=errors(404),
    summary="Typed data the institution's arbitrators sign to open a dispute",
)
def open_payload(body: DisputeFields, ledger: LedgerDep) -> DisputePayload:
    req = ledger.dispute_service.open_request(body.model_dump())
    return {"typedData": req.message(ledger.dispute_service.domain())}


@router.post(
    "/v1/disputes",
    response_model=DisputeView,
    responses=errors(403, 404, 409),
    status_code=201,
    summary="Open a dispute (freezes the asset)",
)
def open_dispute(body: DisputeCreate, ledger: LedgerDep) -> DisputeView:
    """Relays the institution's signed `OpenDispute`. The contract checks the signers are distinct accounts of
    the named active arbitration institution, enough of them (max(its threshold, 2), or one wallet account),
    that the institution is not a party, and freezes the asset concerned until the award."""
    data = body.model_dump()
    return ledger.dispute_service.open(data, _signatures(data.pop("signatures")))


@router.get("/v1/disputes/{dispute_id}", response_model=DisputeView, responses=errors(404), summary="A dispute")
def show(dispute_id: DisputeIdPath, ledger: LedgerDep) -> DisputeView:
    return ledger.dispute_service.show(dispute_id)


@router.post(
    "/v1/disputes/{dispute_id}/award/payload",
    response_model=DisputePayload,
    responses=errors(404, 409),
    summary="Typed data the institution's arbitrators sign to close a dispute",
)
def award_payload(dispute_id: DisputeIdPath, body: AwardFields, ledger: LedgerDep) -> DisputePayload:
    req = ledger.dispute_service.close_request(dispute_id, body.model_dump())
    return {"typedData": req.message(ledger.dispute_service.domain())}


@router.post(
    "/v1/disputes/{dispute_id}/award",
    response_model=DisputeView,
    responses=errors(403, 404, 409),
    summary="Close a dispute with an award that takes effect on chain",
)
def award(dispute_id: DisputeIdPath, body: AwardCreate, ledger: LedgerDep) -> DisputeView:
    """dismissed: the asset is unfrozen; agreement_voided: the disputed agreement is void from now (a licence's
    sublicences end with it; a voided assignment or equity contribution that made the current title gives the
    title back to its assignors with their shares); title_restored: the asset goes to the named owners (shares
    summing to 10000). One transaction; the freeze this dispute put is lifted by it, and only by it. Signed like
    the opening, by the institution the dispute is before."""
    data = body.model_dump()
    return ledger.dispute_service.close(dispute_id, data, _signatures(data.pop("signatures")))


def _signatures(items: list[dict[str, str]]) -> list[tuple[str, bytes]]:
    return [(item["signer"], parse_signature(item["signature"], "signatures")) for item in items]


@router.get(
    "/v1/disputes/{dispute_id}/case-file",
    summary="Case file (ZIP)",
    response_model=None,
    response_class=Response,
    responses={**binary("application/zip", "The case file, a ZIP archive (an attachment)."), **errors(404)},
)
def case_file(dispute_id: DisputeIdPath, ledger: LedgerDep) -> Response:
    """Every on-chain record about the dispute's subject in time order — evidence and agreement certificates,
    title events, the dispute's opening and award — each re-checkable with `ipledger verify-case`, and a
    bilingual summary PDF."""
    data = ledger.casefiles.build(dispute_id)
    return Response(
        data,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="case-{dispute_id[2:14]}.zip"'},
    )
