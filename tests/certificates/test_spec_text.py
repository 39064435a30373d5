"""The specifications state what the code and the contracts do, to the character: every EIP-712 type string and
type hash in docs/agreements.md and docs/certificate.md is the one in the Solidity source and in ledger.domain,
every event signature (with its indexed parameters and topic 0) is the compiled ABI's, and the documented
``agreement(bytes32)`` result layout is the ABI's tuple, member by member."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from eth_utils import keccak

from ledger.certificates import agreement as agreement_certificate
from ledger.domain import agreements as ag
from ledger.domain import eip712
from ledger.domain.codes import AgreementKind, AgreementStatus, LicenceType

ROOT = Path(__file__).resolve().parents[2]
AGREEMENTS_MD = (ROOT / "docs" / "agreements.md").read_text(encoding="utf-8")
CERTIFICATE_MD = (ROOT / "docs" / "certificate.md").read_text(encoding="utf-8")

#: struct name -> (its fields in ledger.domain, the Solidity file declaring its typehash, the doc that states it)
TYPES: dict[str, tuple[list[dict[str, str]], str, str]] = {
    "Terms": (ag.TERMS_TYPE, "IPAssetRegistry.sol", AGREEMENTS_MD),
    "Termination": (ag.TERMINATION_TYPE, "IPAssetRegistry.sol", AGREEMENTS_MD),
    "Release": (ag.RELEASE_TYPE, "IPAssetRegistry.sol", AGREEMENTS_MD),
    "Withdrawal": (ag.WITHDRAWAL_TYPE, "IPAssetRegistry.sol", AGREEMENTS_MD),
    "AssetRegistration": (ag.ASSET_REGISTRATION_TYPE, "IPAssetRegistry.sol", AGREEMENTS_MD),
    "AssetConfirmation": (ag.ASSET_CONFIRMATION_TYPE, "IPAssetRegistry.sol", AGREEMENTS_MD),
    "ClaimRejection": (ag.CLAIM_REJECTION_TYPE, "IPAssetRegistry.sol", AGREEMENTS_MD),
    "BatchSubmission": (eip712.BATCH_SUBMISSION_TYPE, "EvidenceRegistry.sol", CERTIFICATE_MD),
    "Evidence": (eip712.EVIDENCE_TYPE, "EvidenceRegistry.sol", CERTIFICATE_MD),
}


def _solidity_type_string(source: str, struct: str) -> str:
    """The string literal(s) hashed by the contract's ``<STRUCT>_TYPEHASH = keccak256(...)`` declaration."""
    const = re.sub(r"(?<!^)(?=[A-Z])", "_", struct).upper() + "_TYPEHASH"
    match = re.search(rf"{const}\s*=\s*keccak256\((.*?)\);", source, re.S)
    assert match, f"{const} is not declared"
    return "".join(re.findall(r'"([^"]*)"', match.group(1)))


@pytest.mark.parametrize("struct", sorted(TYPES))
def test_each_type_string_in_the_docs_is_the_contracts_and_the_codes(struct: str) -> None:
    fields, sol, doc = TYPES[struct]
    code = eip712.type_string(struct, fields)
    source = (ROOT / "contracts" / sol).read_text(encoding="utf-8")
    assert _solidity_type_string(source, struct) == code, f"{struct}: contracts/{sol} and ledger.domain differ"
    # quoted whole (in backticks, or as the string literal of a keccak256("...") formula)
    assert f"`{code}`" in doc or f'"{code}"' in doc, f"{struct}: the docs do not state the type string {code!r}"
    typehash = "0x" + keccak(text=code).hex()
    assert typehash in doc, f"{struct}: the docs do not state its type hash {typehash}"


def _abi(name: str) -> list[dict[str, Any]]:
    return json.loads((ROOT / "ledger" / "artifacts" / f"{name}.json").read_text())["abi"]  # type: ignore[no-any-return]


def _event_text(event: dict[str, Any]) -> str:
    params = ", ".join(
        f"{i['type']}{' indexed' if i['indexed'] else ''} {i['name']}".replace("  ", " ") for i in event["inputs"]
    )
    return f"{event['name']}({params})"


AGREEMENT_EVENTS = (
    "AgreementExecuted",
    "AgreementSigned",
    "AgreementTerminated",
    "PledgeReleased",
    "AgreementVoided",
    "AgreementWithdrawn",
)


@pytest.mark.parametrize("name", AGREEMENT_EVENTS)
def test_each_agreement_event_is_documented_as_the_abi_declares_it(name: str) -> None:
    (event,) = [e for e in _abi("IPAssetRegistry") if e["type"] == "event" and e["name"] == name]
    text = _event_text(event)
    topic0 = "0x" + keccak(text=f"{name}({','.join(i['type'] for i in event['inputs'])})").hex()
    row = f"| `{text}` | `{topic0}` |"
    assert row in AGREEMENTS_MD, f"docs/agreements.md lacks the row {row}"


