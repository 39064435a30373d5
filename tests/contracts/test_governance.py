"""Governance on chain, on anvil and on eth-tester (py-evm): a council Safe (2-of-3) acting through an
OpenZeppelin TimelockController holds the party registry's governance and admin roles (docs/security.md
"Governance").

Each test fails if its protection is removed: the relayer, the registrar, a council member's own key and the council
Safe itself cannot act as governance; only the timelock can, and only after its delay; the council below its
threshold (or with a non-owner's signature) cannot schedule; a cancelled operation never runs.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount

from ledger.chain import governance as gov
from ledger.chain.deployment import Manifest, contract, deploy_suite
from ledger.chain.powers import ROLES, dev_registrar
from ledger.chain.sender import TxSender
from ledger.errors import ContractRevert, TransactionFailed
from tests.helpers import KIND, Chain, account, make_uscc

DELAY = 120


class Suite:
    """A second deployment on the chain whose governance is a fresh 2-of-3 council through a timelock."""

    def __init__(self, chain: Chain) -> None:
        self.chain = chain
        self.members: list[LocalAccount] = [account(f"council-{i}") for i in range(3)]
        self.outsider = account("council-outsider")
        self.manifest: Manifest = deploy_suite(
            chain.sender,
            registrar=dev_registrar().address,
            council=[m.address for m in self.members],
            threshold=2,
            governance_delay=DELAY,
        )
        assert self.manifest.governance is not None
        self.timelock = str(self.manifest.governance["timelock"])
        self.safe = str(self.manifest.governance["safe"])
        self.evidence = contract(chain.w3, self.manifest, "EvidenceRegistry")
        self.executor = chain.as_(account("council-executor"))

    def admit_arbitration(self, label: str = "arb") -> gov.Proposal:
        arb = account(label)
        profile = (
            KIND["arbitration"],
            1,
            1,
            make_uscc(label),
            "深圳国际仲裁院",
            "Shenzhen Court of International Arbitration",
        )
        data = bytes.fromhex(self.evidence.encode_abi("admitParty", [profile, [arb.address]])[2:])
        return gov.propose(
            self.chain.w3,
            self.timelock,
            self.safe,
            target=self.evidence.address,
            data=data,
            description=f"admit arbitration institution {label}",
        )

    def party_count(self) -> int:
        return int(self.evidence.functions.partyCount().call())


@pytest.fixture
def suite(chain: Chain) -> Suite:
    return Suite(chain)


def test_the_timelock_alone_holds_governance_and_admin(suite: Suite, chain: Chain) -> None:
    ev = suite.evidence
    assert ev.functions.hasRole(ROLES["GOVERNANCE_ROLE"], suite.timelock).call()
    assert ev.functions.defaultAdmin().call() == suite.timelock
    for who in (chain.operator.address, dev_registrar().address, suite.safe, *[m.address for m in suite.members]):
        assert not ev.functions.hasRole(ROLES["GOVERNANCE_ROLE"], who).call()
        assert not ev.functions.hasRole(ROLES["DEFAULT_ADMIN_ROLE"], who).call()
    described = gov.describe(chain.w3, suite.timelock, int(suite.manifest.governance["deployBlock"]))
    assert described["kind"] == "TimelockController" and described["delaySeconds"] == DELAY
    assert described["anyoneExecutes"] is True
    [council] = described["proposers"]
    assert council["address"] == suite.safe and council["threshold"] == 2
    assert sorted(council["owners"]) == sorted(m.address for m in suite.members)


def test_relayer_registrar_members_and_the_safe_cannot_act_as_governance(suite: Suite, chain: Chain) -> None:
    proposal = suite.admit_arbitration()
    for sender in (chain.sender, TxSender(chain.w3, dev_registrar()), chain.as_(suite.members[0])):
        with pytest.raises((ContractRevert, TransactionFailed)):
            sender.send_call(
                suite.evidence.functions.admitParty(
                    (KIND["arbitration"], 1, 1, make_uscc("arb"), "x", "x"), [account("arb").address]
                )
            )
    # the council Safe calling the registry directly (skipping the timelock) fails inside the Safe
    direct = replace(proposal, target=suite.evidence.address)
    tx = {"to": suite.evidence.address, "value": 0, "data": proposal.data, "operation": 0, "nonce": direct.safe_nonce}
    full = gov.safe_tx_typed_data(direct.chain_id, suite.safe, tx)
    packed = gov.pack_signatures({m.address: gov.sign_typed(full, m) for m in suite.members[:2]})
    safe = gov.safe_contract(chain.w3, suite.safe)
    # (safeTxGas 0: the Safe reverts with GS013 when its call fails; the registry refused the Safe)
    with pytest.raises(ContractRevert) as err:
        suite.executor.send_call(
            safe.functions.execTransaction(
                suite.evidence.address, 0, proposal.data, 0, 0, 0, 0, gov.ZERO_ADDRESS, gov.ZERO_ADDRESS, packed
            )
        )
    assert "GS013" in str(err.value)
    assert suite.party_count() == 0


def test_only_the_timelock_after_its_delay_admits_an_arbitration_institution(
    suite: Suite, chain: Chain, tmp_path: Path
) -> None:
    proposal = suite.admit_arbitration()
    # the hash we sign is the Safe's own
    assert gov.status(chain.w3, proposal)["state"] == "collecting"
    gov.approve(chain.w3, proposal, suite.members[0])
    # passed to the next member as a file
    path = tmp_path / "proposal.json"
    proposal.save(path)
    proposal = gov.Proposal.load(path)
    gov.approve(chain.w3, proposal, suite.members[2])
    assert gov.status(chain.w3, proposal)["state"] == "ready-to-schedule"
    step = gov.execute(suite.executor, proposal)
    assert step["step"] == "scheduled" and step["state"] == "waiting"
    assert suite.party_count() == 0
    # before the delay: neither our CLI path nor a direct call to the timelock runs it
    with pytest.raises(gov.GovernanceError):
        gov.execute(suite.executor, proposal)
    timelock = gov.timelock_contract(chain.w3, suite.timelock)
    with pytest.raises((ContractRevert, TransactionFailed)):
        suite.executor.send_call(
            timelock.functions.execute(proposal.target, 0, proposal.data, proposal.predecessor, proposal.salt),
            gas=1_000_000,
        )
    assert suite.party_count() == 0
    chain.advance(DELAY + 1)
    done = gov.execute(suite.executor, proposal)
    assert done["step"] == "executed" and done["state"] == "done"
    assert suite.party_count() == 1
    assert suite.evidence.functions.partyOf(account("arb").address).call() == [1, True]
    # a replay of the executed proposal does nothing
    with pytest.raises(gov.GovernanceError):
        gov.execute(suite.executor, proposal)


def test_the_council_below_threshold_cannot_schedule(suite: Suite, chain: Chain) -> None:
    proposal = suite.admit_arbitration()
    gov.approve(chain.w3, proposal, suite.members[1])
    with pytest.raises(gov.GovernanceError):
        gov.execute(suite.executor, proposal)
    # a non-owner cannot add a signature, and a forged one does not count
    with pytest.raises(gov.GovernanceError):
        gov.approve(chain.w3, proposal, suite.outsider)
    full = gov.safe_tx_typed_data(proposal.chain_id, proposal.safe, proposal.safe_tx())
    proposal.signatures[suite.outsider.address] = gov.sign_typed(full, suite.outsider)
    assert gov.status(chain.w3, proposal)["validSignatures"] == 1
    with pytest.raises(gov.GovernanceError):
        gov.execute(suite.executor, proposal)
    # sent straight to the Safe, one owner plus an outsider is refused by the Safe itself
    tx = proposal.safe_tx()
    safe = gov.safe_contract(chain.w3, suite.safe)
    with pytest.raises((ContractRevert, TransactionFailed)):
        suite.executor.send_call(
            safe.functions.execTransaction(
                tx["to"],
                0,
                tx["data"],
                0,
                0,
                0,
                0,
                gov.ZERO_ADDRESS,
                gov.ZERO_ADDRESS,
                gov.pack_signatures(proposal.signatures),
            ),
            gas=1_000_000,
        )
    timelock = gov.timelock_contract(chain.w3, suite.timelock)
    assert timelock.functions.getTimestamp(proposal.operation_id).call() == 0


def test_a_cancelled_operation_never_runs(suite: Suite, chain: Chain) -> None:
    proposal = suite.admit_arbitration()
    for m in suite.members[:2]:
        gov.approve(chain.w3, proposal, m)
    gov.execute(suite.executor, proposal)
    cancel = gov.propose_cancel(chain.w3, proposal)
    for m in suite.members[1:]:
        gov.approve(chain.w3, cancel, m)
    assert gov.execute(suite.executor, cancel)["step"] == "cancelled"
    assert gov.status(chain.w3, cancel)["state"] == "cancelled"
    chain.advance(DELAY + 1)
    assert gov.status(chain.w3, proposal)["state"] == "stale"
    with pytest.raises(gov.GovernanceError):
        gov.execute(suite.executor, proposal)
    timelock = gov.timelock_contract(chain.w3, suite.timelock)
    with pytest.raises((ContractRevert, TransactionFailed)):
        suite.executor.send_call(
            timelock.functions.execute(proposal.target, 0, proposal.data, proposal.predecessor, proposal.salt),
            gas=1_000_000,
        )
    assert suite.party_count() == 0


def test_the_timelock_cannot_be_reached_by_a_member_directly(suite: Suite, chain: Chain) -> None:
    """Only the Safe proposes: a member's own key cannot schedule or cancel on the timelock."""
    proposal = suite.admit_arbitration()
    timelock = gov.timelock_contract(chain.w3, suite.timelock)
    member = chain.as_(suite.members[0])
    with pytest.raises((ContractRevert, TransactionFailed)):
        member.send_call(
            timelock.functions.schedule(proposal.target, 0, proposal.data, proposal.predecessor, proposal.salt, DELAY),
            gas=1_000_000,
        )
    assert timelock.functions.getTimestamp(proposal.operation_id).call() == 0


