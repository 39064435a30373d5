"""Evidence metadata: validation, normalisation and the commitment (ledger.domain.metadata)."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from ledger.domain.canonical_json import canonical_json
from ledger.domain.metadata import metadata_commitment, validate_metadata
from ledger.errors import InvalidInput

# --- metadata ---------------------------------------------------------------------------------


FULL_METADATA = {
    "title": "  A method for anchoring evidence  ",
    "kind": "Utility model",
    "creators": ["Chan Tai Man", " 李雷 "],
    "created_at": "2024-03-01T09:30:00+08:00",
    "language": "zh_hant_hk",
    "description": "Line one.\nLine two.\ttabbed",
}


def test_valid_metadata_is_returned_normalised() -> None:
    assert validate_metadata(FULL_METADATA) == {
        "title": "A method for anchoring evidence",
        "kind": "utility_model",
        "creators": ["Chan Tai Man", "李雷"],
        "created_at": "2024-03-01T09:30:00+08:00",
        "language": "zh-Hant-HK",
        "description": "Line one.\nLine two.\ttabbed",
    }


def test_empty_metadata_is_valid() -> None:
    assert validate_metadata({}) == {}


@pytest.mark.parametrize(
    "kind", ["invention", "utility_model", "design", "software", "copyright_work", "data_set", "trade_secret"]
)
def test_every_evidence_kind_is_accepted(kind: str) -> None:
    assert validate_metadata({"kind": kind}) == {"kind": kind}


@pytest.mark.parametrize(
    ("created_at", "normalised"),
    [
        ("2024-03-01", "2024-03-01"),
        ("20240301", "2024-03-01"),
        ("2024-03-01T09:30:00Z", "2024-03-01T09:30:00+00:00"),
        ("2024-03-01T09:30", "2024-03-01T09:30:00"),
    ],
)
def test_creation_times_are_normalised_to_extended_iso_8601(created_at: str, normalised: str) -> None:
    assert validate_metadata({"created_at": created_at}) == {"created_at": normalised}


def test_titles_are_put_in_nfc() -> None:
    assert validate_metadata({"title": "Cafe\u0301"}) == {"title": "Caf\u00e9"}


@pytest.mark.parametrize(
    ("metadata", "field"),
    [
        ({"title": "x" * 501}, "metadata.title"),
        ({"title": ""}, "metadata.title"),
        ({"title": 5}, "metadata.title"),
        ({"title": "bell\x07"}, "metadata.title"),
        ({"title": "two\nlines"}, "metadata.title"),
        ({"kind": "novel"}, "metadata.kind"),
        ({"kind": None}, "metadata.kind"),
        ({"creators": "Chan Tai Man"}, "metadata.creators"),
        ({"creators": []}, "metadata.creators"),
        ({"creators": ["x"] * 101}, "metadata.creators"),
        ({"creators": ["ok", 7]}, "metadata.creators[1]"),
        ({"creators": ["ok", "  "]}, "metadata.creators[1]"),
        ({"created_at": "yesterday"}, "metadata.created_at"),
        ({"created_at": "2024-02-30"}, "metadata.created_at"),
        ({"created_at": 20240301}, "metadata.created_at"),
        ({"language": "english language"}, "metadata.language"),
        ({"language": "e"}, "metadata.language"),
        ({"language": "zh-" + "a" * 40}, "metadata.language"),
        ({"description": "x" * 5001}, "metadata.description"),
        ({"description": "nul\x00"}, "metadata.description"),
        ({"owner": "someone"}, "metadata.owner"),
    ],
)
def test_invalid_metadata_errors_name_their_field(metadata: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        validate_metadata(metadata)
    assert exc.value.field == field


def test_metadata_limits_are_inclusive() -> None:
    metadata = {"title": "t" * 500, "creators": ["c"] * 100, "description": "d" * 5000}
    assert validate_metadata(metadata) == metadata


def test_metadata_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(InvalidInput) as exc:
        validate_metadata(["title"])  # type: ignore[arg-type]
    assert exc.value.field == "metadata"


def test_metadata_commitment_is_sha256_of_canonical_json() -> None:
    metadata = validate_metadata(FULL_METADATA)
    expected = hashlib.sha256(canonical_json(metadata)).digest()
    assert metadata_commitment(metadata) == expected
    assert metadata_commitment(dict(reversed(list(metadata.items())))) == expected


def test_metadata_commitment_of_a_known_object() -> None:
    assert (
        metadata_commitment({"kind": "software", "title": "T"})
        == hashlib.sha256(b'{"kind":"software","title":"T"}').digest()
    )


def test_the_canonical_metadata_example_of_docs_certificate_md() -> None:
    import json
    import re
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "certificate.md").read_text(encoding="utf-8")
    match = re.search(
        r"canonicalises to these exact bytes:\s*```\n(.+?)\n```\s*The SHA-256 of those bytes is `0x([0-9a-f]{64})`",
        doc,
        flags=re.S,
    )
    assert match, "docs/certificate.md §4.3 no longer shows the canonical metadata example"
    text, digest = match.group(1), match.group(2)
    metadata = json.loads(text)
    assert canonical_json(dict(reversed(list(metadata.items())))) == text.encode()
    assert validate_metadata(metadata) == metadata
    assert metadata_commitment(metadata).hex() == digest
