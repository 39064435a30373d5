"""Attacks on the party registry by whoever runs the service, on anvil and on eth-tester (py-evm).

Each test plays one attack measured on the old main (issue 10) and fails if the protection it meets is removed:
the operator's keys (relayer, registrar) and governance cannot add, rotate or remove a party's account; an old
rotation cannot be replayed; the registrar cannot admit its own arbitration or financial institution; lookalike
identifiers are refused on chain; a recovery is vetoed by the party; a registrar's suspension lapses.
"""

from __future__ import annotations

import pytest
from eth_utils import function_signature_to_4byte_selector, keccak

from ledger.chain.sender import SentTransaction, TxSender
from ledger.errors import ContractRevert, PartyNotActive, SignatureRejected
from tests.helpers import (
    FIRM_USCC,
    TEST_RECOVERY_DELAY,
    TEST_SUSPENSION_PERIOD,
    Chain,
    account,
    h,
)

ATTACKER = "operator-controlled"


def _raw(chain: Chain, sender: TxSender, signature: str, *args: bytes) -> None:
    """Sends calldata for a function by its signature (functions that no longer exist in the ABI)."""
    data = function_signature_to_4byte_selector(signature) + b"".join(args)
    sent = sender.send({"to": chain.evidence.address, "data": "0x" + data.hex(), "gas": 300_000})
    assert isinstance(sent, SentTransaction)


def _word(value: int | str) -> bytes:
    return (int(value, 16) if isinstance(value, str) else value).to_bytes(32, "big")


def _powers(chain: Chain) -> list[TxSender]:
    """Every key of the operator and of governance: relayer, registrar, governance."""
    return [chain.sender, chain.registrar_sender, chain.governance_sender]


def test_the_operator_cannot_add_its_own_key_to_a_party(chain: Chain) -> None:
    uni = account("university")
    pid = chain.admit([uni.address], kind="university", jurisdiction="hksar", scheme="hkbrn", identifier="12345678")
    own = account(ATTACKER)
    for sender in _powers(chain):
        # the registrar's old power, by its old selector: no such function any more
        with pytest.raises(Exception):  # noqa: B017 - a revert without data, or the node's refusal to estimate
            _raw(chain, sender, "addAccount(uint256,address)", _word(pid), _word(own.address))
        # a change "signed" by the operator's keys is not the party's consent
        with pytest.raises((ContractRevert, SignatureRejected)) as err:
            args = chain.account_change(pid, "add", signers=[own], new=own)
            sender.send_call(chain.evidence.functions.changeAccounts(*args))
        assert err.value.name == "PartyAccountNotOfParty"
    assert chain.evidence.functions.partyAccounts(pid).call() == [uni.address]
    assert chain.evidence.functions.partyOf(own.address).call() == [0, False]


def test_the_operator_cannot_rotate_a_partys_only_account_to_its_own_key(chain: Chain) -> None:
    uni = account("university")
    pid = chain.admit([uni.address], kind="university", jurisdiction="hksar", scheme="hkbrn", identifier="12345678")
    own = account(ATTACKER)
    for sender in _powers(chain):
        with pytest.raises(Exception):  # noqa: B017
            _raw(chain, sender, "rotateAccount(address,address)", _word(uni.address), _word(own.address))
        with pytest.raises(Exception):  # noqa: B017
            _raw(chain, sender, "removeAccount(address)", _word(uni.address))
        with pytest.raises((ContractRevert, SignatureRejected)) as err:  # the party's key is the one that must sign
            args = chain.account_change(pid, "rotate", signers=[uni], account=uni.address, new=own, new_signer=own)
            change, _, joined = args
            forged = chain.account_change(pid, "rotate", signers=[own], account=uni.address, new=own)[1]
            sender.send_call(chain.evidence.functions.changeAccounts(change, forged, joined))
        assert err.value.name == "PartyAccountNotOfParty"
    assert chain.evidence.functions.partyAccounts(pid).call() == [uni.address]
    chain.register(uni, h("the university still signs"))


def test_an_old_rotation_cannot_be_replayed_to_undo_a_later_one(chain: Chain) -> None:
    a, b = account("rot-a"), account("rot-b")
    pid = chain.admit([a.address])
    first = chain.account_change(pid, "rotate", signers=[a], account=a.address, new=b)  # nonce 0: a -> b
    chain.sender.send_call(chain.evidence.functions.changeAccounts(*first))
    chain.change_accounts(pid, "rotate", signers=[b], account=b.address, new=a)  # nonce 1: b -> a
    assert chain.evidence.functions.partyAccounts(pid).call() == [a.address]
    # a is the party's account again, so without the nonce the first signed rotation would apply once more
    with pytest.raises(ContractRevert) as err:
        chain.sender.send_call(chain.evidence.functions.changeAccounts(*first))
    assert err.value.name == "PartyNonceMismatch" and err.value.args_["expected"] == 2
    assert chain.evidence.functions.partyAccounts(pid).call() == [a.address]


@pytest.mark.parametrize("kind", [3, 4, 6])  # arbitration institution, financial institution, asset verifier
def test_the_operator_cannot_admit_its_own_institution_of_a_kind_that_carries_power(chain: Chain, kind: int) -> None:
    own = account(ATTACKER)
    profile = (kind, 1, 3, "OPERATOR-CONTROLLED-1", "仲裁", "Captured Institution")
    for sender in (chain.sender, chain.registrar_sender):
        with pytest.raises(ContractRevert) as err:
            sender.send_call(chain.evidence.functions.admitParty(profile, [own.address]))
        assert err.value.name == "PartyKindNeedsGovernance"
    assert chain.evidence.functions.partyCount().call() == 0
    # governance (the council's timelock) can; the registrar still admits ordinary kinds
    chain.governance_sender.send_call(chain.evidence.functions.admitParty(profile, [own.address]))
    assert chain.evidence.functions.party(1).call()[0] == kind


