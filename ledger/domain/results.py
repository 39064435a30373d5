"""The success bodies of the ledger's use cases: one ``TypedDict`` per JSON answer of the API and the CLI.

Pure declarations (no behaviour): the domain layer holds them so that ``ledger.services``, ``ledger.index``,
``ledger.facade`` (which build the bodies) and ``api`` (which declares them as each route's ``response_model``,
so that the OpenAPI document describes every success body) share one description without ``api`` importing
the services.

Why ``TypedDict`` and not dataclasses or pydantic models:

* the bodies stay byte-identical: a service still returns the plain ``dict`` it built, so the JSON, its key
  order and its ``null``\\ s are what they were (FastAPI validates the dict against the ``TypedDict``, and
  pydantic emits the keys in declaration order: each ``TypedDict`` below declares its keys in the order the
  service writes them, optional ones with ``NotRequired`` where they appear);
* tests and callers that index results (``body["partyId"]``) keep working, and nothing converts at the edges;
* ``mypy --strict`` checks every key a service writes against the declaration (a misspelt or undeclared key
  is a type error where the return type is declared).

Conventions: keys are camelCase exactly as in the JSON; ``NotRequired[...]`` marks a key that only some
answers carry; ``X | None`` a key always present that may be ``null``. Every ``TypedDict`` is declared with
``extra="allow"`` for pydantic: should a service ever write a key not declared here, FastAPI's response
filtering keeps it rather than silently dropping it (``tests/api/test_openapi_contract.py`` fails on such a
key, so the declaration is completed, not the filter relied on). Numbers are ``int`` where the service writes
an ``int``: a ``float`` annotation would turn ``3`` into ``3.0``. Nested structures documented elsewhere
(EIP-712 typed data inside a larger body, the terms of an agreement, certificates: docs/certificate.md,
docs/agreements.md) are ``dict[str, Any]``: their own modules own their shape (``ledger.domain.eip712``,
``ledger.domain.agreements``, ``ledger.certificates``), and a nested ``TypedData`` would force every function
that takes a message (``eip712.recover``, ``struct_hash`` …) to change its parameter type. ``TypedData`` itself
describes the routes whose whole body is typed data.

``pydantic`` on Python 3.11 requires ``typing_extensions.TypedDict`` (not ``typing.TypedDict``).
"""

from __future__ import annotations

from typing import Annotated, Any, NotRequired

from pydantic import ConfigDict, Field, with_config
from typing_extensions import TypedDict

__all__ = [
    "AccountView",
    "AgreementView",
    "AssetDetails",
    "AssetPayload",
    "AssetView",
    "CertificateDocument",
    "DisputePayload",
    "DisputeView",
    "DocumentKeyView",
    "EnvelopeRecipient",
    "EnvelopeView",
    "EvidenceLookup",
    "EvidenceLookupDirect",
    "EvidenceLookupJournal",
    "EvidenceRegistrationSummary",
    "HealthView",
    "IndexStatus",
    "IndexedAgreement",
    "IndexedAgreementPage",
    "IndexedAsset",
    "IndexedAssetPage",
    "IndexedDispute",
    "IndexedDisputePage",
    "IndexedEvidence",
    "IndexedEvidencePage",
    "OwnerShareView",
    "PartyHistoryExtra",
    "PartyRecord",
    "PartyView",
    "PendingRecoveryView",
    "PowersView",
    "SignatureView",
    "TitleView",
    "TypedData",
]

_ALLOW = ConfigDict(extra="allow")


def _d(text: str) -> Any:
    """A field's description for the OpenAPI document (``Annotated[T, _d("...")]``)."""
    return Field(description=text)


# --- shared pieces -----------------------------------------------------------------------------------


@with_config(_ALLOW)
class TypedData(TypedDict):
    """EIP-712 typed data, as `eth_signTypedData_v4` takes it: sign it with the account's own key."""

    types: Annotated[dict[str, Any], _d("The EIP-712 types: `EIP712Domain` and the primary type's fields.")]
    primaryType: Annotated[str, _d("The name of the signed struct, e.g. `Terms`, `AssetConfirmation`, `OpenDispute`.")]
    domain: Annotated[dict[str, Any], _d("The EIP-712 domain: name, version, chainId, verifyingContract.")]
    message: Annotated[dict[str, Any], _d("The struct's values; integers as JSON numbers, bytes as 0x hex.")]


