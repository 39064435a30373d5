"""IPAssetRegistry: assets, chain of title and the rules of agreements, on anvil and on eth-tester."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from eth_utils import keccak

from ledger.chain.codec import call
from ledger.domain import agreements as ag
from ledger.domain import eip712
from ledger.domain.territory import to_mask
from ledger.errors import ContractRevert, SignatureRejected
from tests.helpers import (
    Chain,
    account,
    admit_arbitrator,
    assets_domain,
    close_dispute,
    confirm_asset,
    deploy_wallet,
    execute,
    open_dispute,
    register_asset,
    sign_with,
)

YEAR = 365 * 86400
CN, HK = to_mask(["CN"]), to_mask(["HK"])


class World:
    """A university (2 keys: co-owner test), firms, a bank, all admitted; one patent owned by the university."""

    def __init__(self, chain: Chain) -> None:
        self.chain = chain
        self.uni, self.uni2 = account("hku"), account("cuhk")
        self.x, self.y, self.z = account("firm-x"), account("firm-y"), account("firm-z")
        self.w = account("company-w")
        self.bank = account("bank")
        self.p_uni = chain.admit(
            [self.uni.address], kind="university", jurisdiction="hksar", scheme="hkbrn", identifier="11111111"
        )
        self.p_uni2 = chain.admit(
            [self.uni2.address], kind="university", jurisdiction="hksar", scheme="hkbrn", identifier="22222222"
        )
        self.p_x = chain.admit([self.x.address], identifier="91110108551385082Q")
        self.p_y = chain.admit([self.y.address], identifier="91110000600037341L")
        self.p_z = chain.admit([self.z.address], identifier="Z-0001", scheme="other")
        self.p_w = chain.admit([self.w.address], identifier="91440300MA5DC6QX9C")
        self.p_bank = chain.admit([self.bank.address], kind="financial", identifier="91110000100000000R")
        self.asset = register_asset(chain, [(self.p_uni, self.uni)])
        self.now = chain.now()

    def terms(self, kind: int, grantees: list[int], **kw: Any) -> ag.Terms:
        base: dict[str, Any] = {
            "deadline": self.chain.now() + 3600,
            "document_hash": keccak(text="contract.pdf"),
            "salt": keccak(text=str(kw)),
        }
        if kind in (ag.AgreementKind.LICENCE, ag.AgreementKind.PLEDGE):
            base |= {"start": self.now, "end": self.now + YEAR}
        if kind in (ag.AgreementKind.ASSIGNMENT, ag.AgreementKind.EQUITY_CONTRIBUTION):
            base |= {
                "shares": (10_000,) * len(grantees)
                if len(grantees) == 1
                else tuple([10_000 // len(grantees)] * len(grantees))
            }
        base |= kw
        return ag.Terms(
            kind=kind,
            asset_id=kw.pop("asset_id", self.asset),
            grantees=tuple(grantees),
            **{k: v for k, v in base.items() if k != "asset_id"},
        )

    def licence(self, licensee: int, licence_type: int, territory: int = CN, **kw: Any) -> ag.Terms:
        return self.terms(ag.AgreementKind.LICENCE, [licensee], licence_type=licence_type, territory=territory, **kw)

    def owners(self) -> tuple[list[int], list[int]]:
        _, _, owners, shares, _ = call(self.chain.assets.functions.asset(self.asset))
        return list(owners), list(shares)


@pytest.fixture
def world(chain: Chain) -> World:
    return World(chain)


def test_the_typehashes_match_the_python_typed_data(chain: Chain) -> None:
    f = chain.assets.functions
    assert call(f.TERMS_TYPEHASH()) == ag.TERMS_TYPEHASH
    assert call(f.ASSET_REGISTRATION_TYPEHASH()) == ag.ASSET_REGISTRATION_TYPEHASH
    assert call(f.TERMINATION_TYPEHASH()) == ag.TERMINATION_TYPEHASH
    assert call(f.RELEASE_TYPEHASH()) == ag.RELEASE_TYPEHASH


def test_an_asset_is_registered_by_all_its_owners_with_shares_summing_to_100_percent(world: World) -> None:
    c = world.chain
    a2 = register_asset(
        c, [(world.p_uni, world.uni), (world.p_uni2, world.uni2)], [6000, 4000], number="CN201810000001.X"
    )
    _, _, owners, shares, frozen = call(c.assets.functions.asset(a2))
    assert list(owners) == [world.p_uni, world.p_uni2] and list(shares) == [6000, 4000] and frozen is False
    assert call(c.assets.functions.assetByNumber(ag.number_hash("CN201810000001.X"))) == a2


@pytest.mark.parametrize(("shares", "error"), [([6000, 3000], "SharesInvalid"), ([10000, 0], "SharesInvalid")])
def test_shares_not_summing_to_100_percent_are_refused(world: World, shares: list[int], error: str) -> None:
    with pytest.raises(ContractRevert) as err:
        register_asset(world.chain, [(world.p_uni, world.uni), (world.p_uni2, world.uni2)], shares, number="CN2")
    assert err.value.name == error


def test_a_number_is_registered_once_and_every_owner_must_sign(world: World) -> None:
    c = world.chain
    with pytest.raises(ContractRevert) as err:
        register_asset(c, [(world.p_uni, world.uni)])
    assert err.value.name == "AssetNumberTaken"
    reg = ag.AssetRegistration(
        1, 1, ag.number_hash("CN3"), (world.p_uni, world.p_uni2), (5000, 5000), b"\0" * 32, c.now() + 600
    )
    sigs = sign_with(c, reg.message(assets_domain(c)), [world.uni])
    with pytest.raises(ContractRevert) as err:
        c.sender.send_call(c.assets.functions.registerAsset(reg.as_tuple(), sigs))
    assert err.value.name == "AgreementSignatureMissing" and err.value.args_["partyId"] == world.p_uni2


def test_an_assignment_moves_title_to_the_assignee(world: World) -> None:
    t = world.terms(ag.AgreementKind.ASSIGNMENT, [world.p_x])
    sent = execute(world.chain, t, [world.uni, world.x])
    assert world.owners() == ([world.p_x], [10_000])
    g = call(world.chain.assets.functions.agreement(t.agreement_id(assets_domain(world.chain))))
    assert g[1] == ag.AgreementStatus.EFFECTIVE and g[8] == world.asset
    assert sent.gas_used <= 200_000


def test_an_assignment_to_co_assignees_splits_the_shares(world: World) -> None:
    execute(
        world.chain,
        world.terms(ag.AgreementKind.ASSIGNMENT, [world.p_x, world.p_y], shares=(7000, 3000)),
        [world.uni, world.x, world.y],
    )
    assert world.owners() == ([world.p_x, world.p_y], [7000, 3000])


def test_only_current_owners_grant(world: World) -> None:
    execute(world.chain, world.terms(ag.AgreementKind.ASSIGNMENT, [world.p_x]), [world.uni, world.x])
    # the university no longer owns it: its licence signature is not enough, and is not even a party's
    t = world.licence(world.p_y, ag.LicenceType.ORDINARY)
    with pytest.raises(ContractRevert) as err:
        execute(world.chain, t, [world.uni, world.y])
    assert err.value.name == "AgreementSignerNotAParty"


@pytest.mark.parametrize("problem", ["missing", "duplicate", "wrong-account", "other-terms", "expired", "suspended"])
def test_bad_signatures_are_refused(world: World, problem: str) -> None:
    c = world.chain
    t = world.licence(world.p_y, ag.LicenceType.ORDINARY)
    msg = t.message(assets_domain(c))
    sigs = sign_with(c, msg, [world.uni, world.y])
    expected = {
        "missing": "AgreementSignatureMissing",
        "duplicate": "AgreementSignatureDuplicate",
        "wrong-account": "AgreementSignatureInvalid",
        "other-terms": "AgreementSignatureInvalid",
        "expired": "SignatureExpired",
        "suspended": "AgreementSignerNotActive",
    }[problem]
    if problem == "missing":
        sigs = sigs[:1]
    elif problem == "duplicate":
        sigs = sigs + sigs[:1]
    elif problem == "wrong-account":
        sigs[1] = (world.y.address, eip712.sign(msg, account("mallory")))
    elif problem == "other-terms":
        sigs[1] = (world.y.address, eip712.sign(replace(t, territory=HK).message(assets_domain(c)), world.y))
    elif problem == "expired":
        t = replace(t, deadline=c.now() - 1)
        sigs = sign_with(c, t.message(assets_domain(c)), [world.uni, world.y])
    elif problem == "suspended":
        c.registrar_sender.send_call(c.evidence.functions.suspendParty(world.p_y, b"\0" * 32))
    with pytest.raises((ContractRevert, SignatureRejected)) as err:
        c.sender.send_call(c.assets.functions.execute(t.as_tuple(), sigs))
    assert err.value.name == expected


def test_an_agreement_cannot_be_replayed(world: World) -> None:
    t = world.licence(world.p_y, ag.LicenceType.ORDINARY)
    execute(world.chain, t, [world.uni, world.y])
    with pytest.raises(ContractRevert) as err:
        execute(world.chain, t, [world.uni, world.y])
    assert err.value.name == "AgreementAlreadyExecuted"


def test_a_two_party_licence_costs_at_most_250k_gas(world: World) -> None:
    sent = execute(world.chain, world.licence(world.p_y, ag.LicenceType.EXCLUSIVE), [world.uni, world.y])
    assert sent.gas_used <= 250_000


@pytest.mark.parametrize(
    ("first", "second", "overlap"),
    [
        (ag.LicenceType.EXCLUSIVE, ag.LicenceType.EXCLUSIVE, True),
        (ag.LicenceType.EXCLUSIVE, ag.LicenceType.ORDINARY, True),
        (ag.LicenceType.ORDINARY, ag.LicenceType.EXCLUSIVE, True),
        (ag.LicenceType.SOLE, ag.LicenceType.SOLE, True),
        (ag.LicenceType.SOLE, ag.LicenceType.ORDINARY, True),
        (ag.LicenceType.ORDINARY, ag.LicenceType.ORDINARY, False),
    ],
)
def test_exclusive_and_sole_licences_exclude_overlapping_licences(
    world: World, first: int, second: int, overlap: bool
) -> None:
    execute(world.chain, world.licence(world.p_y, first), [world.uni, world.y])
    t = world.licence(world.p_z, second, salt=keccak(text="second"))
    if overlap:
        with pytest.raises(ContractRevert) as err:
            execute(world.chain, t, [world.uni, world.z])
        assert err.value.name == "LicenceOverlaps"
    else:
        execute(world.chain, t, [world.uni, world.z])


@pytest.mark.parametrize("disjoint", ["territory", "term", "field"])
def test_exclusive_licences_that_do_not_overlap_coexist(world: World, disjoint: str) -> None:
    field_a, field_b = keccak(text="medical devices"), keccak(text="automotive")
    first = world.licence(
        world.p_y, ag.LicenceType.EXCLUSIVE, field_of_use=field_a if disjoint == "field" else b"\0" * 32
    )
    execute(world.chain, first, [world.uni, world.y])
    change: dict[str, Any] = {
        "territory": {"territory": HK},
        "term": {"start": world.now + YEAR, "end": world.now + 2 * YEAR},
        "field": {"field_of_use": field_b},
    }[disjoint]
    execute(
        world.chain,
        world.licence(world.p_z, ag.LicenceType.EXCLUSIVE, salt=keccak(text="b"), **change),
        [world.uni, world.z],
    )
    assert len(call(world.chain.assets.functions.licencesInForce(world.asset, world.now + 10))) == (
        1 if disjoint == "term" else 2
    )


def test_a_sublicence_needs_a_sublicensable_parent_and_stays_inside_it(world: World) -> None:
    c = world.chain
    parent = world.licence(world.p_y, ag.LicenceType.EXCLUSIVE, territory=CN | HK, sublicensable=True)
    execute(c, parent, [world.uni, world.y])
    pid = parent.agreement_id(assets_domain(c))
    ok = world.licence(world.p_z, ag.LicenceType.ORDINARY, territory=CN, parent_licence=pid)
    execute(c, ok, [world.y, world.z])  # granted by the licensee, not the owner
    outside = world.licence(world.p_x, ag.LicenceType.ORDINARY, territory=to_mask(["SG"]), parent_licence=pid)
    with pytest.raises(ContractRevert) as err:
        execute(c, outside, [world.y, world.x])
    assert err.value.name == "SublicenceOutsideParent" and err.value.args_["reason"] == "territory"
    longer = world.licence(world.p_x, ag.LicenceType.ORDINARY, parent_licence=pid, end=world.now + 2 * YEAR)
    with pytest.raises(ContractRevert) as err:
        execute(c, longer, [world.y, world.x])
    assert err.value.args_["reason"] == "term"


def test_a_licensee_without_a_sublicensable_licence_cannot_sublicense(world: World) -> None:
    c = world.chain
    parent = world.licence(world.p_z, ag.LicenceType.ORDINARY, territory=HK)
    execute(c, parent, [world.uni, world.z])
    sub = world.licence(
        world.p_x, ag.LicenceType.ORDINARY, territory=HK, parent_licence=parent.agreement_id(assets_domain(c))
    )
    with pytest.raises(ContractRevert) as err:
        execute(c, sub, [world.z, world.x])
    assert err.value.args_["reason"] == "parent not sublicensable"


def test_a_pledged_asset_moves_only_with_the_pledgees_signature_and_is_freed_by_release(world: World) -> None:
    c = world.chain
    pledge = world.terms(ag.AgreementKind.PLEDGE, [world.p_bank])
    execute(c, pledge, [world.uni, world.bank])
    pid = pledge.agreement_id(assets_domain(c))
    assert call(c.assets.functions.pledgeInForce(world.asset, c.now())) == pid
    assign = world.terms(ag.AgreementKind.ASSIGNMENT, [world.p_x])
    with pytest.raises(ContractRevert) as err:
        execute(c, assign, [world.uni, world.x])
    assert err.value.name == "AgreementSignatureMissing" and err.value.args_["partyId"] == world.p_bank
    exclusive = world.licence(world.p_y, ag.LicenceType.EXCLUSIVE)
    with pytest.raises(ContractRevert):
        execute(c, exclusive, [world.uni, world.y])
    execute(
        c, world.licence(world.p_z, ag.LicenceType.ORDINARY, territory=HK), [world.uni, world.z]
    )  # no consent needed
    second = world.terms(ag.AgreementKind.PLEDGE, [world.p_bank], salt=keccak(text="2"))
    with pytest.raises(ContractRevert) as err:
        execute(c, second, [world.uni, world.bank])
    assert err.value.name == "AssetPledged"
    execute(c, assign, [world.uni, world.x, world.bank])  # with consent
    assert world.owners() == ([world.p_x], [10_000])
    deadline = c.now() + 600
    sig = eip712.sign(ag.release_message(assets_domain(c), pid, deadline), world.bank)
    c.sender.send_call(c.assets.functions.releasePledge(pid, deadline, (world.bank.address, sig)))
    assert call(c.assets.functions.pledgeInForce(world.asset, c.now())) == b"\0" * 32
    assert call(c.assets.functions.agreement(pid))[1] == ag.AgreementStatus.RELEASED


def test_only_a_financial_institution_is_a_pledgee_and_only_a_uscc_company_takes_equity(world: World) -> None:
    with pytest.raises(ContractRevert) as err:
        execute(world.chain, world.terms(ag.AgreementKind.PLEDGE, [world.p_x]), [world.uni, world.x])
    assert err.value.name == "AgreementInvalid"
    with pytest.raises(ContractRevert) as err:
        execute(world.chain, world.terms(ag.AgreementKind.EQUITY_CONTRIBUTION, [world.p_z]), [world.uni, world.z])
    assert err.value.name == "AgreementInvalid"
    execute(world.chain, world.terms(ag.AgreementKind.EQUITY_CONTRIBUTION, [world.p_w]), [world.uni, world.w])
    assert world.owners() == ([world.p_w], [10_000])


def test_a_licence_is_terminated_by_all_its_parties_and_then_frees_its_scope(world: World) -> None:
    c = world.chain
    t = world.licence(world.p_y, ag.LicenceType.EXCLUSIVE)
    execute(c, t, [world.uni, world.y])
    lid = t.agreement_id(assets_domain(c))
    deadline = c.now() + 600
    msg = ag.termination_message(assets_domain(c), lid, deadline)
    with pytest.raises(ContractRevert) as err:
        c.sender.send_call(c.assets.functions.terminate(lid, deadline, sign_with(c, msg, [world.uni])))
    assert err.value.name == "AgreementSignatureMissing"
    c.sender.send_call(c.assets.functions.terminate(lid, deadline, sign_with(c, msg, [world.uni, world.y])))
    assert call(c.assets.functions.agreement(lid))[1] == ag.AgreementStatus.TERMINATED
    execute(c, world.licence(world.p_z, ag.LicenceType.EXCLUSIVE, salt=keccak(text="after")), [world.uni, world.z])


def test_a_frozen_asset_changes_nothing(world: World) -> None:
    c = world.chain
    arb, _ = admit_arbitrator(c)
    t = world.licence(world.p_y, ag.LicenceType.ORDINARY)
    execute(c, t, [world.uni, world.y])
    did = open_dispute(c, arb, "asset", world.asset, world.p_x, world.p_uni)
    with pytest.raises(ContractRevert) as err:
        execute(c, world.terms(ag.AgreementKind.ASSIGNMENT, [world.p_x]), [world.uni, world.x])
    assert err.value.name == "AssetIsFrozen"
    deadline = c.now() + 600
    msg = ag.termination_message(assets_domain(c), t.agreement_id(assets_domain(c)), deadline)
    with pytest.raises(ContractRevert) as err:
        c.sender.send_call(
            c.assets.functions.terminate(
                t.agreement_id(assets_domain(c)), deadline, sign_with(c, msg, [world.uni, world.y])
            )
        )
    assert err.value.name == "AssetIsFrozen"
    close_dispute(c, arb, did)
    execute(c, world.terms(ag.AgreementKind.ASSIGNMENT, [world.p_x]), [world.uni, world.x])


@pytest.mark.parametrize("who", ["operator", "party"])
def test_only_the_dispute_registry_freezes(world: World, who: str) -> None:
    sender = world.chain.sender if who == "operator" else world.chain.as_(world.x)
    with pytest.raises(ContractRevert) as err:
        sender.send_call(world.chain.assets.functions.freezeAsset(world.asset, b"\1" * 32))
    assert err.value.name == "CallerNotDisputeRegistry"


def test_a_university_multisig_signs_through_erc1271(world: World) -> None:
    c = world.chain
    owner = account("multisig-signer")
    wallet = deploy_wallet(c, owner)
    pid = c.admit([wallet.address], kind="university", jurisdiction="hksar", scheme="hkbrn", identifier="33333333")
    reg = ag.AssetRegistration(2, 4, ag.number_hash("HK1234567"), (pid,), (10_000,), b"\0" * 32, c.now() + 600)
    sig = eip712.sign_digest(eip712.digest(reg.message(assets_domain(c))), owner)
    c.sender.send_call(c.assets.functions.registerAsset(reg.as_tuple(), [(wallet.address, sig)]))
    asset = int(call(c.assets.functions.assetCount()))
    confirm_asset(c, asset)
    t = replace(world.licence(world.p_y, ag.LicenceType.ORDINARY, territory=HK), asset_id=asset)
    msg = t.message(assets_domain(c))
    sigs = [
        (wallet.address, eip712.sign_digest(eip712.digest(msg), owner)),
        (world.y.address, eip712.sign(msg, world.y)),
    ]
    c.sender.send_call(c.assets.functions.execute(t.as_tuple(), sigs))
    assert len(call(c.assets.functions.licencesInForce(asset, c.now()))) == 1
