"""PartyRegistry rules, on anvil and on eth-tester (py-evm)."""

from __future__ import annotations

import pytest
from eth_utils import keccak

from ledger.errors import ContractRevert, PartyNotActive
from ledger.tx import call
from tests.helpers import FIRM_USCC, Chain, account, h


def test_operator_admits_a_party_with_its_accounts_and_profile(chain: Chain) -> None:
    a, b = account("firm-a"), account("firm-b")
    pid = chain.admit([a.address, b.address], identifier=FIRM_USCC, name_zh="前海甲公司", name_en="Qianhai A Ltd")
    party = chain.evidence.functions.party(pid).call()
    assert party[0] == 1 and party[1] == 1 and party[2] == 1  # firm, mainland, USCC
    assert party[3] is False and party[4] == 2
    assert tuple(party[6:]) == (FIRM_USCC, "前海甲公司", "Qianhai A Ltd")
    assert chain.evidence.functions.partyAccounts(pid).call() == [a.address, b.address]
    assert chain.evidence.functions.partyOf(b.address).call() == [pid, True]
    assert chain.evidence.functions.partyByIdentifier(1, FIRM_USCC).call() == pid


def test_admission_emits_party_admitted_and_account_added_events(chain: Chain) -> None:
    a = account("firm-a")
    sent = chain.sender.send_call(
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
        chain.as_(outsider).send_call(chain.evidence.functions.admitParty((1, 1, 1, FIRM_USCC, "甲", "A"), [outsider.address]))
    assert err.value.name == "AccessControlUnauthorizedAccount"


@pytest.mark.parametrize(
    ("profile", "accounts", "error"),
    [
        ((0, 1, 1, FIRM_USCC, "甲", "A"), 1, "PartyKindInvalid"),
        ((1, 0, 1, FIRM_USCC, "甲", "A"), 1, "PartyJurisdictionInvalid"),
        ((1, 1, 0, FIRM_USCC, "甲", "A"), 1, "PartyIdentifierInvalid"),
        ((1, 1, 1, "", "甲", "A"), 1, "PartyIdentifierInvalid"),
        ((1, 1, 1, FIRM_USCC, "", ""), 1, "PartyNameMissing"),
        ((1, 1, 1, FIRM_USCC, "甲", "A"), 0, "PartyAccountsInvalid"),
        ((1, 1, 1, FIRM_USCC, "甲", "A"), 17, "PartyAccountsInvalid"),
    ],
)
def test_malformed_admissions_are_refused(chain: Chain, profile: tuple, accounts: int, error: str) -> None:
    addrs = [account(f"acct-{i}").address for i in range(accounts)]
    with pytest.raises(ContractRevert) as err:
        chain.sender.send_call(chain.evidence.functions.admitParty(profile, addrs))
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


def test_accounts_are_added_rotated_and_removed_but_never_the_last(chain: Chain) -> None:
    a, b, c = account("a"), account("b"), account("c")
    pid = chain.admit([a.address])
    chain.sender.send_call(chain.evidence.functions.addAccount(pid, b.address))
    chain.sender.send_call(chain.evidence.functions.rotateAccount(a.address, c.address))
    assert sorted(chain.evidence.functions.partyAccounts(pid).call()) == sorted([b.address, c.address])
    assert chain.evidence.functions.partyOf(a.address).call() == [0, False]
    chain.sender.send_call(chain.evidence.functions.removeAccount(b.address))
    with pytest.raises(ContractRevert) as err:
        chain.sender.send_call(chain.evidence.functions.removeAccount(c.address))
    assert err.value.name == "PartyLastAccount"


def test_a_removed_account_can_no_longer_register(chain: Chain) -> None:
    a, b = account("a"), account("b")
    chain.admit([a.address, b.address])
    chain.sender.send_call(chain.evidence.functions.removeAccount(b.address))
    with pytest.raises(PartyNotActive) as err:
        chain.register(b, h("x"))
    assert err.value.name == "AccountNotAParty"


def test_suspension_stops_every_account_and_reinstatement_restores_them(chain: Chain) -> None:
    a, b = account("a"), account("b")
    pid = chain.admit([a.address, b.address])
    chain.sender.send_call(chain.evidence.functions.suspendParty(pid, keccak(text="decision 2026-17")))
    assert chain.evidence.functions.party(pid).call()[3] is True
    for acct in (a, b):
        with pytest.raises(PartyNotActive) as err:
            chain.register(acct, h(f"x-{acct.address}"))
        assert err.value.name == "PartyNotActive" and err.value.args_["partyId"] == pid
    with pytest.raises(ContractRevert) as again:
        chain.sender.send_call(chain.evidence.functions.suspendParty(pid, b"\0" * 32))
    assert again.value.name == "PartyAlreadySuspended"
    # an account added while suspended is suspended too
    c = account("c")
    chain.sender.send_call(chain.evidence.functions.addAccount(pid, c.address))
    assert chain.evidence.functions.partyOf(c.address).call() == [pid, False]
    chain.sender.send_call(chain.evidence.functions.reinstateParty(pid))
    chain.register(c, h("after"))
    assert chain.evidence.functions.partyOf(a.address).call() == [pid, True]


def test_unknown_party_ids_are_refused(chain: Chain) -> None:
    with pytest.raises(ContractRevert) as err:
        call(chain.evidence.functions.party(7))
    assert err.value.name == "PartyUnknown" and err.value.args_ == {"partyId": 7}


def _rotation(chain: Chain, old, new, deadline: int, signer_old=None, signer_new=None):  # type: ignore[no-untyped-def]
    from ledger import eip712

    msg = eip712.rotation_message(chain.domain(), old.address, new.address, deadline)
    return (old.address, new.address, deadline, eip712.sign(msg, signer_old or old), eip712.sign(msg, signer_new or new))


def test_a_party_rotates_its_own_account_with_both_keys(chain: Chain) -> None:
    old, new = account("rot-old"), account("rot-new")
    pid = chain.admit([old.address])
    chain.sender.send_call(chain.evidence.functions.rotateAccountBySignature(*_rotation(chain, old, new, chain.now() + 600)))
    assert chain.evidence.functions.partyAccounts(pid).call() == [new.address]
    assert chain.evidence.functions.partyOf(old.address).call() == [0, False]


@pytest.mark.parametrize("problem", ["old-key", "new-key", "expired", "suspended"])
def test_a_rotation_needs_both_keys_in_time_and_an_active_party(chain: Chain, problem: str) -> None:
    old, new = account("rot-old"), account("rot-new")
    pid = chain.admit([old.address])
    deadline = chain.now() + (-1 if problem == "expired" else 600)
    args = _rotation(chain, old, new, deadline, signer_old=account("thief") if problem == "old-key" else None,
                     signer_new=account("thief") if problem == "new-key" else None)  # fmt: skip
    if problem == "suspended":
        chain.sender.send_call(chain.evidence.functions.suspendParty(pid, b"\0" * 32))
    with pytest.raises((ContractRevert, PartyNotActive)):
        chain.sender.send_call(chain.evidence.functions.rotateAccountBySignature(*args))
    assert chain.evidence.functions.partyAccounts(pid).call() == [old.address]
