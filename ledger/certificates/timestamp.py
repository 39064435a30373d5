"""RFC 3161 time-stamp tokens backed by the chain: the profile, the requests, the tokens and their verification.

The profile (docs/tsa.md says it for people):

- message imprints in SHA-256, SHA-512 or SM3 (OID 1.2.156.10197.1.401); anything else is refused ``badAlg``;
- a policy OID of the deployment's own (``IPLEDGER_TSA_POLICY``; :data:`DEFAULT_POLICY` is a placeholder under
  this software's UUID arc, ITU-T X.667);
- ``genTime`` is the timestamp of the block whose ``EvidenceRegistry.anchorBatch(root, size)`` anchored the
  imprint's leaf; ``accuracy`` states how far the request's arrival may lie from it;
- the non-critical extension :data:`LEDGER_ANCHOR_OID` carries what links the token to the ledger
  (:class:`LedgerAnchorInfo`): chain id, contract, transaction, block, batch root, leaf index, tree size and the
  RFC 9162 audit path;
- the leaf of a token (:func:`tsa_leaf`) is ``SHA-256("ipledger:tsa:v1" 0x00 || name || 0x00 || imprint ||
  serial as 20 bytes)``: domain-separated from a party's batch leaves (EIP-712 digests), and binding the token's
  serial number, so no two tokens share a leaf and no two TSA batches share a root.

ASN.1 and CMS are built and read with asn1crypto, signatures made and checked with cryptography: no DER by hand.
Verification (:func:`verify_token`) needs only JSON-RPC (the five-method :class:`~ledger.certificates.verify.Rpc`
port) and hashing, like the evidence certificate's: an arbitrator can re-implement it from docs/tsa.md.
"""

# ruff: noqa: BLE001 - a verifier reads an untrusted token and asks an untrusted endpoint: whatever either does,
# the check it was making fails in the report; it never raises to its caller

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, BinaryIO

from asn1crypto import cms, core, tsp, x509
from cryptography import x509 as cx509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID
from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_utils import keccak, to_checksum_address

from ledger.certificates.verify import Report, Rpc, rpc_bytes, rpc_int
from ledger.domain import merkle
from ledger.domain.hashing import HashAlgorithm, hash_stream
from ledger.errors import InvalidInput

__all__ = [
    "DEFAULT_POLICY",
    "IMPRINT_ALGORITHMS",
    "LEDGER_ANCHOR_OID",
    "LEAF_DOMAIN",
    "MAX_REQUEST_BYTES",
    "LedgerAnchorInfo",
    "Refusal",
    "Signer",
    "TimeStampResponse",
    "TimeStampRequest",
    "parse_request",
    "rejection",
    "token_response",
    "tsa_leaf",
    "verify_token",
]

#: This software's OID arc: a UUID OID (ITU-T X.667, 2.25.<UUID as an integer>), which anyone may use without
#: registration. docs/tsa.md: a deployment replaces the policy with one under its own arc.
ARC = "2.25.79760801804132921971743260623921364422"
#: The placeholder policy of a deployment that sets no ``IPLEDGER_TSA_POLICY``.
DEFAULT_POLICY = ARC + ".1.1"
#: The extension (non-critical) that links a token to the ledger: the DER of :class:`LedgerAnchorAsn1`.
LEDGER_ANCHOR_OID = ARC + ".2.1"
#: Largest TimeStampReq accepted (a request with a SHA-512 imprint, a nonce and a policy takes about 120 bytes).
MAX_REQUEST_BYTES = 8 * 1024
#: Largest time-stamp response or token read by the verifier.
MAX_TOKEN_BYTES = 256 * 1024
#: Domain of a TSA leaf: 16 bytes, ASCII then one zero byte.
LEAF_DOMAIN = b"ipledger:tsa:v1\x00"
#: Serial numbers are positive integers below 2**159: they fit in 20 bytes, as RFC 3161 §2.4.2 asks.
SERIAL_BITS = 159

