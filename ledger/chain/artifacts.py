"""Loads the committed contract artifacts and decodes contract reverts into ledger errors."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from eth_abi import decode as abi_decode
from eth_utils import keccak, to_checksum_address

from ledger import errors
from ledger.domain.codes import AgreementFault, AssetFault, Code, SublicenceFault
from ledger.errors import ContractRevert, ToolchainError

ARTIFACTS_DIR = Path(__file__).resolve().parents[1] / "artifacts"

#: The contracts the service deploys, in deployment order.
SUITE = ("EvidenceRegistry", "IPAssetRegistry", "DisputeRegistry", "CreatorRegistry")


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


# The asset registry's reason codes (ledger.domain.codes: AssetFault, AgreementFault, SublicenceFault): the contract
# reverts with the code, the client names the reason.
_AF, _GF, _SF = AssetFault, AgreementFault, SublicenceFault
REASONS: dict[str, dict[Code, str]] = {
    "AssetInvalid": {
        _AF.JURISDICTION_AND_KIND: "jurisdiction and kind",
        _AF.NUMBER: "number",
        _AF.REGISTRY_FULL: "registry full",
        _AF.OWNERS_AND_SHARES: "owners and shares",
        _AF.UNKNOWN_OWNER: "unknown owner",
        _AF.OWNER_LISTED_TWICE: "owner listed twice",
    },
    "AgreementInvalid": {
        _GF.ONLY_LICENCES_AND_PLEDGES_TERMINATE: "only licences and pledges are terminated; title moves back by a new assignment",
        _GF.NOT_A_PLEDGE: "not a pledge",
        _GF.EQUITY_TO_ONE_COMPANY: "an equity contribution goes to one company",
        _GF.COMPANY_NEEDS_USCC: "the company must be identified by a USCC",
        _GF.ONE_GRANTEE_NO_SHARES: "one grantee, no shares",
        _GF.UNKNOWN_GRANTEE: "unknown grantee",
        _GF.END_BEFORE_START: "end must be after start",
        _GF.TERM_ENDED: "the term has ended",
        _GF.LICENCE_TYPE: "licence type",
        _GF.TERRITORY: "territory",
        _GF.PLEDGEE_NOT_FINANCIAL: "the pledgee must be a financial institution",
        _GF.KIND: "kind",
        _GF.PARENT_LICENCE: "parent licence",
        _GF.GRANTOR_IS_GRANTEE: "a grantor cannot also be a grantee",
    },
    "SublicenceOutsideParent": {
        _SF.NO_SUCH_LICENCE: "no such licence of this asset",
        _SF.PARENT_NOT_IN_FORCE: "parent not in force",
        _SF.PARENT_NOT_SUBLICENSABLE: "parent not sublicensable",
        _SF.SUBLICENCE_OF_SUBLICENCE: "no sublicence of a sublicence",
        _SF.LICENCE_TYPE: "licence type",
        _SF.TERRITORY: "territory",
        _SF.FIELD_OF_USE: "field of use",
        _SF.TERM: "term",
    },
}


def _reason(name: str, code: Any) -> str:
    texts = REASONS[name]
    return next(
        (text for fault, text in texts.items() if isinstance(code, int) and fault == code), f"reason code {code}"
    )


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
    except Exception:  # noqa: BLE001 - revert data from the node is untrusted bytes: any decoding failure
        return ContractRevert(name, {}, f"the contract reverted with {name}")
    args = {n: _normalise(v, t) for n, v, t in zip(names, values, types, strict=True)}
    if name in REASONS:  # a reason code: keep the code, name the reason
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
