"""The pure half of evidence (ledger/domain/evidence.py): status names, signature parsing, signed requests."""

from __future__ import annotations

import pytest

from ledger.domain import eip712, evidence
from ledger.domain.evidence import (
    PUBLIC_STATUS,
    parse_signature,
    recover_digest,
    sign_batch,
    sign_single,
)
from ledger.errors import InvalidInput
from tests.helpers import account, h


def test_every_journal_state_has_a_public_status_name() -> None:
    states = {
        evidence.QUEUED,
        evidence.SENDING,
        evidence.SENT,
        evidence.ANCHORED,
        evidence.FINAL,
        evidence.REJECTED,
        evidence.EXPIRED,
    }
    assert set(PUBLIC_STATUS) == states


@pytest.mark.parametrize(
    ("value", "why"), [("0xzz", "not hex"), ("0x", "empty"), ("0x" + "00" * 4097, "longer than 4096")]
)
def test_a_malformed_signature_is_refused_naming_the_field(value: str, why: str) -> None:
    with pytest.raises(InvalidInput, match=why) as refused:
        parse_signature(value, "signatures[0].signature")
    assert refused.value.field == "signatures[0].signature"


def test_a_signed_single_recovers_to_its_registrant_and_a_batch_carries_its_bindings() -> None:
    acct = account("domain-evidence")
    domain = eip712.Domain(31337, "0x" + "11" * 20)
    req = sign_single(acct, domain, binding=h("a"), algorithm=1, nonce=0, deadline=10**10)
    assert recover_digest(eip712.digest(req.message(domain)), req.signature) == acct.address
    assert recover_digest(b"\0" * 32, b"\1" * 3) is None
    batch = sign_batch(acct, domain, bindings=[h("a"), h("b")], algorithm=1, deadline=10**10, party_id=3)
    assert batch.hashes == [h("a"), h("b")] and batch.registrant == acct.address and batch.party_id == 3
