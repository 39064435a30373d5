"""Evidence certificates: a versioned JSON document holding everything needed to re-check a record
without this software. ``docs/certificate.md`` specifies the format and the verification algorithm;
``ledger.certificates.verify`` implements that algorithm.

Pure: building takes the facts already read from the chain and the journal; parsing validates shape and
limits and raises :class:`CertificateMalformed` naming the field.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, TypeGuard

from ledger.domain.codes import HashAlgorithm, IdentifierScheme
from ledger.domain.merkle import InclusionProof, MerkleProofError
from ledger.errors import InvalidInput

FORMAT = "qianhai-ip-ledger/evidence-certificate"
VERSION = 2
MAX_CERTIFICATE_BYTES = 64 * 1024
#: Public registrations of the same content listed in a certificate, at most.
MAX_LISTED_REGISTRATIONS = 20

_HEX32 = re.compile(r"^0x[0-9a-f]{64}$")
ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
HEXBYTES = re.compile(r"^0x([0-9a-f]{2})*$")
#: A party's identifier scheme as certificates write it: the member's name (``USCC``, ``HKBRN``, ``OTHER``).
SCHEMES = {int(s): s.name for s in IdentifierScheme.choices()}


class CertificateMalformed(InvalidInput):
    code = "certificate_malformed"


#: ``evidence.privacy``: a public (unsalted) or a private (salted) registration. ``None`` in a certificate issued
#: for a binding whose content hash the issuer did not know: the service cannot tell the two apart there, the
#: registrant's client writes the word when it adds the content hash (and the salt) from its sidecar file.
PUBLIC, PRIVATE = "public", "private"
#: The registration kind in words, Chinese and English, as the renderings and the CLI print it.
PRIVACY_WORDS = {
    PRIVATE: ("私密登记（加盐）", "private (salted)"),
    PUBLIC: ("公开登记（不加盐）", "public (unsalted)"),
    None: ("公开或私密未知：本证书按绑定值出具", "public or private not known: issued for a binding"),
}


def privacy_of(evidence: dict[str, Any]) -> str | None:
    """The registration kind a (parsed) ``evidence`` section states: its ``privacy`` member, or, in a certificate
    written before that member existed, what its ``salt`` and ``contentHash`` imply."""
    if "privacy" in evidence:
        return evidence["privacy"]  # type: ignore[no-any-return]
    if evidence.get("salt") is not None:
        return PRIVATE
    return PUBLIC if evidence.get("contentHash") is not None else None


def complete(
    doc: dict[str, Any], content_hash: bytes, salt: bytes | None, metadata: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A certificate issued for a binding, completed with what only the registrant keeps (its sidecar file): the
    content hash, the salt of a private registration, the word for which it is, and the metadata the record commits
    to (when kept). Returns ``doc``, changed."""
    ev = doc["evidence"]
    ev["contentHash"] = hex32(content_hash)
    ev["salt"] = hex32(salt) if salt is not None else None
    ev["privacy"] = PRIVATE if salt is not None else PUBLIC
    if metadata is not None and "metadata" not in ev:
        ev["metadata"] = metadata
    return doc


@dataclass(frozen=True)
class Certificate:
    """A parsed, shape-checked certificate. ``raw`` is the JSON it came from."""

    raw: dict[str, Any]

    @property
    def evidence(self) -> dict[str, Any]:
        return self.raw["evidence"]  # type: ignore[no-any-return]

    @property
    def registrant(self) -> dict[str, Any]:
        return self.raw["registrant"]  # type: ignore[no-any-return]

    @property
    def chain(self) -> dict[str, Any]:
        return self.raw["chain"]  # type: ignore[no-any-return]

    @property
    def anchor(self) -> dict[str, Any]:
        return self.raw["anchor"]  # type: ignore[no-any-return]

    @property
    def algorithm(self) -> HashAlgorithm:
        return HashAlgorithm.SM3 if self.evidence["algorithm"] == HashAlgorithm.SM3.word else HashAlgorithm.SHA256

    def b32(self, section: str, key: str) -> bytes:
        return bytes.fromhex(self.raw[section][key][2:])

    @property
    def submission_proof(self) -> InclusionProof:
        return InclusionProof.from_json(self.anchor["submission"]["proof"])

    @property
    def batch_proof(self) -> InclusionProof:
        return InclusionProof.from_json(self.anchor["batch"]["proof"])


def hex32(value: bytes) -> str:
    return "0x" + bytes(value).hex()


