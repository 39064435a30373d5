"""The ledger's exceptions: one root, specific subclasses carrying what a caller needs to act.

Every error has a stable ``code`` (used by the API's JSON error envelope and the CLI), a human
``message`` and, where one input is at fault, the ``field`` naming it. Contract reverts are decoded
into :class:`ContractRevert` subclasses and never surface as raw hex.
"""

from __future__ import annotations

from typing import Any


class LedgerError(Exception):
    """Root of every error raised by the ledger library."""

    code = "ledger_error"

    def __init__(self, message: str, *, field: str | None = None, details: dict[str, Any] | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        self.details = details or {}

    def __str__(self) -> str:
        return self.message


# --- configuration and environment -------------------------------------------------------------


class ConfigurationError(LedgerError):
    code = "configuration_error"


class DataDirError(ConfigurationError):
    code = "data_dir_error"


class DataDirInUse(DataDirError):
    """Another live process (its PID named in the message) holds the data directory's lock."""

    code = "data_dir_in_use"


class PortInUse(ConfigurationError):
    code = "port_in_use"


class KeystoreError(LedgerError):
    code = "keystore_error"


class ToolchainError(LedgerError):
    """The compiler or the node could not be found or run."""

    code = "toolchain_error"


class CompilationError(ToolchainError):
    code = "compilation_error"


class ArtifactsOutOfDate(ToolchainError):
    code = "artifacts_out_of_date"


# --- chain and deployment ---------------------------------------------------------------------


class ChainUnavailable(LedgerError):
    code = "chain_unavailable"


class ChainMismatch(LedgerError):
    code = "chain_mismatch"


class IndexUnavailable(LedgerError):
    """The index database (SQLite or PostgreSQL) failed; the chain itself is unaffected."""

    code = "index_unavailable"


class RelayerInUse(ConfigurationError):
    """Another process holds the relayer account on the same chain (its nonces would collide)."""

    code = "relayer_in_use"


# --- local storage (the journal) --------------------------------------------------------------


class StorageUnavailable(LedgerError):
    """The journal cannot be written now; nothing was changed and the request can be retried."""

    code = "storage_unavailable"


class StorageFull(StorageUnavailable):
    """The disk (or the database's size limit) is full."""

    code = "storage_full"


class StorageBusy(StorageUnavailable):
    """Another process holds the journal's write lock for longer than the busy timeout."""

    code = "storage_busy"


class DeploymentMissing(LedgerError):
    code = "deployment_missing"


class DeploymentExists(LedgerError):
    code = "deployment_exists"


class DeploymentMismatch(LedgerError):
    """Runtime code on chain differs from the committed artifacts."""

    code = "deployment_mismatch"


class TransactionFailed(LedgerError):
    code = "transaction_failed"


# --- input and access -------------------------------------------------------------------------


class InvalidInput(LedgerError, ValueError):
    """Input that is malformed or breaks a rule checked before anything is sent."""

    code = "invalid_input"


class PayloadTooLarge(InvalidInput):
    code = "payload_too_large"


class NotFound(LedgerError, LookupError):
    code = "not_found"


class PermissionDenied(LedgerError):
    code = "permission_denied"


class Conflict(LedgerError):
    code = "conflict"


# --- decoded contract reverts -----------------------------------------------------------------


class ContractRevert(LedgerError):
    """A contract refused a call with a custom error; ``name`` and ``args`` are its decoded form."""

    code = "contract_revert"

    def __init__(self, name: str, args: dict[str, Any], message: str | None = None, *, field: str | None = None):
        super().__init__(message or f"{name}({', '.join(f'{k}={v}' for k, v in args.items())})", field=field)
        self.name = name
        self.args_ = args
        self.details = {"revert": name, **{k: _jsonable(v) for k, v in args.items()}}


class EvidenceAlreadyRegistered(ContractRevert, Conflict):
    """The party already recorded this binding; carries its record (binding, party, time)."""

    code = "evidence_already_registered"


class AssetNotConfirmed(ContractRevert, Conflict):
    """The asset is a claim no asset verifier has confirmed (or a struck one): nothing is executed on it."""

    code = "asset_not_confirmed"


class AssetClaimConflict(ContractRevert, Conflict):
    """A verifier's decision on a claim that is no longer open (confirmed, struck), frozen, or its own asset."""

    code = "asset_claim_conflict"


class NotAnAssetVerifier(ContractRevert, PermissionDenied):
    """The account is not an account of an asset verifier party: it confirms and rejects nothing."""

    code = "not_an_asset_verifier"


class SignatureRejected(ContractRevert, InvalidInput):
    code = "signature_rejected"


class PartyNotActive(ContractRevert, PermissionDenied):
    code = "party_not_active"


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return value
