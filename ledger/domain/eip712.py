"""EIP-712 typed data of the ledger's delegated signatures. Pure: no chain connection.

The type strings here must equal the contract's typehash comments exactly; a test checks them against
the deployed contract's ``EVIDENCE_TYPEHASH`` and ``BATCH_SUBMISSION_TYPEHASH``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount
from eth_utils import keccak, to_checksum_address

from ledger.domain.codes import AccountAction

EVIDENCE_DOMAIN_NAME = "QianhaiIPLedger.Evidence"
DOMAIN_VERSION = "1"

EVIDENCE_TYPE = [
    {"name": "binding", "type": "bytes32"},
    {"name": "algorithm", "type": "uint8"},
    {"name": "metadataCommitment", "type": "bytes32"},
    {"name": "supersedes", "type": "bytes32"},
    {"name": "registrant", "type": "address"},
    {"name": "nonce", "type": "uint256"},
    {"name": "deadline", "type": "uint64"},
]
BATCH_SUBMISSION_TYPE = [
    {"name": "root", "type": "bytes32"},
    {"name": "count", "type": "uint32"},
    {"name": "algorithm", "type": "uint8"},
    {"name": "registrant", "type": "address"},
    {"name": "deadline", "type": "uint64"},
]
ACCOUNT_CHANGE_TYPE = [
    {"name": "partyId", "type": "uint256"},
    {"name": "action", "type": "uint8"},
    {"name": "account", "type": "address"},
    {"name": "newAccount", "type": "address"},
    {"name": "threshold", "type": "uint8"},
    {"name": "nonce", "type": "uint64"},
    {"name": "deadline", "type": "uint64"},
]
RECOVERY_VETO_TYPE = [
    {"name": "partyId", "type": "uint256"},
    {"name": "newAccount", "type": "address"},
    {"name": "executableAt", "type": "uint64"},
]
CREATORS_DOMAIN_NAME = "QianhaiIPLedger.Creators"
CREATOR_ENDORSEMENT_TYPE = [
    {"name": "binding", "type": "bytes32"},
    {"name": "registrantPartyId", "type": "uint256"},
    {"name": "role", "type": "uint8"},
    {"name": "creator", "type": "address"},
    {"name": "nonce", "type": "uint256"},
    {"name": "deadline", "type": "uint64"},
]
#: `AccountChange.action` values (IPartyRegistry.AccountAction).
ACCOUNT_ACTIONS = {a.word: int(a) for a in AccountAction.choices()}
ZERO_ADDRESS = "0x" + "00" * 20
DOCUMENT_ACTION_TYPE = [
    {"name": "action", "type": "string"},
    {"name": "documentId", "type": "string"},
    {"name": "payloadHash", "type": "bytes32"},
    {"name": "deadline", "type": "uint64"},
]
PERSONAL_DATA_REQUEST_TYPE = [
    {"name": "action", "type": "string"},
    {"name": "partyId", "type": "uint256"},
    {"name": "subject", "type": "bytes32"},
    {"name": "nonce", "type": "uint256"},
    {"name": "deadline", "type": "uint64"},
]
CERTIFICATE_CONSENT_TYPE = [
    {"name": "partyId", "type": "uint256"},
    {"name": "recipient", "type": "string"},
    {"name": "recipientParty", "type": "uint256"},
    {"name": "bindings", "type": "bytes32[]"},
    {"name": "purpose", "type": "string"},
    {"name": "expires", "type": "uint64"},
    {"name": "nonce", "type": "uint256"},
    {"name": "deadline", "type": "uint64"},
]
EIP712_DOMAIN_TYPE = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]


def type_string(primary: str, fields: list[dict[str, str]]) -> str:
    return f"{primary}(" + ",".join(f"{f['type']} {f['name']}" for f in fields) + ")"


EVIDENCE_TYPEHASH = keccak(text=type_string("Evidence", EVIDENCE_TYPE))
BATCH_SUBMISSION_TYPEHASH = keccak(text=type_string("BatchSubmission", BATCH_SUBMISSION_TYPE))
ACCOUNT_CHANGE_TYPEHASH = keccak(text=type_string("AccountChange", ACCOUNT_CHANGE_TYPE))
RECOVERY_VETO_TYPEHASH = keccak(text=type_string("RecoveryVeto", RECOVERY_VETO_TYPE))
CREATOR_ENDORSEMENT_TYPEHASH = keccak(text=type_string("CreatorEndorsement", CREATOR_ENDORSEMENT_TYPE))


@dataclass(frozen=True)
class Domain:
    chain_id: int
    verifying_contract: str
    name: str = EVIDENCE_DOMAIN_NAME
    version: str = DOMAIN_VERSION

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "chainId": self.chain_id,
            "verifyingContract": to_checksum_address(self.verifying_contract),
        }


def _b32(value: bytes | str) -> bytes:
    if isinstance(value, str):
        value = bytes.fromhex(value.removeprefix("0x"))
    if len(value) != 32:
        raise ValueError("expected 32 bytes")
    return bytes(value)


def evidence_message(
    domain: Domain,
    *,
    binding: bytes | str,
    algorithm: int,
    metadata_commitment: bytes | str = b"\0" * 32,
    supersedes: bytes | str = b"\0" * 32,
    registrant: str,
    nonce: int,
    deadline: int,
) -> dict[str, Any]:
    """The full EIP-712 message (``types``, ``primaryType``, ``domain``, ``message``) a party signs."""
    return {
        "types": {"EIP712Domain": EIP712_DOMAIN_TYPE, "Evidence": EVIDENCE_TYPE},
        "primaryType": "Evidence",
        "domain": domain.to_json(),
        "message": {
            "binding": "0x" + _b32(binding).hex(),
            "algorithm": int(algorithm),
            "metadataCommitment": "0x" + _b32(metadata_commitment).hex(),
            "supersedes": "0x" + _b32(supersedes).hex(),
            "registrant": to_checksum_address(registrant),
            "nonce": int(nonce),
            "deadline": int(deadline),
        },
    }


def batch_submission_message(
    domain: Domain, *, root: bytes | str, count: int, algorithm: int, registrant: str, deadline: int
) -> dict[str, Any]:
    return {
        "types": {"EIP712Domain": EIP712_DOMAIN_TYPE, "BatchSubmission": BATCH_SUBMISSION_TYPE},
        "primaryType": "BatchSubmission",
        "domain": domain.to_json(),
        "message": {
            "root": "0x" + _b32(root).hex(),
            "count": int(count),
            "algorithm": int(algorithm),
            "registrant": to_checksum_address(registrant),
            "deadline": int(deadline),
        },
    }


def account_change_message(
    domain: Domain,
    *,
    party_id: int,
    action: str,
    account: str | None,
    new_account: str | None,
    threshold: int,
    nonce: int,
    deadline: int,
) -> dict[str, Any]:
    """What a party's accounts (``threshold`` of them) and, for add and rotate, the incoming account sign to change
    the party's accounts (evidence domain; ``action`` one of :data:`ACCOUNT_ACTIONS`)."""
    return {
        "types": {"EIP712Domain": EIP712_DOMAIN_TYPE, "AccountChange": ACCOUNT_CHANGE_TYPE},
        "primaryType": "AccountChange",
        "domain": domain.to_json(),
        "message": {
            "partyId": int(party_id),
            "action": ACCOUNT_ACTIONS[action],
            "account": to_checksum_address(account or ZERO_ADDRESS),
            "newAccount": to_checksum_address(new_account or ZERO_ADDRESS),
            "threshold": int(threshold),
            "nonce": int(nonce),
            "deadline": int(deadline),
        },
    }


