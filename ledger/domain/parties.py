"""Parties as the ledger types them: the profile a registrar or governance admits, account addresses as parsed
from input, and the one rule for an account that must be of an active party, with the refusals each use of it
answers with (docs/security.md).

Pure: the chain's answer (``partyOf(account)``: the party id, 0 for none, and whether it is active) is read by
``ledger.services.parties.PartyService.active_party``, which applies :func:`ensure_active` to it.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from eth_typing import ChecksumAddress
from eth_utils import is_address, to_checksum_address

from ledger.domain.codes import IdentifierScheme, Jurisdiction, PartyKind
from ledger.domain.identifiers import PERSON_SCHEMES, canonical_identifier, canonical_person_identifier
from ledger.domain.inputs import check_text
from ledger.errors import (
    InvalidInput,
    LedgerError,
    PartyNotActive,
    PermissionDenied,
    SignatureRejected,
)

KINDS = {k.word: k for k in PartyKind.choices()}
JURISDICTIONS = {j.word: j for j in Jurisdiction.choices()}
SCHEMES = {s.word: s for s in IdentifierScheme.choices()}
MAX_ACCOUNTS = 16
MAX_NAME = 200


@dataclass(frozen=True)
class PartyProfile:
    kind: str
    jurisdiction: str
    identifier_scheme: str
    identifier: str
    name_zh: str
    name_en: str

    def validated(self) -> PartyProfile:
        if self.kind not in KINDS:
            raise InvalidInput(f"kind must be one of {', '.join(KINDS)}", field="kind")
        person = self.kind == PartyKind.INDIVIDUAL.word
        if person != (self.identifier_scheme == IdentifierScheme.PERSON_COMMITMENT.word):
            raise InvalidInput(
                "an individual, and only an individual, is identified by a person commitment (admit a natural person "
                "with its identity document: the service keeps it off chain)",
                field="identifierScheme",
            )
        if person:
            if self.name_zh or self.name_en:
                raise InvalidInput("an individual's name never goes on chain", field="nameZh")
            if self.jurisdiction not in JURISDICTIONS:
                raise InvalidInput(f"jurisdiction must be one of {', '.join(JURISDICTIONS)}", field="jurisdiction")
            if not COMMITMENT_RE.fullmatch(self.identifier):
                raise InvalidInput("a person commitment is 0x and 64 lower-case hex digits", field="identifier")
            return self
        if self.jurisdiction not in JURISDICTIONS:
            raise InvalidInput(f"jurisdiction must be one of {', '.join(JURISDICTIONS)}", field="jurisdiction")
        if self.identifier_scheme not in SCHEMES:
            raise InvalidInput(f"identifierScheme must be one of {', '.join(SCHEMES)}", field="identifierScheme")
        check_text(self.identifier, "identifier", max_length=64)
        try:
            identifier = canonical_identifier(self.identifier_scheme, self.identifier)
        except InvalidInput as exc:
            raise InvalidInput(exc.message, field="identifier") from None
        if self.identifier_scheme == IdentifierScheme.USCC.word and self.jurisdiction != Jurisdiction.MAINLAND.word:
            raise InvalidInput(
                "a USCC identifies a mainland entity: jurisdiction must be mainland", field="jurisdiction"
            )
        for field, value in (("nameZh", self.name_zh), ("nameEn", self.name_en)):
            check_text(value, field, max_length=MAX_NAME)  # NFC, no control, bidi or zero-width characters
        name_zh, name_en = self.name_zh.strip(), self.name_en.strip()
        if not name_zh and not name_en:
            raise InvalidInput("a party needs a name in Chinese or English", field="nameZh")
        for field, value in (("nameZh", name_zh), ("nameEn", name_en)):
            if len(value) > MAX_NAME:
                raise InvalidInput(f"{field} is longer than {MAX_NAME} characters", field=field)
        return PartyProfile(self.kind, self.jurisdiction, self.identifier_scheme, identifier, name_zh, name_en)

    def as_tuple(self) -> tuple[Any, ...]:
        return (
            int(KINDS[self.kind]),
            int(JURISDICTIONS[self.jurisdiction]),
            int(SCHEMES[self.identifier_scheme]),
            self.identifier,
            self.name_zh,
            self.name_en,
        )


# --- natural persons: identity kept off chain -------------------------------------------------------

COMMITMENT_RE = re.compile(r"0x[0-9a-f]{64}")
#: Domain separation tag of a person commitment (docs/privacy.md, "The commitment").
COMMITMENT_TAG = b"QianhaiIPLedger.PersonCommitment.v1"
SALT_BYTES = 32


def person_commitment(scheme: str, identifier: str, salt: bytes) -> str:
    """The on-chain identifier of a natural person: ``"0x"`` + lower-case hex of
    SHA-256(tag ‖ 0x00 ‖ u8 len(scheme) ‖ scheme ‖ u16be len(identifier) ‖ identifier ‖ salt), with the tag
    ``QianhaiIPLedger.PersonCommitment.v1``, the scheme word and the canonical identifier in ASCII, and a 32-byte
    salt. Without the salt it says nothing about the person; with identifier and salt anyone recomputes it."""
    if scheme not in PERSON_SCHEMES:
        raise InvalidInput(
            f"identifier scheme of a person must be one of {', '.join(PERSON_SCHEMES)}", field="idScheme"
        )
    if len(salt) != SALT_BYTES:
        raise InvalidInput(f"a salt is {SALT_BYTES} bytes (64 hex digits)", field="salt")
    s, i = scheme.encode("ascii"), identifier.encode("ascii")
    data = COMMITMENT_TAG + b"\x00" + len(s).to_bytes(1, "big") + s + len(i).to_bytes(2, "big") + i + salt
    return "0x" + hashlib.sha256(data).hexdigest()


def new_salt() -> bytes:
    return secrets.token_bytes(SALT_BYTES)


def person_keyed_hash(service_key: bytes, scheme: str, identifier: str) -> str:
    """HMAC-SHA256(service key, scheme ‖ "|" ‖ canonical identifier), hex: how the service finds a person admitted
    twice without keeping a searchable plaintext index, and without the public commitment (salted) telling."""
    return hmac.new(service_key, f"{scheme}|{identifier}".encode("ascii"), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class PersonIdentity:
    """What a natural person gives the service at admission: never sent on chain (docs/privacy.md)."""

    id_scheme: str
    identifier: str
    name_zh: str
    name_en: str
    consent_text: str
    consent_version: str

    def validated(self) -> PersonIdentity:
        identifier = canonical_person_identifier(self.id_scheme, self.identifier)
        for field, value in (("nameZh", self.name_zh), ("nameEn", self.name_en)):
            check_text(value, field, max_length=MAX_NAME)
        name_zh, name_en = self.name_zh.strip(), self.name_en.strip()
        if not name_zh and not name_en:
            raise InvalidInput("a person needs a name in Chinese or English", field="nameEn")
        check_text(self.consent_text, "consent", max_length=4000)
        if not self.consent_text.strip():
            raise InvalidInput(
                "the person's consent to the processing of their personal information is required", field="consent"
            )
        check_text(self.consent_version, "consentVersion", max_length=64)
        return PersonIdentity(
            self.id_scheme, identifier, name_zh, name_en, self.consent_text.strip(), self.consent_version.strip() or "1"
        )


def parse_account(value: str, field: str = "account") -> ChecksumAddress:
    """An account address: 0x and 40 hex characters, its EIP-55 checksum right when it has mixed case."""
    if not isinstance(value, str) or not is_address(value):
        raise InvalidInput(f"{value!r} is not an account address (0x and 40 hex characters)", field=field)
    body = value[2:]
    if body != body.lower() and body != body.upper() and to_checksum_address(value) != value:
        raise InvalidInput(f"{value} has a wrong EIP-55 checksum", field=field)
    return to_checksum_address(value)


# --- an account of an active party ------------------------------------------------------------------

#: How a use of the rule refuses an account that is of no party (party id 0) or of a suspended party: given the
#: account, the party id (0 for none) and the input field at fault, the error to raise.
Refusal = Callable[[str, int, str], LedgerError]


def as_registrant(account: str, party_id: int, field: str) -> LedgerError:
    """A registrant of evidence: the contract's own errors (``AccountNotAParty``, ``PartyNotActive``)."""
    if not party_id:
        return PartyNotActive(
            "AccountNotAParty",
            {"account": account},
            f"account {account} is not an account of any admitted party",
            field=field,
        )
    return PartyNotActive("PartyNotActive", {"partyId": party_id}, f"party {party_id} is suspended", field=field)


