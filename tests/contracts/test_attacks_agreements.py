"""Attacks on the asset and dispute registries (issue 10, first slice), one test per attack, on anvil and on
eth-tester. Each test plays the attack that worked on the earlier contracts (measured: see the comment) and
asserts the chain refuses it; removing the protection makes the test fail. The protections that already held
(every co-owner signs, exclusive overlap, pledge encumbrance, freezes, domain binding, high-s) are replayed too.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from eth_utils import keccak
from web3.logs import DISCARD

from ledger.chain.codec import call
from ledger.domain import agreements as ag
from ledger.domain import eip712
from ledger.domain.territory import to_mask
from ledger.errors import ContractRevert, SignatureRejected
from tests.contracts.test_ip_asset_registry import CN, HK, World
from tests.helpers import (
    Chain,
    account,
    admit_arbitrator,
    assets_domain,
    close_dispute,
    execute,
    open_dispute,
    register_asset,
    sign_with,
)

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
ZERO = b"\0" * 32


class Arena(World):
    """The World of the registry tests plus an arbitration institution."""

    def __init__(self, chain: Chain) -> None:
        super().__init__(chain)
        self.arb, self.p_arb = admit_arbitrator(chain)

    def aid(self, t: ag.Terms) -> bytes:
        return t.agreement_id(assets_domain(self.chain))

    def status(self, agreement_id: bytes) -> int:
        return int(call(self.chain.assets.functions.agreement(agreement_id))[1])

    def frozen(self, asset: int | None = None) -> bool:
        return bool(call(self.chain.assets.functions.asset(asset or self.asset))[4])


@pytest.fixture
def w(chain: Chain) -> Arena:
    return Arena(chain)


def reverts(fn: Any, sender: Any) -> ContractRevert:
    with pytest.raises(ContractRevert) as err:
        sender.send_call(fn)
    return err.value


# --- 1. dispute effects: the dispute registry alone, fixed at deployment ------------------------------


@pytest.mark.parametrize("effect", ["restoreTitle", "voidAgreement", "unfreezeAsset", "freezeAsset"])
def test_the_operator_cannot_apply_a_dispute_effect_without_a_dispute(w: Arena, effect: str) -> None:
    """Measured before: the operator held DISPUTE_ROLE and restored title / voided an agreement with no dispute."""
    c = w.chain
    lic = w.licence(w.p_y, ag.LicenceType.ORDINARY)
    execute(c, lic, [w.uni, w.y])
    f = c.assets.functions
    call_ = {
        "restoreTitle": f.restoreTitle(w.asset, [w.p_x], [10_000], keccak(text="no dispute")),
        "voidAgreement": f.voidAgreement(w.aid(lic), keccak(text="no dispute")),
        "unfreezeAsset": f.unfreezeAsset(w.asset, keccak(text="no dispute")),
        "freezeAsset": f.freezeAsset(w.asset, keccak(text="no dispute")),
    }[effect]
    for sender in (c.sender, c.as_(w.arb), c.as_(w.uni)):  # the operator, an arbitrator's own key, an owner
        err = reverts(call_, sender)
        assert err.name == "CallerNotDisputeRegistry"
    assert w.owners() == ([w.p_uni], [10_000]) and w.status(w.aid(lic)) == ag.AgreementStatus.EFFECTIVE


def test_no_admin_exists_to_re_grant_the_dispute_power(w: Arena) -> None:
    """Measured before: the default admin (0-second delay) could grant DISPUTE_ROLE to any key at any time."""
    c = w.chain
    grant = (
        keccak(text="grantRole(bytes32,address)")[:4]
        + keccak(text="DISPUTE_ROLE")
        + bytes(12)
        + bytes.fromhex(c.operator.address[2:])
    )
    with pytest.raises(Exception):  # no such function: the call falls through to a revert (no fallback)
        c.sender.send({"to": c.assets.address, "data": "0x" + grant.hex()})
    assert call(c.assets.functions.disputeRegistry()) == c.manifest.address("DisputeRegistry")
    with pytest.raises(ContractRevert) as err:
        c.sender.send_call(c.assets.functions.restoreTitle(w.asset, [w.p_x], [10_000], ZERO))
    assert err.value.name == "CallerNotDisputeRegistry"


# --- 2. unfreezing only when the freezing dispute closes; the award is always recorded -----------------


def test_a_disputed_asset_cannot_be_unfrozen_and_sold_mid_dispute(w: Arena) -> None:
    """Measured before: the operator unfroze a disputed asset, it was sold, and every closeDispute reverted
    AssetNotFrozen, so the award could never be recorded."""
    c = w.chain
    did = open_dispute(c, w.arb, "asset", w.asset, w.p_x, w.p_uni)
    err = reverts(c.assets.functions.unfreezeAsset(w.asset, did), c.sender)
    assert err.name == "CallerNotDisputeRegistry"
    sale = w.terms(ag.AgreementKind.ASSIGNMENT, [w.p_y])
    with pytest.raises(ContractRevert) as e2:
        execute(c, sale, [w.uni, w.y])
    assert e2.value.name == "AssetIsFrozen"
    close_dispute(c, w.arb, did, "title_restored", [w.p_x], [10_000])
    assert w.owners() == ([w.p_x], [10_000]) and not w.frozen()


def test_closing_one_dispute_does_not_lift_anothers_freeze_and_every_award_is_recorded(w: Arena) -> None:
    c = w.chain
    lic = w.licence(w.p_y, ag.LicenceType.EXCLUSIVE)
    execute(c, lic, [w.uni, w.y])
    first = open_dispute(c, w.arb, "agreement", w.aid(lic), w.p_x, w.p_y)
    second = open_dispute(c, w.arb, "agreement", w.aid(lic), w.p_z, w.p_y)
    close_dispute(c, w.arb, first, "agreement_voided")
    assert w.frozen(), "the second dispute's freeze was lifted by the first award"
    close_dispute(c, w.arb, second, "agreement_voided")  # voiding a voided agreement changes nothing, but is recorded
    assert not w.frozen() and w.status(w.aid(lic)) == ag.AgreementStatus.VOIDED
    assert call(c.disputes.functions.dispute(second))[1] == 2  # closed


# --- 3. a pledge is not released while its asset is frozen --------------------------------------------


def test_a_pledge_is_not_released_while_the_asset_is_frozen(w: Arena) -> None:
    """Measured before: releasePledge worked on a frozen asset."""
    c = w.chain
    pledge = w.terms(ag.AgreementKind.PLEDGE, [w.p_bank])
    execute(c, pledge, [w.uni, w.bank])
    did = open_dispute(c, w.arb, "agreement", w.aid(pledge), w.p_x, w.p_uni)
    deadline = c.now() + 600
    sig = eip712.sign(ag.release_message(assets_domain(c), w.aid(pledge), deadline), w.bank)
    err = reverts(c.assets.functions.releasePledge(w.aid(pledge), deadline, (w.bank.address, sig)), c.sender)
    assert err.name == "AssetIsFrozen"
    close_dispute(c, w.arb, did)
    c.sender.send_call(c.assets.functions.releasePledge(w.aid(pledge), deadline, (w.bank.address, sig)))
    assert w.status(w.aid(pledge)) == ag.AgreementStatus.RELEASED


def test_a_suspended_pledgee_still_releases_and_only_the_pledgee_does(w: Arena) -> None:
    """A suspension (the registrar's alone) never blocks an act that only frees another party's asset: the bank
    releases its pledge while suspended. Nobody else's signature releases it, suspended or not."""
    c = w.chain
    pledge = w.terms(ag.AgreementKind.PLEDGE, [w.p_bank])
    execute(c, pledge, [w.uni, w.bank])
    c.registrar_sender.send_call(c.evidence.functions.suspendParty(w.p_bank, ZERO))
    assert c.evidence.functions.partyOf(w.bank.address).call()[1] is False
    deadline = c.now() + 600
    digest = ag.release_message(assets_domain(c), w.aid(pledge), deadline)
    err = reverts(
        c.assets.functions.releasePledge(w.aid(pledge), deadline, (w.uni.address, eip712.sign(digest, w.uni))), c.sender
    )
    assert err.name == "AgreementSignerNotAParty"
    err = reverts(
        c.assets.functions.releasePledge(w.aid(pledge), deadline, (w.bank.address, eip712.sign(digest, w.uni))),
        c.sender,
    )
    assert err.name == "AgreementSignatureInvalid"
    c.sender.send_call(
        c.assets.functions.releasePledge(w.aid(pledge), deadline, (w.bank.address, eip712.sign(digest, w.bank)))
    )
    assert w.status(w.aid(pledge)) == ag.AgreementStatus.RELEASED


# --- 4. voiding a transfer gives title back to the assignors with their shares ------------------------


@pytest.mark.parametrize("kind", [ag.AgreementKind.ASSIGNMENT, ag.AgreementKind.EQUITY_CONTRIBUTION])
def test_an_award_voiding_a_transfer_restores_the_assignors_with_their_shares(w: Arena, kind: int) -> None:
    """Measured before: after an award voiding an assignment, title stayed with the assignee."""
    c = w.chain
    asset = register_asset(c, [(w.p_uni, w.uni), (w.p_uni2, w.uni2)], [6000, 4000], number="CN201910000009.1")
    grantee = w.p_x if kind == ag.AgreementKind.ASSIGNMENT else w.p_w  # a USCC company takes equity
    t = replace(w.terms(kind, [grantee]), asset_id=asset)
    execute(c, t, [w.uni, w.uni2, w.x if grantee == w.p_x else w.w])
    did = open_dispute(c, w.arb, "agreement", w.aid(t), w.p_uni, grantee)
    sent = close_dispute(c, w.arb, did, "agreement_voided")
    _, _, owners, shares, frozen = call(c.assets.functions.asset(asset))
    assert (list(owners), list(shares), frozen) == ([w.p_uni, w.p_uni2], [6000, 4000], False)
    restored = c.assets.events.TitleRestored().process_receipt(sent.receipt, errors=DISCARD)
    assert restored[0]["args"]["disputeId"] == did and list(restored[0]["args"]["owners"]) == [w.p_uni, w.p_uni2]


def test_voiding_transfers_in_turn_walks_title_back_and_a_superseded_transfer_is_voided_in_the_record_only(
    w: Arena,
) -> None:
    c = w.chain
    a_to_x = w.terms(ag.AgreementKind.ASSIGNMENT, [w.p_x])
    execute(c, a_to_x, [w.uni, w.x])
    x_to_y = w.terms(ag.AgreementKind.ASSIGNMENT, [w.p_y, w.p_z], shares=(7000, 3000))
    execute(c, x_to_y, [w.x, w.y, w.z])
    # the first transfer is superseded: voiding it records the void and leaves title with the later holders
    d1 = open_dispute(c, w.arb, "agreement", w.aid(a_to_x), w.p_uni, w.p_x)
    close_dispute(c, w.arb, d1, "agreement_voided")
    assert w.owners() == ([w.p_y, w.p_z], [7000, 3000])
    # voiding the latest transfer gives title back to its assignor
    d2 = open_dispute(c, w.arb, "agreement", w.aid(x_to_y), w.p_x, w.p_y)
    close_dispute(c, w.arb, d2, "agreement_voided")
    assert w.owners() == ([w.p_x], [10_000])


def test_after_a_restored_transfer_the_earlier_one_can_be_voided_back_to_the_first_owner(w: Arena) -> None:
    c = w.chain
    a_to_x = w.terms(ag.AgreementKind.ASSIGNMENT, [w.p_x])
    execute(c, a_to_x, [w.uni, w.x])
    x_to_y = w.terms(ag.AgreementKind.ASSIGNMENT, [w.p_y])
    execute(c, x_to_y, [w.x, w.y])
    for t, claimant, respondent in ((x_to_y, w.p_x, w.p_y), (a_to_x, w.p_uni, w.p_x)):
        close_dispute(c, w.arb, open_dispute(c, w.arb, "agreement", w.aid(t), claimant, respondent), "agreement_voided")
    assert w.owners() == ([w.p_uni], [10_000])


# --- 5. sublicences lie inside their parent, end with it, and have their own capacity -----------------


@pytest.mark.parametrize(
    ("parent_type", "sub_type"),
    [
        (ag.LicenceType.ORDINARY, ag.LicenceType.EXCLUSIVE),
        (ag.LicenceType.ORDINARY, ag.LicenceType.SOLE),
        (ag.LicenceType.SOLE, ag.LicenceType.EXCLUSIVE),
    ],
)
def test_a_licensee_cannot_grant_a_broader_type_of_sublicence(w: Arena, parent_type: int, sub_type: int) -> None:
    """Measured before: an ordinary licensee granted an exclusive sublicence, which then blocked the owner."""
    c = w.chain
    parent = w.licence(w.p_y, parent_type, territory=CN | HK, sublicensable=True)
    execute(c, parent, [w.uni, w.y])
    sub = w.licence(w.p_z, sub_type, territory=CN, parent_licence=w.aid(parent))
    with pytest.raises(ContractRevert) as err:
        execute(c, sub, [w.y, w.z])
    assert err.value.name == "SublicenceOutsideParent" and err.value.args_["reason"] == "licence type"
    execute(c, replace(sub, licence_type=ag.LicenceType.ORDINARY), [w.y, w.z])  # the same, ordinary: granted
    # the owner still licenses outside the parent's scope
    execute(
        c, w.licence(w.p_x, ag.LicenceType.ORDINARY, territory=to_mask(["SG"]), salt=keccak(text="owner")), [w.uni, w.x]
    )


@pytest.mark.parametrize("end", ["terminated", "voided"])
def test_a_sublicence_ends_when_its_parent_is_terminated_or_voided(w: Arena, end: str) -> None:
    """Measured before: sublicences stayed in force after their parent licence ended or was voided."""
    c = w.chain
    parent = w.licence(w.p_y, ag.LicenceType.EXCLUSIVE, sublicensable=True)
    execute(c, parent, [w.uni, w.y])
    sub = w.licence(w.p_z, ag.LicenceType.ORDINARY, parent_licence=w.aid(parent))
    execute(c, sub, [w.y, w.z])
    assert set(call(c.assets.functions.licencesInForce(w.asset, c.now()))) == {w.aid(parent), w.aid(sub)}
    if end == "terminated":
        deadline = c.now() + 600
        msg = ag.termination_message(assets_domain(c), w.aid(parent), deadline)
        c.sender.send_call(c.assets.functions.terminate(w.aid(parent), deadline, sign_with(c, msg, [w.uni, w.y])))
    else:
        close_dispute(c, w.arb, open_dispute(c, w.arb, "agreement", w.aid(parent), w.p_x, w.p_y), "agreement_voided")
    assert call(c.assets.functions.licencesInForce(w.asset, c.now())) == []
    g = call(c.assets.functions.agreement(w.aid(sub)))
    assert g[1] == ag.AgreementStatus.ENDED_WITH_PARENT and g[7] == call(c.assets.functions.agreement(w.aid(parent)))[7]
    deadline = c.now() + 600
    msg = ag.termination_message(assets_domain(c), w.aid(sub), deadline)
    err = reverts(c.assets.functions.terminate(w.aid(sub), deadline, sign_with(c, msg, [w.y, w.z])), c.sender)
    assert err.name == "AgreementNotEffective"
    # the scope is free again for the owner
    execute(c, w.licence(w.p_x, ag.LicenceType.EXCLUSIVE, salt=keccak(text="after")), [w.uni, w.x])


def test_sublicences_cannot_exhaust_the_owners_licence_capacity(w: Arena) -> None:
    """Measured before: a sublicensee filled all 32 licence slots of the asset, blocking the owner."""
    c = w.chain
    limit = int(call(c.assets.functions.MAX_SUBLICENCES()))
    parent = w.licence(w.p_y, ag.LicenceType.ORDINARY, territory=CN | HK, sublicensable=True)
    execute(c, parent, [w.uni, w.y])
    for i in range(limit):
        execute(
            c,
            w.licence(
                w.p_z, ag.LicenceType.ORDINARY, territory=CN, parent_licence=w.aid(parent), salt=keccak(text=f"sub-{i}")
            ),
            [w.y, w.z],
        )
    with pytest.raises(ContractRevert) as err:
        execute(
            c,
            w.licence(w.p_x, ag.LicenceType.ORDINARY, parent_licence=w.aid(parent), salt=keccak(text="one more")),
            [w.y, w.x],
        )
    assert err.value.name == "SublicenceLimitReached"
    # the owner still grants: its capacity counts its own licences only
    for i in range(3):
        execute(
            c, w.licence(w.p_x, ag.LicenceType.ORDINARY, territory=HK, salt=keccak(text=f"owner-{i}")), [w.uni, w.x]
        )
    assert len(call(c.assets.functions.licencesInForce(w.asset, c.now()))) == 1 + limit + 3


# --- 6. withdrawal before execution; bounded deadlines ------------------------------------------------


@pytest.mark.parametrize("who", ["licensee", "owner"])
def test_a_party_withdraws_its_consent_and_its_signature_can_no_longer_be_used(w: Arena, who: str) -> None:
    """Measured before: a signed agreement could not be withdrawn before its deadline."""
    c = w.chain
    t = w.licence(w.p_y, ag.LicenceType.EXCLUSIVE)
    sigs = sign_with(c, t.message(assets_domain(c)), [w.uni, w.y])  # both signed; someone holds the signatures
    acct = w.y if who == "licensee" else w.uni
    deadline = c.now() + 600
    sig = eip712.sign(ag.withdrawal_message(assets_domain(c), w.aid(t), deadline), acct)
    sent = c.sender.send_call(c.assets.functions.withdraw(t.as_tuple(), deadline, (acct.address, sig)))
    event = c.assets.events.AgreementWithdrawn().process_receipt(sent.receipt, errors=DISCARD)[0]["args"]
    assert event["partyId"] == (w.p_y if who == "licensee" else w.p_uni) and event["assetId"] == w.asset
    err = reverts(c.assets.functions.execute(t.as_tuple(), sigs), c.sender)
    assert err.name == "AgreementWithdrawnByParty"
    assert w.status(w.aid(t)) == ag.AgreementStatus.WITHDRAWN


def test_only_a_party_to_the_terms_can_withdraw_them(w: Arena) -> None:
    c = w.chain
    t = w.licence(w.p_y, ag.LicenceType.EXCLUSIVE)
    deadline = c.now() + 600
    msg = ag.withdrawal_message(assets_domain(c), w.aid(t), deadline)
    err = reverts(c.assets.functions.withdraw(t.as_tuple(), deadline, (w.z.address, eip712.sign(msg, w.z))), c.sender)
    assert err.name == "AgreementWithdrawalNotAParty" and err.args_["partyId"] == w.p_z
    forged = (w.y.address, eip712.sign(msg, account("mallory")))  # the licensee's account, someone else's key
    with pytest.raises((ContractRevert, SignatureRejected)) as err2:
        c.sender.send_call(c.assets.functions.withdraw(t.as_tuple(), deadline, forged))
    assert err2.value.name == "AgreementSignatureInvalid"
    execute(c, t, [w.uni, w.y])  # nothing was withdrawn
    late = eip712.sign(msg, w.y)
    err = reverts(c.assets.functions.withdraw(t.as_tuple(), deadline, (w.y.address, late)), c.sender)
    assert err.name == "AgreementAlreadyExecuted"


def test_a_suspended_party_may_still_withdraw(w: Arena) -> None:
    c = w.chain
    t = w.licence(w.p_y, ag.LicenceType.ORDINARY)
    c.registrar_sender.send_call(c.evidence.functions.suspendParty(w.p_y, ZERO))
    deadline = c.now() + 600
    sig = eip712.sign(ag.withdrawal_message(assets_domain(c), w.aid(t), deadline), w.y)
    c.sender.send_call(c.assets.functions.withdraw(t.as_tuple(), deadline, (w.y.address, sig)))
    assert w.status(w.aid(t)) == ag.AgreementStatus.WITHDRAWN


@pytest.mark.parametrize("act", ["execute", "register", "terminate", "release", "withdraw", "open-dispute"])
def test_a_signature_deadline_more_than_a_year_ahead_is_refused(w: Arena, act: str) -> None:
    """Measured before: a deadline of 2**64 - 1 was accepted."""
    c = w.chain
    far = 2**64 - 1
    d = assets_domain(c)
    f = c.assets.functions
    if act == "execute":
        t = replace(w.licence(w.p_y, ag.LicenceType.ORDINARY), deadline=far)
        fn = f.execute(t.as_tuple(), sign_with(c, t.message(d), [w.uni, w.y]))
    elif act == "register":
        reg = ag.AssetRegistration(1, 1, ag.number_hash("CN202210000003.4"), (w.p_x,), (10_000,), ZERO, far)
        fn = f.registerAsset(reg.as_tuple(), sign_with(c, reg.message(d), [w.x]))
    elif act in ("terminate", "release"):
        kind = ag.AgreementKind.LICENCE if act == "terminate" else ag.AgreementKind.PLEDGE
        t = w.licence(w.p_y, ag.LicenceType.ORDINARY) if act == "terminate" else w.terms(kind, [w.p_bank])
        execute(c, t, [w.uni, w.y if act == "terminate" else w.bank])
        if act == "terminate":
            fn = f.terminate(w.aid(t), far, sign_with(c, ag.termination_message(d, w.aid(t), far), [w.uni, w.y]))
        else:
            fn = f.releasePledge(
                w.aid(t), far, (w.bank.address, eip712.sign(ag.release_message(d, w.aid(t), far), w.bank))
            )
    elif act == "withdraw":
        t = w.licence(w.p_y, ag.LicenceType.ORDINARY)
        fn = f.withdraw(t.as_tuple(), far, (w.y.address, eip712.sign(ag.withdrawal_message(d, w.aid(t), far), w.y)))
    else:
        from ledger.services.disputes import OpenRequest, disputes_domain

        req = OpenRequest(1, w.asset.to_bytes(32, "big"), w.p_x, w.p_uni, keccak(text="claim"), w.p_arb, far)
        msg = req.message(disputes_domain(int(c.w3.eth.chain_id), c.disputes.address))
        fn = c.disputes.functions.openDisputeBySignature(
            *req.as_args(sign_with(c, msg, [w.arb, account("arbitrator-2")]))
        )
    err = reverts(fn, c.sender)
    assert err.name == "SignatureDeadlineTooFar"
    assert err.args_["latest"] <= c.now() + 366 * 86400


# --- what held before and must keep holding -----------------------------------------------------------


def test_signatures_for_another_chain_or_deployment_are_refused(w: Arena) -> None:
    c = w.chain
    t = w.licence(w.p_y, ag.LicenceType.ORDINARY)
    here = assets_domain(c)
    for domain in (
        ag.assets_domain(here.chain_id + 1, c.assets.address),  # same contract, other chain id
        ag.assets_domain(here.chain_id, c.disputes.address),
    ):  # same chain, other deployment address
        sigs = sign_with(c, t.message(domain), [w.uni, w.y])
        with pytest.raises((ContractRevert, SignatureRejected)) as err:
            c.sender.send_call(c.assets.functions.execute(t.as_tuple(), sigs))
        assert err.value.name == "AgreementSignatureInvalid"
    execute(c, t, [w.uni, w.y])


def test_a_high_s_twin_of_a_valid_signature_is_refused(w: Arena) -> None:
    c = w.chain
    t = w.licence(w.p_y, ag.LicenceType.ORDINARY)
    sigs = sign_with(c, t.message(assets_domain(c)), [w.uni, w.y])
    raw = sigs[1][1]
    r, s, v = raw[:32], int.from_bytes(raw[32:64], "big"), raw[64]
    twin = r + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - v])  # 27 <-> 28: the same signer recovers
    with pytest.raises((ContractRevert, SignatureRejected)) as err:
        c.sender.send_call(c.assets.functions.execute(t.as_tuple(), [sigs[0], (w.y.address, twin)]))
    assert err.value.name == "AgreementSignatureInvalid"


