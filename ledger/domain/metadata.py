"""Evidence metadata: the schema of the optional description a party commits to with a registration.

Pure. :func:`validate_metadata` normalises (NFC, trimmed, ISO dates, conventional language-tag case) so that
the same description typed on different systems gives the same :func:`metadata_commitment`. Refusals are
:class:`~ledger.errors.InvalidInput` with fields such as ``metadata.kind``.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from ledger.domain.canonical_json import canonical_json
from ledger.domain.codes import CreatorRole
from ledger.errors import InvalidInput

__all__ = ["EVIDENCE_KINDS", "METADATA_FIELDS", "metadata_commitment", "validate_metadata"]

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
    - ``creators``: non-empty list of at most 100 creators, each a non-empty name (at most 200 characters) or a
      party with its role, ``{"partyId": 7, "role": "designer"}`` (roles: :data:`CREATOR_ROLES`);
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


#: What a creator named as a party did (issue 15: creators linked to parties).
CREATOR_ROLES = CreatorRole.words()  # inventor, designer, author, contributor: the creator registry's roles
_MAX_PARTY_ID = 2**24 - 1


def _creator(value: object, field: str) -> str | dict[str, Any]:
    """A creator: a name (free text), or a party with its role, ``{"partyId": N, "role": "designer"}`` — a natural
    person named by number, never by name (docs/privacy.md)."""
    if not isinstance(value, Mapping):
        return _text(value, field, max_length=MAX_CREATOR_LENGTH)
    extra = sorted(set(value) - {"partyId", "role"})
    if extra:
        raise InvalidInput(f"{field} names a party by partyId and role only; {extra[0]} is not allowed", field=field)
    party = value.get("partyId")
    if not isinstance(party, int) or isinstance(party, bool) or not 1 <= party <= _MAX_PARTY_ID:
        raise InvalidInput(f"{field}.partyId must be a party id (1 … {_MAX_PARTY_ID})", field=f"{field}.partyId")
    role = value.get("role")
    if role not in CREATOR_ROLES:
        raise InvalidInput(f"{field}.role must be one of {', '.join(CREATOR_ROLES)}", field=f"{field}.role")
    return {"partyId": party, "role": role}


def _creators(value: object, field: str) -> list[str | dict[str, Any]]:
    if not isinstance(value, (list, tuple)):
        raise InvalidInput(f"{field} must be a list of names or parties", field=field)
    if not value:
        raise InvalidInput(f"{field} is empty; leave it out instead", field=field)
    if len(value) > MAX_CREATORS:
        raise InvalidInput(
            f"{field} has {len(value)} entries; at most {MAX_CREATORS} are allowed",
            field=field,
            details={"count": len(value), "max_count": MAX_CREATORS},
        )
    return [_creator(item, f"{field}[{i}]") for i, item in enumerate(value)]


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
