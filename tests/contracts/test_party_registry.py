"""PartyRegistry rules, on anvil and on eth-tester (py-evm)."""

from __future__ import annotations

import pytest
from eth_utils import keccak

from ledger.chain.codec import call
from ledger.errors import ContractRevert, PartyNotActive, SignatureRejected
from tests.helpers import (
    FIRM_USCC,
    TEST_RECOVERY_DELAY,
    TEST_SUSPENSION_PERIOD,
    Chain,
    account,
    h,
)


def test_the_registrar_admits_a_party_with_its_accounts_and_profile(chain: Chain) -> None:
    a, b = account("firm-a"), account("firm-b")
    pid = chain.admit([a.address, b.address], identifier=FIRM_USCC, name_zh="前海甲公司", name_en="Qianhai A Ltd")
    party = chain.evidence.functions.party(pid).call()
    assert party[0] == 1 and party[1] == 1 and party[2] == 1  # firm, mainland, USCC
    assert (
        party[3] is False and party[4] == 2 and party[5] == 1 and party[7] == 0
    )  # active, 2 accounts, 1-of-2, nonce 0
    assert tuple(party[10:]) == (FIRM_USCC, "前海甲公司", "Qianhai A Ltd")
    assert chain.evidence.functions.partyAccounts(pid).call() == [a.address, b.address]
    assert chain.evidence.functions.partyOf(b.address).call() == [pid, True]
    assert chain.evidence.functions.partyByIdentifier(1, FIRM_USCC).call() == pid


def test_admission_emits_party_admitted_and_account_added_events(chain: Chain) -> None:
    a = account("firm-a")
    sent = chain.registrar_sender.send_call(
        chain.evidence.functions.admitParty((2, 2, 2, "12345678", "香港大學", "The University"), [a.address])
    )
    admitted = chain.evidence.events.PartyAdmitted().process_receipt(sent.receipt)
    added = chain.evidence.events.PartyAccountAdded().process_receipt(sent.receipt)
    assert admitted[0]["args"]["partyId"] == 1
    assert admitted[0]["args"]["profile"]["identifier"] == "12345678"
    assert added[0]["args"]["account"] == a.address


def test_only_a_registrar_admits_parties(chain: Chain) -> None:
    outsider = account("outsider")
    with pytest.raises(ContractRevert) as err:
        chain.as_(outsider).send_call(
            chain.evidence.functions.admitParty((1, 1, 1, FIRM_USCC, "甲", "A"), [outsider.address])
        )
    assert err.value.name == "AccessControlUnauthorizedAccount"


@pytest.mark.parametrize(
    ("profile", "accounts", "error"),
    [
        ((0, 1, 1, FIRM_USCC, "甲", "A"), 1, "PartyKindInvalid"),
        ((1, 0, 1, FIRM_USCC, "甲", "A"), 1, "PartyJurisdictionInvalid"),
        ((1, 1, 0, FIRM_USCC, "甲", "A"), 1, "PartyIdentifierInvalid"),
        ((1, 1, 1, "", "甲", "A"), 1, "PartyIdentifierNotCanonical"),
        ((1, 1, 1, FIRM_USCC, "", ""), 1, "PartyNameMissing"),
        ((1, 1, 1, FIRM_USCC, "甲", "A"), 0, "PartyAccountsInvalid"),
        ((1, 1, 1, FIRM_USCC, "甲", "A"), 17, "PartyAccountsInvalid"),
    ],
)
def test_malformed_admissions_are_refused(chain: Chain, profile: tuple, accounts: int, error: str) -> None:
    addrs = [account(f"acct-{i}").address for i in range(accounts)]
    with pytest.raises(ContractRevert) as err:
        chain.registrar_sender.send_call(chain.evidence.functions.admitParty(profile, addrs))
    assert err.value.name == error
    assert chain.evidence.functions.partyCount().call() == 0


def test_an_identifier_and_an_account_belong_to_one_party_only(chain: Chain) -> None:
    a, b = account("a"), account("b")
    first = chain.admit([a.address], identifier=FIRM_USCC)
    with pytest.raises(ContractRevert) as err:
        chain.admit([b.address], identifier=FIRM_USCC)
    assert err.value.name == "PartyIdentifierTaken" and err.value.args_["partyId"] == first
    with pytest.raises(ContractRevert) as err:
        chain.admit([a.address], identifier="OTHER-1", scheme="other")
    assert err.value.name == "PartyAccountTaken"


