"""Attacks on asset registration (issue 10, item 4: squatting), one test per attack, on anvil and on eth-tester.

Measured on the earlier contracts: any party could register any patent number naming itself owner; the real
owner then got ``AssetNumberTaken`` and the squatter could pledge, license or assign the patent at once. Now a
registration is a *claim*: nothing is executed on it until an asset verifier (a governance-admitted party that
owns no share of it) confirms it; a verifier may reject a false claim, which frees the number; an arbitral award
strikes a squatter's claim (confirmed or not) and gives the asset to its rightful owner. Each test fails if the
protection it names is removed from the contract.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from web3.logs import DISCARD

from ledger.chain.codec import call
from ledger.domain import agreements as ag
from ledger.domain import eip712
from ledger.errors import ContractRevert
from tests.contracts.test_attacks_agreements import reverts
from tests.contracts.test_ip_asset_registry import World
from tests.helpers import (
    Chain,
    account,
    admit_arbitrator,
    asset_verifier,
    assets_domain,
    close_dispute,
    confirm_asset,
    dispute_open_fn,
    execute,
    open_dispute,
    register_asset,
    sign_with,
)

ZERO = b"\0" * 32
NUMBER = "CN202310000001.5"  # the patent the university really owns and the squatter claims first


class Squat(World):
    """The registry World (a university, firms, a bank) plus an asset verifier, an arbitrator, and a squatter
    (firm X) holding an unconfirmed claim to the university's patent number."""

    def __init__(self, chain: Chain) -> None:
        super().__init__(chain)
        self.verifier, self.p_ver = asset_verifier(chain)
        self.arb, self.p_arb = admit_arbitrator(chain)
        self.claim = register_asset(chain, [(self.p_x, self.x)], number=NUMBER, confirm=False)

    def status(self, asset: int) -> int:
        return int(call(self.chain.assets.functions.assetStatus(asset)))

    def owners_of(self, asset: int) -> list[int]:
        return list(call(self.chain.assets.functions.asset(asset))[2])

    def decision(
        self,
        act: str,
        asset: int,
        signer: LocalAccount,
        *,
        as_account: str | None = None,
        hash_: bytes | None = None,
        deadline: int | None = None,
        sign_asset: int | None = None,
    ) -> Any:
        """The call of a verifier's decision on ``asset`` ("confirm" or "reject") relayed with ``signer``'s signature,
        claimed to be by ``as_account`` (default: the signer)."""
        d = assets_domain(self.chain)
        hash_ = hash_ or keccak(text=f"{act}:{asset}")
        deadline = deadline if deadline is not None else self.chain.now() + 600
        build = ag.confirmation_message if act == "confirm" else ag.rejection_message
        sig = eip712.sign(build(d, sign_asset or asset, hash_, deadline), signer)
        fn = self.chain.assets.functions.confirmAsset if act == "confirm" else self.chain.assets.functions.rejectClaim
        return fn(asset, hash_, as_account or signer.address, deadline, sig)


@pytest.fixture
def s(chain: Chain) -> Squat:
    return Squat(chain)


def deal(s: Squat, kind: str, asset: int) -> tuple[ag.Terms, list[LocalAccount]]:
    """Terms of each kind the squatter (firm X, sole owner of ``asset``) would sign, with their signers."""
    if kind == "assignment":
        return s.terms(ag.AgreementKind.ASSIGNMENT, [s.p_y], asset_id=asset), [s.x, s.y]
    if kind == "licence":
        return s.licence(s.p_y, ag.LicenceType.EXCLUSIVE, asset_id=asset), [s.x, s.y]
    if kind == "equity_contribution":
        return s.terms(ag.AgreementKind.EQUITY_CONTRIBUTION, [s.p_w], asset_id=asset), [s.x, s.w]
    return s.terms(ag.AgreementKind.PLEDGE, [s.p_bank], asset_id=asset), [s.x, s.bank]