def recovery_veto_message(domain: Domain, *, party_id: int, new_account: str, executable_at: int) -> dict[str, Any]:
    """What an account of a party signs to veto the pending recovery of its party (evidence domain)."""
    return {
        "types": {"EIP712Domain": EIP712_DOMAIN_TYPE, "RecoveryVeto": RECOVERY_VETO_TYPE},
        "primaryType": "RecoveryVeto",
        "domain": domain.to_json(),
        "message": {
            "partyId": int(party_id),
            "newAccount": to_checksum_address(new_account),
            "executableAt": int(executable_at),
        },
    }


def creator_endorsement_message(
    domain: Domain,
    *,
    binding: bytes | str,
    registrant_party_id: int,
    role: int,
    creator: str,
    nonce: int,
    deadline: int,
) -> dict[str, Any]:
    """What an account of a creator's party signs to endorse a record registered by another party (the creator
    registry's domain, ``QianhaiIPLedger.Creators``; ``nonce`` the creator account's nonce in the evidence
    registry; ``role`` a :class:`~ledger.domain.codes.CreatorRole`)."""
    return {
        "types": {"EIP712Domain": EIP712_DOMAIN_TYPE, "CreatorEndorsement": CREATOR_ENDORSEMENT_TYPE},
        "primaryType": "CreatorEndorsement",
        "domain": domain.to_json(),
        "message": {
            "binding": "0x" + _b32(binding).hex(),
            "registrantPartyId": int(registrant_party_id),
            "role": int(role),
            "creator": to_checksum_address(creator),
            "nonce": int(nonce),
            "deadline": int(deadline),
        },
    }