@with_config(_ALLOW)
class OwnerShareView(TypedDict):
    """One owner of an asset and its share."""

    partyId: Annotated[int, _d("The owner (a party id).")]
    share: Annotated[int, _d("Its share in basis points; the shares of an asset sum to 10000 (100%).")]


@with_config(_ALLOW)
class SignatureView(TypedDict):
    """A party's signature collected for an agreement."""

    signer: Annotated[str, _d("The party account that signed (checksummed address).")]
    signature: Annotated[str, _d("0x-hex EIP-712 signature (or the wallet's ERC-1271 signature).")]


# --- assets ------------------------------------------------------------------------------------------


@with_config(_ALLOW)
class AssetDetails(TypedDict):
    """The off-chain details an asset registration commits to (SHA-256 of their canonical JSON is on chain)."""

    number: Annotated[str, _d("The patent or application number, normalised (CN: without the ZL prefix).")]
    title: Annotated[str, _d("The title of the patent.")]
    filingDate: Annotated[str | None, _d("Filing date, YYYY-MM-DD, if given.")]
    grantDate: Annotated[str | None, _d("Grant date, YYYY-MM-DD, if given.")]
    evidence: Annotated[list[str], _d("Content hashes of linked evidence records (0x hex).")]


@with_config(_ALLOW)
class AssetPayload(TypedDict):
    """What every owner signs before an asset is registered."""

    typedData: Annotated[dict[str, Any], _d("The EIP-712 `AssetRegistration` every owner signs (as `TypedData`).")]
    details: Annotated[AssetDetails, _d("The off-chain details the registration commits to.")]


@with_config(_ALLOW)
class AssetView(TypedDict):
    """An asset as the registry reads it now, with the details stored at registration."""

    assetId: Annotated[int, _d("The asset id.")]
    jurisdiction: Annotated[str, _d("`CN`, `HK`, `PCT` or `OTHER`.")]
    kind: Annotated[str, _d("The asset kind, e.g. `invention`, `utility_model`, `design`.")]
    status: Annotated[str, _d("`claimed` (not yet confirmed by an asset verifier), `confirmed` or `struck`.")]
    statusNote: Annotated[str, _d("The status in words.")]
    owners: Annotated[list[OwnerShareView], _d("The current owners and their shares.")]
    frozen: Annotated[bool, _d("Whether an open dispute freezes the asset (no agreement can be executed on it).")]
    details: Annotated[
        AssetDetails | None, _d("The details stored by this service at registration (null if it holds none).")
    ]
    verifierPartyId: NotRequired[
        Annotated[int, _d("Confirmation or rejection: the asset verifier party that decided.")]
    ]
    registerExtractHash: NotRequired[
        Annotated[str, _d("Confirmation: hash of the register extract the verifier checked.")]
    ]
    reasonHash: NotRequired[Annotated[str, _d("Rejection: hash of the verifier's reasons.")]]
    transactionHash: NotRequired[
        Annotated[str, _d("The transaction that registered, confirmed or rejected the asset.")]
    ]


@with_config(_ALLOW)
class TitleView(TypedDict):
    """The chain of title of an asset as of a time, read from the registry's events."""

    assetId: Annotated[int, _d("The asset id.")]
    at: Annotated[int, _d("The time the title is stated for (unix seconds).")]
    status: Annotated[str, _d("The claim's status at `at`: `claimed`, `confirmed` or `struck`.")]
    statusNote: Annotated[str, _d("The status in words.")]
    statusDecidedBy: Annotated[
        dict[str, Any] | None,
        _d(
            "The verifier's decision standing at `at`: verifierPartyId, "
            "time, transactionHash, registerExtractHash or reasonHash."
        ),
    ]
    owners: Annotated[list[OwnerShareView], _d("The owners at `at` and their shares.")]
    ownersSince: Annotated[int | None, _d("Since when (unix seconds) they own it.")]
    underAgreement: Annotated[
        str | None, _d("The agreement (or dispute, for a restored title) that gave them the title.")
    ]
    licences: Annotated[
        list[dict[str, Any]],
        _d(
            "Licences in force at `at`: agreementId, licensee, start, end, "
            "effectiveAt, licenceType, territory, sublicence, licensors."
        ),
    ]
    pledges: Annotated[
        list[dict[str, Any]], _d("Pledges in force at `at`: agreementId, pledgee, start, end, effectiveAt, pledgors.")
    ]
    endedWithParent: Annotated[list[dict[str, Any]], _d("Sublicences that ended with their parent licence by `at`.")]
    history: Annotated[
        list[dict[str, Any]],
        _d(
            "Every event of the asset in time order: event, block, logIndex, time, "
            "transactionHash and the event's own fields."
        ),
    ]


