"""Parties: admission and management by the operator (bearer token), public reads."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path

from api.deps import LedgerDep, OperatorDep
from api.schemas import AccountAdd, AccountPublic, AccountRotate, AccountRotationSigned, PartyCreate, PartyPublic, PartySuspend
from ledger.parties import PartyProfile

router = APIRouter(tags=["parties"])
OPERATOR = "Operator only: send `Authorization: Bearer <IPLEDGER_OPERATOR_TOKEN>`."
PartyIdPath = Path(ge=1, le=2**24 - 1, description="Party id")


@router.post("/v1/parties", status_code=201, response_model=PartyPublic, dependencies=[OperatorDep],
             summary="Admit a party", description="Admits a firm, university, arbitration institution, financial "
             "institution or service agency with its accounts. The USCC check character is verified; an identifier "
             "or account already held by a party answers 409. " + OPERATOR)  # fmt: skip
def admit(body: PartyCreate, ledger: LedgerDep) -> dict[str, Any]:
    profile = PartyProfile(body.kind, body.jurisdiction, body.identifierScheme, body.identifier, body.nameZh, body.nameEn)
    return ledger.parties.admit(profile, body.accounts)


@router.get("/v1/parties/{party_id}", response_model=PartyPublic, summary="A party and its accounts")
def show(ledger: LedgerDep, party_id: int = PartyIdPath) -> dict[str, Any]:
    return ledger.parties.show(party_id)


@router.post("/v1/parties/{party_id}/suspend", response_model=PartyPublic, dependencies=[OperatorDep],
             summary="Suspend a party", description="Its accounts can no longer register or sign. " + OPERATOR)  # fmt: skip
def suspend(body: PartySuspend, ledger: LedgerDep, party_id: int = PartyIdPath) -> dict[str, Any]:
    return ledger.parties.suspend(party_id, body.reason)


@router.post("/v1/parties/{party_id}/reinstate", response_model=PartyPublic, dependencies=[OperatorDep],
             summary="Lift a suspension", description=OPERATOR)  # fmt: skip
def reinstate(ledger: LedgerDep, party_id: int = PartyIdPath) -> dict[str, Any]:
    return ledger.parties.reinstate(party_id)


@router.post("/v1/parties/{party_id}/accounts", response_model=PartyPublic, dependencies=[OperatorDep],
             summary="Add an account to a party", description=OPERATOR)  # fmt: skip
def add_account(body: AccountAdd, ledger: LedgerDep, party_id: int = PartyIdPath) -> dict[str, Any]:
    return ledger.parties.add_account(party_id, body.account)


@router.post("/v1/parties/{party_id}/accounts/rotate", response_model=PartyPublic, dependencies=[OperatorDep],
             summary="Replace an account (key rotation)", description=OPERATOR)  # fmt: skip
def rotate_account(body: AccountRotate, ledger: LedgerDep, party_id: int = PartyIdPath) -> dict[str, Any]:
    return ledger.parties.rotate_account(party_id, body.old, body.new)


@router.delete("/v1/parties/{party_id}/accounts/{account}", response_model=PartyPublic, dependencies=[OperatorDep],
               summary="Remove an account from a party", description="The last account cannot be removed. " + OPERATOR)  # fmt: skip
def remove_account(account: str, ledger: LedgerDep, party_id: int = PartyIdPath) -> dict[str, Any]:
    return ledger.parties.remove_account(party_id, account)


@router.post("/v1/accounts/rotate", response_model=PartyPublic, summary="A party rotates its own account")
def rotate_own_account(body: AccountRotationSigned, ledger: LedgerDep) -> dict[str, Any]:
    """Both the old and the new account sign `Rotation(oldAccount, newAccount, deadline)` (EIP-712, the
    evidence contract's domain); the service relays it. Only an active party rotates itself; a suspended
    party's accounts (a stolen key) are rotated by the operator."""
    from ledger.evidence import parse_signature

    return ledger.parties.rotate_by_signature(body.oldAccount, body.newAccount, body.deadline,
                                              parse_signature(body.oldSignature, "oldSignature"),
                                              parse_signature(body.newSignature, "newSignature"))  # fmt: skip


@router.get("/v1/accounts/{account}", response_model=AccountPublic, summary="An account's party and signing nonce")
def account(account: str, ledger: LedgerDep) -> dict[str, Any]:
    return ledger.parties.account(account)