#: Imprint algorithm OID -> (name in the leaf, digest length).
IMPRINT_ALGORITHMS: dict[str, tuple[str, int]] = {
    "2.16.840.1.101.3.4.2.1": ("sha256", 32),
    "2.16.840.1.101.3.4.2.3": ("sha512", 64),
    "1.2.156.10197.1.401": ("sm3", 32),
}
SM3_OID = "1.2.156.10197.1.401"
_TST_INFO = "1.2.840.113549.1.9.16.1.4"
_BATCH = keccak(text="batch(bytes32)")[:4]
_BATCH_INCLUSION = keccak(text="batchInclusion(bytes32,bytes32,uint256,bytes32[])")[:4]
_BATCH_ANCHORED = keccak(text="BatchAnchored(bytes32,address,uint32)")


# --- failures ------------------------------------------------------------------------------------


class Refusal(InvalidInput):
    """A request the TSA refuses: answered as a TimeStampResp with status ``rejection`` and ``fail_info`` (a name
    of RFC 3161 PKIFailureInfo: bad_alg, bad_request, bad_data_format, time_not_available, unaccepted_policy,
    unaccepted_extension, system_failure)."""

    code = "tsa_refused"

    def __init__(self, fail_info: str, message: str) -> None:
        super().__init__(message, field="body")
        self.fail_info = fail_info


# --- requests -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TimeStampRequest:
    """A parsed, accepted TimeStampReq."""

    algorithm: str  # sha256, sha512, sm3
    algorithm_oid: str
    imprint: bytes
    nonce: int | None
    cert_req: bool


def parse_request(der: bytes, policy: str) -> TimeStampRequest:
    """The TimeStampReq in ``der``, or :class:`Refusal` naming what is wrong with it."""
    if len(der) > MAX_REQUEST_BYTES:
        raise Refusal("bad_data_format", f"the request takes {len(der)} bytes; at most {MAX_REQUEST_BYTES}")
    try:
        req = tsp.TimeStampReq.load(der, strict=True)
        native = req.native  # parses every field: a malformed inner value raises here, not later
        oid = req["message_imprint"]["hash_algorithm"]["algorithm"].dotted
        params = req["message_imprint"]["hash_algorithm"]["parameters"]
    except Exception:
        raise Refusal("bad_data_format", "the body is not a DER TimeStampReq (RFC 3161 §2.4.1)") from None
    if native["version"] != "v1":
        raise Refusal("bad_data_format", "the request's version is not 1")
    if oid not in IMPRINT_ALGORITHMS:
        raise Refusal("bad_alg", f"imprint algorithm {oid} is not accepted; use SHA-256, SHA-512 or SM3")
    if params.native is not None:
        raise Refusal("bad_alg", "the imprint algorithm carries parameters; none are allowed")
    name, length = IMPRINT_ALGORITHMS[oid]
    imprint = bytes(native["message_imprint"]["hashed_message"])
    if len(imprint) != length:
        raise Refusal("bad_data_format", f"a {name} imprint has {length} bytes, not {len(imprint)}")
    wanted = req["req_policy"]
    if wanted.native is not None and wanted.dotted != policy:
        raise Refusal("unaccepted_policy", f"policy {wanted.dotted} is not this TSA's ({policy})")
    if native["extensions"]:
        raise Refusal("unaccepted_extension", "request extensions are not accepted")
    nonce = native["nonce"]
    if nonce is not None and not (0 <= nonce < 1 << 256):
        raise Refusal("bad_data_format", "the nonce must be a non-negative integer of at most 256 bits")
    return TimeStampRequest(name, oid, imprint, nonce, bool(native["cert_req"]))


def new_serial() -> int:
    """A fresh serial number: random, positive, at most 20 bytes."""
    return secrets.randbits(SERIAL_BITS) | 1


def tsa_leaf(algorithm: str, imprint: bytes, serial: int) -> bytes:
    """The data of a token's leaf; its Merkle leaf hash is ``merkle.leaf_hash(tsa_leaf(...))`` (RFC 9162)."""
    if algorithm not in {name for name, _ in IMPRINT_ALGORITHMS.values()}:
        raise InvalidInput(f"unknown imprint algorithm {algorithm!r}", field="algorithm")
    if not 0 < serial < 1 << 160:
        raise InvalidInput("a serial number is a positive integer of at most 20 bytes", field="serial")
    return hashlib.sha256(
        LEAF_DOMAIN + algorithm.encode() + b"\x00" + bytes(imprint) + serial.to_bytes(20, "big")
    ).digest()


