"""`ipledger deploy`: any chain, encrypted keystore, manifest, refusal to overwrite, runtime-code verification."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from eth_account import Account

from ledger.storage.keys import write_keystore
from tests.helpers import Chain, cli_env, run_cli

PASSWORD = "correct horse battery staple"


@pytest.fixture
def keystore(tmp_path: Path, anvil: Chain) -> Path:
    acct = Account.create()
    anvil.fund(acct.address)
    return write_keystore(tmp_path / "deployer.json", acct, PASSWORD, kdf="pbkdf2")


def deploy(anvil: Chain, data_dir: Path, *extra: str, password: str | None = PASSWORD) -> object:
    env = cli_env(**({"IPLEDGER_KEYSTORE_PASSWORD": password} if password is not None else {}))
    return run_cli("deploy", "--rpc-url", anvil.node_url, "--data-dir", str(data_dir), *extra, env=env)


def test_deploy_writes_a_manifest_and_verify_confirms_the_code(anvil: Chain, keystore: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    out = deploy(anvil, data, "--keystore", str(keystore))
    assert out.returncode == 0, out.stderr
    manifest = json.loads((data / "deployments" / "31337.json").read_text())
    assert manifest["chainId"] == 31337
    assert manifest["genesisHash"] == anvil.w3.eth.get_block(0)["hash"].to_0x_hex()
    entry = manifest["contracts"]["EvidenceRegistry"]
    assert anvil.w3.eth.get_code(entry["address"]) != b""
    assert entry["deployBlock"] >= 1 and entry["runtimeCodeHash"].startswith("0x")
    assert manifest["artifactVersion"]

    verified = deploy(anvil, data, "--verify")
    assert verified.returncode == 0, verified.stderr
    assert "matches artifact" in verified.stdout


def test_deploy_refuses_to_overwrite_an_existing_manifest_unless_forced(
    anvil: Chain, keystore: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    assert deploy(anvil, data, "--keystore", str(keystore)).returncode == 0
    before = (data / "deployments" / "31337.json").read_text()
    again = deploy(anvil, data, "--keystore", str(keystore))
    assert again.returncode == 1 and "already exists" in again.stderr
    assert (data / "deployments" / "31337.json").read_text() == before
    forced = deploy(anvil, data, "--keystore", str(keystore), "--force")
    assert forced.returncode == 0, forced.stderr
    assert (data / "deployments" / "31337.json").read_text() != before


def test_wrong_keystore_password_is_one_line_and_writes_nothing(anvil: Chain, keystore: Path, tmp_path: Path) -> None:
    out = deploy(anvil, tmp_path / "data", "--keystore", str(keystore), password="wrong")
    assert out.returncode == 1
    assert out.stderr.strip() == f"error: wrong password for keystore {keystore}"
    assert not (tmp_path / "data" / "deployments").exists()


def test_missing_password_without_a_terminal_is_refused(anvil: Chain, keystore: Path, tmp_path: Path) -> None:
    out = deploy(anvil, tmp_path / "data", "--keystore", str(keystore), password=None)
    assert out.returncode == 1 and "IPLEDGER_KEYSTORE_PASSWORD" in out.stderr and "Traceback" not in out.stderr


def test_missing_keystore_is_refused(anvil: Chain, tmp_path: Path) -> None:
    out = deploy(anvil, tmp_path / "data", "--keystore", str(tmp_path / "nope.json"))
    assert out.returncode == 1 and "not found" in out.stderr


def test_verify_detects_runtime_code_that_differs(anvil: Chain, keystore: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert deploy(anvil, data, "--keystore", str(keystore)).returncode == 0
    path = data / "deployments" / "31337.json"
    manifest = json.loads(path.read_text())
    wallet = Account.create().address  # an address with no code
    manifest["contracts"]["EvidenceRegistry"]["address"] = wallet
    path.write_text(json.dumps(manifest))
    out = deploy(anvil, data, "--verify")
    assert out.returncode == 1 and "EvidenceRegistry" in out.stderr and "no code" in out.stderr


def test_a_manifest_for_another_chain_is_refused(anvil: Chain, keystore: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert deploy(anvil, data, "--keystore", str(keystore)).returncode == 0
    path = data / "deployments" / "31337.json"
    manifest = json.loads(path.read_text())
    manifest["genesisHash"] = "0x" + "ab" * 32
    path.write_text(json.dumps(manifest))
    out = deploy(anvil, data, "--verify")
    assert out.returncode == 1 and "genesis block" in out.stderr


def test_dev_account_is_refused_off_the_dev_chain_and_url_is_required(tmp_path: Path) -> None:
    out = run_cli("deploy", "--data-dir", str(tmp_path))
    assert out.returncode == 1 and "--rpc-url is required" in out.stderr


def test_deploy_creates_a_council_and_its_timelock(anvil: Chain, keystore: Path, tmp_path: Path) -> None:
    """`--council A,B,C --threshold 2`: a Safe of those owners proposing to a new timelock that alone governs."""
    from ledger.chain.governance import describe
    from ledger.chain.powers import ROLES

    owners = [Account.create().address for _ in range(3)]
    data = tmp_path / "data"
    deployer = "0x" + json.loads(keystore.read_text())["address"]
    nonce = anvil.w3.eth.get_transaction_count(anvil.w3.to_checksum_address(deployer))
    bad = deploy(anvil, data, "--keystore", str(keystore), "--council", ",".join(owners), "--threshold", "4")
    assert bad.returncode == 1 and "threshold" in bad.stderr and "Traceback" not in bad.stderr
    assert anvil.w3.eth.get_transaction_count(anvil.w3.to_checksum_address(deployer)) == nonce  # nothing was sent
    both = deploy(anvil, data, "--keystore", str(keystore), "--council", ",".join(owners), "--governance", owners[0])
    assert both.returncode == 1 and "not both" in both.stderr
    out = run_cli(
        "deploy",
        "--rpc-url",
        anvil.node_url,
        "--data-dir",
        str(data),
        "--keystore",
        str(keystore),
        "--council",
        ",".join(owners),
        "--threshold",
        "2",
        env=cli_env(IPLEDGER_KEYSTORE_PASSWORD=PASSWORD, IPLEDGER_GOVERNANCE_DELAY="172800"),
    )
    assert out.returncode == 0, out.stderr
    assert "2 of 3" in out.stdout
    g = json.loads((data / "deployments" / "31337.json").read_text())["governance"]
    assert g["owners"] == owners and g["threshold"] == 2 and g["delaySeconds"] == 172800
    described = describe(anvil.w3, g["timelock"], g["deployBlock"])
    assert described["delaySeconds"] == 172800 and described["proposers"][0]["address"] == g["safe"]
    assert sorted(described["proposers"][0]["owners"]) == sorted(owners)
    evidence = anvil.w3.eth.contract(
        address=json.loads((data / "deployments" / "31337.json").read_text())["contracts"]["EvidenceRegistry"][
            "address"
        ],
        abi=anvil.evidence.abi,
    )
    assert evidence.functions.hasRole(ROLES["GOVERNANCE_ROLE"], g["timelock"]).call()
    assert deploy(anvil, data, "--verify").returncode == 0
