"""Request and response schemas. Field names are camelCase, as in the certificate format.

The input rules of ``ledger.domain.inputs`` are applied here as annotated types, one per kind of value, so that a
bad value answers 422 naming the field and the OpenAPI document states each bound:

* integers are JSON numbers (not strings, not floats, not booleans) bounded by the type they end in
  (``Uint256``, ``UnixTime`` = uint64 on chain ∩ BIGINT in SQL, ``PartyId`` = uint24, ``AssetId`` = BIGINT,
  ``BasisPoints`` = 1‥10000); integers in paths and query strings are ASCII digits (``PathInt``);
* human text that ends on chain or on a certificate is ``Text(max)``: NFC, no control, format (bidi,
  zero-width) or separator characters, bounded length;
* decimal amounts are ``DecimalAmount`` strings matching ``^[0-9]{1,30}(\\.[0-9]{1,18})?$``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import annotated_types
import pydantic
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
)
from pydantic_core import PydanticCustomError

from ledger.domain import inputs as rules

_STRICT = pydantic.Strict()  # JSON numbers only: no strings, floats or booleans

Uint256 = Annotated[int, _STRICT, Field(ge=0, le=rules.UINT256_MAX, description="uint256: 0 … 2**256 − 1.")]
UnixTime = Annotated[
    int,
    _STRICT,
    Field(
        ge=0,
        le=rules.UNIX_TIME_MAX,
        description="Unix time in seconds, 0 … 2**63 − 1 (uint64 on chain, BIGINT in the journal).",
        examples=[4102444800],
    ),
]
# The schema bounds are those of the type; the ledger then checks the value (an admitted party, 1‥10000
# basis points, an existing asset) and answers 400 naming the field.
PartyId = Annotated[
    int, _STRICT, Field(ge=0, le=rules.PARTY_ID_MAX, description="A party id (uint24 on chain: at most 16777215).")
]
AssetId = Annotated[int, _STRICT, Field(ge=0, le=rules.INT64_MAX, description="An asset id (at most 2**63 − 1).")]
BasisPoints = Annotated[
    int,
    _STRICT,
    Field(
        ge=0,
        le=rules.UINT16_MAX,
        description="Basis points (uint16 on chain); the ledger accepts 1 … 10000 (100% = 10000).",
    ),
]


def _ascii_int(value: Any) -> Any:
    """Integers written in a path or query string: ASCII digits only (no sign, spaces, `_` or Unicode digits)."""
    if isinstance(value, str):
        if not rules.DIGITS_RE.fullmatch(value) or len(value) > 80:
            raise PydanticCustomError("int_parsing", "must be a whole number written in ASCII digits 0-9")
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise PydanticCustomError("int_type", "must be a whole number")
    return value


ASCII_INT = BeforeValidator(_ascii_int)
# Path and query integers (the bounds as above)
# Use as ``Annotated[PartyIdParam, Path(description=...)]`` (a Path()/Query() default would drop these rules).
# annotated_types bounds before the validator, so that the document states them as minimum/maximum.
PartyIdParam = Annotated[int, annotated_types.Ge(1), annotated_types.Le(rules.PARTY_ID_MAX), ASCII_INT]
AssetIdParam = Annotated[int, annotated_types.Ge(1), annotated_types.Le(rules.INT64_MAX), ASCII_INT]
UnixTimeParam = Annotated[int, annotated_types.Ge(0), annotated_types.Le(rules.UNIX_TIME_MAX), ASCII_INT]


def _text(max_length: int, min_length: int = 0) -> AfterValidator:
    def check(value: str) -> str:
        problem = rules.text_problem(value, max_length=max_length, min_length=min_length)
        if problem is not None:
            raise PydanticCustomError("text_invalid", "text " + problem.replace("{", "{{").replace("}", "}}"))
        return value

    return AfterValidator(check)


def _text_field(max_length: int, min_length: int = 0, description: str = "") -> Any:
    return Field(
        min_length=min_length,
        max_length=max_length,
        description=(description + " " if description else "")
        + f"NFC text of at most {max_length} characters, without control, bidi-control, zero-width or other "
        "format characters.",
    )


# Human text that ends on chain or on a certificate
Name = Annotated[str, _text_field(rules.NAME_MAX), _text(rules.NAME_MAX)]
Title = Annotated[str, _text_field(rules.TITLE_MAX, 1), _text(rules.TITLE_MAX, 1)]
Reason = Annotated[str, _text_field(rules.REASON_MAX, 1), _text(rules.REASON_MAX, 1)]
FieldOfUse = Annotated[str, _text_field(rules.FIELD_OF_USE_MAX), _text(rules.FIELD_OF_USE_MAX)]
ShortText = Annotated[str, _text_field(rules.SHORT_TEXT_MAX), _text(rules.SHORT_TEXT_MAX)]
IdentifierText = Annotated[str, _text_field(64, 1), _text(64, 1)]

DecimalAmount = Annotated[
    str,
    StringConstraints(pattern=rules.DECIMAL_PATTERN, max_length=rules.DECIMAL_MAX_LENGTH),
    Field(
        description="A non-negative decimal as a string: up to 30 digits, optionally `.` and up to 18 digits; "
        "no sign, exponent, spaces, `inf` or `nan`.",
        examples=["1250000.00"],
    ),
]

# Opaque strings checked by the ledger (addresses, hex, codes): bounded here so that nothing unbounded is read.
Address = Annotated[
    str,
    Field(
        max_length=64,
        description="An account address: 0x and 40 hex characters (EIP-55 checksum if mixed case).",
        examples=["0x5B38Da6a701c568545dCfcB03FcB875f56beddC4"],
    ),
]
Hex = Annotated[
    str,
    Field(
        max_length=130, description="32 bytes as 64 hex characters, with or without 0x.", examples=["0x" + "cd" * 32]
    ),
]
SignatureHex = Annotated[
    str,
    Field(
        max_length=2 + 2 * 4096,
        description="0x and the signature's bytes in hex (at most 4096 bytes).",
        examples=["0x" + "1b" * 65],
    ),
]
ShortCode = Annotated[str, Field(max_length=16)]
DateText = Annotated[str, Field(max_length=10, description="A date, YYYY-MM-DD.", examples=["2024-05-01"])]

Hex32 = Field(
    max_length=66, description="32 bytes as 64 hex characters, with or without 0x", examples=["0x" + "ab" * 32]
)


class Strict(BaseModel):
    """The request base: unknown fields are refused."""

    model_config = ConfigDict(extra="forbid")


# --- errors ---


class ErrorBody(BaseModel):
    code: str = Field(
        description="Stable machine-readable code, e.g. `invalid_input`, `not_found`, `chain_unavailable`."
    )
    message: str = Field(description="What went wrong, for a human.")
    field: str | None = Field(
        None,
        description="The input at fault, when one is: a body field (`owners[0].share`), "
        "a path or query parameter, `body` or `authorization`.",
    )
    details: dict[str, Any] | None = Field(
        None, description="Structured details, e.g. the first record of a duplicate."
    )


class ErrorEnvelope(BaseModel):
    """Every error answer: `{"error": {"code", "message", "field"?, "details"?}}`."""

    error: ErrorBody


# --- parties ---


class PartyCreate(Strict):
    kind: Literal[
        "firm",
        "university",
        "arbitration_institution",
        "financial_institution",
        "service_agency",
        "asset_verifier",
        "individual",
    ] = Field(
        description="Arbitration institutions, financial institutions and asset "
        "verifiers carry power and are admitted by governance, the council "
        "through its timelock (`ipledger governance propose admit`); this route "
        "then answers 403 `permission_denied` naming the call to schedule. An `individual` (natural person) is "
        "admitted with `POST /v1/parties/individuals` instead (its identity document stays off chain): here it "
        "answers 422."
    )
    jurisdiction: Literal["mainland", "hksar", "other"]
    identifierScheme: Literal["uscc", "hkbrn", "other", "person_commitment"] = Field(
        description="uscc: Unified Social Credit Code (check character verified); hkbrn: HK Business Registration "
        "number (8 digits); other: 1-64 printable ASCII characters; person_commitment: an individual's, set by "
        "`POST /v1/parties/individuals` only. The identifier is canonicalised first (NFKC, "
        "trimmed, upper case): a lower-case, padded or full-width copy of an admitted identifier answers 409."
    )
    identifier: IdentifierText = Field(examples=["91110108551385082Q"])
    nameZh: Name = ""
    nameEn: Name = ""
    accounts: list[Address] = Field(
        min_length=1, max_length=16, description="Account addresses (EOA or ERC-1271 wallet)."
    )


class PartyHistoryItem(BaseModel):
    """One event of a party's history."""

    event: Literal[
        "admitted",
        "account_added",
        "account_removed",
        "accounts_changed",
        "suspended",
        "suspension_confirmed",
        "suspension_lapsed",
        "reinstated",
        "recovery_proposed",
        "recovery_vetoed",
        "recovery_cancelled",
        "recovery_executed",
    ] = Field(
        description="`suspension_lapsed` has no event on chain: it is the moment a provisional suspension lapsed."
    )
    time: int = Field(description="Block time (unix seconds); for a lapse, when it lapsed.")
    block: int | None = None
    transactionHash: str | None = None
    account: str | None = Field(None, description="The account added, removed, or that vetoed.")
    newAccount: str | None = Field(None, description="The account a recovery proposes or installed.")
    executableAt: int | None = Field(None, description="recovery_proposed: when anyone can execute it.")
    action: str | None = Field(None, description="accounts_changed: add, remove, rotate or set_threshold.")
    nonce: int | None = None
    threshold: int | None = None
    reasonHash: str | None = Field(None, description="suspended: keccak-256 of the reason.")


