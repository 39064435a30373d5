"""Natural persons' identity documents and the commitment that stands for them on chain."""

from __future__ import annotations

import hashlib

import pytest

from ledger.domain.identifiers import canonical_person_identifier, hkid_check_digit, validate_cn_ric, validate_hkid
from ledger.domain.parties import PartyProfile, PersonIdentity, person_commitment, person_keyed_hash
from ledger.errors import InvalidInput

# HKID check characters worked by hand (weights 9..2, space = 36, A = 10 … Z = 35, check = (11 - sum mod 11) mod 11):
#   A123456: 36*9 + 10*8 + 1*7 + 2*6 + 3*5 + 4*4 + 5*3 + 6*2 = 481; 481 mod 11 = 8; check 3
#   AB987654: 10*9 + 11*8 + 9*7 + 8*6 + 7*5 + 6*4 + 5*3 + 4*2 = 371; 371 mod 11 = 8; check 3
#   G123456: 36*9 + 16*8 + 77 = 529; 529 mod 11 = 1; check 10, written A


@pytest.mark.parametrize(
    ("given", "canonical"),
    [
        ("A123456(3)", "A123456(3)"),
        ("a1234563", "A123456(3)"),
        (" A 123456 (3) ", "A123456(3)"),
        ("AB987654(3)", "AB987654(3)"),
        ("G123456(A)", "G123456(A)"),
        ("g123456a", "G123456(A)"),
    ],
)
def test_a_valid_hkid_is_written_in_one_canonical_form(given: str, canonical: str) -> None:
    assert canonical_person_identifier("hkid", given) == canonical


@pytest.mark.parametrize(
    "bad", ["A987654(1)", "AB987654(2)", "G123456(0)", "A12345(3)", "ABC123456(3)", "A654321(3", "1234567(8)", ""]
)
def test_an_hkid_with_a_wrong_check_character_or_shape_is_refused_without_echoing_it(bad: str) -> None:
    with pytest.raises(InvalidInput) as err:
        validate_hkid(bad)
    assert err.value.field == "identifier"
    assert not bad or bad not in err.value.message


def test_the_hkid_check_digit_follows_the_worked_examples() -> None:
    assert [hkid_check_digit("A", "123456"), hkid_check_digit("AB", "987654"), hkid_check_digit("G", "123456")] == [
        "3",
        "3",
        "A",
    ]


def test_a_mainland_resident_identity_card_number_is_checked_by_iso_7064_mod_11_2() -> None:
    assert validate_cn_ric("11010519491231002x") == "11010519491231002X"
    with pytest.raises(InvalidInput, match="check character"):
        validate_cn_ric("110105194912310021")
    with pytest.raises(InvalidInput, match="18 characters"):
        validate_cn_ric("1101051949123100")
    with pytest.raises(InvalidInput, match="birth date"):
        validate_cn_ric("110105194913310021")  # month 13, check character right


def test_free_documents_and_passports_are_canonical_upper_case_ascii() -> None:
    assert canonical_person_identifier("moid", "1234567(8)") == "1234567(8)"
    assert canonical_person_identifier("twid", "a123456789") == "A123456789"
    assert canonical_person_identifier("passport", "gbr:123 456 789") == "GBR:123456789"
    for scheme, bad in [
        ("moid", "12"),
        ("twid", "A12345678901234567890123456"),
        ("passport", "123456789"),
        ("passport", "XXX:123456789"),
        ("moid", "１２３é４５"),
    ]:
        with pytest.raises(InvalidInput):
            canonical_person_identifier(scheme, bad)
    with pytest.raises(InvalidInput) as err:
        canonical_person_identifier("ssn", "123")
    assert err.value.field == "idScheme"


