"""The bounds of a natural person's consent to a named recipient (ledger/domain/consent.py): each refusal names its
field, and the signed message is the EIP-712 ``CertificateConsent`` of docs/privacy.md."""

from __future__ import annotations

import dataclasses

import pytest

from ledger.domain import eip712
from ledger.domain.consent import SignedConsent
from ledger.errors import InvalidInput

GOOD = SignedConsent(
    party_id=7,
    recipient="HKIAC",
    recipient_party=0,
    bindings=(b"\x01" * 32,),
    purpose="arbitration",
    expires=2_000_000_000,
    nonce=0,
    deadline=1_900_000_000,
    account="0x" + "11" * 20,
    signature=b"",
)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"recipient": " "}, "recipient"),
        ({"recipient": "x" * 201}, "recipient"),
        ({"recipient": "HKIAC\n"}, "recipient"),
        ({"purpose": "to\u202eexfiltrate"}, "purpose"),
        ({"recipient_party": 2**24}, "recipientParty"),
        ({"party_id": 0}, "partyId"),
        ({"bindings": ()}, "bindings"),
        ({"bindings": tuple(bytes([i]) * 32 for i in range(1, 18))}, "bindings"),
        ({"bindings": (b"\x01" * 32, b"\x01" * 32)}, "bindings"),
        ({"bindings": (bytes(32),)}, "bindings[0]"),
        ({"expires": 2**64}, "expires"),
    ],
)
def test_a_consent_out_of_bounds_is_refused_naming_the_field(change: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        dataclasses.replace(GOOD, **change).validated()  # type: ignore[arg-type]
    assert refused.value.field == field
    assert "HKIAC" not in refused.value.message


def test_the_signed_message_is_the_documented_type() -> None:
    assert GOOD.validated() is GOOD
    message = GOOD.message(eip712.Domain(1, "0x" + "22" * 20))
    assert message["primaryType"] == "CertificateConsent"
    assert eip712.type_string("CertificateConsent", message["types"]["CertificateConsent"]) == (
        "CertificateConsent(uint256 partyId,string recipient,uint256 recipientParty,bytes32[] bindings,"
        "string purpose,uint64 expires,uint256 nonce,uint64 deadline)"
    )
    assert message["message"]["bindings"] == ["0x" + "01" * 32]
    other = dataclasses.replace(GOOD, bindings=(b"\x02" * 32,)).message(eip712.Domain(1, "0x" + "22" * 20))
    assert eip712.digest(message) != eip712.digest(other)
