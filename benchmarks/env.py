"""The benchmark chain: one anvil (automine) with our suite and EAS (SchemaRegistry + EAS) deployed."""

from __future__ import annotations

import json
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from web3 import Web3
from web3.providers.rpc import HTTPProvider

from ledger.chain.artifacts import load_artifact
from ledger.chain.deployment import Manifest, deploy_suite
from ledger.chain.node import DEV_OPERATOR_KEY, EmbeddedNode, find_anvil, free_port
from ledger.chain.sender import SentTransaction, TxSender
from ledger.domain import eip712

REPO_ROOT = Path(__file__).resolve().parents[1]
EAS_ARTIFACTS = (
    REPO_ROOT / "node_modules" / "@ethereum-attestation-service" / "eas-contracts" / "artifacts" / "contracts"
)
#: The EAS schema that carries the same fields as our registration.
EAS_SCHEMA = "bytes32 contentHash,uint8 algorithm,bytes32 metadata"
FIRM_USCC = "91110108551385082Q"


def eas_artifact(name: str) -> dict[str, Any]:
    return json.loads((EAS_ARTIFACTS / f"{name}.sol" / f"{name}.json").read_text(encoding="utf-8"))


def anvil_version() -> str:
    try:
        out = subprocess.run([str(find_anvil()), "--version"], capture_output=True, text=True, timeout=20).stdout
    except Exception as exc:  # pragma: no cover - reported, not fatal
        return f"unknown ({type(exc).__name__})"
    return out.splitlines()[0].strip() if out else "unknown"


@dataclass
class BenchChain:
    """One embedded anvil with the suite, EAS and one admitted party (two accounts)."""

    node: EmbeddedNode
    w3: Web3
    operator: LocalAccount
    sender: TxSender
    manifest: Manifest
    evidence: Any
    eas: Any
    schema_registry: Any
    schema_uid: bytes
    party: LocalAccount
    party_sender: TxSender
    funder: str
    _tmp: tempfile.TemporaryDirectory[str] | None = field(default=None, repr=False)

    @classmethod
    def start(cls) -> BenchChain:
        tmp = tempfile.TemporaryDirectory(prefix="ipledger-bench-")
        node = EmbeddedNode(Path(tmp.name), port=free_port(), block_time=None, state_interval=3600)
        node.start()
        try:
            return cls._setup(node, tmp)
        except BaseException:
            node.stop()
            tmp.cleanup()
            raise

    @classmethod
    def _setup(cls, node: EmbeddedNode, tmp: tempfile.TemporaryDirectory[str]) -> BenchChain:
        w3 = Web3(HTTPProvider(node.rpc_url, request_kwargs={"timeout": 60}))
        operator = Account.from_key(DEV_OPERATOR_KEY)
        sender = TxSender(w3, operator)
        manifest = deploy_suite(sender)
        evidence = w3.eth.contract(
            address=manifest.address("EvidenceRegistry"), abi=load_artifact("EvidenceRegistry")["abi"]
        )

        reg_art, eas_art = eas_artifact("SchemaRegistry"), eas_artifact("EAS")
        reg_addr = _deploy(sender, reg_art, [])
        eas_addr = _deploy(sender, eas_art, [reg_addr])
        registry = w3.eth.contract(address=reg_addr, abi=reg_art["abi"])
        eas = w3.eth.contract(address=eas_addr, abi=eas_art["abi"])
        sender.send_call(registry.functions.register(EAS_SCHEMA, "0x" + "00" * 20, True))
        schema_uid = keccak(EAS_SCHEMA.encode() + b"\0" * 20 + b"\x01")  # abi.encodePacked(schema, resolver, revocable)
        assert bytes(registry.functions.getSchema(schema_uid).call()[0]) == schema_uid, "EAS schema not registered"

        funder = w3.eth.accounts[1]
        party = Account.from_key(keccak(text="ipledger-bench:party"))
        chain = cls(
            node,
            w3,
            operator,
            sender,
            manifest,
            evidence,
            eas,
            registry,
            schema_uid,
            party,
            TxSender(w3, party),
            funder,
            tmp,
        )
        chain.fund(party.address)
        chain.admit([party.address], FIRM_USCC)
        return chain

    def stop(self) -> None:
        self.node.stop()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> BenchChain:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- helpers ---

    @property
    def rpc_url(self) -> str:
        return self.node.rpc_url

    def domain(self) -> eip712.Domain:
        return eip712.Domain(self.manifest.chain_id, self.manifest.address("EvidenceRegistry"))

    def now(self) -> int:
        return int(self.w3.eth.get_block("latest")["timestamp"])

    def fund(self, address: str, wei: int = 10**21) -> None:
        tx = self.w3.eth.send_transaction({"from": self.funder, "to": address, "value": wei})
        self.w3.eth.wait_for_transaction_receipt(tx)

    def admit_by_council(self, accounts: list[str], identifier: str, kind: int) -> int:
        """Admits a party of a kind that carries power (an asset verifier, 6) as the development council does: a
        Safe proposal to the timelock signed by two members, scheduled, run after the delay (the node's clock
        moved on)."""
        from ledger.chain import governance as gov

        record = self.manifest.governance or {}
        data = self.evidence.functions.admitParty(
            (kind, 1, 3, identifier, "前海基准核验机构", "Qianhai Benchmark Verifier"), accounts
        )._encode_transaction_data()
        proposal = gov.propose(
            self.w3,
            record["timelock"],
            record["safe"],
            target=self.evidence.address,
            data=bytes.fromhex(data[2:]),
            description=f"admit {identifier}",
        )
        for member in gov.dev_council()[:2]:
            proposal = gov.approve(self.w3, proposal, member)
        gov.execute(self.sender, proposal)  # scheduled
        self.w3.provider.make_request("evm_increaseTime", [proposal.delay + 1])  # type: ignore[arg-type]
        self.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
        gov.execute(self.sender, proposal)  # run
        return int(self.evidence.functions.partyCount().call())

    def admit(self, accounts: list[str], identifier: str) -> int:
        """Admits a party exactly as tests/helpers.py ``Chain.admit`` does (the registrar's transaction)."""
        from ledger.chain.powers import dev_registrar

        scheme = 1 if identifier == FIRM_USCC else 3  # a USCC, or an identifier of scheme other (e.g. BENCH-UNI-1)
        profile = (1, 1, scheme, identifier, "前海基准测试有限公司", "Qianhai Benchmark Ltd")
        sent = TxSender(self.w3, dev_registrar()).send_call(self.evidence.functions.admitParty(profile, accounts))
        assert isinstance(sent, SentTransaction)
        return int(self.evidence.functions.partyCount().call())


def _deploy(sender: TxSender, art: dict[str, Any], args: list[Any]) -> str:
    factory = sender.w3.eth.contract(abi=art["abi"], bytecode=art["bytecode"])
    data = factory.constructor(*args).build_transaction({"from": sender.address, "gas": 0, "nonce": 0})["data"]
    sent = sender.send({"data": data})
    assert isinstance(sent, SentTransaction)
    return Web3.to_checksum_address(sent.receipt["contractAddress"])
