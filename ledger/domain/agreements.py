"""Typed data of assets and agreements (EIP-712, domain "QianhaiIPLedger.Assets"). Pure: no chain access.

The type strings equal the contract's typehash comments; tests compare them with the deployed contract.
An agreement's id is the EIP-712 struct hash of its terms, so parties and the service agree on it before
anything is on chain. The input checks both asset registrations and agreements apply (signing window, signature
bytes, dates, basis points) are here too, so the two services give the same errors.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from eth_account.messages import encode_typed_data
from eth_utils import keccak, to_checksum_address

# The enums of assets and terms are declared once, in ledger.domain.codes; named here too for this module's callers.
from ledger.domain.codes import AgreementKind as AgreementKind
from ledger.domain.codes import AgreementStatus as AgreementStatus
from ledger.domain.codes import AssetJurisdiction as AssetJurisdiction
from ledger.domain.codes import AssetKind as AssetKind
from ledger.domain.codes import AssetStatus as AssetStatus
from ledger.domain.codes import LicenceType as LicenceType
from ledger.domain.eip712 import EIP712_DOMAIN_TYPE, Domain, type_string
from ledger.errors import InvalidInput

ASSETS_DOMAIN_NAME = "QianhaiIPLedger.Assets"
ZERO32 = b"\0" * 32
TOTAL_SHARES = 10_000


#: What each status means, in the words every answer, report and page uses.
ASSET_STATUS_NOTES = {
    AssetStatus.CLAIMED.word: "claim, not yet confirmed by an asset verifier: it cannot be assigned, licensed, contributed or pledged",
    AssetStatus.CONFIRMED.word: "confirmed by an asset verifier against the patent register",
    AssetStatus.STRUCK.word: "claim struck by an asset verifier: the number is free for a new claim",
}


ASSET_REGISTRATION_TYPE = [
    {"name": "jurisdiction", "type": "uint8"},
    {"name": "kind", "type": "uint8"},
    {"name": "numberHash", "type": "bytes32"},
    {"name": "owners", "type": "uint256[]"},
    {"name": "shares", "type": "uint16[]"},
    {"name": "detailsHash", "type": "bytes32"},
    {"name": "deadline", "type": "uint64"},
]
TERMS_TYPE = [
    {"name": "kind", "type": "uint8"},
    {"name": "assetId", "type": "uint256"},
    {"name": "grantees", "type": "uint256[]"},
    {"name": "shares", "type": "uint16[]"},
    {"name": "licenceType", "type": "uint8"},
    {"name": "territory", "type": "uint256"},
    {"name": "fieldOfUse", "type": "bytes32"},
    {"name": "sublicensable", "type": "bool"},
    {"name": "parentLicence", "type": "bytes32"},
    {"name": "start", "type": "uint64"},
    {"name": "end", "type": "uint64"},
    {"name": "documentHash", "type": "bytes32"},
    {"name": "detailsHash", "type": "bytes32"},
    {"name": "salt", "type": "bytes32"},
    {"name": "deadline", "type": "uint64"},
]
TERMINATION_TYPE = [{"name": "agreementId", "type": "bytes32"}, {"name": "deadline", "type": "uint64"}]
RELEASE_TYPE = [{"name": "agreementId", "type": "bytes32"}, {"name": "deadline", "type": "uint64"}]
WITHDRAWAL_TYPE = [{"name": "agreementId", "type": "bytes32"}, {"name": "deadline", "type": "uint64"}]
ASSET_CONFIRMATION_TYPE = [
    {"name": "assetId", "type": "uint256"},
    {"name": "registerExtractHash", "type": "bytes32"},
    {"name": "deadline", "type": "uint64"},
]
CLAIM_REJECTION_TYPE = [
    {"name": "assetId", "type": "uint256"},
    {"name": "reasonHash", "type": "bytes32"},
    {"name": "deadline", "type": "uint64"},
]
#: The furthest a signature's deadline may lie after the block that submits it (the contracts refuse more).
MAX_SIGNING_WINDOW = 365 * 86400
#: The deadline a registration or proposal gets when its body names none: a week after the latest block.
DEFAULT_SIGNING_WINDOW = 7 * 86400

ASSET_REGISTRATION_TYPEHASH = keccak(text=type_string("AssetRegistration", ASSET_REGISTRATION_TYPE))
TERMS_TYPEHASH = keccak(text=type_string("Terms", TERMS_TYPE))
TERMINATION_TYPEHASH = keccak(text=type_string("Termination", TERMINATION_TYPE))
RELEASE_TYPEHASH = keccak(text=type_string("Release", RELEASE_TYPE))
WITHDRAWAL_TYPEHASH = keccak(text=type_string("Withdrawal", WITHDRAWAL_TYPE))
ASSET_CONFIRMATION_TYPEHASH = keccak(text=type_string("AssetConfirmation", ASSET_CONFIRMATION_TYPE))
CLAIM_REJECTION_TYPEHASH = keccak(text=type_string("ClaimRejection", CLAIM_REJECTION_TYPE))


def assets_domain(chain_id: int, contract: str) -> Domain:
    return Domain(chain_id, contract, name=ASSETS_DOMAIN_NAME)


def _hex(b: bytes) -> str:
    return "0x" + bytes(b).hex()


def _message(domain: Domain, primary: str, fields: list[dict[str, str]], message: dict[str, Any]) -> dict[str, Any]:
    return {
        "types": {"EIP712Domain": EIP712_DOMAIN_TYPE, primary: fields},
        "primaryType": primary,
        "domain": domain.to_json(),
        "message": message,
    }


def struct_hash(full_message: dict[str, Any]) -> bytes:
    return bytes(encode_typed_data(full_message=full_message).body)


@dataclass(frozen=True)
class AssetRegistration:
    jurisdiction: int
    kind: int
    number_hash: bytes
    owners: tuple[int, ...]
    shares: tuple[int, ...]
    details_hash: bytes
    deadline: int

    def message(self, domain: Domain) -> dict[str, Any]:
        return _message(
            domain,
            "AssetRegistration",
            ASSET_REGISTRATION_TYPE,
            {
                "jurisdiction": self.jurisdiction,
                "kind": self.kind,
                "numberHash": _hex(self.number_hash),
                "owners": list(self.owners),
                "shares": list(self.shares),
                "detailsHash": _hex(self.details_hash),
                "deadline": self.deadline,
            },
        )

    def as_tuple(self) -> tuple[Any, ...]:
        return (
            self.jurisdiction,
            self.kind,
            self.number_hash,
            list(self.owners),
            list(self.shares),
            self.details_hash,
            self.deadline,
        )


@dataclass(frozen=True)
class Terms:
    kind: int
    asset_id: int
    grantees: tuple[int, ...]
    shares: tuple[int, ...] = ()
    licence_type: int = 0
    territory: int = 0
    field_of_use: bytes = ZERO32
    sublicensable: bool = False
    parent_licence: bytes = ZERO32
    start: int = 0
    end: int = 0
    document_hash: bytes = ZERO32
    details_hash: bytes = ZERO32
    salt: bytes = ZERO32
    deadline: int = 0
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def message(self, domain: Domain) -> dict[str, Any]:
        return _message(
            domain,
            "Terms",
            TERMS_TYPE,
            {
                "kind": self.kind,
                "assetId": self.asset_id,
                "grantees": list(self.grantees),
                "shares": list(self.shares),
                "licenceType": self.licence_type,
                "territory": self.territory,
                "fieldOfUse": _hex(self.field_of_use),
                "sublicensable": self.sublicensable,
                "parentLicence": _hex(self.parent_licence),
                "start": self.start,
                "end": self.end,
                "documentHash": _hex(self.document_hash),
                "detailsHash": _hex(self.details_hash),
                "salt": _hex(self.salt),
                "deadline": self.deadline,
            },
        )

    def to_json(self) -> dict[str, Any]:
        """The terms as JSON: what the journal keeps, the API answers (``terms``) and certificates carry.

        Integers as numbers except ``territory`` (a 256-bit mask: ``"0x…"`` hex), byte strings as ``"0x…"`` hex,
        keys as in :data:`TERMS_TYPE`. :meth:`from_json` reads it back to equal terms."""
        return {
            "kind": self.kind,
            "assetId": self.asset_id,
            "grantees": list(self.grantees),
            "shares": list(self.shares),
            "licenceType": self.licence_type,
            "territory": hex(self.territory),
            "fieldOfUse": _hex(self.field_of_use),
            "sublicensable": self.sublicensable,
            "parentLicence": _hex(self.parent_licence),
            "start": self.start,
            "end": self.end,
            "documentHash": _hex(self.document_hash),
            "detailsHash": _hex(self.details_hash),
            "salt": _hex(self.salt),
            "deadline": self.deadline,
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Terms:
        """The terms of a :meth:`to_json` object (from the journal, an API answer or a certificate).

        Every field is required. A missing key raises ``KeyError``; a value of the wrong shape ``ValueError`` or
        ``TypeError``: callers that read untrusted JSON (a certificate) turn these into their own refusal."""

        def b(key: str) -> bytes:
            return bytes.fromhex(str(d[key])[2:])

        return cls(
            int(d["kind"]),
            int(d["assetId"]),
            tuple(int(x) for x in d["grantees"]),
            tuple(int(x) for x in d["shares"]),
            int(d["licenceType"]),
            int(str(d["territory"]), 16),
            b("fieldOfUse"),
            bool(d["sublicensable"]),
            b("parentLicence"),
            int(d["start"]),
            int(d["end"]),
            b("documentHash"),
            b("detailsHash"),
            b("salt"),
            int(d["deadline"]),
        )

    def agreement_id(self, domain: Domain) -> bytes:
        """The EIP-712 struct hash of the terms: the agreement's id on chain."""
        return struct_hash(self.message(domain))

    def as_tuple(self) -> tuple[Any, ...]:
        return (
            self.kind,
            self.asset_id,
            list(self.grantees),
            list(self.shares),
            self.licence_type,
            self.territory,
            self.field_of_use,
            self.sublicensable,
            self.parent_licence,
            self.start,
            self.end,
            self.document_hash,
            self.details_hash,
            self.salt,
            self.deadline,
        )


