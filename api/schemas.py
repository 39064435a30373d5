"""Request and response schemas. Field names are camelCase, as in the certificate format."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Hex32 = Field(description="32 bytes as 64 hex characters, with or without 0x", examples=["0x" + "ab" * 32])


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- parties ---


class PartyCreate(Strict):
    kind: Literal["firm", "university", "arbitration_institution", "financial_institution", "service_agency"]
    jurisdiction: Literal["mainland", "hksar", "other"]
    identifierScheme: Literal["uscc", "hkbrn", "other"] = Field(
        description="uscc: Unified Social Credit Code (check character verified); hkbrn: HK Business Registration "
        "number (8 digits); other: free string of 1-64 printable characters."
    )
    identifier: str = Field(min_length=1, max_length=64, examples=["91110108551385082Q"])
    nameZh: str = Field("", max_length=200)
    nameEn: str = Field("", max_length=200)
    accounts: list[str] = Field(min_length=1, max_length=16, description="Account addresses (EOA or ERC-1271 wallet).")


class PartyPublic(BaseModel):
    partyId: int
    kind: str
    jurisdiction: str
    identifierScheme: str
    identifier: str
    nameZh: str
    nameEn: str
    status: Literal["active", "suspended"]
    suspended: bool
    accountCount: int
    admittedAt: int
    accounts: list[str]
    transactionHash: str | None = None


class PartySuspend(Strict):
    reason: str = Field(min_length=1, max_length=2000, description="Why; its keccak-256 is recorded on chain.")


class AccountAdd(Strict):
    account: str


class AccountRotate(Strict):
    old: str
    new: str


class AccountRotationSigned(Strict):
    oldAccount: str
    newAccount: str
    deadline: int
    oldSignature: str = Field(description="EIP-712 `Rotation` signature by the old account.")
    newSignature: str = Field(description="The same message signed by the new account (proof of its key).")


class AccountPublic(BaseModel):
    account: str
    partyId: int | None
    active: bool
    nonce: int = Field(description="The account's current nonce for EIP-712 registrations.")


# --- evidence ---


class EvidenceCreate(Strict):
    """A registration signed by a party account (EIP-712 `Evidence`), relayed by the service."""

    contentHash: str = Hex32
    algorithm: Literal["sha256", "sm3"] = "sha256"
    metadataCommitment: str | None = Field(None, description="SHA-256 of the canonical metadata JSON, or omitted.")
    supersedes: str | None = Field(None, description="Content hash of an earlier version registered by the same party.")
    registrant: str = Field(description="The signing party account.")
    nonce: int = Field(ge=0, description="The registrant's current nonce (GET /v1/accounts/{address}).")
    deadline: int = Field(ge=0, le=2**64 - 1, description="Unix time after which the signature is void.")
    signature: str = Field(description="0x-hex signature over the EIP-712 Evidence message.")


class EvidenceBatchCreate(Strict):
    """Many hashes signed at once: an EIP-712 `BatchSubmission` over their RFC 9162 Merkle root."""

    algorithm: Literal["sha256", "sm3"] = "sha256"
    hashes: list[str] = Field(min_length=1, description="Content hashes (64 hex characters each), in tree order.")
    registrant: str
    deadline: int = Field(ge=0, le=2**64 - 1)
    signature: str


class SubmissionPublic(BaseModel):
    receiptId: str
    kind: Literal["single", "batch"]
    status: str
    count: int
    registrant: str
    partyId: int
    acceptedAt: int
    root: str | None = None
    transactionHash: str | None = None
    blockNumber: int | None = None
    blockTimestamp: int | None = None
    error: str | None = None


class BatchAccepted(SubmissionPublic):
    duplicates: list[dict[str, Any]] = Field(
        description="Items already accepted earlier: they keep their earlier record (first to register wins)."
    )


class SigningDomain(BaseModel):
    name: str
    version: str
    chainId: int
    verifyingContract: str
    types: dict[str, Any]


class VerifyRequest(Strict):
    certificate: dict[str, Any]
    fileHash: str | None = Field(None, description="Hash of the file, if the file itself is not sent.")


class CheckPublic(BaseModel):
    name: str
    status: Literal["passed", "failed", "skipped"]
    detail: str


class VerifyResult(BaseModel):
    verdict: Literal["passed", "failed"]
    checks: list[CheckPublic]


# --- assets and agreements ---


class OwnerShare(Strict):
    partyId: int
    share: int = Field(description="Basis points; all owners' shares sum to 10000 (100%).")


class SignatureIn(Strict):
    signer: str = Field(description="The signing party account.")
    signature: str = Field(description="0x-hex EIP-712 signature (or the wallet's ERC-1271 signature).")


class AssetFields(Strict):
    jurisdiction: Literal["CN", "HK", "PCT", "OTHER"]
    kind: str = Field(description="CN: invention | utility_model | design; HK: standard_patent_r | standard_patent_o | "
                      "short_term_patent; PCT: pct_application; OTHER: invention | utility_model | design | other_patent")
    number: str = Field(description="CN: application number with check digit (ZL prefix accepted); HK: patent number; "
                        "PCT: PCT/CN2023/123456; OTHER: free string", examples=["ZL201710601862.3"])
    title: str
    filingDate: str | None = None
    grantDate: str | None = None
    owners: list[OwnerShare]
    evidence: list[str] = Field(default_factory=list, description="Content hashes of linked evidence records.")
    deadline: int | None = Field(None, description="Signing deadline (unix time); default now + 7 days.")


class AssetCreate(AssetFields):
    deadline: int = Field(description="The deadline of the signed typed data (from POST /v1/assets/payload).")  # type: ignore[assignment]
    signatures: list[SignatureIn] = Field(description="One signature of `AssetRegistration` per owner.")


class RoyaltyIn(Strict):
    basis: Literal["lump_sum", "percentage", "per_unit", "minimum_annual"]
    amount: str | None = None
    rate: int | None = Field(None, description="Percentage of sales in basis points (basis = percentage).")
    minimumAnnual: str | None = None
    currency: str = "CNY"


class EquityIn(Strict):
    appraiser: str
    appraisalReportHash: str
    appraisedValue: str
    agreedValue: str
    capitalAmount: str
    currency: str = "CNY"
    equityShare: int = Field(description="Equity share in basis points.")


class AgreementCreate(Strict):
    kind: Literal["assignment", "licence", "equity_contribution", "pledge"]
    assetId: int
    documentHash: str = Field(description="Hash of the signed contract document (never uploaded).")
    contractDate: str | None = None
    deadline: int | None = Field(None, description="Signing deadline (unix time); default now + 7 days.")
    salt: str | None = None
    assignees: list[OwnerShare] | None = None
    company: int | None = None
    equity: EquityIn | None = None
    licensee: int | None = None
    licenceType: Literal["exclusive", "sole", "ordinary"] | None = None
    territory: list[str] | None = Field(None, description="ISO 3166-1 alpha-2 codes (CN = mainland, HK distinct) or WORLD.")
    fieldOfUse: str | None = Field(None, description="Free text; omitted or 'all' = every field.")
    start: int | None = None
    end: int | None = None
    royalty: RoyaltyIn | None = None
    sublicensable: bool = False
    parentLicence: str | None = None
    recordationNumber: str | None = None
    recordationDate: str | None = None
    pledgee: int | None = None
    amount: str | None = None
    currency: str | None = None
    registrationNumber: str | None = None


class TerminationIn(Strict):
    deadline: int
    signatures: list[SignatureIn]


class ReleaseIn(Strict):
    deadline: int
    signer: str
    signature: str


# --- disputes ---


class DisputeFields(Strict):
    subject: Literal["asset", "agreement", "evidence"]
    subjectId: int | str = Field(description="Asset id, agreement id, or content hash.")
    claimant: int
    respondent: int
    claimHash: str = Field(description="Hash of the statement of claim (the document stays off chain).")
    arbitrator: str = Field(description="The arbitrator's account (of an arbitration institution party).")
    deadline: int | None = None


class DisputeCreate(DisputeFields):
    deadline: int  # type: ignore[assignment]
    signature: str = Field(description="The arbitrator's EIP-712 `OpenDispute` signature.")


class AwardFields(Strict):
    outcome: Literal["dismissed", "agreement_voided", "title_restored"]
    awardHash: str
    owners: list[OwnerShare] = Field(default_factory=list, description="For title_restored: the owners and shares.")
    arbitrator: str
    deadline: int | None = None


class AwardCreate(AwardFields):
    deadline: int  # type: ignore[assignment]
    signature: str = Field(description="The arbitrator's EIP-712 `CloseDispute` signature.")


# --- documents ---


class SignedAction(Strict):
    account: str = Field(description="The acting party account.")
    deadline: int
    signature: str = Field(description="EIP-712 `DocumentAction(action, documentId, payloadHash, deadline)` by the account.")


class DocumentKeyPublish(SignedAction):
    publicKey: str = Field(description="The party's X25519 document public key (32 bytes hex).")


class DocumentStore(SignedAction):
    envelope: dict[str, Any] = Field(description="The envelope the party sealed on its own machine (docs/vault.md).")
    ciphertext: str = Field(description="The AES-256-GCM ciphertext, base64.")


class DocumentGrant(SignedAction):
    envelope: dict[str, Any] = Field(description="The envelope with exactly one recipient added by an existing reader.")


class DocumentRevoke(SignedAction):
    reader: int


class DocumentDecrypt(Strict):
    party: int
    privateKey: str = Field(description="The reader's X25519 private key (hex), used for this request only and never stored.")
