"""Content hashing: the algorithms, streaming digests, hash parsing, salts and the on-chain bindings.

Pure functions only: nothing here touches the chain, the network or any file it was not handed.
Every refusal is an :class:`~ledger.errors.InvalidInput` naming the offending field. Canonical JSON is in
:mod:`ledger.domain.canonical_json`, the evidence metadata schema in :mod:`ledger.domain.metadata`.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable
from os import PathLike
from typing import BinaryIO, Protocol

from cryptography.hazmat.primitives import hashes

from ledger.domain.codes import HashAlgorithm
from ledger.errors import InvalidInput, PayloadTooLarge

__all__ = [
    "HASH_LENGTH",
    "MAX_PARTY_ID",
    "PRIVATE_BINDING_DOMAIN",
    "PUBLIC_BINDING_DOMAIN",
    "SALT_LENGTH",
    "HashAlgorithm",
    "Hasher",
    "hash_bytes",
    "hash_file",
    "hash_stream",
    "new_hasher",
    "new_salt",
    "parse_algorithm",
    "parse_hash",
    "private_binding",
    "public_binding",
]

HASH_LENGTH = 32
SALT_LENGTH = 32
#: Domain of a public registration's binding (docs/certificate.md "Bindings"): 19 bytes, ASCII then one zero byte.
PUBLIC_BINDING_DOMAIN = b"ipledger:public:v2\x00"
#: Domain of a private registration's binding: 20 bytes, ASCII then one zero byte.
PRIVATE_BINDING_DOMAIN = b"ipledger:private:v2\x00"
#: Party ids are uint24 on chain.
MAX_PARTY_ID = 2**24 - 1


# --- algorithms -------------------------------------------------------------------------------


_ALGORITHM_NAMES = {
    "sha256": HashAlgorithm.SHA256,
    "sha-256": HashAlgorithm.SHA256,
    "sm3": HashAlgorithm.SM3,
}


def parse_algorithm(name: str) -> HashAlgorithm:
    """Parse ``sha256`` / ``sha-256`` / ``sm3`` (any case, surrounding spaces ignored)."""
    if isinstance(name, str):
        alg = _ALGORITHM_NAMES.get(name.strip().lower())
        if alg is not None:
            return alg
    raise InvalidInput(
        f"unknown hash algorithm {name!r}; expected one of sha256, sha-256, sm3",
        field="algorithm",
    )


class Hasher(Protocol):
    """The part of the ``hashlib`` object interface the ledger relies on."""

    @property
    def digest_size(self) -> int: ...

    def update(self, data: bytes | bytearray | memoryview, /) -> None: ...

    def digest(self) -> bytes: ...

    def hexdigest(self) -> str: ...


def _hashlib_has_sm3() -> bool:
    try:
        hashlib.new("sm3")
    except ValueError:
        return False
    return True


_HASHLIB_HAS_SM3 = _hashlib_has_sm3()


class _CryptographySM3:
    """SM3 from ``cryptography``, shaped like a hashlib object (for OpenSSL builds without sm3)."""

    name = "sm3"
    digest_size = 32
    block_size = 64

    def __init__(self, data: bytes = b"", *, _ctx: hashes.Hash | None = None) -> None:
        self._ctx = _ctx if _ctx is not None else hashes.Hash(hashes.SM3())
        if data:
            self._ctx.update(data)

    def update(self, data: bytes | bytearray | memoryview, /) -> None:
        self._ctx.update(data)

    def copy(self) -> _CryptographySM3:
        return _CryptographySM3(_ctx=self._ctx.copy())

    def digest(self) -> bytes:
        # finalize() ends a context; hashlib's digest() does not, so finalise a copy.
        return self._ctx.copy().finalize()

    def hexdigest(self) -> str:
        return self.digest().hex()


def _algorithm(alg: HashAlgorithm | int | str) -> HashAlgorithm:
    if isinstance(alg, str):
        return parse_algorithm(alg)
    try:
        chosen = HashAlgorithm(alg)
    except ValueError:
        chosen = HashAlgorithm.NONE
    if chosen is HashAlgorithm.NONE:  # the contract's "unset": no content is hashed with it
        raise InvalidInput(f"unknown hash algorithm {alg!r}", field="algorithm")
    return chosen


def new_hasher(alg: HashAlgorithm) -> Hasher:
    """A fresh hashlib-like object for ``alg`` (a name such as ``"sm3"`` is accepted too)."""
    alg = _algorithm(alg)
    if alg is HashAlgorithm.SHA256:
        return hashlib.sha256()
    if _HASHLIB_HAS_SM3:
        return hashlib.new("sm3")
    return _CryptographySM3()


def hash_bytes(data: bytes | bytearray | memoryview, alg: HashAlgorithm) -> bytes:
    """The ``alg`` digest of ``data``."""
    hasher = new_hasher(alg)
    hasher.update(data)
    return hasher.digest()


def hash_stream(
    fileobj: BinaryIO,
    alg: HashAlgorithm,
    chunk_size: int = 1 << 20,
    limit: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> tuple[bytes, int]:
    """Hash a binary stream to its end; return ``(digest, number of bytes read)``.

    Reads into one reusable buffer (no per-chunk allocation), so it runs at the speed of bare
    hashlib. With ``limit``, stops as soon as more than ``limit`` bytes have been read and raises
    :class:`~ledger.errors.PayloadTooLarge` (field ``file``). With ``progress``, calls it with the
    number of bytes of each chunk once that chunk is hashed (a front door draws a progress bar with it).
    """
    if chunk_size <= 0:
        raise ValueError("chunk_size must be positive")
    if limit is not None and limit < 0:
        raise ValueError("limit must not be negative")
    hasher = new_hasher(alg)
    update = hasher.update
    total = 0
    readinto = getattr(fileobj, "readinto", None)
    if readinto is not None:
        buffer = bytearray(chunk_size)
        view = memoryview(buffer)
        while n := readinto(view):
            total += n
            if limit is not None and total > limit:
                raise _too_large(limit)
            update(view[:n])
            if progress is not None:
                progress(n)
    else:
        read = fileobj.read
        while chunk := read(chunk_size):
            total += len(chunk)
            if limit is not None and total > limit:
                raise _too_large(limit)
            update(chunk)
            if progress is not None:
                progress(len(chunk))
    return hasher.digest(), total


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"file is larger than the limit of {limit} bytes",
        field="file",
        details={"limit": limit},
    )


def hash_file(path: str | PathLike[str], alg: HashAlgorithm, progress: Callable[[int], None] | None = None) -> bytes:
    """The ``alg`` digest of the file at ``path``; ``progress`` as in :func:`hash_stream`."""
    with open(path, "rb", buffering=0) as f:
        digest, _ = hash_stream(f, alg, progress=progress)
    return digest


# --- parsing hashes ---------------------------------------------------------------------------

_HEX64 = re.compile(r"[0-9a-fA-F]{64}")
_NON_HEX = re.compile(r"[^0-9a-fA-F]")


def parse_hash(value: str, field: str = "content_hash") -> bytes:
    """Parse a 32-byte hash written as 64 hex characters, with or without ``0x`` (any case).

    Surrounding whitespace is ignored. The all-zero hash is refused: it is the chain's "none".
    """
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be a string of 64 hex characters", field=field)
    text = value.strip()
    if text[:2] in ("0x", "0X"):
        text = text[2:]
    if not text:
        raise InvalidInput(f"{field} is empty; expected 64 hex characters (32 bytes)", field=field)
    bad = _NON_HEX.search(text)
    if bad is not None:
        raise InvalidInput(
            f"{field} contains {bad.group()!r} at position {bad.start()}, which is not a hex digit",
            field=field,
        )
    if not _HEX64.fullmatch(text):
        raise InvalidInput(
            f"{field} has {len(text)} hex characters; expected 64 (32 bytes)",
            field=field,
            details={"length": len(text)},
        )
    digest = bytes.fromhex(text)
    if digest == bytes(HASH_LENGTH):
        raise InvalidInput(f"{field} is all zeros, which is not a hash of anything", field=field)
    return digest


# --- private (salted) registration ------------------------------------------------------------


def new_salt() -> bytes:
    """32 bytes from the operating system's CSPRNG, for :func:`private_binding`."""
    return secrets.token_bytes(SALT_LENGTH)