def test_a_proposal_file_that_does_not_match_the_safe_is_refused(suite: Suite, chain: Chain) -> None:
    proposal = suite.admit_arbitration()
    data = proposal.to_json()
    data["safeNonce"] = 5  # not the Safe's nonce
    with pytest.raises(gov.GovernanceError):
        gov.approve(chain.w3, gov.Proposal.from_json(json.loads(json.dumps(data))), suite.members[0])
    not_a_safe = {**proposal.to_json(), "safe": suite.evidence.address}
    with pytest.raises(gov.GovernanceError):
        gov.approve(chain.w3, gov.Proposal.from_json(not_a_safe), suite.members[0])
    good = proposal.to_json()
    for bad in (
        {},
        {"format": gov.PROPOSAL_FORMAT},
        {**good, "signatures": {"0x" + "11" * 20: "0x00"}},
        {**good, "call": {**good["call"], "value": 2**256}},
        {**good, "call": {**good["call"], "delay": -1}},
        {**good, "safeNonce": "x"},
        {**good, "signatures": {"not an address": "0x" + "00" * 65}},
        [1, 2],
    ):
        with pytest.raises(gov.GovernanceError):
            gov.Proposal.from_json(bad)


def test_verify_checks_the_council_code_and_that_the_timelock_is_admin(suite: Suite, chain: Chain) -> None:
    from ledger.chain.deployment import verify_deployment
    from ledger.errors import DeploymentMismatch

    assert set(verify_deployment(chain.w3, suite.manifest)) == {
        "EvidenceRegistry",
        "IPAssetRegistry",
        "DisputeRegistry",
        "CreatorRegistry",
    }
    # a manifest naming another governance (here: the Safe itself) is caught
    other = replace(suite.manifest, governance={**(suite.manifest.governance or {}), "timelock": suite.safe})
    with pytest.raises(DeploymentMismatch):
        verify_deployment(chain.w3, other)
    # a "Safe" that is not a proxy of the audited singleton is caught
    fake = replace(suite.manifest, governance={**(suite.manifest.governance or {}), "safe": suite.timelock})
    with pytest.raises(DeploymentMismatch):
        verify_deployment(chain.w3, fake)


def test_the_vendored_safe_artifacts_are_the_npm_packages() -> None:
    """ledger/artifacts/safe/ holds @safe-global/safe-contracts@1.4.1's build output unchanged (bytecode and ABI)."""
    from ledger.chain.compiler import REPO_ROOT

    package = REPO_ROOT / "node_modules" / "@safe-global" / "safe-contracts"
    if not package.is_dir():
        pytest.skip("node_modules not installed (npm ci)")
    assert json.loads((package / "package.json").read_text())["version"] == "1.4.1"
    paths = {
        "Safe": "Safe.sol/Safe.json",
        "SafeProxyFactory": "proxies/SafeProxyFactory.sol/SafeProxyFactory.json",
        "CompatibilityFallbackHandler": "handler/CompatibilityFallbackHandler.sol/CompatibilityFallbackHandler.json",
    }
    for name, rel in paths.items():
        npm = json.loads((package / "build" / "artifacts" / "contracts" / rel).read_text())
        ours = gov.load_safe_artifact(name)
        assert (ours["bytecode"], ours["deployedBytecode"], ours["abi"]) == (
            npm["bytecode"],
            npm["deployedBytecode"],
            npm["abi"],
        )
