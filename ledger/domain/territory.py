"""Licence territories as a 256-bit set: bit i is the i-th ISO 3166-1 alpha-2 code of ``CODES``.

The list is frozen here (249 codes, ISO 3166-1 as of 2026, in alphabetical order) because the contract
stores territories as bitmasks: a bit's meaning must never change. Mainland China (CN), Hong Kong (HK),
Macao (MO) and Taiwan (TW) are distinct codes, so a licence "for mainland China" is ``{"CN"}`` and one for
Hong Kong ``{"HK"}``. ``WORLD`` is every code. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable

from ledger.errors import InvalidInput

CODES: tuple[str, ...] = (
    "AD", "AE", "AF", "AG", "AI", "AL", "AM", "AO", "AQ", "AR", "AS", "AT", "AU", "AW", "AX", "AZ",
    "BA", "BB", "BD", "BE", "BF", "BG", "BH", "BI", "BJ", "BL", "BM", "BN", "BO", "BQ", "BR", "BS",
    "BT", "BV", "BW", "BY", "BZ", "CA", "CC", "CD", "CF", "CG", "CH", "CI", "CK", "CL", "CM", "CN",
    "CO", "CR", "CU", "CV", "CW", "CX", "CY", "CZ", "DE", "DJ", "DK", "DM", "DO", "DZ", "EC", "EE",
    "EG", "EH", "ER", "ES", "ET", "FI", "FJ", "FK", "FM", "FO", "FR", "GA", "GB", "GD", "GE", "GF",
    "GG", "GH", "GI", "GL", "GM", "GN", "GP", "GQ", "GR", "GS", "GT", "GU", "GW", "GY", "HK", "HM",
    "HN", "HR", "HT", "HU", "ID", "IE", "IL", "IM", "IN", "IO", "IQ", "IR", "IS", "IT", "JE", "JM",
    "JO", "JP", "KE", "KG", "KH", "KI", "KM", "KN", "KP", "KR", "KW", "KY", "KZ", "LA", "LB", "LC",
    "LI", "LK", "LR", "LS", "LT", "LU", "LV", "LY", "MA", "MC", "MD", "ME", "MF", "MG", "MH", "MK",
    "ML", "MM", "MN", "MO", "MP", "MQ", "MR", "MS", "MT", "MU", "MV", "MW", "MX", "MY", "MZ", "NA",
    "NC", "NE", "NF", "NG", "NI", "NL", "NO", "NP", "NR", "NU", "NZ", "OM", "PA", "PE", "PF", "PG",
    "PH", "PK", "PL", "PM", "PN", "PR", "PS", "PT", "PW", "PY", "QA", "RE", "RO", "RS", "RU", "RW",
    "SA", "SB", "SC", "SD", "SE", "SG", "SH", "SI", "SJ", "SK", "SL", "SM", "SN", "SO", "SR", "SS",
    "ST", "SV", "SX", "SY", "SZ", "TC", "TD", "TF", "TG", "TH", "TJ", "TK", "TL", "TM", "TN", "TO",
    "TR", "TT", "TV", "TW", "TZ", "UA", "UG", "UM", "US", "UY", "UZ", "VA", "VC", "VE", "VG", "VI",
    "VN", "VU", "WF", "WS", "YE", "YT", "ZA", "ZM", "ZW",
)
INDEX = {code: i for i, code in enumerate(CODES)}
ALIASES = {"CN-MAINLAND": "CN", "MAINLAND": "CN", "HKSAR": "HK", "UK": "GB"}
WORLD = (1 << len(CODES)) - 1


def to_mask(codes: Iterable[str], field: str = "territory") -> int:
    """The bitmask of a set of codes (``WORLD`` accepted); unknown codes raise InvalidInput naming them."""
    mask = 0
    seen = False
    for raw in codes:
        seen = True
        code = str(raw).strip().upper()
        code = ALIASES.get(code, code)
        if code == "WORLD":
            mask = WORLD
            continue
        if code not in INDEX:
            raise InvalidInput(f"{raw!r} is not an ISO 3166-1 alpha-2 territory code", field=field)
        mask |= 1 << INDEX[code]
    if not seen or mask == 0:
        raise InvalidInput("a territory needs at least one code", field=field)
    return mask


def from_mask(mask: int) -> list[str]:
    """The codes of a bitmask, or ``["WORLD"]`` for all of them."""
    if mask == WORLD:
        return ["WORLD"]
    return [code for i, code in enumerate(CODES) if mask >> i & 1]