def _party_word(party_id: int) -> bytes:
    if isinstance(party_id, bool) or not isinstance(party_id, int) or not 1 <= party_id <= MAX_PARTY_ID:
        raise InvalidInput(f"a party id is an integer in 1..{MAX_PARTY_ID}", field="party_id")
    return party_id.to_bytes(32, "big")


def _content(content_hash: bytes) -> bytes:
    if not isinstance(content_hash, (bytes, bytearray)) or len(content_hash) != HASH_LENGTH:
        raise InvalidInput(f"content_hash must be {HASH_LENGTH} bytes", field="content_hash")
    return bytes(content_hash)


def public_binding(content_hash: bytes, party_id: int, alg: HashAlgorithm) -> bytes:
    """What a public registration records on chain: the content hash bound to the registering party.

    Exactly ``ALG(domain || partyId || content_hash)``, 83 bytes in, hashed with the algorithm of the
    content hash:

    ======  ======  ==========================================================
    offset  length  bytes
    ======  ======  ==========================================================
    0       19      ``b"ipledger:public:v2\\x00"`` (ASCII, then one zero byte)
    19      32      ``party_id``, unsigned big-endian
    51      32      ``content_hash``
    ======  ======  ==========================================================

    Anyone holding the content hash can compute the binding of every party and find its records; a
    binding copied from the pending pool opens only for the party id inside it, and without the
    content hash no binding can be made for another party.
    """
    alg = _algorithm(alg)
    return hash_bytes(PUBLIC_BINDING_DOMAIN + _party_word(party_id) + _content(content_hash), alg)


def private_binding(content_hash: bytes, party_id: int, salt: bytes, alg: HashAlgorithm) -> bytes:
    """What a private registration records on chain instead of :func:`public_binding`.

    Exactly ``ALG(domain || partyId || salt || content_hash)``, 116 bytes in:

    ======  ======  ==========================================================
    offset  length  bytes
    ======  ======  ==========================================================
    0       20      ``b"ipledger:private:v2\\x00"`` (ASCII, then one zero byte)
    20      32      ``party_id``, unsigned big-endian
    52      32      ``salt``
    84      32      ``content_hash``
    ======  ======  ==========================================================

    Every input after the domain is fixed-length, so the layout is unambiguous. Revealing ``salt``
    and the file lets anyone recompute the binding; without the salt the content hash cannot be
    guessed from it.
    """
    alg = _algorithm(alg)
    if not isinstance(salt, (bytes, bytearray)) or len(salt) != SALT_LENGTH:
        raise InvalidInput(f"salt must be {SALT_LENGTH} bytes", field="salt")
    return hash_bytes(PRIVATE_BINDING_DOMAIN + _party_word(party_id) + bytes(salt) + _content(content_hash), alg)