def test_a_party_adds_rotates_and_removes_its_own_accounts_but_never_the_last(chain: Chain) -> None:
    a, b, c = account("a"), account("b"), account("c")
    pid = chain.admit([a.address])
    chain.change_accounts(pid, "add", signers=[a], new=b)
    chain.change_accounts(pid, "rotate", signers=[b], account=a.address, new=c)
    assert sorted(chain.evidence.functions.partyAccounts(pid).call()) == sorted([b.address, c.address])
    assert chain.evidence.functions.partyOf(a.address).call() == [0, False]
    chain.change_accounts(pid, "remove", signers=[c], account=b.address)
    with pytest.raises(ContractRevert) as err:
        chain.change_accounts(pid, "remove", signers=[c], account=c.address, threshold=1)
    assert err.value.name == "PartyLastAccount"
    assert chain.evidence.functions.party(pid).call()[7] == 3  # three changes, three nonces


def test_a_change_emits_added_removed_and_changed_events(chain: Chain) -> None:
    a, b = account("a"), account("b")
    pid = chain.admit([a.address])
    sent = chain.change_accounts(pid, "rotate", signers=[a], account=a.address, new=b)
    assert chain.evidence.events.PartyAccountRemoved().process_receipt(sent.receipt)[0]["args"]["account"] == a.address
    assert chain.evidence.events.PartyAccountAdded().process_receipt(sent.receipt)[0]["args"]["account"] == b.address
    changed = chain.evidence.events.PartyAccountsChanged().process_receipt(sent.receipt)[0]["args"]
    assert (changed["partyId"], changed["action"], changed["nonce"], changed["threshold"]) == (pid, 3, 0, 1)


def test_the_typehashes_match_the_python_typed_data(chain: Chain) -> None:
    from ledger.domain import eip712

    assert call(chain.evidence.functions.ACCOUNT_CHANGE_TYPEHASH()) == eip712.ACCOUNT_CHANGE_TYPEHASH
    assert call(chain.evidence.functions.RECOVERY_VETO_TYPEHASH()) == eip712.RECOVERY_VETO_TYPEHASH


@pytest.mark.parametrize(
    "problem",
    [
        "stranger-signs",
        "joiner-missing",
        "joiner-wrong",
        "expired",
        "too-far",
        "wrong-nonce",
        "wrong-party",
        "unordered",
        "zero-threshold",
    ],
)
def test_an_account_change_needs_the_partys_consent_in_time_with_its_nonce(chain: Chain, problem: str) -> None:
    a, b, new = account("a"), account("b"), account("new")
    pid = chain.admit([a.address, b.address])
    kw: dict = {"signers": [a], "account": a.address, "new": new}
    if problem == "stranger-signs":
        kw["signers"] = [account("stranger")]
    elif problem == "joiner-missing":
        kw["new_signer"] = None
        args = chain.account_change(pid, "rotate", **kw)
        args = (args[0], args[1], b"")
    elif problem == "joiner-wrong":
        kw["new_signer"] = account("stranger")
    elif problem == "expired":
        kw["deadline"] = chain.now() - 1
    elif problem == "too-far":
        kw["deadline"] = chain.now() + 366 * 86400
    elif problem == "wrong-nonce":
        kw["nonce"] = 1
    elif problem == "unordered":
        kw["signers"] = [a, b]
        kw["threshold"] = 2
    elif problem == "zero-threshold":
        kw["threshold"] = 0
    if problem != "joiner-missing":
        args = chain.account_change(pid, "rotate", **kw)
    if problem == "wrong-party":
        other = chain.admit([account("other").address])
        args = ((other, *args[0][1:]), args[1], args[2])
    if problem == "unordered":
        args = (args[0], list(reversed(args[1])), args[2])
    with pytest.raises((ContractRevert, SignatureRejected)) as err:
        chain.sender.send_call(chain.evidence.functions.changeAccounts(*args))
    expected = {
        "stranger-signs": "PartyAccountNotOfParty",
        "joiner-missing": "SignatureInvalid",
        "joiner-wrong": "SignatureInvalid",
        "expired": "SignatureExpired",
        "too-far": "PartyDeadlineTooFar",
        "wrong-nonce": "PartyNonceMismatch",
        "wrong-party": "PartyAccountNotOfParty",
        "unordered": "PartySignersUnordered",
        "zero-threshold": "PartyThresholdInvalid",
    }[problem]
    assert err.value.name == expected
    assert sorted(chain.evidence.functions.partyAccounts(pid).call()) == sorted([a.address, b.address])


