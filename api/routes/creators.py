"""Creators' endorsements: a creator's own signature on a record registered by their employer or university."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from api.deps import LedgerDep
from api.openapi import errors
from api.schemas import EndorsementCreate, EndorsementList, EndorsementPublic, PartyIdParam, SigningDomain
from ledger.domain import eip712
from ledger.domain.codes import CreatorRole
from ledger.domain.evidence import parse_signature
from ledger.domain.hashing import parse_hash
from ledger.domain.parties import parse_account

router = APIRouter(tags=["creators"])

BindingPath = Annotated[
    str,
    Path(max_length=66, description="The record's binding (64 hex characters, with or without 0x)."),
]


@router.get("/v1/creators/signing-domain", response_model=SigningDomain, summary="EIP-712 domain of endorsements")
def signing_domain(ledger: LedgerDep) -> dict[str, Any]:
    """The EIP-712 domain of the creator registry on this chain, and the `CreatorEndorsement` type."""
    return {**ledger.creators.domain().to_json(), "types": {"CreatorEndorsement": eip712.CREATOR_ENDORSEMENT_TYPE}}


@router.post(
    "/v1/evidence/{binding}/endorsements",
    status_code=201,
    response_model=EndorsementPublic,
    responses=errors(404, 409),
    summary="Relay a creator's endorsement of a record",
    description="Relays the signed endorsement of the record of `binding` by `registrantPartyId`, made by an account "
    "of the creator's party (a natural person or an organisation admitted as a party), and answers once it is on "
    "chain. Checked before anything is sent: 404 naming `binding` when that party has no such record on chain "
    "(batched items cannot be endorsed); 400 naming `creator` when the account is no party's or is the registrant's; "
    "409 when the creator's party is suspended or already endorsed the record; 400 naming `nonce`, `deadline` or "
    "`signature` when they do not hold. The service cannot endorse for a creator: the contract checks the creator's "
    "signature (ECDSA, or ERC-1271 for a contract wallet).",
)
def endorse(binding: BindingPath, body: EndorsementCreate, ledger: LedgerDep) -> dict[str, Any]:
    return ledger.creators.endorse(
        binding=parse_hash(binding, "binding"),
        registrant_party_id=body.registrantPartyId,
        role=CreatorRole.from_word(body.role),
        creator=parse_account(body.creator, "creator"),
        nonce=body.nonce,
        deadline=body.deadline,
        signature=parse_signature(body.signature),
    )


@router.get(
    "/v1/evidence/{binding}/endorsements",
    response_model=EndorsementList,
    summary="Endorsements of a record",
    description="The creators' endorsements of the record of `binding` by `partyId`, oldest first (at most 100), "
    "read from the creator registry's events.",
)
def endorsements(
    binding: BindingPath,
    ledger: LedgerDep,
    partyId: Annotated[PartyIdParam, Query(description="The party that registered the record.")],  # noqa: N803
) -> dict[str, Any]:
    return {"endorsements": ledger.creators.endorsements(parse_hash(binding, "binding"), partyId)}