# --- agreements --------------------------------------------------------------------------------------


@with_config(_ALLOW)
class AgreementView(TypedDict):
    """An agreement: its terms, the signatures collected, and its status (the chain's once executed)."""

    agreementId: Annotated[str, _d("The agreement id: the EIP-712 struct hash of the terms (0x hex).")]
    kind: Annotated[str, _d("`assignment`, `licence`, `equity_contribution` or `pledge`.")]
    assetId: Annotated[int, _d("The asset the agreement deals in.")]
    terms: Annotated[dict[str, Any], _d("The terms as signed (the EIP-712 `Terms` struct's values).")]
    details: Annotated[
        dict[str, Any], _d("The off-chain details the terms commit to (royalty, equity, amounts, dates).")
    ]
    typedData: Annotated[dict[str, Any], _d("The EIP-712 `Terms` each party signs (as `TypedData`).")]
    signatures: Annotated[dict[str, SignatureView], _d("The signatures collected so far, by party id.")]
    transactionHash: Annotated[str | None, _d("The executing (or withdrawing) transaction, once there is one.")]
    territory: NotRequired[Annotated[list[str], _d("Licence: ISO 3166-1 alpha-2 codes of the territory (or WORLD).")]]
    licenceType: NotRequired[Annotated[str, _d("Licence: `exclusive`, `sole` or `ordinary`.")]]
    # always present; NotRequired only because the service sets it after building the rest
    status: NotRequired[
        Annotated[
            str,
            _d(
                "Always present: `proposed`, `withdrawn`, or on chain `effective`, `expired`, "
                "`terminated`, `released`, `voided`, `ended_with_parent`."
            ),
        ]
    ]
    endedWithParent: NotRequired[Annotated[str, _d("`ended_with_parent`: the parent licence it ended with.")]]
    effectiveAt: NotRequired[Annotated[int, _d("Executed: when it took effect (unix seconds).")]]
    closedAt: NotRequired[
        Annotated[int | None, _d("Executed: when it ended (terminated, released, voided), if it did.")]
    ]
    requiredParties: NotRequired[Annotated[list[int], _d("Not yet executed: the parties whose signatures are needed.")]]
    missingParties: NotRequired[Annotated[list[int], _d("Not yet executed: those that have not signed yet.")]]
    withdrawnBy: NotRequired[Annotated[int, _d("Withdrawal: the party that withdrew its consent.")]]


#: A certificate (evidence: docs/certificate.md; agreement: docs/agreements.md). Its shape is owned by
#: ``ledger.certificates``, which builds and parses it; verify it with ``POST /v1/verify``.
CertificateDocument = Annotated[
    dict[str, Any],
    _d(
        "The certificate: `format`, `version` and the sections "
        "docs/certificate.md (evidence) or docs/agreements.md (agreements) describe."
    ),
]


# --- disputes ----------------------------------------------------------------------------------------


@with_config(_ALLOW)
class DisputePayload(TypedDict):
    """What the institution's arbitrators sign to open or close a dispute."""

    typedData: Annotated[dict[str, Any], _d("The EIP-712 `OpenDispute` or `CloseDispute` (as `TypedData`).")]