@pytest.mark.parametrize("kind", ["assignment", "licence", "equity_contribution", "pledge"])
def test_a_squatters_unconfirmed_claim_cannot_be_assigned_licensed_contributed_or_pledged(s: Squat, kind: str) -> None:
    """Measured before: the squatter pledged the patent it had just registered to a bank, with no check at all."""
    c = s.chain
    t, signers = deal(s, kind, s.claim)
    err = reverts(
        c.assets.functions.execute(t.as_tuple(), sign_with(c, t.message(assets_domain(c)), signers)), c.sender
    )
    assert err.name == "AssetNotConfirmed" and err.args_["assetId"] == s.claim
    assert s.status(s.claim) == ag.AssetStatus.CLAIMED and s.owners_of(s.claim) == [s.p_x]
    # the same terms take effect once a verifier has confirmed the asset: the confirmation is what stood in the way
    confirm_asset(c, s.claim, verifier=s.verifier)
    execute(c, t, signers)


@pytest.mark.parametrize("who", ["claimant", "other-firm", "bank", "arbitrator", "operator", "registrar", "governance"])
def test_only_an_asset_verifier_confirms_or_rejects_a_claim(s: Squat, who: str) -> None:
    """Neither the claimant, another party of any other kind, nor the relayer, the registrar or the governance key
    (which admits verifiers but is none) can confirm or reject a claim, directly or by a relayed signature."""
    c = s.chain
    key = {
        "claimant": s.x,
        "other-firm": s.y,
        "bank": s.bank,
        "arbitrator": s.arb,
        "operator": c.operator,
        "registrar": c.registrar,
        "governance": c.governance,
    }[who]
    for act in ("confirm", "reject"):
        relayed = reverts(s.decision(act, s.claim, key), c.sender)
        fn = c.assets.functions.confirmAsset if act == "confirm" else c.assets.functions.rejectClaim
        direct = reverts(fn(s.claim, keccak(text="extract"), key.address, c.now() + 600, b""), c.as_(key))
        for err in (relayed, direct):
            assert err.name == "AssetVerifierInvalid" and err.args_["account"] == key.address
    assert s.status(s.claim) == ag.AssetStatus.CLAIMED


def test_a_verifier_acts_directly_or_by_its_own_relayed_signature_only(s: Squat) -> None:
    """The relayer carries a verifier's signature and has no power of its own: a signature by another key, for
    another asset or another extract, out of date or too far ahead, is refused; the verifier's own account may
    send the call itself with no signature; a confirmation is not replayed."""
    c = s.chain
    impostor = account("impostor")
    cases = [
        (s.decision("confirm", s.claim, impostor, as_account=s.verifier.address), "AgreementSignatureInvalid"),
        (s.decision("confirm", s.claim, s.verifier, sign_asset=s.asset), "AgreementSignatureInvalid"),
        (s.decision("confirm", s.claim, s.verifier, deadline=c.now() - 1), "SignatureExpired"),
        (
            s.decision("confirm", s.claim, s.verifier, deadline=c.now() + ag.MAX_SIGNING_WINDOW + 3600),
            "SignatureDeadlineTooFar",
        ),
        # a relayer sending the verifier's address with no signature is not the verifier's own call
        (
            c.assets.functions.confirmAsset(s.claim, keccak(text="x"), s.verifier.address, c.now() + 600, b""),
            "AgreementSignatureInvalid",
        ),
    ]
    for fn, name in cases:
        assert reverts(fn, c.sender).name == name
    # a signature over one extract hash does not confirm another
    d = assets_domain(c)
    deadline = c.now() + 600
    sig = eip712.sign(ag.confirmation_message(d, s.claim, keccak(text="extract-a"), deadline), s.verifier)
    bad = c.assets.functions.confirmAsset(s.claim, keccak(text="extract-b"), s.verifier.address, deadline, sig)
    assert reverts(bad, c.sender).name == "AgreementSignatureInvalid"
    assert s.status(s.claim) == ag.AssetStatus.CLAIMED
    # the verifier's own transaction, no signature
    sent = c.as_(s.verifier).send_call(
        c.assets.functions.confirmAsset(s.claim, keccak(text="extract-a"), s.verifier.address, deadline, b"")
    )
    ev = c.assets.events.AssetConfirmed().process_receipt(sent.receipt, errors=DISCARD)[0]["args"]  # type: ignore[union-attr]
    assert (ev["assetId"], ev["verifierPartyId"], bytes(ev["registerExtractHash"])) == (
        s.claim,
        s.p_ver,
        keccak(text="extract-a"),
    )
    assert s.status(s.claim) == ag.AssetStatus.CONFIRMED
    again = c.assets.functions.confirmAsset(s.claim, keccak(text="extract-a"), s.verifier.address, deadline, sig)
    err = reverts(again, c.sender)
    assert err.name == "AssetStatusInvalid" and err.args_["status"] == ag.AssetStatus.CONFIRMED


