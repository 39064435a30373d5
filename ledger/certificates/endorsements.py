"""The ``endorsements`` member of an evidence certificate: creators' own signatures on the record (docs/certificate.md
§3.7 and §5.9).

A creator who is an admitted party endorses a record registered by another party (their employer, their
university) in the deployment's creator registry; the event ``CreatorEndorsed(binding, registrantPartyId,
creatorPartyId, account, role)`` is the endorsement. Each entry of ``endorsements`` says which party endorsed, in
which role, with which account, in which transaction and block, and is checked here against the chain with
JSON-RPC alone. Pure apart from the :class:`~ledger.certificates.verify.Rpc` it is given.
"""

# ruff: noqa: BLE001 - a verifier reads an untrusted document and asks an untrusted endpoint: whatever either does,
# the check it was making fails in the report (with what went wrong); it never raises to its caller

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_utils import keccak, to_checksum_address

from ledger.certificates import evidence as certmod
from ledger.domain.codes import CreatorRole
from ledger.errors import InvalidInput

if TYPE_CHECKING:
    from ledger.certificates.verify import Report, Rpc

__all__ = ["CREATOR_ENDORSED_TOPIC", "ENDORSEMENT_MEMBERS", "MAX_ENDORSEMENTS", "check", "parse"]

#: topic0 of ``CreatorEndorsed(bytes32 indexed binding, uint256 indexed registrantPartyId, uint256 indexed
#: creatorPartyId, address account, uint8 role)``.
CREATOR_ENDORSED_TOPIC = keccak(text="CreatorEndorsed(bytes32,uint256,uint256,address,uint8)")
SEL_EVIDENCE_REGISTRY = keccak(text="evidenceRegistry()")[:4]
SEL_PARTY = keccak(text="party(uint256)")[:4]
PARTY_TUPLE = "(uint8,uint8,uint8,bool,uint8,uint8,uint32,uint64,uint8,uint32,string,string,string)"
PARTY_IDENTIFIER = 10
#: Members of each entry, all required (``naturalPerson`` is optional, as in ``registrant``).
ENDORSEMENT_MEMBERS = (
    *certmod.REGISTRANT_MEMBERS,
    "role",
    "contract",
    "transactionHash",
    "blockNumber",
    "blockHash",
    "blockTimestamp",
)
MAX_ENDORSEMENTS = 100

#: The creator registry's runtime code as published (docs/certificate.md §3.7): its length, the byte ranges a
#: deployment writes (the immutables: the evidence registry's address and the EIP-712 domain), and the keccak-256 of
#: the code with those ranges zeroed and the compiler's metadata (the CBOR trailer its last two bytes measure) cut
#: off. tests/certificates/test_endorsement_code.py recomputes it from ledger/artifacts/CreatorRegistry.json.
CREATOR_REGISTRY_LENGTH = 4853
CREATOR_REGISTRY_IMMUTABLES = (
    (310, 32), (844, 32), (1685, 32), (2033, 32), (2778, 32), (2821, 32),
    (2869, 32), (2911, 32), (2953, 32), (3034, 32), (3074, 32),
)  # fmt: skip
CREATOR_REGISTRY_KECCAK = "0x1f5e8588ad19b8f5d093bef9d5996a3c582d9dcee516cfd0d9de0f1dd4d42761"


def published_code_hash(code: bytes, immutables: tuple[tuple[int, int], ...]) -> str:
    """keccak-256 of runtime ``code`` with the ``immutables`` ranges zeroed and the metadata trailer cut off."""
    masked = bytearray(code)
    for start, length in immutables:
        masked[start : start + length] = bytes(length)
    trailer = int.from_bytes(masked[-2:], "big") + 2 if len(masked) >= 2 else 0
    return "0x" + keccak(bytes(masked[: max(0, len(masked) - trailer)])).hex()


def is_creator_registry(code: bytes) -> bool:
    """Whether ``code`` is the published creator registry's (whatever evidence registry it was deployed for)."""
    return len(code) == CREATOR_REGISTRY_LENGTH and (
        published_code_hash(code, CREATOR_REGISTRY_IMMUTABLES) == CREATOR_REGISTRY_KECCAK
    )


def parse(value: Any) -> list[dict[str, Any]]:
    """Checks the shape of ``endorsements`` (§3.7); raises :class:`~ledger.errors.InvalidInput` naming the field."""
    certmod.expect(
        isinstance(value, list) and 1 <= len(value) <= MAX_ENDORSEMENTS,
        "endorsements",
        f"endorsements must be a list of 1 to {MAX_ENDORSEMENTS} objects",
    )
    seen: set[int] = set()
    for i, entry in enumerate(value):
        path = f"endorsements[{i}]"
        certmod.expect(isinstance(entry, dict), path, "an endorsement is a JSON object")
        certmod.members(entry, path, ENDORSEMENT_MEMBERS)
        certmod.check_int(entry, path, "partyId", 1, 2**24 - 1)
        certmod.check_int(entry, path, "blockNumber", 0, certmod.INT63)
        certmod.check_int(entry, path, "blockTimestamp", 0, certmod.INT63)
        certmod.check_hex32(entry, path, "transactionHash")
        certmod.check_hex32(entry, path, "blockHash")
        for key in ("account", "contract"):
            certmod.expect(
                isinstance(entry[key], str) and bool(certmod.ADDRESS.match(entry[key])),
                f"{path}.{key}",
                "not an address",
            )
        certmod.expect(
            entry["role"] in CreatorRole.words(), f"{path}.role", f"must be one of {', '.join(CreatorRole.words())}"
        )
        for key in ("identifierScheme", "identifier", "nameZh", "nameEn"):
            certmod.expect(isinstance(entry[key], str), f"{path}.{key}", "must be a string")
        certmod.expect(entry["partyId"] not in seen, f"{path}.partyId", "a party endorses a record once")
        seen.add(entry["partyId"])
    return value


