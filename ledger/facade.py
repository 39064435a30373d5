"""The Ledger facade: what the API and the CLI call. One object per chain connection and deployment."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3

from ledger import __version__
from ledger.chain.artifacts import artifact_version
from ledger.config import Settings
from ledger.chain.deployment import Manifest, check_chain, contract, load_or_deploy, manifest_path
from ledger.services.disputes import DisputeService
from ledger.errors import ChainUnavailable, PermissionDenied
from ledger.services.assets import AssetService
from ledger.services.evidence import CertificateBuilder, EvidenceService
from ledger.services.parties import PartyService
from ledger.services.pipeline import Pipeline
from ledger.storage.journal import Store
from ledger.chain.head import ChainHead
from ledger.chain.sender import TxSender

if TYPE_CHECKING:
    from ledger.services.documents import DocumentService
    from ledger.index.sync import Indexer


@dataclass
class Ledger:
    """A connection to one chain and one deployment of the contract suite.

    ``relayer`` is the operator's account that pays gas for relayed signatures and anchors batches; it
    never signs for a party and holds no other power. ``registrar`` (admits firms, universities and service
    agencies; suspends provisionally) and ``governance`` (powerful kinds, confirmations, recoveries; only in the
    embedded default, where it is a local development key) are separate keys (docs/security.md).
    """

    w3: Web3
    manifest: Manifest
    settings: Settings
    relayer: TxSender | None = None
    registrar: TxSender | None = None
    governance: TxSender | None = None
    #: What the embedded node's supervisor reports (set by `ipledger up`); :meth:`health` includes it.
    node_status: Callable[[], dict[str, Any]] | None = None
    #: Whether a block is in the embedded node's state dump on disk (set by `ipledger up`); see :meth:`durable`.
    node_durable: Callable[[int], bool] | None = None

    def __post_init__(self) -> None:
        from ledger.chain.rpc import remember_chain_id

        remember_chain_id(self.w3)

    @classmethod
    def open(
        cls,
        w3: Web3,
        settings: Settings,
        *,
        relayer: LocalAccount | None = None,
        deploy_if_missing: bool = False,
        registrar: LocalAccount | None = None,
        governance: LocalAccount | None = None,
        governance_address: str | None = None,
    ) -> Ledger:
        sender = TxSender(w3, relayer) if relayer is not None else None
        if deploy_if_missing:
            manifest, _ = load_or_deploy(w3, settings.data_dir, sender, registrar=registrar.address if registrar else None,
                                         governance=governance.address if governance else governance_address,
                                         governance_delay=settings.governance_delay)  # fmt: skip
        else:
            manifest = Manifest.load(manifest_path(settings.data_dir, int(w3.eth.chain_id)))
            check_chain(w3, manifest)
        return cls(w3=w3, manifest=manifest, settings=settings, relayer=sender,
                   registrar=TxSender(w3, registrar) if registrar is not None else None,
                   governance=TxSender(w3, governance) if governance is not None else None)  # fmt: skip

    @cached_property
    def head(self) -> ChainHead:
        """The latest block as last read, shared by the relayer (fees), the request paths and the pipeline."""
        return self.relayer.head if self.relayer is not None else ChainHead(self.w3)

    @cached_property
    def store(self) -> Store:
        from ledger.chain.node import ensure_writable_dir

        ensure_writable_dir(Path(self.settings.data_dir))
        return Store(Path(self.settings.data_dir) / "journal.sqlite3")

    @cached_property
    def evidence_service(self) -> EvidenceService:
        return EvidenceService(self, self.store)

    @cached_property
    def parties(self) -> PartyService:
        return PartyService(self)

    @cached_property
    def asset_service(self) -> AssetService:
        self.store  # noqa: B018 - creates the data dir and the journal first
        return AssetService(self)

    @cached_property
    def certificates(self) -> CertificateBuilder:
        return CertificateBuilder(self.evidence_service)

    @cached_property
    def pipeline(self) -> Pipeline:
        return Pipeline(self.evidence_service, self.store)

    @cached_property
    def index(self) -> Indexer:
        from ledger.index.sync import open_index

        return open_index(self.w3, self.manifest, self.settings, journal=lambda: self.store)

    def close(self) -> None:
        if "pipeline" in self.__dict__:
            self.pipeline.stop()
        if "index" in self.__dict__:
            self.index.stop()
            self.index.engine.dispose()
        if "store" in self.__dict__:
            self.store.close()

    def require_relayer(self) -> TxSender:
        if self.relayer is None:
            raise PermissionDenied("this service runs without a relayer account and cannot submit transactions")
        return self.relayer

    def require_registrar(self) -> TxSender:
        if self.registrar is None:
            raise PermissionDenied("this service runs without the registrar key (IPLEDGER_REGISTRAR_KEYSTORE) and cannot "
                                   "admit or suspend parties")  # fmt: skip
        return self.registrar

    def require_governance(self, what: str, fn: Any = None) -> TxSender:
        """The governance sender, when this service holds a plain governance key (test suites); otherwise
        403 naming the call the council schedules through its timelock (``ipledger governance propose``)."""
        if self.governance is None:
            prepared, details = "", {}
            if fn is not None:
                calldata = str(fn._encode_transaction_data())
                prepared = (f" — the call to schedule: target {fn.address}, calldata {calldata}, "
                            "predecessor 0x0, any salt (`ipledger governance propose call --target … --data …`)")
                details = {"governanceCall": {"target": fn.address, "value": 0, "calldata": calldata,
                                              "predecessor": "0x" + "00" * 32}}  # fmt: skip
            raise PermissionDenied(f"{what} needs governance (the consortium council through its timelock); this "
                                   f"service holds no governance key: propose it to the council{prepared}",
                                   details=details)  # fmt: skip
        return self.governance

    def role_accounts(self) -> dict[str, str]:
        """The service's own keys by address: none of them may become a party's account."""
        keys = (("relayer", self.relayer), ("registrar", self.registrar), ("governance", self.governance))
        return {s.address: name for name, s in keys if s is not None}

    @cached_property
    def evidence(self) -> Any:
        return contract(self.w3, self.manifest, "EvidenceRegistry")

    @cached_property
    def disputes(self) -> Any:
        return contract(self.w3, self.manifest, "DisputeRegistry")

    @cached_property
    def documents(self) -> DocumentService:
        from ledger.services.documents import DocumentService

        self.store  # noqa: B018 - creates the data dir and the journal first
        return DocumentService(self)

    @cached_property
    def dispute_service(self) -> DisputeService:
        return DisputeService(self)

    @cached_property
    def assets(self) -> Any:
        return contract(self.w3, self.manifest, "IPAssetRegistry")

    def durable(self, block_number: int) -> bool:
        """Whether block ``block_number`` survives a crash of the node: always on an external chain (its own
        consensus decides, with ``confirmations``); on the embedded node, once the block is in the whole, fsynced
        state dump on disk. The pipeline calls nothing final before."""
        return self.node_durable is None or self.node_durable(block_number)

    def health(self) -> dict[str, Any]:
        """The chain's head, the deployment, the versions and (embedded) the node's supervisor status.

        The node is asked once, each socket operation bounded by :data:`HEALTH_TIMEOUT` seconds and nothing
        retried, so the answer comes within about two seconds whatever the node does. When it does not answer,
        :class:`ChainUnavailable` says what the service is waiting for (the node restarting: attempt, last
        error, next retry; or a node that runs but does not answer), with the node's status in ``details``.
        """
        from ledger.chain.rpc import probe_head

        node = self.node_status() if self.node_status is not None else None
        try:
            head = probe_head(self.w3, timeout=HEALTH_TIMEOUT)
        except Exception:
            raise ChainUnavailable(_waiting_for(node), details={"node": node} if node else None) from None
        body: dict[str, Any] = {
            "status": "ok",
            "version": __version__,
            "artifactVersion": artifact_version(),
            "chainId": self.manifest.chain_id,
            "latestBlock": head.number,
            "latestBlockTime": head.timestamp,
            "contracts": {n: c.address for n, c in self.manifest.contracts.items()},
            "relayer": self.relayer.address if self.relayer else None,
        }
        if node is not None:
            body["node"] = node
        return body


#: Seconds each socket operation of the health probe may take (connect, then read).
HEALTH_TIMEOUT = 0.8


def _waiting_for(node: dict[str, Any] | None) -> str:
    """What a 503 from /v1/health is waiting for, in one sentence."""
    if node is None:
        return "the chain node does not answer"
    if node.get("state") == "restarting":
        parts = [f"attempt {node.get('attempts') or 1}"]
        if node.get("lastError"):
            parts.append(f"last error: {node['lastError']}")
        if node.get("nextRetryIn") is not None:
            parts.append(f"next try in {float(node['nextRetryIn']):.0f} s")
        return "the embedded node is restarting (" + "; ".join(parts) + ")"
    ago = node.get("lastAnswerAgo")
    since = f" (last answer {float(ago):.0f} s ago)" if ago is not None else ""
    return f"the embedded node (pid {node.get('pid')}) runs but does not answer{since}"


def dev_operator() -> LocalAccount:
    """The embedded node's well-known operator account (public key material; dev chain only)."""
    from ledger.chain.node import DEV_OPERATOR_KEY

    return Account.from_key(DEV_OPERATOR_KEY)


def data_path(settings: Settings, *parts: str) -> Path:
    return Path(settings.data_dir).joinpath(*parts)
