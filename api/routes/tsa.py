"""``POST /v1/tsa``: the RFC 3161 time-stamp authority over HTTP (RFC 3161 §3.4), and its certificate chain at
``GET /v1/tsa/ca.pem`` and ``GET /v1/tsa/tsa.pem``, and ``POST /v1/tsa/certificate``: the time-stamp certificate
(JSON) derived from a token (docs/tsa.md).

Every request to ``POST /v1/tsa`` is answered 200 with a DER ``TimeStampResp`` (``application/timestamp-reply``):
a token, or a ``rejection`` whose ``failInfo`` and text say why (no or a wrong bearer token, a malformed or
oversized body, an algorithm or policy not accepted, the rate limit, a chain that did not take the anchor).
Only a body over the transport limit (64 KiB) is refused earlier, 413 in the API's envelope.
"""

from __future__ import annotations

import logging
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from api.deps import LedgerDep, bearer_token
from api.openapi import binary, errors
from api.schemas import TimeStampCertificate
from ledger.certificates.timestamp import MAX_REQUEST_BYTES, MAX_TOKEN_BYTES, rejection
from ledger.certificates.timestamp_certificate import derive
from ledger.errors import InvalidInput, LedgerError, NotFound, PayloadTooLarge, StorageUnavailable
from ledger.facade import Ledger

router = APIRouter(tags=["time stamps"])
log = logging.getLogger("ipledger.api")

REPLY_TYPE = "application/timestamp-reply"
PEM_TYPE = "application/x-pem-file"


@router.post(
    "/v1/tsa",
    summary="RFC 3161 time stamp anchored on the chain",
    description="RFC 3161 over HTTP: the body is a DER `TimeStampReq` (`Content-Type: application/timestamp-query`) "
    "with a SHA-256, SHA-512 or SM3 (OID 1.2.156.10197.1.401) imprint, and `Authorization: Bearer <token>` carries "
    "the operator token or a client token from `ipledger tsa token new NAME`. The answer is always 200 with a DER "
    "`TimeStampResp` (`application/timestamp-reply`): a token whose `genTime` is the timestamp of the block that "
    "anchored the imprint (`EvidenceRegistry.anchorBatch`, requests gathered for up to `IPLEDGER_TSA_MAX_WAIT` "
    "seconds), `accuracy` `IPLEDGER_TSA_ACCURACY` seconds, the nonce echoed, the TSA certificate included when "
    "`certReq` asks, and a non-critical extension linking it to the chain (chain id, contract, transaction, block, "
    "Merkle audit path); or a `rejection` with `failInfo` (`badRequest`: no or a wrong token, wrong content type; "
    "`badDataFormat`: not a TimeStampReq, or over 8 KiB; `badAlg`; `unacceptedPolicy`; `unacceptedExtension`; "
    "`systemFailure`: the rate limit, with `Retry-After`, or a chain that did not take the anchor; "
    "`timeNotAvailable`). docs/tsa.md describes the profile.",
    response_class=Response,
    responses={**binary(REPLY_TYPE, "A DER TimeStampResp: a granted token or a rejection with its failInfo.")},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/timestamp-query": {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
async def timestamp(request: Request, ledger: LedgerDep) -> Response:
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_REQUEST_BYTES:
            text = f"the request is larger than {MAX_REQUEST_BYTES} bytes"
            return Response(rejection("bad_data_format", text), media_type=REPLY_TYPE)
    try:
        tsa = _tsa(ledger)
    except StorageUnavailable as exc:
        return Response(rejection("system_failure", exc.message), media_type=REPLY_TYPE)
    der, wait = await run_in_threadpool(
        tsa.stamp,
        bytes(body),
        content_type=request.headers.get("content-type", ""),
        token=bearer_token(request.headers.get("authorization")),
    )
    headers = {"Retry-After": str(max(1, round(wait)))} if wait else None
    return Response(der, media_type=REPLY_TYPE, headers=headers)


@router.get(
    "/v1/tsa/ca.pem",
    summary="The CA certificate of the time-stamp authority",
    description="PEM: the root a verifier trusts for this TSA's tokens (`openssl ts -verify -CAfile`). 404 when the "
    "deployment publishes none.",
    response_class=Response,
    responses={**binary(PEM_TYPE, "The CA certificate (PEM)."), **errors(404)},
)
def tsa_ca(ledger: LedgerDep) -> Response:
    pem = _tsa(ledger).material.ca_pem
    if not pem:
        raise NotFound("this deployment publishes no CA certificate for its time-stamp authority")
    return Response(pem, media_type=PEM_TYPE)


@router.get(
    "/v1/tsa/tsa.pem",
    summary="The certificate of the time-stamp authority",
    description="PEM: the TSA certificate (critical extended key usage timeStamping), followed by any intermediate "
    "certificates of its chain (`openssl ts -verify -untrusted`).",
    response_class=Response,
    responses={**binary(PEM_TYPE, "The TSA certificate and its chain (PEM).")},
)
def tsa_cert(ledger: LedgerDep) -> Response:
    return Response(_tsa(ledger).material.tsa_pem, media_type=PEM_TYPE)


def _tsa(ledger: Ledger) -> Any:
    """The ledger's time-stamp authority; its keys missing or unreadable (a wrong password) answer 503, not 500."""
    try:
        return ledger.tsa
    except LedgerError as exc:
        log.warning("time-stamp authority unavailable: %s", exc.message)
        raise StorageUnavailable("the time-stamp authority's keys are not available (see the service's log)") from None


@router.post(
    "/v1/tsa/certificate",
    summary="The time-stamp certificate of a token",
    description="Derives the time-stamp certificate (JSON, docs/tsa.md §7) from an RFC 3161 token of this ledger "
    "alone: the body is the DER `TimeStampResp` that `POST /v1/tsa` answered, or the bare `TimeStampToken` (at most "
    "256 KiB; any content type). The certificate carries the token and, in words, what it says (imprint, time, TSA, "
    "chain, contract, transaction, block, batch root, audit path), and the TSA certificate this service publishes "
    "when the token holds none. No token is stored and the chain is not asked: check the certificate with "
    "`POST /v1/verify`, `ipledger verify` or the portal. 400 (field `token`) when the body is no token of a ledger.",
    response_model=TimeStampCertificate,
    response_model_exclude_unset=True,  # tsaCertificate only when carried; nulls the token says are kept
    responses={**errors(400, 413)},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/timestamp-reply": {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
async def timestamp_certificate(request: Request, ledger: LedgerDep) -> dict[str, Any]:
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_TOKEN_BYTES:
            raise PayloadTooLarge(f"a token is at most {MAX_TOKEN_BYTES} bytes", field="token")
    if not body:
        raise InvalidInput("send the token (DER) as the body", field="token")
    pem = ledger.published_tsa_chain()[1]
    try:
        certs = x509.load_pem_x509_certificates(pem) if pem else []
    except ValueError:
        certs = []
    return derive(bytes(body), tsa_certificate=certs[0].public_bytes(Encoding.DER) if certs else None)