def check(report: Report, rpc: Rpc, doc: dict[str, Any], contract: str) -> None:
    """Adds the check ``endorsements`` (check 13a) for a certificate that carries the member: every entry is a
    ``CreatorEndorsed`` event of a contract running the published creator registry's code that reads the
    certificate's evidence registry, in the
    transaction and block the entry names, by the entry's account and party in its role, of this record; the party's
    profile is the registry's; and when the metadata names party creators, each endorser is one of them in the same
    role."""
    try:
        entries = parse(doc["endorsements"])
    except InvalidInput as exc:
        report.add("endorsements", False, "", exc.message)
        return
    from ledger.certificates.verify import rpc_bytes, rpc_int  # the verifier's JSON-RPC decoding

    binding = bytes.fromhex(doc["evidence"]["binding"][2:])
    registrant = int(doc["registrant"]["partyId"])
    named = _named_creators(doc["evidence"].get("metadata"))
    problems: list[str] = []
    for i, e in enumerate(entries):
        where = f"endorsement {i + 1} (party {e['partyId']})"
        try:
            published = is_creator_registry(rpc.code(e["contract"]))
        except Exception:
            published = False
        if not published:
            problems.append(f"{where}: {e['contract']} does not run the published creator registry's code")
            continue
        try:
            bound = abi_decode(["address"], rpc.call(e["contract"], SEL_EVIDENCE_REGISTRY))[0]
        except Exception:
            problems.append(f"{where}: {e['contract']} does not answer evidenceRegistry(): not a creator registry")
            continue
        if to_checksum_address(bound) != to_checksum_address(contract):
            problems.append(f"{where}: its creator registry reads {bound}, not this certificate's evidence registry")
            continue
        receipt = rpc.receipt(e["transactionHash"])
        if receipt is None or rpc_int(receipt.get("status", "0x0")) != 1:
            problems.append(f"{where}: its transaction is not a successful one of this chain")
            continue
        if receipt["blockHash"].lower() != e["blockHash"] or rpc_int(receipt["blockNumber"]) != e["blockNumber"]:
            problems.append(f"{where}: its transaction is in another block than the certificate says")
            continue
        block = rpc.block(e["blockNumber"]) or {}
        if rpc_int(block.get("timestamp", "0x0")) != e["blockTimestamp"]:
            problems.append(f"{where}: block {e['blockNumber']} has another timestamp")
            continue
        if not _has_event(receipt, e, binding, registrant, rpc_bytes):
            problems.append(f"{where}: the transaction has no CreatorEndorsed event of this record by that party")
            continue
        try:
            (profile,) = abi_decode(
                [PARTY_TUPLE], rpc.call(contract, SEL_PARTY + abi_encode(["uint256"], [e["partyId"]]))
            )
        except Exception:
            problems.append(f"{where}: the party does not exist")
            continue
        scheme = certmod.SCHEMES.get(profile[2], "?")
        if (scheme, *profile[PARTY_IDENTIFIER : PARTY_IDENTIFIER + 3]) != (
            e["identifierScheme"],
            e["identifier"],
            e["nameZh"],
            e["nameEn"],
        ):
            problems.append(f"{where}: the party profile differs from the registry's")
            continue
        if named is not None and (e["partyId"], e["role"]) not in named:
            problems.append(f"{where}: the metadata does not name party {e['partyId']} as {e['role']}")
    who = ", ".join(f"party {e['partyId']} as {e['role']}" for e in entries)
    report.add(
        "endorsements",
        not problems,
        f"the creators' own signatures are on chain: {who}",
        "; ".join(problems),
    )


def _named_creators(metadata: Any) -> set[tuple[int, str]] | None:
    """The ``(partyId, role)`` of the party creators the metadata names; None when it names none."""
    if not isinstance(metadata, dict) or not isinstance(metadata.get("creators"), list):
        return None
    named = {
        (c["partyId"], c["role"])
        for c in metadata["creators"]
        if isinstance(c, dict) and isinstance(c.get("partyId"), int) and isinstance(c.get("role"), str)
    }
    return named or None


def _has_event(receipt: dict[str, Any], e: dict[str, Any], binding: bytes, registrant: int, rpc_bytes: Any) -> bool:
    for log in receipt.get("logs", []):
        if str(log.get("address", "")).lower() != e["contract"].lower() or len(log.get("topics", [])) != 4:
            continue
        topics = [rpc_bytes(t) for t in log["topics"]]
        if (
            topics[0] != CREATOR_ENDORSED_TOPIC
            or topics[1] != binding
            or int.from_bytes(topics[2], "big") != registrant
            or int.from_bytes(topics[3], "big") != e["partyId"]
        ):
            continue
        try:
            account, role = abi_decode(["address", "uint8"], rpc_bytes(log["data"]))
        except Exception:
            return False
        return to_checksum_address(account) == to_checksum_address(e["account"]) and role == int(
            CreatorRole.from_word(e["role"])
        )
    return False
