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
