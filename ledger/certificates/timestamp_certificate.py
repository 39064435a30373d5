"""The time-stamp certificate: a JSON document derived from an RFC 3161 token of this ledger alone.

A token (``.tsr``) is DER: openssl, pyHanko and PDF signers read it, people and the portal do not. The certificate
(docs/tsa.md §7) carries the token itself, base64, and beside it, in words a reader can check against the chain
by hand, what the token says: the imprint, the time, the TSA and the ledger anchor (chain, contract, transaction,
block, batch root, leaf index, tree size, audit path). Nothing is added that the token does not hold, except the
TSA's certificate when the token was asked for without it (``certReq`` false) and the deriver was given it.

Verification (:func:`verify`) is the token's (``ledger.certificates.timestamp.verify_token``: imprint, CMS
signature, TSA certificate, on-chain anchor), preceded by one more ``format`` rule: every member in words must be
exactly what the embedded token says, so that a reader trusting the words is never told something the signed
token does not say. It runs at every door the evidence certificate's runs at: ``ipledger verify``, ``POST
/v1/verify`` and the portal.
"""

# ruff: noqa: BLE001 - a verifier reads an untrusted document: whatever it holds, the check fails in the report

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from typing import Any, BinaryIO

from asn1crypto import x509

from ledger.certificates.timestamp import (
    IMPRINT_ALGORITHMS,
    MAX_TOKEN_BYTES,
    ParsedToken,
    parse_token,
    verify_token,
)
from ledger.certificates.verify import Check, Report, Rpc
from ledger.errors import InvalidInput

__all__ = ["FORMAT", "VERSION", "carries_certificate", "derive", "is_timestamp_certificate", "verify"]

FORMAT = "qianhai-ip-ledger/timestamp-certificate"
VERSION = 1
#: Largest TSA certificate carried (DER bytes).
MAX_CERTIFICATE_DER = 16 * 1024
_MEMBERS = {"format", "version", "token", "timeStamp", "anchor"}
_OPTIONAL = {"tsaCertificate"}