def as_actor(account: str, party_id: int, field: str) -> LedgerError:
    """Someone acting on documents (403, the same words for no party and a suspended one)."""
    return PermissionDenied(f"{account} is not an account of an active party", field=field)


def as_signer(account: str, party_id: int, field: str) -> LedgerError:
    """A signer of an agreement's terms (the contract's ``AgreementSignerNotActive``)."""
    return SignatureRejected(
        "AgreementSignerNotActive", {"signer": account}, f"{account} is not an account of an active party", field=field
    )


def as_cosigner(account: str, party_id: int, field: str) -> LedgerError:
    """A signer among known parties (registration, termination): its party is one of them but suspended."""
    return SignatureRejected(
        "AgreementSignerNotActive", {"signer": account}, f"party {party_id} is suspended", field=field
    )


def as_verifier(account: str, party_id: int, field: str) -> LedgerError:
    """An asset verifier deciding a claim: its party is a verifier but suspended."""
    return PartyNotActive(
        "AgreementSignerNotActive", {"signer": account}, f"asset verifier party {party_id} is suspended", field=field
    )


def as_arbitrator(account: str, party_id: int, field: str) -> LedgerError:
    """An arbitrator signing for its institution: the institution is suspended."""
    return InvalidInput(f"{account} is not active", field=field)


def ensure_active(account: str, party_id: int, active: bool, *, field: str, refuse: Refusal = as_actor) -> int:
    """The party id of ``account`` given the chain's ``partyOf`` answer; ``refuse(...)`` raised when the account is of
    no party (``party_id`` 0) or of a suspended one."""
    if not party_id or not active:
        raise refuse(account, int(party_id), field)
    return int(party_id)
