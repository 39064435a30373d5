"""DisputeRegistry: only an active arbitration institution opens and closes disputes, by at least two (or its
threshold of) distinct accounts of it or one ERC-1271 wallet account; one arbitrator key alone neither freezes
nor rewrites title. The subject is frozen while open, and the award takes effect on the chain of title in the
same transaction. Both EVMs."""

from __future__ import annotations

import pytest
from eth_utils import keccak
from web3.logs import DISCARD

from ledger.chain.codec import call
from ledger.domain import agreements as ag
from ledger.errors import ContractRevert, PartyNotActive
from tests.contracts.test_ip_asset_registry import CN, World
from tests.helpers import (
    Chain,
    account,
    assets_domain,
    deploy_wallet,
    dispute_close_fn,
    dispute_open_fn,
    execute,
)

ASSET, AGREEMENT, EVIDENCE = 1, 2, 3
DISMISSED, VOIDED, RESTORED = 1, 2, 3


@pytest.fixture
def world(chain: Chain) -> World:
    w = World(chain)
    w.arb = account("arbitrator")  # type: ignore[attr-defined]
    w.arb2 = account("arbitrator-2")  # type: ignore[attr-defined]
    w.arbs = [w.arb, w.arb2]  # type: ignore[attr-defined]
    w.p_arb = chain.admit(
        [w.arb.address, w.arb2.address], kind="arbitration", identifier="ARB-QIANHAI-1", scheme="other"
    )  # type: ignore[attr-defined]
    return w


KINDS = {ASSET: "asset", AGREEMENT: "agreement", EVIDENCE: "evidence"}
OUTS = {DISMISSED: "dismissed", VOIDED: "agreement_voided", RESTORED: "title_restored"}


def open_dispute(
    w: World, kind: int, subject: bytes, claimant: int, respondent: int, by=None, institution=None
) -> bytes:  # type: ignore[no-untyped-def]
    fn = dispute_open_fn(w.chain, by or w.arbs, KINDS[kind], subject, claimant, respondent, institution)  # type: ignore[attr-defined]
    sent = w.chain.sender.send_call(fn)
    return bytes(
        w.chain.disputes.events.DisputeOpened().process_receipt(sent.receipt, errors=DISCARD)[0]["args"]["disputeId"]
    )


def close(w: World, did: bytes, outcome: int, owners=(), shares=(), by=None, institution=None):  # type: ignore[no-untyped-def]
    fn = dispute_close_fn(w.chain, by or w.arbs, did, OUTS[outcome], list(owners), list(shares), institution)  # type: ignore[attr-defined]
    return w.chain.sender.send_call(fn)


def licence_id(w: World) -> tuple[bytes, ag.Terms]:
    t = w.licence(w.p_y, ag.LicenceType.EXCLUSIVE, territory=CN)
    execute(w.chain, t, [w.uni, w.y])
    return t.agreement_id(assets_domain(w.chain)), t


def test_an_arbitrator_freezes_a_disputed_licence_and_the_award_voids_it(world: World) -> None:
    c = world.chain
    lid, t = licence_id(world)
    did = open_dispute(world, AGREEMENT, lid, world.p_x, world.p_uni)
    assert call(c.assets.functions.asset(world.asset))[4] is True  # frozen
    deadline = c.now() + 600
    msg = ag.termination_message(assets_domain(c), lid, deadline)
    from tests.helpers import sign_with

    with pytest.raises(ContractRevert) as err:  # a licence change is refused while frozen
        c.sender.send_call(c.assets.functions.terminate(lid, deadline, sign_with(c, msg, [world.uni, world.y])))
    assert err.value.name == "AssetIsFrozen"
    close(world, did, VOIDED)
    g = call(c.assets.functions.agreement(lid))
    assert g[1] == ag.AgreementStatus.VOIDED and g[7] == c.now()
    assert call(c.assets.functions.asset(world.asset))[4] is False
    assert call(c.assets.functions.licencesInForce(world.asset, c.now())) == []
    d = call(c.disputes.functions.dispute(did))
    assert d[1] == 2 and d[2] == VOIDED and d[11] == keccak(text="award")


def test_an_award_restores_title_to_named_owners_in_the_same_transaction(world: World) -> None:
    c = world.chain
    execute(c, world.terms(ag.AgreementKind.ASSIGNMENT, [world.p_x]), [world.uni, world.x])
    did = open_dispute(world, ASSET, world.asset.to_bytes(32, "big"), world.p_uni, world.p_x)
    with pytest.raises(ContractRevert) as err:  # shares must sum to 100%
        close(world, did, RESTORED, [world.p_uni, world.p_x], [5000, 4000])
    assert err.value.name == "SharesInvalid"
    sent = close(world, did, RESTORED, [world.p_uni, world.p_x], [6000, 4000])
    assert world.owners() == ([world.p_uni, world.p_x], [6000, 4000])
    assert c.assets.events.TitleRestored().process_receipt(sent.receipt, errors=DISCARD)[0]["args"]["disputeId"] == did