# --- the ledger extension -------------------------------------------------------------------------


class _AuditPath(core.SequenceOf):  # type: ignore[misc]
    _child_spec = core.OctetString


class LedgerAnchorAsn1(core.Sequence):  # type: ignore[misc]
    """``LedgerAnchor ::= SEQUENCE { version INTEGER (1), chainId INTEGER, contract OCTET STRING (SIZE (20)),
    transaction OCTET STRING (SIZE (32)), blockNumber INTEGER, blockHash OCTET STRING (SIZE (32)),
    root OCTET STRING (SIZE (32)), leafIndex INTEGER, treeSize INTEGER,
    auditPath SEQUENCE SIZE (0..64) OF OCTET STRING (SIZE (32)) }``"""

    _fields = [
        ("version", core.Integer),
        ("chain_id", core.Integer),
        ("contract", core.OctetString),
        ("transaction", core.OctetString),
        ("block_number", core.Integer),
        ("block_hash", core.OctetString),
        ("root", core.OctetString),
        ("leaf_index", core.Integer),
        ("tree_size", core.Integer),
        ("audit_path", _AuditPath),
    ]


@dataclass(frozen=True)
class LedgerAnchorInfo:
    """Where the chain holds a token's leaf."""

    chain_id: int
    contract: str  # checksummed address
    transaction: str  # 0x hex
    block_number: int
    block_hash: str  # 0x hex
    root: bytes
    leaf_index: int
    tree_size: int
    audit_path: tuple[bytes, ...]

    def to_der(self) -> bytes:
        return LedgerAnchorAsn1(
            {
                "version": 1,
                "chain_id": self.chain_id,
                "contract": bytes.fromhex(self.contract[2:]),
                "transaction": bytes.fromhex(self.transaction[2:]),
                "block_number": self.block_number,
                "block_hash": bytes.fromhex(self.block_hash[2:]),
                "root": self.root,
                "leaf_index": self.leaf_index,
                "tree_size": self.tree_size,
                "audit_path": list(self.audit_path),
            }
        ).dump()

    @classmethod
    def from_der(cls, der: bytes) -> LedgerAnchorInfo:
        value = LedgerAnchorAsn1.load(der, strict=True).native
        sizes = {"contract": 20, "transaction": 32, "block_hash": 32, "root": 32}
        if value["version"] != 1 or any(len(value[k]) != n for k, n in sizes.items()):
            raise ValueError("not a version 1 ledger anchor")
        path = tuple(bytes(p) for p in value["audit_path"])
        if len(path) > merkle.MAX_PROOF_LENGTH or any(len(p) != merkle.NODE_LENGTH for p in path):
            raise ValueError("the audit path is malformed")
        return cls(
            chain_id=int(value["chain_id"]),
            contract=to_checksum_address(value["contract"]),
            transaction="0x" + bytes(value["transaction"]).hex(),
            block_number=int(value["block_number"]),
            block_hash="0x" + bytes(value["block_hash"]).hex(),
            root=bytes(value["root"]),
            leaf_index=int(value["leaf_index"]),
            tree_size=int(value["tree_size"]),
            audit_path=path,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "chainId": self.chain_id,
            "contract": self.contract,
            "transaction": self.transaction,
            "blockNumber": self.block_number,
            "blockHash": self.block_hash,
            "root": "0x" + self.root.hex(),
            "leafIndex": self.leaf_index,
            "treeSize": self.tree_size,
            "auditPath": ["0x" + p.hex() for p in self.audit_path],
        }


# --- signing --------------------------------------------------------------------------------------