def build(
    *,
    content_hash: bytes | None,
    algorithm: int,
    binding: bytes,
    salt: bytes | None,
    metadata_commitment: bytes | None,
    supersedes: bytes | None,
    metadata: dict[str, Any] | None,
    account: str,
    party_id: int,
    party: dict[str, Any],
    chain_id: int,
    contract: str,
    tx_hash: str,
    block_number: int,
    block_hash: str,
    block_timestamp: int,
    batch: dict[str, Any] | None = None,
    registrations: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A certificate document. ``batch`` carries ``submission`` and ``batch`` sections for batched records;
    ``registrations`` the public registrations of the same content known at issue time (``asOfBlock``, ``count``,
    ``listed``), None when the issuer does not know the content hash (a certificate looked up by binding)."""
    evidence: dict[str, Any] = {
        "contentHash": hex32(content_hash) if content_hash is not None else None,
        "algorithm": HashAlgorithm(algorithm).word,
        "salt": hex32(salt) if salt is not None else None,
        "privacy": PRIVATE if salt is not None else (PUBLIC if content_hash is not None else None),
        "binding": hex32(binding),
        "metadataCommitment": hex32(metadata_commitment) if metadata_commitment is not None else None,
        "supersedes": hex32(supersedes) if supersedes is not None else None,
    }
    if metadata is not None:
        evidence["metadata"] = metadata
    anchor: dict[str, Any] = {
        "method": "batch" if batch else "direct",
        "transactionHash": tx_hash.lower(),
        "blockNumber": int(block_number),
        "blockHash": block_hash.lower(),
        "blockTimestamp": int(block_timestamp),
    }
    if batch:
        anchor["submission"] = batch["submission"]
        anchor["batch"] = batch["batch"]
    return {
        "format": FORMAT,
        "version": VERSION,
        "evidence": evidence,
        "registrant": registrant_section(account, party_id, party),
        "chain": {"chainId": int(chain_id), "contract": contract},
        "anchor": anchor,
        "registrations": registrations,
    }


#: Largest value of a JSON-RPC quantity a certificate states (block numbers, times, chain ids): int64's maximum.
INT63 = 2**63 - 1
#: Members of each object: (required, optional). A required member MUST be present (its value may be null where
#: the specification says so); a member named for the other method (``submission``/``batch`` of a direct
#: certificate) MUST NOT be present; any other member is ignored and proves nothing (docs/certificate.md §3).
TOP_MEMBERS = ("format", "version", "evidence", "registrant", "chain", "anchor", "registrations")
EVIDENCE_MEMBERS = ("contentHash", "algorithm", "salt", "binding", "metadataCommitment", "supersedes")
REGISTRANT_MEMBERS = ("account", "partyId", "identifierScheme", "identifier", "nameZh", "nameEn")
CHAIN_MEMBERS = ("chainId", "contract")
ANCHOR_MEMBERS = ("method", "transactionHash", "blockNumber", "blockHash", "blockTimestamp")
BATCH_ONLY_ANCHOR_MEMBERS = ("submission", "batch")
SUBMISSION_MEMBERS = ("root", "count", "deadline", "signature", "proof")
BATCH_MEMBERS = ("root", "proof")
REGISTRATIONS_MEMBERS = ("asOfBlock", "count", "listed")
LISTED_MEMBERS = ("partyId", "binding", "method", "blockNumber", "blockTimestamp")


class DuplicateMember(ValueError):
    """A JSON object names a member twice (RFC 8259 leaves the meaning open; certificates refuse it)."""


def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise DuplicateMember(key)
        out[key] = value
    return out


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def loads(raw: bytes | str) -> Any:
    """Reads a certificate's JSON text strictly (docs/certificate.md §3): at most 65,536 bytes of UTF-8 (no byte
    order mark), RFC 8259 (no ``NaN``/``Infinity``), no object naming a member twice.

    Raises :class:`CertificateMalformed` (field ``certificate``) for a document that breaks a rule of the
    specification, and ``ValueError`` for text that is not JSON at all."""
    data = raw.encode("utf-8") if isinstance(raw, str) else bytes(raw)
    if len(data) > MAX_CERTIFICATE_BYTES:
        raise CertificateMalformed(
            f"a certificate is at most {MAX_CERTIFICATE_BYTES:,} bytes of UTF-8; this one has {len(data):,}",
            field="certificate",
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("not UTF-8") from None
    if text.startswith("\ufeff"):
        raise CertificateMalformed("a certificate does not begin with a byte order mark", field="certificate")
    try:
        return json.loads(text, object_pairs_hook=no_duplicates, parse_constant=_no_constant)
    except DuplicateMember as exc:
        raise CertificateMalformed(
            f"an object names the member {exc.args[0]!r} twice: a certificate's members are unique",
            field="certificate",
        ) from None


#: How a natural person is named wherever their own copy is not (docs/privacy.md): by party number, never by name.
NATURAL_PERSON = {"en": "natural person, party {n}", "zh": "自然人，第 {n} 号当事人"}


def natural_person(party_id: int) -> dict[str, str]:
    return {lang: text.format(n=int(party_id)) for lang, text in NATURAL_PERSON.items()}


def registrant_section(account: str, party_id: int, party: dict[str, Any]) -> dict[str, Any]:
    """The registrant as the chain knows it; a natural person (scheme ``PERSON_COMMITMENT``: no name on chain) also
    carries ``naturalPerson``, the words that stand for their name."""
    section: dict[str, Any] = {
        "account": account,
        "partyId": int(party_id),
        "identifierScheme": party["identifierScheme"],
        "identifier": party["identifier"],
        "nameZh": party["nameZh"],
        "nameEn": party["nameEn"],
    }
    if party["identifierScheme"] == IdentifierScheme.PERSON_COMMITMENT.name:
        section["naturalPerson"] = natural_person(party_id)
    return section


def parse(doc: Any) -> Certificate:
    """Checks a certificate against every rule of docs/certificate.md §3; raises :class:`CertificateMalformed`
    naming the first bad field."""
    if not isinstance(doc, dict):
        raise CertificateMalformed("a certificate is a JSON object", field="certificate")
    members(doc, "", TOP_MEMBERS)
    expect(doc["format"] == FORMAT, "format", f"format must be {FORMAT!r}")
    expect(
        is_json_int(doc["version"]) and doc["version"] == VERSION,
        "version",
        f"version {doc['version']!r} is not supported (expected the integer {VERSION})",
    )
    ev = object_member(doc, "evidence")
    members(ev, "evidence", EVIDENCE_MEMBERS)
    expect(ev["algorithm"] in HashAlgorithm.words(), "evidence.algorithm", "algorithm must be sha256 or sm3")
    check_hex32(ev, "evidence", "binding")
    for key in ("contentHash", "salt", "metadataCommitment", "supersedes"):
        if ev[key] is not None:
            check_hex32(ev, "evidence", key)
    if "metadata" in ev:
        expect(isinstance(ev["metadata"], dict), "evidence.metadata", "metadata must be an object")
    if "privacy" in ev:
        _privacy(ev)
    reg = object_member(doc, "registrant")
    members(reg, "registrant", REGISTRANT_MEMBERS)
    expect(
        isinstance(reg["account"], str) and bool(ADDRESS.match(reg["account"])),
        "registrant.account",
        "not an address",
    )
    check_int(reg, "registrant", "partyId", 1, 2**24 - 1)
    for key in ("identifierScheme", "identifier", "nameZh", "nameEn"):
        expect(isinstance(reg[key], str), f"registrant.{key}", "must be a string")
    expect(
        reg["identifierScheme"] in SCHEMES.values(),
        "registrant.identifierScheme",
        f"must be one of {', '.join(SCHEMES.values())}",
    )
    ch = object_member(doc, "chain")
    members(ch, "chain", CHAIN_MEMBERS)
    check_int(ch, "chain", "chainId", 1, INT63)
    expect(isinstance(ch["contract"], str) and bool(ADDRESS.match(ch["contract"])), "chain.contract", "not an address")
    an = object_member(doc, "anchor")
    members(an, "anchor", ANCHOR_MEMBERS)
    expect(an["method"] in ("direct", "batch"), "anchor.method", "method must be direct or batch")
    check_hex32(an, "anchor", "transactionHash")
    check_hex32(an, "anchor", "blockHash")
    check_int(an, "anchor", "blockNumber", 0, INT63)
    check_int(an, "anchor", "blockTimestamp", 0, INT63)
    if an["method"] == "direct":
        for key in BATCH_ONLY_ANCHOR_MEMBERS:
            expect(key not in an, f"anchor.{key}", "a direct certificate has no batch members")
    else:
        members(an, "anchor", BATCH_ONLY_ANCHOR_MEMBERS)
        expect(
            ev["metadataCommitment"] is None,
            "evidence.metadataCommitment",
            "batched records carry no metadata commitment (must be null)",
        )
        expect(
            ev["supersedes"] is None, "evidence.supersedes", "batched records carry no supersedes link (must be null)"
        )
        sub = object_member(an, "submission", "anchor.")
        members(sub, "anchor.submission", SUBMISSION_MEMBERS)
        check_hex32(sub, "anchor.submission", "root")
        check_int(sub, "anchor.submission", "count", 1, 2**32 - 1)
        check_int(sub, "anchor.submission", "deadline", 0, 2**64 - 1)
        expect(
            isinstance(sub["signature"], str)
            and bool(HEXBYTES.match(sub["signature"]))
            and len(sub["signature"]) <= 2 + 8192,
            "anchor.submission.signature",
            "must be 0x-prefixed lower-case hex of at most 4096 bytes",
        )
        bat = object_member(an, "batch", "anchor.")
        members(bat, "anchor.batch", BATCH_MEMBERS)
        check_hex32(bat, "anchor.batch", "root")
        for name, section in (("anchor.submission.proof", sub), ("anchor.batch.proof", bat)):
            try:
                InclusionProof.from_json(section["proof"])
            except MerkleProofError as exc:
                raise CertificateMalformed(f"{name}: {exc.message}", field=name) from None
    regs = doc["registrations"]
    if regs is not None:
        expect(isinstance(regs, dict), "registrations", "must be an object or null")
        members(regs, "registrations", REGISTRATIONS_MEMBERS)
        check_int(regs, "registrations", "asOfBlock", 0, INT63)
        check_int(regs, "registrations", "count", 0, 2**48)
        listed = regs["listed"]
        expect(
            isinstance(listed, list) and len(listed) <= MAX_LISTED_REGISTRATIONS,
            "registrations.listed",
            f"must be a list of at most {MAX_LISTED_REGISTRATIONS}",
        )
        for i, item in enumerate(listed):
            name = f"registrations.listed[{i}]"
            expect(isinstance(item, dict), name, "must be an object")
            members(item, name, LISTED_MEMBERS)
            check_int(item, name, "partyId", 1, 2**24 - 1)
            check_hex32(item, name, "binding")
            expect(item["method"] in ("direct", "batch"), f"{name}.method", "method must be direct or batch")
            check_int(item, name, "blockNumber", 0, INT63)
            check_int(item, name, "blockTimestamp", 0, INT63)
    return Certificate(doc)


def _privacy(ev: dict[str, Any]) -> None:
    """``evidence.privacy`` agrees with the salt: a salt only with ``"private"``, ``null`` only in a certificate
    issued for a binding (no content hash, no salt). A ``"private"`` certificate without its salt is well formed
    but fails the binding check (its holder has to give the salt)."""
    word = ev["privacy"]
    expect(word in (PUBLIC, PRIVATE, None), "evidence.privacy", 'privacy must be "public", "private" or null')
    salted = ev.get("salt") is not None
    if word == PUBLIC:
        expect(not salted, "evidence.privacy", '"public" but a salt is given')
    elif word is None:
        expect(
            not salted and ev.get("contentHash") is None,
            "evidence.privacy",
            "null only in a certificate issued for a binding (no contentHash, no salt)",
        )


def members(section: dict[str, Any], name: str, required: tuple[str, ...]) -> None:
    """Every required member is present (a missing member is not the same as null)."""
    for key in required:
        expect(key in section, f"{name}.{key}" if name else key, "required member missing")


def is_json_int(value: Any) -> TypeGuard[int]:
    """A JSON integer: never a boolean (Python's ``True`` is an ``int``), a float or a string."""
    return isinstance(value, int) and not isinstance(value, bool)


def expect(ok: bool, field: str, message: str) -> None:
    if not ok:
        raise CertificateMalformed(f"{field}: {message}", field=field)


def object_member(doc: dict[str, Any], key: str, prefix: str = "") -> dict[str, Any]:
    value = doc.get(key)
    expect(isinstance(value, dict), prefix + key, "missing or not an object")
    return value  # type: ignore[return-value]


def check_hex32(section: dict[str, Any], name: str, key: str) -> None:
    value = section.get(key)
    expect(
        isinstance(value, str) and bool(_HEX32.match(value)),
        f"{name}.{key}",
        "must be 0x and 64 lower-case hex characters",
    )


def check_int(section: dict[str, Any], name: str, key: str, lo: int, hi: int) -> None:
    value = section.get(key)
    expect(
        is_json_int(value) and lo <= value <= hi,
        f"{name}.{key}",
        f"must be an integer in {lo}..{hi}",
    )
