"""A natural person's consent for a named recipient to obtain the named copy of certificates of their registrations
(docs/privacy.md "Consent to a named recipient"): the EIP-712 ``CertificateConsent`` the person signs, its fields and
their bounds. Pure: the signature is checked by ``ledger.services.persons``."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Any

from ledger.domain import eip712
from ledger.errors import InvalidInput

#: Bounds of a consent to a named recipient (docs/privacy.md "Consent to a named recipient").
MAX_CONSENT_WINDOW = 2 * 366 * 24 * 3600
MAX_CONSENT_BINDINGS = 16
MAX_RECIPIENT_CHARS = 200
MAX_PURPOSE_CHARS = 1000
MAX_CONSENTS_PER_PARTY = 256
MAX_PARTY_ID = 2**24 - 1


@dataclass(frozen=True)
class SignedConsent:
    """A ``CertificateConsent`` as the person signed it (docs/privacy.md): the message fields, the signing account
    and the 65-byte signature."""

    party_id: int
    recipient: str
    recipient_party: int
    bindings: tuple[bytes, ...]
    purpose: str
    expires: int
    nonce: int
    deadline: int
    account: str
    signature: bytes

    def message(self, domain: eip712.Domain) -> dict[str, Any]:
        return eip712.certificate_consent_message(
            domain,
            party_id=self.party_id,
            recipient=self.recipient,
            recipient_party=self.recipient_party,
            bindings=list(self.bindings),
            purpose=self.purpose,
            expires=self.expires,
            nonce=self.nonce,
            deadline=self.deadline,
        )

    def validated(self) -> SignedConsent:
        """Clear errors, naming the field, for what no valid consent holds (the signature is checked elsewhere)."""
        _text(self.recipient, "recipient", MAX_RECIPIENT_CHARS)
        _text(self.purpose, "purpose", MAX_PURPOSE_CHARS)
        if not 0 <= self.recipient_party <= MAX_PARTY_ID:
            raise InvalidInput(f"recipientParty must be 0 (none) to {MAX_PARTY_ID}", field="recipientParty")
        if not 1 <= self.party_id <= MAX_PARTY_ID:
            raise InvalidInput(f"partyId must be 1 to {MAX_PARTY_ID}", field="partyId")
        if not 1 <= len(self.bindings) <= MAX_CONSENT_BINDINGS:
            raise InvalidInput(f"a consent covers 1 to {MAX_CONSENT_BINDINGS} registrations", field="bindings")
        for i, b in enumerate(self.bindings):
            if len(b) != 32 or b == bytes(32):
                raise InvalidInput("a binding is 32 bytes, not all zeros", field=f"bindings[{i}]")
        if len(set(self.bindings)) != len(self.bindings):
            raise InvalidInput("a binding is listed twice", field="bindings")
        if not 0 <= self.expires < 2**64 or not 0 <= self.deadline < 2**64 or not 0 <= self.nonce < 2**64:
            raise InvalidInput("expires, deadline and nonce are unsigned 64-bit integers", field="expires")
        return self


def _text(value: str, field: str, limit: int) -> None:
    if not value.strip() or len(value) > limit:
        raise InvalidInput(f"{field} must be 1 to {limit} characters", field=field)
    if any(unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co", "Cn") for c in value):
        raise InvalidInput(f"{field} holds a control or unassigned character", field=field)