class NaturalPersonLabel(BaseModel):
    en: str = Field(examples=["natural person, party 7"])
    zh: str = Field(examples=["自然人，第 7 号当事人"])


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
    threshold: int = Field(description="How many of the party's accounts must sign a change of its accounts.")
    accountNonce: int = Field(description="The nonce the party's next account change must carry.")
    suspension: Literal["none", "provisional", "confirmed"] = Field(
        description="provisional: by the registrar, lapses at suspensionLapsesAt unless governance confirms it."
    )
    suspensionState: Literal["none", "provisional", "confirmed", "lapsed", "reinstated"] = Field(
        description="The suspension as of the chain's latest block, by the contract's rule: `provisional` (in force "
        "until `suspensionLapsesAt`), `confirmed` by governance (in force until lifted), `lapsed` (a provisional "
        "suspension governance did not confirm in time: not in force), `reinstated` (lifted; shown with the history "
        "only), `none`."
    )
    suspendedAt: int | None = None
    suspensionLapsesAt: int | None = Field(
        None, description="Unix time a provisional suspension lapses (or lapsed) unless confirmed."
    )
    pendingRecovery: dict[str, Any] | None = Field(
        None,
        description="A governance recovery waiting for its delay "
        "(newAccount, executableAt); any account of the party may veto it.",
    )
    admittedAt: int
    accounts: list[str]
    history: list[PartyHistoryItem] | None = Field(
        None,
        description="GET only: the party's events as the index has "
        "read them, newest first, at most 50 (null when the index cannot be read).",
    )
    historyTotal: int | None = Field(None, description="How many history entries there are in all.")
    historyNote: str | None = Field(None, description="Why the history is missing or empty, if it is.")
    transactionHash: str | None = None
    naturalPerson: NaturalPersonLabel | None = Field(
        default=None,
        description="For a natural person (kind `individual`): the words that stand for their name; no name is on "
        "chain or shown (docs/privacy.md).",
    )


