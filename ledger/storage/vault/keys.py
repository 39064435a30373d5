"""Reader keys: a party's X25519 key for reading documents — derived from its Ethereum key, or kept in a reader
keystore of its own (scrypt + AES-256-GCM, beside its eth keystore) — and the checks of public and private
key arguments.

The vault holds no keys: these are used on the reader's machine (the CLI), or here only for the one request a
reader sends its own key with. A keystore is written complete or not at all, never over an existing file; every
failure to read one is a :class:`~ledger.errors.KeystoreError`.
"""

from __future__ import annotations

import hmac
import json
import os
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TypeGuard

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import (
    X25519PrivateKey,
    X25519PublicKey,
)
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from ledger.errors import InvalidInput, KeystoreError
from ledger.storage.files import MIB, read_bounded_text
from ledger.storage.vault.envelope import (
    CIPHER,
    HEX_PATTERN,
    NONCE_LENGTH,
    PUBLIC_KEY_LENGTH,
    TAG_LENGTH,
    bytes_arg,
    to_hex,
)
from ledger.storage.vault.storage import fsync_dir, write_temp_file

# --- constants (part of the documented format) --------------------------------------------------

READER_KEY_INFO = b"qianhai-ip-ledger/vault/x25519/v1"

READER_KEYSTORE_FORMAT = "qianhai-ip-ledger/vault-reader-keystore"
READER_KEYSTORE_VERSION = 1
READER_KEYSTORE_AAD_PREFIX = b"qianhai-ip-ledger/vault/reader-keystore/v1"
READER_KEYSTORE_SUFFIX = ".x25519.json"
DEFAULT_SCRYPT_N = 2**18  # the same cost as eth-account's scrypt keystores
MIN_SCRYPT_N = 2**14
MAX_SCRYPT_N = 2**20
SCRYPT_R = 8
SCRYPT_P = 1


# --- key arguments ------------------------------------------------------------------------------


def public_key_arg(value: object, field: str) -> bytes:
    """A reader's X25519 public key as 32 raw bytes (bytes, ``X25519PublicKey`` or hex text)."""
    if isinstance(value, X25519PublicKey):
        return raw_public_key(value)
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


def private_key_arg(value: object, field: str) -> X25519PrivateKey:
    """The X25519 private key of a ``ReaderKey`` or an ``X25519PrivateKey``, or :class:`~ledger.errors.InvalidInput`."""
    if isinstance(value, ReaderKey):
        return value.private_key
    if isinstance(value, X25519PrivateKey):
        return value
    raise InvalidInput(
        f"{field} must be an X25519 private key (X25519PrivateKey or ReaderKey), not {type(value).__name__}",
        field=field,
    )


def raw_public_key(key: X25519PublicKey) -> bytes:
    """The 32 raw bytes of an X25519 public key."""
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def public_key_bytes(key: X25519PrivateKey | ReaderKey) -> bytes:
    """The 32-byte raw X25519 public key of a private reader key (what other parties grant to)."""
    return raw_public_key(private_key_arg(key, "key").public_key())


# --- reader keys --------------------------------------------------------------------------------


def derive_reader_key(eth_private_key: bytes) -> X25519PrivateKey:
    """The party's X25519 document key, derived from its 32-byte Ethereum (secp256k1) private key.

    ``HKDF-SHA256(ikm = eth_private_key, salt = none (32 zero bytes), info =
    "qianhai-ip-ledger/vault/x25519/v1", length = 32)``, used as an X25519 private scalar (clamped as
    RFC 7748 says). Anyone who can open the party's eth keystore can therefore recover the document
    key, and nothing else needs backing up; the trade-off is that whoever steals the account key can
    also read the party's documents (see docs/vault.md for the alternative, a separate reader keystore).
    """
    key = bytes_arg(eth_private_key, "eth_private_key")
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
        raw = bytes_arg(raw, "private_key")
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
        return raw_public_key(self.private_key.public_key())

    def private_bytes(self) -> bytes:
        """The 32-byte raw private key (handle with care)."""
        return self.private_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())

    def __repr__(self) -> str:
        return f"ReaderKey(public={to_hex(self.public_bytes())})"


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
    key = private_key_arg(private_key, "private_key")
    if not isinstance(password, str) or not password:
        raise KeystoreError("a keystore password must not be empty", field="password")
    if scrypt_n & (scrypt_n - 1) or not MIN_SCRYPT_N <= scrypt_n <= MAX_SCRYPT_N:
        raise KeystoreError(f"scrypt_n must be a power of two from 2**14 to 2**20, not {scrypt_n}", field="scrypt_n")
    path = Path(path)
    if path.exists():
        raise KeystoreError(f"{path} already exists; refusing to overwrite a keystore", field="keystore")
    public = raw_public_key(key.public_key())
    salt = os.urandom(32)
    nonce = os.urandom(NONCE_LENGTH)
    secret = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    ciphertext = AESGCM(_scrypt(password, salt, scrypt_n, SCRYPT_R, SCRYPT_P)).encrypt(
        nonce, secret, _keystore_aad(public)
    )
    document = {
        "format": READER_KEYSTORE_FORMAT,
        "version": READER_KEYSTORE_VERSION,
        "publicKey": to_hex(public),
        "kdf": "scrypt",
        "kdfparams": {"n": scrypt_n, "r": SCRYPT_R, "p": SCRYPT_P, "dklen": 32, "salt": to_hex(salt)},
        "cipher": CIPHER,
        "nonce": to_hex(nonce),
        "ciphertext": to_hex(ciphertext),
    }
    data = json.dumps(document, indent=2).encode("utf-8") + b"\n"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = write_temp_file(path, data)
        try:
            os.link(tmp, path)
        except FileExistsError:
            raise KeystoreError(f"{path} already exists; refusing to overwrite a keystore", field="keystore") from None
        finally:
            with suppress(FileNotFoundError):
                os.unlink(tmp)
        fsync_dir(path.parent)
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
        data = json.loads(read_bounded_text(path, 1 * MIB, field="keystore", what="a reader keystore"))
    except FileNotFoundError:
        raise KeystoreError(f"reader keystore {path} not found", field="keystore") from None
    except InvalidInput as exc:
        raise KeystoreError(exc.message, field="keystore") from None
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
    if not hmac.compare_digest(raw_public_key(key.public_key()), public):
        raise bad("the decrypted key does not match publicKey")
    return key


def _keystore_hex(value: object, length: int | None) -> bytes:
    if not isinstance(value, str) or not HEX_PATTERN.fullmatch(value) or len(value) % 2:
        raise ValueError("a byte field is not 0x-prefixed lower-case hex")
    raw = bytes.fromhex(value[2:])
    if length is not None and len(raw) != length:
        raise ValueError(f"a byte field has {len(raw)} bytes, expected {length}")
    return raw
