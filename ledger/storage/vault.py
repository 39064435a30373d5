"""Encrypted document vault: documents encrypted for named parties, with only their hash on chain.

A document (a signed contract, an evidence file) is encrypted once with AES-256-GCM under a random
256-bit *document key*. The document key is wrapped separately for each reader with X25519 + HKDF-SHA256
+ AES-256-GCM (a fresh ephemeral X25519 key per reader). The ciphertext (the *blob*) and a versioned JSON
*envelope* (content hash, nonce, one wrapped key per reader) are kept by a :class:`Storage`; the content
hash (SHA-256 of the plaintext) is what the caller registers on chain. Reading unwraps, decrypts,
authenticates and checks the plaintext's SHA-256 against both the envelope and the on-chain hash the
caller passes in.

This module is pure cryptography plus a small storage interface: it never talks to a chain, and it
holds no keys. ``docs/vault.md`` specifies the envelope, every byte that goes into HKDF and AES-GCM, the
reader keystore and the threat model (what revocation does and does not do), precisely enough to
re-implement decryption with any X25519 / HKDF / AES-GCM library.

Errors: :class:`~ledger.errors.NotFound` (no such document), :class:`~ledger.errors.PermissionDenied`
(not a reader, not the owner, a key that is not the reader's), :class:`VaultIntegrityError` (a
subclass of :class:`~ledger.errors.InvalidInput`: authentication failure, hash mismatch, malformed
envelope), :class:`~ledger.errors.Conflict` (document id taken, concurrent update, reader limit),
:class:`~ledger.errors.PayloadTooLarge`, :class:`~ledger.errors.KeystoreError` (reader keystores) and
:class:`VaultStorageError` (the storage backend failed).
"""

from __future__ import annotations

import fcntl
import hmac
import json
import os
import re
import secrets
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeGuard

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

from ledger.errors import (
    Conflict,
    InvalidInput,
    KeystoreError,
    LedgerError,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
)
from ledger.domain.hashing import HashAlgorithm, canonical_json, hash_bytes, parse_hash
from ledger.domain.results import EnvelopeRecipient, EnvelopeView

__all__ = [
    "DEFAULT_MAX_DOCUMENT_BYTES",
    "ENVELOPE_FORMAT",
    "ENVELOPE_VERSION",
    "MAX_RECIPIENTS",
    "READER_KEYSTORE_FORMAT",
    "Envelope",
    "LocalStorage",
    "MemoryStorage",
    "ReaderKey",
    "Recipient",
    "Storage",
    "Vault",
    "VaultIntegrityError",
    "VaultStorageError",
    "add_reader",
    "derive_reader_key",
    "load_reader_keystore",
    "new_document_id",
    "open_sealed",
    "public_key_bytes",
    "reader_key_from_eth_keystore",
    "reader_keystore_path",
    "seal",
    "unwrap_document_key",
    "write_reader_keystore",
]

# --- constants (all of them are part of the documented format) ----------------------------------

ENVELOPE_FORMAT = "qianhai-ip-ledger/vault-envelope"
ENVELOPE_VERSION = 1
ALGORITHM = "sha256"
CIPHER = "AES-256-GCM"

READER_KEY_INFO = b"qianhai-ip-ledger/vault/x25519/v1"
WRAP_INFO_PREFIX = b"qianhai-ip-ledger/vault/wrap/v1"

READER_KEYSTORE_FORMAT = "qianhai-ip-ledger/vault-reader-keystore"
READER_KEYSTORE_VERSION = 1
READER_KEYSTORE_AAD_PREFIX = b"qianhai-ip-ledger/vault/reader-keystore/v1"
READER_KEYSTORE_SUFFIX = ".x25519.json"
DEFAULT_SCRYPT_N = 2**18  # the same cost as eth-account's scrypt keystores
MIN_SCRYPT_N = 2**14
MAX_SCRYPT_N = 2**20
SCRYPT_R = 8
SCRYPT_P = 1

KEY_LENGTH = 32
NONCE_LENGTH = 12
TAG_LENGTH = 16
PUBLIC_KEY_LENGTH = 32
HASH_LENGTH = 32
PARTY_ID_LENGTH = 32  # party ids enter AADs as 32-byte big-endian integers (Solidity uint256)
MAX_PARTY_ID = 2**53 - 1  # JSON-safe; the chain's ids start at 1

MAX_RECIPIENTS = 64
DEFAULT_MAX_DOCUMENT_BYTES = 64 * 2**20
MAX_DOCUMENT_BYTES_CEILING = 2**30

_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")
_HEX = re.compile(r"0x[0-9a-f]*")
_ENVELOPE_KEYS = frozenset(
    {"format", "version", "documentId", "contentHash", "algorithm", "cipher", "nonce", "aad", "recipients", "owner"}
)
_RECIPIENT_KEYS = frozenset({"partyId", "publicKey", "ephemeralPublicKey", "wrapNonce", "wrappedKey"})

Random = Callable[[int], bytes]


# --- errors -------------------------------------------------------------------------------------


class VaultIntegrityError(InvalidInput):
    """A document or its envelope failed authentication, its hash did not match, or it is malformed."""

    code = "vault_integrity_error"


class VaultStorageError(LedgerError):
    """The storage backend could not read or write (disk full, permissions, ...)."""

    code = "vault_storage_error"


# --- argument checking --------------------------------------------------------------------------