class PartySuspend(Strict):
    reason: Reason = Field(description="Why; its keccak-256 is recorded on chain.")


class AccountSignatureIn(Strict):
    signer: Address = Field(description="An account of the party.")
    signature: SignatureHex = Field(description="Its EIP-712 `AccountChange` signature (or its wallet's ERC-1271 one).")


class AccountChangeSigned(Strict):
    """A party's own change of its accounts (EIP-712 `AccountChange`, the evidence registry's domain)."""

    action: Literal["add", "remove", "rotate", "set_threshold"]
    account: Address | None = Field(None, description="The account added, removed or rotated out.")
    newAccount: Address | None = Field(None, description="The account rotated in (rotate only).")
    threshold: int = Field(ge=1, le=16, strict=True, description="The party's threshold after the change.")
    nonce: int = Field(
        ge=0, le=rules.UINT64_MAX, strict=True, description="The party's accountNonce (GET /v1/parties/{id})."
    )
    deadline: UnixTime = Field(description="Last second the signatures are valid; at most a year ahead.")
    signatures: list[AccountSignatureIn] = Field(min_length=1, max_length=16)
    newAccountSignature: SignatureHex | None = Field(
        None, description="The incoming account's signature of the same message (add and rotate): proof of its key."
    )


class RecoveryPropose(Strict):
    newAccount: Address = Field(description="The account that replaces every account of the party.")


