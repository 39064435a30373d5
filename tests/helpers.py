"""Factories shared by the tests: chains, parties, signatures. Everything here runs against a real EVM."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from web3 import Web3

from ledger.chain.artifacts import load_artifact
from ledger.chain.deployment import Manifest, deploy_suite
from ledger.chain.node import DEV_OPERATOR_KEY
from ledger.chain.powers import dev_governance, dev_registrar
from ledger.chain.sender import SentTransaction, TxSender
from ledger.domain import eip712

FIRM_USCC = "91110108551385082Q"
FIRM2_USCC = "91110000600037341L"

KIND = {"firm": 1, "university": 2, "arbitration": 3, "financial": 4, "agency": 5, "verifier": 6}
JURISDICTION = {"mainland": 1, "hksar": 2, "other": 3}
SCHEME = {"uscc": 1, "hkbrn": 2, "other": 3}
SHA256, SM3 = 1, 2
ZERO32 = b"\0" * 32


def account(label: str) -> LocalAccount:
    """A deterministic test account per label (different labels, different keys)."""
    return Account.from_key(keccak(text=f"ipledger-test:{label}"))


def h(label: str) -> bytes:
    """A deterministic 32-byte content hash for a label."""
    return keccak(text=f"content:{label}")


@dataclass
class Chain:
    """One EVM (anvil or eth-tester) with the suite deployed, an operator and snapshot/revert."""

    name: str
    w3: Web3
    operator: LocalAccount
    manifest: Manifest
    snapshot_fn: Callable[[], Any]
    revert_fn: Callable[[Any], None]
    funder: str
    node_url: str = ""
    #: Moves the chain's clock forward by that many seconds and mines a block.
    advance_fn: Callable[[int], None] | None = None
    #: The registrar (admits ordinary parties, suspends provisionally) and governance of the party registry.
    registrar: LocalAccount = dev_registrar()
    governance: LocalAccount = dev_governance()

    @property
    def sender(self) -> TxSender:
        return TxSender(self.w3, self.operator)

    @property
    def evidence(self) -> Any:
        return self.w3.eth.contract(
            address=self.manifest.address("EvidenceRegistry"), abi=load_artifact("EvidenceRegistry")["abi"]
        )

    @property
    def disputes(self) -> Any:
        return self.w3.eth.contract(
            address=self.manifest.address("DisputeRegistry"), abi=load_artifact("DisputeRegistry")["abi"]
        )

    @property
    def assets(self) -> Any:
        return self.w3.eth.contract(
            address=self.manifest.address("IPAssetRegistry"), abi=load_artifact("IPAssetRegistry")["abi"]
        )

    @property
    def registrar_sender(self) -> TxSender:
        return TxSender(self.w3, self.registrar)

    @property
    def governance_sender(self) -> TxSender:
        return TxSender(self.w3, self.governance)

    def advance(self, seconds: int) -> None:
        assert self.advance_fn is not None
        self.advance_fn(seconds)

    def snapshot(self) -> Any:
        return self.snapshot_fn()

    def revert(self, snap: Any) -> None:
        self.revert_fn(snap)

    def fund(self, address: str, wei: int = 10**20) -> None:
        tx = self.w3.eth.send_transaction({"from": self.funder, "to": address, "value": wei})
        self.w3.eth.wait_for_transaction_receipt(tx)

    def as_(self, acct: LocalAccount) -> TxSender:
        if self.w3.eth.get_balance(acct.address) < 10**18:
            self.fund(acct.address)
        return TxSender(self.w3, acct)

    def domain(self) -> eip712.Domain:
        return eip712.Domain(int(self.w3.eth.chain_id), self.manifest.address("EvidenceRegistry"))

    def now(self) -> int:
        return int(self.w3.eth.get_block("latest")["timestamp"])

    # --- parties ---

    def admit(
        self,
        accounts: list[str],
        *,
        kind: str = "firm",
        jurisdiction: str = "mainland",
        scheme: str = "uscc",
        identifier: str | None = None,
        name_zh: str = "前海测试科技有限公司",
        name_en: str = "Qianhai Test Technology Co., Ltd.",
    ) -> int:
        identifier = identifier or (
            make_uscc(",".join(accounts))
            if scheme == "uscc"
            else f"ID-{keccak(text=','.join(accounts)).hex()[:12].upper()}"
        )
        profile = (KIND[kind], JURISDICTION[jurisdiction], SCHEME[scheme], identifier, name_zh, name_en)
        # ordinary kinds are admitted by the registrar, kinds that carry power by governance
        admitter = self.governance_sender if kind in ("arbitration", "financial", "verifier") else self.registrar_sender
        sent = admitter.send_call(self.evidence.functions.admitParty(profile, accounts))
        assert isinstance(sent, SentTransaction)
        return int(self.evidence.functions.partyCount().call())

    def account_change(
        self,
        party_id: int,
        action: str,
        *,
        signers: list[LocalAccount],
        account: str | None = None,
        new: LocalAccount | None = None,
        threshold: int | None = None,
        nonce: int | None = None,
        deadline: int | None = None,
        new_signer: LocalAccount | None = None,
    ) -> tuple[Any, ...]:
        """The arguments of ``changeAccounts``: the change, its signatures (ascending signer) and the incoming
        account's signature. ``threshold`` defaults to the party's, clipped to its account count after the change."""
        p = self.evidence.functions.party(party_id).call()
        if threshold is None:
            count = p[4] + {"add": 1, "remove": -1}.get(action, 0)
            threshold = max(1, min(p[5], count))
        nonce = p[7] if nonce is None else nonce
        deadline = self.now() + 600 if deadline is None else deadline
        new_address = new.address if new is not None and action == "rotate" else None
        if action == "add" and new is not None:
            account = new.address
        msg = eip712.account_change_message(
            self.domain(),
            party_id=party_id,
            action=action,
            account=account,
            new_account=new_address,
            threshold=threshold,
            nonce=nonce,
            deadline=deadline,
        )
        sigs = sorted(((a.address, eip712.sign(msg, a)) for a in signers), key=lambda x: int(x[0], 16))
        joiner = new_signer or new
        joined = eip712.sign(msg, joiner) if joiner is not None and action in ("add", "rotate") else b""
        change = (
            party_id,
            eip712.ACCOUNT_ACTIONS[action],
            account or eip712.ZERO_ADDRESS,
            new_address or eip712.ZERO_ADDRESS,
            threshold,
            nonce,
            deadline,
        )
        return change, sigs, joined

    def change_accounts(self, party_id: int, action: str, **kw: Any) -> SentTransaction:
        """A party's own account change, relayed by the relayer (who holds no power over it)."""
        sent = self.sender.send_call(
            self.evidence.functions.changeAccounts(*self.account_change(party_id, action, **kw))
        )
        assert isinstance(sent, SentTransaction)
        return sent

    def register(
        self,
        acct: LocalAccount,
        content: bytes,
        *,
        algorithm: int = SHA256,
        meta: bytes = ZERO32,
        supersedes: bytes = ZERO32,
    ) -> SentTransaction:
        sent = self.as_(acct).send_call(self.evidence.functions.register((content, algorithm, meta, supersedes)))
        assert isinstance(sent, SentTransaction)
        return sent

    def signed_request(
        self,
        acct: LocalAccount,
        content: bytes,
        *,
        algorithm: int = SHA256,
        meta: bytes = ZERO32,
        supersedes: bytes = ZERO32,
        deadline: int | None = None,
        nonce: int | None = None,
        signer: LocalAccount | None = None,
        registrant: str | None = None,
    ) -> tuple:
        registrant = registrant or acct.address
        if nonce is None:
            nonce = int(self.evidence.functions.nonces(registrant).call())
        if deadline is None:
            deadline = self.now() + 3600
        msg = eip712.evidence_message(
            self.domain(),
            binding=content,
            algorithm=algorithm,
            metadata_commitment=meta,
            supersedes=supersedes,
            registrant=registrant,
            nonce=nonce,
            deadline=deadline,
        )
        sig = eip712.sign(msg, signer or acct)
        return ((content, algorithm, meta, supersedes), registrant, nonce, deadline, sig)