def _party(value: object, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{field} must be a party id (an integer), not {type(value).__name__}", field=field)
    if not 1 <= value <= MAX_PARTY_ID:
        raise InvalidInput(f"{field} {value} is not a party id (1 to 2**53 - 1)", field=field)
    return int(value)


def _document_id(value: object, field: str = "document_id") -> str:
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise InvalidInput(
            f"{field} {value!r} is not a document id: 1 to 128 characters from A-Z a-z 0-9 _ -, "
            "starting with a letter or digit",
            field=field,
        )
    return value


def _bytes(value: object, field: str) -> bytes:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    raise InvalidInput(f"{field} must be bytes, not {type(value).__name__}", field=field)


def _public_key_arg(value: object, field: str) -> bytes:
    """A reader's X25519 public key as 32 raw bytes (bytes, ``X25519PublicKey`` or hex text)."""
    if isinstance(value, X25519PublicKey):
        return _raw_public(value)
    if isinstance(value, str):
        text = value.strip()
        text = text[2:] if text[:2] in ("0x", "0X") else text
        try:
            raw = bytes.fromhex(text)
        except ValueError:
            raise InvalidInput(f"{field} is not hex", field=field) from None
    elif isinstance(value, (bytes, bytearray, memoryview)):
        raw = bytes(value)
    else:
        raise InvalidInput(f"{field} must be a 32-byte X25519 public key, not {type(value).__name__}", field=field)
    if len(raw) != PUBLIC_KEY_LENGTH:
        raise InvalidInput(f"{field} has {len(raw)} bytes; an X25519 public key has 32", field=field)
    return raw


def _private_key(value: object, field: str) -> X25519PrivateKey:
    if isinstance(value, ReaderKey):
        return value.private_key
    if isinstance(value, X25519PrivateKey):
        return value
    raise InvalidInput(
        f"{field} must be an X25519 private key (X25519PrivateKey or ReaderKey), not {type(value).__name__}",
        field=field,
    )


def _expected_hash(value: object) -> bytes:
    if isinstance(value, str):
        return parse_hash(value, "expected_hash")
    raw = _bytes(value, "expected_hash")
    if len(raw) != HASH_LENGTH:
        raise InvalidInput(f"expected_hash has {len(raw)} bytes; a SHA-256 hash has 32", field="expected_hash")
    return raw


def _plaintext(value: object, limit: int) -> bytes:
    data = _bytes(value, "plaintext")
    if len(data) > limit:
        raise PayloadTooLarge(
            f"the document has {len(data)} bytes; the vault accepts at most {limit}",
            field="plaintext",
            details={"limit": limit, "size": len(data)},
        )
    return data


def _raw_public(key: X25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def public_key_bytes(key: X25519PrivateKey | ReaderKey) -> bytes:
    """The 32-byte raw X25519 public key of a private reader key (what other parties grant to)."""
    return _raw_public(_private_key(key, "key").public_key())


def _hex(raw: bytes) -> str:
    return "0x" + raw.hex()


def new_document_id() -> str:
    """A fresh random document id: 32 lower-case hex characters (128 bits)."""
    return secrets.token_hex(16)


# --- reader keys --------------------------------------------------------------------------------


def derive_reader_key(eth_private_key: bytes) -> X25519PrivateKey:
    """The party's X25519 document key, derived from its 32-byte Ethereum (secp256k1) private key.

    ``HKDF-SHA256(ikm = eth_private_key, salt = none (32 zero bytes), info =
    "qianhai-ip-ledger/vault/x25519/v1", length = 32)``, used as an X25519 private scalar (clamped as
    RFC 7748 says). Anyone who can open the party's eth keystore can therefore recover the document
    key, and nothing else needs backing up; the trade-off is that whoever steals the account key can
    also read the party's documents (see docs/vault.md for the alternative, a separate reader keystore).
    """
    key = _bytes(eth_private_key, "eth_private_key")
    if len(key) != 32:
        raise InvalidInput(f"eth_private_key has {len(key)} bytes; expected 32", field="eth_private_key")
    if key == bytes(32):
        raise InvalidInput("eth_private_key is all zeros", field="eth_private_key")
    okm = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=READER_KEY_INFO).derive(key)
    return X25519PrivateKey.from_private_bytes(okm)


@dataclass(frozen=True, repr=False)
class ReaderKey:
    """A party's X25519 private key for reading documents, with conveniences around it."""

    private_key: X25519PrivateKey

    @classmethod
    def generate(cls) -> ReaderKey:
        return cls(X25519PrivateKey.generate())

    @classmethod
    def from_eth_private_key(cls, eth_private_key: bytes) -> ReaderKey:
        return cls(derive_reader_key(eth_private_key))

    @classmethod
    def from_private_bytes(cls, raw: bytes) -> ReaderKey:
        raw = _bytes(raw, "private_key")
        if len(raw) != 32:
            raise InvalidInput(f"private_key has {len(raw)} bytes; an X25519 key has 32", field="private_key")
        return cls(X25519PrivateKey.from_private_bytes(raw))

    @classmethod
    def load(cls, path: Path, password: str | None) -> ReaderKey:
        return cls(load_reader_keystore(path, password))

    def save(self, path: Path, password: str, *, scrypt_n: int = DEFAULT_SCRYPT_N) -> Path:
        return write_reader_keystore(path, self.private_key, password, scrypt_n=scrypt_n)

    def public_bytes(self) -> bytes:
        """The 32-byte raw public key."""
        return _raw_public(self.private_key.public_key())

    def private_bytes(self) -> bytes:
        """The 32-byte raw private key (handle with care)."""
        return self.private_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())

    def __repr__(self) -> str:
        return f"ReaderKey(public={_hex(self.public_bytes())})"


def reader_keystore_path(eth_keystore: Path) -> Path:
    """Where a party's reader keystore lives beside its eth keystore: ``<name>.x25519.json``."""
    eth_keystore = Path(eth_keystore)
    return eth_keystore.with_name(eth_keystore.name + READER_KEYSTORE_SUFFIX)


def reader_key_from_eth_keystore(path: Path, password: str | None) -> X25519PrivateKey:
    """Open the party's eth keystore (:func:`ledger.storage.keys.load_keystore`) and derive its reader key."""
    from ledger.storage.keys import load_keystore

    account = load_keystore(Path(path), password)
    return derive_reader_key(bytes(account.key))


def _keystore_aad(public: bytes) -> bytes:
    return READER_KEYSTORE_AAD_PREFIX + public


