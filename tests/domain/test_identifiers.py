from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.domain.identifiers import (
    CnPatentNumber,
    parse_cn_patent_number,
    validate_hk_brn,
    validate_hk_patent_number,
    validate_identifier,
    validate_other_identifier,
    validate_uscc,
)
from ledger.errors import InvalidInput

# --- USCC -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "normalised"),
    [
        ("91110108551385082Q", "91110108551385082Q"),
        ("91110000600037341L", "91110000600037341L"),
        ("  91110000600037341l ", "91110000600037341L"),
        ("91110108551385082q", "91110108551385082Q"),
    ],
)
def test_valid_usccs_are_accepted_and_upper_cased(value: str, normalised: str) -> None:
    assert validate_uscc(value) == normalised


def test_a_uscc_with_a_wrong_check_character_is_refused_with_the_expected_one() -> None:
    with pytest.raises(InvalidInput) as exc:
        validate_uscc("91110000600037341M")
    assert exc.value.field == "identifier"
    assert "check character" in exc.value.message
    assert "expected L" in exc.value.message


@pytest.mark.parametrize(
    "value",
    ["", "9111000060003734", "91110000600037341LL", "A1110000600037341L", "91110000600037341I", 91110000600037341],
)
def test_a_malformed_uscc_is_refused_as_a_format_error(value: Any) -> None:
    with pytest.raises(InvalidInput) as exc:
        validate_uscc(value)
    assert exc.value.field == "identifier"
    assert "check character" not in exc.value.message


# --- HK business registration -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "normalised"),
    [("12345678", "12345678"), (" 1234-5678 ", "12345678"), ("1234 5678", "12345678"), ("00000001", "00000001")],
)
def test_hk_business_registration_numbers_are_eight_digits(value: str, normalised: str) -> None:
    assert validate_hk_brn(value) == normalised


