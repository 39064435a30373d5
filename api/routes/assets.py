"""IP assets and agreements: registration, proposals, signatures, execution, termination, title reports."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import HTMLResponse, Response

from api.deps import LedgerDep
from api.openapi import CERTIFICATE_RESPONSE, errors
from api.schemas import (
    AgreementCreate,
    AssetCreate,
    AssetFields,
    AssetIdParam,
    ConfirmationIn,
    RejectionIn,
    ReleaseIn,
    SignatureIn,
    TerminationIn,
    UnixTimeParam,
    WithdrawalIn,
)
from ledger.domain.results import (
    AgreementView,
    AssetPayload,
    AssetView,
    CertificateDocument,
    TitleView,
    TypedData,
)

router = APIRouter(tags=["assets and agreements"])
AssetIdPath = Annotated[AssetIdParam, Path(description="Asset id, 1 … 2**63 − 1 (ASCII digits)")]
AgreementIdPath = Annotated[
    str, Path(max_length=130, description="Agreement id: 32 bytes hex (the EIP-712 struct hash of the terms)")
]


@router.post(
    "/v1/assets/payload",
    response_model=AssetPayload,
    responses=errors(404, 409),
    summary="Typed data for owners to sign before registering an asset",
)
def asset_payload(body: AssetFields, ledger: LedgerDep) -> dict[str, Any]:
    """Validates the fields (CN check digit, shares summing to 10000, known parties) and returns the EIP-712
    `AssetRegistration` every owner signs, and the off-chain details it commits to."""
    reg, details = ledger.asset_service.registration(body.model_dump())
    return {"typedData": reg.message(ledger.asset_service.domain()), "details": details}


@router.post(
    "/v1/assets",
    response_model=AssetView,
    responses=errors(403, 404, 409),
    status_code=201,
    summary="Register an asset signed by every owner",
)
def register_asset(body: AssetCreate, ledger: LedgerDep) -> AssetView:
    data = body.model_dump()
    signatures = data.pop("signatures")
    return ledger.asset_service.register(data, signatures)


@router.get(
    "/v1/assets/{asset_id}",
    response_model=AssetView,
    responses=errors(404),
    summary="An asset, its owners and shares, and its status",
)
def show_asset(ledger: LedgerDep, asset_id: AssetIdPath) -> AssetView:
    """`status` is `claimed` (registered, not yet confirmed by an asset verifier: no agreement can be executed on
    it), `confirmed` (an asset verifier checked it against the patent register) or `struck` (a verifier rejected
    the claim; the number is free); `statusNote` says so in words."""
    return ledger.asset_service.show(asset_id)


HashQuery = Annotated[str, Query(max_length=66, description="32 bytes hex")]
DeadlineQuery = Annotated[
    UnixTimeParam, Query(description="Signing deadline, unix time (ASCII digits), at most 365 days ahead")
]


@router.get(
    "/v1/assets/{asset_id}/confirmation",
    response_model=TypedData,
    responses=errors(404, 409),
    summary="Typed data a verifier signs to confirm a claim",
)
def confirmation_payload(
    ledger: LedgerDep,
    asset_id: AssetIdPath,
    registerExtractHash: HashQuery,  # noqa: N803
    deadline: DeadlineQuery,
) -> dict[str, Any]:
    """The EIP-712 `AssetConfirmation(uint256 assetId,bytes32 registerExtractHash,uint64 deadline)` an asset
    verifier signs with its own key after checking the claim against the patent register."""
    return ledger.asset_service.decision_payload(asset_id, "confirm", registerExtractHash, deadline)


@router.post(
    "/v1/assets/{asset_id}/confirmation",
    response_model=AssetView,
    responses=errors(403, 404, 409),
    summary="Confirm a claim (an asset verifier's signed AssetConfirmation, relayed)",
)
def confirm_asset(ledger: LedgerDep, asset_id: AssetIdPath, body: ConfirmationIn) -> dict[str, Any]:
    """Relays an asset verifier's confirmation: checked first (the asset is an open claim and not frozen; the
    signer is an account of an active asset verifier party, admitted by governance, owning no share of it; the
    signature verifies), then re-checked by the contract. From then on the asset can be dealt in."""
    return ledger.asset_service.decide(
        asset_id, "confirm", body.registerExtractHash, body.deadline, body.signer, body.signature
    )


@router.get(
    "/v1/assets/{asset_id}/rejection",
    response_model=TypedData,
    responses=errors(404, 409),
    summary="Typed data a verifier signs to reject a claim",
)
def rejection_payload(
    ledger: LedgerDep,
    asset_id: AssetIdPath,
    reasonHash: HashQuery,  # noqa: N803
    deadline: DeadlineQuery,
) -> dict[str, Any]:
    """The EIP-712 `ClaimRejection(uint256 assetId,bytes32 reasonHash,uint64 deadline)`."""
    return ledger.asset_service.decision_payload(asset_id, "reject", reasonHash, deadline)


@router.post(
    "/v1/assets/{asset_id}/rejection",
    response_model=AssetView,
    responses=errors(403, 404, 409),
    summary="Reject (strike) an unconfirmed claim (an asset verifier's signed ClaimRejection, relayed)",
)
def reject_claim(ledger: LedgerDep, asset_id: AssetIdPath, body: RejectionIn) -> dict[str, Any]:
    """Strikes a claim the verifier found false on the register: the number is free for a new claim. Only an
    unconfirmed claim is rejected; a confirmed title changes only by an arbitral award."""
    return ledger.asset_service.decide(asset_id, "reject", body.reasonHash, body.deadline, body.signer, body.signature)


@router.get(
    "/v1/assets/{asset_id}/title",
    response_model=TitleView,
    responses=errors(404),
    summary="Chain of title as of a time",
)
def title(
    ledger: LedgerDep,
    asset_id: AssetIdPath,
    at: Annotated[UnixTimeParam | None, Query(description="Unix time (ASCII digits); default now")] = None,
) -> TitleView:
    """Who owned the asset at `at`, under which agreement, which licences and pledges were in force, and
    every change of ownership, licence, pledge and freeze in time order (read from the chain's events)."""
    return ledger.asset_service.title(asset_id, at)


@router.post(
    "/v1/agreements",
    response_model=AgreementView,
    responses=errors(403, 404, 409),
    status_code=201,
    summary="Propose an agreement",
)
def propose(body: AgreementCreate, ledger: LedgerDep) -> AgreementView:
    """Stores the terms off chain and returns the agreement id (the EIP-712 struct hash of the terms), the
    typed data each party signs, and the parties whose signatures are needed."""
    return ledger.agreement_service.propose(body.model_dump(exclude_none=True))


@router.get(
    "/v1/agreements/{agreement_id}",
    response_model=AgreementView,
    responses=errors(404),
    summary="An agreement: terms, signatures, status",
)
def show_agreement(agreement_id: AgreementIdPath, ledger: LedgerDep) -> AgreementView:
    return ledger.agreement_service.agreement(agreement_id)


@router.post(
    "/v1/agreements/{agreement_id}/signatures",
    response_model=AgreementView,
    responses=errors(403, 404, 409),
    summary="Add a party's signature",
)
def sign(agreement_id: AgreementIdPath, body: SignatureIn, ledger: LedgerDep) -> AgreementView:
    """Checked at once: the signer must be an account of an active party to the agreement and the signature
    must verify for these terms."""
    return ledger.agreement_service.add_signature(agreement_id, body.signer, body.signature)


@router.post(
    "/v1/agreements/{agreement_id}/execute",
    response_model=AgreementView,
    responses=errors(403, 404, 409),
    summary="Put the agreement into effect",
)
def execute(agreement_id: AgreementIdPath, ledger: LedgerDep) -> AgreementView:
    """Submits every signature in one transaction, all-or-nothing; the contract re-checks every rule."""
    return ledger.agreement_service.execute(agreement_id)


@router.get(
    "/v1/agreements/{agreement_id}/certificate",
    summary="Agreement certificate (JSON, PDF or HTML)",
    response_model=CertificateDocument,
    responses={200: CERTIFICATE_RESPONSE, **errors(404, 409)},
)
def agreement_certificate(
    agreement_id: AgreementIdPath,
    ledger: LedgerDep,
    format: Literal["json", "pdf", "html"] = Query("json", description="json (default), pdf or html"),
) -> Any:  # noqa: A002
    """Everything an arbitrator needs to check alone that the agreement took effect on chain, when, on which
    terms and signed by whom: the terms and details, every party's signature, the transaction and block.
    Verify with `POST /v1/verify` or `ipledger verify`; the checks are described in docs/agreements.md.
    `pdf` and `html` print it in words, Chinese and English side by side (the patent, the parties, the type,
    territory, term, royalty and status when issued; raw values in an appendix), with the portal's link to the
    agreement (`/?agreement=0x…`) as text and, in the PDF, a QR code."""
    doc = ledger.agreement_service.certificate(agreement_id)
    if format in ("html", "pdf"):
        from ledger.certificates.render.agreement import portal_url, render_html, render_pdf

        url = portal_url(ledger.settings.public_url, doc["agreement"]["id"])
        if format == "html":
            return HTMLResponse(render_html(doc, verify_url=url))
        return Response(
            render_pdf(doc, verify_url=url),
            media_type="application/pdf",
            headers={"Content-Disposition": f'attachment; filename="agreement-{doc["agreement"]["id"][2:18]}.pdf"'},
        )
    return doc


@router.get(
    "/v1/agreements/{agreement_id}/termination",
    response_model=TypedData,
    responses=errors(404, 409),
    summary="Typed data to sign a termination",
)
def termination_payload(
    agreement_id: AgreementIdPath,
    ledger: LedgerDep,
    deadline: Annotated[UnixTimeParam, Query(description="Signing deadline, unix time (ASCII digits)")],
) -> dict[str, Any]:
    return ledger.agreement_service.termination_payload(agreement_id, deadline)


@router.post(
    "/v1/agreements/{agreement_id}/terminate",
    response_model=AgreementView,
    responses=errors(403, 404, 409),
    summary="Terminate a licence or pledge by all its parties",
)
def terminate(agreement_id: AgreementIdPath, body: TerminationIn, ledger: LedgerDep) -> AgreementView:
    return ledger.agreement_service.terminate(agreement_id, body.deadline, [s.model_dump() for s in body.signatures])


@router.post(
    "/v1/agreements/{agreement_id}/release",
    response_model=AgreementView,
    responses=errors(403, 404, 409),
    summary="Release a pledge (pledgee's signature)",
)
def release(agreement_id: AgreementIdPath, body: ReleaseIn, ledger: LedgerDep) -> AgreementView:
    return ledger.agreement_service.release(agreement_id, body.deadline, body.signer, body.signature)


@router.get(
    "/v1/agreements/{agreement_id}/withdrawal",
    response_model=TypedData,
    responses=errors(404, 409),
    summary="Typed data a party signs to withdraw",
)
def withdrawal_payload(
    agreement_id: AgreementIdPath,
    ledger: LedgerDep,
    deadline: Annotated[UnixTimeParam, Query(description="Signing deadline, unix time (ASCII digits)")],
) -> dict[str, Any]:
    """The EIP-712 `Withdrawal(bytes32 agreementId,uint64 deadline)` a party signs with its own key to withdraw
    its consent before the agreement takes effect (deadline at most 365 days ahead)."""
    return ledger.agreement_service.withdrawal_payload(agreement_id, deadline)


@router.post(
    "/v1/agreements/{agreement_id}/withdraw",
    response_model=AgreementView,
    responses=errors(403, 404, 409),
    summary="Withdraw a party's consent before execution (its signed Withdrawal, relayed)",
)
def withdraw(agreement_id: AgreementIdPath, body: WithdrawalIn, ledger: LedgerDep) -> AgreementView:
    """Records on chain that a party to the terms (a grantee, a current owner, the parent licensee or the
    pledgee) withdrew: the terms can never take effect, so a signature given earlier cannot be used. The API
    relays the party's signature; it never holds a party's key. Sign new terms (another salt) to agree again."""
    return ledger.agreement_service.withdraw(agreement_id, body.deadline, body.signer, body.signature)
