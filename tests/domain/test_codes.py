"""The Python enums of ledger.domain.codes are the contracts' enums, member for member.

The committed artifacts carry the ABI (which names each enum a function or event takes: ``internalType``
``enum IPartyRegistry.PartyKind``) and the keccak-256 of every source they were compiled from, but no AST. So the
members are read from the Solidity sources, and the sources are first checked to be byte for byte the ones the
artifacts were built from: a change on either side alone fails here.
"""

from __future__ import annotations

import inspect
import json
import re
import typing
from pathlib import Path

import pytest
from eth_utils import keccak

from ledger.domain import codes

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "ledger" / "artifacts"
ENUM = re.compile(r"\benum\s+(\w+)\s*\{([^}]*)\}")
CONTRACT = re.compile(r"\b(?:abstract\s+contract|contract|interface|library)\s+(\w+)")
MIRRORS = re.compile(r"``(\w+)\.(\w+)``")


def _artifacts() -> list[dict[str, typing.Any]]:
    return [json.loads(p.read_text()) for p in sorted(ARTIFACTS.glob("*.json")) if not p.name.startswith("_")]


def _source_hashes() -> dict[str, str]:
    hashes: dict[str, str] = {}
    for art in _artifacts():
        hashes.update(art.get("sourceHashes", {}))
    return hashes


def _strip_comments(text: str) -> str:
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return re.sub(r"//[^\n]*", "", text)


def _our_sources() -> list[str]:
    return [name for name in _source_hashes() if name.startswith("contracts/")]


def _solidity_enums() -> dict[str, list[str]]:
    """``{"IPartyRegistry.PartyKind": ["None", "Firm", ...]}`` for every enum of our own compiled sources."""
    found: dict[str, list[str]] = {}
    for name in _our_sources():
        text = _strip_comments((ROOT / name).read_text())
        for match in ENUM.finditer(text):
            owners = CONTRACT.findall(text[: match.start()])
            assert owners, f"enum {match.group(1)} of {name} is declared outside a contract"
            members = [m.strip() for m in match.group(2).split(",") if m.strip()]
            found[f"{owners[-1]}.{match.group(1)}"] = members
    return found


def _upper_snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).upper()


def _python_enums() -> dict[str, type[codes.Code]]:
    mirrored: dict[str, type[codes.Code]] = {}
    for _, cls in inspect.getmembers(codes, inspect.isclass):
        if issubclass(cls, codes.Code) and cls is not codes.Code:
            match = MIRRORS.search(cls.__doc__ or "")
            assert match, f"{cls.__name__}'s docstring does not name the Solidity enum it mirrors"
            mirrored[f"{match.group(1)}.{match.group(2)}"] = cls
    return mirrored


def test_the_sources_read_are_the_ones_the_committed_artifacts_were_compiled_from() -> None:
    ours = {n: h for n, h in _source_hashes().items() if n.startswith("contracts/")}
    assert "contracts/interfaces/IPartyRegistry.sol" in ours
    for name, expected in ours.items():
        assert "0x" + keccak((ROOT / name).read_bytes()).hex() == expected, (
            f"{name} changed since the artifacts were built"
        )


def test_every_solidity_enum_has_one_python_enum_with_the_same_members_in_order() -> None:
    solidity, python = _solidity_enums(), _python_enums()
    assert set(python) == set(solidity), "an enum is declared on one side only"
    for qualified, members in solidity.items():
        cls = python[qualified]
        assert [m.name for m in cls] == [_upper_snake(m) for m in members], qualified
        assert [int(m) for m in cls] == list(range(len(members))), qualified


def test_every_enum_the_abis_name_is_declared_in_codes() -> None:
    named: set[str] = set()

    def walk(params: list[dict[str, typing.Any]]) -> None:
        for p in params:
            internal = p.get("internalType", "")
            if internal.startswith("enum "):
                named.add(internal.removeprefix("enum ").removesuffix("[]"))
            walk(p.get("components", []))

    for art in _artifacts():
        for item in art["abi"]:
            walk(item.get("inputs", []))
            walk(item.get("outputs", []))
    assert named, "the ABIs name no enum: internalType is missing from the artifacts"
    ours = {c for name in _our_sources() for c in CONTRACT.findall(_strip_comments((ROOT / name).read_text()))}
    named = {n for n in named if n.split(".")[0] in ours}  # OpenZeppelin's own (TimelockController's) are not ours
    assert {"IPartyRegistry.PartyKind", "IIPAssetRegistry.AgreementKind", "IDisputeRegistry.Outcome"} <= named
    assert named <= set(_python_enums()), sorted(named - set(_python_enums()))


