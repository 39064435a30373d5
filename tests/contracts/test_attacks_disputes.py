"""Attacks by one arbitrator key (issue 10: the last single-key power), on anvil and on eth-tester.

Measured before: one account of an arbitration institution opened a dispute alone (freezing the asset, and with
it every other party's act on it, with no time limit) and closed it alone with an award that voided a licence
or gave title to whoever it named. Now each is an act of the institution: distinct accounts of it, at least
max(its threshold, 2), or one ERC-1271 wallet account of it. Each test replays the attack with one key (alone,
signing twice, or joined by an account of another institution) and asserts the chain refuses it; removing the
count, the distinctness or the same-institution check makes the test fail.
"""

from __future__ import annotations

import pytest

from ledger.domain import agreements as ag
from tests.contracts.test_attacks_agreements import Arena, reverts
from tests.helpers import (
    Chain,
    account,
    dispute_close_fn,
    dispute_open_fn,
    execute,
    open_dispute,
)


@pytest.fixture
def w(chain: Chain) -> Arena:
    return Arena(chain)


def test_the_direct_single_key_entry_points_are_gone(w: Arena) -> None:
    """Measured before: `openDispute` / `closeDispute` took msg.sender as the whole institution."""
    names = {item.get("name") for item in w.chain.disputes.abi}
    assert not names & {"openDispute", "closeDispute"}
    assert {"openDisputeBySignature", "closeDisputeBySignature"} <= names


@pytest.mark.parametrize("signers", ["one key", "one key twice", "one key and another institution's"])
def test_one_rogue_arbitrator_cannot_freeze_an_asset(w: Arena, signers: str) -> None:
    c = w.chain
    lic = w.licence(w.p_y, ag.LicenceType.ORDINARY)
    execute(c, lic, [w.uni, w.y])
    outsider = account("outside-institution-arbitrator")
    if signers.endswith("institution's"):
        c.admit(
            [outsider.address, account("outside-institution-arbitrator-2").address],
            kind="arbitration",
            identifier="ARB-OUTSIDE",
            scheme="other",
        )
    by = {"one key": [w.arb], "one key twice": [w.arb, w.arb], "one key and another institution's": [w.arb, outsider]}[
        signers
    ]
    err = reverts(dispute_open_fn(c, by, "agreement", w.aid(lic), w.p_x, w.p_uni, institution=w.p_arb), c.sender)
    assert err.name == {"one key": "DisputeSignaturesTooFew", "one key twice": "DisputeSignerDuplicate"}.get(
        signers, "DisputeNotArbitrator"
    )
    assert not w.frozen()
    # the licensee's acts go on: the licence is still in effect and the owner can still deal
    assert w.status(w.aid(lic)) == ag.AgreementStatus.EFFECTIVE


@pytest.mark.parametrize("award", ["agreement_voided", "title_restored"])
def test_one_rogue_arbitrator_cannot_rewrite_title_or_void_a_licence(w: Arena, award: str) -> None:
    c = w.chain
    lic = w.licence(w.p_y, ag.LicenceType.ORDINARY)
    execute(c, lic, [w.uni, w.y])
    did = open_dispute(c, w.arb, "agreement", w.aid(lic), w.p_x, w.p_uni)  # the institution (both arbitrators) opens
    owners, shares = ([w.p_x], [10_000]) if award == "title_restored" else (None, None)
    for by, name in (([w.arb], "DisputeSignaturesTooFew"), ([w.arb, w.arb], "DisputeSignerDuplicate")):
        assert reverts(dispute_close_fn(c, by, did, award, owners, shares), c.sender).name == name
    assert w.owners() == ([w.p_uni], [10_000]) and w.status(w.aid(lic)) == ag.AgreementStatus.EFFECTIVE and w.frozen()
    if award == "title_restored":  # the institution as a whole can: the award takes effect
        c.sender.send_call(dispute_close_fn(c, w.arb, did, award, owners, shares))
        assert w.owners() == ([w.p_x], [10_000])
    else:
        c.sender.send_call(dispute_close_fn(c, w.arb, did, award))
        assert w.status(w.aid(lic)) == ag.AgreementStatus.VOIDED
    assert not w.frozen()


def test_a_suspended_institution_acts_not_even_by_all_its_arbitrators(w: Arena) -> None:
    c = w.chain
    c.registrar_sender.send_call(c.evidence.functions.suspendParty(w.p_arb, b"\0" * 32))
    assert reverts(dispute_open_fn(c, w.arb, "asset", w.asset, w.p_x, w.p_uni), c.sender).name == "PartyNotActive"
    assert not w.frozen()