@with_config(_ALLOW)
class DisputeView(TypedDict):
    """A dispute as the dispute registry reads it."""

    disputeId: Annotated[str, _d("The dispute id (32 bytes hex).")]
    subject: Annotated[str, _d("`asset`, `agreement` or `evidence`.")]
    subjectId: Annotated[int | str, _d("The asset id (a number), or the agreement id or content hash (0x hex).")]
    status: Annotated[str, _d("`open` or `closed`.")]
    outcome: Annotated[str | None, _d("Once closed: `dismissed`, `agreement_voided` or `title_restored`.")]
    openedAt: Annotated[int, _d("When it was opened (unix seconds).")]
    closedAt: Annotated[int | None, _d("When it was closed, if it was.")]
    institution: Annotated[int, _d("The arbitration institution (party id) the dispute is before.")]
    claimant: Annotated[int, _d("The claimant (party id).")]
    respondent: Annotated[int, _d("The respondent (party id).")]
    assetId: Annotated[int | None, _d("The asset concerned, frozen while the dispute is open.")]
    claimHash: Annotated[str, _d("Hash of the statement of claim.")]
    awardHash: Annotated[str | None, _d("Once closed: hash of the award.")]
    transactionHash: NotRequired[Annotated[str, _d("The transaction that opened or closed it.")]]


# --- documents ---------------------------------------------------------------------------------------


@with_config(_ALLOW)
class DocumentKeyView(TypedDict):
    """A party's published X25519 document key."""

    partyId: Annotated[int, _d("The party.")]
    publicKey: Annotated[str, _d("Its X25519 public key (0x hex, 32 bytes).")]
    account: Annotated[str, _d("The party account that published it.")]
    updatedAt: Annotated[int, _d("When it was published (unix seconds).")]


@with_config(_ALLOW)
class EnvelopeRecipient(TypedDict):
    """One reader of a document: its wrapped copy of the document key."""

    partyId: Annotated[int, _d("The reader.")]
    publicKey: Annotated[str, _d("The reader's X25519 key the document key is wrapped for.")]
    ephemeralPublicKey: Annotated[str, _d("The sender's ephemeral X25519 key.")]
    wrapNonce: Annotated[str, _d("The nonce of the key wrap.")]
    wrappedKey: Annotated[str, _d("The wrapped document key.")]


@with_config(_ALLOW)
class EnvelopeView(TypedDict):
    """A document's envelope: everything but the ciphertext (docs/vault.md). Public: hashes and wrapped keys."""

    format: Annotated[str, _d("`qianhai-ip-ledger/vault-envelope`.")]
    version: Annotated[int, _d("The envelope format's version.")]
    documentId: Annotated[str, _d("The document id.")]
    contentHash: Annotated[str, _d("SHA-256 of the plaintext: the hash registered as evidence.")]
    algorithm: Annotated[str, _d("The key agreement and wrap algorithm.")]
    cipher: Annotated[str, _d("The document cipher (AES-256-GCM).")]
    nonce: Annotated[str, _d("The document cipher's nonce.")]
    aad: Annotated[str, _d("The associated data: UTF-8(documentId) ‖ contentHash.")]
    recipients: Annotated[list[EnvelopeRecipient], _d("The readers and their wrapped keys.")]
    owner: Annotated[int, _d("The owning party.")]


# --- evidence ----------------------------------------------------------------------------------------


@with_config(_ALLOW)
class EvidenceRegistrationSummary(TypedDict):
    """One registration of a content hash, in a lookup's `registrations`."""

    partyId: Annotated[int | None, _d("The registering party.")]
    binding: Annotated[str | None, _d("The party's binding of the content hash.")]
    algorithm: Annotated[str | None, _d("`sha256` or `sm3`.")]
    method: Annotated[str | None, _d("`direct` or `batch`.")]
    status: Annotated[str | None, _d("queued, pending, registered, final or rejected.")]
    registrant: Annotated[str | None, _d("The registering account.")]
    blockNumber: Annotated[int | None, _d("Its block, once on chain.")]
    blockTimestamp: Annotated[int | None, _d("Its block's time, once on chain.")]


_LOOKUP = "A registration of a content hash: the earliest on chain, and up to 20 registrations of it."


