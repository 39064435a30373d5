"""Terms JSON: one (de)serialiser for the journal, the API, the CLI and agreement certificates."""

from __future__ import annotations

import json

import pytest
from eth_utils import keccak
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.domain import agreements as ag
from ledger.domain.codes import AgreementKind, LicenceType

bytes32 = st.binary(min_size=32, max_size=32)
uint64 = st.integers(min_value=0, max_value=2**64 - 1)
TERMS = st.builds(
    ag.Terms,
    kind=st.sampled_from([int(k) for k in AgreementKind.choices()]),
    asset_id=st.integers(1, 2**256 - 1),
    grantees=st.lists(st.integers(1, 2**24 - 1), max_size=4).map(tuple),
    shares=st.lists(st.integers(0, 10_000), max_size=4).map(tuple),
    licence_type=st.sampled_from([int(t) for t in LicenceType]),
    territory=st.integers(0, 2**256 - 1),
    field_of_use=bytes32,
    sublicensable=st.booleans(),
    parent_licence=bytes32,
    start=uint64,
    end=uint64,
    document_hash=bytes32,
    details_hash=bytes32,
    salt=bytes32,
    deadline=uint64,
)


@settings(max_examples=60, deadline=None)
@given(terms=TERMS)
def test_terms_survive_a_round_trip_through_json_text(terms: ag.Terms) -> None:
    again = ag.Terms.from_json(json.loads(json.dumps(terms.to_json())))
    assert again == terms
    assert again.as_tuple() == terms.as_tuple()


def test_terms_json_has_the_eip712_field_names_and_writes_hex_for_bytes_and_the_territory() -> None:
    terms = ag.Terms(
        int(AgreementKind.LICENCE),
        7,
        (3,),
        (),
        int(LicenceType.SOLE),
        territory=0x81,
        sublicensable=True,
        salt=b"\x01" * 32,
        deadline=99,
    )
    doc = terms.to_json()
    assert list(doc) == [f["name"] for f in ag.TERMS_TYPE]
    assert doc["territory"] == "0x81" and doc["salt"] == "0x" + "01" * 32 and doc["fieldOfUse"] == "0x" + "00" * 32
    assert doc["kind"] == 2 and doc["grantees"] == [3] and doc["sublicensable"] is True


@pytest.mark.parametrize(
    ("key", "value", "error"),
    [("kind", "licence", ValueError), ("territory", None, ValueError), ("grantees", 5, TypeError)],
)
def test_malformed_terms_json_raises_what_a_certificate_verifier_catches(
    key: str, value: object, error: type[Exception]
) -> None:
    doc = ag.Terms(int(AgreementKind.ASSIGNMENT), 1, (2,), (10_000,)).to_json()
    with pytest.raises(error):
        ag.Terms.from_json({**doc, key: value})
    del doc["salt"]
    with pytest.raises(KeyError):
        ag.Terms.from_json(doc)


def test_a_field_of_use_commits_to_its_words_whatever_their_case_and_spacing() -> None:
    for every in (None, "", "  ", "all", " ALL "):
        assert ag.field_of_use_hash(every) == ag.ZERO32
    assert ag.field_of_use_hash(" Lithium  battery\nseparators ") == keccak(text="lithium battery separators")
    assert ag.field_of_use_hash("锂电池隔膜") == keccak(text="锂电池隔膜")
    assert ag.field_of_use_hash("batteries") != ag.field_of_use_hash("battery")
