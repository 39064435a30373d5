"""The input rules every entry point applies: bounded integers, ASCII digits, safe human text, strict decimals.

One place for the rules, used by the API schemas (``api/schemas.py`` builds its annotated types on these
constants and checks), the query parameters of the index, the receipt ids, and the CLI's own checks before
it sends anything:

* **Integers** are bounded by the type they end in: ``uint256``/``uint64``/``uint32``/``uint24``/``uint16``
  on chain, ``BIGINT`` (signed 64-bit) for anything stored in or compared against SQLite/PostgreSQL. A value
  that ends in both is bounded by the smaller (every deadline and unix time: 0 … 2**63 − 1).
* **Numbers written as text** (path ids, query filters, cursors, receipt ids) are ASCII digits only:
  ``[0-9]+``. No sign, no spaces, no underscores, no Unicode digits (``"١٢٣"``, ``"１２３"``), no exponent.
* **Human text** that ends on chain or on a certificate (party names, asset titles, reasons, field of use,
  appraiser, recordation and registration numbers) is NFC-normalised Unicode of bounded length without
  control characters (Cc), format characters (Cf: bidi embeddings/overrides/isolates U+202A–202E and
  U+2066–2069, zero-width characters U+200B–200D, U+2060, U+FEFF, soft hyphen …), line or paragraph
  separators, surrogates, private-use or unassigned code points.
* **Decimal amounts** are plain decimal strings: ``^[0-9]{1,30}(\\.[0-9]{1,18})?$`` — no sign, no exponent,
  no ``inf``/``nan``, at most 30 integer and 18 fractional digits.
"""

from __future__ import annotations

import re
import unicodedata

from ledger.errors import InvalidInput

UINT256_MAX = 2**256 - 1
UINT64_MAX = 2**64 - 1
UINT32_MAX = 2**32 - 1
UINT24_MAX = 2**24 - 1
UINT16_MAX = 2**16 - 1
INT64_MAX = 2**63 - 1  # SQLite INTEGER and PostgreSQL BIGINT
UNIX_TIME_MAX = INT64_MAX  # uint64 on chain, BIGINT in the journal and the index: the smaller bound
PARTY_ID_MAX = UINT24_MAX  # the contracts keep party ids in a uint24
BASIS_POINTS_MAX = 10_000
#: Largest document the vault stores by default (the API sizes its upload limit from it).
DOCUMENT_MAX_BYTES = 64 * 2**20

DIGITS_RE = re.compile(r"[0-9]+")
DECIMAL_PATTERN = r"^[0-9]{1,30}(\.[0-9]{1,18})?$"
DECIMAL_RE = re.compile(r"[0-9]{1,30}(?:\.[0-9]{1,18})?")
DECIMAL_MAX_LENGTH = 49  # 30 digits, the point, 18 digits

# Character categories refused in human text: control, format (bidi controls, zero-width, soft hyphen),
# surrogate, private use, unassigned, line and paragraph separators.
REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
CATEGORY_NAMES = {
    "Cc": "control",
    "Cf": "format (invisible)",
    "Cs": "surrogate",
    "Co": "private-use",
    "Cn": "unassigned",
    "Zl": "line separator",
    "Zp": "paragraph separator",
}

# Length limits of the human texts (characters, after NFC).
NAME_MAX = 200
TITLE_MAX = 500
REASON_MAX = 2000
FIELD_OF_USE_MAX = 500
SHORT_TEXT_MAX = 200


def parse_uint(value: str, field: str, *, maximum: int = INT64_MAX, minimum: int = 0) -> int:
    """A whole number written in ASCII digits, ``minimum`` ≤ n ≤ ``maximum``; InvalidInput naming ``field``."""
    text = value if isinstance(value, str) else ""
    if not DIGITS_RE.fullmatch(text):
        raise InvalidInput(f"{field} must be a whole number written in ASCII digits 0-9", field=field)
    significant = text.lstrip("0") or "0"
    # compare lengths first: a million digits is refused without building the integer
    if len(significant) > len(str(maximum)) or int(significant) > maximum:
        raise InvalidInput(f"{field} must be at most {maximum}", field=field)
    n = int(significant)
    if n < minimum:
        raise InvalidInput(f"{field} must be at least {minimum}", field=field)
    return n


def check_uint(value: object, field: str, *, maximum: int, minimum: int = 0) -> int:
    """An integer already parsed (JSON number): not a bool, ``minimum`` ≤ n ≤ ``maximum``."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidInput(f"{field} must be a whole number", field=field)
    if not minimum <= value <= maximum:
        raise InvalidInput(f"{field} must be from {minimum} to {maximum}", field=field)
    return value


def text_problem(value: str, *, max_length: int, min_length: int = 0) -> str | None:
    """Why ``value`` is not acceptable human text (see the module docstring), or None."""
    if not unicodedata.is_normalized("NFC", value):
        return "must be NFC-normalised Unicode"
    for i, ch in enumerate(value):
        category = unicodedata.category(ch)
        if category in REFUSED_CATEGORIES:
            return f"contains the {CATEGORY_NAMES[category]} character U+{ord(ch):04X} at position {i}"
    if len(value) > max_length:
        return f"is longer than {max_length} characters"
    if len(value.strip()) < min_length:
        return f"needs at least {min_length} character{'s' if min_length != 1 else ''}"
    return None


def check_text(value: object, field: str, *, max_length: int, min_length: int = 0) -> str:
    """``value`` if it is acceptable human text, else InvalidInput naming ``field``."""
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be a string", field=field)
    problem = text_problem(value, max_length=max_length, min_length=min_length)
    if problem is not None:
        raise InvalidInput(f"{field} {problem}", field=field)
    return value


def decimal_problem(value: str) -> str | None:
    if not DECIMAL_RE.fullmatch(value):
        return (
            "must be a plain decimal number: up to 30 digits, optionally a point and up to 18 digits "
            "(no sign, exponent, spaces or separators)"
        )
    return None


def parse_decimal(value: object, field: str) -> str:
    """A non-negative decimal amount as a plain string (``DECIMAL_PATTERN``); returned unchanged."""
    if not isinstance(value, str):
        raise InvalidInput(f'{field} must be a decimal number written as a string, e.g. "1250.50"', field=field)
    problem = decimal_problem(value)
    if problem is not None:
        raise InvalidInput(f"{field} {problem}", field=field)
    return value
