"""Governance of the ledger: a council Safe multisig acting through an OpenZeppelin TimelockController
(docs/security.md "Governance").

Building blocks are audited and unchanged: the Safe 1.4.1 singleton, proxy factory and compatibility fallback
handler (artifacts of ``@safe-global/safe-contracts@1.4.1``, vendored under ``ledger/artifacts/safe/`` so that the
service deploys a council without ``node_modules``; a test compares them with the npm package), and OpenZeppelin 5's
``TimelockController`` compiled by our toolchain as ``contracts/governance/Timelock.sol``.

How an act of governance happens:

1. a council member prepares a **proposal**: the timelock call (target, calldata, predecessor, salt, delay) and the
   Safe transaction that schedules it (``timelock.schedule(...)`` sent by the Safe), and signs the Safe
   transaction's EIP-712 hash (``SafeTx``, domain ``{chainId, verifyingContract: safe}``);
2. other members add their signatures to the proposal file, each with their own key;
3. once ``threshold`` owners signed, anyone sends ``safe.execTransaction`` (the operation is scheduled);
4. after the timelock's delay anyone sends ``timelock.execute`` (the executor role is open: executing only carries
   out what the council scheduled, in public, after the delay).

Guarantees:
- Hashes are computed here from the EIP-712 definitions and checked against the chain's own
  (``Safe.getTransactionHash``) before anything is signed: a proposal whose Safe, nonce or call do not match the
  chain is refused (:class:`GovernanceError`), never signed.
- A signature is added only from an owner of the Safe (read from the chain); a signature by anyone else is refused.
- Signatures are ordered by owner address, as Safe's ``checkSignatures`` requires.
- A Safe owner's signature for a contract wallet (ERC-1271, :func:`sign_safe_message`) is over the Safe message
  hash of the digest, exactly as ``CompatibilityFallbackHandler.isValidSignature(bytes32, bytes)`` checks it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Final

from eth_abi import encode as abi_encode
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount
from eth_utils import keccak, to_checksum_address
from web3 import Web3
from web3.logs import DISCARD

from ledger.chain.artifacts import ARTIFACTS_DIR, load_artifact
from ledger.chain.sender import SentTransaction, TxSender
from ledger.errors import (
    ConfigurationError,
    ContractRevert,
    InvalidInput,
    ToolchainError,
)

SAFE_ARTIFACTS_DIR: Final = ARTIFACTS_DIR / "safe"
SAFE_PACKAGE: Final = "@safe-global/safe-contracts@1.4.1"
ZERO_ADDRESS: Final = "0x" + "00" * 20
ZERO_WORD: Final = b"\0" * 32
PROPOSAL_FORMAT: Final = "ipledger-governance-proposal/1"

#: Anvil's development mnemonic, accounts 9, 10 and 11: the embedded default's council (public key material).
DEV_COUNCIL_KEYS: Final = (
    "0x2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6",
    "0xf214f2b2cd398c806f84e317254e0f0b801d0643303237d97a22a48e01628897",
    "0x701b615bbdfb9de65240bc28bd21bbc0d996645a3dd57e7b12bc2bdf6f192c82",
)
DEV_COUNCIL_THRESHOLD: Final = 2
#: The embedded default's timelock delay (seconds): short, but real.
DEV_GOVERNANCE_DELAY: Final = 60
#: Gas limit of a timelock execution sent without an estimate (see :func:`execute`).
TIMELOCK_EXECUTE_GAS: Final = 2_000_000
#: Longest timelock delay accepted from configuration (seconds): 30 days.
MAX_GOVERNANCE_DELAY: Final = 30 * 24 * 3600

SAFE_TX_TYPE: Final = [
    {"name": "to", "type": "address"},
    {"name": "value", "type": "uint256"},
    {"name": "data", "type": "bytes"},
    {"name": "operation", "type": "uint8"},
    {"name": "safeTxGas", "type": "uint256"},
    {"name": "baseGas", "type": "uint256"},
    {"name": "gasPrice", "type": "uint256"},
    {"name": "gasToken", "type": "address"},
    {"name": "refundReceiver", "type": "address"},
    {"name": "nonce", "type": "uint256"},
]
SAFE_MESSAGE_TYPE: Final = [{"name": "message", "type": "bytes"}]
SAFE_DOMAIN_TYPE: Final = [{"name": "chainId", "type": "uint256"}, {"name": "verifyingContract", "type": "address"}]
PROPOSER_ROLE: Final = keccak(text="PROPOSER_ROLE")
EXECUTOR_ROLE: Final = keccak(text="EXECUTOR_ROLE")
CANCELLER_ROLE: Final = keccak(text="CANCELLER_ROLE")


class GovernanceError(InvalidInput):
    """A proposal that does not match the chain, a signer who is not an owner, a step out of order."""


def dev_council() -> list[LocalAccount]:
    """The embedded default's council members (public development keys; dev chain only)."""
    return [Account.from_key(k) for k in DEV_COUNCIL_KEYS]