def test_a_threshold_of_two_needs_two_accounts(chain: Chain) -> None:
    a, b, c = account("a"), account("b"), account("c")
    pid = chain.admit([a.address, b.address])
    chain.change_accounts(pid, "set_threshold", signers=[a], threshold=2)
    assert chain.evidence.functions.party(pid).call()[5] == 2
    with pytest.raises(ContractRevert) as err:
        chain.change_accounts(pid, "add", signers=[a], new=c)
    assert err.value.name == "PartyConsentMissing"
    with pytest.raises(ContractRevert) as dup:  # the same account twice is not two accounts
        change, sigs, joined = chain.account_change(pid, "add", signers=[a], new=c)
        chain.sender.send_call(chain.evidence.functions.changeAccounts(change, [sigs[0], sigs[0]], joined))
    assert dup.value.name == "PartySignersUnordered"
    chain.change_accounts(pid, "add", signers=[a, b], new=c)
    assert len(chain.evidence.functions.partyAccounts(pid).call()) == 3
    with pytest.raises(ContractRevert) as low:  # a threshold above the account count is refused
        chain.change_accounts(pid, "set_threshold", signers=[a, b], threshold=4)
    assert low.value.name == "PartyThresholdInvalid"


def test_a_contract_wallet_counts_as_one_account_through_erc1271(chain: Chain) -> None:
    from ledger.domain import eip712
    from tests.helpers import deploy_wallet

    owner, b = account("wallet-owner"), account("b")
    wallet = deploy_wallet(chain, owner)
    pid = chain.admit([wallet.address])
    change, _, joined = chain.account_change(pid, "add", signers=[], new=b)
    msg = eip712.account_change_message(
        chain.domain(),
        party_id=pid,
        action="add",
        account=b.address,
        new_account=None,
        threshold=1,
        nonce=0,
        deadline=change[6],
    )
    sig = eip712.sign_digest(eip712.digest(msg), owner)
    chain.sender.send_call(chain.evidence.functions.changeAccounts(change, [(wallet.address, sig)], joined))
    assert sorted(chain.evidence.functions.partyAccounts(pid).call()) == sorted([wallet.address, b.address])


def test_a_removed_account_can_no_longer_register(chain: Chain) -> None:
    a, b = account("a"), account("b")
    pid = chain.admit([a.address, b.address])
    chain.change_accounts(pid, "remove", signers=[a], account=b.address)
    with pytest.raises(PartyNotActive) as err:
        chain.register(b, h("x"))
    assert err.value.name == "AccountNotAParty"


def test_suspension_stops_every_account_and_reinstatement_restores_them(chain: Chain) -> None:
    a, b = account("a"), account("b")
    pid = chain.admit([a.address, b.address])
    chain.registrar_sender.send_call(chain.evidence.functions.suspendParty(pid, keccak(text="decision 2026-17")))
    assert chain.evidence.functions.party(pid).call()[3] is True
    assert chain.evidence.functions.isActive(pid).call() is False
    for acct in (a, b):
        with pytest.raises(PartyNotActive) as err:
            chain.register(acct, h(f"x-{acct.address}"))
        assert err.value.name == "PartyNotActive" and err.value.args_["partyId"] == pid
    with pytest.raises(ContractRevert) as again:
        chain.registrar_sender.send_call(chain.evidence.functions.suspendParty(pid, b"\0" * 32))
    assert again.value.name == "PartyAlreadySuspended"
    # the party still manages its own accounts (to rotate out a stolen key); an account added now is suspended too
    c = account("c")
    chain.change_accounts(pid, "add", signers=[a], new=c)
    assert chain.evidence.functions.partyOf(c.address).call() == [pid, False]
    chain.registrar_sender.send_call(chain.evidence.functions.reinstateParty(pid))
    chain.register(c, h("after"))
    assert chain.evidence.functions.partyOf(a.address).call() == [pid, True]


def test_a_confirmed_suspension_does_not_lapse_and_only_governance_lifts_it(chain: Chain) -> None:
    a = account("a")
    pid = chain.admit([a.address])
    chain.registrar_sender.send_call(chain.evidence.functions.suspendParty(pid, keccak(text="stolen key")))
    with pytest.raises(ContractRevert) as err:
        chain.registrar_sender.send_call(chain.evidence.functions.confirmSuspension(pid))
    assert err.value.name == "AccessControlUnauthorizedAccount"
    sent = chain.governance_sender.send_call(chain.evidence.functions.confirmSuspension(pid))
    assert chain.evidence.events.PartySuspensionConfirmed().process_receipt(sent.receipt)[0]["args"]["partyId"] == pid
    chain.advance(TEST_SUSPENSION_PERIOD + 60)
    assert chain.evidence.functions.partyOf(a.address).call() == [pid, False]
    with pytest.raises(ContractRevert) as err:
        chain.registrar_sender.send_call(chain.evidence.functions.reinstateParty(pid))
    assert err.value.name == "PartySuspensionNeedsGovernance"
    chain.governance_sender.send_call(chain.evidence.functions.reinstateParty(pid))
    assert chain.evidence.functions.isActive(pid).call() is True


