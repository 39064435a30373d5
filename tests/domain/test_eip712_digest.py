"""ledger.domain.eip712.digest encodes flat messages itself (kept domain separators and type hashes); it must give
eth-account's bytes for every message builder, and for any other message either eth-account's bytes or, where
eth-account refuses the message, a refusal too."""

from __future__ import annotations

from typing import Any

from eth_account.messages import encode_typed_data
from eth_utils import keccak, to_checksum_address
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.domain import eip712

uint64 = st.integers(min_value=0, max_value=2**64 - 1)
uint256 = st.integers(min_value=0, max_value=2**256 - 1)
word = st.binary(min_size=32, max_size=32)
address = st.binary(min_size=20, max_size=20).map(lambda b: to_checksum_address(b))
domains = st.builds(
    eip712.Domain,
    chain_id=uint64,
    verifying_contract=address,
    name=st.sampled_from([eip712.EVIDENCE_DOMAIN_NAME, "QianhaiIPLedger.Agreements", "名字 ✓"]),
)


def eth_account_digest(message: dict[str, Any]) -> bytes:
    signable = encode_typed_data(full_message=message)
    return bytes(keccak(b"\x19" + signable.version + signable.header + signable.body))


messages = st.one_of(
    st.builds(
        lambda d, b, p, r, c, n, t: eip712.creator_endorsement_message(
            d, binding=b, registrant_party_id=p, role=r, creator=c, nonce=n, deadline=t
        ),
        domains,
        word,
        uint256,
        st.integers(0, 255),
        address,
        uint256,
        uint64,
    ),
    st.builds(
        lambda d, a, p, s, n, t: eip712.personal_data_request_message(
            d, action=a, party_id=p, subject=s, nonce=n, deadline=t
        ),
        domains,
        st.sampled_from(["show", "erase", "certificate"]),
        uint256,
        word,
        uint256,
        uint64,
    ),
    st.builds(  # an array member: eth-account's encoder, through the same function
        lambda d, p, b, n, t: eip712.certificate_consent_message(
            d,
            party_id=p,
            recipient="Recipient 甲",
            recipient_party=0,
            bindings=b,
            purpose="x",
            expires=t,
            nonce=n,
            deadline=t,
        ),
        domains,
        uint256,
        st.lists(word, max_size=3),
        uint256,
        uint64,
    ),
    st.builds(
        lambda d, b, a, m, s, r, n, t: eip712.evidence_message(
            d, binding=b, algorithm=a, metadata_commitment=m, supersedes=s, registrant=r, nonce=n, deadline=t
        ),
        domains,
        word,
        st.integers(0, 255),
        word,
        word,
        address,
        uint256,
        uint64,
    ),
    st.builds(
        lambda d, root, c, a, r, t: eip712.batch_submission_message(
            d, root=root, count=c, algorithm=a, registrant=r, deadline=t
        ),
        domains,
        word,
        st.integers(0, 2**32 - 1),
        st.integers(0, 255),
        address,
        uint64,
    ),
    st.builds(
        lambda d, p, act, a, b, th, n, t: eip712.account_change_message(
            d, party_id=p, action=act, account=a, new_account=b, threshold=th, nonce=n, deadline=t
        ),
        domains,
        st.integers(1, 2**32),
        st.sampled_from(sorted(eip712.ACCOUNT_ACTIONS)),
        address,
        address,
        st.integers(0, 255),
        uint64,
        uint64,
    ),
    st.builds(
        lambda d, p, a, t: eip712.recovery_veto_message(d, party_id=p, new_account=a, executable_at=t),
        domains,
        st.integers(1, 2**32),
        address,
        uint64,
    ),
    st.builds(
        lambda d, act, doc, h, t: eip712.document_action_message(d, act, doc, h, t),
        domains,
        st.text(max_size=40),
        st.text(max_size=40),
        word,
        uint64,
    ),
)


@settings(max_examples=300, deadline=None)
@given(messages)
def test_every_message_builder_digests_to_eth_accounts_bytes(message: dict[str, Any]) -> None:
    assert eip712.digest(message) == eth_account_digest(message)


# values of each atomic type, in range and not: the fast path must agree with eth-account or leave it to refuse
VALUES = {
    "uint8": st.one_of(st.integers(-2, 300), st.booleans(), st.just("7")),
    "uint256": st.one_of(st.integers(-(2**8), 2**257), st.just("0x10")),
    "bytes32": st.one_of(
        word.map(lambda b: "0x" + b.hex()), word, st.binary(max_size=40).map(lambda b: "0x" + b.hex())
    ),
    "address": st.one_of(
        address,
        address.map(str.lower),
        st.binary(min_size=19, max_size=21).map(lambda b: "0x" + b.hex()),
    ),
    "bool": st.one_of(st.booleans(), st.integers(0, 2)),
    "string": st.one_of(st.text(max_size=20), st.integers(0, 5)),
}


@st.composite
def flat_messages(draw: st.DrawFn) -> dict[str, Any]:
    kinds = draw(st.lists(st.sampled_from(sorted(VALUES)), min_size=1, max_size=6))
    fields = [{"name": f"f{i}", "type": kind} for i, kind in enumerate(kinds)]
    return {
        "types": {"EIP712Domain": eip712.EIP712_DOMAIN_TYPE, "Flat": fields},
        "primaryType": "Flat",
        "domain": draw(domains).to_json(),
        "message": {f["name"]: draw(VALUES[f["type"]]) for f in fields},
    }


@settings(max_examples=500, deadline=None)
@given(flat_messages())
def test_any_flat_message_digests_as_eth_account_does_or_is_refused_as_it_is(message: dict[str, Any]) -> None:
    try:
        expected: bytes | None = eth_account_digest(message)
    except Exception:  # noqa: BLE001 - eth-account refuses a bad value with several classes
        expected = None
    try:
        got: bytes | None = eip712.digest(message)
    except Exception:  # noqa: BLE001
        got = None
    assert got == expected
