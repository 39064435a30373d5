"""The encrypted document vault: parties seal on their own machines; the service keeps ciphertext only."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import Response

from api.deps import LedgerDep
from api.openapi import binary, errors
from api.schemas import (
    DocumentDecrypt,
    DocumentGrant,
    DocumentKeyPublish,
    DocumentRevoke,
    DocumentStore,
    PartyIdParam,
)
from ledger.domain.evidence import parse_signature
from ledger.domain.results import DocumentKeyView, EnvelopeView
from ledger.errors import InvalidInput

router = APIRouter(tags=["documents"])
DocumentIdPath = Annotated[str, Path(max_length=128, description="Document id")]


def _hex(value: str, field: str) -> bytes:
    try:
        return bytes.fromhex(value.removeprefix("0x"))
    except ValueError:
        raise InvalidInput(f"{field} is not hex", field=field) from None


@router.post(
    "/v1/document-keys",
    response_model=DocumentKeyView,
    responses=errors(403, 404),
    summary="Publish a party's X25519 document key",
)
def publish_key(body: DocumentKeyPublish, ledger: LedgerDep) -> DocumentKeyView:
    """Signed `DocumentAction("publish-key", "", sha256(sha256(publicKey)), deadline)`; others wrap documents for it."""
    return ledger.documents.publish_key(
        _hex(body.publicKey, "publicKey"), body.account, body.deadline, parse_signature(body.signature)
    )


@router.get(
    "/v1/parties/{party_id}/document-key",
    response_model=DocumentKeyView,
    responses=errors(404),
    summary="A party's published X25519 document key",
)
def document_key(
    ledger: LedgerDep, party_id: Annotated[PartyIdParam, Path(description="Party id, 1 … 16777215 (ASCII digits)")]
) -> DocumentKeyView:
    return ledger.documents.key(party_id)


@router.post(
    "/v1/documents",
    response_model=EnvelopeView,
    responses=errors(403, 404, 409),
    status_code=201,
    summary="Store a document sealed by its owner",
)
def store(body: DocumentStore, ledger: LedgerDep) -> EnvelopeView:
    """The owner seals the document itself (AES-256-GCM, the key wrapped per reader with X25519 + HKDF) and
    sends the envelope and ciphertext; the service never sees the plaintext. Register the document's hash as
    evidence so that reading can check it against the chain."""
    try:
        blob = base64.b64decode(body.ciphertext, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput("ciphertext is not base64", field="ciphertext") from None
    return ledger.documents.store(body.envelope, blob, body.account, body.deadline, parse_signature(body.signature))


@router.get(
    "/v1/documents/{document_id}",
    response_model=EnvelopeView,
    responses=errors(404),
    summary="A document's envelope (public: hashes and wrapped keys)",
)
def envelope(document_id: DocumentIdPath, ledger: LedgerDep) -> EnvelopeView:
    return ledger.documents.envelope(document_id)


@router.get(
    "/v1/documents/{document_id}/ciphertext",
    summary="A document's ciphertext",
    response_model=None,
    response_class=Response,
    responses={
        **binary("application/octet-stream", "The AES-256-GCM ciphertext as stored (raw bytes)."),
        **errors(404),
    },
)
def ciphertext(document_id: DocumentIdPath, ledger: LedgerDep) -> Response:
    return Response(ledger.documents.ciphertext(document_id), media_type="application/octet-stream")


@router.post(
    "/v1/documents/{document_id}/grants",
    response_model=EnvelopeView,
    responses=errors(403, 404, 409),
    summary="Grant a party read access",
)
def grant(document_id: DocumentIdPath, body: DocumentGrant, ledger: LedgerDep) -> EnvelopeView:
    """An existing reader unwraps the document key on its machine, wraps it for the new reader's published
    key, and sends the envelope with exactly that one recipient added."""
    return ledger.documents.grant(
        document_id, body.envelope, body.account, body.deadline, parse_signature(body.signature)
    )


@router.post(
    "/v1/documents/{document_id}/revocations",
    response_model=EnvelopeView,
    responses=errors(403, 404, 409),
    summary="Revoke a reader (owner only)",
)
def revoke(document_id: DocumentIdPath, body: DocumentRevoke, ledger: LedgerDep) -> EnvelopeView:
    """Removes the reader's wrapped key. It cannot take back what the reader already read (docs/vault.md)."""
    return ledger.documents.revoke(
        document_id, body.reader, body.account, body.deadline, parse_signature(body.signature)
    )


@router.post(
    "/v1/documents/{document_id}/decrypt",
    summary="Decrypt with a key the reader supplies",
    response_model=None,
    response_class=Response,
    responses={
        **binary("application/octet-stream", "The plaintext (raw bytes), checked against the registered hash."),
        **errors(403, 404),
    },
)
def decrypt(document_id: DocumentIdPath, body: DocumentDecrypt, ledger: LedgerDep) -> Response:
    """Only when the reader asks: its X25519 private key is used for this request and not kept. The plaintext
    must hash to the registered evidence record; altered ciphertext is refused."""
    plaintext = ledger.documents.decrypt(document_id, body.party, _hex(body.privateKey, "privateKey"))
    return Response(plaintext, media_type="application/octet-stream")
