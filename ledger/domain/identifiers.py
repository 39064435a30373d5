"""Validation of party identifiers and patent numbers (see ``/work/shared/DOMAIN.md``).

Each validator returns the normalised form or raises :class:`~ledger.errors.InvalidInput`
saying what is wrong. Pure code: no registry is consulted, only formats and check digits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from stdnum.cn import ric, uscc
from stdnum.exceptions import InvalidChecksum, InvalidLength, ValidationError

from ledger.domain.codes import AssetKind, IdentifierScheme
from ledger.errors import InvalidInput

__all__ = [
    "CN_PATENT_TYPES",
    "IDENTIFIER_SCHEMES",
    "CN_TYPE_KIND",
    "CnPatentNumber",
    "canonical_identifier",
    "normalise_number",
    "parse_cn_patent_number",
    "validate_hk_brn",
    "validate_hk_patent_number",
    "validate_identifier",
    "validate_other_identifier",
    "validate_uscc",
    "PERSON_SCHEMES",
    "canonical_person_identifier",
    "hkid_check_digit",
    "validate_cn_ric",
    "validate_hkid",
]

IDENTIFIER_SCHEMES: Final = IdentifierScheme.words()


# --- party identifiers ------------------------------------------------------------------------


def validate_uscc(value: str) -> str:
    """A mainland Unified Social Credit Code (GB 32100-2015), upper-cased, without separators."""
    if not isinstance(value, str):
        raise InvalidInput("USCC must be a string", field="identifier")
    number = value.strip().upper()
    if not value.isascii():
        raise InvalidInput("USCC format is wrong: it may contain only ASCII letters and digits", field="identifier")
    try:
        return uscc.validate(number)
    except InvalidChecksum:
        compact = uscc.compact(number)
        expected = uscc.calc_check_digit(compact[:-1])
        raise InvalidInput(
            f"USCC {compact} has the wrong check character: expected {expected}, got {compact[-1]}",
            field="identifier",
            details={"expected": expected},
        ) from None
    except InvalidLength:
        raise InvalidInput(
            f"USCC format is wrong: it has {len(uscc.compact(number))} characters, not 18",
            field="identifier",
        ) from None
    except ValidationError:
        raise InvalidInput(
            "USCC format is wrong: 8 digits, then 10 characters from 0-9 and A-Y except I, O, S, V and Z",
            field="identifier",
        ) from None


_HK_BRN = re.compile(r"[0-9]{8}")


def validate_hk_brn(value: str) -> str:
    """A Hong Kong Business Registration number: exactly 8 digits (spaces and hyphens dropped).

    There is no public check digit, so only the shape is checked.
    """
    if not isinstance(value, str):
        raise InvalidInput("HK business registration number must be a string", field="identifier")
    number = value.replace(" ", "").replace("-", "")
    if not _HK_BRN.fullmatch(number):
        raise InvalidInput(
            f"HK business registration number {value!r} is not 8 digits",
            field="identifier",
        )
    return number


def validate_other_identifier(value: str) -> str:
    """Any other identifier: 1-64 printable characters after stripping surrounding spaces."""
    if not isinstance(value, str):
        raise InvalidInput("identifier must be a string", field="identifier")
    text = value.strip()
    if not 1 <= len(text) <= 64:
        raise InvalidInput(
            f"identifier has {len(text)} characters; it needs 1 to 64",
            field="identifier",
        )
    if not text.isprintable():
        bad = next(c for c in text if not c.isprintable())
        raise InvalidInput(
            f"identifier contains the non-printable character U+{ord(bad):04X}",
            field="identifier",
        )
    return text


_IDENTIFIER_VALIDATORS = {
    IdentifierScheme.USCC.word: validate_uscc,
    IdentifierScheme.HKBRN.word: validate_hk_brn,
    IdentifierScheme.OTHER.word: validate_other_identifier,
}


def validate_identifier(scheme: str, value: str) -> str:
    """Validate ``value`` under ``scheme``: ``uscc``, ``hkbrn`` (also ``hk_brn`` / ``hk-brn``) or
    ``other``."""
    key = scheme.strip().lower().replace("_", "").replace("-", "") if isinstance(scheme, str) else None
    validator = _IDENTIFIER_VALIDATORS.get(key or "")
    if validator is None:
        raise InvalidInput(
            f"identifier scheme {scheme!r} is not one of {', '.join(IDENTIFIER_SCHEMES)}",
            field="scheme",
        )
    return validator(value)


def canonical_identifier(scheme: str, value: str) -> str:
    """The one spelling of a party identifier that goes on chain and decides uniqueness (the party registry
    refuses any other spelling, `PartyIdentifierNotCanonical`): NFKC (full-width to half-width), surrounding
    whitespace trimmed, upper case; then per scheme: USCC with its check character verified; HK BRN as its 8
    digits; other as printable ASCII with single inner spaces, 1-64 characters. A lower-case, padded or
    full-width copy of an identifier therefore has the same canonical form as the original."""
    import unicodedata

    if not isinstance(value, str):
        raise InvalidInput("identifier must be a string", field="identifier")
    text = unicodedata.normalize("NFKC", value).strip().upper()
    key = scheme.strip().lower().replace("_", "").replace("-", "") if isinstance(scheme, str) else ""
    if key == IdentifierScheme.USCC.word:
        return validate_uscc(text)
    if key == IdentifierScheme.HKBRN.word:
        return validate_hk_brn(text)
    if key != IdentifierScheme.OTHER.word:
        return validate_identifier(scheme, value)  # raises: unknown scheme
    text = " ".join(text.split())
    if not text.isascii():
        raise InvalidInput(
            "an identifier of scheme other must be ASCII letters, digits and punctuation (after NFKC normalisation)",
            field="identifier",
        )
    return validate_other_identifier(text)


# --- natural persons' identity documents -----------------------------------------------------
#
# Personal data: no message below repeats the value it refuses (errors reach logs and HTTP answers).

#: The identity documents a natural person may be admitted with (the word of the API and CLI, and its description).
PERSON_SCHEMES: Final = {
    "hkid": "Hong Kong Identity Card number (check digit, mod 11)",
    "cnric": "mainland Resident Identity Card number (18 characters, ISO 7064 MOD 11-2)",
    "moid": "Macao resident identity card number (validated free string)",
    "twid": "Taiwan residents' document number (identity card or Mainland Travel Permit; validated free string)",
    "passport": "passport: issuing state (ISO 3166-1 alpha-3), a colon, the number, e.g. GBR:123456789",
}

_HKID = re.compile(r"([A-Z]{1,2})([0-9]{6})\(?([0-9A])\)?")


def hkid_check_digit(prefix: str, digits: str) -> str:
    """The check character of a Hong Kong Identity Card number: letters count A=10 … Z=35 and a one-letter number is
    padded in front with a space counting 36; the 8 values are weighted 9, 8, …, 2; the check value is
    (11 − sum mod 11) mod 11, written ``A`` for 10."""
    chars = prefix.rjust(2)
    values = [36 if c == " " else ord(c) - ord("A") + 10 for c in chars] + [int(d) for d in digits]
    total = sum(v * w for v, w in zip(values, range(9, 1, -1), strict=True))
    check = (11 - total % 11) % 11
    return "A" if check == 10 else str(check)


def validate_hkid(value: str) -> str:
    """A Hong Kong Identity Card number in its canonical form ``A123456(3)``: one or two letters, six digits and the
    check character in brackets (given with or without brackets, spaces or lower case)."""
    text = value.replace(" ", "").upper() if isinstance(value, str) else ""
    match = _HKID.fullmatch(text)
    if match is None or ("(" in text) != (")" in text):
        raise InvalidInput(
            "HKID format is wrong: one or two letters, six digits and a check character 0-9 or A, e.g. A123456(3)",
            field="identifier",
        )
    prefix, digits, check = match.groups()
    if hkid_check_digit(prefix, digits) != check:
        raise InvalidInput(
            "HKID check character is wrong (mod 11 rule of the Immigration Department)", field="identifier"
        )
    return f"{prefix}{digits}({check})"


def validate_cn_ric(value: str) -> str:
    """A mainland Resident Identity Card number: 18 characters, the last a check character 0-9 or X (ISO 7064
    MOD 11-2), a valid birth date inside (``stdnum.cn.ric``)."""
    text = value.replace(" ", "").upper() if isinstance(value, str) else ""
    if len(text) != 18 or not text.isascii():
        raise InvalidInput(
            "resident identity card number must be 18 characters (17 digits and 0-9 or X)", field="identifier"
        )
    try:
        return str(ric.validate(text))
    except InvalidChecksum:
        raise InvalidInput(
            "resident identity card number has the wrong check character (ISO 7064 MOD 11-2)", field="identifier"
        ) from None
    except ValidationError:
        raise InvalidInput(
            "resident identity card number is malformed: 17 digits with a valid birth date, then 0-9 or X",
            field="identifier",
        ) from None


_FREE_DOC = re.compile(r"[A-Z0-9][A-Z0-9()/\-]{3,23}")
_PASSPORT = re.compile(r"([A-Z]{3}):([A-Z0-9]{5,20})")


def _free_document(value: str, what: str) -> str:
    text = value.replace(" ", "").upper() if isinstance(value, str) else ""
    if not text.isascii() or not _FREE_DOC.fullmatch(text):
        raise InvalidInput(
            f"{what} must be 4 to 24 characters of A-Z, 0-9, '(', ')', '/', '-' (spaces are dropped)",
            field="identifier",
        )
    return text


def canonical_person_identifier(scheme: str, value: str) -> str:
    """The one spelling of a natural person's document number under ``scheme`` (:data:`PERSON_SCHEMES`): NFKC,
    spaces dropped, upper case, then the scheme's own check. This spelling (never sent on chain) enters the person's
    commitment and the service's keyed hash, so that a differently written copy of the same number is the same
    person."""
    import unicodedata

    if not isinstance(scheme, str) or scheme not in PERSON_SCHEMES:
        raise InvalidInput(
            f"identifier scheme of a person must be one of {', '.join(PERSON_SCHEMES)}", field="idScheme"
        )
    if not isinstance(value, str):
        raise InvalidInput("identifier must be a string", field="identifier")
    text = unicodedata.normalize("NFKC", value).strip().upper()
    if len(text) > 64:
        raise InvalidInput("identifier is longer than 64 characters", field="identifier")
    if scheme == "hkid":
        return validate_hkid(text)
    if scheme == "cnric":
        return validate_cn_ric(text)
    if scheme == "moid":
        return _free_document(text, "a Macao resident identity card number")
    if scheme == "twid":
        return _free_document(text, "a Taiwan residents' document number")
    match = _PASSPORT.fullmatch(text.replace(" ", ""))
    if match is None:
        raise InvalidInput(
            "a passport is written as the issuing state's ISO 3166-1 alpha-3 code, a colon and the 5-20 letters and "
            "digits of its number, e.g. GBR:123456789",
            field="identifier",
        )
    import pycountry

    if pycountry.countries.get(alpha_3=match[1]) is None:
        raise InvalidInput("the passport's issuing state is not an ISO 3166-1 alpha-3 code", field="identifier")
    return f"{match[1]}:{match[2]}"


# --- patent numbers ---------------------------------------------------------------------------

CN_PATENT_TYPES: Final = {
    1: "invention",
    2: "utility_model",
    3: "design",
    8: "pct_invention",
    9: "pct_utility_model",
}
_WEIGHTS_12: Final = (2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5)
_WEIGHTS_8: Final = (2, 3, 4, 5, 6, 7, 8, 9)
# 12-digit numbers began on 2003-10-01; 8-digit ones ran from 1985 (the Patent Law) to then.
_FIRST_12_DIGIT_YEAR: Final = 2003

_CN_PATENT = re.compile(
    r"(?:(?P<cn1>CN)(?P<zl1>ZL)?|(?P<zl2>ZL)(?P<cn2>CN)?)?"
    r"(?:(?P<long>[0-9]{12})|(?P<short>[0-9]{8}))\.?(?P<check>[0-9X])"
)


@dataclass(frozen=True, slots=True)
class CnPatentNumber:
    """A parsed CNIPA patent / application number.

    ``normalised`` is the canonical written form without prefix (``201710601862.3``,
    ``95115608.X``); ``zl_prefix`` records whether the input carried ``ZL`` (granted patent).
    """

    year: int
    type_digit: int
    type_name: str
    serial: str
    check: str
    normalised: str
    zl_prefix: bool

    def __str__(self) -> str:
        return self.normalised


def _check_digit(digits: str, weights: tuple[int, ...]) -> str:
    remainder = sum(int(d) * w for d, w in zip(digits, weights, strict=True)) % 11
    return "X" if remainder == 10 else str(remainder)


def parse_cn_patent_number(value: str) -> CnPatentNumber:
    """Parse a CN patent or application number and check its type digit and check digit.

    Accepted: an optional ``ZL`` and/or ``CN`` prefix (any case), spaces anywhere, then either the
    12-digit form (since 2003: 4-digit year, type digit, 7-digit serial) or the older 8-digit form
    (2-digit year, type digit, 5-digit serial), an optional ``.`` and the check digit
    (``X`` for 10). Type digits: 1 invention, 2 utility model, 3 design, 8 PCT invention,
    9 PCT utility model.
    """
    if not isinstance(value, str):
        raise InvalidInput("patent number must be a string", field="number")
    text = re.sub(r"\s+", "", value).upper()
    match = _CN_PATENT.fullmatch(text)
    if match is None:
        raise InvalidInput(
            f"{value!r} is not a CN patent number: expected YYYYTNNNNNNN.C (e.g. 201710601862.3) "
            "or the older YYTNNNNN.C (e.g. 97101765.4), optionally prefixed with ZL or CN",
            field="number",
        )
    digits = match["long"] or match["short"]
    is_long = match["long"] is not None
    weights: tuple[int, ...]
    if is_long:
        year, type_digit, serial, weights = int(digits[:4]), int(digits[4]), digits[5:], _WEIGHTS_12
        if year < _FIRST_12_DIGIT_YEAR:
            raise InvalidInput(
                f"year {year} in {value!r} predates 12-digit numbers (used since {_FIRST_12_DIGIT_YEAR})",
                field="number",
            )
    else:
        short_year, type_digit, serial, weights = int(digits[:2]), int(digits[2]), digits[3:], _WEIGHTS_8
        year = 1900 + short_year if short_year >= 85 else 2000 + short_year
        if year > _FIRST_12_DIGIT_YEAR:
            raise InvalidInput(
                f"year {short_year:02d} in {value!r} is not a year of 8-digit numbers (1985-2003)",
                field="number",
            )
    type_name = CN_PATENT_TYPES.get(type_digit)
    if type_name is None:
        raise InvalidInput(
            f"type digit {type_digit} in {value!r} is not one of 1 (invention), 2 (utility model), "
            "3 (design), 8 (PCT invention), 9 (PCT utility model)",
            field="number",
            details={"type_digit": type_digit},
        )
    expected = _check_digit(digits, weights)
    if match["check"] != expected:
        raise InvalidInput(
            f"check digit of {digits}.{match['check']} is wrong: expected {expected}, got {match['check']}",
            field="number",
            details={"expected": expected, "got": match["check"]},
        )
    return CnPatentNumber(
        year=year,
        type_digit=type_digit,
        type_name=type_name,
        serial=serial,
        check=expected,
        normalised=f"{digits}.{expected}",
        zl_prefix=bool(match["zl1"] or match["zl2"]),
    )


_HK_PATENT = re.compile(r"[A-Z0-9 ./()\-]{1,32}")


def validate_hk_patent_number(value: str) -> str:
    """A Hong Kong patent number as a checked free string: 1-32 characters of ``A-Z 0-9 space .
    / ( ) -`` after stripping and upper-casing (there is no public checksum)."""
    if not isinstance(value, str):
        raise InvalidInput("HK patent number must be a string", field="number")
    text = value.strip().upper()
    if not value.isascii() or not _HK_PATENT.fullmatch(text):
        raise InvalidInput(
            f"HK patent number {value!r} must be 1 to 32 characters of A-Z, 0-9, space, '.', '/', '(', ')', '-'",
            field="number",
        )
    return text


# --- asset numbers ----------------------------------------------------------------------------


#: The asset kind of each CN patent number's type digit.
_K = AssetKind
CN_TYPE_KIND = {
    1: _K.INVENTION.word,
    2: _K.UTILITY_MODEL.word,
    3: _K.DESIGN.word,
    8: _K.INVENTION.word,
    9: _K.UTILITY_MODEL.word,
}


def normalise_number(jurisdiction: str, kind: str, number: str) -> tuple[str, str]:
    """The normalised number (with its jurisdiction prefix, the form hashed on chain) and the asset kind."""
    if jurisdiction == "CN":
        try:
            parsed = parse_cn_patent_number(number)
        except InvalidInput as exc:
            raise InvalidInput(exc.message, field="number") from None
        expected = CN_TYPE_KIND[parsed.type_digit]
        if kind != expected:
            raise InvalidInput(
                f"{parsed.normalised} is a {parsed.type_name} number; kind must be {expected}", field="kind"
            )
        return "CN" + parsed.normalised, kind
    if jurisdiction == "HK":
        try:
            return "HK" + validate_hk_patent_number(number), kind
        except InvalidInput as exc:
            raise InvalidInput(exc.message, field="number") from None
    if jurisdiction == "PCT":
        text = number.strip().upper().replace(" ", "")
        if not re.fullmatch(r"PCT/[A-Z]{2}[0-9]{4}/[0-9]{6}", text):  # ASCII digits only
            raise InvalidInput("a PCT application number looks like PCT/CN2023/123456", field="number")
        return text, kind
    try:
        return "OTHER:" + validate_other_identifier(number), kind
    except InvalidInput as exc:
        raise InvalidInput(exc.message, field="number") from None
