from __future__ import annotations

import hashlib
import io
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.domain import hashing
from ledger.domain.hashing import (
    HashAlgorithm,
    hash_bytes,
    hash_file,
    hash_stream,
    new_hasher,
    new_salt,
    parse_algorithm,
    parse_hash,
    private_binding,
    public_binding,
)
from ledger.errors import InvalidInput, PayloadTooLarge

SM3_ABC = "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
SHA256_ABC = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
SHA256_EMPTY = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
SAMPLE_HASH = bytes.fromhex(SHA256_ABC)


# --- algorithms and hashing -------------------------------------------------------------------


def test_algorithm_values_match_the_solidity_enum() -> None:
    assert HashAlgorithm.SHA256.value == 1
    assert HashAlgorithm.SM3.value == 2


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("sha256", HashAlgorithm.SHA256),
        ("SHA-256", HashAlgorithm.SHA256),
        ("Sha256", HashAlgorithm.SHA256),
        ("sm3", HashAlgorithm.SM3),
        (" SM3 ", HashAlgorithm.SM3),
    ],
)
def test_algorithm_names_are_parsed_case_insensitively(name: str, expected: HashAlgorithm) -> None:
    assert parse_algorithm(name) is expected


@pytest.mark.parametrize("name", ["", "md5", "sha-1", "sha3-256", "sm-3", "sha 256"])
def test_unknown_algorithm_names_are_refused_naming_the_algorithm_field(name: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        parse_algorithm(name)
    assert exc.value.field == "algorithm"


def test_sm3_of_abc_is_the_gbt_32905_vector() -> None:
    assert hash_bytes(b"abc", HashAlgorithm.SM3).hex() == SM3_ABC


def test_sha256_of_abc_and_of_nothing_are_the_fips_vectors() -> None:
    assert hash_bytes(b"abc", HashAlgorithm.SHA256).hex() == SHA256_ABC
    assert hash_bytes(b"", HashAlgorithm.SHA256).hex() == SHA256_EMPTY


def test_sm3_falls_back_to_cryptography_when_hashlib_lacks_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hashing, "_HASHLIB_HAS_SM3", False)
    hasher = new_hasher(HashAlgorithm.SM3)
    assert not isinstance(hasher, type(hashlib.sha256()))
    hasher.update(b"a")
    hasher.update(memoryview(b"bc"))
    assert hasher.digest().hex() == SM3_ABC
    assert hasher.digest().hex() == SM3_ABC, "digest() can be called twice, as with hashlib"
    assert hasher.hexdigest() == SM3_ABC
    assert hash_stream(io.BytesIO(b"abc"), HashAlgorithm.SM3)[0].hex() == SM3_ABC


@settings(max_examples=40, deadline=None)
@given(
    data=st.binary(max_size=5000),
    chunk_size=st.integers(min_value=1, max_value=600),
    alg=st.sampled_from(HashAlgorithm.choices()),
)
def test_streaming_hash_equals_hashing_the_bytes(data: bytes, chunk_size: int, alg: HashAlgorithm) -> None:
    digest, count = hash_stream(io.BytesIO(data), alg, chunk_size=chunk_size)
    assert digest == hash_bytes(data, alg)
    assert count == len(data)


class _ReadOnly:
    """A stream with read() but no readinto()."""

    def __init__(self, data: bytes) -> None:
        self._inner = io.BytesIO(data)

    def read(self, n: int = -1) -> bytes:
        return self._inner.read(n)


def test_streams_without_readinto_are_hashed_with_read() -> None:
    digest, count = hash_stream(_ReadOnly(b"abc" * 1000), HashAlgorithm.SHA256, chunk_size=7)  # type: ignore[arg-type]
    assert digest == hashlib.sha256(b"abc" * 1000).digest()
    assert count == 3000


def test_a_stream_of_exactly_the_limit_is_accepted() -> None:
    digest, count = hash_stream(io.BytesIO(b"x" * 100), HashAlgorithm.SHA256, chunk_size=30, limit=100)
    assert count == 100
    assert digest == hashlib.sha256(b"x" * 100).digest()


@pytest.mark.parametrize("stream_factory", [io.BytesIO, _ReadOnly])
def test_a_stream_over_the_limit_is_refused_as_payload_too_large(stream_factory: Any) -> None:
    with pytest.raises(PayloadTooLarge) as exc:
        hash_stream(stream_factory(b"x" * 101), HashAlgorithm.SHA256, chunk_size=30, limit=100)
    assert exc.value.field == "file"
    assert "100" in exc.value.message


def test_hashing_a_file_matches_hashing_its_bytes(tmp_path: Path) -> None:
    data = bytes(range(256)) * 5000
    path = tmp_path / "evidence.bin"
    path.write_bytes(data)
    assert hash_file(path, HashAlgorithm.SHA256) == hashlib.sha256(data).digest()
    assert hash_file(str(path), HashAlgorithm.SM3) == hashlib.new("sm3", data).digest()