@cache
def load_safe_artifact(name: str) -> dict[str, Any]:
    path = SAFE_ARTIFACTS_DIR / f"{name}.json"
    if not path.exists():
        raise ToolchainError(f"Safe artifact {name} missing from {SAFE_ARTIFACTS_DIR}")
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def safe_contract(w3: Web3, address: str) -> Any:
    return w3.eth.contract(address=to_checksum_address(address), abi=load_safe_artifact("Safe")["abi"])


def handler_contract(w3: Web3, address: str) -> Any:
    return w3.eth.contract(
        address=to_checksum_address(address), abi=load_safe_artifact("CompatibilityFallbackHandler")["abi"]
    )


def timelock_contract(w3: Web3, address: str) -> Any:
    return w3.eth.contract(address=to_checksum_address(address), abi=load_artifact("Timelock")["abi"])


# --- deployment ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Council:
    """The governance of a deployment: the timelock (the account holding the governance roles), the council Safe
    that proposes to it, and the Safe contracts it was made from."""

    timelock: str
    safe: str
    owners: tuple[str, ...]
    threshold: int
    delay: int
    safe_singleton: str
    proxy_factory: str
    fallback_handler: str
    deploy_block: int

    def to_json(self) -> dict[str, Any]:
        return {
            "timelock": self.timelock,
            "safe": self.safe,
            "owners": list(self.owners),
            "threshold": self.threshold,
            "delaySeconds": self.delay,
            "safeSingleton": self.safe_singleton,
            "safeProxyFactory": self.proxy_factory,
            "fallbackHandler": self.fallback_handler,
            "deployBlock": self.deploy_block,
            "safePackage": SAFE_PACKAGE,
        }


def _deploy(sender: TxSender, abi: list[Any], bytecode: str, *args: Any) -> SentTransaction:
    factory = sender.w3.eth.contract(abi=abi, bytecode=bytecode)
    data = factory.constructor(*args).build_transaction({"from": sender.address, "gas": 0, "nonce": 0})["data"]
    sent = sender.send({"data": data})
    assert isinstance(sent, SentTransaction)
    return sent


@dataclass(frozen=True)
class SafeFactory:
    singleton: str
    proxy_factory: str
    fallback_handler: str
    deploy_block: int


def deploy_safe_factory(sender: TxSender) -> SafeFactory:
    """Deploys the Safe singleton, the proxy factory and the compatibility fallback handler (one each)."""
    addresses = []
    first = 0
    for name in ("Safe", "SafeProxyFactory", "CompatibilityFallbackHandler"):
        art = load_safe_artifact(name)
        sent = _deploy(sender, art["abi"], art["bytecode"])
        first = first or sent.block_number
        addresses.append(to_checksum_address(sent.receipt["contractAddress"]))
    return SafeFactory(addresses[0], addresses[1], addresses[2], first)


def check_council(owners: Sequence[str], threshold: int, delay: int | None = None) -> None:
    """Raises :class:`ConfigurationError` for an owner list, threshold or delay a council cannot have."""
    addresses = [to_checksum_address(o) for o in owners]
    if not addresses or len(set(addresses)) != len(addresses) or ZERO_ADDRESS in addresses:
        raise ConfigurationError(
            "a Safe needs at least one owner, each listed once, none the zero address", field="council"
        )
    if not 1 <= threshold <= len(addresses):
        raise ConfigurationError(f"the threshold must be 1 … {len(addresses)}", field="threshold")
    if delay is not None and not 0 < delay <= MAX_GOVERNANCE_DELAY:
        raise ConfigurationError(
            f"the governance delay must be 1 … {MAX_GOVERNANCE_DELAY} seconds", field="governance_delay"
        )