def test_a_verifier_cannot_confirm_an_asset_it_owns(s: Squat) -> None:
    c = s.chain
    own = register_asset(
        c, [(s.p_ver, s.verifier), (s.p_y, s.y)], [5000, 5000], number="CN202310000002.X", confirm=False
    )
    for act in ("confirm", "reject"):
        err = reverts(s.decision(act, own, s.verifier), c.sender)
        assert err.name == "AssetVerifierIsOwner" and err.args_["partyId"] == s.p_ver
    assert s.status(own) == ag.AssetStatus.CLAIMED
    # another verifier, owning nothing of it, may
    other, _ = asset_verifier(c, "second-verifier")
    confirm_asset(c, own, verifier=other)
    assert s.status(own) == ag.AssetStatus.CONFIRMED


@pytest.mark.parametrize("by", ["registrar", "governance"])
def test_a_suspended_verifier_confirms_nothing(s: Squat, by: str) -> None:
    c = s.chain
    sender = c.registrar_sender if by == "registrar" else c.governance_sender
    sender.send_call(c.evidence.functions.suspendParty(s.p_ver, keccak(text="verifier under investigation")))
    for act in ("confirm", "reject"):
        err = reverts(s.decision(act, s.claim, s.verifier), c.sender)
        assert err.name == "AgreementSignerNotActive" and err.args_["signer"] == s.verifier.address
    assert s.status(s.claim) == ag.AssetStatus.CLAIMED


def test_a_rejected_claim_frees_the_number_and_the_rightful_owner_registers_it(s: Squat) -> None:
    """Measured before: the real owner got AssetNumberTaken for ever. A verifier that finds the claim false on
    the register strikes it: the number is free, the struck claim is dead, the owner registers and deals."""
    c = s.chain
    with pytest.raises(ContractRevert) as taken:
        register_asset(c, [(s.p_uni, s.uni)], number=NUMBER, confirm=False)
    assert taken.value.name == "AssetNumberTaken"
    sent = c.sender.send_call(
        s.decision("reject", s.claim, s.verifier, hash_=keccak(text="CNIPA register names the university"))
    )
    ev = c.assets.events.ClaimRejected().process_receipt(sent.receipt, errors=DISCARD)[0]["args"]  # type: ignore[union-attr]
    assert (ev["assetId"], ev["verifierPartyId"]) == (s.claim, s.p_ver)
    assert bytes(ev["reasonHash"]) == keccak(text="CNIPA register names the university")
    assert s.status(s.claim) == ag.AssetStatus.STRUCK
    # the struck claim is dead: never confirmed, never dealt in, never disputed
    assert reverts(s.decision("confirm", s.claim, s.verifier), c.sender).name == "AssetStatusInvalid"
    t, signers = deal(s, "pledge", s.claim)
    assert (
        reverts(
            c.assets.functions.execute(t.as_tuple(), sign_with(c, t.message(assets_domain(c)), signers)), c.sender
        ).name
        == "AssetNotConfirmed"
    )
    fn = dispute_open_fn(c, s.arb, "asset", s.claim, s.p_uni, s.p_x)
    assert reverts(fn, c.sender).name == "AssetStatusInvalid"
    # the rightful owner claims the number, a verifier confirms, the owner licenses
    mine = register_asset(c, [(s.p_uni, s.uni)], number=NUMBER)
    assert mine != s.claim and call(c.assets.functions.assetByNumber(ag.number_hash(NUMBER))) == mine
    assert s.status(mine) == ag.AssetStatus.CONFIRMED
    execute(c, s.licence(s.p_y, ag.LicenceType.ORDINARY, asset_id=mine), [s.uni, s.y])
    # and the number is taken again: nobody claims it a second time
    with pytest.raises(ContractRevert) as again:
        register_asset(c, [(s.p_z, s.z)], number=NUMBER, confirm=False)
    assert again.value.name == "AssetNumberTaken" and again.value.args_["assetId"] == mine


