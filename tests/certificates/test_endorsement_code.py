"""The creator registry's published code (ledger/certificates/endorsements.py) is the committed artifact's: a
verifier that recognises it by its code hash recognises the contract the deployment runs, and nothing else."""

from __future__ import annotations

import json
from pathlib import Path

from ledger.certificates import endorsements as en
from tests.helpers import Chain

ARTIFACT = Path(__file__).resolve().parents[2] / "ledger" / "artifacts" / "CreatorRegistry.json"


def test_the_published_code_is_the_artifacts() -> None:
    art = json.loads(ARTIFACT.read_text())
    code = bytes.fromhex(art["deployedBytecode"][2:])
    ranges = tuple(sorted((r["start"], r["length"]) for refs in art["immutableReferences"].values() for r in refs))
    assert (len(code), ranges) == (en.CREATOR_REGISTRY_LENGTH, en.CREATOR_REGISTRY_IMMUTABLES), (
        "the creator registry changed: update CREATOR_REGISTRY_* in ledger/certificates/endorsements.py"
    )
    assert en.published_code_hash(code, ranges) == en.CREATOR_REGISTRY_KECCAK


def test_the_deployed_registry_is_recognised_and_another_contract_is_not(anvil: Chain) -> None:
    deployed = bytes(anvil.w3.eth.get_code(anvil.manifest.address("CreatorRegistry")))
    assert en.is_creator_registry(deployed)
    for other in ("EvidenceRegistry", "DisputeRegistry"):
        assert not en.is_creator_registry(bytes(anvil.w3.eth.get_code(anvil.manifest.address(other))))
    tampered = bytearray(deployed)
    tampered[100] ^= 1
    assert not en.is_creator_registry(bytes(tampered))