def test_only_an_active_arbitration_institution_opens_and_closes(world: World) -> None:
    c = world.chain
    asset = world.asset.to_bytes(32, "big")
    with pytest.raises(ContractRevert) as err:  # a firm is no arbitration institution
        open_dispute(world, ASSET, asset, world.p_x, world.p_uni, by=[world.x, world.uni], institution=world.p_x)
    assert err.value.name == "DisputeNotArbitrator"
    with pytest.raises(ContractRevert) as err:  # a firm's accounts do not sign for the institution
        open_dispute(world, ASSET, asset, world.p_y, world.p_uni, by=[world.x, world.arb])
    assert err.value.name == "DisputeNotArbitrator"
    with pytest.raises(ContractRevert) as err:
        open_dispute(
            world, ASSET, asset, world.p_x, world.p_uni, by=[account("nobody"), world.arb], institution=world.p_arb
        )  # type: ignore[attr-defined]
    assert err.value.name == "AccountNotAParty"
    did = open_dispute(world, ASSET, asset, world.p_x, world.p_uni)
    other, other2 = account("other-arbitrator"), account("other-arbitrator-2")
    p_other = c.admit([other.address, other2.address], kind="arbitration", identifier="ARB-2", scheme="other")
    with pytest.raises(ContractRevert) as err:  # another institution, even acting as a whole, does not close it
        close(world, did, DISMISSED, by=[other, other2])
    assert err.value.name == "DisputeNotArbitrator"
    with pytest.raises(ContractRevert) as err:
        close(world, did, DISMISSED, by=[other, other2], institution=p_other)
    assert err.value.name == "DisputeWrongInstitution"
    c.registrar_sender.send_call(c.evidence.functions.suspendParty(world.p_arb, b"\0" * 32))  # type: ignore[attr-defined]
    with pytest.raises(PartyNotActive):
        close(world, did, DISMISSED)


def test_one_arbitrator_key_alone_neither_freezes_nor_rewrites_title(world: World) -> None:
    """The institution acts by two distinct accounts of it (or its higher threshold): one key, or one key
    signing twice, or one key plus another institution's account, opens nothing and awards nothing."""
    c = world.chain
    execute(c, world.terms(ag.AgreementKind.ASSIGNMENT, [world.p_x]), [world.uni, world.x])
    asset = world.asset.to_bytes(32, "big")
    for by, name in (([world.arb], "DisputeSignaturesTooFew"), ([world.arb, world.arb], "DisputeSignerDuplicate")):  # type: ignore[attr-defined]
        with pytest.raises(ContractRevert) as err:
            open_dispute(world, ASSET, asset, world.p_uni, world.p_x, by=by)
        assert err.value.name == name
    assert call(c.assets.functions.asset(world.asset))[4] is False  # not frozen
    outsider = account("outside-arbitrator")
    c.admit([outsider.address], kind="arbitration", identifier="ARB-OUT", scheme="other")
    with pytest.raises(ContractRevert) as err:
        open_dispute(world, ASSET, asset, world.p_uni, world.p_x, by=[world.arb, outsider], institution=world.p_arb)  # type: ignore[attr-defined]
    assert err.value.name == "DisputeNotArbitrator"
    did = open_dispute(world, ASSET, asset, world.p_uni, world.p_x)  # both arbitrators: frozen
    assert call(c.assets.functions.asset(world.asset))[4] is True
    for by, name in (([world.arb2], "DisputeSignaturesTooFew"), ([world.arb2, world.arb2], "DisputeSignerDuplicate")):  # type: ignore[attr-defined]
        with pytest.raises(ContractRevert) as err:
            close(world, did, RESTORED, [world.p_uni], [10_000], by=by)
        assert err.value.name == name
    assert world.owners() == ([world.p_x], [10_000])
    close(world, did, RESTORED, [world.p_uni], [10_000])
    assert world.owners() == ([world.p_uni], [10_000])


def test_an_institution_threshold_above_two_is_required(world: World) -> None:
    c = world.chain
    third = account("arbitrator-3")
    c.change_accounts(world.p_arb, "add", signers=world.arbs, new=third, threshold=3)  # type: ignore[attr-defined]
    asset = world.asset.to_bytes(32, "big")
    with pytest.raises(ContractRevert) as err:
        open_dispute(world, ASSET, asset, world.p_x, world.p_uni)
    assert err.value.name == "DisputeSignaturesTooFew" and err.value.args_["required"] == 3
    open_dispute(world, ASSET, asset, world.p_x, world.p_uni, by=[*world.arbs, third])  # type: ignore[attr-defined]
    assert call(c.assets.functions.asset(world.asset))[4] is True