def termination_message(domain: Domain, agreement_id: bytes, deadline: int) -> dict[str, Any]:
    return _message(domain, "Termination", TERMINATION_TYPE, {"agreementId": _hex(agreement_id), "deadline": deadline})


def release_message(domain: Domain, agreement_id: bytes, deadline: int) -> dict[str, Any]:
    return _message(domain, "Release", RELEASE_TYPE, {"agreementId": _hex(agreement_id), "deadline": deadline})


def withdrawal_message(domain: Domain, agreement_id: bytes, deadline: int) -> dict[str, Any]:
    """What a party signs to withdraw its consent to terms before they take effect."""
    return _message(domain, "Withdrawal", WITHDRAWAL_TYPE, {"agreementId": _hex(agreement_id), "deadline": deadline})


def confirmation_message(domain: Domain, asset_id: int, register_extract_hash: bytes, deadline: int) -> dict[str, Any]:
    """What an asset verifier signs to confirm a claim against the patent register."""
    return _message(
        domain,
        "AssetConfirmation",
        ASSET_CONFIRMATION_TYPE,
        {"assetId": asset_id, "registerExtractHash": _hex(register_extract_hash), "deadline": deadline},
    )


def rejection_message(domain: Domain, asset_id: int, reason_hash: bytes, deadline: int) -> dict[str, Any]:
    """What an asset verifier signs to reject (strike) an unconfirmed claim."""
    return _message(
        domain,
        "ClaimRejection",
        CLAIM_REJECTION_TYPE,
        {"assetId": asset_id, "reasonHash": _hex(reason_hash), "deadline": deadline},
    )