def test_the_relayer_holds_no_admission_or_suspension_power(chain: Chain) -> None:
    firm = account("firm")
    with pytest.raises(ContractRevert) as err:
        chain.sender.send_call(chain.evidence.functions.admitParty((1, 1, 1, FIRM_USCC, "甲", "A"), [firm.address]))
    assert err.value.name == "AccessControlUnauthorizedAccount"
    pid = chain.admit([firm.address], identifier=FIRM_USCC)
    for fn in (
        chain.evidence.functions.suspendParty(pid, b"\0" * 32),
        chain.evidence.functions.proposeRecovery(pid, account(ATTACKER).address),
    ):
        with pytest.raises(ContractRevert) as err:
            chain.sender.send_call(fn)
        assert err.value.name == "AccessControlUnauthorizedAccount"


@pytest.mark.parametrize(
    ("scheme", "lookalike"),
    [
        (1, FIRM_USCC.lower()),  # lower-case
        (1, " " + FIRM_USCC),  # padded
        (1, FIRM_USCC + " "),
        (1, "".join(chr(ord(c) + 0xFEE0) for c in FIRM_USCC)),  # full-width
        (1, FIRM_USCC[:-1] + "R"),  # wrong check character
        (2, "1234 5678"),
        (2, "１２３４５６７８"),
        (3, "arb-0001"),
        (3, "ARB  0001"),
    ],
)
def test_a_lookalike_identifier_is_refused_on_chain(chain: Chain, scheme: int, lookalike: str) -> None:
    real = {1: FIRM_USCC, 2: "12345678", 3: "ARB-0001"}[scheme]
    chain.registrar_sender.send_call(
        chain.evidence.functions.admitParty((1, 1, scheme, real, "真", "Real"), [account("real").address])
    )
    with pytest.raises(ContractRevert) as err:
        chain.registrar_sender.send_call(
            chain.evidence.functions.admitParty((1, 1, scheme, lookalike, "假", "Lookalike"), [account("copy").address])
        )
    assert err.value.name == "PartyIdentifierNotCanonical"
    with pytest.raises(ContractRevert) as dup:  # and the canonical identifier itself is taken
        chain.registrar_sender.send_call(
            chain.evidence.functions.admitParty((1, 1, scheme, real, "假", "Copy"), [account("copy").address])
        )
    assert dup.value.name == "PartyIdentifierTaken" and dup.value.args_["partyId"] == 1


def test_a_recovery_to_a_governance_key_is_vetoed_by_the_party(chain: Chain) -> None:
    uni = account("university")
    pid = chain.admit([uni.address], kind="university", jurisdiction="hksar", scheme="hkbrn", identifier="12345678")
    own = account(ATTACKER)
    chain.governance_sender.send_call(chain.evidence.functions.proposeRecovery(pid, own.address))
    with pytest.raises(ContractRevert) as outsider:  # only the party's accounts veto
        chain.as_(own).send_call(chain.evidence.functions.vetoRecovery(pid, own.address, b""))
    assert outsider.value.name == "PartyAccountNotOfParty"
    sent = chain.as_(uni).send_call(chain.evidence.functions.vetoRecovery(pid, uni.address, b""))
    assert chain.evidence.events.RecoveryVetoed().process_receipt(sent.receipt)[0]["args"]["account"] == uni.address
    chain.advance(TEST_RECOVERY_DELAY + 1)
    with pytest.raises(ContractRevert) as err:
        chain.sender.send_call(chain.evidence.functions.executeRecovery(pid))
    assert err.value.name == "RecoveryNotPending"
    assert chain.evidence.functions.partyAccounts(pid).call() == [uni.address]


def test_a_registrar_suspension_lapses_unless_governance_confirms_it(chain: Chain) -> None:
    bank_side = account("firm")
    pid = chain.admit([bank_side.address], identifier=FIRM_USCC)
    chain.registrar_sender.send_call(chain.evidence.functions.suspendParty(pid, keccak(text="no reason given")))
    with pytest.raises(PartyNotActive):
        chain.register(bank_side, h("while suspended"))
    chain.advance(TEST_SUSPENSION_PERIOD + 1)
    assert chain.evidence.functions.isActive(pid).call() is True
    assert chain.evidence.functions.partyOf(bank_side.address).call() == [pid, True]
    chain.register(bank_side, h("after the lapse"))
    # the registrar can neither suspend again nor lift-and-reimpose to dodge the lapse
    with pytest.raises(ContractRevert) as again:
        chain.registrar_sender.send_call(chain.evidence.functions.suspendParty(pid, keccak(text="again")))
    assert again.value.name == "PartySuspensionLapsed"
    with pytest.raises(ContractRevert) as lift:
        chain.registrar_sender.send_call(chain.evidence.functions.reinstateParty(pid))
    assert lift.value.name == "PartySuspensionLapsed"
    with pytest.raises(ContractRevert) as late:
        chain.governance_sender.send_call(chain.evidence.functions.confirmSuspension(pid))
    assert late.value.name == "PartySuspensionLapsed"