def create_safe(
    sender: TxSender, factory: SafeFactory, owners: Sequence[str], threshold: int, *, salt_nonce: int = 0
) -> str:
    """A new Safe proxy with ``owners`` and ``threshold`` (and the compatibility fallback handler, for ERC-1271)."""
    check_council(owners, threshold)
    owners = [to_checksum_address(o) for o in owners]
    w3 = sender.w3
    singleton = safe_contract(w3, factory.singleton)
    setup = singleton.encode_abi(
        "setup", [owners, threshold, ZERO_ADDRESS, b"", factory.fallback_handler, ZERO_ADDRESS, 0, ZERO_ADDRESS]
    )
    proxy_factory = w3.eth.contract(
        address=to_checksum_address(factory.proxy_factory), abi=load_safe_artifact("SafeProxyFactory")["abi"]
    )
    sent = sender.send_call(proxy_factory.functions.createProxyWithNonce(factory.singleton, setup, salt_nonce))
    assert isinstance(sent, SentTransaction)
    # The receipt also holds the new Safe's own setup events: decode only the factory's (DISCARD: no warning).
    events = [
        e
        for e in proxy_factory.events.ProxyCreation().process_receipt(sent.receipt, errors=DISCARD)
        if e["address"] == proxy_factory.address
    ]
    return to_checksum_address(events[0]["args"]["proxy"])


def deploy_timelock(sender: TxSender, delay: int, proposers: Sequence[str]) -> SentTransaction:
    """An OpenZeppelin TimelockController: ``proposers`` propose and cancel, anyone executes after ``delay``,
    no admin (the timelock administers itself)."""
    if not 0 < delay <= MAX_GOVERNANCE_DELAY:
        raise ConfigurationError(
            f"the governance delay must be 1 … {MAX_GOVERNANCE_DELAY} seconds", field="governance_delay"
        )
    art = load_artifact("Timelock")
    return _deploy(
        sender,
        art["abi"],
        art["bytecode"],
        delay,
        [to_checksum_address(p) for p in proposers],
        [ZERO_ADDRESS],
        ZERO_ADDRESS,
    )


def deploy_council(sender: TxSender, owners: Sequence[str], threshold: int, delay: int) -> Council:
    """Safe contracts, the council Safe and its timelock. Owners, threshold and delay are checked before anything
    is sent."""
    check_council(owners, threshold, delay)
    factory = deploy_safe_factory(sender)
    safe = create_safe(sender, factory, owners, threshold)
    sent = deploy_timelock(sender, delay, [safe])
    timelock = to_checksum_address(sent.receipt["contractAddress"])
    return Council(
        timelock,
        safe,
        tuple(to_checksum_address(o) for o in owners),
        threshold,
        delay,
        factory.singleton,
        factory.proxy_factory,
        factory.fallback_handler,
        factory.deploy_block,
    )


# --- Safe transactions and messages (EIP-712) ------------------------------------------------------------------


def safe_domain(chain_id: int, safe: str) -> dict[str, Any]:
    return {"chainId": chain_id, "verifyingContract": to_checksum_address(safe)}


def safe_tx_typed_data(chain_id: int, safe: str, tx: dict[str, Any]) -> dict[str, Any]:
    """The full EIP-712 message of a Safe transaction (Safe 1.4.1 ``SAFE_TX_TYPEHASH``)."""
    message = {
        "to": to_checksum_address(tx["to"]),
        "value": int(tx.get("value", 0)),
        "data": _bytes(tx["data"]),
        "operation": int(tx.get("operation", 0)),
        "safeTxGas": int(tx.get("safeTxGas", 0)),
        "baseGas": int(tx.get("baseGas", 0)),
        "gasPrice": int(tx.get("gasPrice", 0)),
        "gasToken": to_checksum_address(tx.get("gasToken", ZERO_ADDRESS)),
        "refundReceiver": to_checksum_address(tx.get("refundReceiver", ZERO_ADDRESS)),
        "nonce": int(tx["nonce"]),
    }
    return {
        "types": {"EIP712Domain": SAFE_DOMAIN_TYPE, "SafeTx": SAFE_TX_TYPE},
        "primaryType": "SafeTx",
        "domain": safe_domain(chain_id, safe),
        "message": message,
    }