class RecoveryVetoIn(Strict):
    account: Address = Field(description="An account of the party.")
    signature: SignatureHex = Field(
        description="Its EIP-712 `RecoveryVeto(partyId, newAccount, executableAt)` signature."
    )


# --- natural persons (docs/privacy.md) ---

PersonalText = Annotated[str, _text_field(rules.NAME_MAX), _text(rules.NAME_MAX)]


class IndividualCreate(Strict):
    """A natural person's admission: the identity document and names stay with the service (off chain); the chain
    gets the salted commitment only."""

    jurisdiction: Literal["mainland", "hksar", "other"] = Field(description="Where the person resides.")
    idScheme: Literal["hkid", "cnric", "moid", "twid", "passport"] = Field(
        description="hkid: Hong Kong Identity Card (check character verified); cnric: mainland Resident Identity "
        "Card (18 characters, ISO 7064 MOD 11-2); moid: Macao resident identity card; twid: Taiwan residents' "
        "document; passport: `ISO3:NUMBER`, e.g. `GBR:123456789`. Errors never repeat the value."
    )
    identifier: IdentifierText = Field(examples=["A123456(3)"])
    nameZh: PersonalText = ""
    nameEn: PersonalText = ""
    consent: Annotated[str, _text_field(4000, 1), _text(4000, 1)] = Field(
        description="The consent the person gave to the processing of their personal information (its text)."
    )
    consentVersion: Annotated[str, Field(max_length=64)] = "1"
    accounts: list[Address] = Field(min_length=1, max_length=16, description="The person's account addresses.")


class IndividualPublic(PartyPublic):
    naturalPerson: NaturalPersonLabel | None = Field(
        description="How the person is named wherever their own copy is not: by party number, never by name."
    )


class PersonalDataRequest(Strict):
    """A natural person's own request, signed by an account of their party (EIP-712 `PersonalDataRequest(string
    action,uint256 partyId,bytes32 subject,uint256 nonce,uint64 deadline)`, the evidence registry's domain)."""

    account: Address = Field(description="The account of the party that signed.")
    nonce: int = Field(ge=0, le=2**64, description="The party's request nonce (`GET .../personal-data/nonce`).")
    deadline: int = Field(ge=0, le=2**64 - 1, description="Unix seconds; at most a day ahead.")
    signature: SignatureHex


class OwnCertificateRequest(PersonalDataRequest):
    contentHash: str = Hex32


class ConsentSigned(Strict):
    """A natural person's consent for a named recipient to obtain the named copy of the certificates of the listed
    registrations: EIP-712 `CertificateConsent(uint256 partyId,string recipient,uint256 recipientParty,bytes32[]
    bindings,string purpose,uint64 expires,uint256 nonce,uint64 deadline)` in the evidence registry's domain, signed
    by an account of the person's party (docs/privacy.md "Consent to a named recipient")."""

    partyId: int = Field(ge=1, le=2**24 - 1, description="The person's party.")
    recipient: Annotated[str, _text_field(200, 1), _text(200, 1)] = Field(
        description="The recipient's name, as the copy will state it (e.g. an arbitration institution, a licensee)."
    )
    recipientParty: int = Field(0, ge=0, le=2**24 - 1, description="The recipient's party id, 0 for none.")
    bindings: list[Annotated[str, Hex32]] = Field(
        min_length=1, max_length=16, description="The bindings of the person's registrations the consent covers."
    )
    purpose: Annotated[str, _text_field(1000, 1), _text(1000, 1)] = Field(description="The purpose, in words.")
    expires: int = Field(ge=0, le=2**64 - 1, description="Unix seconds; at most two years ahead when recorded.")
    nonce: int = Field(ge=0, le=2**64, description="The party's request nonce, consumed when the consent is recorded.")
    deadline: int = Field(ge=0, le=2**64 - 1, description="Unix seconds; the consent must be recorded before it.")
    account: Address = Field(description="The account of the party that signed.")
    signature: SignatureHex


class ConsentedCertificateRequest(Strict):
    """A recipient presents the person's signed consent (as recorded) to obtain the named copy."""

    consent: ConsentSigned
    registration: str = Field(
        max_length=66,
        description="The content hash, or the binding, of the registration: one the consent covers.",
        examples=["0x" + "ab" * 32],
    )


