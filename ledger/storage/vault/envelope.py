"""The vault's envelope: the versioned JSON that describes a stored document (its id, content hash, nonce, owner
and one wrapped document key per reader), the constants of the format, and the checks of the values it carries.

Pure: no cryptography is done here (``crypto.py``) and nothing is stored (``storage.py``). ``docs/vault.md``
specifies every field. A malformed envelope is a :class:`VaultIntegrityError` naming the field at fault.
"""

from __future__ import annotations

import hmac
import json
import re
import secrets
from dataclasses import dataclass

from ledger.domain.canonical_json import canonical_json
from ledger.domain.hashing import parse_hash
from ledger.domain.inputs import DOCUMENT_MAX_BYTES
from ledger.domain.results import EnvelopeRecipient, EnvelopeView
from ledger.errors import InvalidInput

# --- constants (all of them are part of the documented format) ----------------------------------

ENVELOPE_FORMAT = "qianhai-ip-ledger/vault-envelope"
ENVELOPE_VERSION = 1
ALGORITHM = "sha256"
CIPHER = "AES-256-GCM"

KEY_LENGTH = 32
NONCE_LENGTH = 12
TAG_LENGTH = 16
PUBLIC_KEY_LENGTH = 32
HASH_LENGTH = 32
PARTY_ID_LENGTH = 32  # party ids enter AADs as 32-byte big-endian integers (Solidity uint256)
MAX_PARTY_ID = 2**53 - 1  # JSON-safe; the chain's ids start at 1

MAX_RECIPIENTS = 64
DEFAULT_MAX_DOCUMENT_BYTES = DOCUMENT_MAX_BYTES
MAX_DOCUMENT_BYTES_CEILING = 2**30

ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")
HEX_PATTERN = re.compile(r"0x[0-9a-f]*")
_ENVELOPE_KEYS = frozenset(
    {"format", "version", "documentId", "contentHash", "algorithm", "cipher", "nonce", "aad", "recipients", "owner"}
)
_RECIPIENT_KEYS = frozenset({"partyId", "publicKey", "ephemeralPublicKey", "wrapNonce", "wrappedKey"})


# --- errors -------------------------------------------------------------------------------------


class VaultIntegrityError(InvalidInput):
    """A document or its envelope failed authentication, its hash did not match, or it is malformed."""

    code = "vault_integrity_error"


# --- argument checking --------------------------------------------------------------------------


def party_arg(value: object, field: str) -> int:
    """A party id (1 to 2**53 - 1, not a bool), or :class:`~ledger.errors.InvalidInput` naming ``field``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{field} must be a party id (an integer), not {type(value).__name__}", field=field)
    if not 1 <= value <= MAX_PARTY_ID:
        raise InvalidInput(f"{field} {value} is not a party id (1 to 2**53 - 1)", field=field)
    return int(value)


def document_id_arg(value: object, field: str = "document_id") -> str:
    """A document id (``ID_PATTERN``: safe as a file name), or :class:`~ledger.errors.InvalidInput` naming ``field``."""
    if not isinstance(value, str) or not ID_PATTERN.fullmatch(value):
        raise InvalidInput(
            f"{field} {value!r} is not a document id: 1 to 128 characters from A-Z a-z 0-9 _ -, "
            "starting with a letter or digit",
            field=field,
        )
    return value


def bytes_arg(value: object, field: str) -> bytes:
    """``value`` as ``bytes`` (from bytes, bytearray or memoryview), or :class:`~ledger.errors.InvalidInput`."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    raise InvalidInput(f"{field} must be bytes, not {type(value).__name__}", field=field)


def expected_hash_arg(value: object) -> bytes:
    """The 32-byte SHA-256 a document must hash to (bytes, or hex text), field ``expected_hash``."""
    if isinstance(value, str):
        return parse_hash(value, "expected_hash")
    raw = bytes_arg(value, "expected_hash")
    if len(raw) != HASH_LENGTH:
        raise InvalidInput(f"expected_hash has {len(raw)} bytes; a SHA-256 hash has 32", field="expected_hash")
    return raw


def to_hex(raw: bytes) -> str:
    """The format's byte fields: ``0x`` and lower-case hex."""
    return "0x" + raw.hex()


def new_document_id() -> str:
    """A fresh random document id: 32 lower-case hex characters (128 bits)."""
    return secrets.token_hex(16)


# --- envelope -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Recipient:
    """One reader's wrapped copy of the document key."""

    party_id: int
    public_key: bytes
    ephemeral_public_key: bytes
    wrap_nonce: bytes
    wrapped_key: bytes

    def to_json(self) -> EnvelopeRecipient:
        return {
            "partyId": self.party_id,
            "publicKey": to_hex(self.public_key),
            "ephemeralPublicKey": to_hex(self.ephemeral_public_key),
            "wrapNonce": to_hex(self.wrap_nonce),
            "wrappedKey": to_hex(self.wrapped_key),
        }


