"""Loads the committed contract artifacts and decodes contract reverts into ledger errors."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from eth_abi import decode as abi_decode
from eth_utils import keccak, to_checksum_address

from ledger import errors
from ledger.errors import ContractRevert, ToolchainError

ARTIFACTS_DIR = Path(__file__).resolve().parents[1] / "artifacts"

#: The contracts the service deploys, in deployment order.
SUITE = ("EvidenceRegistry", "IPAssetRegistry", "DisputeRegistry")


@cache
def load_artifact(name: str) -> dict[str, Any]:
    path = ARTIFACTS_DIR / f"{name}.json"
    if not path.exists():
        raise ToolchainError(f"artifact {name} missing from {ARTIFACTS_DIR} (run `ipledger compile`)")
    return json.loads(path.read_text(encoding="utf-8"))


@cache
def build_info() -> dict[str, Any]:
    return json.loads((ARTIFACTS_DIR / "_build.json").read_text(encoding="utf-8"))


def artifact_version() -> str:
    return str(build_info()["artifactVersion"])


@cache
def _error_table() -> dict[bytes, tuple[str, list[str], list[str]]]:
    table: dict[bytes, tuple[str, list[str], list[str]]] = {}
    for path in sorted(ARTIFACTS_DIR.glob("*.json")):
        if path.name.startswith("_"):
            continue
        for item in json.loads(path.read_text(encoding="utf-8"))["abi"]:
            if item["type"] != "error":
                continue
            types = [_abi_type(i) for i in item["inputs"]]
            selector = keccak(text=f"{item['name']}({','.join(types)})")[:4]
            table[selector] = (item["name"], [i["name"] for i in item["inputs"]], types)
    return table


def _abi_type(param: dict[str, Any]) -> str:
    t = str(param["type"])
    if t.startswith("tuple"):
        return "(" + ",".join(_abi_type(c) for c in param["components"]) + ")" + t[len("tuple") :]
    return t


# Custom errors mapped to the ledger error class that tells a caller what kind of problem it is.
_ERROR_CLASSES: dict[str, type[ContractRevert]] = {
    "EvidenceAlreadyRegistered": errors.EvidenceAlreadyRegistered,
    "SignatureInvalid": errors.SignatureRejected,
    "SignatureExpired": errors.SignatureRejected,
    "NonceMismatch": errors.SignatureRejected,
    "AccountNotAParty": errors.PartyNotActive,
    "PartyNotActive": errors.PartyNotActive,
    "AssetNotConfirmed": errors.AssetNotConfirmed,
    "AssetStatusInvalid": errors.AssetClaimConflict,
    "AssetVerifierIsOwner": errors.AssetClaimConflict,
    "AssetVerifierInvalid": errors.NotAnAssetVerifier,
}

_MESSAGES: dict[str, str] = {
    "EvidenceAlreadyRegistered": "party {partyId} already registered binding {binding} at {timestamp}",
    "SignatureInvalid": "the signature does not verify for account {signer}",
    "SignatureExpired": "the signature expired at {deadline} (chain time {timestamp})",
    "NonceMismatch": "the signature uses nonce {given}, account {signer} is at nonce {expected}",
    "AccountNotAParty": "account {account} is not an account of any admitted party",
    "PartyNotActive": "party {partyId} is suspended",
    "PartyUnknown": "party {partyId} does not exist",
    "AccessControlUnauthorizedAccount": "account {account} lacks the role {neededRole}",
    "AssetInvalid": "the asset registration is invalid: {reason}",
    "AgreementInvalid": "the terms are invalid: {reason}",
    "SublicenceOutsideParent": "the sublicence lies outside its parent licence {parent}: {reason}",
    "AssetNotConfirmed": "asset {assetId} is a claim not yet confirmed by an asset verifier: nothing can be executed on it",
    "AssetStatusInvalid": "asset {assetId} is not an open claim (status {status}: 1 confirmed, 2 struck)",
    "AssetVerifierInvalid": "account {account} is not an account of an asset verifier party (party {partyId})",
    "AssetVerifierIsOwner": "party {partyId} owns a share of asset {assetId}: a verifier cannot decide its own claim",
}


# The asset registry's reason codes (enums AssetFault, AgreementFault, SublicenceFault in IPAssetRegistry.sol,
# in their order): the contract reverts with the code, the client names the reason.
_REASONS: dict[str, tuple[str, ...]] = {
    "AssetInvalid": ("jurisdiction and kind", "number", "registry full", "owners and shares", "unknown owner",
                     "owner listed twice"),
    "AgreementInvalid": ("only licences and pledges are terminated; title moves back by a new assignment", "not a pledge",
                         "an equity contribution goes to one company", "the company must be identified by a USCC",
                         "one grantee, no shares", "unknown grantee", "end must be after start", "the term has ended",
                         "licence type", "territory", "the pledgee must be a financial institution", "kind",
                         "parent licence", "a grantor cannot also be a grantee"),
    "SublicenceOutsideParent": ("no such licence of this asset", "parent not in force", "parent not sublicensable",
                                "no sublicence of a sublicence", "licence type", "territory", "field of use", "term"),
}  # fmt: skip


def _reason(name: str, code: Any) -> str:
    texts = _REASONS[name]
    return texts[code] if isinstance(code, int) and 0 <= code < len(texts) else f"reason code {code}"


def decode_revert(data: str | bytes | None) -> ContractRevert:
    """A :class:`ContractRevert` (or subclass) for raw revert data."""
    raw = _to_bytes(data)
    if len(raw) < 4:
        return ContractRevert("Reverted", {}, "the contract reverted without a reason")
    selector, body = raw[:4], raw[4:]
    if selector == bytes.fromhex("08c379a0"):
        (reason,) = abi_decode(["string"], body)
        return ContractRevert("Error", {"reason": reason}, f"reverted: {reason}")
    if selector == bytes.fromhex("4e487b71"):
        (code,) = abi_decode(["uint256"], body)
        return ContractRevert("Panic", {"code": code}, f"the contract panicked (code {code:#x})")
    entry = _error_table().get(selector)
    if entry is None:
        return ContractRevert("Unknown", {"data": "0x" + raw.hex()}, "the contract reverted with an unknown error")
    name, names, types = entry
    try:
        values = abi_decode(types, body)
    except Exception:
        return ContractRevert(name, {}, f"the contract reverted with {name}")
    args = {n: _normalise(v, t) for n, v, t in zip(names, values, types, strict=True)}
    if name in _REASONS:  # a reason code: keep the code, name the reason
        args["code"], args["reason"] = args["reason"], _reason(name, args["reason"])
    cls = _ERROR_CLASSES.get(name, ContractRevert)
    template = _MESSAGES.get(name)
    message = template.format(**args) if template else None
    return cls(name, args, message)


def _normalise(value: Any, abi_type: str) -> Any:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if abi_type == "address":
        return to_checksum_address(value)
    return value


def _to_bytes(data: str | bytes | dict[str, Any] | None) -> bytes:
    if data is None:
        return b""
    if isinstance(data, dict):  # some nodes nest the revert data
        data = data.get("data")  # type: ignore[assignment]
        if data is None:
            return b""
    if isinstance(data, bytes):
        return data
    text = str(data)
    text = text[2:] if text.startswith("0x") else text
    try:
        return bytes.fromhex(text)
    except ValueError:
        return b""