class Signer:
    """The TSA's private key and certificate (an EC or RSA key; the certificate's key must match it)."""

    def __init__(self, key: Any, certificate: bytes) -> None:
        if not isinstance(key, (ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey)):
            raise InvalidInput("the TSA key must be an EC or RSA private key", field="tsa_key")
        self.key = key
        self.certificate = x509.Certificate.load(certificate)
        public = cx509.load_der_x509_certificate(certificate).public_key()
        if public.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        ) != key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo):
            raise InvalidInput("the TSA certificate is not of the TSA key", field="tsa_cert")
        check_tsa_certificate(cx509.load_der_x509_certificate(certificate))

    def __repr__(self) -> str:  # never the key
        return f"Signer({self.certificate.subject.human_friendly!r})"

    def sign(self, data: bytes) -> bytes:
        if isinstance(self.key, ec.EllipticCurvePrivateKey):
            return self.key.sign(data, ec.ECDSA(hashes.SHA256()))
        return self.key.sign(data, padding.PKCS1v15(), hashes.SHA256())

    @property
    def signature_algorithm(self) -> str:
        return "sha256_ecdsa" if isinstance(self.key, ec.EllipticCurvePrivateKey) else "sha256_rsa"


def check_tsa_certificate(cert: cx509.Certificate) -> None:
    """RFC 3161 §2.3: the TSA certificate has one extended key usage, timeStamping, and it is critical."""
    try:
        eku = cert.extensions.get_extension_for_class(cx509.ExtendedKeyUsage)
    except cx509.ExtensionNotFound:
        raise InvalidInput("the TSA certificate has no extended key usage (timeStamping)", field="tsa_cert") from None
    if not eku.critical or list(eku.value) != [ExtendedKeyUsageOID.TIME_STAMPING]:
        raise InvalidInput(
            "the TSA certificate's extended key usage must be timeStamping only, marked critical (RFC 3161 §2.3)",
            field="tsa_cert",
        )


class TimeStampResponse(core.Sequence):  # type: ignore[misc]
    """RFC 3161 ``TimeStampResp``, whose ``timeStampToken`` is OPTIONAL (asn1crypto's ``tsp.TimeStampResp`` makes it
    required, so a rejection, which has none, is built with this one; both encode the same SEQUENCE)."""

    _fields = [("status", tsp.PKIStatusInfo), ("time_stamp_token", cms.ContentInfo, {"optional": True})]


def _status(status: str, text: str | None = None, fail_info: str | None = None) -> tsp.PKIStatusInfo:
    info: dict[str, Any] = {"status": status}
    if text:
        info["status_string"] = [text]
    if fail_info:
        info["fail_info"] = {fail_info}
    return tsp.PKIStatusInfo(info)


def rejection(fail_info: str, text: str) -> bytes:
    """A TimeStampResp with status rejection, ``fail_info`` and ``text`` (no token)."""
    return TimeStampResponse({"status": _status("rejection", text[:500], fail_info)}).dump()