def is_timestamp_certificate(doc: Any) -> bool:
    """Whether ``doc`` (parsed JSON) claims to be a time-stamp certificate: the verifiers' dispatch."""
    return isinstance(doc, dict) and doc.get("format") == FORMAT


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(value: Any, field: str, limit: int) -> bytes:
    if not isinstance(value, str) or len(value) > (limit + 2) // 3 * 4:
        raise InvalidInput(f"{field} must be base64 of at most {limit} bytes", field=field)
    try:
        return base64.b64decode(value.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise InvalidInput(f"{field} is not base64", field=field) from None


def _words(parsed: ParsedToken) -> dict[str, Any]:
    """What the token says, in the certificate's members."""
    tst = parsed.tst_info
    oid = tst["message_imprint"]["hash_algorithm"]["algorithm"].dotted
    name = IMPRINT_ALGORITHMS.get(oid, (oid, 0))[0]
    accuracy = tst["accuracy"]
    tsa = tst["tsa"]
    stamp: dict[str, Any] = {
        "serialNumber": str(tst["serial_number"].native),
        "genTime": int(tst["gen_time"].native.timestamp()),
        "accuracySeconds": int(accuracy["seconds"].native or 0) if accuracy.native is not None else None,
        "policy": tst["policy"].dotted,
        "imprint": {"algorithm": name, "hash": "0x" + bytes(tst["message_imprint"]["hashed_message"].native).hex()},
        "tsa": tsa.chosen.human_friendly if tsa.native is not None and tsa.name == "directory_name" else None,
    }
    return {"timeStamp": stamp, "anchor": parsed.anchor.to_json() if parsed.anchor is not None else None}


def _token_der(parsed: ParsedToken) -> bytes:
    return bytes(parsed.content_info.dump())


def _embedded_certificate(parsed: ParsedToken) -> bytes | None:
    certs = parsed.content_info["content"]["certificates"]
    for choice in certs if certs.native is not None else []:
        if choice.name == "certificate":
            return bytes(choice.chosen.dump())
    return None


def carries_certificate(doc: dict[str, Any]) -> bool:
    """Whether a derived certificate holds the TSA certificate (in its token, or beside it)."""
    return (
        "tsaCertificate" in doc
        or _embedded_certificate(parse_token(_unb64(doc["token"], "token", MAX_TOKEN_BYTES))) is not None
    )


def derive(raw: bytes, *, tsa_certificate: bytes | None = None) -> dict[str, Any]:
    """The certificate of ``raw`` (a TimeStampResp or a bare token of this ledger); ``tsa_certificate`` (DER) is
    carried when the token holds none. InvalidInput (field ``token``) when ``raw`` is no token of this ledger."""
    parsed = parse_token(raw)
    if parsed.anchor is None:
        raise InvalidInput("the token carries no ledger extension: it is not anchored on a chain", field="token")
    doc: dict[str, Any] = {"format": FORMAT, "version": VERSION, "token": _b64(_token_der(parsed))}
    doc.update(_words(parsed))
    cert = _embedded_certificate(parsed)
    if cert is None and tsa_certificate is not None:
        try:
            x509.Certificate.load(tsa_certificate, strict=True).native  # noqa: B018 - parse it all
        except Exception:
            raise InvalidInput("the TSA certificate is not an X.509 certificate (DER)", field="tsa_cert") from None
        doc["tsaCertificate"] = _b64(tsa_certificate)
    return doc


def _read(doc: Any) -> tuple[ParsedToken, bytes | None]:
    """The token and carried certificate of ``doc``, once every format rule holds; InvalidInput naming the member
    that breaks one."""
    if not isinstance(doc, dict):
        raise InvalidInput("a time-stamp certificate is a JSON object", field="certificate")
    missing = sorted(_MEMBERS - doc.keys())
    extra = sorted(doc.keys() - _MEMBERS - _OPTIONAL)
    if missing or extra:
        what = f"lacks {', '.join(missing)}" if missing else f"has members the format has not: {', '.join(extra)}"
        raise InvalidInput(f"the certificate {what}", field=(missing or extra)[0])
    if doc["format"] != FORMAT or type(doc["version"]) is not int or doc["version"] != VERSION:
        raise InvalidInput(f"not a {FORMAT} version {VERSION}", field="version")
    parsed = parse_token(_unb64(doc["token"], "token", MAX_TOKEN_BYTES))
    if parsed.anchor is None:
        raise InvalidInput("the token carries no ledger extension: it is not anchored on a chain", field="token")
    words = _words(parsed)
    for member in ("timeStamp", "anchor"):
        if doc[member] != words[member]:
            raise InvalidInput(f"{member} is not what the embedded token says", field=member)
    cert = None
    if "tsaCertificate" in doc:
        cert = _unb64(doc["tsaCertificate"], "tsaCertificate", MAX_CERTIFICATE_DER)
    return parsed, cert


def verify(
    doc: Any,
    rpc: Rpc | None,
    *,
    file: BinaryIO | None = None,
    file_digests: Mapping[str, bytes] | None = None,
    ca_certificates: Sequence[bytes] = (),
    registry: str | None = None,
) -> tuple[Report, ParsedToken | None]:
    """The checks of docs/tsa.md §5 on the embedded token, after the certificate's own format rules; with
    ``registry``, one more check that the anchoring contract is that EvidenceRegistry (the deployment's)."""
    try:
        token, cert = _read(doc)
    except InvalidInput as exc:
        report = Report()
        report.add("format", False, "", exc.message)
        return report, None
    inner, parsed = verify_token(
        _token_der(token),
        rpc,
        file=file,
        file_digests=file_digests,
        ca_certificates=ca_certificates,
        tsa_certificate=cert,
    )
    report = Report()
    for check in inner.checks:
        if check.name == "format" and check.status == "passed":
            check = Check("format", check.status, f"time-stamp certificate version {VERSION}; {check.detail}")
        report.checks.append(check)
    if registry is not None and parsed is not None and parsed.anchor is not None:
        report.add(
            "registry",
            parsed.anchor.contract.lower() == registry.lower(),
            f"the anchoring contract is this deployment's EvidenceRegistry {registry}",
            f"the anchoring contract {parsed.anchor.contract} is not this deployment's EvidenceRegistry {registry}",
        )
    return report, parsed
