"""Certificates: build → JSON → parse round trips exactly, and malformed documents name their field."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.certificates import evidence as certificate
from ledger.domain.merkle import MerkleTree, leaf_hash

b32 = st.binary(min_size=32, max_size=32)
address = st.binary(min_size=20, max_size=20).map(lambda b: "0x" + b.hex())
text = st.text(max_size=40)


@st.composite
def certificates(draw: st.DrawFn) -> dict[str, Any]:
    batched = draw(st.booleans())
    batch = None
    if batched:
        n = draw(st.integers(1, 40))
        leaves = [leaf_hash(draw(b32)) for _ in range(n)]
        i = draw(st.integers(0, n - 1))
        m = draw(st.integers(1, 9))
        bl = [leaf_hash(draw(b32)) for _ in range(m)]
        j = draw(st.integers(0, m - 1))
        t1, t2 = MerkleTree(leaves), MerkleTree(bl)
        batch = {
            "submission": {
                "root": "0x" + t1.root.hex(),
                "count": n,
                "deadline": draw(st.integers(0, 2**40)),
                "signature": "0x" + draw(st.binary(min_size=65, max_size=65)).hex(),
                "proof": t1.inclusion_proof(i).to_json(),
            },
            "batch": {"root": "0x" + t2.root.hex(), "proof": t2.inclusion_proof(j).to_json()},
        }
    salt = draw(st.one_of(st.none(), b32))
    return certificate.build(
        content_hash=draw(st.one_of(st.none(), b32)),
        algorithm=draw(st.sampled_from([1, 2])),
        binding=draw(b32),
        salt=salt,
        metadata_commitment=None if batched else draw(st.one_of(st.none(), b32)),
        supersedes=None if batched else draw(st.one_of(st.none(), b32)),
        metadata=None,
        account=draw(address),
        party_id=draw(st.integers(1, 2**24 - 1)),
        party={"identifierScheme": "USCC", "identifier": draw(text), "nameZh": draw(text), "nameEn": draw(text)},
        chain_id=draw(st.integers(1, 2**40)),
        contract=draw(address),
        tx_hash="0x" + draw(b32).hex(),
        block_number=draw(st.integers(0, 2**40)),
        block_hash="0x" + draw(b32).hex(),
        block_timestamp=draw(st.integers(0, 2**40)),
        batch=batch,
        registrations=draw(
            st.one_of(
                st.none(),
                st.builds(
                    lambda n, listed: {"asOfBlock": n, "count": len(listed), "listed": listed},
                    st.integers(0, 2**40),
                    st.lists(
                        st.builds(
                            lambda p, b, m, n, t: {
                                "partyId": p,
                                "binding": "0x" + b.hex(),
                                "method": m,
                                "blockNumber": n,
                                "blockTimestamp": t,
                            },
                            st.integers(1, 2**24 - 1),
                            b32,
                            st.sampled_from(["direct", "batch"]),
                            st.integers(0, 2**40),
                            st.integers(0, 2**40),
                        ),
                        max_size=3,
                    ),
                ),
            )
        ),
    )


@settings(max_examples=150, deadline=None)
@given(certificates())
def test_a_certificate_survives_a_json_round_trip_and_parses(doc: dict[str, Any]) -> None:
    again = json.loads(json.dumps(doc, ensure_ascii=False))
    assert again == doc
    assert certificate.parse(again).raw == doc
    if doc["anchor"]["method"] == "batch":
        assert certificate.parse(again).submission_proof.to_json() == doc["anchor"]["submission"]["proof"]


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (("format",), "other", "format"),
        (("version",), 1, "version"),
        (("evidence", "binding"), None, "evidence.binding"),
        (
            ("registrations",),
            {
                "asOfBlock": 1,
                "count": 1,
                "listed": [
                    {
                        "partyId": 0,
                        "binding": "0x" + "01" * 32,
                        "method": "direct",
                        "blockNumber": 1,
                        "blockTimestamp": 5,
                    }
                ],
            },
            "registrations.listed[0].partyId",
        ),
        (("evidence", "contentHash"), "0x12", "evidence.contentHash"),
        (("evidence", "algorithm"), "md5", "evidence.algorithm"),
        (("registrant", "account"), "0xnot", "registrant.account"),
        (("registrant", "partyId"), 0, "registrant.partyId"),
        (("chain", "chainId"), "1", "chain.chainId"),
        (("anchor", "method"), "other", "anchor.method"),
        (("anchor", "blockNumber"), -1, "anchor.blockNumber"),
        (("anchor", "blockHash"), "0x" + "AB" * 32, "anchor.blockHash"),
        # a boolean is not an integer (Python's True == 1 and isinstance(True, int))
        (("version",), True, "version"),
        (("registrant", "partyId"), True, "registrant.partyId"),
        (("anchor", "blockNumber"), True, "anchor.blockNumber"),
        (("chain", "chainId"), 2**63, "chain.chainId"),
        (("registrant", "identifierScheme"), "UNKNOWN", "registrant.identifierScheme"),
        # batch-only members are forbidden in a direct certificate
        (("anchor", "submission"), {}, "anchor.submission"),
        (("anchor", "batch"), {}, "anchor.batch"),
    ],
)
def test_malformed_fields_are_named(path: tuple[str, ...], value: Any, field: str) -> None:
    doc = certificate.build(
        content_hash=b"\1" * 32,
        algorithm=1,
        binding=b"\1" * 32,
        salt=None,
        metadata_commitment=None,
        supersedes=None,
        metadata=None,
        account="0x" + "11" * 20,
        party_id=1,
        party={"identifierScheme": "USCC", "identifier": "x", "nameZh": "甲", "nameEn": "A"},
        chain_id=1,
        contract="0x" + "22" * 20,
        tx_hash="0x" + "33" * 32,
        block_number=1,
        block_hash="0x" + "44" * 32,
        block_timestamp=5,
    )
    target = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(certificate.CertificateMalformed) as err:
        certificate.parse(doc)
    assert err.value.field == field


def test_a_batch_certificate_with_a_truncated_proof_is_malformed() -> None:
    t = MerkleTree([leaf_hash(bytes([i]) * 32) for i in range(5)])
    proof = t.inclusion_proof(2).to_json()
    proof["path"] = proof["path"][:-1]
    doc = certificate.build(
        content_hash=b"\1" * 32,
        algorithm=1,
        binding=b"\1" * 32,
        salt=None,
        metadata_commitment=None,
        supersedes=None,
        metadata=None,
        account="0x" + "11" * 20,
        party_id=1,
        party={"identifierScheme": "USCC", "identifier": "x", "nameZh": "甲", "nameEn": "A"},
        chain_id=1,
        contract="0x" + "22" * 20,
        tx_hash="0x" + "33" * 32,
        block_number=1,
        block_hash="0x" + "44" * 32,
        block_timestamp=5,
        batch={
            "submission": {"root": "0x" + t.root.hex(), "count": 5, "deadline": 9, "signature": "0x00", "proof": proof},
            "batch": {"root": "0x" + t.root.hex(), "proof": t.inclusion_proof(0).to_json()},
        },
    )
    with pytest.raises(certificate.CertificateMalformed) as err:
        certificate.parse(doc)
    assert err.value.field == "anchor.submission.proof"


@pytest.mark.parametrize(
    ("path", "field"),
    [
        (("registrations",), "registrations"),
        (("evidence", "salt"), "evidence.salt"),
        (("evidence", "metadataCommitment"), "evidence.metadataCommitment"),
        (("evidence", "contentHash"), "evidence.contentHash"),
        (("registrant", "nameZh"), "registrant.nameZh"),
        (("anchor", "blockTimestamp"), "anchor.blockTimestamp"),
    ],
)
def test_a_missing_member_is_not_null(path: tuple[str, ...], field: str) -> None:
    """A required member must be present even where its value may be null (docs/certificate.md §3)."""
    doc = certificate.build(
        content_hash=b"\1" * 32,
        algorithm=1,
        binding=b"\1" * 32,
        salt=None,
        metadata_commitment=None,
        supersedes=None,
        metadata=None,
        account="0x" + "11" * 20,
        party_id=1,
        party={"identifierScheme": "USCC", "identifier": "x", "nameZh": "甲", "nameEn": "A"},
        chain_id=1,
        contract="0x" + "22" * 20,
        tx_hash="0x" + "33" * 32,
        block_number=1,
        block_hash="0x" + "44" * 32,
        block_timestamp=5,
    )
    certificate.parse(doc)  # genuine shape
    target = doc
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    with pytest.raises(certificate.CertificateMalformed) as err:
        certificate.parse(doc)
    assert err.value.field == field and "required member missing" in err.value.message


def test_the_json_text_rules() -> None:
    """Duplicate member names, NaN and texts over 65,536 bytes of UTF-8 are refused; unknown members are kept."""
    with pytest.raises(certificate.CertificateMalformed, match="'version' twice"):
        certificate.loads(b'{"format": "x", "version": 2, "version": 2}')
    with pytest.raises(certificate.CertificateMalformed, match="'a' twice"):
        certificate.loads(b'{"evidence": {"a": 1, "a": 1}}')
    with pytest.raises(ValueError, match="not JSON"):
        certificate.loads(b'{"version": NaN}')
    exact = b'{"x": "' + b"a" * (certificate.MAX_CERTIFICATE_BYTES - 9) + b'"}'
    assert len(exact) == certificate.MAX_CERTIFICATE_BYTES == 65_536
    assert certificate.loads(exact)["x"].startswith("a")
    # counted in bytes of UTF-8, not characters: 3 bytes per 甲
    over = '{"x": "' + "甲" * (certificate.MAX_CERTIFICATE_BYTES // 3) + '"}'
    assert len(over) < certificate.MAX_CERTIFICATE_BYTES
    with pytest.raises(certificate.CertificateMalformed, match="65,536 bytes"):
        certificate.loads(over)
    assert certificate.loads(b'{"unknown": 1}') == {"unknown": 1}
