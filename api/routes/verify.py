"""Verification of a certificate, optionally with the file streamed and hashed (never stored).

A malformed request is a 4xx naming its field, never a 500: a multipart body that does not parse, ends
before its closing boundary, repeats a part, has more than ``MAX_PARTS`` parts or oversized part headers
answers 400; a certificate nested deeper than ``IPLEDGER_MAX_JSON_DEPTH`` answers 400 before it is parsed.
The body as a whole is bounded by ``api.limits`` (413, 408); the file part by ``IPLEDGER_MAX_UPLOAD_BYTES``.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from fastapi import APIRouter, Request
from python_multipart import MultipartParser
from python_multipart.multipart import parse_options_header
from starlette.concurrency import run_in_threadpool

from api.deps import LedgerDep
from api.limits import json_depth
from api.schemas import VerifyRequest, VerifyResult
from ledger.certificates import timestamp_certificate
from ledger.certificates.evidence import (
    MAX_CERTIFICATE_BYTES,
    CertificateMalformed,
    DuplicateMember,
    loads,
    no_duplicates,
)
from ledger.certificates.verify import Report, Rpc, verify
from ledger.domain.hashing import HashAlgorithm, new_hasher, parse_hash
from ledger.errors import InvalidInput, LedgerError, PayloadTooLarge
from ledger.facade import Ledger

router = APIRouter(tags=["verify"])

# A multipart request: a certificate part and a file part; a few other parts (ignored) are tolerated.
MAX_PARTS = 4
MAX_PART_HEADERS = 8
MAX_PART_HEADER_BYTES = 4096
MAX_BOUNDARY = 70


@router.post(
    "/v1/verify",
    response_model=VerifyResult,
    summary="Verify a certificate against the chain",
    description='Either `application/json` with `{"certificate": {...}, "fileHash"?: "0x…"}`, or '
    "`multipart/form-data` with a `certificate` part (the JSON) and optionally a `file` part. The file is "
    "hashed (SHA-256 and SM3) as it streams in and never stored; its size is limited by "
    "`IPLEDGER_MAX_UPLOAD_BYTES`. Each check of docs/certificate.md is reported with its outcome; the "
    "verdict is `passed` when none failed. A malformed certificate is a failed `format` check, not an error. "
    "An evidence certificate's `checkpoint` section is checked against the public chains this service is "
    "configured with (IPLEDGER_ANCHOR_RPC_URL); `assurance` says how far it reaches. A time-stamp certificate "
    "(docs/tsa.md §7, derived from an RFC 3161 token with `POST /v1/tsa/certificate`) is checked like its token: "
    "imprint, CMS signature, TSA certificate (chained to the CA this service publishes at /v1/tsa/ca.pem, when it "
    "has a time-stamp authority), the anchor on chain, and that the anchoring contract is this deployment's "
    "EvidenceRegistry.",
    openapi_extra={
        "requestBody": {
            "content": {
                "application/json": {"schema": VerifyRequest.model_json_schema()},
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "certificate": {"type": "string"},
                            "file": {"type": "string", "format": "binary"},
                        },
                        "required": ["certificate"],
                    }
                },
            },
            "required": True,
        }
    },
)
async def verify_certificate(request: Request, ledger: LedgerDep) -> dict[str, Any]:
    ctype, params = parse_options_header(request.headers.get("content-type", ""))
    limit = ledger.settings.max_upload_bytes
    file_hashes: dict[HashAlgorithm, bytes] | None = None
    sha512: bytes | None = None
    size = 0
    if ctype == b"multipart/form-data":
        boundary = params.get(b"boundary")
        if not boundary:
            raise InvalidInput("multipart body without a boundary", field="content-type")
        if len(boundary) > MAX_BOUNDARY:
            raise InvalidInput(
                f"a multipart boundary has at most {MAX_BOUNDARY} characters (RFC 2046)", field="content-type"
            )
        cert_bytes, file_hashes, sha512, size = await _stream_multipart(request, boundary, limit)
        depth_limit = ledger.settings.max_json_depth
        if json_depth(cert_bytes, at_most=depth_limit) > depth_limit:
            raise InvalidInput(f"the certificate nests more than {depth_limit} levels deep", field="certificate")
        try:
            doc = loads(cert_bytes)
        except CertificateMalformed as exc:  # JSON against the specification's rules (a member named twice)
            return _malformed(exc)
        except ValueError:  # not JSON, not UTF-8
            raise InvalidInput("the certificate part is not JSON", field="certificate") from None
    elif ctype in (b"application/json", b""):
        body = await request.body()
        if len(body) > MAX_CERTIFICATE_BYTES * 2:
            raise PayloadTooLarge("the request is larger than a certificate can be", field="certificate")
        try:
            parsed = json.loads(body, object_pairs_hook=no_duplicates)
        except DuplicateMember as exc:
            return _malformed(
                CertificateMalformed(f"an object names the member {exc.args[0]!r} twice", field="certificate")
            )
        except ValueError:
            parsed = None
        try:
            req = VerifyRequest.model_validate_json(body) if parsed is None else VerifyRequest.model_validate(parsed)
        except ValueError as exc:
            raise InvalidInput(
                f"the body is not a verify request: {str(exc).splitlines()[0]}", field="certificate"
            ) from None
        doc = req.certificate
        if req.fileHash is not None and timestamp_certificate.is_timestamp_certificate(doc):
            digest = _file_hash(req.fileHash)
            return await run_in_threadpool(_verify_time_stamp, ledger, doc, {n: digest for n in _NAMES[len(digest)]})
        if req.fileHash is not None:
            digest = parse_hash(req.fileHash, "fileHash")
            file_hashes = {HashAlgorithm.SHA256: digest, HashAlgorithm.SM3: digest}
    else:
        raise InvalidInput("send application/json or multipart/form-data", field="content-type")
    if timestamp_certificate.is_timestamp_certificate(doc):
        digests = None
        if file_hashes is not None:
            digests = {"sha256": file_hashes[HashAlgorithm.SHA256], "sm3": file_hashes[HashAlgorithm.SM3]}
            if sha512 is not None:
                digests["sha512"] = sha512
        return await run_in_threadpool(_verify_time_stamp, ledger, doc, digests)
    if isinstance(doc, dict) and doc.get("format") == "qianhai-ip-ledger/agreement-certificate":
        from ledger.certificates import agreement as agreement_certificate

        document = (file_hashes or {}).get(HashAlgorithm.SHA256)
        return agreement_certificate.verify(doc, Rpc.from_web3(ledger.w3), document_hash=document).to_json()
    anchors = {cid: Rpc.from_web3(w3) for cid, w3 in ledger.anchor_endpoints().items()}
    report = verify(doc, Rpc.from_web3(ledger.w3), file_hashes=file_hashes, file_size=size, anchors=anchors)
    return report.to_json()


#: The imprint algorithms a file hash of each length may be in (a time-stamp certificate's).
_NAMES = {32: ("sha256", "sm3"), 64: ("sha512",)}


def _file_hash(value: str) -> bytes:
    """A time-stamp certificate's ``fileHash``: 0x and 64 or 128 hex digits."""
    body = value[2:] if value[:2] in ("0x", "0X") else value
    try:
        digest = bytes.fromhex(body)
    except ValueError:
        digest = b""
    if len(digest) not in _NAMES or len(body) != 2 * len(digest):
        raise InvalidInput("fileHash must be 0x and 64 hex digits (SHA-256, SM3) or 128 (SHA-512)", field="fileHash")
    return digest