def test_every_co_owner_signs_and_the_exclusive_scope_and_pledge_still_bind(w: Arena) -> None:
    c = w.chain
    asset = register_asset(c, [(w.p_uni, w.uni), (w.p_uni2, w.uni2)], [5000, 5000], number="CN202110000002.2")
    lic = replace(w.licence(w.p_y, ag.LicenceType.EXCLUSIVE), asset_id=asset)
    with pytest.raises(ContractRevert) as err:
        execute(c, lic, [w.uni, w.y])
    assert err.value.name == "AgreementSignatureMissing" and err.value.args_["partyId"] == w.p_uni2
    execute(c, lic, [w.uni, w.uni2, w.y])
    overlap = replace(w.licence(w.p_z, ag.LicenceType.ORDINARY, salt=keccak(text="o")), asset_id=asset)
    with pytest.raises(ContractRevert) as err:
        execute(c, overlap, [w.uni, w.uni2, w.z])
    assert err.value.name == "LicenceOverlaps"
    execute(c, replace(w.terms(ag.AgreementKind.PLEDGE, [w.p_bank]), asset_id=asset), [w.uni, w.uni2, w.bank])
    sale = replace(w.terms(ag.AgreementKind.ASSIGNMENT, [w.p_x]), asset_id=asset)
    with pytest.raises(ContractRevert) as err:
        execute(c, sale, [w.uni, w.uni2, w.x])
    assert err.value.name == "AgreementSignatureMissing" and err.value.args_["partyId"] == w.p_bank