def test_the_verifier_uses_the_documented_event_topics() -> None:
    for name, topic in (
        ("AgreementExecuted", agreement_certificate.AGREEMENT_EXECUTED_TOPIC),
        ("AgreementSigned", agreement_certificate.AGREEMENT_SIGNED_TOPIC),
        ("AgreementVoided", agreement_certificate.AGREEMENT_VOIDED_TOPIC),
    ):
        assert f"`0x{bytes(topic).hex()}`" in AGREEMENTS_MD, name


@pytest.mark.parametrize(
    ("signature", "indexed"),
    [
        ("EvidenceRegistered(bytes32,uint256,address,uint8,bytes32,bytes32)", ["binding", "partyId", "registrant"]),
        ("BatchAnchored(bytes32,address,uint32)", ["root", "anchorer"]),
    ],
)
def test_the_evidence_events_of_certificate_md_are_the_abis(signature: str, indexed: list[str]) -> None:
    name = signature.split("(")[0]
    (event,) = [e for e in _abi("EvidenceRegistry") if e["type"] == "event" and e["name"] == name]
    assert f"{name}({','.join(i['type'] for i in event['inputs'])})" == signature
    assert [i["name"] for i in event["inputs"] if i["indexed"]] == indexed
    assert f"`0x{keccak(text=signature).hex()}`" in CERTIFICATE_MD


def test_the_agreement_result_layout_is_the_abis_tuple() -> None:
    (fn,) = [e for e in _abi("IPAssetRegistry") if e["type"] == "function" and e["name"] == "agreement"]
    (out,) = fn["outputs"]
    components = [(c["name"], c["type"]) for c in out["components"]]
    section = AGREEMENTS_MD.split("**`agreement(bytes32)` result layout.**")[1].split("###")[0]
    rows = re.findall(r"^\| (\d+) \| `(\w+)` \| ([^|]+) \|$", section, re.M)
    assert [(int(i), n) for i, n, _ in rows] == [(i, n) for i, (n, _) in enumerate(components)]
    for (_, name, doc_type), (_, abi_type) in zip(rows, components, strict=True):
        assert abi_type in doc_type, f"{name}: documented as {doc_type!r}, the ABI says {abi_type}"
    assert f"`0x{keccak(text='agreement(bytes32)')[:4].hex()}`" in AGREEMENTS_MD
    # the verifier decodes that tuple
    assert agreement_certificate.AGREEMENT_TUPLE == "(" + ",".join(t for _, t in components) + ")"


def test_the_enum_values_are_the_codes() -> None:
    section = AGREEMENTS_MD.split("### Enumerations")[1].split("###")[0]
    for enum in (AgreementKind, LicenceType, AgreementStatus):
        (row,) = [line for line in section.splitlines() if line.startswith(f"| `{enum.__name__}`")]
        for member in enum.choices():
            if member.value == 0:
                continue
            assert f"{int(member)} `{member.word}`" in row, f"{enum.__name__}.{member.name} is not documented"


def test_the_document_rules_list_every_terms_member() -> None:
    assert agreement_certificate.TERMS_MEMBERS == tuple(f["name"] for f in ag.TERMS_TYPE)
    section = AGREEMENTS_MD.split("### The document")[1].split("###")[0]
    for name in agreement_certificate.TERMS_MEMBERS:
        assert f"`{name}`" in section, name


def test_the_checkpoint_section_states_the_contracts_event_and_selectors() -> None:
    """docs/certificate.md §11: the CheckpointRegistry event and the view selectors are the compiled ABI's."""
    abi = _abi("CheckpointRegistry")
    (event,) = [e for e in abi if e["type"] == "event" and e["name"] == "CheckpointRecorded"]
    signature = f"CheckpointRecorded({','.join(i['type'] for i in event['inputs'])})"
    assert f"`{_event_text(event)}` | `0x{keccak(text=signature).hex()}`" in CERTIFICATE_MD
    for fn in ("consortiumChainId()", "registry()", "checkpoint(uint256)"):
        name = fn.split("(")[0]
        assert any(f["type"] == "function" and f["name"] == name for f in abi), name
        assert f"`0x{keccak(text=fn)[:4].hex()}`" in CERTIFICATE_MD, fn
    from ledger.domain.checkpoints import BATCH_ANCHORED, EVIDENCE_REGISTERED

    for sig in (EVIDENCE_REGISTERED, BATCH_ANCHORED):
        assert f"| `{sig}` | `0x{keccak(text=sig).hex()}` |" in CERTIFICATE_MD, sig
