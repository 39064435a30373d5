"""The deployment manifest: round trips, and refuses a chain that is not the one it was deployed on."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from ledger.chain.deployment import (
    Manifest,
    check_chain,
    load_or_deploy,
    manifest_path,
    verify_deployment,
)
from ledger.errors import ChainMismatch, DeploymentMissing
from tests.helpers import Chain


def test_the_manifest_round_trips_through_json(anvil: Chain, tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    anvil.manifest.save(path)
    assert Manifest.load(path) == anvil.manifest
    assert json.loads(path.read_text())["format"] == "ipledger-deployment/1"


def test_a_manifest_for_another_chain_id_is_refused(anvil: Chain) -> None:
    other = replace(anvil.manifest, chain_id=anvil.manifest.chain_id + 1)
    with pytest.raises(ChainMismatch) as err:
        check_chain(anvil.w3, other)
    assert "chain id" in err.value.message


def test_a_manifest_for_another_genesis_is_refused(anvil: Chain) -> None:
    with pytest.raises(ChainMismatch):
        check_chain(anvil.w3, replace(anvil.manifest, genesis_hash="0x" + "00" * 32))


def test_the_deployed_code_matches_the_artifacts_on_both_evms(chain: Chain) -> None:
    assert verify_deployment(chain.w3, chain.manifest) == {
        "EvidenceRegistry": True,
        "IPAssetRegistry": True,
        "DisputeRegistry": True,
        "CreatorRegistry": True,
    }


def test_a_deployment_made_before_the_creator_registry_gets_it_on_its_next_start(anvil: Chain, tmp_path: Path) -> None:
    """An earlier version's manifest lacks the creator registry: loading it with the relayer deploys one bound to
    the deployment's evidence registry and saves the manifest; loading again deploys nothing more."""
    older = replace(
        anvil.manifest, contracts={k: v for k, v in anvil.manifest.contracts.items() if k != "CreatorRegistry"}
    )
    path = manifest_path(tmp_path, older.chain_id)
    older.save(path)
    without, _ = load_or_deploy(anvil.w3, tmp_path, None)  # no sender: read as it is
    assert "CreatorRegistry" not in without.contracts
    completed, deployed = load_or_deploy(anvil.w3, tmp_path, anvil.sender)
    assert not deployed and "CreatorRegistry" in completed.contracts
    assert completed.address("CreatorRegistry") != anvil.manifest.address("CreatorRegistry")
    assert Manifest.load(path) == completed
    assert verify_deployment(anvil.w3, completed)["CreatorRegistry"]
    again, _ = load_or_deploy(anvil.w3, tmp_path, anvil.sender)
    assert again == completed


def test_a_missing_or_unreadable_manifest_is_reported(tmp_path: Path, anvil: Chain) -> None:
    with pytest.raises(DeploymentMissing):
        Manifest.load(tmp_path / "none.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    with pytest.raises(DeploymentMissing):
        Manifest.load(bad)
    with pytest.raises(DeploymentMissing):
        load_or_deploy(anvil.w3, tmp_path, None)
    assert not manifest_path(tmp_path, anvil.manifest.chain_id).exists()
