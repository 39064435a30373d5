"""Evidence: relayed registrations, batches, status, certificates."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import HTMLResponse, Response

from api.deps import LedgerDep
from api.openapi import CERTIFICATE_RESPONSE, errors
from api.schemas import (
    BatchAccepted,
    EvidenceBatchCreate,
    EvidenceCreate,
    PartyIdParam,
    SigningDomain,
    SubmissionPublic,
)
from ledger.domain import eip712
from ledger.domain.evidence import (
    PUBLIC_STATUS,
    QUEUED,
    BatchRequest,
    SingleRequest,
    Submission,
    parse_signature,
)
from ledger.domain.hashing import parse_algorithm, parse_hash
from ledger.domain.metadata import metadata_commitment, validate_metadata
from ledger.domain.parties import parse_account
from ledger.domain.results import CertificateDocument, EvidenceLookup
from ledger.errors import InvalidInput, PayloadTooLarge

router = APIRouter(tags=["evidence"])
ZERO = b"\0" * 32
HashPath = Annotated[
    str,
    Path(
        max_length=130,
        description="Content hash (or, with `partyId`, that party's binding): 64 hex characters, with or without 0x",
    ),
]
PartyQuery = Annotated[
    PartyIdParam | None,
    Query(
        description="Only this party's registration: the hash is its content "
        "hash or its binding (a private registration). Without it, every "
        "party's public registration of the content hash is looked up."
    ),
]
ReceiptPath = Annotated[
    str,
    Path(
        max_length=64,
        description="`sub_` and the receipt number in ASCII digits (at most "
        "2**63 − 1), as answered by POST /v1/evidence or /v1/evidence/batch; anything else is 400.",
    ),
]


def submission_public(sub: Submission) -> dict[str, Any]:
    return {
        "receiptId": sub.receipt_id,
        "kind": sub.kind,
        "status": PUBLIC_STATUS.get(sub.status, sub.status),
        "count": sub.count,
        "registrant": sub.registrant,
        "partyId": sub.party_id,
        "acceptedAt": int(sub.created_at),
        "root": "0x" + bytes(sub.root).hex() if sub.root else None,
        "transactionHash": sub.tx_hash,
        "blockNumber": sub.block_number,
        "blockTimestamp": sub.block_timestamp,
        "error": sub.error,
    }


@router.get("/v1/signing-domain", response_model=SigningDomain, summary="EIP-712 domain and types to sign")
def signing_domain(ledger: LedgerDep) -> dict[str, Any]:
    """The EIP-712 domain of the evidence (and party) registry on this chain, and the types signed in it: `Evidence`,
    `BatchSubmission`, `AccountChange`, `RecoveryVeto`, `DocumentAction`, `PersonalDataRequest` and
    `CertificateConsent` (creators' endorsements are signed in the creator registry's domain,
    GET /v1/creators/signing-domain)."""
    d = eip712.Domain(ledger.manifest.chain_id, ledger.manifest.address("EvidenceRegistry")).to_json()
    return {
        **d,
        "types": {
            "Evidence": eip712.EVIDENCE_TYPE,
            "BatchSubmission": eip712.BATCH_SUBMISSION_TYPE,
            "AccountChange": eip712.ACCOUNT_CHANGE_TYPE,
            "RecoveryVeto": eip712.RECOVERY_VETO_TYPE,
            "DocumentAction": eip712.DOCUMENT_ACTION_TYPE,
            "PersonalDataRequest": eip712.PERSONAL_DATA_REQUEST_TYPE,
            "CertificateConsent": eip712.CERTIFICATE_CONSENT_TYPE,
        },
    }


@router.post(
    "/v1/evidence",
    status_code=202,
    response_model=SubmissionPublic,
    responses=errors(403, 409),
    summary="Register one hash (relayed)",
    description="Relays a registration signed by a party account (EIP-712 `Evidence`) of a *binding*: the "
    'content hash bound to the party by the party itself (docs/certificate.md "Bindings"); the content '
    "hash is never sent. Every contract rule is checked before the request is journalled; once journalled "
    "(202) the registration is retried until it is on chain, across restarts of the API or the node. 400 "
    "naming `partyId` if it is not the registrant's party; 409 if the party already registered or this "
    "service already accepted the binding. The deadline must be at least `IPLEDGER_MIN_DEADLINE_MARGIN` "
    "seconds ahead.",
)
def register(body: EvidenceCreate, ledger: LedgerDep) -> dict[str, Any]:
    commitment = parse_hash(body.metadataCommitment, "metadataCommitment") if body.metadataCommitment else None
    if body.metadata is not None:
        commitment = _checked_metadata(body.metadata, commitment, ledger.parties.count())
    req = SingleRequest(
        binding=parse_hash(body.binding, "binding"),
        algorithm=int(parse_algorithm(body.algorithm)),
        metadata_commitment=commitment or ZERO,
        supersedes=parse_hash(body.supersedes, "supersedes") if body.supersedes else ZERO,
        registrant=parse_account(body.registrant, "registrant"),
        nonce=body.nonce,
        deadline=body.deadline,
        signature=parse_signature(body.signature),
        party_id=_party(body.partyId),
    )
    sub = ledger.evidence_service.submit_single(req)
    if sub.status == QUEUED:  # sent already otherwise; the pipeline follows it on its next tick
        ledger.pipeline.wake()
    return submission_public(sub)


@router.post(
    "/v1/evidence/batch",
    status_code=202,
    response_model=BatchAccepted,
    responses=errors(403, 409),
    summary="Register many bindings",
    description="Up to `IPLEDGER_MAX_BATCH_REQUEST` (default 100,000) bindings of content hashes to the "
    "party, signed at once by a party account: an EIP-712 `BatchSubmission` over the RFC 9162 Merkle root "
    "of the bindings in the given order (leaf = SHA-256(0x00 ‖ binding)). Journalled durably before the "
    "202; anchored by the aggregator within `IPLEDGER_BATCH_INTERVAL` seconds. Duplicates inside the request "
    "are refused (400 naming `bindings[i]`); bindings accepted earlier keep their earlier record and are "
    "listed in `duplicates`.",
)
def register_batch(body: EvidenceBatchCreate, ledger: LedgerDep) -> dict[str, Any]:
    limit = ledger.settings.max_batch_request
    if len(body.bindings) > limit:
        raise PayloadTooLarge(
            f"a batch holds at most {limit} bindings, this one has {len(body.bindings)}", field="bindings"
        )
    hashes = _parse_hashes(body.bindings)
    req = BatchRequest(
        algorithm=int(parse_algorithm(body.algorithm)),
        hashes=hashes,
        registrant=parse_account(body.registrant, "registrant"),
        deadline=body.deadline,
        signature=parse_signature(body.signature),
        party_id=_party(body.partyId),
    )
    accepted = ledger.evidence_service.submit_batch(req)
    ledger.pipeline.wake()
    return {**submission_public(accepted.submission), "duplicates": accepted.duplicates}


def _checked_metadata(metadata: dict[str, Any], commitment: bytes | None, parties: int) -> bytes:
    """The commitment of ``metadata`` once it is valid, names admitted parties only, and equals ``commitment`` when
    one is given."""
    normalised = validate_metadata(metadata)
    for i, creator in enumerate(normalised.get("creators", [])):
        if isinstance(creator, dict) and creator["partyId"] > parties:
            raise InvalidInput(
                f"metadata.creators[{i}] names party {creator['partyId']}, which is not admitted",
                field=f"metadata.creators[{i}].partyId",
            )
    computed = metadata_commitment(normalised)
    if commitment is not None and commitment != computed:
        raise InvalidInput(
            "metadataCommitment is not the SHA-256 of the canonical metadata (0x" + computed.hex() + ")",
            field="metadataCommitment",
        )
    return computed


def _party(value: int) -> int:
    if value == 0:
        raise InvalidInput("partyId must name the registrant's party (1 … 16777215)", field="partyId")
    return value


def _parse_hashes(values: list[str]) -> list[bytes]:
    out: list[bytes] = []
    append = out.append
    fromhex = bytes.fromhex
    for i, value in enumerate(values):
        text = value[2:] if value[:2] in ("0x", "0X") else value
        if len(text) != 64:
            raise InvalidInput(f"bindings[{i}] must be 64 hex characters, not {len(text)}", field=f"bindings[{i}]")
        try:
            raw = fromhex(text)
        except ValueError:
            raise InvalidInput(f"bindings[{i}] is not hex", field=f"bindings[{i}]") from None
        if raw == ZERO:
            raise InvalidInput(f"bindings[{i}] is all zeros", field=f"bindings[{i}]")
        append(raw)
    return out


@router.get(
    "/v1/receipts/{receipt_id}",
    response_model=SubmissionPublic,
    responses=errors(404),
    summary="Status of an accepted request",
)
def receipt(receipt_id: ReceiptPath, ledger: LedgerDep) -> dict[str, Any]:
    """queued → pending (sent) → registered (in a block) → final (after `IPLEDGER_CONFIRMATIONS` blocks)."""
    return submission_public(ledger.evidence_service.submission(receipt_id))


@router.get(
    "/v1/evidence/{content_hash}",
    response_model=EvidenceLookup,
    responses=errors(404),
    summary="Who registered a content hash, first and since",
)
def show(ledger: LedgerDep, content_hash: HashPath, partyId: PartyQuery = None) -> dict[str, Any]:  # noqa: N803
    """Every party's registration of the content hash (its public binding of each admitted party, read in a few
    batched calls; direct or batched): the earliest on chain at the top (party, block, time, status, earlier
    versions), and `registrations` listing up to 20, earliest first, with `registrationCount`. With `partyId`, only
    that party's registration, found by content hash or by binding. A binding journalled by this service (a private
    registration) is also found without `partyId`."""
    return ledger.evidence_service.lookup(parse_hash(content_hash, "content_hash"), partyId)


@router.get(
    "/v1/evidence/{content_hash}/certificate",
    summary="Evidence certificate (JSON, PDF or HTML)",
    response_model=CertificateDocument,
    responses={200: CERTIFICATE_RESPONSE, **errors(404)},
)
def certificate(
    ledger: LedgerDep,
    content_hash: HashPath,
    format: Literal["json", "pdf", "html"] = Query("json", description="json (default), pdf or html"),  # noqa: A002
    partyId: PartyQuery = None,  # noqa: N803
) -> Any:
    """The certificate of docs/certificate.md for the first registration of the content hash, or with `partyId` for
    that party's; PDF and HTML renderings are bilingual (Chinese and English).

    A private (salted) registration is found by its binding (this service never learns its content hash): the
    certificate is then issued for the binding, with `evidence.contentHash`, `salt` and `privacy` null (public or
    private cannot be told by a binding), and the registrant completes it from the sidecar its client wrote at
    registration (docs/certificate.md §4.2; `ipledger certificate --sidecar FILE.ipledger.json`)."""
    raw = parse_hash(content_hash, "content_hash")
    doc = ledger.certificates.build(raw, partyId)
    if format == "json":
        return doc
    from ledger.certificates.render import pdf as certificate_pdf

    url = f"{ledger.settings.public_url.rstrip('/')}/?hash=0x{raw.hex()}"
    if format == "html":
        return HTMLResponse(certificate_pdf.render_html(doc, verify_url=url))
    pdf = certificate_pdf.render_pdf(doc, verify_url=url)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="certificate-{raw.hex()[:16]}.pdf"'},
    )