def _plain_int(value: object) -> TypeGuard[int]:
    """An int read from JSON, not a bool (which Python counts as an int)."""
    return isinstance(value, int) and not isinstance(value, bool)


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(password.encode("utf-8"))


def write_reader_keystore(
    path: Path,
    private_key: X25519PrivateKey | ReaderKey,
    password: str,
    *,
    scrypt_n: int = DEFAULT_SCRYPT_N,
) -> Path:
    """Write an X25519 reader key encrypted under ``password`` (scrypt + AES-256-GCM), mode 0600.

    Never overwrites: an existing file raises :class:`~ledger.errors.KeystoreError`. The file appears
    complete or not at all (written to a temporary name, fsynced, then hard-linked into place).
    """
    key = _private_key(private_key, "private_key")
    if not isinstance(password, str) or not password:
        raise KeystoreError("a keystore password must not be empty", field="password")
    if scrypt_n & (scrypt_n - 1) or not MIN_SCRYPT_N <= scrypt_n <= MAX_SCRYPT_N:
        raise KeystoreError(f"scrypt_n must be a power of two from 2**14 to 2**20, not {scrypt_n}", field="scrypt_n")
    path = Path(path)
    if path.exists():
        raise KeystoreError(f"{path} already exists; refusing to overwrite a keystore", field="keystore")
    public = _raw_public(key.public_key())
    salt = os.urandom(32)
    nonce = os.urandom(NONCE_LENGTH)
    secret = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    ciphertext = AESGCM(_scrypt(password, salt, scrypt_n, SCRYPT_R, SCRYPT_P)).encrypt(
        nonce, secret, _keystore_aad(public)
    )
    document = {
        "format": READER_KEYSTORE_FORMAT,
        "version": READER_KEYSTORE_VERSION,
        "publicKey": _hex(public),
        "kdf": "scrypt",
        "kdfparams": {"n": scrypt_n, "r": SCRYPT_R, "p": SCRYPT_P, "dklen": 32, "salt": _hex(salt)},
        "cipher": CIPHER,
        "nonce": _hex(nonce),
        "ciphertext": _hex(ciphertext),
    }
    data = json.dumps(document, indent=2).encode("utf-8") + b"\n"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = _write_temp(path, data)
        try:
            os.link(tmp, path)
        except FileExistsError:
            raise KeystoreError(f"{path} already exists; refusing to overwrite a keystore", field="keystore") from None
        finally:
            with suppress(FileNotFoundError):
                os.unlink(tmp)
        _fsync_dir(path.parent)
    except OSError as exc:
        raise KeystoreError(f"could not write keystore {path} ({exc.strerror or exc})", field="keystore") from exc
    return path


def load_reader_keystore(path: Path, password: str | None) -> X25519PrivateKey:
    """Decrypt a reader keystore written by :func:`write_reader_keystore`.

    Every failure is a :class:`~ledger.errors.KeystoreError`: field ``keystore_password`` for a
    missing or wrong password, ``keystore`` for a missing, unreadable or malformed file.
    """
    path = Path(path)
    if password is None or password == "":
        raise KeystoreError(f"no password for reader keystore {path}", field="keystore_password")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise KeystoreError(f"reader keystore {path} not found", field="keystore") from None
    except (OSError, ValueError) as exc:
        raise KeystoreError(f"reader keystore {path} is unreadable ({type(exc).__name__})", field="keystore") from None

    def bad(why: str) -> KeystoreError:
        return KeystoreError(f"{path} is not a valid reader keystore: {why}", field="keystore")

    if not isinstance(data, dict) or data.get("format") != READER_KEYSTORE_FORMAT:
        raise bad(f"format is not {READER_KEYSTORE_FORMAT!r}")
    if data.get("version") != READER_KEYSTORE_VERSION or isinstance(data.get("version"), bool):
        raise bad(f"unsupported version {data.get('version')!r}")
    if data.get("kdf") != "scrypt" or data.get("cipher") != CIPHER:
        raise bad("kdf must be scrypt and cipher AES-256-GCM")
    params = data.get("kdfparams")
    if not isinstance(params, dict):
        raise bad("kdfparams missing")
    n, r, p, dklen = (params.get(k) for k in ("n", "r", "p", "dklen"))
    if not (_plain_int(n) and _plain_int(r) and _plain_int(p) and _plain_int(dklen)):
        raise bad("kdfparams n, r, p and dklen must be integers")
    if n & (n - 1) or not MIN_SCRYPT_N <= n <= MAX_SCRYPT_N or not 1 <= r <= 32 or not 1 <= p <= 16 or dklen != 32:
        raise bad("scrypt parameters out of range (n a power of two in 2**14..2**20, r 1..32, p 1..16, dklen 32)")
    try:
        salt = _keystore_hex(params.get("salt"), None)
        public = _keystore_hex(data.get("publicKey"), PUBLIC_KEY_LENGTH)
        nonce = _keystore_hex(data.get("nonce"), NONCE_LENGTH)
        ciphertext = _keystore_hex(data.get("ciphertext"), 32 + TAG_LENGTH)
    except ValueError as exc:
        raise bad(str(exc)) from None
    if not 16 <= len(salt) <= 64:
        raise bad("the scrypt salt must have 16 to 64 bytes")
    try:
        secret = AESGCM(_scrypt(password, salt, n, r, p)).decrypt(nonce, ciphertext, _keystore_aad(public))
    except InvalidTag:
        raise KeystoreError(
            f"wrong password for reader keystore {path} (or the file was altered)", field="keystore_password"
        ) from None
    key = X25519PrivateKey.from_private_bytes(secret)
    if not hmac.compare_digest(_raw_public(key.public_key()), public):
        raise bad("the decrypted key does not match publicKey")
    return key