class ConsentPublic(BaseModel):
    """A consent as the service recorded it (shown to the person and on recording or revoking)."""

    digest: str = Field(description="The EIP-712 digest of the signed consent: how it is named and revoked.")
    partyId: int
    account: str = Field(description="The account that signed it.")
    recipient: str
    recipientParty: int | None
    bindings: list[str]
    purpose: str
    expires: int
    recordedAt: int
    revokedAt: int | None
    issued: int = Field(description="How many copies were issued under it.")
    lastIssuedAt: int | None


class PersonalConsent(BaseModel):
    text: str | None
    version: str | None
    givenAt: int | None


class PersonalDataPublic(BaseModel):
    """What the service holds about the person (shown only to the person). After erasure every personal field is
    null; the party id and its on-chain commitment remain."""

    partyId: int | None
    state: Literal["pending", "admitted", "erased"]
    commitment: str
    idScheme: str | None
    identifier: str | None
    nameZh: str | None
    nameEn: str | None
    salt: str | None = Field(description="The commitment's salt: reveal it with the identifier to prove who you are.")
    consent: PersonalConsent
    createdAt: int
    erasedAt: int | None
    naturalPerson: NaturalPersonLabel
    consents: list[ConsentPublic] = Field(
        default_factory=list, description="The consents the person gave for named recipients (deleted on erasure)."
    )


class RequestNonce(BaseModel):
    partyId: int
    nonce: int


class AccountPublic(BaseModel):
    account: str
    partyId: int | None
    active: bool
    nonce: int = Field(description="The account's current nonce for EIP-712 registrations.")


# --- evidence ---


class EvidenceCreate(Strict):
    """A registration signed by a party account (EIP-712 `Evidence`), relayed by the service. It carries the
    binding of the content hash to the party (docs/certificate.md "Bindings"), never the content hash."""

    binding: str = Field(
        max_length=66,
        description="The content hash bound to the party, computed by the party: "
        'ALG("ipledger:public:v2\\0" ‖ partyId ‖ contentHash), or the private binding with a salt. '
        "64 hex characters, with or without 0x.",
        examples=["0x" + "ab" * 32],
    )
    partyId: PartyId = Field(description="The party the binding was computed for: the registrant's party (else 400).")
    algorithm: Literal["sha256", "sm3"] = "sha256"
    metadataCommitment: str | None = Field(
        None, max_length=66, description="SHA-256 of the canonical metadata JSON, or omitted."
    )
    metadata: dict[str, Any] | None = Field(
        None,
        description="The metadata itself (title, kind, creators, created_at, language, description; "
        "docs/certificate.md §3.2), to be checked before anything is sent: it must be valid, name only admitted "
        'parties as creators (`{"partyId": 7, "role": "designer"}`), and its commitment must equal '
        "`metadataCommitment` (which is taken from it when omitted; the signature covers the commitment). The service "
        "does not keep it: the registrant's copy of the certificate carries it.",
    )
    supersedes: str | None = Field(
        None, max_length=66, description="Binding of an earlier version registered by the same party."
    )
    registrant: Address = Field(description="The signing party account.")
    nonce: Uint256 = Field(description="The registrant's current nonce (GET /v1/accounts/{address}).")
    deadline: UnixTime = Field(description="Unix time after which the signature is void.")
    signature: SignatureHex = Field(description="0x-hex signature over the EIP-712 Evidence message.")


class EvidenceBatchCreate(Strict):
    """Many bindings signed at once: an EIP-712 `BatchSubmission` over their RFC 9162 Merkle root."""

    algorithm: Literal["sha256", "sm3"] = "sha256"
    bindings: list[Annotated[str, Field(max_length=66)]] = Field(
        min_length=1, description="Bindings of the content hashes to the party (64 hex characters each), in tree order."
    )
    partyId: PartyId = Field(description="The party the bindings were computed for: the registrant's party (else 400).")
    registrant: Address
    deadline: UnixTime
    signature: SignatureHex


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
        description="Bindings this service already accepted earlier (the same party's): they keep their earlier record."
    )


