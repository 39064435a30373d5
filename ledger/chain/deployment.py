"""Deploys the contract suite and owns the deployment manifest: the one place that knows addresses.

The manifest (JSON, ``<data_dir>/deployments/<chain_id>.json`` by default) records the chain id and genesis
hash, each contract's address, deploy transaction and block, the keccak-256 of its runtime code, and the
artifact version. A chain that answers with another chain id or genesis block is refused.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from eth_utils import keccak
from web3 import Web3
from web3.contract import Contract

from ledger import __version__
from ledger.chain.artifacts import SUITE, artifact_version, load_artifact
from ledger.chain.sender import SentTransaction, TxSender
from ledger.errors import (
    ChainMismatch,
    DeploymentExists,
    DeploymentMismatch,
    DeploymentMissing,
)

MANIFEST_FORMAT = "ipledger-deployment/1"


@dataclass(frozen=True)
class DeployedContract:
    name: str
    address: str
    deploy_block: int
    tx_hash: str
    runtime_code_hash: str


@dataclass(frozen=True)
class Manifest:
    chain_id: int
    genesis_hash: str
    contracts: dict[str, DeployedContract]
    artifact_version: str
    deployer: str
    deployed_at: str
    #: The governance account and, when this deployment created it, its council (:class:`ledger.chain.governance.Council`).
    governance: dict[str, Any] | None = None
    #: The checkpoint contracts on public chains, by the public chain's id as a string
    #: (:func:`deploy_checkpoint_registry`): ``chainId``, ``genesisHash``, ``address``, ``deployBlock``, ``txHash``,
    #: ``runtimeCodeHash``, ``writer``. Apart from ``contracts``: those are all on this (the consortium) chain.
    anchors: dict[str, dict[str, Any]] = field(default_factory=dict)

    def address(self, name: str) -> str:
        try:
            return self.contracts[name].address
        except KeyError:
            raise DeploymentMissing(f"the manifest has no {name}") from None

    @property
    def deploy_block(self) -> int:
        return min(c.deploy_block for c in self.contracts.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "format": MANIFEST_FORMAT,
            "chainId": self.chain_id,
            "genesisHash": self.genesis_hash,
            "artifactVersion": self.artifact_version,
            "deployer": self.deployer,
            "deployedAt": self.deployed_at,
            "softwareVersion": __version__,
            "contracts": {
                n: {
                    "address": c.address,
                    "deployBlock": c.deploy_block,
                    "txHash": c.tx_hash,
                    "runtimeCodeHash": c.runtime_code_hash,
                }
                for n, c in self.contracts.items()
            },
            **({"governance": self.governance} if self.governance is not None else {}),
            **({"anchors": self.anchors} if self.anchors else {}),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Manifest:
        if data.get("format") != MANIFEST_FORMAT:
            raise DeploymentMissing(f"unknown manifest format {data.get('format')!r}")
        return cls(
            chain_id=int(data["chainId"]),
            genesis_hash=str(data["genesisHash"]),
            artifact_version=str(data["artifactVersion"]),
            deployer=str(data["deployer"]),
            deployed_at=str(data["deployedAt"]),
            contracts={
                n: DeployedContract(n, c["address"], int(c["deployBlock"]), c["txHash"], c["runtimeCodeHash"])
                for n, c in data["contracts"].items()
            },
            governance=dict(data["governance"]) if isinstance(data.get("governance"), dict) else None,
            anchors={str(k): dict(v) for k, v in data["anchors"].items()}
            if isinstance(data.get("anchors"), dict)
            else {},
        )

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.to_json(), indent=2) + "\n", encoding="utf-8")
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> Manifest:
        if not path.exists():
            raise DeploymentMissing(f"no deployment manifest at {path} (run `ipledger deploy`)")
        try:
            return cls.from_json(json.loads(path.read_text(encoding="utf-8")))
        except (ValueError, KeyError, TypeError) as exc:
            raise DeploymentMissing(f"the manifest at {path} is unreadable ({exc})") from None


def manifest_path(data_dir: Path, chain_id: int) -> Path:
    return data_dir / "deployments" / f"{chain_id}.json"


def genesis_hash(w3: Web3) -> str:
    return Web3.to_hex(w3.eth.get_block(0)["hash"])


def contract(w3: Web3, manifest: Manifest, name: str) -> Contract:
    return w3.eth.contract(address=Web3.to_checksum_address(manifest.address(name)), abi=load_artifact(name)["abi"])


def create_address(deployer: str, nonce: int) -> str:
    """The address a contract created by ``deployer``'s transaction with ``nonce`` gets (CREATE)."""
    import rlp  # type: ignore[import-untyped]

    raw = keccak(rlp.encode([bytes.fromhex(Web3.to_checksum_address(deployer)[2:]), nonce]))
    return Web3.to_checksum_address(raw[12:])


