"""Canonical JSON (RFC 8785): the bytes every commitment and certificate hashes (ledger.domain.canonical_json)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.domain.canonical_json import canonical_json
from ledger.errors import InvalidInput

# --- canonical JSON ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"b": 1, "a": 2}, b'{"a":2,"b":1}'),
        ({"a": [1, {"d": None, "c": True}], "0": False}, b'{"0":false,"a":[1,{"c":true,"d":null}]}'),
        ([], b"[]"),
        ({}, b"{}"),
        ("", b'""'),
        (-0.0, b"0"),
        (1.0, b"1"),
        (-42, b"-42"),
        (2**53 - 1, b"9007199254740991"),
        ('\u20ac$\u000f\nA\'B"\\\\"/', b'"\xe2\x82\xac$\\u000f\\nA\'B\\"\\\\\\\\\\"/"'),
        ("\x00\x08\t\n\x0b\x0c\r\x1f\x7f", b'"\\u0000\\b\\t\\n\\u000b\\f\\r\\u001f\x7f"'),
        ("\u2028 ü 中文 😀", '"\u2028 ü 中文 😀"'.encode()),
    ],
)
def test_canonical_json_matches_known_examples(value: object, expected: bytes) -> None:
    assert canonical_json(value) == expected


def test_canonical_json_sorts_keys_by_utf16_code_units_as_in_rfc_8785() -> None:
    # RFC 8785 section 3.2.3's example: U+10000 (surrogates D800 DC00) sorts before U+FB33,
    # although it comes after it in code point order.
    value = {
        "\u20ac": "Euro Sign",
        "\r": "Carriage Return",
        "\ufb33": "Hebrew Letter Dalet With Dagesh",
        "1": "One",
        "\U0001f600": "Emoji: Grinning Face",
        "\u0080": "Control",
        "\u00f6": "Latin Small Letter O With Diaeresis",
    }
    keys = list(json.loads(canonical_json(value)))
    assert keys == ["\r", "1", "\u0080", "\u00f6", "\u20ac", "\U0001f600", "\ufb33"]


def test_canonical_json_of_nested_metadata_is_compact_utf8() -> None:
    value = {"title": "專利 説明書", "creators": ["Chan Tai Man", "李雷"], "n": {"z": [], "y": {}}}
    expected = '{"creators":["Chan Tai Man","李雷"],"n":{"y":{},"z":[]},"title":"專利 説明書"}'.encode()
    assert canonical_json(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        0.5,
        float("nan"),
        float("inf"),
        -float("inf"),
        2**53,
        -(2**53),
        1e300,
        {1: "x"},
        {("a",): 1},
        {"a": {"b": [1, 2, b"bytes"]}},
        {"a": {1, 2}},
        "\ud800",
        {"\udc00": 1},
    ],
)
def test_canonical_json_refuses_what_it_cannot_encode_exactly(value: object) -> None:
    with pytest.raises(InvalidInput):
        canonical_json(value)


def test_canonical_json_errors_locate_the_bad_value() -> None:
    with pytest.raises(InvalidInput) as exc:
        canonical_json({"creators": ["a", 1.5]}, field="metadata")
    assert exc.value.field == "metadata.creators[1]"
    assert "metadata.creators[1]" in exc.value.message


def test_canonical_json_refuses_excessive_nesting() -> None:
    value: Any = []
    for _ in range(100):
        value = [value]
    with pytest.raises(InvalidInput, match="nested"):
        canonical_json(value)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
    | st.text(st.characters(codec="utf-8"), max_size=12),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(st.characters(codec="utf-8"), max_size=6), children, max_size=4)
    ),
    max_leaves=20,
)


def _reordered(value: Any, rng: Any) -> Any:
    if isinstance(value, dict):
        items = list(value.items())
        rng.shuffle(items)
        return {k: _reordered(v, rng) for k, v in items}
    if isinstance(value, list):
        return [_reordered(v, rng) for v in value]
    return value


@settings(max_examples=60, deadline=None)
@given(value=json_values, rng=st.randoms(use_true_random=False))
def test_canonical_json_is_stable_under_dict_reordering_and_parses_back(value: Any, rng: Any) -> None:
    encoded = canonical_json(value)
    assert canonical_json(_reordered(value, rng)) == encoded
    assert json.loads(encoded) == value
    assert encoded == _reference_jcs(value)


def _utf16_ordered(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _utf16_ordered(value[k]) for k in sorted(value, key=lambda k: k.encode("utf-16-be"))}
    if isinstance(value, list):
        return [_utf16_ordered(v) for v in value]
    return value


def _reference_jcs(value: Any) -> bytes:
    """An independent JCS for floats-free values: Python's json escapes strings as JCS does."""
    return json.dumps(_utf16_ordered(value), ensure_ascii=False, separators=(",", ":")).encode()