def make_anvil_chain(rpc_url: str) -> Chain:
    w3 = Web3(Web3.HTTPProvider(rpc_url))
    operator = Account.from_key(DEV_OPERATOR_KEY)
    manifest = deploy_suite(
        TxSender(w3, operator),
        registrar=dev_registrar().address,
        governance=dev_governance().address,
        recovery_delay=TEST_RECOVERY_DELAY,
        suspension_period=TEST_SUSPENSION_PERIOD,
    )

    def advance(seconds: int) -> None:
        w3.provider.make_request("evm_increaseTime", [seconds])
        w3.provider.make_request("evm_mine", [])

    return Chain(
        name="anvil",
        w3=w3,
        operator=operator,
        manifest=manifest,
        snapshot_fn=lambda: w3.provider.make_request("evm_snapshot", [])["result"],
        revert_fn=lambda s: w3.provider.make_request("evm_revert", [s]),
        funder=w3.eth.accounts[1],
        node_url=rpc_url,
        advance_fn=advance,
    )


def make_eth_tester_chain() -> Chain:
    from eth_tester import EthereumTester, PyEVMBackend
    from web3 import EthereumTesterProvider

    tester = EthereumTester(PyEVMBackend())
    w3 = Web3(EthereumTesterProvider(tester))
    operator = Account.from_key(DEV_OPERATOR_KEY)
    funder = w3.eth.accounts[0]
    for holder in (operator, dev_registrar(), dev_governance()):
        w3.eth.wait_for_transaction_receipt(
            w3.eth.send_transaction({"from": funder, "to": holder.address, "value": 10**22})
        )
    manifest = deploy_suite(
        TxSender(w3, operator),
        registrar=dev_registrar().address,
        governance=dev_governance().address,
        recovery_delay=TEST_RECOVERY_DELAY,
        suspension_period=TEST_SUSPENSION_PERIOD,
    )

    def advance(seconds: int) -> None:
        tester.time_travel(int(w3.eth.get_block("latest")["timestamp"]) + seconds)

    return Chain(
        name="eth-tester",
        w3=w3,
        operator=operator,
        manifest=manifest,
        snapshot_fn=tester.take_snapshot,
        revert_fn=tester.revert_to_snapshot,
        funder=funder,
        advance_fn=advance,
    )