def document_action_message(
    domain: Domain, action: str, document_id: str, payload_hash: bytes, deadline: int
) -> dict[str, Any]:
    """What a party account signs to act on the document vault (off chain; the evidence domain)."""
    return {
        "types": {"EIP712Domain": EIP712_DOMAIN_TYPE, "DocumentAction": DOCUMENT_ACTION_TYPE},
        "primaryType": "DocumentAction",
        "domain": domain.to_json(),
        "message": {
            "action": action,
            "documentId": document_id,
            "payloadHash": "0x" + _b32(payload_hash).hex(),
            "deadline": int(deadline),
        },
    }


def personal_data_request_message(
    domain: Domain, *, action: str, party_id: int, subject: bytes | str, nonce: int, deadline: int
) -> dict[str, Any]:
    """What an account of a natural person's party signs to see (``show``), erase (``erase``) the personal data the
    service holds, or to receive their own named copy of a certificate (``certificate``, ``subject`` the content
    hash; zero otherwise). Off chain; the evidence domain; ``nonce`` the party's request nonce."""
    return {
        "types": {"EIP712Domain": EIP712_DOMAIN_TYPE, "PersonalDataRequest": PERSONAL_DATA_REQUEST_TYPE},
        "primaryType": "PersonalDataRequest",
        "domain": domain.to_json(),
        "message": {
            "action": action,
            "partyId": int(party_id),
            "subject": "0x" + _b32(subject).hex(),
            "nonce": int(nonce),
            "deadline": int(deadline),
        },
    }


def certificate_consent_message(
    domain: Domain,
    *,
    party_id: int,
    recipient: str,
    recipient_party: int,
    bindings: list[bytes] | list[str],
    purpose: str,
    expires: int,
    nonce: int,
    deadline: int,
) -> dict[str, Any]:
    """What an account of a natural person's party signs to let a named recipient (``recipient_party`` their party
    id, 0 for none) obtain a copy of the certificates of ``bindings`` naming the person, for ``purpose``, until
    ``expires`` (unix seconds). Off chain; the evidence domain; ``nonce`` the party's request nonce, consumed when the
    service records the consent, and ``deadline`` bounds that recording (docs/privacy.md "Consent to a named
    recipient")."""
    return {
        "types": {"EIP712Domain": EIP712_DOMAIN_TYPE, "CertificateConsent": CERTIFICATE_CONSENT_TYPE},
        "primaryType": "CertificateConsent",
        "domain": domain.to_json(),
        "message": {
            "partyId": int(party_id),
            "recipient": recipient,
            "recipientParty": int(recipient_party),
            "bindings": ["0x" + _b32(b).hex() for b in bindings],
            "purpose": purpose,
            "expires": int(expires),
            "nonce": int(nonce),
            "deadline": int(deadline),
        },
    }


def digest(full_message: dict[str, Any]) -> bytes:
    """The 32-byte EIP-712 digest: keccak256(0x19 0x01 ‖ domainSeparator ‖ hashStruct(message)).

    A message whose types are flat structs of atomic members (every message of this module but the agreements
    and consents that carry arrays) is encoded here directly, with its domain separator and type hash kept: two
    hashes per message instead of eth-account's dozens. Anything else, and any value out of its type's range, goes
    to eth-account's ``encode_typed_data`` (which then accepts it or raises). Both give the same bytes (a test
    compares them on every message builder)."""
    fast = _flat_digest(full_message)
    if fast is not None:
        return fast
    signable = encode_typed_data(full_message=full_message)
    return bytes(keccak(b"\x19" + signable.version + signable.header + signable.body))