def test_a_verifier_cannot_un_confirm_an_asset_nor_decide_a_frozen_claim(s: Squat) -> None:
    """A confirmed title changes only by an award: no verifier rejects a confirmed asset. While a dispute over a
    claim is open, no verifier decides it (the award will)."""
    c = s.chain
    other, _ = asset_verifier(c, "second-verifier")
    assert s.status(s.asset) == ag.AssetStatus.CONFIRMED
    for v in (s.verifier, other):
        err = reverts(s.decision("reject", s.asset, v), c.sender)
        assert err.name == "AssetStatusInvalid" and err.args_["status"] == ag.AssetStatus.CONFIRMED
    open_dispute(c, s.arb, "asset", s.claim, s.p_uni, s.p_x)
    for act in ("confirm", "reject"):
        assert reverts(s.decision(act, s.claim, s.verifier), c.sender).name == "AssetIsFrozen"
    assert s.status(s.claim) == ag.AssetStatus.CLAIMED


@pytest.mark.parametrize("confirmed", [True, False], ids=["confirmed-claim", "unconfirmed-claim"])
def test_an_award_strikes_a_squatters_claim_and_gives_the_asset_to_the_rightful_owner(
    s: Squat, confirmed: bool
) -> None:
    """A verifier was misled and confirmed the squatter's claim (or none has decided yet): the university goes to
    arbitration; the award strikes the squatter's claim (ClaimStruck) and gives the number to the university,
    which then deals in it while the squatter can no longer."""
    c = s.chain
    if confirmed:
        confirm_asset(c, s.claim, verifier=s.verifier)
    dispute = open_dispute(c, s.arb, "asset", s.claim, s.p_uni, s.p_x)
    t, signers = deal(s, "pledge", s.claim)
    msg = t.message(assets_domain(c))
    assert reverts(c.assets.functions.execute(t.as_tuple(), sign_with(c, msg, signers)), c.sender).name in (
        "AssetIsFrozen",
        "AssetNotConfirmed",
    )
    sent = close_dispute(c, s.arb, dispute, "title_restored", owners=[s.p_uni], shares=[10_000])
    struck = c.assets.events.ClaimStruck().process_receipt(sent.receipt, errors=DISCARD)
    restored = c.assets.events.TitleRestored().process_receipt(sent.receipt, errors=DISCARD)
    assert [(e["args"]["assetId"], list(e["args"]["formerOwners"]), bytes(e["args"]["disputeId"])) for e in struck] == [
        (s.claim, [s.p_x], dispute)
    ]
    assert [list(e["args"]["owners"]) for e in restored] == [[s.p_uni]]
    assert s.owners_of(s.claim) == [s.p_uni]
    assert call(c.assets.functions.assetByNumber(ag.number_hash(NUMBER))) == s.claim  # the number stays with the asset
    # the award decides title; the register check stays a verifier's: an unconfirmed claim given to its owner is
    # confirmed next, then dealt in
    assert s.status(s.claim) == (ag.AssetStatus.CONFIRMED if confirmed else ag.AssetStatus.CLAIMED)
    if not confirmed:
        confirm_asset(c, s.claim, verifier=s.verifier)
    # the squatter's signature no longer counts; the university licenses
    err = reverts(c.assets.functions.execute(t.as_tuple(), sign_with(c, msg, signers)), c.sender)
    assert err.name in ("AgreementSignerNotAParty", "AgreementSignatureMissing")
    execute(c, replace(s.licence(s.p_y, ag.LicenceType.ORDINARY), asset_id=s.claim), [s.uni, s.y])
