"""Parties: admission and suspension by the operator (bearer token; sent with the registrar's key; the kinds that
carry power, confirmations and recoveries are governance's: the council schedules them through its timelock, and
these routes answer 403 naming the call), a party's own signed account changes and recovery vetoes (no token: the
party's signatures are the authority), public reads, and who holds each power."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from api.deps import LedgerDep, OperatorDep, OperatorFirstRoute
from api.openapi import errors
from api.schemas import (
    AccountChangeSigned,
    AccountPublic,
    ConsentedCertificateRequest,
    ConsentPublic,
    ConsentSigned,
    IndividualCreate,
    IndividualPublic,
    OwnCertificateRequest,
    PartyCreate,
    PartyIdParam,
    PartyPublic,
    PartySuspend,
    PersonalDataPublic,
    PersonalDataRequest,
    RecoveryPropose,
    RecoveryVetoIn,
    RequestNonce,
)
from ledger.domain.consent import SignedConsent
from ledger.domain.evidence import parse_signature
from ledger.domain.hashing import parse_hash
from ledger.domain.parties import PartyProfile, PersonIdentity
from ledger.domain.results import AccountView, CertificateDocument, PartyView, PowersView
from ledger.errors import InvalidInput

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


PERSON = (
    "A natural person's own request: no operator token, an EIP-712 `PersonalDataRequest(string action,uint256 "
    "partyId,bytes32 subject,uint256 nonce,uint64 deadline)` signed by an account of their party (evidence "
    "registry domain), with the party's request nonce (`GET /v1/parties/{party_id}/personal-data/nonce`) and a "
    "deadline at most a day ahead. docs/privacy.md."
)


@router.post(
    "/v1/parties/individuals",
    status_code=201,
    response_model=IndividualPublic,
    dependencies=[OperatorDep],
    responses=errors(409),
    summary="Admit a natural person",
    description="Admits a natural person (a Hong Kong or mainland resident, an inventor, a designer) with their "
    "accounts. The identity document is validated (HKID check character, RIC ISO 7064 MOD 11-2, free strings for "
    "Macao, Taiwan and passports) and a person already admitted (the same document, however written) answers 409 "
    "before anything is sent; errors never repeat the document or names. The chain receives only a salted "
    "commitment; the identifier, names, salt and consent are kept by the service off chain (docs/privacy.md). "
    "The party shows as `natural person, party N`. " + OPERATOR,
)
def admit_individual(body: IndividualCreate, ledger: LedgerDep) -> dict[str, Any]:
    identity = PersonIdentity(
        body.idScheme, body.identifier, body.nameZh, body.nameEn, body.consent, body.consentVersion
    )
    return ledger.persons.admit(identity, body.jurisdiction, body.accounts)


@router.get(
    "/v1/parties/{party_id}/personal-data/nonce",
    response_model=RequestNonce,
    summary="The request nonce of a natural person",
    description="The nonce the person's next signed personal-data request must carry (0 for none yet). Reveals "
    "nothing personal.",
)
def personal_data_nonce(ledger: LedgerDep, party_id: PartyIdPath) -> dict[str, int]:
    return {"partyId": party_id, "nonce": ledger.persons.nonce(party_id)}


@router.post(
    "/v1/parties/{party_id}/personal-data",
    response_model=PersonalDataPublic,
    responses=errors(403, 404, 409),
    summary="A natural person sees what is held about them",
    description="Everything the service holds about the person: document, names, the commitment's salt, their "
    "consent and its date, and the consents they gave for named recipients. Action `show`, subject zero. " + PERSON,
)
def personal_data(body: PersonalDataRequest, ledger: LedgerDep, party_id: PartyIdPath) -> dict[str, Any]:
    sig = parse_signature(body.signature)
    return ledger.persons.show(party_id, body.account, body.nonce, body.deadline, sig)


@router.post(
    "/v1/parties/{party_id}/personal-data/erase",
    response_model=PersonalDataPublic,
    responses=errors(403, 404, 409),
    summary="A natural person erases their personal data",
    description="Deletes the document, names, salt and keyed hash the service holds (crypto-shredding: without "
    "the salt the on-chain commitment says nothing about the person). The party, its accounts and every record "
    "it made remain, verifiable as registered by `natural person, party N`. Action `erase`, subject zero. " + PERSON,
)
def erase_personal_data(body: PersonalDataRequest, ledger: LedgerDep, party_id: PartyIdPath) -> dict[str, Any]:
    sig = parse_signature(body.signature)
    return ledger.persons.erase(party_id, body.account, body.nonce, body.deadline, sig)


@router.post(
    "/v1/parties/{party_id}/certificate",
    responses=errors(403, 404, 409),
    summary="A natural person's own copy of a certificate (named)",
    description="The certificate of the person's registration of `contentHash`, with a `holder` section naming "
    "them: issued only to the person. The public certificate (`GET /v1/evidence/{content_hash}/certificate`) "
    "shows `natural person, party N`; verification needs no personal data. Action `certificate`, subject the "
    "content hash. " + PERSON,
)
def own_certificate(body: OwnCertificateRequest, ledger: LedgerDep, party_id: PartyIdPath) -> CertificateDocument:
    sig = parse_signature(body.signature)
    content = parse_hash(body.contentHash, "contentHash")
    return ledger.persons.own_certificate(content, party_id, body.account, body.nonce, body.deadline, sig)


def _consent(body: ConsentSigned, prefix: str = "") -> SignedConsent:
    return SignedConsent(
        party_id=body.partyId,
        recipient=body.recipient,
        recipient_party=body.recipientParty,
        bindings=tuple(parse_hash(b, f"{prefix}bindings[{i}]") for i, b in enumerate(body.bindings)),
        purpose=body.purpose,
        expires=body.expires,
        nonce=body.nonce,
        deadline=body.deadline,
        account=body.account,
        signature=parse_signature(body.signature, prefix + "signature"),
    )


CONSENT = (
    "The consent is the person's EIP-712 `CertificateConsent(uint256 partyId,string recipient,uint256 "
    "recipientParty,bytes32[] bindings,string purpose,uint64 expires,uint256 nonce,uint64 deadline)`, evidence "
    "registry domain, signed by an account of their party; the service's keys cannot make one. docs/privacy.md."
)


@router.post(
    "/v1/parties/{party_id}/consents",
    status_code=201,
    response_model=ConsentPublic,
    responses=errors(403, 404, 409),
    summary="A natural person consents to a named recipient receiving their named certificate copy",
    description="Records the person's signed consent: the recipient (name, optional party id), the bindings of "
    "the person's registrations it covers (each must be theirs), the purpose and the expiry (at most two years "
    "ahead). It carries the party's request nonce (consumed here) and a deadline at most a day ahead. The recipient "
    "then presents it to `POST /v1/parties/{party_id}/certificate/consented`. Kept with the person's data and "
    "deleted on erasure. No operator token. " + CONSENT,
)
def record_consent(body: ConsentSigned, ledger: LedgerDep, party_id: PartyIdPath) -> dict[str, Any]:
    if body.partyId != party_id:
        raise InvalidInput(f"the consent is for party {body.partyId}, not party {party_id}", field="partyId")
    return ledger.persons.record_consent(_consent(body))


@router.post(
    "/v1/parties/{party_id}/consents/{digest}/revoke",
    response_model=ConsentPublic,
    responses=errors(403, 404, 409),
    summary="A natural person revokes a consent",
    description="No copy is issued under the consent afterwards (409 to its recipient). Action `revoke-consent`, "
    "subject the consent's digest. " + PERSON,
)
def revoke_consent(
    body: PersonalDataRequest,
    ledger: LedgerDep,
    party_id: PartyIdPath,
    digest: Annotated[str, Path(max_length=66, description="The consent's digest (0x and 64 hex).")],
) -> dict[str, Any]:
    sig = parse_signature(body.signature)
    key = parse_hash(digest, "digest")
    return ledger.persons.revoke_consent(party_id, key, body.account, body.nonce, body.deadline, sig)


@router.post(
    "/v1/parties/{party_id}/certificate/consented",
    responses=errors(403, 404, 409),
    summary="A recipient's named certificate copy, under the person's signed consent",
    description="The recipient (an arbitrator, a licensee) presents the consent the person signed and recorded. "
    "The answer is the certificate of the registration with a `holder` section naming the person, the recipient "
    "and the consent (digest, signer, date): the name appears only in this copy. Refused: a consent altered or "
    "not signed by an account of the party (403 `consent.signature`, `consent.account`), another person's (403 "
    "`consent.partyId`), not covering the registration (403 `registration`), expired (403 `consent.expires`), "
    "never recorded (404 `consent`), revoked (409 `consent`), or a person whose data was erased (409 `party_id`). "
    "No operator token: the consent is the authority. " + CONSENT,
)
def consented_certificate(
    body: ConsentedCertificateRequest, ledger: LedgerDep, party_id: PartyIdPath
) -> CertificateDocument:
    registration = parse_hash(body.registration, "registration")
    return ledger.persons.consented_certificate(party_id, _consent(body.consent, "consent."), registration)


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
