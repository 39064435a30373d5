"""Parties: admission and management by the operator (bearer token), public reads."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from api.deps import LedgerDep, OperatorDep, OperatorFirstRoute
from api.openapi import errors
from api.schemas import (AccountAdd, AccountPublic, AccountRotate, AccountRotationSigned, PartyCreate, PartyIdParam,
                         PartyPublic, PartySuspend)  # fmt: skip
from ledger.parties import PartyProfile

# OperatorFirstRoute: operator routes check the token before the body or any parameter is read
router = APIRouter(tags=["parties"], route_class=OperatorFirstRoute)
OPERATOR = ("Operator only: send `Authorization: Bearer <IPLEDGER_OPERATOR_TOKEN>` (scheme in any case); checked "
            "before the body is read, so a request without it answers 403 whatever it carries.")  # fmt: skip
PartyIdPath = Annotated[PartyIdParam, Path(description="Party id, 1 … 16777215 (ASCII digits)")]
AccountPath = Annotated[str, Path(max_length=64, description="Account address (0x and 40 hex characters)")]


@router.post("/v1/parties", status_code=201, response_model=PartyPublic, dependencies=[OperatorDep], responses=errors(409),
             summary="Admit a party", description="Admits a firm, university, arbitration institution, financial "
             "institution or service agency with its accounts. The USCC check character is verified; an identifier "
             "or account already held by a party answers 409. " + OPERATOR)  # fmt: skip
def admit(body: PartyCreate, ledger: LedgerDep) -> dict[str, Any]:
    profile = PartyProfile(body.kind, body.jurisdiction, body.identifierScheme, body.identifier, body.nameZh, body.nameEn)
    return ledger.parties.admit(profile, body.accounts)


@router.get("/v1/parties/{party_id}", response_model=PartyPublic, responses=errors(404), summary="A party and its accounts")
def show(ledger: LedgerDep, party_id: PartyIdPath) -> dict[str, Any]:
    return ledger.parties.show(party_id)


@router.post("/v1/parties/{party_id}/suspend", response_model=PartyPublic, dependencies=[OperatorDep], responses=errors(404, 409),
             summary="Suspend a party", description="Its accounts can no longer register or sign. " + OPERATOR)  # fmt: skip
def suspend(body: PartySuspend, ledger: LedgerDep, party_id: PartyIdPath) -> dict[str, Any]:
    return ledger.parties.suspend(party_id, body.reason)


@router.post("/v1/parties/{party_id}/reinstate", response_model=PartyPublic, dependencies=[OperatorDep], responses=errors(404, 409),
             summary="Lift a suspension", description=OPERATOR)  # fmt: skip
def reinstate(ledger: LedgerDep, party_id: PartyIdPath) -> dict[str, Any]:
    return ledger.parties.reinstate(party_id)


@router.post("/v1/parties/{party_id}/accounts", response_model=PartyPublic, dependencies=[OperatorDep], responses=errors(404, 409),
             summary="Add an account to a party", description=OPERATOR)  # fmt: skip
def add_account(body: AccountAdd, ledger: LedgerDep, party_id: PartyIdPath) -> dict[str, Any]:
    return ledger.parties.add_account(party_id, body.account)


@router.post("/v1/parties/{party_id}/accounts/rotate", response_model=PartyPublic, dependencies=[OperatorDep], responses=errors(404, 409),
             summary="Replace an account (key rotation)", description=OPERATOR)  # fmt: skip
def rotate_account(body: AccountRotate, ledger: LedgerDep, party_id: PartyIdPath) -> dict[str, Any]:
    return ledger.parties.rotate_account(party_id, body.old, body.new)


@router.delete("/v1/parties/{party_id}/accounts/{account}", response_model=PartyPublic, dependencies=[OperatorDep],
               responses=errors(404, 409),
               summary="Remove an account from a party", description="The last account cannot be removed. " + OPERATOR)  # fmt: skip
def remove_account(ledger: LedgerDep, party_id: PartyIdPath, account: AccountPath) -> dict[str, Any]:
    return ledger.parties.remove_account(party_id, account)


@router.post("/v1/accounts/rotate", response_model=PartyPublic, responses=errors(403, 404, 409),
             summary="A party rotates its own account")
def rotate_own_account(body: AccountRotationSigned, ledger: LedgerDep) -> dict[str, Any]:
    """Both the old and the new account sign `Rotation(oldAccount, newAccount, deadline)` (EIP-712, the
    evidence contract's domain); the service relays it. Only an active party rotates itself; a suspended
    party's accounts (a stolen key) are rotated by the operator."""
    from ledger.evidence import parse_signature

    return ledger.parties.rotate_by_signature(body.oldAccount, body.newAccount, body.deadline,
                                              parse_signature(body.oldSignature, "oldSignature"),
                                              parse_signature(body.newSignature, "newSignature"))  # fmt: skip


@router.get("/v1/accounts/{account}", response_model=AccountPublic, summary="An account's party and signing nonce")
def account(ledger: LedgerDep, account: AccountPath) -> dict[str, Any]:
    return ledger.parties.account(account)