class EndorsementCreate(Strict):
    """A creator's endorsement of a record registered by another party, signed by an account of the creator's
    party (EIP-712 `CreatorEndorsement` in the creator registry's domain, GET /v1/creators/signing-domain)."""

    registrantPartyId: PartyId = Field(description="The party that registered the record (the binding's party).")
    role: Literal["inventor", "designer", "author", "contributor"] = Field(description="What the creator did.")
    creator: Address = Field(description="The signing account of the creator's party.")
    nonce: Uint256 = Field(description="The creator account's current nonce (GET /v1/accounts/{address}).")
    deadline: UnixTime = Field(description="Unix time after which the signature is void (at most 365 days ahead).")
    signature: SignatureHex = Field(description="0x-hex signature over the EIP-712 CreatorEndorsement message.")


class EndorsementPublic(BaseModel):
    """An endorsement on chain: the creator's party as certificates describe it (a natural person by number, never by
    name), the role, and where it was recorded."""

    account: str
    partyId: int
    identifierScheme: str
    identifier: str
    nameZh: str
    nameEn: str
    naturalPerson: dict[str, str] | None = None
    role: str
    contract: str
    transactionHash: str
    blockNumber: int
    blockHash: str
    blockTimestamp: int


class EndorsementList(BaseModel):
    """A record's endorsements, oldest first."""

    endorsements: list[EndorsementPublic]


class SigningDomain(BaseModel):
    name: str
    version: str
    chainId: int
    verifyingContract: str
    types: dict[str, Any]


class VerifyRequest(Strict):
    certificate: dict[str, Any]
    fileHash: str | None = Field(
        None,
        max_length=130,
        description="Hash of the file, if the file itself is not sent: 0x and 64 hex digits (SHA-256 or SM3, in the "
        "certificate's algorithm), or 128 for a time-stamp certificate with a SHA-512 imprint.",
    )


class CheckPublic(BaseModel):
    name: str
    status: Literal["passed", "failed", "skipped"]
    detail: str


class LegalStatusPublic(BaseModel):
    """Where the record stands at ``at``, apart from authenticity: an agreement's legal status (docs/agreements.md,
    "Legal status"), or whether an evidence record is current or superseded (docs/certificate.md §6.1)."""

    state: str = Field(
        description="Agreements: in_force, not_yet_in_force, expired, terminated, released, voided, withdrawn, "
        "ended_with_parent, not_yet_executed or unknown. Evidence: current, superseded, not_yet_registered or unknown."
    )
    inForce: bool
    at: int = Field(description="The moment (unix seconds) the status is for: now.")
    block: int | None = Field(description="The block whose state was read.")
    since: int | None = Field(description="When it took that state (unix seconds).")
    until: int | None = Field(description="When a term in force ends (unix seconds).")
    disputeId: str | None = Field(description="The dispute whose award voided it.")
    supersededBy: str | None = Field(
        default=None, description="Evidence: the binding of the party's later record that superseded it."
    )
    detail: str


class AnchorReached(BaseModel):
    chainId: int
    blockNumber: int
    blockTimestamp: int
    confirmations: int


class AssurancePublic(BaseModel):
    level: Literal["none", "consortium", "public"]
    anchors: list[AnchorReached]
    detail: str


class TimeStampImprint(BaseModel):
    algorithm: Literal["sha256", "sha512", "sm3"]
    hash: str = Field(description="0x and the lowercase hex of the imprint.")


class TimeStampWords(BaseModel):
    serialNumber: str = Field(description="The TSTInfo's serial number, decimal (it may exceed 2^53).")
    genTime: int = Field(description="genTime, unix seconds: the anchoring block's timestamp.")
    accuracySeconds: int | None = Field(description="accuracy.seconds, or null when the token states none.")
    policy: str = Field(description="The policy OID, dotted.")
    imprint: TimeStampImprint
    tsa: str | None = Field(description="The TSTInfo's tsa name in words, or null.")


class LedgerAnchorWords(BaseModel):
    chainId: int
    contract: str = Field(description="The EvidenceRegistry that anchored the batch root (checksummed).")
    transaction: str
    blockNumber: int
    blockHash: str
    root: str = Field(description="The batch root (RFC 9162) anchored by anchorBatch.")
    leafIndex: int
    treeSize: int
    auditPath: list[str]