def test_a_recovery_executes_after_its_delay_and_replaces_every_account(chain: Chain) -> None:
    a, b, fresh = account("a"), account("b"), account("fresh")
    pid = chain.admit([a.address, b.address])
    chain.change_accounts(pid, "set_threshold", signers=[a], threshold=2)
    sent = chain.governance_sender.send_call(chain.evidence.functions.proposeRecovery(pid, fresh.address))
    proposed = chain.evidence.events.RecoveryProposed().process_receipt(sent.receipt)[0]["args"]
    assert proposed["newAccount"] == fresh.address and proposed["executableAt"] == chain.now() + TEST_RECOVERY_DELAY
    with pytest.raises(ContractRevert) as early:
        chain.sender.send_call(chain.evidence.functions.executeRecovery(pid))
    assert early.value.name == "RecoveryNotYet"
    chain.advance(TEST_RECOVERY_DELAY + 1)
    sent = chain.sender.send_call(chain.evidence.functions.executeRecovery(pid))  # anyone may carry it out
    assert (
        chain.evidence.events.RecoveryExecuted().process_receipt(sent.receipt)[0]["args"]["newAccount"] == fresh.address
    )
    assert chain.evidence.functions.partyAccounts(pid).call() == [fresh.address]
    party = chain.evidence.functions.party(pid).call()
    assert party[5] == 1 and party[7] == 2  # threshold back to 1; the nonce moved on
    chain.register(fresh, h("recovered"))


def test_only_governance_proposes_or_cancels_a_recovery(chain: Chain) -> None:
    a, fresh = account("a"), account("fresh")
    pid = chain.admit([a.address])
    for sender in (chain.sender, chain.registrar_sender, chain.as_(a)):
        with pytest.raises(ContractRevert) as err:
            sender.send_call(chain.evidence.functions.proposeRecovery(pid, fresh.address))
        assert err.value.name == "AccessControlUnauthorizedAccount"
    chain.governance_sender.send_call(chain.evidence.functions.proposeRecovery(pid, fresh.address))
    with pytest.raises(ContractRevert) as twice:
        chain.governance_sender.send_call(chain.evidence.functions.proposeRecovery(pid, fresh.address))
    assert twice.value.name == "RecoveryPending"
    sent = chain.governance_sender.send_call(chain.evidence.functions.cancelRecovery(pid))
    assert chain.evidence.events.RecoveryCancelled().process_receipt(sent.receipt)[0]["args"]["partyId"] == pid
    assert chain.evidence.functions.pendingRecovery(pid).call() == ["0x" + "00" * 20, 0]


def test_a_relayed_veto_needs_the_accounts_signature(chain: Chain) -> None:
    from ledger.domain import eip712

    a, fresh = account("a"), account("fresh")
    pid = chain.admit([a.address])
    chain.governance_sender.send_call(chain.evidence.functions.proposeRecovery(pid, fresh.address))
    new_account, executable_at = chain.evidence.functions.pendingRecovery(pid).call()
    msg = eip712.recovery_veto_message(
        chain.domain(), party_id=pid, new_account=new_account, executable_at=executable_at
    )
    with pytest.raises((ContractRevert, SignatureRejected)) as err:
        chain.sender.send_call(chain.evidence.functions.vetoRecovery(pid, a.address, eip712.sign(msg, fresh)))
    assert err.value.name == "SignatureInvalid"
    sent = chain.sender.send_call(chain.evidence.functions.vetoRecovery(pid, a.address, eip712.sign(msg, a)))
    assert chain.evidence.events.RecoveryVetoed().process_receipt(sent.receipt)[0]["args"]["account"] == a.address


def test_no_role_holder_can_be_a_partys_account(chain: Chain) -> None:
    a = account("a")
    pid = chain.admit([a.address])
    for holder in (chain.operator, chain.registrar, chain.governance):
        with pytest.raises(ContractRevert) as err:
            chain.admit([holder.address], identifier=f"ROLE-{holder.address[2:10].upper()}", scheme="other")
        assert err.value.name == "PartyAccountHoldsRole"
        with pytest.raises(ContractRevert) as err:
            chain.change_accounts(pid, "add", signers=[a], new=holder)
        assert err.value.name == "PartyAccountHoldsRole"


def test_unknown_party_ids_are_refused(chain: Chain) -> None:
    with pytest.raises(ContractRevert) as err:
        call(chain.evidence.functions.party(7))
    assert err.value.name == "PartyUnknown" and err.value.args_ == {"partyId": 7}