def test_the_commitment_is_the_documented_test_vector() -> None:
    # docs/privacy.md "The commitment": the same bytes, spelled out
    encoded = bytes.fromhex(
        "5169616e68616949504c65646765722e506572736f6e436f6d6d69746d656e742e7631"  # QianhaiIPLedger.PersonCommitment.v1
        "00"
        "04"
        "686b6964"
        "000a"
        "41313233343536283329"  # 0x00, len 4, "hkid", len 10, "A123456(3)"
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"  # salt 00 01 … 1f
    )
    expected = "0x9e02e313a8e98805fa067a111c42b21bae5dfedcf15c4afc942109a06d9bdf7c"
    assert "0x" + hashlib.sha256(encoded).hexdigest() == expected
    assert person_commitment("hkid", "A123456(3)", bytes(range(32))) == expected


def test_a_different_salt_scheme_or_identifier_gives_another_commitment() -> None:
    base = person_commitment("hkid", "A123456(3)", bytes(32))
    assert person_commitment("hkid", "A123456(3)", bytes(31) + b"\1") != base
    assert person_commitment("moid", "A123456(3)", bytes(32)) != base
    assert person_commitment("hkid", "AB987654(3)", bytes(32)) != base
    with pytest.raises(InvalidInput):
        person_commitment("hkid", "A123456(3)", bytes(16))


def test_the_keyed_hash_depends_on_the_service_key() -> None:
    a = person_keyed_hash(b"k" * 32, "hkid", "A123456(3)")
    assert a == person_keyed_hash(b"k" * 32, "hkid", "A123456(3)")
    assert a != person_keyed_hash(b"j" * 32, "hkid", "A123456(3)")
    assert a != person_keyed_hash(b"k" * 32, "cnric", "A123456(3)")


def test_an_individual_profile_carries_a_commitment_and_no_name() -> None:
    c = person_commitment("hkid", "A123456(3)", bytes(32))
    PartyProfile("individual", "hksar", "person_commitment", c, "", "").validated()
    for profile, field in [
        (PartyProfile("individual", "hksar", "person_commitment", c, "", "Chan Tai Man"), "nameZh"),
        (PartyProfile("individual", "hksar", "other", "A123456(3)", "", ""), "identifierScheme"),
        (PartyProfile("firm", "hksar", "person_commitment", c, "", "A Ltd"), "identifierScheme"),
        (PartyProfile("individual", "hksar", "person_commitment", c.upper(), "", ""), "identifier"),
    ]:
        with pytest.raises(InvalidInput) as err:
            profile.validated()
        assert err.value.field == field


def test_a_person_needs_a_name_and_consent() -> None:
    ok = PersonIdentity("hkid", "a1234563", "", " Chan Tai Man ", "I agree", "").validated()
    assert (ok.identifier, ok.name_en, ok.consent_version) == ("A123456(3)", "Chan Tai Man", "1")
    with pytest.raises(InvalidInput) as err:
        PersonIdentity("hkid", "A123456(3)", "", "", "I agree", "1").validated()
    assert err.value.field == "nameEn"
    with pytest.raises(InvalidInput) as err:
        PersonIdentity("hkid", "A123456(3)", "", "Chan", " ", "1").validated()
    assert err.value.field == "consent"


def test_creators_may_be_parties_with_their_roles_and_never_carry_a_persons_name() -> None:
    from ledger.domain.metadata import metadata_commitment, validate_metadata

    meta = validate_metadata(
        {
            "title": "Desk lamp",
            "creators": [{"partyId": 7, "role": "designer"}, " Studio Ltd ", {"role": "inventor", "partyId": 2}],
        }
    )
    assert meta["creators"] == [{"partyId": 7, "role": "designer"}, "Studio Ltd", {"partyId": 2, "role": "inventor"}]
    assert metadata_commitment(meta) != metadata_commitment({**meta, "creators": [{"partyId": 7, "role": "author"}]})
    for creator, field in [
        ({"partyId": 0, "role": "designer"}, "metadata.creators[0].partyId"),
        ({"partyId": True, "role": "designer"}, "metadata.creators[0].partyId"),
        ({"partyId": 7, "role": "owner"}, "metadata.creators[0].role"),
        ({"partyId": 7, "role": "designer", "name": "Chan Tai Man"}, "metadata.creators[0]"),
    ]:
        with pytest.raises(InvalidInput) as err:
            validate_metadata({"creators": [creator]})
        assert err.value.field == field