class TimeStampCertificate(BaseModel):
    """docs/tsa.md §7: an RFC 3161 token of this ledger and, in words, what it says."""

    format: Literal["qianhai-ip-ledger/timestamp-certificate"]
    version: Literal[1]
    token: str = Field(description="Base64 of the DER TimeStampToken (CMS ContentInfo).")
    timeStamp: TimeStampWords
    anchor: LedgerAnchorWords
    tsaCertificate: str | None = Field(
        default=None,
        description="Base64 DER of the TSA certificate, carried when the token holds none (asked without certReq).",
    )


class VerifyResult(BaseModel):
    verdict: Literal["passed", "failed"]
    checks: list[CheckPublic]
    status: LegalStatusPublic | None = Field(
        default=None,
        description="Certificates that passed every check: an agreement's legal status now, or whether an "
        "evidence record is current or superseded by a later record of its party.",
    )
    assurance: AssurancePublic | None = Field(
        default=None,
        description="Evidence certificates: how far the record's proof reaches (docs/certificate.md §11): "
        "`consortium` (the consortium chain alone), `public` (also a checkpoint on a public chain, with its block "
        "and confirmations) or `none` (a check failed).",
    )


# --- assets and agreements ---


class OwnerShare(Strict):
    partyId: PartyId
    share: BasisPoints = Field(description="Basis points; all owners' shares sum to 10000 (100%).")


class SignatureIn(Strict):
    signer: Address = Field(description="The signing party account.")
    signature: SignatureHex = Field(description="0x-hex EIP-712 signature (or the wallet's ERC-1271 signature).")


class AssetFields(Strict):
    jurisdiction: Literal["CN", "HK", "PCT", "OTHER"]
    kind: Annotated[str, Field(max_length=32)] = Field(
        description="CN: invention | utility_model | design; HK: standard_patent_r | standard_patent_o | "
        "short_term_patent; PCT: pct_application; OTHER: invention | utility_model | design | other_patent"
    )
    number: Annotated[str, Field(max_length=100)] = Field(
        description="CN: application number with check digit (ZL prefix accepted); HK: patent number; "
        "PCT: PCT/CN2023/123456; OTHER: free string",
        examples=["ZL201710601862.3"],
    )
    title: Title
    filingDate: DateText | None = None
    grantDate: DateText | None = None
    owners: list[OwnerShare] = Field(max_length=64)
    evidence: list[Annotated[str, Field(max_length=66)]] = Field(
        default_factory=list, max_length=256, description="Content hashes of linked evidence records."
    )
    deadline: UnixTime | None = Field(None, description="Signing deadline (unix time); default now + 7 days.")


class AssetCreate(AssetFields):
    deadline: UnixTime = Field(description="The deadline of the signed typed data (from POST /v1/assets/payload).")  # type: ignore[assignment]
    signatures: list[SignatureIn] = Field(max_length=64, description="One signature of `AssetRegistration` per owner.")


class RoyaltyIn(Strict):
    basis: Literal["lump_sum", "percentage", "per_unit", "minimum_annual"]
    amount: DecimalAmount | None = None
    rate: BasisPoints | None = Field(None, description="Percentage of sales in basis points (basis = percentage).")
    minimumAnnual: DecimalAmount | None = None
    currency: ShortCode = "CNY"


class EquityIn(Strict):
    appraiser: ShortText
    appraisalReportHash: Hex
    appraisedValue: DecimalAmount
    agreedValue: DecimalAmount
    capitalAmount: DecimalAmount
    currency: ShortCode = "CNY"
    equityShare: BasisPoints = Field(description="Equity share in basis points.")


class AgreementCreate(Strict):
    kind: Literal["assignment", "licence", "equity_contribution", "pledge"]
    assetId: AssetId
    documentHash: Hex = Field(description="Hash of the signed contract document (never uploaded).")
    contractDate: DateText | None = None
    deadline: UnixTime | None = Field(None, description="Signing deadline (unix time); default now + 7 days.")
    salt: Hex | None = None
    assignees: list[OwnerShare] | None = Field(None, max_length=64)
    company: PartyId | None = None
    equity: EquityIn | None = None
    licensee: PartyId | None = None
    licenceType: Literal["exclusive", "sole", "ordinary"] | None = None
    territory: list[ShortCode] | None = Field(
        None, max_length=300, description="ISO 3166-1 alpha-2 codes (CN = mainland, HK distinct) or WORLD."
    )
    fieldOfUse: FieldOfUse | None = Field(None, description="Free text; omitted or 'all' = every field.")
    start: UnixTime | None = None
    end: UnixTime | None = None
    royalty: RoyaltyIn | None = None
    sublicensable: bool = False
    parentLicence: Hex | None = None
    recordationNumber: ShortText | None = None
    recordationDate: DateText | None = None
    pledgee: PartyId | None = None
    amount: DecimalAmount | None = None
    currency: ShortCode | None = None
    registrationNumber: ShortText | None = None