_TYPE_HASHES: dict[tuple[str, tuple[tuple[str, str], ...]], bytes] = {}
_SEPARATORS: dict[tuple[Any, ...], bytes] = {}
_KEPT = 64  # domain separators kept (one per deployment and domain name)


def _flat_digest(full_message: dict[str, Any]) -> bytes | None:
    """The digest of a message of one flat struct of atomic members in the standard domain, or None."""
    try:
        types, primary = full_message["types"], full_message["primaryType"]
        if set(types) != {"EIP712Domain", primary} or types["EIP712Domain"] != EIP712_DOMAIN_TYPE:
            return None
        fields = tuple((f["name"], f["type"]) for f in types[primary])
        domain = full_message["domain"]
        key = (domain["name"], domain["version"], domain["chainId"], domain["verifyingContract"])
    except (KeyError, TypeError, AttributeError):
        return None
    separator = _SEPARATORS.get(key)
    if separator is None:
        encoded = _encode_fields(tuple((f["name"], f["type"]) for f in EIP712_DOMAIN_TYPE), domain)
        if encoded is None:
            return None
        separator = keccak(_type_hash("EIP712Domain", EIP712_DOMAIN_TYPE) + encoded)
        if len(_SEPARATORS) >= _KEPT:
            _SEPARATORS.clear()
        _SEPARATORS[key] = separator
    body = _encode_fields(fields, full_message.get("message"))
    if body is None:
        return None
    struct = keccak(_type_hash(primary, types[primary], fields) + body)
    return bytes(keccak(b"\x19\x01" + separator + struct))


def _type_hash(primary: str, members: list[dict[str, str]], fields: tuple[tuple[str, str], ...] | None = None) -> bytes:
    key = (primary, fields if fields is not None else tuple((f["name"], f["type"]) for f in members))
    found = _TYPE_HASHES.get(key)
    if found is None:
        found = _TYPE_HASHES[key] = keccak(text=f"{primary}(" + ",".join(f"{t} {n}" for n, t in key[1]) + ")")
    return found


def _encode_fields(fields: tuple[tuple[str, str], ...], values: Any) -> bytes | None:
    """The 32-byte words of atomic members (``encodeData`` without the type hash), or None for anything else."""
    if not isinstance(values, dict) or len(values) != len(fields):
        return None
    out = []
    for name, kind in fields:
        if name not in values:
            return None
        word = _encode_atomic(kind, values[name])
        if word is None:
            return None
        out.append(word)
    return b"".join(out)


def _encode_atomic(kind: str, value: Any) -> bytes | None:
    if kind == "string":
        return keccak(text=value) if isinstance(value, str) else None
    if kind.startswith("uint") and type(value) is int:
        bits = int(kind[4:] or 256) if kind[4:].isdigit() or not kind[4:] else 0
        return value.to_bytes(32, "big") if bits and 0 <= value < 1 << bits else None
    if kind == "bytes32":
        raw = _hex_bytes(value)
        return raw if raw is not None and len(raw) == 32 else None
    if kind == "address":
        raw = _hex_bytes(value)
        return raw.rjust(32, b"\0") if raw is not None and len(raw) == 20 else None
    if kind == "bool" and type(value) is bool:
        return int(value).to_bytes(32, "big")
    return None


def _hex_bytes(value: Any) -> bytes | None:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str) and value[:2] in ("0x", "0X"):
        try:
            return bytes.fromhex(value[2:])
        except ValueError:
            return None
    return None


def sign(full_message: dict[str, Any], account: LocalAccount) -> bytes:
    """A 65-byte (r, s, v) signature of the message by ``account``."""
    signed = account.sign_message(encode_typed_data(full_message=full_message))
    return bytes(signed.signature)


def sign_digest(message_digest: bytes, account: LocalAccount) -> bytes:
    """Signs a raw 32-byte digest (for ERC-1271 wallets whose owner key signs the EIP-712 digest)."""
    return bytes(Account._sign_hash(message_digest, account.key).signature)  # noqa: SLF001 - eth-account's documented raw-hash signer


def recover(full_message: dict[str, Any], signature: bytes) -> str | None:
    """The address that produced ``signature`` over the message, or None if it is malformed."""
    try:
        return str(Account.recover_message(encode_typed_data(full_message=full_message), signature=signature))
    except Exception:  # noqa: BLE001 - a malformed signature recovers nobody (eth-keys raises several classes)
        return None
