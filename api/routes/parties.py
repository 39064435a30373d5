"""Parties: admission and suspension by the operator (bearer token; sent with the registrar's key; the kinds that
carry power, confirmations and recoveries are governance's: the council schedules them through its timelock, and
these routes answer 403 naming the call), a party's own signed account changes and recovery vetoes (no token: the
party's signatures are the authority), public reads, and who holds each power."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from api.deps import LedgerDep, OperatorDep, OperatorFirstRoute
from api.openapi import errors
from api.schemas import (
    AccountChangeSigned,
    AccountPublic,
    PartyCreate,
    PartyIdParam,
    PartyPublic,
    PartySuspend,
    RecoveryPropose,
    RecoveryVetoIn,
)
from ledger.domain.parties import PartyProfile
from ledger.domain.results import AccountView, PartyView, PowersView

# OperatorFirstRoute: operator routes check the token before the body or any parameter is read
router = APIRouter(tags=["parties"], route_class=OperatorFirstRoute)
OPERATOR = (
    "Operator only: send `Authorization: Bearer <IPLEDGER_OPERATOR_TOKEN>` (scheme in any case); checked "
    "before the body is read, so a request without it answers 403 whatever it carries."
)
GOVERNANCE = "403 `permission_denied` when this service holds no governance key (the embedded default and every real deployment: governance is the council's timelock), naming the target and calldata the council schedules with `ipledger governance propose`."
PartyIdPath = Annotated[PartyIdParam, Path(description="Party id, 1 … 16777215 (ASCII digits)")]
AccountPath = Annotated[str, Path(max_length=64, description="Account address (0x and 40 hex characters)")]


@router.post(
    "/v1/parties",
    status_code=201,
    response_model=PartyPublic,
    dependencies=[OperatorDep],
    responses=errors(409),
    summary="Admit a party",
    description="Admits a firm, university, arbitration institution, financial "
    "institution or service agency with its accounts. The USCC check character is verified; an identifier "
    "or account already held by a party answers 409. Arbitration institutions, financial institutions and "
    "asset verifiers are admitted by governance: " + GOVERNANCE + " " + OPERATOR,
)
def admit(body: PartyCreate, ledger: LedgerDep) -> PartyView:
    profile = PartyProfile(
        body.kind, body.jurisdiction, body.identifierScheme, body.identifier, body.nameZh, body.nameEn
    )
    return ledger.parties.admit(profile, body.accounts)


@router.get(
    "/v1/parties/{party_id}",
    response_model=PartyPublic,
    responses=errors(404),
    summary="A party and its accounts",
    description="The party as the contract reads it now: its accounts, threshold and nonce, its suspension "
    "(`suspensionState`: a registrar's suspension is `provisional` until `suspensionLapsesAt`, then `lapsed` "
    "unless governance `confirmed` it; `reinstated` once lifted), a pending recovery with the time it can be "
    "executed; and `history`, its suspension, recovery and account events as the event index has read them "
    "(newest first, at most 50; `historyTotal` counts them all; the index trails the chain by "
    "`IPLEDGER_CONFIRMATIONS` blocks).",
)
def show(ledger: LedgerDep, party_id: PartyIdPath) -> PartyView:
    return ledger.parties.show(party_id, history=True)


@router.post(
    "/v1/parties/{party_id}/suspend",
    response_model=PartyPublic,
    dependencies=[OperatorDep],
    responses=errors(404, 409),
    summary="Suspend a party",
    description="Its accounts can no longer register or sign. " + OPERATOR,
)
def suspend(body: PartySuspend, ledger: LedgerDep, party_id: PartyIdPath) -> PartyView:
    return ledger.parties.suspend(party_id, body.reason)


@router.post(
    "/v1/parties/{party_id}/reinstate",
    response_model=PartyPublic,
    dependencies=[OperatorDep],
    responses=errors(404, 409),
    summary="Lift a suspension",
    description=OPERATOR,
)
def reinstate(ledger: LedgerDep, party_id: PartyIdPath) -> PartyView:
    return ledger.parties.reinstate(party_id)


@router.post(
    "/v1/parties/{party_id}/suspension/confirm",
    response_model=PartyPublic,
    dependencies=[OperatorDep],
    responses=errors(403, 404, 409),
    summary="Confirm a provisional suspension (governance)",
    description="A registrar's suspension lapses unless governance confirms it within the confirmation "
    "period. " + GOVERNANCE + " " + OPERATOR,
)
def confirm_suspension(ledger: LedgerDep, party_id: PartyIdPath) -> PartyView:
    return ledger.parties.confirm_suspension(party_id)


@router.post(
    "/v1/parties/{party_id}/accounts",
    response_model=PartyPublic,
    responses=errors(403, 404, 409),
    summary="A party changes its own accounts",
    description="Add, remove or rotate an account, or set the threshold, by the EIP-712 `AccountChange` "
    "signatures of `threshold` of the party's accounts (and of the incoming account for add and rotate), "
    "with the party's `accountNonce` and a deadline at most a year ahead. No operator token: the service "
    "only relays; neither the operator nor governance can change a party's accounts.",
)
def change_accounts(body: AccountChangeSigned, ledger: LedgerDep, party_id: PartyIdPath) -> PartyView:
    from ledger.domain.evidence import parse_signature

    sigs = [
        (s.signer, parse_signature(s.signature, f"signatures[{i}].signature")) for i, s in enumerate(body.signatures)
    ]
    joined = parse_signature(body.newAccountSignature, "newAccountSignature") if body.newAccountSignature else b""
    return ledger.parties.change_accounts(
        party_id,
        action=body.action,
        account=body.account,
        new_account=body.newAccount,
        threshold=body.threshold,
        nonce=body.nonce,
        deadline=body.deadline,
        signatures=sigs,
        new_account_signature=joined,
    )


@router.post(
    "/v1/parties/{party_id}/recovery",
    response_model=PartyPublic,
    dependencies=[OperatorDep],
    responses=errors(403, 404, 409),
    summary="Propose a key recovery (governance)",
    description="Replaces every account of the party by `newAccount` after the public recovery delay, "
    "unless an account of the party vetoes it first. " + GOVERNANCE + " " + OPERATOR,
)
def propose_recovery(body: RecoveryPropose, ledger: LedgerDep, party_id: PartyIdPath) -> PartyView:
    return ledger.parties.propose_recovery(party_id, body.newAccount)


@router.post(
    "/v1/parties/{party_id}/recovery/veto",
    response_model=PartyPublic,
    responses=errors(403, 404, 409),
    summary="An account of the party vetoes its pending recovery",
    description="Signed EIP-712 `RecoveryVeto(partyId, newAccount, executableAt)` by any account of the "
    "party; relayed by the service.",
)
def veto_recovery(body: RecoveryVetoIn, ledger: LedgerDep, party_id: PartyIdPath) -> PartyView:
    from ledger.domain.evidence import parse_signature

    return ledger.parties.veto_recovery(party_id, body.account, parse_signature(body.signature, "signature"))


@router.post(
    "/v1/parties/{party_id}/recovery/execute",
    response_model=PartyPublic,
    responses=errors(404, 409),
    summary="Carry out a recovery whose delay has passed",
    description="Anyone may ask; 409 before its time.",
)
def execute_recovery(ledger: LedgerDep, party_id: PartyIdPath) -> PartyView:
    return ledger.parties.execute_recovery(party_id)


@router.get(
    "/v1/powers",
    response_model=PowersView,
    summary="Who holds each power",
    description="For every contract of the deployment, the current holders of each role (read from the "
    "chain: RoleGranted events since deployment, checked with hasRole), the binding of the "
    "dispute effects, the recovery and suspension-confirmation delays; governance as the chain "
    "shows it (the timelock, its delay, its proposers: the council Safe with its owners and "
    "threshold); and the keys this service holds (relayer, registrar; governance only in test "
    "suites).",
)
def powers(ledger: LedgerDep) -> PowersView:
    return ledger.powers()


@router.get("/v1/accounts/{account}", response_model=AccountPublic, summary="An account's party and signing nonce")
def account(ledger: LedgerDep, account: AccountPath) -> AccountView:
    return ledger.parties.account(account)
