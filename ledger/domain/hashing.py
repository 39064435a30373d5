"""Content hashing, hash parsing, canonical JSON and the commitments built from them.

Pure functions only: nothing here touches the chain, the network or any file it was not handed.
Every refusal is an :class:`~ledger.errors.InvalidInput` naming the offending field.
"""

from __future__ import annotations

import hashlib
import math
import re
import secrets
import unicodedata
from collections.abc import Mapping
from datetime import date, datetime
from enum import IntEnum
from os import PathLike
from typing import Any, BinaryIO, Protocol

from cryptography.hazmat.primitives import hashes

from ledger.errors import InvalidInput, PayloadTooLarge

__all__ = [
    "EVIDENCE_KINDS",
    "HASH_LENGTH",
    "METADATA_FIELDS",
    "MAX_PARTY_ID",
    "PRIVATE_BINDING_DOMAIN",
    "PUBLIC_BINDING_DOMAIN",
    "SALT_LENGTH",
    "HashAlgorithm",
    "Hasher",
    "canonical_json",
    "hash_bytes",
    "hash_file",
    "hash_stream",
    "metadata_commitment",
    "new_hasher",
    "new_salt",
    "parse_algorithm",
    "parse_hash",
    "private_binding",
    "public_binding",
    "validate_metadata",
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


class HashAlgorithm(IntEnum):
    """Content hash algorithms; the values are those of ``IEvidenceRegistry.HashAlgorithm``."""

    SHA256 = 1
    SM3 = 2


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
        return HashAlgorithm(alg)
    except ValueError:
        raise InvalidInput(f"unknown hash algorithm {alg!r}", field="algorithm") from None


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
) -> tuple[bytes, int]:
    """Hash a binary stream to its end; return ``(digest, number of bytes read)``.

    Reads into one reusable buffer (no per-chunk allocation), so it runs at the speed of bare
    hashlib. With ``limit``, stops as soon as more than ``limit`` bytes have been read and raises
    :class:`~ledger.errors.PayloadTooLarge` (field ``file``).
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
    else:
        read = fileobj.read
        while chunk := read(chunk_size):
            total += len(chunk)
            if limit is not None and total > limit:
                raise _too_large(limit)
            update(chunk)
    return hasher.digest(), total


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"file is larger than the limit of {limit} bytes",
        field="file",
        details={"limit": limit},
    )


def hash_file(path: str | PathLike[str], alg: HashAlgorithm) -> bytes:
    """The ``alg`` digest of the file at ``path``."""
    with open(path, "rb", buffering=0) as f:
        digest, _ = hash_stream(f, alg)
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


# --- canonical JSON ---------------------------------------------------------------------------

# Integers beyond this lose precision as IEEE 754 doubles, so a JCS implementation in another
# language would print them differently; refusing them keeps our bytes identical to theirs.
MAX_SAFE_INTEGER = 2**53 - 1
MAX_JSON_DEPTH = 64

_JCS_ESCAPES: dict[int, str] = {c: f"\\u{c:04x}" for c in range(0x20)}
_JCS_ESCAPES.update({0x08: "\\b", 0x09: "\\t", 0x0A: "\\n", 0x0C: "\\f", 0x0D: "\\r"})
_JCS_ESCAPES.update({ord('"'): '\\"', ord("\\"): "\\\\"})


def canonical_json(obj: object, *, field: str | None = None) -> bytes:
    """Serialise ``obj`` as RFC 8785 (JSON Canonicalization Scheme) UTF-8 bytes.

    Objects have their members sorted by the UTF-16 code units of their names, there is no
    whitespace, strings are escaped minimally (``"``, ``\\``, the short escapes ``\\b \\t \\n \\f
    \\r`` and ``\\u00xx`` with lower-case hex for other control characters; everything else,
    including ``/``, DEL and non-ASCII, is written as UTF-8).

    Accepted values: ``dict`` with ``str`` keys, ``list`` / ``tuple``, ``str``, ``bool``, ``None``,
    ``int`` within ±(2**53 - 1), and ``float`` only when finite and integral within that range
    (written as an integer, as ES6 would). Full ES6 formatting of fractional and very large numbers
    is deliberately not implemented: such values are refused instead, so any accepted input
    canonicalises to exactly the bytes a complete JCS implementation would produce. Strings must be
    valid Unicode (no lone surrogates). Nesting is limited to 64 levels.

    Errors are :class:`~ledger.errors.InvalidInput`; their field is ``field`` extended with the
    path to the offending value (``metadata.creators[2]``), or ``None`` when ``field`` is ``None``.
    """
    parts: list[str] = []
    _encode(obj, parts, field, "", 0)
    text = "".join(parts)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:  # a lone surrogate; _encode checks, so this is a backstop
        raise InvalidInput("JSON text is not valid Unicode", field=field) from exc


def _json_error(message: str, field: str | None, path: str) -> InvalidInput:
    location = f"{field}{path}" if field else f"${path}"
    return InvalidInput(
        f"{message} (at {location})",
        field=f"{field}{path}" if field else None,
        details={"path": f"${path}"},
    )


def _encode_string(value: str, field: str | None, path: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise _json_error("string contains a lone surrogate, which is not valid Unicode", field, path) from exc
    return '"' + value.translate(_JCS_ESCAPES) + '"'


def _utf16_key(name: str) -> bytes:
    # Big-endian UTF-16 bytes compare exactly like the sequence of 16-bit code units.
    return name.encode("utf-16-be")


def _encode(obj: object, out: list[str], field: str | None, path: str, depth: int) -> None:
    if depth > MAX_JSON_DEPTH:
        raise _json_error(f"JSON is nested more than {MAX_JSON_DEPTH} levels deep", field, path)
    if obj is None:
        out.append("null")
    elif obj is True:
        out.append("true")
    elif obj is False:
        out.append("false")
    elif isinstance(obj, str):
        out.append(_encode_string(obj, field, path))
    elif isinstance(obj, int):
        if not -MAX_SAFE_INTEGER <= obj <= MAX_SAFE_INTEGER:
            raise _json_error("integer is outside ±(2**53 - 1); write it as a string", field, path)
        out.append(str(int(obj)))
    elif isinstance(obj, float):
        if not math.isfinite(obj):
            raise _json_error("NaN and infinity have no JSON form", field, path)
        if not obj.is_integer():
            raise _json_error("fractional numbers are not supported; write it as a string", field, path)
        if not -MAX_SAFE_INTEGER <= obj <= MAX_SAFE_INTEGER:
            raise _json_error("number is outside ±(2**53 - 1); write it as a string", field, path)
        out.append(str(int(obj)))
    elif isinstance(obj, Mapping):
        keyed: list[tuple[bytes, str, object]] = []
        for name, value in obj.items():
            if not isinstance(name, str):
                raise _json_error(f"object key {name!r} is not a string", field, path)
            try:
                sort_key = _utf16_key(name)
            except UnicodeEncodeError as exc:
                raise _json_error(f"object key {name!r} is not valid Unicode", field, path) from exc
            keyed.append((sort_key, name, value))
        keyed.sort(key=lambda item: item[0])
        out.append("{")
        for i, (_, name, value) in enumerate(keyed):
            if i:
                out.append(",")
            out.append(_encode_string(name, field, path))
            out.append(":")
            _encode(value, out, field, f"{path}.{name}", depth + 1)
        out.append("}")
    elif isinstance(obj, (list, tuple)):
        out.append("[")
        for i, value in enumerate(obj):
            if i:
                out.append(",")
            _encode(value, out, field, f"{path}[{i}]", depth + 1)
        out.append("]")
    else:
        raise _json_error(f"{type(obj).__name__} has no JSON form", field, path)


# --- evidence metadata ------------------------------------------------------------------------

EVIDENCE_KINDS = (
    "invention",
    "utility_model",
    "design",
    "software",
    "copyright_work",
    "data_set",
    "trade_secret",
)
METADATA_FIELDS = ("title", "kind", "creators", "created_at", "language", "description")

MAX_TITLE_LENGTH = 500
MAX_DESCRIPTION_LENGTH = 5000
MAX_CREATORS = 100
MAX_CREATOR_LENGTH = 200
MAX_LANGUAGE_LENGTH = 35

# BCP 47 shape only: a 2-3 letter language then up to 8-character alphanumeric subtags.
_LANGUAGE_TAG = re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*")
# Tabs and line breaks are allowed in descriptions; every other control character is refused.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_CONTROL_EXCEPT_LINES = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def validate_metadata(metadata: dict[str, Any]) -> dict[str, Any]:
    """Check evidence metadata and return its normalised form (commit to that, not the input).

    Fields, all optional, unknown ones refused:

    - ``title``: non-empty string, at most 500 characters, no control characters;
    - ``kind``: one of :data:`EVIDENCE_KINDS` (case, spaces and hyphens are normalised:
      ``"Utility model"`` becomes ``"utility_model"``);
    - ``creators``: non-empty list of at most 100 non-empty names (each at most 200 characters);
    - ``created_at``: ISO 8601 date or date-time; normalised to extended form (``2024-03-01``,
      ``2024-03-01T09:30:00+08:00``);
    - ``language``: BCP 47-shaped tag, ``_`` accepted for ``-``; normalised to conventional case
      (``zh-Hant-HK``);
    - ``description``: at most 5000 characters; tabs and line breaks allowed.

    Strings are stripped and put in Unicode NFC so that the same text typed on different systems
    gives the same commitment. Errors are :class:`~ledger.errors.InvalidInput` with fields such as
    ``metadata.kind``.
    """
    if not isinstance(metadata, Mapping):
        raise InvalidInput("metadata must be a JSON object", field="metadata")
    unknown = sorted(str(k) for k in metadata if k not in METADATA_FIELDS)
    if unknown:
        raise InvalidInput(
            f"unknown metadata field {unknown[0]!r}; allowed fields are {', '.join(METADATA_FIELDS)}",
            field=f"metadata.{unknown[0]}",
            details={"unknown": unknown},
        )
    normalised: dict[str, Any] = {}
    for name in METADATA_FIELDS:
        if name in metadata:
            normalised[name] = _METADATA_VALIDATORS[name](metadata[name], f"metadata.{name}")
    return normalised


def _text(value: object, field: str, *, max_length: int, allow_lines: bool = False) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be a string", field=field)
    text = unicodedata.normalize("NFC", value.strip())
    if not text:
        raise InvalidInput(f"{field} is empty; leave it out instead", field=field)
    if len(text) > max_length:
        raise InvalidInput(
            f"{field} has {len(text)} characters; at most {max_length} are allowed",
            field=field,
            details={"length": len(text), "max_length": max_length},
        )
    control = (_CONTROL_EXCEPT_LINES if allow_lines else _CONTROL).search(text)
    if control is not None:
        raise InvalidInput(
            f"{field} contains the control character U+{ord(control.group()):04X}",
            field=field,
        )
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidInput(f"{field} is not valid Unicode", field=field) from exc
    return text


def _title(value: object, field: str) -> str:
    return _text(value, field, max_length=MAX_TITLE_LENGTH)


def _description(value: object, field: str) -> str:
    return _text(value, field, max_length=MAX_DESCRIPTION_LENGTH, allow_lines=True)


def _kind(value: object, field: str) -> str:
    if isinstance(value, str):
        kind = re.sub(r"[\s-]+", "_", value.strip().lower())
        if kind in EVIDENCE_KINDS:
            return kind
    raise InvalidInput(
        f"{field} {value!r} is not one of {', '.join(EVIDENCE_KINDS)}",
        field=field,
        details={"allowed": list(EVIDENCE_KINDS)},
    )


def _creators(value: object, field: str) -> list[str]:
    if not isinstance(value, (list, tuple)):
        raise InvalidInput(f"{field} must be a list of names", field=field)
    if not value:
        raise InvalidInput(f"{field} is empty; leave it out instead", field=field)
    if len(value) > MAX_CREATORS:
        raise InvalidInput(
            f"{field} has {len(value)} entries; at most {MAX_CREATORS} are allowed",
            field=field,
            details={"count": len(value), "max_count": MAX_CREATORS},
        )
    return [_text(name, f"{field}[{i}]", max_length=MAX_CREATOR_LENGTH) for i, name in enumerate(value)]


def _created_at(value: object, field: str) -> str:
    if not isinstance(value, str) or not 0 < len(value.strip()) <= 64:
        raise InvalidInput(f"{field} must be an ISO 8601 date or date-time string", field=field)
    text = value.strip()
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(text).isoformat()
    except ValueError:
        raise InvalidInput(
            f"{field} {text!r} is not an ISO 8601 date (2024-03-01) or date-time (2024-03-01T09:30:00+08:00)",
            field=field,
        ) from None


def _language(value: object, field: str) -> str:
    if isinstance(value, str):
        tag = value.strip().replace("_", "-")
        if len(tag) <= MAX_LANGUAGE_LENGTH and _LANGUAGE_TAG.fullmatch(tag):
            return "-".join(_case_subtag(s, i) for i, s in enumerate(tag.split("-")))
    raise InvalidInput(
        f"{field} {value!r} is not a language tag such as en, zh-CN or zh-Hant-HK",
        field=field,
    )


def _case_subtag(subtag: str, position: int) -> str:
    if position > 0 and len(subtag) == 4 and subtag.isalpha():
        return subtag.title()  # script: Hant
    if position > 0 and len(subtag) == 2 and subtag.isalpha():
        return subtag.upper()  # region: HK
    return subtag.lower()


_METADATA_VALIDATORS = {
    "title": _title,
    "kind": _kind,
    "creators": _creators,
    "created_at": _created_at,
    "language": _language,
    "description": _description,
}


def metadata_commitment(metadata: dict[str, Any]) -> bytes:
    """SHA-256 of :func:`canonical_json` of ``metadata``.

    It does not validate: pass the output of :func:`validate_metadata` so that equal metadata
    always gives the same commitment.
    """
    if not isinstance(metadata, Mapping):
        raise InvalidInput("metadata must be a JSON object", field="metadata")
    return hashlib.sha256(canonical_json(metadata, field="metadata")).digest()


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
