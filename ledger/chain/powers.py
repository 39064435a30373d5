"""Who holds each power: the roles of the deployment, the development keys of the embedded default, and a
read of the role holders of every contract from the chain itself (docs/security.md "Roles").

Guarantees:
- In the embedded default the relayer (anvil's index 0: gas and batch anchoring) and the registrar (index 8) are
  two different keys, and governance is a timelock whose proposer is a 2-of-3 council Safe of anvil's indexes 9, 10
  and 11 (:mod:`ledger.chain.governance`); the service holds none of the council's keys. The relayer holds no admin,
  account, dispute or admission power.
- :func:`powers` answers from the chain, not from configuration: the current holders of each role are the
  accounts granted it in ``RoleGranted`` events since the deployment block that still hold it (``hasRole``),
  plus the bindings fixed in constructors (the asset registry's dispute registry).
"""

from __future__ import annotations

from typing import Any, Final, Protocol

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from web3 import Web3

from ledger.domain.results import PowersView


class Deployed(Protocol):
    """What :func:`powers` reads: a :class:`ledger.chain.connection.Connection` (declared here so that this module,
    which the deployment imports for its development keys, imports neither)."""

    @property
    def w3(self) -> Web3: ...
    @property
    def manifest(self) -> Any: ...
    @property
    def evidence(self) -> Any: ...
    @property
    def relayer(self) -> Any: ...
    @property
    def registrar(self) -> Any: ...
    @property
    def governance(self) -> Any: ...
    def contract(self, name: str) -> Any: ...


#: Anvil's development mnemonic, account index 8: the registrar of the embedded default (public key material).
DEV_REGISTRAR_KEY: Final = "0xdbda1821b80551c9d65939329250298aa3472ba22feea921c0cf5d620ea67b97"
#: Anvil's development mnemonic, account index 9: the first council member of the embedded default (public key
#: material); tests that need a plain-key governance deploy with it explicitly.
DEV_GOVERNANCE_KEY: Final = "0x2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6"

#: Seconds a key recovery waits for the party's veto (embedded default).
RECOVERY_DELAY: Final = 7 * 24 * 3600
#: Seconds within which governance must confirm a registrar's suspension, else it lapses (embedded default).
SUSPENSION_CONFIRMATION_PERIOD: Final = 14 * 24 * 3600

#: Roles by name; ``DEFAULT_ADMIN_ROLE`` is the zero word.
ROLES: Final = {
    "DEFAULT_ADMIN_ROLE": b"\0" * 32,
    "GOVERNANCE_ROLE": keccak(text="GOVERNANCE_ROLE"),
    "REGISTRAR_ROLE": keccak(text="REGISTRAR_ROLE"),
    "ANCHOR_ROLE": keccak(text="ANCHOR_ROLE"),
    "DISPUTE_ROLE": keccak(text="DISPUTE_ROLE"),
}

#: What each role may do, for the reader of ``GET /v1/powers`` and ``ipledger powers``.
ROLE_POWERS: Final = {
    "DEFAULT_ADMIN_ROLE": "grants and revokes the roles below; handed over only after the contract's delay",
    "GOVERNANCE_ROLE": "admits arbitration institutions, financial institutions and asset verifiers; confirms or "
    "lifts suspensions; proposes key recoveries (public delay, party veto)",
    "REGISTRAR_ROLE": "admits firms, universities and service agencies; suspends provisionally (lapses unless "
    "governance confirms it)",
    "ANCHOR_ROLE": "anchors batch roots (the relayer); nothing else",
    "DISPUTE_ROLE": "freezes, unfreezes, voids agreements and restores title",
}


def dev_registrar() -> LocalAccount:
    """The embedded node's registrar account (public development key; dev chain only)."""
    return Account.from_key(DEV_REGISTRAR_KEY)


def dev_governance() -> LocalAccount:
    """Anvil's account 9: the embedded default's first council member; a plain-key governance for test suites
    deployed with ``governance=dev_governance().address`` (public development key; dev chain only)."""
    return Account.from_key(DEV_GOVERNANCE_KEY)


def _function_names(contract: Any) -> set[str]:
    return {str(item.get("name")) for item in contract.abi if item.get("type") == "function"}


def role_holders(w3: Web3, contract: Any, from_block: int) -> dict[str, list[str]]:
    """The current holders of every role the contract's ABI names, read from its ``RoleGranted`` events and
    checked with ``hasRole``."""
    names = _function_names(contract)
    if "hasRole" not in names:
        return {}
    by_role = {v: k for k, v in ROLES.items()}
    candidates: dict[str, set[str]] = {}
    for log in contract.events.RoleGranted().get_logs(from_block=from_block, to_block="latest"):
        role = by_role.get(bytes(log["args"]["role"]))
        if role is not None:
            candidates.setdefault(role, set()).add(Web3.to_checksum_address(log["args"]["account"]))
    holders: dict[str, list[str]] = {}
    for role, accounts in candidates.items():
        current = sorted(a for a in accounts if contract.functions.hasRole(ROLES[role], a).call())
        if current:
            holders[role] = current
    return holders


def powers(conn: Deployed) -> PowersView:
    """Who holds each power in this deployment, read from the chain over ``conn`` (its senders are the service's keys)."""
    contracts: dict[str, Any] = {}
    for name, deployed in conn.manifest.contracts.items():
        c = conn.contract(name)
        entry: dict[str, Any] = {"address": deployed.address, "roles": role_holders(conn.w3, c, deployed.deploy_block)}
        fns = _function_names(c)
        if "disputeRegistry" in fns:
            entry["disputeEffectsBoundTo"] = Web3.to_checksum_address(c.functions.disputeRegistry().call())
        if "recoveryDelay" in fns:
            entry["recoveryDelaySeconds"] = int(c.functions.recoveryDelay().call())
            entry["suspensionConfirmationSeconds"] = int(c.functions.suspensionConfirmationPeriod().call())
        if "defaultAdminDelay" in fns:
            entry["adminHandoverDelaySeconds"] = int(c.functions.defaultAdminDelay().call())
        contracts[name] = entry
    from ledger.chain.governance import describe, governance_address

    record = dict(conn.manifest.governance or {})
    holder = record.get("timelock") or governance_address(conn.w3, conn.evidence)
    governance: dict[str, Any] | None = None
    if holder:
        governance = describe(conn.w3, str(holder), int(record.get("deployBlock") or conn.manifest.deploy_block))
        governance["createdByThisDeployment"] = "safe" in record
    service = {
        "relayer": conn.relayer.address if conn.relayer else None,
        "registrar": conn.registrar.address if conn.registrar else None,
        "governance": conn.governance.address if conn.governance else None,
    }
    return {"contracts": contracts, "governance": governance, "service": service, "rolePowers": dict(ROLE_POWERS)}
