"""DisputeRegistry: only arbitrators of an active institution open and close disputes, the subject is frozen
while open, and the award takes effect on the chain of title in the same transaction. Both EVMs."""

from __future__ import annotations

import pytest
from eth_utils import keccak
from web3.logs import DISCARD

from ledger import agreements as ag
from ledger.errors import ContractRevert, PartyNotActive
from ledger.tx import call
from tests.contracts.test_ip_asset_registry import CN, World
from tests.helpers import Chain, account, assets_domain, execute

ASSET, AGREEMENT, EVIDENCE = 1, 2, 3
DISMISSED, VOIDED, RESTORED = 1, 2, 3


@pytest.fixture
def world(chain: Chain) -> World:
    w = World(chain)
    w.arb = account("arbitrator")  # type: ignore[attr-defined]
    w.p_arb = chain.admit([w.arb.address], kind="arbitration", identifier="ARB-QIANHAI-1", scheme="other")  # type: ignore[attr-defined]
    return w


def open_dispute(w: World, kind: int, subject: bytes, claimant: int, respondent: int, by=None) -> bytes:  # type: ignore[no-untyped-def]
    sent = w.chain.as_(by or w.arb).send_call(w.chain.disputes.functions.openDispute(kind, subject, claimant, respondent, keccak(text="claim")))  # type: ignore[attr-defined]
    return bytes(w.chain.disputes.events.DisputeOpened().process_receipt(sent.receipt, errors=DISCARD)[0]["args"]["disputeId"])


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
    c.as_(world.arb).send_call(c.disputes.functions.closeDispute(did, VOIDED, keccak(text="award"), [], []))  # type: ignore[attr-defined]
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
        c.as_(world.arb).send_call(c.disputes.functions.closeDispute(did, RESTORED, keccak(text="a"), [world.p_uni, world.p_x], [5000, 4000]))  # type: ignore[attr-defined]
    assert err.value.name == "SharesInvalid"
    sent = c.as_(world.arb).send_call(c.disputes.functions.closeDispute(did, RESTORED, keccak(text="a"), [world.p_uni, world.p_x], [6000, 4000]))  # type: ignore[attr-defined]
    assert world.owners() == ([world.p_uni, world.p_x], [6000, 4000])
    assert c.assets.events.TitleRestored().process_receipt(sent.receipt, errors=DISCARD)[0]["args"]["disputeId"] == did


def test_only_an_arbitrator_of_an_active_institution_opens_and_closes(world: World) -> None:
    c = world.chain
    with pytest.raises(ContractRevert) as err:
        open_dispute(world, ASSET, world.asset.to_bytes(32, "big"), world.p_x, world.p_uni, by=world.x)
    assert err.value.name == "DisputeNotArbitrator"
    with pytest.raises(PartyNotActive):
        open_dispute(world, ASSET, world.asset.to_bytes(32, "big"), world.p_x, world.p_uni, by=account("nobody"))
    did = open_dispute(world, ASSET, world.asset.to_bytes(32, "big"), world.p_x, world.p_uni)
    other = account("other-arbitrator")
    c.admit([other.address], kind="arbitration", identifier="ARB-2", scheme="other")
    with pytest.raises(ContractRevert) as err:
        c.as_(other).send_call(c.disputes.functions.closeDispute(did, DISMISSED, keccak(text="a"), [], []))
    assert err.value.name == "DisputeWrongInstitution"
    c.registrar_sender.send_call(c.evidence.functions.suspendParty(world.p_arb, b"\0" * 32))  # type: ignore[attr-defined]
    with pytest.raises(PartyNotActive):
        c.as_(world.arb).send_call(c.disputes.functions.closeDispute(did, DISMISSED, keccak(text="a"), [], []))  # type: ignore[attr-defined]


def test_an_arbitrator_who_is_a_party_cannot_arbitrate(world: World) -> None:
    with pytest.raises(ContractRevert) as err:
        open_dispute(world, ASSET, world.asset.to_bytes(32, "big"), world.p_arb, world.p_uni)  # type: ignore[attr-defined]
    assert err.value.name == "DisputeArbitratorIsParty"


def test_a_closed_dispute_cannot_be_closed_again_and_dismissal_unfreezes(world: World) -> None:
    c = world.chain
    did = open_dispute(world, ASSET, world.asset.to_bytes(32, "big"), world.p_x, world.p_uni)
    c.as_(world.arb).send_call(c.disputes.functions.closeDispute(did, DISMISSED, keccak(text="a"), [], []))  # type: ignore[attr-defined]
    assert call(c.assets.functions.asset(world.asset))[4] is False
    with pytest.raises(ContractRevert) as err:
        c.as_(world.arb).send_call(c.disputes.functions.closeDispute(did, DISMISSED, keccak(text="a"), [], []))  # type: ignore[attr-defined]
    assert err.value.name == "DisputeAlreadyClosed"


def test_a_dispute_over_evidence_freezes_no_asset_and_cannot_void_anything(world: World) -> None:
    c = world.chain
    did = open_dispute(world, EVIDENCE, keccak(text="file"), world.p_x, world.p_y)
    assert call(c.assets.functions.asset(world.asset))[4] is False
    with pytest.raises(ContractRevert) as err:
        c.as_(world.arb).send_call(c.disputes.functions.closeDispute(did, VOIDED, keccak(text="a"), [], []))  # type: ignore[attr-defined]
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
    assert not names & {"grantRole", "hasRole", "DISPUTE_ROLE", "beginDefaultAdminTransfer", "owner"}  # no admin to re-grant
