"""The connection of the services to one chain and one deployment: the port every service talks to the chain through.

A :class:`Connection` is what a service receives instead of the whole facade (``ledger.facade.Ledger`` opens one
and hands it to each service). It owns nothing durable and signs nothing itself: transactions are signed by its
:class:`~ledger.chain.sender.TxSender` objects, one per key, each with its own policy (nonces, fees, revert decoding).

Guarantees (what each member promises; the pattern of the vault's ``Storage`` protocol):

- ``w3`` and ``manifest`` are fixed for the connection's life: the manifest was checked against the chain
  (``ledger.chain.deployment.check_chain``) or written by the deployment that created the suite on it.
- ``relayer``, ``registrar`` and ``governance`` are the senders of the service's three keys, each ``None`` when
  the service runs without that key. They may be replaced (``ipledger up``, test suites); every ``require_*`` reads
  the current one. The relayer pays gas and anchors batches and holds no other power (docs/security.md).
- :meth:`require_relayer`, :meth:`require_registrar` and :meth:`require_governance` return that sender or raise
  :class:`~ledger.errors.PermissionDenied` (403) saying which key is missing; ``require_governance`` names the call
  the council schedules through its timelock when it is given the prepared contract call.
- :meth:`role_accounts` maps each of the service's own addresses to its role: none of them may become a party's.
- ``head`` is the one :class:`~ledger.chain.head.ChainHead` of the connection (the relayer's when there is one), so
  fees, deadlines and the pipeline read the same, at most a second old, head.
- :meth:`contract` binds any contract of the manifest; ``evidence``, ``assets`` and ``disputes`` are the web3 contract handles of the deployment's ``EvidenceRegistry``
  (which also holds the parties), ``IPAssetRegistry`` and ``DisputeRegistry``; built once, on first use.
- ``evidence_domain`` is the EIP-712 domain of the evidence (and party) registry's signatures.
- :meth:`durable` answers whether a block survives a crash of the node: always on an external chain, once it is
  in the whole, fsynced state dump on disk on the embedded node (``node_durable``, set by ``ipledger up``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from web3 import Web3

from ledger.chain.deployment import Manifest, contract
from ledger.chain.head import ChainHead
from ledger.chain.sender import TxSender
from ledger.domain import eip712
from ledger.errors import PermissionDenied


@dataclass(eq=False)
class Connection:
    """One chain, one deployment of the contract suite, and the service's senders on it (see the module's header)."""

    w3: Web3
    manifest: Manifest
    relayer: TxSender | None = None
    registrar: TxSender | None = None
    governance: TxSender | None = None
    #: Whether a block is in the embedded node's state dump on disk (set by `ipledger up`); see :meth:`durable`.
    node_durable: Callable[[int], bool] | None = None

    @cached_property
    def head(self) -> ChainHead:
        """The latest block as last read, shared by the relayer (fees), the request paths and the pipeline."""
        return self.relayer.head if self.relayer is not None else ChainHead(self.w3)

    def require_relayer(self) -> TxSender:
        if self.relayer is None:
            raise PermissionDenied("this service runs without a relayer account and cannot submit transactions")
        return self.relayer

    def require_registrar(self) -> TxSender:
        if self.registrar is None:
            raise PermissionDenied(
                "this service runs without the registrar key (IPLEDGER_REGISTRAR_KEYSTORE) and cannot "
                "admit or suspend parties"
            )
        return self.registrar

    def require_governance(self, what: str, fn: Any = None) -> TxSender:
        """The governance sender, when this service holds a plain governance key (test suites); otherwise
        403 naming the call the council schedules through its timelock (``ipledger governance propose``)."""
        if self.governance is None:
            prepared, details = "", {}
            if fn is not None:
                calldata = str(fn._encode_transaction_data())  # noqa: SLF001 - web3 calldata, no estimation
                prepared = (
                    f" — the call to schedule: target {fn.address}, calldata {calldata}, "
                    "predecessor 0x0, any salt (`ipledger governance propose call --target … --data …`)"
                )
                details = {
                    "governanceCall": {
                        "target": fn.address,
                        "value": 0,
                        "calldata": calldata,
                        "predecessor": "0x" + "00" * 32,
                    }
                }
            raise PermissionDenied(
                f"{what} needs governance (the consortium council through its timelock); this "
                f"service holds no governance key: propose it to the council{prepared}",
                details=details,
            )
        return self.governance

    def role_accounts(self) -> dict[str, str]:
        """The service's own keys by address: none of them may become a party's account."""
        keys = (("relayer", self.relayer), ("registrar", self.registrar), ("governance", self.governance))
        return {s.address: name for name, s in keys if s is not None}

    def contract(self, name: str) -> Any:
        """A new web3 handle of the deployment's contract ``name`` (``EvidenceRegistry``, ``IPAssetRegistry``, ...)."""
        return contract(self.w3, self.manifest, name)

    @cached_property
    def evidence(self) -> Any:
        """The ``EvidenceRegistry`` (evidence and parties)."""
        return self.contract("EvidenceRegistry")

    @cached_property
    def assets(self) -> Any:
        """The ``IPAssetRegistry`` (assets, claims, agreements)."""
        return self.contract("IPAssetRegistry")

    @cached_property
    def disputes(self) -> Any:
        """The ``DisputeRegistry``."""
        return self.contract("DisputeRegistry")

    @cached_property
    def evidence_domain(self) -> eip712.Domain:
        """The EIP-712 domain of the evidence registry: evidence, batch submissions, account changes, vetoes,
        document actions."""
        return eip712.Domain(self.manifest.chain_id, self.manifest.address("EvidenceRegistry"))

    def latest_time(self) -> int:
        """The timestamp of the node's latest block, read now (not the shared head)."""
        return int(self.w3.eth.get_block("latest")["timestamp"])

    def durable(self, block_number: int) -> bool:
        """Whether block ``block_number`` survives a crash of the node: always on an external chain (its own
        consensus decides, with ``confirmations``); on the embedded node, once the block is in the whole, fsynced
        state dump on disk. The pipeline calls nothing final before."""
        return self.node_durable is None or self.node_durable(block_number)