#: The party registry's delays in the test suites (seconds): short, passed with `Chain.advance`.
TEST_RECOVERY_DELAY = 3600
TEST_SUSPENSION_PERIOD = 7200

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def make_uscc(label: str) -> str:
    """A well-formed USCC (valid check character) derived from a label: different labels, different codes."""
    body = "9144" + "".join(str(b % 10) for b in keccak(text=f"uscc:{label}")[:13])
    total = sum(USCC_ALPHABET.index(c) * pow(3, i, 31) for i, c in enumerate(body))
    return body + USCC_ALPHABET[(31 - total % 31) % 31]


def env_flag(name: str) -> bool:
    return os.environ.get(name, "") not in ("", "0", "false")


IPLEDGER = str(__import__("pathlib").Path(__file__).resolve().parents[1] / ".venv" / "bin" / "ipledger")


def cli_env(**extra: str) -> dict[str, str]:
    """The environment for a CLI subprocess: no inherited IPLEDGER_* settings, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("IPLEDGER_")}
    env.update(extra)
    return env


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 120, input: str | None = None) -> Any:
    import subprocess

    return subprocess.run(
        [IPLEDGER, *args], capture_output=True, text=True, env=env or cli_env(), timeout=timeout, input=input
    )


def deploy_wallet(chain: Chain, owner: LocalAccount) -> Any:
    """Deploys the test ERC-1271 wallet owned by ``owner`` and returns the contract."""
    art = load_artifact("SingleOwnerWallet")
    factory = chain.w3.eth.contract(abi=art["abi"], bytecode=art["bytecode"])
    data = factory.constructor(owner.address).build_transaction({"from": chain.operator.address, "gas": 0, "nonce": 0})[
        "data"
    ]
    sent = chain.sender.send({"data": data})
    return chain.w3.eth.contract(address=sent.receipt["contractAddress"], abi=art["abi"])


# --- assets and agreements ---------------------------------------------------------------------

from ledger.domain import agreements as ag  # noqa: E402


def assets_domain(chain: Chain) -> eip712.Domain:
    return ag.assets_domain(int(chain.w3.eth.chain_id), chain.manifest.address("IPAssetRegistry"))


def sign_with(chain: Chain, message: dict[str, Any], accounts: list[LocalAccount]) -> list[tuple[str, bytes]]:
    return [(a.address, eip712.sign(message, a)) for a in accounts]


def asset_verifier(chain: Chain, label: str = "asset-verifier") -> tuple[LocalAccount, int]:
    """The asset verifier party of ``label`` (admitted by governance on first use; found again after a revert)."""
    acct = account(label)
    pid, _ = chain.evidence.functions.partyOf(acct.address).call()
    if pid == 0:
        pid = chain.admit([acct.address], kind="verifier", scheme="other", identifier=f"VER-{label}".upper())
    return acct, int(pid)


def confirm_asset(
    chain: Chain, asset_id: int, *, verifier: LocalAccount | None = None, extract: bytes | None = None
) -> SentTransaction:
    """An asset verifier confirms a claim, its EIP-712 signature relayed by the operator (who holds no power)."""
    verifier = verifier or asset_verifier(chain)[0]
    extract = extract or keccak(text=f"register-extract:{asset_id}")
    deadline = chain.now() + 3600
    sig = eip712.sign(ag.confirmation_message(assets_domain(chain), asset_id, extract, deadline), verifier)
    sent = chain.sender.send_call(
        chain.assets.functions.confirmAsset(asset_id, extract, verifier.address, deadline, sig)
    )
    assert isinstance(sent, SentTransaction)
    return sent


def register_asset(
    chain: Chain,
    owners: list[tuple[int, LocalAccount]],
    shares: list[int] | None = None,
    number: str = "CN201710601862.3",
    kind: int = 1,
    jurisdiction: int = 1,
    confirm: bool = True,
) -> int:
    """Registers an asset signed by its owners and, unless ``confirm`` is false (a bare claim), has the test
    asset verifier confirm it, so that agreements can be executed on it."""
    shares = shares or [10_000 // len(owners)] * len(owners)
    reg = ag.AssetRegistration(
        jurisdiction,
        kind,
        ag.number_hash(number),
        tuple(p for p, _ in owners),
        tuple(shares),
        keccak(text="details:" + number),
        chain.now() + 3600,
    )
    sigs = sign_with(chain, reg.message(assets_domain(chain)), [a for _, a in owners])
    sent = chain.sender.send_call(chain.assets.functions.registerAsset(reg.as_tuple(), sigs))
    assert isinstance(sent, SentTransaction)
    asset_id = int(chain.assets.functions.assetCount().call())
    if confirm:
        confirm_asset(chain, asset_id)
    return asset_id


def execute(chain: Chain, terms: ag.Terms, signers: list[LocalAccount]) -> SentTransaction:
    sigs = sign_with(chain, terms.message(assets_domain(chain)), signers)
    sent = chain.sender.send_call(chain.assets.functions.execute(terms.as_tuple(), sigs))
    assert isinstance(sent, SentTransaction)
    return sent


# --- disputes: the only way to freeze, void or restore ----------------------------------------------

SUBJECT = {"asset": 1, "agreement": 2, "evidence": 3}
OUTCOME = {"dismissed": 1, "agreement_voided": 2, "title_restored": 3}


_CO_ARBITRATORS: dict[str, list[LocalAccount]] = {}


def admit_arbitrator(chain: Chain, label: str = "arbitrator") -> tuple[LocalAccount, int]:
    """An arbitration institution with two arbitrator accounts (``label`` and ``label-2``); returns the first
    and the party id. ``open_dispute``/``close_dispute`` given the first sign with both (the institution acts
    by at least two of its accounts)."""
    acct, second = account(label), account(f"{label}-2")
    pid = chain.admit(
        [acct.address, second.address], kind="arbitration", identifier=f"ARB-{label}".upper(), scheme="other"
    )
    _CO_ARBITRATORS[acct.address] = [acct, second]
    return acct, pid


def arbitrator_signatures(
    chain: Chain, message: dict[str, Any], arbitrators: LocalAccount | list[LocalAccount]
) -> list[tuple[str, bytes]]:
    """Signatures by ``arbitrators`` (one account: it and its co-arbitrator admitted by ``admit_arbitrator``)."""
    signers = arbitrators if isinstance(arbitrators, list) else _CO_ARBITRATORS.get(arbitrators.address, [arbitrators])
    return sign_with(chain, message, signers)


def dispute_open_fn(
    chain: Chain,
    arbitrators: LocalAccount | list[LocalAccount],
    subject: str,
    subject_id: bytes | int,
    claimant: int,
    respondent: int,
    institution: int | None = None,
) -> Any:
    from ledger.services.disputes import OpenRequest, disputes_domain

    first = arbitrators[0] if isinstance(arbitrators, list) else arbitrators
    inst = institution or int(chain.evidence.functions.partyOf(first.address).call()[0])
    sid = subject_id.to_bytes(32, "big") if isinstance(subject_id, int) else subject_id
    # a deadline that also counts the disputes so far: each opening is a new signed message (signatures are single-use)
    deadline = chain.now() + 600 + int(chain.disputes.functions.disputeCount().call())
    req = OpenRequest(SUBJECT[subject], sid, claimant, respondent, keccak(text="claim"), inst, deadline)
    sigs = arbitrator_signatures(
        chain, req.message(disputes_domain(int(chain.w3.eth.chain_id), chain.disputes.address)), arbitrators
    )
    return chain.disputes.functions.openDisputeBySignature(*req.as_args(sigs))


def dispute_close_fn(
    chain: Chain,
    arbitrators: LocalAccount | list[LocalAccount],
    dispute_id: bytes,
    outcome: str = "dismissed",
    owners: list[int] | None = None,
    shares: list[int] | None = None,
    institution: int | None = None,
) -> Any:
    from ledger.services.disputes import CloseRequest, disputes_domain

    inst = institution or int(chain.disputes.functions.dispute(dispute_id).call()[5])
    req = CloseRequest(
        dispute_id,
        OUTCOME[outcome],
        keccak(text="award"),
        tuple(owners or []),
        tuple(shares or []),
        inst,
        chain.now() + 600,
    )
    sigs = arbitrator_signatures(
        chain, req.message(disputes_domain(int(chain.w3.eth.chain_id), chain.disputes.address)), arbitrators
    )
    return chain.disputes.functions.closeDisputeBySignature(*req.as_args(sigs))


def open_dispute(
    chain: Chain,
    arbitrator: LocalAccount | list[LocalAccount],
    subject: str,
    subject_id: bytes | int,
    claimant: int,
    respondent: int,
) -> bytes:
    """Opens a dispute signed by the institution's arbitrators, relayed; returns its id (the asset is frozen)."""
    from web3.logs import DISCARD

    sent = chain.sender.send_call(dispute_open_fn(chain, arbitrator, subject, subject_id, claimant, respondent))
    assert isinstance(sent, SentTransaction)
    return bytes(
        chain.disputes.events.DisputeOpened().process_receipt(sent.receipt, errors=DISCARD)[0]["args"]["disputeId"]
    )