@with_config(_ALLOW)
class EvidenceLookupDirect(TypedDict):
    """A registration read on chain (registered alone)."""

    method: Annotated[str, _d("`direct`.")]
    status: Annotated[str, _d("`registered`, or `final` once deep enough and settled.")]
    contentHash: Annotated[str | None, _d("The content hash, when the lookup was by content hash.")]
    binding: Annotated[str, _d('The party\'s binding of the content hash (docs/certificate.md "Bindings").')]
    algorithm: Annotated[str, _d("`sha256` or `sm3`.")]
    partyId: Annotated[int, _d("The registering party.")]
    registrant: Annotated[str, _d("The registering account.")]
    blockNumber: Annotated[int, _d("The block of the registration.")]
    blockTimestamp: Annotated[int, _d("Its block's time (unix seconds).")]
    transactionHash: Annotated[str | None, _d("The registering transaction.")]
    metadataCommitment: Annotated[str | None, _d("SHA-256 of the canonical metadata JSON (zero if none).")]
    supersedes: Annotated[str | None, _d("The binding of the earlier version it supersedes (zero if none).")]
    receiptId: Annotated[str | None, _d("This service's receipt, if it relayed the registration.")]
    versions: Annotated[
        list[dict[str, Any]], _d("Earlier versions it supersedes: binding, blockNumber, blockTimestamp.")
    ]
    registrations: Annotated[list[EvidenceRegistrationSummary], _d("Up to 20 registrations, earliest first.")]
    registrationCount: Annotated[int, _d("How many registrations there are in all.")]


@with_config(_ALLOW)
class EvidenceLookupJournal(TypedDict):
    """A registration known from this service's journal (a batch item, or one not yet on chain)."""

    method: Annotated[str, _d("`direct` or `batch`.")]
    status: Annotated[str, _d("queued, pending, registered, final or rejected.")]
    contentHash: Annotated[str | None, _d("The content hash, when the lookup was by content hash.")]
    binding: Annotated[str, _d("The party's binding of the content hash.")]
    algorithm: Annotated[str, _d("`sha256` or `sm3`.")]
    partyId: Annotated[int, _d("The registering party.")]
    registrant: Annotated[str, _d("The registering account.")]
    receiptId: Annotated[str, _d("This service's receipt (GET /v1/receipts/{id}).")]
    acceptedAt: Annotated[int, _d("When this service accepted it (unix seconds).")]
    blockNumber: Annotated[int | None, _d("The block, once on chain.")]
    blockTimestamp: Annotated[int | None, _d("Its block's time, once on chain.")]
    transactionHash: Annotated[str | None, _d("The transaction, once sent.")]
    submissionIndex: NotRequired[Annotated[int, _d("Batch: the item's position in the batch.")]]
    submissionSize: NotRequired[Annotated[int, _d("Batch: how many items the batch holds.")]]
    error: NotRequired[Annotated[str | None, _d("Rejected: why.")]]
    registrations: Annotated[list[EvidenceRegistrationSummary], _d("Up to 20 registrations, earliest first.")]
    registrationCount: Annotated[int, _d("How many registrations there are in all.")]


#: ``GET /v1/evidence/{hash}``: one of the two shapes (their keys come in different orders).
EvidenceLookup = Annotated[EvidenceLookupDirect | EvidenceLookupJournal, _d(_LOOKUP)]


# --- service -----------------------------------------------------------------------------------------


@with_config(_ALLOW)
class HealthView(TypedDict):
    """The service, its chain and (embedded) the node's supervisor."""

    status: Annotated[str, _d("`ok`.")]
    version: Annotated[str, _d("The software version.")]
    artifactVersion: Annotated[str, _d("The version of the compiled contracts.")]
    chainId: Annotated[int, _d("The chain id.")]
    latestBlock: Annotated[int, _d("The chain's latest block number.")]
    latestBlockTime: Annotated[int, _d("Its time (unix seconds).")]
    contracts: Annotated[dict[str, str], _d("The deployed contracts' addresses, by name.")]
    relayer: Annotated[str | None, _d("The account that pays for relayed transactions (null: read-only service).")]
    node: NotRequired[
        Annotated[
            dict[str, Any],
            _d("Embedded node only: state, restarts, attempts, lastError, nextRetryIn, pid, lastAnswerAgo, stateFile."),
        ]
    ]
    checkpoints: NotRequired[
        Annotated[
            list[dict[str, Any]],
            _d(
                "With IPLEDGER_ANCHOR_RPC_URL: each public chain that receives checkpoints: chainId, contract, "
                "lastCheckpoint (index, fromBlock, toBlock, root, leaves, state, transactionHash, blockNumber, "
                "createdAt), lastError."
            ),
        ]
    ]