def safe_message_typed_data(chain_id: int, safe: str, message: bytes) -> dict[str, Any]:
    """The EIP-712 ``SafeMessage(bytes message)`` that a Safe's owners sign for ERC-1271. For
    ``isValidSignature(bytes32 digest, bytes)`` the message is the 32-byte digest itself (``abi.encode(digest)``)."""
    return {
        "types": {"EIP712Domain": SAFE_DOMAIN_TYPE, "SafeMessage": SAFE_MESSAGE_TYPE},
        "primaryType": "SafeMessage",
        "domain": safe_domain(chain_id, safe),
        "message": {"message": bytes(message)},
    }


def typed_digest(full_message: dict[str, Any]) -> bytes:
    signable = encode_typed_data(full_message=full_message)
    return bytes(keccak(b"\x19" + signable.version + signable.header + signable.body))


def sign_typed(full_message: dict[str, Any], account: LocalAccount) -> bytes:
    return bytes(account.sign_message(encode_typed_data(full_message=full_message)).signature)


def recover_typed(full_message: dict[str, Any], signature: bytes) -> str | None:
    try:
        return str(Account.recover_message(encode_typed_data(full_message=full_message), signature=signature))
    except Exception:  # noqa: BLE001 - a malformed signature recovers nobody
        return None


def sign_safe_message(account: LocalAccount, chain_id: int, safe: str, digest: bytes) -> bytes:
    """An owner's signature of ``digest`` for the Safe at ``safe`` (ERC-1271 through the fallback handler)."""
    if len(digest) != 32:
        raise InvalidInput("a Safe signs a 32-byte digest", field="digest")
    return sign_typed(safe_message_typed_data(chain_id, safe, digest), account)


def pack_signatures(signatures: dict[str, bytes]) -> bytes:
    """Owner signatures concatenated in ascending owner-address order (Safe ``checkSignatures``)."""
    return b"".join(signatures[o] for o in sorted(signatures, key=lambda a: int(a, 16)))


def safe_wallet_signature(owners: Sequence[LocalAccount], chain_id: int, safe: str, digest: bytes) -> bytes:
    """The ERC-1271 signature of a Safe over ``digest``: its owners' Safe-message signatures, packed."""
    return pack_signatures({o.address: sign_safe_message(o, chain_id, safe, digest) for o in owners})


ERC1271_MAGIC: Final = bytes.fromhex("1626ba7e")


def erc1271_accepts(w3: Web3, wallet: str, digest: bytes, signature: bytes) -> bool:
    """Whether the contract wallet at ``wallet`` accepts ``signature`` over ``digest`` (``isValidSignature``
    returns the ERC-1271 magic value; a revert or any other answer is a refusal)."""
    data = ERC1271_MAGIC + abi_encode(["bytes32", "bytes"], [digest, signature])
    try:
        ret = bytes(w3.eth.call({"to": to_checksum_address(wallet), "data": "0x" + data.hex()}))  # type: ignore[typeddict-item]
    except Exception:  # noqa: BLE001 - a revert (a Safe refusing: GS026, GS020 ...) or no such function
        return False
    return len(ret) >= 32 and ret[:4] == ERC1271_MAGIC


# --- timelock calls and proposals ---------------------------------------------------------------------------------


def operation_id(target: str, value: int, data: bytes, predecessor: bytes, salt: bytes) -> bytes:
    """``TimelockController.hashOperation``."""
    return bytes(
        keccak(
            abi_encode(
                ["address", "uint256", "bytes", "bytes32", "bytes32"],
                [to_checksum_address(target), value, data, predecessor, salt],
            )
        )
    )


def _bytes(value: Any) -> bytes:
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    text = str(value)
    try:
        return bytes.fromhex(text.removeprefix("0x"))
    except ValueError:
        raise GovernanceError(f"not hex bytes: {text[:20]!r}", field="proposal") from None


def _hex(value: bytes) -> str:
    return "0x" + value.hex()