def token_response(
    req: TimeStampRequest,
    *,
    signer: Signer,
    serial: int,
    gen_time: int,
    accuracy: int,
    policy: str,
    anchor: LedgerAnchorInfo,
) -> bytes:
    """A granted TimeStampResp: a CMS SignedData over the TSTInfo, signed with ``signer``."""
    tst = tsp.TSTInfo(
        {
            "version": "v1",
            "policy": policy,
            "message_imprint": {
                "hash_algorithm": {"algorithm": req.algorithm_oid},
                "hashed_message": req.imprint,
            },
            "serial_number": serial,
            "gen_time": datetime.fromtimestamp(gen_time, UTC),
            "accuracy": {"seconds": accuracy},
            "nonce": req.nonce,
            "tsa": x509.GeneralName(name="directory_name", value=signer.certificate.subject),
            "extensions": [{"extn_id": LEDGER_ANCHOR_OID, "critical": False, "extn_value": anchor.to_der()}],
        }
    )
    content = tst.dump()
    cert = signer.certificate
    signed_attrs = cms.CMSAttributes(
        [
            {"type": "content_type", "values": ["tst_info"]},
            {"type": "message_digest", "values": [hashlib.sha256(content).digest()]},
            {
                "type": "signing_certificate_v2",
                "values": [
                    {
                        "certs": [
                            {
                                "hash_algorithm": {"algorithm": "sha256"},
                                "cert_hash": hashlib.sha256(cert.dump()).digest(),
                                "issuer_serial": {
                                    "issuer": [x509.GeneralName(name="directory_name", value=cert.issuer)],
                                    "serial_number": cert.serial_number,
                                },
                            }
                        ]
                    }
                ],
            },
        ]
    )
    signature = signer.sign(signed_attrs.dump())
    signer_info = cms.SignerInfo(
        {
            "version": "v1",
            "sid": cms.SignerIdentifier(
                name="issuer_and_serial_number",
                value={"issuer": cert.issuer, "serial_number": cert.serial_number},
            ),
            "digest_algorithm": {"algorithm": "sha256"},
            "signed_attrs": signed_attrs,
            "signature_algorithm": {"algorithm": signer.signature_algorithm},
            "signature": signature,
        }
    )
    signed_data: dict[str, Any] = {
        "version": "v3",
        "digest_algorithms": [{"algorithm": "sha256"}],
        "encap_content_info": {"content_type": "tst_info", "content": core.ParsableOctetString(content)},
        "signer_infos": [signer_info],
    }
    if req.cert_req:
        signed_data["certificates"] = [cert]
    token = cms.ContentInfo({"content_type": "signed_data", "content": cms.SignedData(signed_data)})
    return tsp.TimeStampResp({"status": _status("granted"), "time_stamp_token": token}).dump()


# --- reading and verifying -----------------------------------------------------------------------


def looks_like_token(raw: bytes) -> bool:
    """Whether ``raw`` starts like DER (a SEQUENCE) rather than JSON: the verify command's dispatch."""
    return raw[:1] == b"\x30"


@dataclass
class ParsedToken:
    content_info: cms.ContentInfo
    tst_info: tsp.TSTInfo
    tst_der: bytes
    anchor: LedgerAnchorInfo | None


def parse_token(raw: bytes) -> ParsedToken:
    """A TimeStampResp (granted) or a bare TimeStampToken (CMS ContentInfo); InvalidInput when it is neither."""
    if len(raw) > MAX_TOKEN_BYTES:
        raise InvalidInput(f"the token takes {len(raw)} bytes; at most {MAX_TOKEN_BYTES}", field="token")
    token: cms.ContentInfo | None = None
    try:
        resp = TimeStampResponse.load(raw, strict=True)
        status = resp["status"]["status"].native
        if status not in ("granted", "granted_with_mods"):
            texts = resp["status"]["status_string"].native or []
            raise InvalidInput(f"the response is a {status}, not a token: {' '.join(texts)}", field="token")
        token = resp["time_stamp_token"]
    except InvalidInput:
        raise
    except Exception:
        token = None
    try:
        if token is None:
            token = cms.ContentInfo.load(raw, strict=True)
        if token["content_type"].native != "signed_data":
            raise ValueError("not signed data")
        encap = token["content"]["encap_content_info"]
        if encap["content_type"].dotted != _TST_INFO:
            raise ValueError("not a TSTInfo")
        tst_der = bytes(encap["content"].contents)
        tst = tsp.TSTInfo.load(tst_der, strict=True)
        _ = tst.native
    except Exception:
        raise InvalidInput("not an RFC 3161 time-stamp response or token (DER)", field="token") from None
    anchor = None
    for ext in tst["extensions"]:
        if ext["extn_id"].dotted == LEDGER_ANCHOR_OID:
            try:
                anchor = LedgerAnchorInfo.from_der(bytes(ext["extn_value"].contents))
            except Exception:
                raise InvalidInput("the token's ledger extension is malformed", field="token") from None
    return ParsedToken(token, tst, tst_der, anchor)


def _gen_time(tst: tsp.TSTInfo) -> int:
    return int(tst["gen_time"].native.timestamp())