@pytest.mark.parametrize(
    ("solidity", "python"),
    [
        ("StandardPatentR", "STANDARD_PATENT_R"),
        ("SHA256", "SHA256"),
        ("HKSAR", "HKSAR"),
        ("PctApplication", "PCT_APPLICATION"),
        ("CompanyNeedsUscc", "COMPANY_NEEDS_USCC"),
        ("EndedWithParent", "ENDED_WITH_PARENT"),
        ("SM3", "SM3"),
    ],
)
def test_solidity_names_are_compared_in_upper_snake_case(solidity: str, python: str) -> None:
    assert _upper_snake(solidity) == python


def test_a_member_renamed_or_reordered_on_either_side_is_caught() -> None:
    members = _solidity_enums()["IIPAssetRegistry.LicenceType"]
    assert [m.name for m in codes.LicenceType] == [_upper_snake(m) for m in members]
    assert [m.name for m in codes.LicenceType] != [
        _upper_snake(m) for m in [members[0], members[2], members[1], members[3]]
    ]
    text = "interface IX {\n enum Colour { None, Red /* , Blue */, Green } // Yellow\n}"
    assert [m.strip() for m in ENUM.search(_strip_comments(text)).group(2).split(",")] == ["None", "Red", "Green"]  # type: ignore[union-attr]


def test_words_are_the_lower_case_names_and_none_is_never_a_choice() -> None:
    assert codes.PartyKind.ARBITRATION_INSTITUTION.word == "arbitration_institution"
    assert codes.PartyKind.from_word("asset_verifier") is codes.PartyKind.ASSET_VERIFIER
    assert codes.HashAlgorithm.choices() == (codes.HashAlgorithm.SHA256, codes.HashAlgorithm.SM3)
    assert codes.AgreementKind.words() == ("assignment", "licence", "equity_contribution", "pledge")
    assert codes.AssetStatus.words() == ("claimed", "confirmed", "struck")  # no NONE member: nothing is left out
    with pytest.raises(KeyError):
        codes.Outcome.from_word("DISMISSED ")


def _literal(model: typing.Any, field: str) -> tuple[str, ...]:
    annotation = model.model_fields[field].annotation
    for arg in (annotation, *typing.get_args(annotation)):  # Literal[...] or Optional[Literal[...]]
        if typing.get_origin(arg) is typing.Literal:
            return typing.get_args(arg)
    raise AssertionError(f"{model.__name__}.{field} is not a Literal")


def test_the_api_schemas_offer_exactly_the_codes_words() -> None:
    from api import schemas

    def fields(name: str) -> list[tuple[type, str]]:
        return [
            (m, name)
            for m in vars(schemas).values()
            if inspect.isclass(m) and name in getattr(m, "model_fields", {}) and m.__module__ == schemas.__name__
        ]

    checks = {
        "kind": None,
        "jurisdiction": None,
        "identifierScheme": codes.IdentifierScheme.words(),
        "licenceType": codes.LicenceType.words(),
        "subject": codes.SubjectKind.words(),
        "outcome": codes.Outcome.words(),
    }
    seen = 0
    for name, expected in checks.items():
        for model, field in fields(name):
            try:
                offered = _literal(model, field)
            except AssertionError:
                continue
            if expected is None:  # several enums are called "kind" / "jurisdiction": match by members
                candidates = [
                    codes.PartyKind.words(),
                    codes.Jurisdiction.words(),
                    codes.AgreementKind.words(),
                    tuple(m.name for m in codes.AssetJurisdiction.choices()),
                    ("single", "batch"),
                ]
                assert offered in candidates, f"{model.__name__}.{field} offers {offered}"
            else:
                assert offered == expected, f"{model.__name__}.{field} offers {offered}"
            seen += 1
    assert seen >= 8
    from ledger.certificates.timestamp import IMPRINT_ALGORITHMS

    # a time-stamp imprint follows the RFC 3161 profile (docs/tsa.md); every other algorithm is the evidence hash's
    imprint = tuple(sorted(name for name, _ in IMPRINT_ALGORITHMS.values()))
    algorithms = {(m.__name__, _literal(m, f)) for m, f in fields("algorithm")}
    assert ("TimeStampImprint", imprint) in algorithms
    assert {offered for name, offered in algorithms if name != "TimeStampImprint"} == {codes.HashAlgorithm.words()}


def test_every_reason_code_of_the_asset_registry_has_words() -> None:
    from ledger.chain.artifacts import REASONS

    assert {name: type(next(iter(texts))) for name, texts in REASONS.items()} == {
        "AssetInvalid": codes.AssetFault,
        "AgreementInvalid": codes.AgreementFault,
        "SublicenceOutsideParent": codes.SublicenceFault,
    }
    for texts in REASONS.values():
        assert list(texts) == list(type(next(iter(texts)))), "a reason without words, or out of the enum's order"