# --- parse_hash -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [SHA256_ABC, "0x" + SHA256_ABC, "0X" + SHA256_ABC.upper(), SHA256_ABC.upper(), f"  0x{SHA256_ABC}\n"],
)
def test_hashes_are_parsed_with_or_without_0x_in_any_case(text: str) -> None:
    assert parse_hash(text) == SAMPLE_HASH


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "empty"),
        ("0x", "empty"),
        (SHA256_ABC[:-1], "63 hex characters"),
        (SHA256_ABC + "00", "66 hex characters"),
        (SHA256_ABC[:-1] + "g", "'g'"),
        ("0x" + SHA256_ABC[:10] + " " + SHA256_ABC[11:], "not a hex digit"),
        ("0x" + "0" * 64, "all zeros"),
        ("0x0x" + SHA256_ABC[4:], "not a hex digit"),
    ],
)
def test_malformed_hashes_are_refused_with_a_clear_message(text: str, says: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        parse_hash(text)
    assert exc.value.field == "content_hash"
    assert says in exc.value.message


def test_hash_errors_name_the_field_they_were_given() -> None:
    with pytest.raises(InvalidInput) as exc:
        parse_hash("abc", field="contract_hash")
    assert exc.value.field == "contract_hash"
    assert exc.value.message.startswith("contract_hash")


def test_a_hash_that_is_not_a_string_is_refused() -> None:
    with pytest.raises(InvalidInput):
        parse_hash(SAMPLE_HASH)  # type: ignore[arg-type]


# --- bindings ----------------------------------------------------------------------


def test_salts_are_32_fresh_random_bytes() -> None:
    salts = {new_salt() for _ in range(16)}
    assert len(salts) == 16
    assert all(len(s) == 32 for s in salts)


@pytest.mark.parametrize("alg", HashAlgorithm.choices())
def test_bindings_follow_the_documented_byte_layout(alg: HashAlgorithm) -> None:
    salt = bytes(range(32))
    party = (7).to_bytes(32, "big")
    public = b"ipledger:public:v2\x00" + party + SAMPLE_HASH
    private = b"ipledger:private:v2\x00" + party + salt + SAMPLE_HASH
    assert (len(public), len(private)) == (83, 116)
    assert public_binding(SAMPLE_HASH, 7, alg) == hash_bytes(public, alg)
    assert private_binding(SAMPLE_HASH, 7, salt, alg) == hash_bytes(private, alg)


def test_the_binding_test_vectors_of_docs_certificate_md() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "certificate.md").read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\| (.+?) \| `0x([0-9a-f]{64})` \|$", doc, flags=re.M))
    salt = bytes(range(32))
    for alg, name in ((HashAlgorithm.SHA256, "SHA-256"), (HashAlgorithm.SM3, "SM3")):
        content = hash_bytes(b"abc", alg)
        assert rows[f"{name} of `abc`"] == content.hex()
        assert rows[f"its {name} public binding for party 7"] == public_binding(content, 7, alg).hex()
        assert rows[f"its {name} private binding for party 7"] == private_binding(content, 7, salt, alg).hex()


def test_bindings_differ_by_party_salt_and_algorithm() -> None:
    first, second = new_salt(), new_salt()
    binding = private_binding(SAMPLE_HASH, 1, first, HashAlgorithm.SHA256)
    assert binding == private_binding(SAMPLE_HASH, 1, first, HashAlgorithm.SHA256)
    assert binding != private_binding(SAMPLE_HASH, 1, second, HashAlgorithm.SHA256)
    assert binding != private_binding(SAMPLE_HASH, 2, first, HashAlgorithm.SHA256)
    assert binding != private_binding(SAMPLE_HASH, 1, first, HashAlgorithm.SM3)
    assert public_binding(SAMPLE_HASH, 1, HashAlgorithm.SHA256) != public_binding(SAMPLE_HASH, 2, HashAlgorithm.SHA256)
    assert binding != SAMPLE_HASH and public_binding(SAMPLE_HASH, 1, HashAlgorithm.SHA256) != SAMPLE_HASH


@pytest.mark.parametrize(
    ("content_hash", "party", "salt", "field"),
    [
        (SAMPLE_HASH[:31], 1, bytes(32), "content_hash"),
        (SAMPLE_HASH, 1, bytes(16), "salt"),
        (SAMPLE_HASH, 1, "s" * 32, "salt"),
        (SAMPLE_HASH, 0, bytes(32), "party_id"),
        (SAMPLE_HASH, 2**24, bytes(32), "party_id"),
        (SAMPLE_HASH, True, bytes(32), "party_id"),
    ],
)
def test_bindings_refuse_inputs_of_the_wrong_length_or_range(
    content_hash: bytes, party: Any, salt: Any, field: str
) -> None:
    with pytest.raises(InvalidInput) as exc:
        private_binding(content_hash, party, salt, HashAlgorithm.SHA256)
    assert exc.value.field == field
