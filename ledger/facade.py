"""The Ledger facade: what the API and the CLI call. One object per chain connection and deployment.

It only wires: it opens the chain :class:`~ledger.chain.connection.Connection`, the journal
(:class:`~ledger.storage.journal.Store`), the index, and constructs each service with the collaborators it uses
(parties <- evidence <- documents; parties <- assets <- disputes <- case files; evidence <- pipeline), each on
first use. Nothing in ``ledger/`` imports this module: only ``api/`` and ``cli/`` do.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3

from ledger import __version__
from ledger.chain.artifacts import artifact_version
from ledger.chain.connection import Connection
from ledger.chain.deployment import Manifest, check_chain, load_or_deploy, manifest_path
from ledger.chain.head import ChainHead
from ledger.chain.sender import TxSender
from ledger.config import Settings
from ledger.domain.results import HealthView, PowersView
from ledger.errors import ChainUnavailable, StorageUnavailable
from ledger.services.agreements import AgreementService
from ledger.services.assets import AssetService
from ledger.services.casefiles import CaseFileService
from ledger.services.disputes import DisputeService
from ledger.services.evidence import CertificateBuilder, EvidenceService
from ledger.services.parties import PartyService
from ledger.services.pipeline import Pipeline
from ledger.storage.journal import Store

if TYPE_CHECKING:
    from ledger.index.sync import Indexer
    from ledger.services.checkpoints import Checkpointer
    from ledger.services.creators import CreatorService
    from ledger.services.documents import DocumentService
    from ledger.services.persons import PersonService
    from ledger.services.tsa import TimeStampService


class Ledger:
    """A connection to one chain and one deployment of the contract suite, and the services over it.

    ``relayer`` is the operator's account that pays gas for relayed signatures and anchors batches; it
    never signs for a party and holds no other power. ``registrar`` (admits firms, universities and service
    agencies; suspends provisionally) and ``governance`` (powerful kinds, confirmations, recoveries; only in the
    embedded default, where it is a local development key) are separate keys (docs/security.md). The chain-level
    members (``w3``, ``manifest``, the senders, ``head``, the contract handles, ``require_*``, ``durable``) are the
    :attr:`connection`'s, shown here for the API and the CLI.
    """

    def __init__(
        self,
        w3: Web3,
        manifest: Manifest,
        settings: Settings,
        relayer: TxSender | None = None,
        registrar: TxSender | None = None,
        governance: TxSender | None = None,
        node_status: Callable[[], dict[str, Any]] | None = None,
        node_durable: Callable[[int], bool] | None = None,
    ) -> None:
        from ledger.chain.rpc import remember_chain_id

        self.connection = Connection(
            w3=w3,
            manifest=manifest,
            relayer=relayer,
            registrar=registrar,
            governance=governance,
            node_durable=node_durable,
        )
        self.settings = settings
        #: The anchor key that writes checkpoints on public chains (set by `ipledger up`); None: none written.
        self.anchor_account: LocalAccount | None = None
        #: What the embedded node's supervisor reports (set by `ipledger up`); :meth:`health` includes it.
        self.node_status = node_status
        remember_chain_id(w3)

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
            manifest, _ = load_or_deploy(
                w3,
                settings.data_dir,
                sender,
                registrar=registrar.address if registrar else None,
                governance=governance.address if governance else governance_address,
                governance_delay=settings.governance_delay,
            )
        else:
            manifest = Manifest.load(manifest_path(settings.data_dir, int(w3.eth.chain_id)))
            check_chain(w3, manifest)
        return cls(
            w3=w3,
            manifest=manifest,
            settings=settings,
            relayer=sender,
            registrar=TxSender(w3, registrar) if registrar is not None else None,
            governance=TxSender(w3, governance) if governance is not None else None,
        )

    # --- the connection's members, for the API and the CLI -------------------------------------------

    @property
    def w3(self) -> Web3:
        return self.connection.w3

    @property
    def manifest(self) -> Manifest:
        return self.connection.manifest

    @property
    def relayer(self) -> TxSender | None:
        return self.connection.relayer

    @relayer.setter
    def relayer(self, sender: TxSender | None) -> None:
        self.connection.relayer = sender

    @property
    def registrar(self) -> TxSender | None:
        return self.connection.registrar

    @registrar.setter
    def registrar(self, sender: TxSender | None) -> None:
        self.connection.registrar = sender

    @property
    def governance(self) -> TxSender | None:
        return self.connection.governance

    @governance.setter
    def governance(self, sender: TxSender | None) -> None:
        self.connection.governance = sender

    @property
    def node_durable(self) -> Callable[[int], bool] | None:
        """Whether a block is in the embedded node's state dump on disk (set by `ipledger up`); see :meth:`durable`."""
        return self.connection.node_durable

    @node_durable.setter
    def node_durable(self, durable: Callable[[int], bool] | None) -> None:
        self.connection.node_durable = durable

    @property
    def head(self) -> ChainHead:
        """The latest block as last read, shared by the relayer (fees), the request paths and the pipeline."""
        return self.connection.head

    @property
    def evidence(self) -> Any:
        return self.connection.evidence

    @property
    def assets(self) -> Any:
        return self.connection.assets

    @property
    def disputes(self) -> Any:
        return self.connection.disputes

    def require_relayer(self) -> TxSender:
        return self.connection.require_relayer()

    def require_registrar(self) -> TxSender:
        return self.connection.require_registrar()

    def require_governance(self, what: str, fn: Any = None) -> TxSender:
        return self.connection.require_governance(what, fn)

    def role_accounts(self) -> dict[str, str]:
        return self.connection.role_accounts()

    def durable(self, block_number: int) -> bool:
        return self.connection.durable(block_number)

    def powers(self) -> PowersView:
        """Who holds each power in this deployment, read from the chain (:func:`ledger.chain.powers.powers`)."""
        from ledger.chain.powers import powers

        return powers(self.connection)

    # --- the journal, the index and the services, each opened on first use --------------------------

    @cached_property
    def store(self) -> Store:
        from ledger.chain.node import ensure_writable_dir

        ensure_writable_dir(Path(self.settings.data_dir))
        return Store.in_data_dir(Path(self.settings.data_dir), self.settings.journal_url)

    def open_storage(self) -> None:
        """:func:`open_journal` for this ledger, for a process about to serve or send (`ipledger serve`,
        `worker`): its journal is then the one opened here."""
        if "store" not in self.__dict__:
            self.store = open_journal(self.settings)

    @cached_property
    def parties(self) -> PartyService:
        return PartyService(self.connection, index=lambda: self.index)

    @cached_property
    def persons(self) -> PersonService:
        """Natural persons' admission, access and erasure, over the personal-data store of the data directory; opening
        it settles the admissions a crash left pending (docs/privacy.md)."""
        from ledger.chain.node import ensure_writable_dir
        from ledger.services.persons import PersonService
        from ledger.storage.personal import PersonalStore

        ensure_writable_dir(Path(self.settings.data_dir))
        service = PersonService(
            self.connection, self.parties, PersonalStore(Path(self.settings.data_dir)), self.certificates
        )
        service.settle(min_age=0)  # none of this process is in flight; one sent before a restart waits (settle)
        return service

    @cached_property
    def evidence_service(self) -> EvidenceService:
        return EvidenceService(self.connection, self.store, self.settings, self.parties)

    @cached_property
    def creators(self) -> CreatorService:
        """Creators' endorsements of records registered by another party (the creator registry)."""
        from ledger.services.creators import CreatorService

        return CreatorService(self.connection, self.parties)

    @cached_property
    def certificates(self) -> CertificateBuilder:
        return CertificateBuilder(
            self.evidence_service,
            self.creators.endorsements,
            self.checkpoints if self.settings.anchor_rpc_url else None,
        )

    @cached_property
    def checkpoints(self) -> Checkpointer:
        """The checkpoints on public chains (IPLEDGER_ANCHOR_RPC_URL), written with :attr:`anchor_account` by the
        background task `ipledger up` starts (``ledger.services.checkpoints``)."""
        from ledger.chain.node import ensure_writable_dir
        from ledger.services.checkpoints import Checkpointer
        from ledger.storage.checkpoints import CheckpointStore

        ensure_writable_dir(Path(self.settings.data_dir))
        store = CheckpointStore.in_data_dir(Path(self.settings.data_dir))
        return Checkpointer(self.connection, store, self.settings, self.anchor_account)

    @cached_property
    def pipeline(self) -> Pipeline:
        return Pipeline(self.evidence_service, self.store, self.connection)

    @cached_property
    def asset_service(self) -> AssetService:
        return AssetService(self.connection, self.parties, self.store)

    @cached_property
    def agreement_service(self) -> AgreementService:
        return AgreementService(self.connection, self.asset_service, self.parties, self.store)

    @cached_property
    def dispute_service(self) -> DisputeService:
        return DisputeService(self.connection, self.asset_service, self.parties)

    @cached_property
    def casefiles(self) -> CaseFileService:
        return CaseFileService(
            self.connection,
            self.dispute_service,
            self.asset_service,
            self.agreement_service,
            self.certificates,
            self.parties,
        )

    @cached_property
    def documents(self) -> DocumentService:
        from ledger.services.documents import DocumentService

        return DocumentService(self.connection, self.store, self.evidence_service, self.parties, self.settings)

    @cached_property
    def tsa(self) -> TimeStampService:
        """The RFC 3161 time-stamp authority (docs/tsa.md): its keys are the configured ones, else the embedded
        default's, made in DATA_DIR/tsa on first use; its client tokens in DATA_DIR/tsa.sqlite3."""
        from ledger.chain.node import ensure_writable_dir
        from ledger.services.tsa import TimeStampService, open_material
        from ledger.storage.tsa import ClientTokens

        ensure_writable_dir(Path(self.settings.data_dir))
        return TimeStampService(
            self.connection, self.settings, ClientTokens(Path(self.settings.data_dir)), open_material(self.settings)
        )

    def published_tsa_chain(self) -> tuple[bytes, bytes]:
        """The CA certificate and the TSA certificate (PEM) this deployment publishes for its time-stamp authority;
        each empty when it has none. Reads only: unlike :attr:`tsa`, it makes no keys."""
        from ledger.services.tsa import published_chain

        return published_chain(self.settings)

    @cached_property
    def index(self) -> Indexer:
        from ledger.index.sync import open_index

        return open_index(self.w3, self.manifest, self.settings, journal=lambda: self.store)

    def anchor_endpoints(self) -> dict[int, Web3]:
        """The public chains of IPLEDGER_ANCHOR_RPC_URL that answer, by chain id (to verify checkpoints)."""
        return self.checkpoints.endpoints() if self.settings.anchor_rpc_url else {}

    def close(self) -> None:
        if "checkpoints" in self.__dict__:
            self.checkpoints.stop()
            self.checkpoints.store.close()
        if "pipeline" in self.__dict__:
            self.pipeline.stop()
        if "tsa" in self.__dict__:
            self.tsa.close()
        if "index" in self.__dict__:
            self.index.stop()
            self.index.engine.dispose()
        if "store" in self.__dict__:
            self.store.close()

    def health(self) -> HealthView:
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
        except Exception:  # noqa: BLE001 - whatever the probe raises, the answer is a 503 saying what we wait for
            raise ChainUnavailable(_waiting_for(node), details={"node": node} if node else None) from None
        body: HealthView = {
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
        if "checkpoints" in self.__dict__:  # the writer `ipledger up` started (IPLEDGER_ANCHOR_RPC_URL)
            body["checkpoints"] = self.checkpoints.status()
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


def open_journal(settings: Settings) -> Store:
    """The journal of ``settings``, opened (connected, its layout brought up to date), after IPLEDGER_INDEX_URL's
    form and driver are checked: a process about to serve or send (`ipledger up`, `serve`, `worker`) calls it
    first, so that a wrong setting, a damaged journal file or a journal database that does not answer stops it at
    start with its error, before it changes anything, rather than failing every request it would accept."""
    from ledger.chain.node import ensure_writable_dir
    from ledger.index.schema import make_engine

    if settings.index_url:
        make_engine(settings.index_url).dispose()
    ensure_writable_dir(Path(settings.data_dir))
    try:
        store = Store.in_data_dir(Path(settings.data_dir), settings.journal_url)
    except StorageUnavailable as exc:
        if not settings.journal_url or type(exc) is not StorageUnavailable:  # full, busy, damaged: as it says
            raise
        from ledger.storage.journal_pg import shown_url

        raise StorageUnavailable(
            f"the journal database {shown_url(settings.journal_url)} does not answer (IPLEDGER_JOURNAL_URL): start "
            "again once it does",
            field="journal_url",
        ) from None
    return store


def dev_operator() -> LocalAccount:
    """The embedded node's well-known operator account (public key material; dev chain only)."""
    from ledger.chain.node import DEV_OPERATOR_KEY

    return Account.from_key(DEV_OPERATOR_KEY)


def data_path(settings: Settings, *parts: str) -> Path:
    return Path(settings.data_dir).joinpath(*parts)