@with_config(_ALLOW)
class PowersView(TypedDict):
    """Who holds each power, read from the chain."""

    contracts: Annotated[dict[str, Any], _d("For each contract: its address and the holders of each role.")]
    governance: Annotated[
        dict[str, Any] | None,
        _d(
            "Governance as the chain shows it: the timelock, its delay, its proposers (null when no timelock is known)."
        ),
    ]
    service: Annotated[
        dict[str, Any], _d("The keys this service holds: relayer, registrar, governance (null if none).")
    ]
    rolePowers: Annotated[dict[str, Any], _d("What each role may do, in words.")]


@with_config(_ALLOW)
class PartyRecord(TypedDict):
    """A party's record as the contract reads it now, codes as numbers (``PartyService.profile``)."""

    partyId: Annotated[int, _d("The party id.")]
    # always present; NotRequired only because ``show`` pops them to turn the codes into words
    kind: NotRequired[Annotated[int, _d("Always present: the kind's code.")]]
    jurisdiction: NotRequired[Annotated[int, _d("Always present: the jurisdiction's code.")]]
    identifierScheme: Annotated[str, _d("The identifier scheme, e.g. `USCC`.")]
    suspended: Annotated[bool, _d("Whether a suspension is in force now (a lapsed provisional one reads false).")]
    accountCount: Annotated[int, _d("How many accounts the party holds.")]
    threshold: Annotated[int, _d("How many of its accounts must sign a change of its accounts.")]
    admittedAt: Annotated[int, _d("When it was admitted (unix seconds).")]
    accountNonce: Annotated[int, _d("The nonce its next account change must carry.")]
    suspension: Annotated[str, _d("The suspension as stored: `none`, `provisional` or `confirmed`.")]
    suspendedAt: Annotated[int | None, _d("When it was suspended, if it is.")]
    identifier: Annotated[str, _d("The canonical identifier.")]
    nameZh: Annotated[str, _d("The Chinese name.")]
    nameEn: Annotated[str, _d("The English name.")]


@with_config(_ALLOW)
class PendingRecoveryView(TypedDict):
    """A governance recovery of a party's key waiting for its delay."""

    newAccount: Annotated[str, _d("The account the recovery adds.")]
    executableAt: Annotated[int, _d("From when it can be executed (unix seconds).")]


@with_config(_ALLOW)
class PartyHistoryExtra(TypedDict):
    """The keys ``PartyService.show`` adds with ``history``."""

    # always present; NotRequired so that it matches ``PartyView.history`` (``shown.update(extra)``)
    history: NotRequired[
        Annotated[list[dict[str, Any]] | None, _d("Always present: the party's events, newest first (null: no index).")]
    ]
    historyTotal: NotRequired[Annotated[int, _d("How many history entries there are in all.")]]
    historyNote: NotRequired[Annotated[str, _d("Why the history is missing or empty, if it is.")]]
    suspensionState: NotRequired[Annotated[str, _d("`reinstated` for a party whose last suspension was lifted.")]]


