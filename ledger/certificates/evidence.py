"""Evidence certificates: a versioned JSON document holding everything needed to re-check a record
without this software. ``docs/certificate.md`` specifies the format and the verification algorithm;
``ledger.certificates.verify`` implements that algorithm.

Pure: building takes the facts already read from the chain and the journal; parsing validates shape and
limits and raises :class:`CertificateMalformed` naming the field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ledger.domain.codes import HashAlgorithm, IdentifierScheme
from ledger.domain.merkle import InclusionProof, MerkleProofError
from ledger.errors import InvalidInput

FORMAT = "qianhai-ip-ledger/evidence-certificate"
VERSION = 2
MAX_CERTIFICATE_BYTES = 64 * 1024
#: Public registrations of the same content listed in a certificate, at most.
MAX_LISTED_REGISTRATIONS = 20

_HEX32 = re.compile(r"^0x[0-9a-f]{64}$")
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
_HEXBYTES = re.compile(r"^0x([0-9a-f]{2})*$")
#: A party's identifier scheme as certificates write it: the member's name (``USCC``, ``HKBRN``, ``OTHER``).
SCHEMES = {int(s): s.name for s in IdentifierScheme.choices()}


class CertificateMalformed(InvalidInput):
    code = "certificate_malformed"


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
    """Checks the shape of a certificate; raises :class:`CertificateMalformed` naming the first bad field."""
    if not isinstance(doc, dict):
        raise CertificateMalformed("a certificate is a JSON object", field="certificate")
    _expect(doc.get("format") == FORMAT, "format", f"format must be {FORMAT!r}")
    _expect(
        doc.get("version") == VERSION,
        "version",
        f"version {doc.get('version')!r} is not supported (expected {VERSION})",
    )
    ev = _section(doc, "evidence")
    _expect(ev.get("algorithm") in HashAlgorithm.words(), "evidence.algorithm", "algorithm must be sha256 or sm3")
    _hex32(ev, "evidence", "binding")
    for key in ("contentHash", "salt", "metadataCommitment", "supersedes"):
        if ev.get(key) is not None:
            _hex32(ev, "evidence", key)
    if "metadata" in ev:
        _expect(isinstance(ev["metadata"], dict), "evidence.metadata", "metadata must be an object")
    reg = _section(doc, "registrant")
    _expect(
        isinstance(reg.get("account"), str) and bool(_ADDRESS.match(reg["account"])),
        "registrant.account",
        "not an address",
    )
    _int(reg, "registrant", "partyId", 1, 2**24 - 1)
    for key in ("identifierScheme", "identifier", "nameZh", "nameEn"):
        _expect(isinstance(reg.get(key), str), f"registrant.{key}", "must be a string")
    ch = _section(doc, "chain")
    _int(ch, "chain", "chainId", 1, 2**63)
    _expect(
        isinstance(ch.get("contract"), str) and bool(_ADDRESS.match(ch["contract"])), "chain.contract", "not an address"
    )
    an = _section(doc, "anchor")
    _expect(an.get("method") in ("direct", "batch"), "anchor.method", "method must be direct or batch")
    _hex32(an, "anchor", "transactionHash")
    _hex32(an, "anchor", "blockHash")
    _int(an, "anchor", "blockNumber", 0, 2**63)
    _int(an, "anchor", "blockTimestamp", 0, 2**63)
    if an["method"] == "batch":
        _expect(
            ev.get("metadataCommitment") is None,
            "evidence.metadataCommitment",
            "batched records carry no metadata commitment",
        )
        _expect(ev.get("supersedes") is None, "evidence.supersedes", "batched records carry no supersedes link")
        sub = _section(an, "submission", "anchor.")
        _hex32(sub, "anchor.submission", "root")
        _int(sub, "anchor.submission", "count", 1, 2**32 - 1)
        _int(sub, "anchor.submission", "deadline", 0, 2**64 - 1)
        _expect(
            isinstance(sub.get("signature"), str)
            and bool(_HEXBYTES.match(sub["signature"]))
            and len(sub["signature"]) <= 2 + 8192,
            "anchor.submission.signature",
            "must be 0x-prefixed lower-case hex",
        )
        bat = _section(an, "batch", "anchor.")
        _hex32(bat, "anchor.batch", "root")
        for name, section in (("anchor.submission.proof", sub), ("anchor.batch.proof", bat)):
            try:
                InclusionProof.from_json(section.get("proof"))  # type: ignore[arg-type]
            except MerkleProofError as exc:
                raise CertificateMalformed(f"{name}: {exc.message}", field=name) from None
    regs = doc.get("registrations")
    if regs is not None:
        _expect(isinstance(regs, dict), "registrations", "must be an object or null")
        _int(regs, "registrations", "asOfBlock", 0, 2**63)
        _int(regs, "registrations", "count", 0, 2**48)
        listed = regs.get("listed")
        _expect(
            isinstance(listed, list) and len(listed) <= MAX_LISTED_REGISTRATIONS,
            "registrations.listed",
            f"must be a list of at most {MAX_LISTED_REGISTRATIONS}",
        )
        for i, item in enumerate(listed):
            name = f"registrations.listed[{i}]"
            _expect(isinstance(item, dict), name, "must be an object")
            _int(item, name, "partyId", 1, 2**24 - 1)
            _hex32(item, name, "binding")
            _expect(item.get("method") in ("direct", "batch"), f"{name}.method", "method must be direct or batch")
            _int(item, name, "blockNumber", 0, 2**63)
            _int(item, name, "blockTimestamp", 0, 2**63)
    return Certificate(doc)


def _expect(ok: bool, field: str, message: str) -> None:
    if not ok:
        raise CertificateMalformed(f"{field}: {message}", field=field)


def _section(doc: dict[str, Any], key: str, prefix: str = "") -> dict[str, Any]:
    value = doc.get(key)
    _expect(isinstance(value, dict), prefix + key, "missing or not an object")
    return value  # type: ignore[return-value]


def _hex32(section: dict[str, Any], name: str, key: str) -> None:
    value = section.get(key)
    _expect(
        isinstance(value, str) and bool(_HEX32.match(value)),
        f"{name}.{key}",
        "must be 0x and 64 lower-case hex characters",
    )


def _int(section: dict[str, Any], name: str, key: str, lo: int, hi: int) -> None:
    value = section.get(key)
    _expect(
        isinstance(value, int) and not isinstance(value, bool) and lo <= value <= hi,
        f"{name}.{key}",
        f"must be an integer in {lo}..{hi}",
    )