def _public_verify(public: Any, signature: bytes, data: bytes, algorithm: str, hash_name: str) -> None:
    """Verifies an ECDSA or RSA PKCS#1 v1.5 signature (the algorithms of this profile); InvalidSignature else."""
    digests: dict[str, hashes.HashAlgorithm] = {
        "sha256": hashes.SHA256(),
        "sha384": hashes.SHA384(),
        "sha512": hashes.SHA512(),
    }
    digest = digests.get(hash_name)
    if digest is None:
        raise InvalidSignature(f"signature hash {hash_name} is not accepted")
    if algorithm == "ecdsa" and isinstance(public, ec.EllipticCurvePublicKey):
        public.verify(signature, data, ec.ECDSA(digest))
    elif algorithm == "rsassa_pkcs1v15" and isinstance(public, rsa.RSAPublicKey):
        public.verify(signature, data, padding.PKCS1v15(), digest)
    else:
        raise InvalidSignature(f"signature algorithm {algorithm} does not fit the certificate's key")


def verify_token(
    raw: bytes,
    rpc: Rpc | None,
    *,
    file: BinaryIO | None = None,
    file_digests: Mapping[str, bytes] | None = None,
    ca_certificates: Sequence[bytes] = (),
    tsa_certificate: bytes | None = None,
) -> tuple[Report, ParsedToken | None]:
    """Every check of docs/tsa.md "How a court verifies a token": format, imprint (with ``file``, or with
    ``file_digests``: the file's digests already taken, by profile name ``sha256``, ``sha512``, ``sm3``),
    signature, TSA certificate and chain (to one of ``ca_certificates``, DER), and the on-chain anchor (with
    ``rpc``)."""
    report = Report()
    try:
        parsed = parse_token(raw)
    except InvalidInput as exc:
        report.add("format", False, "", exc.message)
        return report, None
    tst = parsed.tst_info
    report.add("format", True, f"RFC 3161 token, serial {tst['serial_number'].native}", "")
    _check_imprint(report, tst, file, file_digests)
    cert = _check_signature(report, parsed, tsa_certificate)
    _check_chain(report, cert, ca_certificates, _gen_time(tst))
    if rpc is None:
        report.skip("anchor", "no JSON-RPC endpoint given")
    else:
        _check_anchor(report, rpc, parsed)
    return report, parsed


def _check_imprint(
    report: Report, tst: tsp.TSTInfo, file: BinaryIO | None, digests: Mapping[str, bytes] | None
) -> None:
    oid = tst["message_imprint"]["hash_algorithm"]["algorithm"].dotted
    imprint = bytes(tst["message_imprint"]["hashed_message"].native)
    if oid not in IMPRINT_ALGORITHMS:
        report.add("imprint", False, "", f"imprint algorithm {oid} is not of this profile")
        return
    name, _ = IMPRINT_ALGORITHMS[oid]
    if file is None and digests is not None and name in digests:
        digest = digests[name]
        report.add(
            "imprint",
            hmac.compare_digest(digest, imprint),
            f"the file's {name} is the token's imprint",
            f"the file's {name} {digest.hex()} is not the token's imprint {imprint.hex()}",
        )
        return
    if file is None:
        why = "the file's " + name + " was not taken" if digests else "no file given"
        report.skip("imprint", f"{why} ({name} {imprint.hex()})")
        return
    try:
        if name == "sha512":
            hasher = hashlib.sha512()
            for chunk in iter(lambda: file.read(1 << 20), b""):
                hasher.update(chunk)
            digest = hasher.digest()
        else:
            digest, _ = hash_stream(file, HashAlgorithm.SHA256 if name == "sha256" else HashAlgorithm.SM3)
    except Exception as exc:
        report.add("imprint", False, "", f"the file could not be read ({type(exc).__name__})")
        return
    report.add(
        "imprint",
        digest == imprint,
        f"the file's {name} is the token's imprint",
        f"the file's {name} {digest.hex()} is not the token's imprint {imprint.hex()}",
    )