@dataclass(frozen=True)
class Envelope:
    """Everything about a stored document except its ciphertext (see docs/vault.md for the JSON)."""

    document_id: str
    content_hash: bytes
    nonce: bytes
    owner: int
    recipients: tuple[Recipient, ...]

    @property
    def aad(self) -> bytes:
        """The document cipher's associated data: ``UTF-8(documentId) ‖ contentHash``."""
        return self.document_id.encode("ascii") + self.content_hash

    @property
    def readers(self) -> frozenset[int]:
        return frozenset(r.party_id for r in self.recipients)

    @property
    def blob_id(self) -> str:
        """Name of the ciphertext in storage: the nonce in lower-case hex (unique per encryption)."""
        return self.nonce.hex()

    def recipient(self, party_id: int) -> Recipient | None:
        for r in self.recipients:
            if r.party_id == party_id:
                return r
        return None

    def index_of(self, party_id: int) -> int:
        return next(i for i, r in enumerate(self.recipients) if r.party_id == party_id)

    def to_json(self) -> EnvelopeView:
        return {
            "format": ENVELOPE_FORMAT,
            "version": ENVELOPE_VERSION,
            "documentId": self.document_id,
            "contentHash": to_hex(self.content_hash),
            "algorithm": ALGORITHM,
            "cipher": CIPHER,
            "nonce": to_hex(self.nonce),
            "aad": to_hex(self.aad),
            "recipients": [r.to_json() for r in self.recipients],
            "owner": self.owner,
        }

    def to_bytes(self) -> bytes:
        """RFC 8785 canonical JSON (UTF-8): equal envelopes give equal bytes."""
        return canonical_json(self.to_json())

    @classmethod
    def from_bytes(cls, raw: bytes) -> Envelope:
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise VaultIntegrityError("the envelope is not valid JSON", field="envelope") from None
        return cls.from_json(data)

    @classmethod
    def from_json(cls, data: object) -> Envelope:
        """Parse and strictly check an envelope; any defect is a :class:`VaultIntegrityError`."""
        if not isinstance(data, dict):
            raise _malformed("envelope", "is not a JSON object")
        missing = sorted(_ENVELOPE_KEYS - data.keys())
        extra = sorted(set(data) - _ENVELOPE_KEYS)
        if missing:
            raise _malformed(f"envelope.{missing[0]}", "is missing")
        if extra:
            raise _malformed(f"envelope.{extra[0]}", "is not a field of a version 1 envelope")
        if data["format"] != ENVELOPE_FORMAT:
            raise _malformed("envelope.format", f"is not {ENVELOPE_FORMAT!r}")
        version = data["version"]
        if isinstance(version, bool) or version != ENVELOPE_VERSION:
            raise _malformed("envelope.version", f"{version!r} is not supported (this software reads version 1)")
        if data["algorithm"] != ALGORITHM:
            raise _malformed("envelope.algorithm", f"must be {ALGORITHM!r}")
        if data["cipher"] != CIPHER:
            raise _malformed("envelope.cipher", f"must be {CIPHER!r}")
        document_id = data["documentId"]
        if not isinstance(document_id, str) or not ID_PATTERN.fullmatch(document_id):
            raise _malformed("envelope.documentId", "is not a document id")
        content_hash = _envelope_hex(data["contentHash"], HASH_LENGTH, "envelope.contentHash")
        nonce = _envelope_hex(data["nonce"], NONCE_LENGTH, "envelope.nonce")
        aad = _envelope_hex(data["aad"], None, "envelope.aad")
        if not hmac.compare_digest(aad, document_id.encode("ascii") + content_hash):
            raise VaultIntegrityError(
                "the envelope's aad is not documentId ‖ contentHash: the envelope was altered", field="envelope.aad"
            )
        owner = _envelope_party(data["owner"], "envelope.owner")
        recipients_json = data["recipients"]
        if not isinstance(recipients_json, list) or not 1 <= len(recipients_json) <= MAX_RECIPIENTS:
            raise _malformed("envelope.recipients", f"must be a list of 1 to {MAX_RECIPIENTS} recipients")
        recipients: list[Recipient] = []
        seen: set[int] = set()
        for i, item in enumerate(recipients_json):
            where = f"envelope.recipients[{i}]"
            if not isinstance(item, dict) or set(item) != _RECIPIENT_KEYS:
                raise _malformed(where, f"must have exactly the fields {', '.join(sorted(_RECIPIENT_KEYS))}")
            party = _envelope_party(item["partyId"], f"{where}.partyId")
            if party in seen:
                raise _malformed(f"{where}.partyId", f"party {party} appears twice")
            seen.add(party)
            recipients.append(
                Recipient(
                    party_id=party,
                    public_key=_envelope_hex(item["publicKey"], PUBLIC_KEY_LENGTH, f"{where}.publicKey"),
                    ephemeral_public_key=_envelope_hex(
                        item["ephemeralPublicKey"], PUBLIC_KEY_LENGTH, f"{where}.ephemeralPublicKey"
                    ),
                    wrap_nonce=_envelope_hex(item["wrapNonce"], NONCE_LENGTH, f"{where}.wrapNonce"),
                    wrapped_key=_envelope_hex(item["wrappedKey"], KEY_LENGTH + TAG_LENGTH, f"{where}.wrappedKey"),
                )
            )
        if owner not in seen:
            raise _malformed("envelope.owner", f"party {owner} is not among the recipients")
        return cls(document_id, content_hash, nonce, owner, tuple(recipients))


def _malformed(field: str, why: str) -> VaultIntegrityError:
    return VaultIntegrityError(f"malformed envelope: {field} {why}", field=field)


def _envelope_hex(value: object, length: int | None, field: str) -> bytes:
    if not isinstance(value, str) or not HEX_PATTERN.fullmatch(value) or len(value) % 2:
        raise _malformed(field, "is not 0x-prefixed lower-case hex")
    raw = bytes.fromhex(value[2:])
    if length is not None and len(raw) != length:
        raise _malformed(field, f"has {len(raw)} bytes; expected {length}")
    return raw


def _envelope_party(value: object, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_PARTY_ID:
        raise _malformed(field, "is not a party id (an integer from 1 to 2**53 - 1)")
    return value