def test_an_institution_whose_account_is_a_wallet_acts_by_that_wallet_alone(world: World) -> None:
    """A contract wallet (ERC-1271, e.g. a Safe with its own m-of-n) counts as one sufficient signature."""
    c = world.chain
    owner = account("arbitration-safe-owner")
    wallet = deploy_wallet(c, owner)
    p_safe = c.admit([wallet.address], kind="arbitration", identifier="ARB-SAFE", scheme="other")
    from ledger.domain import eip712
    from ledger.services.disputes import OpenRequest, disputes_domain

    req = OpenRequest(
        ASSET, world.asset.to_bytes(32, "big"), world.p_x, world.p_uni, keccak(text="claim"), p_safe, c.now() + 600
    )
    msg = req.message(disputes_domain(int(c.w3.eth.chain_id), c.disputes.address))
    with pytest.raises(ContractRevert) as err:  # the wallet's signature must be valid for the wallet
        c.sender.send_call(
            c.disputes.functions.openDisputeBySignature(*req.as_args([(wallet.address, eip712.sign(msg, world.arb))]))
        )  # type: ignore[attr-defined]
    assert err.value.name == "SignatureInvalid"
    sent = c.sender.send_call(
        c.disputes.functions.openDisputeBySignature(*req.as_args([(wallet.address, eip712.sign(msg, owner))]))
    )
    ev = c.disputes.events.DisputeOpened().process_receipt(sent.receipt, errors=DISCARD)[0]["args"]
    assert ev["institution"] == p_safe and list(ev["arbitrators"]) == [wallet.address]
    assert call(c.assets.functions.asset(world.asset))[4] is True


def test_an_opening_is_single_use_and_events_name_the_institution_and_signers(world: World) -> None:
    c = world.chain
    fn = dispute_open_fn(c, world.arbs, "asset", world.asset, world.p_x, world.p_uni)  # type: ignore[attr-defined]
    sent = c.sender.send_call(fn)
    ev = c.disputes.events.DisputeOpened().process_receipt(sent.receipt, errors=DISCARD)[0]["args"]
    assert ev["institution"] == world.p_arb and list(ev["arbitrators"]) == [a.address for a in world.arbs]  # type: ignore[attr-defined]
    with pytest.raises(ContractRevert) as err:
        c.sender.send_call(fn)
    assert err.value.name == "DisputeSignatureUsed"
    sent = close(world, bytes(ev["disputeId"]), DISMISSED)
    ev = c.disputes.events.DisputeClosed().process_receipt(sent.receipt, errors=DISCARD)[0]["args"]
    assert ev["institution"] == world.p_arb and len(ev["arbitrators"]) == 2  # type: ignore[attr-defined]


def test_an_arbitrator_who_is_a_party_cannot_arbitrate(world: World) -> None:
    with pytest.raises(ContractRevert) as err:
        open_dispute(world, ASSET, world.asset.to_bytes(32, "big"), world.p_arb, world.p_uni)  # type: ignore[attr-defined]
    assert err.value.name == "DisputeArbitratorIsParty"


def test_a_closed_dispute_cannot_be_closed_again_and_dismissal_unfreezes(world: World) -> None:
    c = world.chain
    did = open_dispute(world, ASSET, world.asset.to_bytes(32, "big"), world.p_x, world.p_uni)
    close(world, did, DISMISSED)
    assert call(c.assets.functions.asset(world.asset))[4] is False
    with pytest.raises(ContractRevert) as err:
        close(world, did, DISMISSED)
    assert err.value.name == "DisputeAlreadyClosed"


def test_a_dispute_over_evidence_freezes_no_asset_and_cannot_void_anything(world: World) -> None:
    c = world.chain
    did = open_dispute(world, EVIDENCE, keccak(text="file"), world.p_x, world.p_y)
    assert call(c.assets.functions.asset(world.asset))[4] is False
    with pytest.raises(ContractRevert) as err:
        close(world, did, VOIDED)
    assert err.value.name == "DisputeOutcomeInvalid"


def test_unknown_subjects_are_refused(world: World) -> None:
    with pytest.raises(ContractRevert) as err:
        open_dispute(world, AGREEMENT, keccak(text="none"), world.p_x, world.p_uni)
    assert err.value.name == "DisputeSubjectInvalid"
    with pytest.raises(ContractRevert) as err:
        open_dispute(world, ASSET, (999).to_bytes(32, "big"), world.p_x, world.p_uni)
    assert err.value.name == "AssetUnknown"


def test_the_asset_registry_answers_to_this_dispute_registry_alone(world: World) -> None:
    c = world.chain
    assert call(c.assets.functions.disputeRegistry()) == c.manifest.address("DisputeRegistry")
    assert call(c.disputes.functions.assetRegistry()) == c.manifest.address("IPAssetRegistry")
    names = {item.get("name") for item in c.assets.abi}
    assert not names & {
        "grantRole",
        "hasRole",
        "DISPUTE_ROLE",
        "beginDefaultAdminTransfer",
        "owner",
    }  # no admin to re-grant