def _verify_time_stamp(ledger: Ledger, doc: dict[str, Any], digests: dict[str, bytes] | None) -> dict[str, Any]:
    """A time-stamp certificate's report: its token's checks against this service's chain, its TSA certificate
    chained to the CA this service publishes (when it has a time-stamp authority), and its contract this
    deployment's EvidenceRegistry."""
    try:
        cas = [c.public_bytes(Encoding.DER) for c in x509.load_pem_x509_certificates(ledger.published_tsa_chain()[0])]
    except ValueError:  # no time-stamp authority here: the certificate chain's check is skipped
        cas = []
    registry = ledger.manifest.contracts.get("EvidenceRegistry")
    report, _ = timestamp_certificate.verify(
        doc,
        Rpc.from_web3(ledger.w3),
        file_digests=digests,
        ca_certificates=cas,
        registry=registry.address if registry is not None else None,
    )
    return report.to_json()


def _malformed(exc: CertificateMalformed) -> dict[str, Any]:
    """The answer for a certificate that breaks the specification's JSON rules: a failed ``format`` check."""
    report = Report()
    report.add("format", False, "", exc.message)
    return report.to_json()


async def _stream_multipart(
    request: Request, boundary: bytes, limit: int
) -> tuple[bytes, dict[HashAlgorithm, bytes] | None, bytes | None, int]:
    """The certificate part, and the file part's SHA-256 and SM3 digests, its SHA-512 and its size (the digests
    None when there is no file part)."""
    state: dict[str, Any] = {
        "name": None,
        "header_field": b"",
        "header_value": b"",
        "headers": {},
        "parts": set(),
        "complete": False,
    }
    cert = bytearray()
    hashers = {alg: new_hasher(alg) for alg in HashAlgorithm.choices()}
    sha512 = hashlib.sha512()  # a time-stamp certificate's imprint may be SHA-512
    seen_file = False
    size = 0

    def on_part_begin() -> None:
        state["headers"] = {}
        state["name"] = None

    def on_header_field(data: bytes, start: int, end: int) -> None:
        state["header_field"] += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        state["header_value"] += data[start:end]

    def on_header_end() -> None:
        state["headers"][state["header_field"].lower()] = state["header_value"]
        state["header_field"] = b""
        state["header_value"] = b""

    def on_headers_finished() -> None:
        nonlocal seen_file
        _, opts = parse_options_header(state["headers"].get(b"content-disposition", b""))
        state["name"] = opts.get(b"name", b"").decode("utf-8", "replace")
        if state["name"] in state["parts"]:
            raise InvalidInput(f"the multipart body has two {state['name'][:40]!r} parts", field=state["name"][:40])
        state["parts"].add(state["name"])
        if len(state["parts"]) > MAX_PARTS:
            raise InvalidInput(f"a verify request has at most {MAX_PARTS} parts", field="body")
        if state["name"] == "file":
            seen_file = True

    def on_end() -> None:
        state["complete"] = True

    def on_part_data(data: bytes, start: int, end: int) -> None:
        nonlocal size
        chunk = data[start:end]
        if state["name"] == "certificate":
            if len(cert) + len(chunk) > MAX_CERTIFICATE_BYTES:
                raise PayloadTooLarge(f"a certificate is at most {MAX_CERTIFICATE_BYTES} bytes", field="certificate")
            cert.extend(chunk)
        elif state["name"] == "file":
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge(f"the file is larger than the limit of {limit} bytes", field="file")
            for h in hashers.values():
                h.update(chunk)
            sha512.update(chunk)

    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": on_part_begin,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_headers_finished": on_headers_finished,
            "on_part_data": on_part_data,
            "on_end": on_end,
        },
        max_header_count=MAX_PART_HEADERS,
        max_header_size=MAX_PART_HEADER_BYTES,
    )
    try:
        async for chunk in request.stream():
            parser.write(chunk)
        parser.finalize()
    except LedgerError:
        raise
    except ValueError as exc:  # python-multipart's parse errors (FormParserError is a ValueError)
        raise InvalidInput(f"malformed multipart body: {str(exc)[:200]}", field="body") from None
    if not state["complete"]:
        raise InvalidInput("the multipart body ends before its closing boundary", field="body")
    if not cert:
        raise InvalidInput("the multipart body has no certificate part", field="certificate")
    if not seen_file:
        return bytes(cert), None, None, size
    return bytes(cert), {alg: h.digest() for alg, h in hashers.items()}, sha512.digest(), size