@with_config(_ALLOW)
class PartyView(TypedDict):
    """A party as ``PartyService.show`` builds it (the API answers it through ``PartyPublic``, which fills
    absent keys with null)."""

    partyId: Annotated[int, _d("The party id.")]
    identifierScheme: Annotated[str, _d("The identifier scheme, lower case, e.g. `uscc`.")]
    suspended: Annotated[bool, _d("Whether a suspension is in force now.")]
    accountCount: Annotated[int, _d("How many accounts the party holds.")]
    threshold: Annotated[int, _d("How many of its accounts must sign a change of its accounts.")]
    admittedAt: Annotated[int, _d("When it was admitted (unix seconds).")]
    accountNonce: Annotated[int, _d("The nonce its next account change must carry.")]
    suspension: Annotated[str, _d("The suspension as stored: `none`, `provisional` or `confirmed`.")]
    suspendedAt: Annotated[int | None, _d("When it was suspended, if it is.")]
    identifier: Annotated[str, _d("The canonical identifier.")]
    nameZh: Annotated[str, _d("The Chinese name.")]
    nameEn: Annotated[str, _d("The English name.")]
    kind: Annotated[str, _d("The party kind, e.g. `firm`.")]
    jurisdiction: Annotated[str, _d("`CN`, `HK`, `PCT` or `OTHER`.")]
    status: Annotated[str, _d("`active` or `suspended`.")]
    suspensionState: Annotated[
        str, _d("`none`, `provisional`, `confirmed`, `lapsed`, or `reinstated` (with the history only).")
    ]
    suspensionLapsesAt: Annotated[int | None, _d("When a provisional suspension lapses (or lapsed) unless confirmed.")]
    pendingRecovery: Annotated[PendingRecoveryView | None, _d("A governance recovery waiting for its delay.")]
    accounts: Annotated[list[str], _d("The party's accounts.")]
    history: NotRequired[
        Annotated[list[dict[str, Any]] | None, _d("With history: its events, newest first (null: no index).")]
    ]
    historyTotal: NotRequired[Annotated[int, _d("With history: how many entries there are in all.")]]
    historyNote: NotRequired[Annotated[str, _d("With history: why it is missing or empty, if it is.")]]
    transactionHash: NotRequired[Annotated[str, _d("The transaction that changed the party.")]]
    naturalPerson: NotRequired[
        Annotated[
            dict[str, str],
            _d("A natural person: `{en, zh}` words that stand for their name (no name is on chain or shown)."),
        ]
    ]


@with_config(_ALLOW)
class AccountView(TypedDict):
    """An account's party and signing nonce."""

    account: Annotated[str, _d("The account (checksummed).")]
    partyId: Annotated[int | None, _d("Its party, or null.")]
    active: Annotated[bool, _d("Whether it may sign for its party now.")]
    nonce: Annotated[int, _d("The account's current nonce for EIP-712 registrations.")]


# --- the event index ---------------------------------------------------------------------------------

_CURSOR = "Pass back as `cursor` for the next page; null on the last page."


@with_config(_ALLOW)
class IndexedEvidence(TypedDict):
    binding: Annotated[str, _d('The binding registered (docs/certificate.md "Bindings").')]
    kind: Annotated[str, _d("`single` or `batch`.")]
    partyId: Annotated[int | None, _d("The registering party.")]
    registrant: Annotated[str | None, _d("The registering account.")]
    algorithm: Annotated[str, _d("`sha256` or `sm3`.")]
    metadataCommitment: Annotated[str | None, _d("SHA-256 of the canonical metadata JSON.")]
    supersedes: Annotated[str | None, _d("The binding of the earlier version it supersedes.")]
    batchRoot: Annotated[str | None, _d("Batch items: the Merkle root anchored.")]
    blockNumber: Annotated[int, _d("The block.")]
    time: Annotated[int, _d("The block's time (unix seconds).")]
    transactionHash: Annotated[str, _d("The transaction.")]


@with_config(_ALLOW)
class IndexedEvidencePage(TypedDict):
    items: Annotated[list[IndexedEvidence], _d("Newest first.")]
    nextCursor: Annotated[str | None, _d(_CURSOR)]


@with_config(_ALLOW)
class IndexedAsset(TypedDict):
    assetId: Annotated[int, _d("The asset id.")]
    jurisdiction: Annotated[str, _d("`CN`, `HK`, `PCT` or `OTHER`.")]
    kind: Annotated[str, _d("The asset kind.")]
    numberHash: Annotated[str, _d("The on-chain hash of the patent number.")]
    owners: Annotated[list[OwnerShareView], _d("The current owners (after transfers and restorations).")]
    detailsHash: Annotated[str, _d("SHA-256 of the registered details.")]
    frozen: Annotated[bool, _d("Whether a dispute freezes it.")]
    status: Annotated[str, _d("`claimed`, `confirmed` or `struck`.")]
    statusNote: Annotated[str, _d("The status in words.")]
    verifierPartyId: Annotated[int | None, _d("The verifier that confirmed or rejected it.")]
    blockNumber: Annotated[int, _d("The registration's block.")]
    time: Annotated[int, _d("Its time (unix seconds).")]
    transactionHash: Annotated[str, _d("The registering transaction.")]