def deploy_suite(
    sender: TxSender,
    *,
    operator: str | None = None,
    registrar: str | None = None,
    governance: str | None = None,
    recovery_delay: int | None = None,
    suspension_period: int | None = None,
    council: list[str] | None = None,
    threshold: int | None = None,
    governance_delay: int | None = None,
) -> Manifest:
    """Deploys every contract of the suite with the powers separated (docs/security.md "Roles"):
    ``operator`` (default: the deployer) is the relayer that anchors batch roots and holds nothing else;
    ``registrar`` admits ordinary parties; ``governance`` (an address a timelock can hold) is the party
    registry's default admin and governance role. Instead of ``governance``, ``council`` (owner addresses) and
    ``threshold`` create it: a Safe of those owners and an OpenZeppelin timelock with ``governance_delay`` seconds
    whose proposer is the Safe (:func:`ledger.chain.governance.deploy_council`). On the development chain (id 31337) the
    registrar defaults to anvil's account 8 and, when neither is given, the council to a 2-of-3 Safe of anvil's
    accounts 9, 10 and 11 with a 60-second timelock; elsewhere both must be given. The three powers must differ.
    ``recovery_delay`` and ``suspension_period`` (seconds) default to 7 and 14 days.

    The asset registry has no administrator: its dispute effects answer to the dispute registry alone, whose
    address is computed before it exists (the deployer's CREATE address one transaction after the asset
    registry's) and fixed in the asset registry's constructor. The dispute registry's constructor refuses to
    deploy unless the asset registry names it, so a missed prediction fails the deployment loudly."""
    w3 = sender.w3
    operator = Web3.to_checksum_address(operator or sender.address)
    governance_record: dict[str, Any] | None = None
    if governance and council:
        from ledger.errors import ConfigurationError

        raise ConfigurationError(
            "give either an existing governance address or a council to create, not both", field="governance"
        )
    if not governance and (council or int(w3.eth.chain_id) == 31337):
        # the registrar is checked before the council is created, so that a refused deployment sends nothing
        _party_roles(int(w3.eth.chain_id), operator, registrar, "0x" + "ee" * 20, recovery_delay, suspension_period)
        from ledger.chain.governance import (
            DEV_COUNCIL_THRESHOLD,
            DEV_GOVERNANCE_DELAY,
            deploy_council,
            dev_council,
        )

        owners = council or [a.address for a in dev_council()]
        made = deploy_council(
            sender,
            owners,
            threshold or (len(owners) // 2 + 1 if council else DEV_COUNCIL_THRESHOLD),
            governance_delay or DEV_GOVERNANCE_DELAY,
        )
        governance, governance_record = made.timelock, made.to_json()
    elif governance:
        governance_record = {"timelock": Web3.to_checksum_address(governance)}
    roles = _party_roles(int(w3.eth.chain_id), operator, registrar, governance, recovery_delay, suspension_period)
    deployed: dict[str, DeployedContract] = {}
    predicted: dict[str, str] = {}
    for name in SUITE:
        if name == "IPAssetRegistry":  # the dispute registry is the very next transaction of the deployer
            nonce = int(w3.eth.get_transaction_count(Web3.to_checksum_address(sender.address), "pending"))
            predicted = {
                "IPAssetRegistry": create_address(sender.address, nonce),
                "DisputeRegistry": create_address(sender.address, nonce + 1),
            }
        deployed[name] = _deploy_one(sender, name, _constructor_args(name, roles, deployed, predicted))
        address = deployed[name].address
        if name in predicted and predicted[name] != address:
            raise DeploymentMismatch(
                f"{name} was deployed at {address}, not at the address {predicted[name]} the asset "
                "registry was bound to (another transaction of the deployer came in between)"
            )
    return Manifest(
        chain_id=int(w3.eth.chain_id),
        genesis_hash=genesis_hash(w3),
        contracts=deployed,
        artifact_version=artifact_version(),
        deployer=sender.address,
        deployed_at=datetime.now(UTC).isoformat(timespec="seconds"),
        governance=governance_record,
    )


def _party_roles(
    chain_id: int,
    operator: str,
    registrar: str | None,
    governance: str | None,
    recovery_delay: int | None,
    suspension_period: int | None,
) -> tuple[Any, ...]:
    """The evidence (and party) registry's constructor arguments: governance, registrar, anchorer, delays."""
    from ledger.chain.powers import (
        RECOVERY_DELAY,
        SUSPENSION_CONFIRMATION_PERIOD,
        dev_registrar,
    )
    from ledger.errors import ConfigurationError

    if chain_id == 31337:
        registrar = registrar or dev_registrar().address
    if not registrar or not governance:
        raise ConfigurationError(
            "deploying needs a registrar and a governance address (the governance address is "
            "a timelock or council wallet; neither may be the relayer)",
            field="governance",
        )
    registrar, governance = Web3.to_checksum_address(registrar), Web3.to_checksum_address(governance)
    if len({operator, registrar, governance}) != 3:
        raise ConfigurationError(
            "the relayer, the registrar and governance must be three different accounts", field="governance"
        )
    return (
        governance,
        registrar,
        operator,
        recovery_delay or RECOVERY_DELAY,
        suspension_period or SUSPENSION_CONFIRMATION_PERIOD,
    )


def _constructor_args(
    name: str, roles: tuple[Any, ...], deployed: dict[str, DeployedContract], predicted: dict[str, str]
) -> tuple[Any, ...]:
    if name == "IPAssetRegistry":  # parties are resolved through the evidence contract's party registry
        return (deployed["EvidenceRegistry"].address, predicted["DisputeRegistry"])
    if name == "DisputeRegistry":
        return (deployed["EvidenceRegistry"].address, deployed["IPAssetRegistry"].address)
    if name == "CreatorRegistry":  # no administrator: it reads the evidence registry's records and parties
        return (deployed["EvidenceRegistry"].address,)
    return roles


#: Contracts a deployment made before they existed gets on its next start (they hold no power and depend only on
#: contracts already deployed), in deployment order.
ADDABLE = ("CreatorRegistry",)


def _deploy_one(sender: TxSender, name: str, args: tuple[Any, ...]) -> DeployedContract:
    w3 = sender.w3
    art = load_artifact(name)
    factory = w3.eth.contract(abi=art["abi"], bytecode=art["bytecode"])
    data = factory.constructor(*args).build_transaction({"from": sender.address, "gas": 0, "nonce": 0})["data"]
    sent = sender.send({"data": data})
    assert isinstance(sent, SentTransaction)
    address = Web3.to_checksum_address(sent.receipt["contractAddress"])
    code = bytes(w3.eth.get_code(address))
    return DeployedContract(name, address, sent.block_number, sent.tx_hash, "0x" + keccak(code).hex())


def complete_suite(sender: TxSender, manifest: Manifest, path: Path) -> Manifest:
    """Deploys the :data:`ADDABLE` contracts ``manifest`` lacks (a deployment made by an earlier version) and saves
    the manifest with them; returns it unchanged when nothing is missing."""
    missing = [n for n in ADDABLE if n not in manifest.contracts]
    if not missing:
        return manifest
    deployed = dict(manifest.contracts)
    for name in missing:
        deployed[name] = _deploy_one(sender, name, _constructor_args(name, (), deployed, {}))
    completed = Manifest(
        chain_id=manifest.chain_id,
        genesis_hash=manifest.genesis_hash,
        contracts=deployed,
        artifact_version=manifest.artifact_version,
        deployer=manifest.deployer,
        deployed_at=manifest.deployed_at,
        governance=manifest.governance,
    )
    completed.save(path)
    return completed


def check_chain(w3: Web3, manifest: Manifest) -> None:
    """Raises :class:`ChainMismatch` unless ``w3`` is the chain the manifest was deployed on."""
    chain_id = int(w3.eth.chain_id)
    if chain_id != manifest.chain_id:
        raise ChainMismatch(f"the node's chain id is {chain_id}, the deployment manifest is for {manifest.chain_id}")
    actual = genesis_hash(w3)
    if actual != manifest.genesis_hash:
        raise ChainMismatch(
            f"the node's genesis block {actual[:10]}… differs from the manifest's {manifest.genesis_hash[:10]}…: "
            "this is another chain with the same id (or its state was lost)"
        )


def verify_deployment(w3: Web3, manifest: Manifest) -> dict[str, bool]:
    """Checks the runtime code at each address against the committed artifacts; raises on any difference."""
    check_chain(w3, manifest)
    results: dict[str, bool] = {}
    problems = []
    for name, c in manifest.contracts.items():
        code = bytes(w3.eth.get_code(Web3.to_checksum_address(c.address)))
        ok = bool(code) and _strip_immutables(load_artifact(name), code)
        results[name] = ok
        if not ok:
            problems.append(name if code else f"{name} (no code at {c.address})")
    if problems:
        raise DeploymentMismatch("runtime code differs from the artifacts for: " + ", ".join(problems))
    _check_binding(w3, manifest)
    _check_governance(w3, manifest)
    return results


def _check_governance(w3: Web3, manifest: Manifest) -> None:
    """The governance the manifest records holds the party registry's admin role, and a council this deployment
    created is the audited code: the timelock is our compiled OpenZeppelin TimelockController, the Safe a proxy of
    the Safe 1.4.1 singleton whose code is the npm package's."""
    record = manifest.governance or {}
    if not record.get("timelock") or "EvidenceRegistry" not in manifest.contracts:
        return
    timelock = Web3.to_checksum_address(record["timelock"])
    admin = Web3.to_checksum_address(contract(w3, manifest, "EvidenceRegistry").functions.defaultAdmin().call())
    if admin != timelock:
        raise DeploymentMismatch(f"the party registry's admin is {admin}, not the manifest's governance {timelock}")
    if "safe" not in record:
        return
    from ledger.chain.governance import load_safe_artifact

    checks = {
        "Timelock": (timelock, load_artifact("Timelock")),
        "Safe": (record["safeSingleton"], load_safe_artifact("Safe")),
    }
    for name, (address, art) in checks.items():
        code = bytes(w3.eth.get_code(Web3.to_checksum_address(address)))
        if not code or not _strip_immutables(art, code):
            raise DeploymentMismatch(f"the code of the governance's {name} at {address} differs from its artifact")
    # a Safe proxy keeps its singleton in storage slot 0
    singleton = bytes(w3.eth.get_storage_at(Web3.to_checksum_address(record["safe"]), 0))[-20:]
    if Web3.to_checksum_address(singleton) != Web3.to_checksum_address(record["safeSingleton"]):
        raise DeploymentMismatch(f"the council Safe {record['safe']} is not a proxy of the Safe singleton")


def _check_binding(w3: Web3, manifest: Manifest) -> None:
    """The immutables that carry power, which the code comparison masks: the asset registry's dispute registry
    (the only caller of freeze, unfreeze, void and restore) is the manifest's, and it points back; the creator
    registry reads the manifest's evidence registry."""
    if "CreatorRegistry" in manifest.contracts:
        read = contract(w3, manifest, "CreatorRegistry").functions.evidenceRegistry().call()
        if Web3.to_checksum_address(read) != Web3.to_checksum_address(manifest.address("EvidenceRegistry")):
            raise DeploymentMismatch(
                f"the creator registry reads the evidence registry {read}, not the manifest's "
                f"{manifest.address('EvidenceRegistry')}"
            )
    if "IPAssetRegistry" not in manifest.contracts or "DisputeRegistry" not in manifest.contracts:
        return
    bound = contract(w3, manifest, "IPAssetRegistry").functions.disputeRegistry().call()
    back = contract(w3, manifest, "DisputeRegistry").functions.assetRegistry().call()
    if Web3.to_checksum_address(bound) != Web3.to_checksum_address(manifest.address("DisputeRegistry")) or (
        Web3.to_checksum_address(back) != Web3.to_checksum_address(manifest.address("IPAssetRegistry"))
    ):
        raise DeploymentMismatch(
            f"the asset registry answers to {bound} for disputes, not to the manifest's dispute "
            f"registry {manifest.address('DisputeRegistry')}"
        )


def _strip_immutables(artifact: dict[str, Any], onchain: bytes) -> bool:
    """Compares runtime code with the artifact's deployed bytecode outside the immutable slots.

    Immutables (the EIP-712 domain's cached chain id and address, ...) are written at deploy time; the
    compiler lists their byte ranges (``immutableReferences``), which are masked on both sides.
    """
    expected = bytearray(bytes.fromhex(artifact["deployedBytecode"][2:]))
    actual = bytearray(onchain)
    if len(expected) != len(actual):
        return False
    for refs in artifact.get("immutableReferences", {}).values():
        for ref in refs:
            start, length = int(ref["start"]), int(ref["length"])
            expected[start : start + length] = bytes(length)
            actual[start : start + length] = bytes(length)
    return expected == actual


def load_or_deploy(
    w3: Web3,
    data_dir: Path,
    sender: TxSender | None,
    *,
    registrar: str | None = None,
    governance: str | None = None,
    governance_delay: int | None = None,
) -> tuple[Manifest, bool]:
    """The manifest for this chain, deploying the suite first when there is none and a sender is given
    (``registrar`` and ``governance`` as for :func:`deploy_suite`)."""
    path = manifest_path(data_dir, int(w3.eth.chain_id))
    if path.exists():
        manifest = Manifest.load(path)
        check_chain(w3, manifest)
        if sender is not None:
            manifest = complete_suite(sender, manifest, path)
        return manifest, False
    if sender is None:
        raise DeploymentMissing(f"no deployment for chain {w3.eth.chain_id} in {data_dir} (run `ipledger deploy`)")
    manifest = deploy_suite(sender, registrar=registrar, governance=governance, governance_delay=governance_delay)
    manifest.save(path)
    return manifest, True


def refuse_overwrite(path: Path, force: bool) -> None:
    if path.exists() and not force:
        raise DeploymentExists(f"a deployment manifest already exists at {path} (use --force to deploy anew)")


# --- checkpoints on public chains --------------------------------------------------------------------------------

#: The contract a public chain holds the checkpoints in (contracts/public/CheckpointRegistry.sol).
CHECKPOINT_REGISTRY = "CheckpointRegistry"


def deploy_checkpoint_registry(sender: TxSender, manifest: Manifest) -> dict[str, Any]:
    """Deploys the checkpoint contract of ``manifest``'s deployment on the public chain ``sender`` talks to, written
    by ``sender``'s account alone; returns its record for :attr:`Manifest.anchors` (the caller saves it with
    :func:`record_anchor`). It covers the evidence registry from its deployment block on."""
    w3 = sender.w3
    art = load_artifact(CHECKPOINT_REGISTRY)
    factory = w3.eth.contract(abi=art["abi"], bytecode=art["bytecode"])
    registry = manifest.contracts["EvidenceRegistry"]
    args = (manifest.chain_id, Web3.to_checksum_address(registry.address), registry.deploy_block, sender.address)
    data = factory.constructor(*args).build_transaction({"from": sender.address, "gas": 0, "nonce": 0})["data"]
    sent = sender.send({"data": data})
    assert isinstance(sent, SentTransaction)
    address = Web3.to_checksum_address(sent.receipt["contractAddress"])
    code = bytes(w3.eth.get_code(address))
    return {
        "chainId": int(w3.eth.chain_id),
        "genesisHash": genesis_hash(w3),
        "address": address,
        "deployBlock": sent.block_number,
        "txHash": sent.tx_hash,
        "runtimeCodeHash": "0x" + keccak(code).hex(),
        "writer": sender.address,
        "firstBlock": registry.deploy_block,
    }


def record_anchor(data_dir: Path, manifest: Manifest, anchor: dict[str, Any]) -> None:
    """Adds ``anchor`` to ``manifest.anchors`` and to the manifest file of its chain (read again first, so that
    nothing else the file holds is lost), written atomically."""
    manifest.anchors[str(anchor["chainId"])] = anchor
    path = manifest_path(data_dir, manifest.chain_id)
    on_disk = Manifest.load(path) if path.exists() else manifest
    on_disk.anchors[str(anchor["chainId"])] = anchor
    on_disk.save(path)


def check_anchor(w3: Web3, manifest: Manifest, chain_id: int) -> dict[str, Any] | None:
    """The manifest's record of the checkpoint contract on the public chain ``w3`` (None when there is none yet);
    :class:`ChainMismatch` when that chain's genesis block is not the recorded one, :class:`DeploymentMismatch` when
    the runtime code at the address is not the artifact's."""
    record = manifest.anchors.get(str(chain_id))
    if record is None:
        return None
    if genesis_hash(w3) != record["genesisHash"]:
        raise ChainMismatch(
            f"the public chain {chain_id} has another genesis block than when its checkpoint contract was deployed"
        )
    code = bytes(w3.eth.get_code(Web3.to_checksum_address(record["address"])))
    if not code or not _strip_immutables(load_artifact(CHECKPOINT_REGISTRY), code):
        raise DeploymentMismatch(f"the code at {record['address']} on chain {chain_id} is not the checkpoint contract")
    return record