@dataclass
class Proposal:
    """A Safe transaction to the timelock (``schedule`` or ``cancel``) and the signatures collected for it, as
    passed between council members in a JSON file."""

    chain_id: int
    safe: str
    timelock: str
    description: str
    action: str  # "schedule" or "cancel"
    target: str
    value: int
    data: bytes
    predecessor: bytes
    salt: bytes
    delay: int
    safe_nonce: int
    signatures: dict[str, bytes]

    @property
    def operation_id(self) -> bytes:
        return operation_id(self.target, self.value, self.data, self.predecessor, self.salt)

    def safe_tx(self) -> dict[str, Any]:
        timelock = timelock_contract(Web3(), self.timelock)
        if self.action == "schedule":
            data = timelock.encode_abi(
                "schedule", [self.target, self.value, self.data, self.predecessor, self.salt, self.delay]
            )
        else:
            data = timelock.encode_abi("cancel", [self.operation_id])
        return {"to": self.timelock, "value": 0, "data": _bytes(data), "operation": 0, "nonce": self.safe_nonce}

    def safe_tx_hash(self) -> bytes:
        return typed_digest(safe_tx_typed_data(self.chain_id, self.safe, self.safe_tx()))

    def to_json(self) -> dict[str, Any]:
        return {
            "format": PROPOSAL_FORMAT,
            "chainId": self.chain_id,
            "safe": self.safe,
            "timelock": self.timelock,
            "description": self.description,
            "action": self.action,
            "call": {
                "target": self.target,
                "value": self.value,
                "data": _hex(self.data),
                "predecessor": _hex(self.predecessor),
                "salt": _hex(self.salt),
                "delay": self.delay,
            },
            "operationId": _hex(self.operation_id),
            "safeNonce": self.safe_nonce,
            "safeTxHash": _hex(self.safe_tx_hash()),
            "signatures": {o: _hex(s) for o, s in sorted(self.signatures.items())},
        }

    @classmethod
    def from_json(cls, data: Any) -> Proposal:
        if not isinstance(data, dict) or data.get("format") != PROPOSAL_FORMAT:
            raise GovernanceError(f"not a governance proposal (format {PROPOSAL_FORMAT})", field="proposal")
        try:
            call = data["call"]
            proposal = cls(
                chain_id=int(data["chainId"]),
                safe=to_checksum_address(data["safe"]),
                timelock=to_checksum_address(data["timelock"]),
                description=str(data.get("description", ""))[:500],
                action=str(data["action"]),
                target=to_checksum_address(call["target"]),
                value=int(call["value"]),
                data=_bytes(call["data"]),
                predecessor=_bytes(call["predecessor"]),
                salt=_bytes(call["salt"]),
                delay=int(call["delay"]),
                safe_nonce=int(data["safeNonce"]),
                signatures={to_checksum_address(o): _bytes(s) for o, s in dict(data.get("signatures") or {}).items()},
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise GovernanceError(
                f"the proposal is malformed ({exc.__class__.__name__}: {exc})", field="proposal"
            ) from None
        if not (
            0 <= proposal.value < 2**256
            and 0 <= proposal.delay <= MAX_GOVERNANCE_DELAY
            and 0 <= proposal.safe_nonce < 2**64
            and 0 < proposal.chain_id < 2**64
            and len(proposal.data) <= 100_000
        ):
            raise GovernanceError(
                "the proposal's value, delay, nonce, chain id or calldata is out of range", field="proposal"
            )
        if proposal.action not in ("schedule", "cancel") or len(proposal.predecessor) != 32 or len(proposal.salt) != 32:
            raise GovernanceError("the proposal's action, predecessor or salt is malformed", field="proposal")
        if len(proposal.signatures) > 64 or any(len(s) != 65 for s in proposal.signatures.values()):
            raise GovernanceError(
                "the proposal's signatures are malformed (65 bytes each, at most 64)", field="signatures"
            )
        return proposal

    def save(self, path: Path) -> None:
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(json.dumps(self.to_json(), indent=2) + "\n", encoding="utf-8")
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> Proposal:
        try:
            with open(path, "rb") as fh:  # one byte past the bound at most: /dev/zero is refused too
                raw = fh.read(1_000_001)
        except OSError as exc:
            raise GovernanceError(f"cannot read {path}: {exc.strerror}", field="proposal") from None
        if len(raw) > 1_000_000:
            raise GovernanceError("the proposal file is larger than 1 MB", field="proposal")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise GovernanceError(f"{path} is not UTF-8 text, so it is not a proposal", field="proposal") from None
        try:
            return cls.from_json(json.loads(text))
        except json.JSONDecodeError:
            raise GovernanceError(f"{path} is not JSON", field="proposal") from None


@dataclass(frozen=True)
class CouncilState:
    safe: str
    owners: list[str]
    threshold: int
    nonce: int
    timelock: str
    delay: int


def council_state(w3: Web3, timelock: str, safe: str) -> CouncilState:
    """The Safe's owners, threshold and nonce and the timelock's delay, read from the chain; an address that is not
    a Safe or not a timelock is refused (:class:`GovernanceError`)."""
    from requests.exceptions import RequestException

    try:
        return _council_state(w3, timelock, safe)
    except (RequestException, OSError):
        raise  # the node did not answer: not a verdict on the addresses
    except Exception as exc:  # noqa: BLE001 - a revert or an undecodable answer (each EVM client raises its own class): not a Safe
        raise GovernanceError(
            f"{safe} is not a Safe or {timelock} is not a timelock on this chain ({exc.__class__.__name__})",
            field="proposal",
        ) from None


def _council_state(w3: Web3, timelock: str, safe: str) -> CouncilState:
    s = safe_contract(w3, safe)
    t = timelock_contract(w3, timelock)
    return CouncilState(
        to_checksum_address(safe),
        [to_checksum_address(o) for o in s.functions.getOwners().call()],
        int(s.functions.getThreshold().call()),
        int(s.functions.nonce().call()),
        to_checksum_address(timelock),
        int(t.functions.getMinDelay().call()),
    )


def propose(
    w3: Web3,
    timelock: str,
    safe: str,
    *,
    target: str,
    data: bytes,
    description: str,
    value: int = 0,
    predecessor: bytes = ZERO_WORD,
    salt: bytes | None = None,
    delay: int | None = None,
) -> Proposal:
    """A new proposal (no signature yet) to schedule ``target.call(data)`` through the timelock, for the Safe's
    next nonce. ``salt`` defaults to the hash of the description and the Safe nonce, so that the same act can be
    proposed again; ``delay`` to the timelock's minimum."""
    state = council_state(w3, timelock, safe)
    delay = state.delay if delay is None else delay
    if delay < state.delay:
        raise GovernanceError(f"the timelock's minimum delay is {state.delay} s", field="delay")
    if salt is None:
        salt = bytes(keccak(text=f"{description}\n{state.nonce}"))
    proposal = Proposal(
        int(w3.eth.chain_id),
        state.safe,
        state.timelock,
        description[:500],
        "schedule",
        to_checksum_address(target),
        value,
        data,
        predecessor,
        salt,
        delay,
        state.nonce,
        {},
    )
    _check_against_chain(w3, proposal)
    return proposal


def propose_cancel(w3: Web3, scheduled: Proposal) -> Proposal:
    """A new proposal (no signature yet) whose Safe transaction cancels the operation ``scheduled`` put in the
    timelock (same call, so the same operation id)."""
    state = council_state(w3, scheduled.timelock, scheduled.safe)
    proposal = Proposal(
        scheduled.chain_id,
        scheduled.safe,
        scheduled.timelock,
        f"cancel: {scheduled.description}"[:500],
        "cancel",
        scheduled.target,
        scheduled.value,
        scheduled.data,
        scheduled.predecessor,
        scheduled.salt,
        scheduled.delay,
        state.nonce,
        {},
    )
    _check_against_chain(w3, proposal)
    return proposal


def _check_against_chain(w3: Web3, proposal: Proposal) -> CouncilState:
    if int(w3.eth.chain_id) != proposal.chain_id:
        raise GovernanceError(
            f"the proposal is for chain {proposal.chain_id}, the node is chain {w3.eth.chain_id}", field="proposal"
        )
    state = council_state(w3, proposal.timelock, proposal.safe)
    tx = proposal.safe_tx()
    onchain = bytes(
        safe_contract(w3, proposal.safe)
        .functions.getTransactionHash(
            tx["to"], 0, tx["data"], 0, 0, 0, 0, ZERO_ADDRESS, ZERO_ADDRESS, proposal.safe_nonce
        )
        .call()
    )
    if onchain != proposal.safe_tx_hash():
        raise GovernanceError("the proposal's Safe transaction hash differs from the Safe's own", field="proposal")
    return state


def approve(w3: Web3, proposal: Proposal, account: LocalAccount) -> Proposal:
    """Adds ``account``'s signature to the proposal, after checking the proposal against the chain and that
    ``account`` is an owner of the Safe."""
    state = _check_against_chain(w3, proposal)
    if state.nonce != proposal.safe_nonce:
        raise GovernanceError(
            f"the Safe is at nonce {state.nonce}, the proposal was made for nonce {proposal.safe_nonce} "
            "(another proposal was executed first: propose again)",
            field="proposal",
        )
    owner = to_checksum_address(account.address)
    if owner not in state.owners:
        raise GovernanceError(f"{owner} is not an owner of the council Safe {state.safe}", field="keystore")
    full = safe_tx_typed_data(proposal.chain_id, proposal.safe, proposal.safe_tx())
    proposal.signatures[owner] = sign_typed(full, account)
    return proposal


def valid_signers(w3: Web3, proposal: Proposal) -> list[str]:
    """The owners whose signature in the proposal recovers to them over its Safe transaction."""
    state = council_state(w3, proposal.timelock, proposal.safe)
    full = safe_tx_typed_data(proposal.chain_id, proposal.safe, proposal.safe_tx())
    return sorted(o for o, s in proposal.signatures.items() if o in state.owners and recover_typed(full, s) == o)


def execute(sender: TxSender, proposal: Proposal) -> dict[str, Any]:
    """The next step of the proposal: send the Safe transaction (schedule or cancel) once ``threshold`` owners
    signed; then, after the delay, the timelock operation. Refuses (nothing sent) what is not yet due."""
    w3 = sender.w3
    st = status(w3, proposal)
    if st["state"] == "collecting":
        raise GovernanceError(
            f"{st['validSignatures']} of {st['threshold']} council signatures: not enough to execute",
            field="signatures",
        )
    if st["state"] == "stale":
        raise GovernanceError(
            "the Safe moved past this proposal's nonce without executing it: propose again", field="proposal"
        )
    if st["state"] == "ready-to-schedule":
        signers = valid_signers(w3, proposal)[: st["threshold"]]
        packed = pack_signatures({o: proposal.signatures[o] for o in signers})
        tx = proposal.safe_tx()
        safe = safe_contract(w3, proposal.safe)
        sent = sender.send_call(
            safe.functions.execTransaction(tx["to"], 0, tx["data"], 0, 0, 0, 0, ZERO_ADDRESS, ZERO_ADDRESS, packed)
        )
        assert isinstance(sent, SentTransaction)
        # Only this Safe's ExecutionSuccess counts (the timelock's events in the receipt are not decoded).
        executed = [
            e
            for e in safe.events.ExecutionSuccess().process_receipt(sent.receipt, errors=DISCARD)
            if e["address"] == safe.address
        ]
        if not executed:
            raise GovernanceError(
                "the Safe executed the transaction but the timelock refused it (ExecutionFailure)", field="proposal"
            )
        return {
            "step": "scheduled" if proposal.action == "schedule" else "cancelled",
            "transactionHash": sent.tx_hash,
            **status(w3, proposal),
        }
    if st["state"] == "ready":
        timelock = timelock_contract(w3, proposal.timelock)
        fn = timelock.functions.execute(
            proposal.target, proposal.value, proposal.data, proposal.predecessor, proposal.salt
        )
        try:
            sent = sender.send_call(fn)
        except ContractRevert as exc:
            # a node that mines only on transactions estimates at its last block's time, before the delay ended:
            # send with a fixed gas limit; the new block carries the current time (a revert is reported as such)
            if exc.name != "TimelockUnexpectedOperationState":
                raise
            sent = sender.send_call(fn, gas=TIMELOCK_EXECUTE_GAS)
        assert isinstance(sent, SentTransaction)
        return {"step": "executed", "transactionHash": sent.tx_hash, **status(w3, proposal)}
    if st["state"] == "waiting":
        raise GovernanceError(
            f"the operation is scheduled; the timelock lets it run at {st['readyAt']} (chain time {st['chainTime']})",
            field="proposal",
        )
    raise GovernanceError(f"nothing left to do: the proposal is {st['state']}", field="proposal")


def next_block_time(w3: Web3) -> int:
    """The time the timelock will see in the next block: the node's pending block (a node that mines only on
    transactions, like the embedded one, stamps it with its own clock, which need not be this machine's), never
    earlier than the latest block; this machine's clock only where the node has no pending block."""
    latest = int(w3.eth.get_block("latest")["timestamp"])
    try:
        pending = w3.eth.get_block("pending")
    except Exception:  # noqa: BLE001 - a node without a pending block (some permissioned clients)
        return max(latest, int(time.time()))
    if pending is None or pending.get("timestamp") is None:
        return max(latest, int(time.time()))
    return max(latest, int(pending["timestamp"]))


def status(w3: Web3, proposal: Proposal) -> dict[str, Any]:
    """Where the proposal stands, read from the chain: ``collecting`` signatures, ``ready-to-schedule``,
    ``waiting`` for the delay, ``ready`` to execute, ``done``, ``cancelled`` or ``stale``."""
    state = _check_against_chain(w3, proposal)
    timelock = timelock_contract(w3, proposal.timelock)
    op = proposal.operation_id
    ts = int(timelock.functions.getTimestamp(op).call())
    chain_time = next_block_time(w3)
    signers = valid_signers(w3, proposal)
    if proposal.action == "cancel":
        label = (
            "cancelled"
            if ts == 0 and state.nonce > proposal.safe_nonce
            else (
                "stale"
                if state.nonce > proposal.safe_nonce
                else "ready-to-schedule"
                if len(signers) >= state.threshold
                else "collecting"
            )
        )
    elif ts == 1:
        label = "done"
    elif ts > 1:
        label = "ready" if chain_time >= ts else "waiting"
    elif state.nonce > proposal.safe_nonce:
        label = "stale"  # the nonce moved on and the operation is not (or no longer) scheduled: cancelled or replaced
    else:
        label = "ready-to-schedule" if len(signers) >= state.threshold else "collecting"
    return {
        "state": label,
        "description": proposal.description,
        "operationId": _hex(op),
        "target": proposal.target,
        "data": _hex(proposal.data),
        "safe": proposal.safe,
        "timelock": proposal.timelock,
        "threshold": state.threshold,
        "validSignatures": len(signers),
        "signers": signers,
        "readyAt": ts if ts > 1 else None,
        "chainTime": chain_time,
        "delaySeconds": proposal.delay,
    }


# --- reading governance from the chain -----------------------------------------------------------------------


def governance_address(w3: Web3, evidence: Any) -> str | None:
    """The single holder of the party registry's GOVERNANCE_ROLE (the timelock), from its default admin."""
    try:
        return to_checksum_address(evidence.functions.defaultAdmin().call())
    except Exception:  # noqa: BLE001 - a contract without AccessControlDefaultAdminRules
        return None


def describe(w3: Web3, address: str, from_block: int) -> dict[str, Any]:
    """The governance account as the chain shows it: whether it is a timelock, its delay, its proposers (and, for
    a proposer that is a Safe, its owners and threshold), and whether anyone may execute."""
    address = to_checksum_address(address)
    out: dict[str, Any] = {"address": address}
    if not bytes(w3.eth.get_code(address)):
        out["kind"] = "account (no code: a single key)"
        return out
    t = timelock_contract(w3, address)
    try:
        out["delaySeconds"] = int(t.functions.getMinDelay().call())
    except Exception:  # noqa: BLE001 - not a timelock
        out["kind"] = "contract (not a TimelockController)"
        return out
    out["kind"] = "TimelockController"
    proposers: set[str] = set()
    for log in t.events.RoleGranted().get_logs(from_block=from_block, to_block="latest"):
        if bytes(log["args"]["role"]) == PROPOSER_ROLE:
            proposers.add(to_checksum_address(log["args"]["account"]))
    out["anyoneExecutes"] = bool(t.functions.hasRole(EXECUTOR_ROLE, ZERO_ADDRESS).call())
    council = []
    for p in sorted(proposers):
        if not t.functions.hasRole(PROPOSER_ROLE, p).call():
            continue
        entry: dict[str, Any] = {"address": p}
        try:
            s = safe_contract(w3, p)
            entry.update(
                kind="Safe",
                owners=[to_checksum_address(o) for o in s.functions.getOwners().call()],
                threshold=int(s.functions.getThreshold().call()),
                version=str(s.functions.VERSION().call()),
            )
        except Exception:  # noqa: BLE001 - a proposer that is not a Safe
            entry["kind"] = "account"
        council.append(entry)
    out["proposers"] = council
    return out