def _check_signature(report: Report, parsed: ParsedToken, given: bytes | None) -> cx509.Certificate | None:
    """The CMS signature, its signed attributes and the signing-certificate reference; the signer's certificate."""
    try:
        signed = parsed.content_info["content"]
        infos = signed["signer_infos"]
        if len(infos) != 1:
            raise ValueError("a token has exactly one signer")
        info = infos[0]
        sid = info["sid"]
        if sid.name != "issuer_and_serial_number":
            raise ValueError("the signer is not named by issuer and serial number")
        candidates = [c.chosen for c in signed["certificates"] if c.name == "certificate"]
        if given is not None:
            candidates.insert(0, x509.Certificate.load(given))
        issuer, serial = sid.chosen["issuer"], sid.chosen["serial_number"].native
        cert = next((c for c in candidates if c.issuer == issuer and c.serial_number == serial), None)
        if cert is None:
            report.add("signature", False, "", "the token holds no signer certificate: give it with --tsa-cert")
            return None
        attrs = {a["type"].native: a["values"] for a in info["signed_attrs"]}
        if attrs.get("content_type") is None or attrs["content_type"][0].dotted != _TST_INFO:
            raise ValueError("the signed content type is not TSTInfo")
        digest_name = info["digest_algorithm"]["algorithm"].native
        if digest_name not in ("sha256", "sha384", "sha512"):
            raise ValueError(f"digest {digest_name} is not accepted")
        content_digest = hashlib.new(digest_name, parsed.tst_der).digest()
        if attrs.get("message_digest") is None or attrs["message_digest"][0].native != content_digest:
            raise ValueError("the signed message digest is not the TSTInfo's")
        ess = attrs.get("signing_certificate_v2")
        if ess is None:
            raise ValueError("no signing-certificate-v2 attribute")
        ref = ess[0]["certs"][0]
        ref_alg = ref["hash_algorithm"]["algorithm"].native
        if ref["cert_hash"].native != hashlib.new(ref_alg, cert.dump()).digest():
            raise ValueError("the signing-certificate attribute names another certificate")
        crypto_cert = cx509.load_der_x509_certificate(cert.dump())
        attrs_der = cms.CMSAttributes(list(info["signed_attrs"])).dump()
        sig_alg = info["signature_algorithm"]
        try:
            sig_hash = sig_alg.hash_algo
        except ValueError:  # rsassa_pkcs1v15 and ecdsa name no hash: the signer's digest algorithm is it
            sig_hash = digest_name
        _public_verify(crypto_cert.public_key(), info["signature"].native, attrs_der, sig_alg.signature_algo, sig_hash)
    except InvalidSignature:
        report.add("signature", False, "", "the CMS signature does not verify with the TSA certificate")
        return None
    except Exception as exc:
        report.add("signature", False, "", f"the CMS signature is malformed: {str(exc)[:200] or type(exc).__name__}")
        return None
    report.add("signature", True, f"signed by {cert.subject.human_friendly}", "")
    return crypto_cert


def _check_chain(report: Report, cert: cx509.Certificate | None, cas: Sequence[bytes], gen_time: int) -> None:
    if cert is None:
        report.skip("certificate", "no verified signer certificate")
        return
    try:
        check_tsa_certificate(cert)
    except InvalidInput as exc:
        report.add("certificate", False, "", exc.message)
        return
    at = datetime.fromtimestamp(gen_time, UTC)
    if not cert.not_valid_before_utc <= at <= cert.not_valid_after_utc:
        report.add("certificate", False, "", "the TSA certificate was not valid at the token's genTime")
        return
    if not cas:
        report.skip("certificate", "TSA certificate for time stamping; its chain not checked: give --ca-file")
        return
    for raw in cas:
        try:
            ca = cx509.load_der_x509_certificate(raw)
            cert.verify_directly_issued_by(ca)
        except Exception:
            continue
        try:
            constraints = ca.extensions.get_extension_for_class(cx509.BasicConstraints).value
        except cx509.ExtensionNotFound:
            constraints = None
        if constraints is None or not constraints.ca:
            report.add("certificate", False, "", "the issuing certificate is not a CA (basicConstraints)")
            return
        if not ca.not_valid_before_utc <= at <= ca.not_valid_after_utc:
            report.add("certificate", False, "", "the CA certificate was not valid at the token's genTime")
            return
        report.add("certificate", True, f"issued by {ca.subject.rfc4514_string()} (the CA given)", "")
        return
    report.add("certificate", False, "", "the TSA certificate was not issued by the CA given")