@with_config(_ALLOW)
class IndexedAssetPage(TypedDict):
    items: Annotated[list[IndexedAsset], _d("Newest first.")]
    nextCursor: Annotated[str | None, _d(_CURSOR)]


@with_config(_ALLOW)
class IndexedAgreement(TypedDict):
    agreementId: Annotated[str, _d("The agreement id.")]
    assetId: Annotated[int, _d("The asset.")]
    type: Annotated[str, _d("`assignment`, `licence`, `equity_contribution` or `pledge`.")]
    status: Annotated[str, _d("`effective`, `expired`, `terminated`, `released`, `voided` or `ended_with_parent`.")]
    start: Annotated[int | None, _d("Licences and pledges: start of the term (unix seconds).")]
    end: Annotated[int | None, _d("Licences and pledges: end of the term.")]
    documentHash: Annotated[str, _d("Hash of the signed contract document.")]
    detailsHash: Annotated[str, _d("SHA-256 of the off-chain details.")]
    parties: Annotated[list[dict[str, Any]], _d("The parties and their roles (partyId, role).")]
    parentLicence: Annotated[str | None, _d("Sublicences: the parent licence.")]
    blockNumber: Annotated[int, _d("The executing block.")]
    time: Annotated[int, _d("Its time (unix seconds).")]
    transactionHash: Annotated[str, _d("The executing transaction.")]


@with_config(_ALLOW)
class IndexedAgreementPage(TypedDict):
    items: Annotated[list[IndexedAgreement], _d("Newest first.")]
    nextCursor: Annotated[str | None, _d(_CURSOR)]


@with_config(_ALLOW)
class IndexedDispute(TypedDict):
    disputeId: Annotated[str, _d("The dispute id.")]
    subjectKind: Annotated[str, _d("`asset`, `agreement` or `evidence`.")]
    subjectId: Annotated[str, _d("The subject's id as 32 bytes hex.")]
    assetId: Annotated[int | None, _d("The asset concerned (frozen by the dispute).")]
    institution: Annotated[int, _d("The arbitration institution.")]
    claimant: Annotated[int, _d("The claimant.")]
    respondent: Annotated[int, _d("The respondent.")]
    claimHash: Annotated[str, _d("Hash of the statement of claim.")]
    arbitrators: Annotated[list[str], _d("The accounts that signed the opening.")]
    status: Annotated[str, _d("`open` or `closed`.")]
    outcome: Annotated[str | None, _d("Once closed: the outcome.")]
    awardHash: Annotated[str | None, _d("Once closed: hash of the award.")]
    blockNumber: Annotated[int, _d("The block of the opening.")]
    time: Annotated[int, _d("Its time (unix seconds).")]
    transactionHash: Annotated[str, _d("The opening transaction.")]


@with_config(_ALLOW)
class IndexedDisputePage(TypedDict):
    items: Annotated[list[IndexedDispute], _d("Newest first.")]
    nextCursor: Annotated[str | None, _d(_CURSOR)]


#: Any page of the index (each list answers its own kind of item).
IndexPage = IndexedEvidencePage | IndexedAssetPage | IndexedAgreementPage | IndexedDisputePage


@with_config(_ALLOW)
class IndexStatus(TypedDict):
    """How far the event index has read."""

    database: Annotated[str, _d("`sqlite` or `postgresql`.")]
    lastBlock: Annotated[int | None, _d("The last block indexed (null before the first).")]
    lastHash: Annotated[str | None, _d("Its hash.")]
    head: Annotated[int | None, _d("The chain's head (null if the node does not answer).")]
    confirmations: Annotated[int, _d("The blocks the index waits before reading a block.")]
    behind: Annotated[int | None, _d("How many blocks the index is behind.")]
    deployBlock: Annotated[int, _d("The deployment's first block.")]
    counts: Annotated[dict[str, int], _d("Rows per table.")]
    running: Annotated[bool, _d("Whether the background indexer runs.")]
    lastError: Annotated[str | None, _d("The last sync error, if the last sync failed.")]