def _keystore_hex(value: object, length: int | None) -> bytes:
    if not isinstance(value, str) or not _HEX.fullmatch(value) or len(value) % 2:
        raise ValueError("a byte field is not 0x-prefixed lower-case hex")
    raw = bytes.fromhex(value[2:])
    if length is not None and len(raw) != length:
        raise ValueError(f"a byte field has {len(raw)} bytes, expected {length}")
    return raw


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
            "publicKey": _hex(self.public_key),
            "ephemeralPublicKey": _hex(self.ephemeral_public_key),
            "wrapNonce": _hex(self.wrap_nonce),
            "wrappedKey": _hex(self.wrapped_key),
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

    def _index(self, party_id: int) -> int:
        return next(i for i, r in enumerate(self.recipients) if r.party_id == party_id)

    def to_json(self) -> EnvelopeView:
        return {
            "format": ENVELOPE_FORMAT,
            "version": ENVELOPE_VERSION,
            "documentId": self.document_id,
            "contentHash": _hex(self.content_hash),
            "algorithm": ALGORITHM,
            "cipher": CIPHER,
            "nonce": _hex(self.nonce),
            "aad": _hex(self.aad),
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
        if not isinstance(document_id, str) or not _ID.fullmatch(document_id):
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
    if not isinstance(value, str) or not _HEX.fullmatch(value) or len(value) % 2:
        raise _malformed(field, "is not 0x-prefixed lower-case hex")
    raw = bytes.fromhex(value[2:])
    if length is not None and len(raw) != length:
        raise _malformed(field, f"has {len(raw)} bytes; expected {length}")
    return raw


def _envelope_party(value: object, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_PARTY_ID:
        raise _malformed(field, "is not a party id (an integer from 1 to 2**53 - 1)")
    return value


# --- the cryptography ---------------------------------------------------------------------------


def _party_bytes(party: int) -> bytes:
    return party.to_bytes(PARTY_ID_LENGTH, "big")


def _wrap_aad(document_id: str, party: int) -> bytes:
    return document_id.encode("ascii") + _party_bytes(party)


def _kek(shared: bytes, ephemeral_public: bytes, recipient_public: bytes, document_id: str) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(),
        length=KEY_LENGTH,
        salt=ephemeral_public + recipient_public,
        info=WRAP_INFO_PREFIX + document_id.encode("ascii"),
    ).derive(shared)


def _wrap(
    document_key: bytes, document_id: str, party: int, recipient_public: bytes, rng: Random, field: str
) -> Recipient:
    ephemeral = X25519PrivateKey.from_private_bytes(rng(32))
    ephemeral_public = _raw_public(ephemeral.public_key())
    try:
        shared = ephemeral.exchange(X25519PublicKey.from_public_bytes(recipient_public))
    except ValueError:
        raise InvalidInput(
            f"the public key of party {party} is not a usable X25519 key (a low-order point)",
            field=field,
        ) from None
    kek = _kek(shared, ephemeral_public, recipient_public, document_id)
    wrap_nonce = rng(NONCE_LENGTH)
    wrapped = AESGCM(kek).encrypt(wrap_nonce, document_key, _wrap_aad(document_id, party))
    return Recipient(party, recipient_public, ephemeral_public, wrap_nonce, wrapped)


def unwrap_document_key(
    envelope: Envelope,
    party: int,
    private_key: X25519PrivateKey | ReaderKey,
    *,
    party_field: str = "party",
    key_field: str = "private_key",
) -> bytes:
    """Recover the document key with ``party``'s reader key.

    :class:`~ledger.errors.PermissionDenied` if ``party`` is not a reader or the key is not the one
    the document was wrapped for; :class:`VaultIntegrityError` if the wrapped key fails authentication.
    """
    party = _party(party, party_field)
    key = _private_key(private_key, key_field)
    recipient = envelope.recipient(party)
    if recipient is None:
        raise PermissionDenied(
            f"party {party} is not a reader of document {envelope.document_id} (no grant)",
            field=party_field,
            details={"documentId": envelope.document_id, "partyId": party},
        )
    if not hmac.compare_digest(_raw_public(key.public_key()), recipient.public_key):
        raise PermissionDenied(
            f"the key supplied is not the one document {envelope.document_id} was shared with party {party} "
            f"(its public key is {_hex(recipient.public_key)}); if the party's key changed, the owner must "
            "re-wrap the document for the new key (rotate)",
            field=key_field,
            details={"documentId": envelope.document_id, "partyId": party},
        )
    where = f"envelope.recipients[{envelope._index(party)}]"
    try:
        shared = key.exchange(X25519PublicKey.from_public_bytes(recipient.ephemeral_public_key))
    except ValueError:
        raise VaultIntegrityError(
            f"the ephemeral key for party {party} is a low-order point: the envelope was altered",
            field=f"{where}.ephemeralPublicKey",
        ) from None
    kek = _kek(shared, recipient.ephemeral_public_key, recipient.public_key, envelope.document_id)
    try:
        return AESGCM(kek).decrypt(recipient.wrap_nonce, recipient.wrapped_key, _wrap_aad(envelope.document_id, party))
    except InvalidTag:
        raise VaultIntegrityError(
            f"the wrapped key of party {party} for document {envelope.document_id} failed authentication: "
            "the envelope was altered",
            field=f"{where}.wrappedKey",
        ) from None


def _decrypt(envelope: Envelope, ciphertext: bytes, document_key: bytes, expected_hash: bytes) -> bytes:
    doc = envelope.document_id
    if len(ciphertext) < TAG_LENGTH:
        raise VaultIntegrityError(
            f"the ciphertext of document {doc} is shorter than a GCM tag: it was truncated", field="ciphertext"
        )
    try:
        plaintext = AESGCM(document_key).decrypt(envelope.nonce, ciphertext, envelope.aad)
    except InvalidTag:
        raise VaultIntegrityError(
            f"document {doc} failed authentication (AES-GCM tag mismatch): its ciphertext or tag, or the "
            "documentId or contentHash in its envelope, was altered",
            field="ciphertext",
        ) from None
    actual = hash_bytes(plaintext, HashAlgorithm.SHA256)
    if not hmac.compare_digest(actual, envelope.content_hash):
        raise VaultIntegrityError(
            f"document {doc} decrypts to content with SHA-256 {_hex(actual)}, not the envelope's "
            f"contentHash {_hex(envelope.content_hash)}",
            field="envelope.contentHash",
        )
    if not hmac.compare_digest(actual, expected_hash):
        raise VaultIntegrityError(
            f"document {doc} has SHA-256 {_hex(actual)}, not the expected on-chain hash {_hex(expected_hash)}",
            field="expected_hash",
            details={"documentId": doc, "contentHash": _hex(actual), "expectedHash": _hex(expected_hash)},
        )
    return plaintext


def _checked_readers(readers: object) -> dict[int, bytes]:
    if not isinstance(readers, Mapping):
        raise InvalidInput("readers must map party ids to X25519 public keys", field="readers")
    if not 1 <= len(readers) <= MAX_RECIPIENTS:
        raise InvalidInput(
            f"a document has 1 to {MAX_RECIPIENTS} readers, not {len(readers)}",
            field="readers",
            details={"limit": MAX_RECIPIENTS},
        )
    out: dict[int, bytes] = {}
    for party, public in readers.items():
        p = _party(party, "readers")
        out[p] = _public_key_arg(public, f"readers[{p}]")
    return out


def seal(
    plaintext: bytes,
    owner: int,
    readers: Mapping[int, bytes],
    document_id: str | None = None,
    *,
    max_document_bytes: int = DEFAULT_MAX_DOCUMENT_BYTES,
    _random: Random = os.urandom,
) -> tuple[Envelope, bytes]:
    """Encrypt ``plaintext`` for ``readers`` (party id → X25519 public key); return envelope and blob.

    Pure: nothing is stored. ``owner`` must be one of ``readers``. The blob is the AES-256-GCM
    ciphertext followed by its 16-byte tag. A client can seal locally and upload with
    :meth:`Vault.put_sealed`, so that the service never sees the plaintext.
    """
    data = _plaintext(plaintext, min(max_document_bytes, MAX_DOCUMENT_BYTES_CEILING))
    owner = _party(owner, "owner")
    keys = _checked_readers(readers)
    if owner not in keys:
        raise InvalidInput(
            f"the owner (party {owner}) must be one of the readers: include its public key", field="readers"
        )
    document_id = new_document_id() if document_id is None else _document_id(document_id)
    content_hash = hash_bytes(data, HashAlgorithm.SHA256)
    document_key = _random(KEY_LENGTH)
    nonce = _random(NONCE_LENGTH)
    blob = AESGCM(document_key).encrypt(nonce, data, document_id.encode("ascii") + content_hash)
    recipients = tuple(_wrap(document_key, document_id, p, keys[p], _random, f"readers[{p}]") for p in sorted(keys))
    return Envelope(document_id, content_hash, nonce, owner, recipients), blob


def open_sealed(
    envelope: Envelope,
    ciphertext: bytes,
    party: int,
    private_key: X25519PrivateKey | ReaderKey,
    expected_hash: bytes | str,
) -> bytes:
    """Decrypt a document as ``party`` and check it against ``expected_hash`` (the on-chain hash)."""
    expected = _expected_hash(expected_hash)
    document_key = unwrap_document_key(envelope, party, private_key)
    return _decrypt(envelope, _bytes(ciphertext, "ciphertext"), document_key, expected)


def add_reader(
    envelope: Envelope,
    granter_party: int,
    granter_key: X25519PrivateKey | ReaderKey,
    reader: int,
    reader_public: bytes,
    *,
    _random: Random = os.urandom,
) -> Envelope:
    """The envelope with the document key also wrapped for ``reader``, by an existing reader.

    The granter proves it is a reader by unwrapping the document key with its own private key.
    Granting to a current reader with the same public key returns the envelope unchanged; with a
    different key it is a :class:`~ledger.errors.Conflict` (the owner re-wraps with :meth:`Vault.rotate`).
    """
    granter_party = _party(granter_party, "granter_party")
    reader = _party(reader, "reader")
    public = _public_key_arg(reader_public, "reader_public")
    if envelope.recipient(granter_party) is None:
        raise PermissionDenied(
            f"party {granter_party} is not a reader of document {envelope.document_id} and cannot grant access",
            field="granter_party",
        )
    document_key = unwrap_document_key(
        envelope, granter_party, granter_key, party_field="granter_party", key_field="granter_key"
    )
    existing = envelope.recipient(reader)
    if existing is not None:
        if hmac.compare_digest(existing.public_key, public):
            return envelope
        raise Conflict(
            f"party {reader} already reads document {envelope.document_id} with another key; "
            "the owner re-wraps the document for a new key with rotate",
            field="reader_public",
        )
    if len(envelope.recipients) >= MAX_RECIPIENTS:
        raise Conflict(
            f"document {envelope.document_id} already has {MAX_RECIPIENTS} readers, the most allowed",
            field="reader",
            details={"limit": MAX_RECIPIENTS},
        )
    added = _wrap(document_key, envelope.document_id, reader, public, _random, "reader_public")
    recipients = tuple(sorted((*envelope.recipients, added), key=lambda r: r.party_id))
    return Envelope(envelope.document_id, envelope.content_hash, envelope.nonce, envelope.owner, recipients)


# --- storage ------------------------------------------------------------------------------------


class Storage(Protocol):
    """Where envelopes and ciphertext blobs live, by document id (and, for blobs, blob id).

    The envelope is the commit point: a document exists when its envelope does. Implementations must
    make every put atomic (a reader sees the old bytes or the new bytes, never a mixture or a prefix),
    durable when it returns, and :meth:`put_envelope` a compare-and-swap. Ids are checked by the vault
    (``[A-Za-z0-9][A-Za-z0-9_-]{0,127}``) and safe as file names. Failures of the medium raise
    :class:`VaultStorageError`.
    """

    def exists(self, document_id: str) -> bool:
        """Whether the document's envelope exists."""
        ...

    def get_envelope(self, document_id: str) -> bytes:
        """The envelope's bytes; :class:`~ledger.errors.NotFound` if there is none."""
        ...

    def put_envelope(self, document_id: str, data: bytes, *, expected: bytes | None) -> None:
        """Write the envelope atomically, only if the current one is ``expected``.

        ``expected=None`` creates (:class:`~ledger.errors.Conflict` if an envelope exists); otherwise
        the current bytes must equal ``expected`` (:class:`~ledger.errors.Conflict` if they differ,
        :class:`~ledger.errors.NotFound` if there is none).
        """
        ...

    def get_blob(self, document_id: str, blob_id: str) -> bytes:
        """The blob's bytes; :class:`~ledger.errors.NotFound` if there is none."""
        ...

    def put_blob(self, document_id: str, blob_id: str, data: bytes) -> None:
        """Write a blob atomically (blob ids are unique; a blob is never rewritten)."""
        ...

    def delete_blob(self, document_id: str, blob_id: str) -> None:
        """Remove a blob; no error if it is already gone."""
        ...

    def delete(self, document_id: str) -> None:
        """Remove the envelope and every blob of the document; :class:`~ledger.errors.NotFound` if none."""
        ...


def _unknown_document(document_id: str) -> NotFound:
    return NotFound(f"no document {document_id} in the vault", field="document_id")


class MemoryStorage:
    """A :class:`Storage` in a dictionary (tests, and a reference for writing other backends)."""

    def __init__(self) -> None:
        self.envelopes: dict[str, bytes] = {}
        self.blobs: dict[tuple[str, str], bytes] = {}
        self._lock = threading.Lock()

    def exists(self, document_id: str) -> bool:
        return document_id in self.envelopes

    def get_envelope(self, document_id: str) -> bytes:
        try:
            return self.envelopes[document_id]
        except KeyError:
            raise _unknown_document(document_id) from None

    def put_envelope(self, document_id: str, data: bytes, *, expected: bytes | None) -> None:
        with self._lock:
            current = self.envelopes.get(document_id)
            _check_expected(document_id, current, expected)
            self.envelopes[document_id] = bytes(data)

    def get_blob(self, document_id: str, blob_id: str) -> bytes:
        try:
            return self.blobs[(document_id, blob_id)]
        except KeyError:
            raise NotFound(f"no blob {blob_id} of document {document_id}", field="blob_id") from None

    def put_blob(self, document_id: str, blob_id: str, data: bytes) -> None:
        with self._lock:
            self.blobs[(document_id, blob_id)] = bytes(data)

    def delete_blob(self, document_id: str, blob_id: str) -> None:
        with self._lock:
            self.blobs.pop((document_id, blob_id), None)

    def delete(self, document_id: str) -> None:
        with self._lock:
            if self.envelopes.pop(document_id, None) is None:
                raise _unknown_document(document_id)
            for key in [k for k in self.blobs if k[0] == document_id]:
                del self.blobs[key]


def _check_expected(document_id: str, current: bytes | None, expected: bytes | None) -> None:
    if expected is None:
        if current is not None:
            raise Conflict(f"document {document_id} already exists", field="document_id")
    elif current is None:
        raise _unknown_document(document_id)
    elif not hmac.compare_digest(current, expected):
        raise Conflict(f"document {document_id} changed while it was being updated; try again", field="document_id")


def _write_temp(path: Path, data: bytes) -> Path:
    """Write ``data`` to a fresh 0600 file beside ``path`` and fsync it; return its path."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        with suppress(OSError):
            os.unlink(tmp)
        raise
    return tmp


def _atomic_write(path: Path, data: bytes) -> None:
    """Write ``path`` so that it holds the old bytes or all the new bytes: temp file, fsync, rename."""
    tmp = _write_temp(path, data)
    try:
        os.replace(tmp, path)
    except BaseException:
        with suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:  # platforms that cannot open directories
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _mkdir_private(path: Path) -> None:
    try:
        path.mkdir(mode=0o700)
    except FileExistsError:
        return
    os.chmod(path, 0o700)  # mkdir's mode is filtered by the umask


class LocalStorage:
    """A :class:`Storage` on the local disk, by default ``<data_dir>/vault``.

    Layout: ``<root>/<documentId>/envelope.json``, ``<root>/<documentId>/<blobId>.blob`` and a lock
    file ``<root>/<documentId>/.lock``. Directories are created 0700 and files 0600; every write goes
    to a temporary file that is fsynced and then renamed over the target, and the directory is
    fsynced after. Envelope updates hold an exclusive ``flock`` on the document's lock file.
    """

    ENVELOPE = "envelope.json"
    LOCK = ".lock"

    def __init__(self, root: Path):
        self.root = Path(root)

    @classmethod
    def in_data_dir(cls, data_dir: Path) -> LocalStorage:
        return cls(Path(data_dir) / "vault")

    def _dir(self, document_id: str) -> Path:
        return self.root / _document_id(document_id)

    def _blob_path(self, document_id: str, blob_id: str) -> Path:
        return self._dir(document_id) / f"{_document_id(blob_id, 'blob_id')}.blob"

    def _ensure_dir(self, document_id: str) -> Path:
        directory = self._dir(document_id)
        self.root.parent.mkdir(parents=True, exist_ok=True)
        _mkdir_private(self.root)
        _mkdir_private(directory)
        return directory

    @contextmanager
    def _locked(self, directory: Path) -> Iterator[None]:
        fd = os.open(directory / self.LOCK, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    @contextmanager
    def _io(self, action: str, document_id: str) -> Iterator[None]:
        try:
            yield
        except OSError as exc:
            raise VaultStorageError(
                f"vault storage could not {action} for document {document_id} ({exc.strerror or exc})",
                details={"documentId": document_id},
            ) from exc

    def exists(self, document_id: str) -> bool:
        with self._io("check the envelope", document_id):
            return (self._dir(document_id) / self.ENVELOPE).is_file()

    def get_envelope(self, document_id: str) -> bytes:
        path = self._dir(document_id) / self.ENVELOPE
        with self._io("read the envelope", document_id):
            try:
                return path.read_bytes()
            except FileNotFoundError:
                raise _unknown_document(document_id) from None

    def put_envelope(self, document_id: str, data: bytes, *, expected: bytes | None) -> None:
        with self._io("write the envelope", document_id):
            directory = self._ensure_dir(document_id)
            path = directory / self.ENVELOPE
            with self._locked(directory):
                try:
                    current: bytes | None = path.read_bytes()
                except FileNotFoundError:
                    current = None
                _check_expected(document_id, current, expected)
                _atomic_write(path, bytes(data))

    def get_blob(self, document_id: str, blob_id: str) -> bytes:
        path = self._blob_path(document_id, blob_id)
        with self._io("read the ciphertext", document_id):
            try:
                return path.read_bytes()
            except FileNotFoundError:
                raise NotFound(f"no blob {blob_id} of document {document_id}", field="blob_id") from None

    def put_blob(self, document_id: str, blob_id: str, data: bytes) -> None:
        path = self._blob_path(document_id, blob_id)
        with self._io("write the ciphertext", document_id):
            self._ensure_dir(document_id)
            _atomic_write(path, bytes(data))

    def delete_blob(self, document_id: str, blob_id: str) -> None:
        path = self._blob_path(document_id, blob_id)
        with self._io("delete the ciphertext", document_id):
            path.unlink(missing_ok=True)
            _fsync_dir(path.parent)

    def delete(self, document_id: str) -> None:
        directory = self._dir(document_id)
        with self._io("delete the document", document_id):
            if not (directory / self.ENVELOPE).is_file():
                raise _unknown_document(document_id)
            with self._locked(directory):
                (directory / self.ENVELOPE).unlink(missing_ok=True)  # the commit point goes first
                _fsync_dir(directory)
                for blob in directory.glob("*.blob"):
                    blob.unlink(missing_ok=True)
            with suppress(OSError):
                (directory / self.LOCK).unlink()
                directory.rmdir()


# --- the vault ----------------------------------------------------------------------------------


class Vault:
    """Store, share, revoke, rotate and read encrypted documents kept by a :class:`Storage`.

    The vault trusts its caller for *who is asking* (``by_party`` in :meth:`revoke` and
    :meth:`delete`, and whether the party is active on chain); everything else is enforced with
    keys: only a holder of a reader key can unwrap, grant or read.
    """

    def __init__(
        self,
        storage: Storage,
        *,
        max_document_bytes: int = DEFAULT_MAX_DOCUMENT_BYTES,
        random: Random = os.urandom,
    ):
        if isinstance(max_document_bytes, bool) or not isinstance(max_document_bytes, int):
            raise InvalidInput("max_document_bytes must be an integer", field="max_document_bytes")
        if not 1 <= max_document_bytes <= MAX_DOCUMENT_BYTES_CEILING:
            raise InvalidInput(
                f"max_document_bytes must be from 1 to {MAX_DOCUMENT_BYTES_CEILING}", field="max_document_bytes"
            )
        self.storage = storage
        self.max_document_bytes = max_document_bytes
        self._random = random

    # -- reading state

    def _load(self, document_id: str) -> tuple[bytes, Envelope]:
        document_id = _document_id(document_id)
        raw = self.storage.get_envelope(document_id)
        envelope = Envelope.from_bytes(raw)
        if envelope.document_id != document_id:
            raise VaultIntegrityError(
                f"the envelope stored as {document_id} is for document {envelope.document_id}: it was moved",
                field="envelope.documentId",
            )
        return raw, envelope

    def exists(self, document_id: str) -> bool:
        return self.storage.exists(_document_id(document_id))

    def envelope(self, document_id: str) -> Envelope:
        """The document's envelope (public data: hashes, public keys, wrapped keys)."""
        return self._load(document_id)[1]

    def ciphertext(self, document_id: str) -> bytes:
        """The document's blob, for a reader who decrypts on its own machine (:func:`open_sealed`)."""
        return self._blob(self.envelope(document_id))

    def _blob(self, envelope: Envelope) -> bytes:
        try:
            blob = self.storage.get_blob(envelope.document_id, envelope.blob_id)
        except NotFound:
            raise VaultIntegrityError(
                f"the ciphertext of document {envelope.document_id} is missing from storage", field="ciphertext"
            ) from None
        if len(blob) > MAX_DOCUMENT_BYTES_CEILING + TAG_LENGTH:
            raise VaultIntegrityError(
                f"the ciphertext of document {envelope.document_id} is larger than any document", field="ciphertext"
            )
        return blob

    # -- operations

    def store(
        self,
        plaintext: bytes,
        owner: int,
        readers: Mapping[int, bytes],
        document_id: str | None = None,
    ) -> Envelope:
        """Encrypt and store a document for ``readers`` (which must include ``owner``).

        Register ``envelope.content_hash`` on chain. :class:`~ledger.errors.Conflict` if
        ``document_id`` is taken.
        """
        if document_id is not None and self.storage.exists(_document_id(document_id)):
            raise Conflict(f"document {document_id} already exists", field="document_id")
        envelope, blob = seal(
            plaintext,
            owner,
            readers,
            document_id,
            max_document_bytes=self.max_document_bytes,
            _random=self._random,
        )
        self._commit_new(envelope, blob)
        return envelope

    def put_sealed(self, envelope: Envelope, ciphertext: bytes) -> Envelope:
        """Store a document a client sealed itself (:func:`seal`): the service never sees its plaintext.

        Only the shapes can be checked here; each reader's :meth:`read` authenticates the content.
        """
        if not isinstance(envelope, Envelope):
            raise InvalidInput("envelope must be an Envelope (parse JSON with Envelope.from_json)", field="envelope")
        envelope = Envelope.from_json(envelope.to_json())  # re-check the invariants
        blob = _bytes(ciphertext, "ciphertext")
        if len(blob) < TAG_LENGTH:
            raise InvalidInput("the ciphertext is shorter than a GCM tag", field="ciphertext")
        if len(blob) - TAG_LENGTH > self.max_document_bytes:
            raise PayloadTooLarge(
                f"the document has {len(blob) - TAG_LENGTH} bytes; the vault accepts at most {self.max_document_bytes}",
                field="ciphertext",
                details={"limit": self.max_document_bytes},
            )
        if self.storage.exists(envelope.document_id):
            raise Conflict(f"document {envelope.document_id} already exists", field="document_id")
        self._commit_new(envelope, blob)
        return envelope

    def _commit_new(self, envelope: Envelope, blob: bytes) -> None:
        # Blob first, envelope last: a crash in between leaves an orphan blob, never a half document.
        self.storage.put_blob(envelope.document_id, envelope.blob_id, blob)
        try:
            self.storage.put_envelope(envelope.document_id, envelope.to_bytes(), expected=None)
        except BaseException:
            with suppress(Exception):
                self.storage.delete_blob(envelope.document_id, envelope.blob_id)
            raise

    def read(
        self,
        document_id: str,
        party: int,
        private_key: X25519PrivateKey | ReaderKey,
        expected_hash: bytes | str,
    ) -> bytes:
        """Decrypt a document as ``party`` and check SHA-256(plaintext) against the envelope and
        ``expected_hash`` (the hash registered on chain)."""
        expected = _expected_hash(expected_hash)
        party = _party(party, "party")
        _, envelope = self._load(document_id)
        document_key = unwrap_document_key(envelope, party, private_key)
        return _decrypt(envelope, self._blob(envelope), document_key, expected)

    def grant(
        self,
        document_id: str,
        granter_party: int,
        granter_key: X25519PrivateKey | ReaderKey,
        reader: int,
        reader_public: bytes,
    ) -> Envelope:
        """Give ``reader`` access: an existing reader unwraps with its key and wraps for the new one."""
        raw, envelope = self._load(document_id)
        updated = add_reader(envelope, granter_party, granter_key, reader, reader_public, _random=self._random)
        if updated is not envelope:
            self.storage.put_envelope(envelope.document_id, updated.to_bytes(), expected=raw)
        return updated

    def revoke(self, document_id: str, by_party: int, reader: int) -> Envelope:
        """Remove ``reader``'s wrapped key (owner only).

        This cannot take back a document key the reader already unwrapped, nor a copy of the
        plaintext; call :meth:`rotate` to re-encrypt under a new key for the remaining readers.
        """
        by_party = _party(by_party, "by_party")
        reader = _party(reader, "reader")
        raw, envelope = self._load(document_id)
        if by_party != envelope.owner:
            raise PermissionDenied(
                f"only the owner (party {envelope.owner}) can revoke access to document {envelope.document_id}",
                field="by_party",
            )
        if reader == envelope.owner:
            raise InvalidInput("the owner cannot revoke its own access", field="reader")
        if envelope.recipient(reader) is None:
            raise NotFound(f"party {reader} is not a reader of document {envelope.document_id}", field="reader")
        recipients = tuple(r for r in envelope.recipients if r.party_id != reader)
        updated = Envelope(envelope.document_id, envelope.content_hash, envelope.nonce, envelope.owner, recipients)
        self.storage.put_envelope(envelope.document_id, updated.to_bytes(), expected=raw)
        return updated

    def rotate(
        self,
        document_id: str,
        owner_key: X25519PrivateKey | ReaderKey,
        *,
        new_keys: Mapping[int, bytes] | None = None,
        expected_hash: bytes | str | None = None,
    ) -> Envelope:
        """Re-encrypt under a new document key and nonce for the current readers (owner only).

        ``new_keys`` replaces the public keys of current readers (after a party's key was lost or
        stolen); ``owner_key`` is the owner's *current* key. The content hash, and so the on-chain
        record, is unchanged; the old blob is deleted once the new envelope is in place.
        """
        raw, envelope = self._load(document_id)
        document_key = unwrap_document_key(
            envelope, envelope.owner, owner_key, party_field="owner", key_field="owner_key"
        )
        expected = envelope.content_hash if expected_hash is None else _expected_hash(expected_hash)
        plaintext = _decrypt(envelope, self._blob(envelope), document_key, expected)
        keys = {r.party_id: r.public_key for r in envelope.recipients}
        if new_keys is not None:
            if not isinstance(new_keys, Mapping):
                raise InvalidInput("new_keys must map party ids to X25519 public keys", field="new_keys")
            for party, public in new_keys.items():
                p = _party(party, "new_keys")
                if p not in keys:
                    raise InvalidInput(
                        f"party {p} is not a reader of document {envelope.document_id}; grant it access instead",
                        field=f"new_keys[{p}]",
                    )
                keys[p] = _public_key_arg(public, f"new_keys[{p}]")
        rotated, blob = seal(
            plaintext,
            envelope.owner,
            keys,
            envelope.document_id,
            max_document_bytes=MAX_DOCUMENT_BYTES_CEILING,
            _random=self._random,
        )
        self.storage.put_blob(rotated.document_id, rotated.blob_id, blob)
        try:
            self.storage.put_envelope(rotated.document_id, rotated.to_bytes(), expected=raw)
        except BaseException:
            with suppress(Exception):
                self.storage.delete_blob(rotated.document_id, rotated.blob_id)
            raise
        with suppress(LedgerError):  # an orphan old blob is harmless: its key is no longer wrapped
            self.storage.delete_blob(envelope.document_id, envelope.blob_id)
        return rotated

    def delete(self, document_id: str, by_party: int) -> None:
        """Remove the document and its ciphertext (owner only). The on-chain hash stays, by design."""
        by_party = _party(by_party, "by_party")
        _, envelope = self._load(document_id)
        if by_party != envelope.owner:
            raise PermissionDenied(
                f"only the owner (party {envelope.owner}) can delete document {envelope.document_id}",
                field="by_party",
            )
        self.storage.delete(envelope.document_id)