def number_hash(normalised_number: str) -> bytes:
    """keccak-256 of the normalised number with its jurisdiction prefix, e.g. ``CN201710601862.3``."""
    return bytes(keccak(text=normalised_number))


def signature_tuple(account: str, signature: bytes) -> tuple[str, bytes]:
    return (to_checksum_address(account), signature)


# --- input checks shared by asset registrations and agreements (ledger.services.assets and .agreements) ---


def check_signing_window(deadline: int, now: int) -> None:
    """Refuses (field ``deadline``) a deadline further than MAX_SIGNING_WINDOW after ``now``, as the contracts would."""
    if deadline > now + MAX_SIGNING_WINDOW:
        raise InvalidInput(
            f"a signing deadline lies at most {MAX_SIGNING_WINDOW // 86400} days ahead "
            f"(latest now: {now + MAX_SIGNING_WINDOW})",
            field="deadline",
        )


def parse_signature(value: str, field: str = "signature") -> bytes:
    """The signature's bytes: hex (0x optional), 1 to 4096 bytes; otherwise InvalidInput naming ``field``."""
    try:
        raw = bytes.fromhex(value.removeprefix("0x"))
    except ValueError:
        raise InvalidInput("the signature is not hex", field=field) from None
    if not 0 < len(raw) <= 4096:
        raise InvalidInput("the signature is empty or too long", field=field)
    return raw


def parse_date(value: str | None, field: str) -> str | None:
    """An optional ISO date (YYYY-MM-DD), normalised; None when absent or empty."""
    if value in (None, ""):
        return None
    try:
        return date.fromisoformat(str(value)).isoformat()
    except ValueError:
        raise InvalidInput(f"{value!r} is not a date (YYYY-MM-DD)", field=field) from None


def parse_bps(value: Any, field: str) -> int:
    """A share or percentage in basis points: an int in 1..10000 (not a bool)."""
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= 10_000:
        raise InvalidInput("a share or percentage is given in basis points: 1..10000 (100% = 10000)", field=field)
    return value


def field_of_use_hash(text: str | None) -> bytes:
    """What a licence's ``fieldOfUse`` commits to: zero for every field (no text, blank or "all"); otherwise
    keccak-256 of the text trimmed, lower-cased and with its runs of white space made one space."""
    if text is None or text.strip() == "" or text.strip().lower() == "all":
        return ZERO32
    return bytes(keccak(text=" ".join(text.strip().lower().split())))