def _check_anchor(report: Report, rpc: Rpc, parsed: ParsedToken) -> None:
    an = parsed.anchor
    if an is None:
        report.add("anchor", False, "", "the token carries no ledger extension: it is not anchored on a chain")
        return
    tst = parsed.tst_info
    gen_time = _gen_time(tst)
    oid = tst["message_imprint"]["hash_algorithm"]["algorithm"].dotted
    if oid not in IMPRINT_ALGORITHMS:
        report.add("anchor", False, "", "the imprint algorithm is not of this profile")
        return
    leaf = merkle.leaf_hash(
        tsa_leaf(
            IMPRINT_ALGORITHMS[oid][0],
            bytes(tst["message_imprint"]["hashed_message"].native),
            int(tst["serial_number"].native),
        )
    )
    try:
        if not report.add(
            "chain",
            rpc.chain_id() == an.chain_id,
            f"the endpoint serves chain {an.chain_id}",
            f"the endpoint serves chain {rpc.chain_id()}, not the token's {an.chain_id}",
        ):
            return
        root = merkle.compute_root(leaf, an.leaf_index, an.tree_size, list(an.audit_path))
        if not report.add(
            "merkle",
            root == an.root,
            f"leaf {an.leaf_index} of {an.tree_size}: the audit path gives the batch root",
            "the audit path from the token's leaf (imprint and serial) does not give the batch root",
        ):
            return
        raw = rpc.call(an.contract, _BATCH + an.root)
        _anchorer, size, timestamp, block_number = abi_decode(["address", "uint32", "uint32", "uint32"], raw)
        if not report.add(
            "batch",
            timestamp != 0 and size == an.tree_size and block_number == an.block_number,
            f"the registry holds the root, anchored in block {block_number} ({size} leaves)",
            "the registry does not hold this root with the token's block and size"
            if timestamp
            else "the registry holds no batch with this root",
        ):
            return
        call = abi_decode(
            ["uint32"],
            rpc.call(
                an.contract,
                _BATCH_INCLUSION + _abi_inclusion(an.root, leaf, an.leaf_index, an.audit_path),
            ),
        )[0]
        report.add(
            "inclusion",
            call == timestamp,
            "batchInclusion on chain accepts the leaf and its path",
            "batchInclusion on chain refuses the leaf and its path",
        )
        block = rpc.block(an.block_number) or {}
        if not report.add(
            "block",
            str(block.get("hash", "")).lower() == an.block_hash.lower(),
            f"block {an.block_number} is on the chain with the token's hash",
            f"block {an.block_number} is not on the chain with the token's hash",
        ):
            return
        block_time = rpc_int(block["timestamp"])
        report.add(
            "genTime",
            block_time == gen_time == timestamp,
            "genTime is the anchoring block's timestamp",
            f"genTime {gen_time} is not the anchoring block's timestamp {block_time}",
        )
        receipt = rpc.receipt(an.transaction)
        tx_ok = (
            receipt is not None
            and rpc_int(receipt.get("status", 0)) == 1
            and str(receipt.get("blockHash", "")).lower() == an.block_hash.lower()
            and any(
                str(log.get("address", "")).lower() == an.contract.lower()
                and [rpc_bytes(t) for t in log.get("topics", [])[:2]] == [_BATCH_ANCHORED, an.root]
                for log in (receipt or {}).get("logs", [])
            )
        )
        report.add(
            "transaction",
            tx_ok,
            f"transaction {an.transaction} anchored the root (BatchAnchored)",
            f"transaction {an.transaction} did not anchor the root in that block",
        )
    except Exception as exc:
        report.add("anchor", False, "", f"the chain could not be read: {str(exc)[:200] or type(exc).__name__}")


def _abi_inclusion(root: bytes, leaf: bytes, index: int, path: Sequence[bytes]) -> bytes:
    return abi_encode(["bytes32", "bytes32", "uint256", "bytes32[]"], [root, leaf, index, list(path)])