@pytest.mark.parametrize("value", ["", "1234567", "123456789", "1234567A", "12.345678", "١٢٣٤٥٦٧٨", "12345678\n"])
def test_other_hk_business_registration_numbers_are_refused(value: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        validate_hk_brn(value)
    assert exc.value.field == "identifier"


# --- other identifiers and dispatch -----------------------------------------------------------


@pytest.mark.parametrize("value", ["X", "LEI 529900T8BM49AURSDO55", "香港大學-001", " padded ", "a" * 64])
def test_other_identifiers_are_printable_strings_of_up_to_64_characters(value: str) -> None:
    assert validate_other_identifier(value) == value.strip()


@pytest.mark.parametrize("value", ["", "   ", "a" * 65, "tab\there", "new\nline", "nul\x00", "bidi\u202e"])
def test_other_identifiers_that_are_empty_long_or_unprintable_are_refused(value: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        validate_other_identifier(value)
    assert exc.value.field == "identifier"


@pytest.mark.parametrize(
    ("scheme", "value", "normalised"),
    [
        ("uscc", "91110108551385082q", "91110108551385082Q"),
        ("USCC", "91110000600037341L", "91110000600037341L"),
        ("hkbrn", "1234-5678", "12345678"),
        ("hk_brn", "12345678", "12345678"),
        ("other", " anything ", "anything"),
    ],
)
def test_identifiers_are_validated_by_their_scheme(scheme: str, value: str, normalised: str) -> None:
    assert validate_identifier(scheme, value) == normalised


def test_an_identifier_invalid_under_its_scheme_is_refused() -> None:
    with pytest.raises(InvalidInput, match="check character"):
        validate_identifier("uscc", "91110000600037341M")
    with pytest.raises(InvalidInput):
        validate_identifier("hkbrn", "91110000600037341L")


@pytest.mark.parametrize("scheme", ["", "lei", "brn", None])
def test_an_unknown_identifier_scheme_is_refused_naming_the_scheme_field(scheme: Any) -> None:
    with pytest.raises(InvalidInput) as exc:
        validate_identifier(scheme, "12345678")
    assert exc.value.field == "scheme"


# --- CN patent numbers ------------------------------------------------------------------------


def test_a_twelve_digit_application_number_is_parsed_into_its_parts() -> None:
    assert parse_cn_patent_number("201710601862.3") == CnPatentNumber(
        year=2017,
        type_digit=1,
        type_name="invention",
        serial="0601862",
        check="3",
        normalised="201710601862.3",
        zl_prefix=False,
    )


def test_a_zl_prefix_marks_a_granted_patent() -> None:
    number = parse_cn_patent_number("ZL201710601862.3")
    assert number.zl_prefix
    assert str(number) == "201710601862.3"


@pytest.mark.parametrize(
    "value",
    [
        "zl201710601862.3",
        "ZL 2017 1 0601862.3",
        "CN201710601862.3",
        "CNZL201710601862.3",
        "ZLCN201710601862.3",
        " 2017106018623 ",
    ],
)
def test_prefixes_spaces_and_case_are_normalised_away(value: str) -> None:
    assert parse_cn_patent_number(value).normalised == "201710601862.3"


@pytest.mark.parametrize(
    ("value", "year", "type_name", "normalised"),
    [
        ("95115608.X", 1995, "invention", "95115608.X"),
        ("95115608.x", 1995, "invention", "95115608.X"),
        ("97101765.4", 1997, "invention", "97101765.4"),
        ("ZL97101765.4", 1997, "invention", "97101765.4"),
    ],
)
def test_eight_digit_numbers_from_before_2003_are_accepted(
    value: str, year: int, type_name: str, normalised: str
) -> None:
    number = parse_cn_patent_number(value)
    assert (number.year, number.type_name, number.normalised) == (year, type_name, normalised)


def test_a_wrong_check_digit_is_refused_giving_the_expected_digit() -> None:
    with pytest.raises(InvalidInput) as exc:
        parse_cn_patent_number("201710601862.4")
    assert exc.value.field == "number"
    assert "check digit" in exc.value.message
    assert "expected 3" in exc.value.message
    assert exc.value.details["expected"] == "3"


def test_an_unknown_type_digit_is_refused_naming_it() -> None:
    with pytest.raises(InvalidInput) as exc:
        parse_cn_patent_number("201750601862.x")
    assert exc.value.field == "number"
    assert "type digit 5" in exc.value.message


@pytest.mark.parametrize(
    "value",
    [
        "12345",
        "",
        "201710601862",
        "201710601862.",
        "201710601862.33",
        "2017106018.3",
        "ZL",
        "XX201710601862.3",
        "ZLZL201710601862.3",
    ],
)
def test_a_malformed_patent_number_is_refused_as_a_format_error(value: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        parse_cn_patent_number(value)
    assert exc.value.field == "number"
    assert "not a CN patent number" in exc.value.message


@pytest.mark.parametrize("value", ["199910601862.1", "50115608.1"])
def test_years_outside_each_format_are_refused(value: str) -> None:
    with pytest.raises(InvalidInput, match="year"):
        parse_cn_patent_number(value)


def _with_check(body: str) -> str:
    weights = (2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5)
    remainder = sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11
    return f"{body}.{'X' if remainder == 10 else remainder}"


@settings(max_examples=50, deadline=None)
@given(
    year=st.integers(min_value=2003, max_value=2099),
    type_digit=st.sampled_from("12389"),
    serial=st.integers(min_value=0, max_value=9_999_999),
)
def test_any_well_formed_twelve_digit_number_parses_and_only_its_own_check_digit_passes(
    year: int, type_digit: str, serial: int
) -> None:
    number = _with_check(f"{year}{type_digit}{serial:07d}")
    parsed = parse_cn_patent_number(number)
    assert parsed.normalised == number
    assert parsed.serial == f"{serial:07d}"
    for wrong in "0123456789X":
        if wrong != parsed.check:
            with pytest.raises(InvalidInput, match=f"expected {parsed.check}"):
                parse_cn_patent_number(number[:-1] + wrong)


# --- HK patent numbers ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "normalised"),
    [
        ("HK1234567", "HK1234567"),
        (" hk30012345.6 ", "HK30012345.6"),
        ("1234567 (R)", "1234567 (R)"),
        ("HK-1/2", "HK-1/2"),
    ],
)
def test_hk_patent_numbers_are_upper_cased_free_strings(value: str, normalised: str) -> None:
    assert validate_hk_patent_number(value) == normalised


@pytest.mark.parametrize("value", ["", "   ", "A" * 33, "HK#123", "HK_123", "专利123", "ﬀ123"])
def test_hk_patent_numbers_outside_the_allowed_characters_are_refused(value: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        validate_hk_patent_number(value)
    assert exc.value.field == "number"
