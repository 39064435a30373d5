"""Canonical JSON: RFC 8785 (JSON Canonicalization Scheme) bytes, the form every commitment and certificate hashes.

Pure: standard library only. Refusals are :class:`~ledger.errors.InvalidInput` naming the path to the value.

The implementation is our own rather than the ``rfc8785`` package. On every value accepted here the two give the
same bytes (compared on thousands of random JSON values when this module was split out), but the package accepts
fractional numbers, which we refuse so that the subset an arbitrator must re-implement (docs/certificate.md §4.3)
has no float formatting, and it names no field: every refusal here carries the path to the offending value
(``metadata.creators[2]``), which the API returns. Adopting it would mean a second walk for those refusals and a
dependency for nothing else. Test vectors: docs/certificate.md and tests/domain/test_canonical_json.py.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from ledger.errors import InvalidInput

__all__ = ["MAX_JSON_DEPTH", "MAX_SAFE_INTEGER", "canonical_json"]

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