class TerminationIn(Strict):
    deadline: UnixTime
    signatures: list[SignatureIn] = Field(max_length=64)


class ReleaseIn(Strict):
    deadline: UnixTime
    signer: Address
    signature: SignatureHex


class WithdrawalIn(ReleaseIn):
    """A party's EIP-712 `Withdrawal(bytes32 agreementId,uint64 deadline)`, signed with one of its accounts."""


class ConfirmationIn(ReleaseIn):
    """An asset verifier's EIP-712 `AssetConfirmation(uint256 assetId,bytes32 registerExtractHash,uint64 deadline)`,
    signed with one of its accounts (the API relays it; it holds no verifier's key)."""

    registerExtractHash: Hex = Field(description="Hash of the register extract (CNIPA, HK IPD …) the verifier checked.")


class RejectionIn(ReleaseIn):
    """An asset verifier's EIP-712 `ClaimRejection(uint256 assetId,bytes32 reasonHash,uint64 deadline)`."""

    reasonHash: Hex = Field(
        description="Hash of the verifier's reasons (the register shows another owner, no such number …)."
    )


# --- disputes ---


class DisputeFields(Strict):
    subject: Literal["asset", "agreement", "evidence"]
    subjectId: AssetId | Hex = Field(description="Asset id, agreement id, or content hash.")
    claimant: PartyId
    respondent: PartyId
    claimHash: Hex = Field(description="Hash of the statement of claim (the document stays off chain).")
    institution: PartyId = Field(description="The arbitration institution (party id) that opens the dispute.")
    deadline: UnixTime | None = None


class ArbitratorSignatureIn(Strict):
    signer: Address = Field(description="An account of the arbitration institution.")
    signature: SignatureHex = Field(description="Its EIP-712 signature (or its wallet's ERC-1271 one).")


ArbitratorSignatures = Annotated[
    list[ArbitratorSignatureIn],
    Field(
        min_length=1,
        max_length=16,
        description="Signatures of distinct accounts of the institution, at least max(its threshold, 2), or of one "
        "contract-wallet (ERC-1271, e.g. Safe) account of it: the act is the institution's, not one arbitrator's.",
    ),
]


class DisputeCreate(DisputeFields):
    deadline: UnixTime  # type: ignore[assignment]
    signatures: ArbitratorSignatures


class AwardFields(Strict):
    outcome: Literal["dismissed", "agreement_voided", "title_restored"]
    awardHash: Hex
    owners: list[OwnerShare] = Field(
        default_factory=list, max_length=64, description="For title_restored: the owners and shares."
    )
    institution: PartyId | None = Field(
        default=None, description="The institution the dispute is before (default: that one)."
    )
    deadline: UnixTime | None = None


class AwardCreate(AwardFields):
    deadline: UnixTime  # type: ignore[assignment]
    signatures: ArbitratorSignatures


# --- documents ---


class SignedAction(Strict):
    account: Address = Field(description="The acting party account.")
    deadline: UnixTime
    signature: SignatureHex = Field(
        description="EIP-712 `DocumentAction(action, documentId, payloadHash, deadline)` by the account."
    )


class DocumentKeyPublish(SignedAction):
    publicKey: Hex = Field(description="The party's X25519 document public key (32 bytes hex).")


class DocumentStore(SignedAction):
    envelope: dict[str, Any] = Field(description="The envelope the party sealed on its own machine (docs/vault.md).")
    ciphertext: str = Field(description="The AES-256-GCM ciphertext, base64.")


class DocumentGrant(SignedAction):
    envelope: dict[str, Any] = Field(description="The envelope with exactly one recipient added by an existing reader.")


class DocumentRevoke(SignedAction):
    reader: PartyId


class DocumentDecrypt(Strict):
    party: PartyId
    privateKey: Hex = Field(
        description="The reader's X25519 private key (hex), used for this request only and never stored."
    )