def close_dispute(
    chain: Chain,
    arbitrator: LocalAccount | list[LocalAccount],
    dispute_id: bytes,
    outcome: str = "dismissed",
    owners: list[int] | None = None,
    shares: list[int] | None = None,
) -> SentTransaction:
    sent = chain.sender.send_call(dispute_close_fn(chain, arbitrator, dispute_id, outcome, owners, shares))
    assert isinstance(sent, SentTransaction)
    return sent


def council_admit(env: dict[str, str], rpc_url: str, proposal: Path, *admit_args: str) -> None:
    """Admits a party of a kind that carries power on an embedded `ipledger up` the way its council does:
    `ipledger governance propose admit` (member 1), `approve` (member 2), `execute` (scheduled), `execute --wait`
    (after IPLEDGER_GOVERNANCE_DELAY, which the test sets short)."""
    steps = [
        ("propose", "admit", *admit_args, "-o", str(proposal), "--dev-member", "1"),
        ("approve", str(proposal), "--dev-member", "2"),
        ("execute", str(proposal), "--dev-member", "1"),
        ("execute", str(proposal), "--dev-member", "1", "--wait"),
    ]
    for step in steps:
        out = run_cli("governance", *step, "--rpc-url", rpc_url, env=env)
        assert out.returncode == 0, f"ipledger governance {' '.join(step)}\n{out.stdout}\n{out.stderr}"
