"""Natural persons as parties on chain: only a salted commitment, no name, admitted by the registrar (anvil and
eth-tester)."""

from __future__ import annotations

import pytest

from ledger.domain.codes import IdentifierScheme, Jurisdiction, PartyKind
from ledger.domain.parties import person_commitment
from ledger.errors import ContractRevert
from tests.helpers import Chain, account

IND, HK, PC = int(PartyKind.INDIVIDUAL), int(Jurisdiction.HKSAR), int(IdentifierScheme.PERSON_COMMITMENT)
COMMITMENT = person_commitment("hkid", "A123456(3)", bytes(range(32)))


def test_the_registrar_admits_an_individual_known_only_by_its_commitment(chain: Chain) -> None:
    person = account("person")
    sent = chain.registrar_sender.send_call(
        chain.evidence.functions.admitParty((IND, HK, PC, COMMITMENT, "", ""), [person.address])
    )
    (event,) = chain.evidence.events.PartyAdmitted().process_receipt(sent.receipt)
    pid = event["args"]["partyId"]
    party = chain.evidence.functions.party(pid).call()
    assert (party[0], party[1], party[2]) == (IND, HK, PC)
    assert tuple(party[10:]) == (COMMITMENT, "", "")
    assert chain.evidence.functions.partyOf(person.address).call() == [pid, True]
    assert chain.evidence.functions.partyByIdentifier(PC, COMMITMENT).call() == pid
    with pytest.raises(ContractRevert) as err:  # the same commitment once only
        chain.registrar_sender.send_call(
            chain.evidence.functions.admitParty((IND, HK, PC, COMMITMENT, "", ""), [account("other").address])
        )
    assert err.value.name == "PartyIdentifierTaken"


@pytest.mark.parametrize(
    ("profile", "error"),
    [
        ((IND, HK, PC, COMMITMENT, "", "Chan Tai Man"), "PartyPersonalDataOnChain"),
        ((IND, HK, PC, COMMITMENT, "陳大文", ""), "PartyPersonalDataOnChain"),
        ((IND, HK, 3, "A123456(3)", "", ""), "PartyIdentifierInvalid"),
        ((IND, HK, 0, COMMITMENT, "", ""), "PartyIdentifierInvalid"),
        ((1, HK, PC, COMMITMENT, "", "A Ltd"), "PartyIdentifierInvalid"),
        ((IND, HK, PC, COMMITMENT.upper().replace("0X", "0x"), "", ""), "PartyIdentifierNotCanonical"),
        ((IND, HK, PC, COMMITMENT[2:], "", ""), "PartyIdentifierNotCanonical"),
        ((IND, HK, PC, COMMITMENT + "0", "", ""), "PartyIdentifierNotCanonical"),
        ((IND, HK, PC, "0x" + "g" * 64, "", ""), "PartyIdentifierNotCanonical"),
        ((IND, HK, PC, "0X" + COMMITMENT[2:], "", ""), "PartyIdentifierNotCanonical"),
        ((IND, HK, PC, "A123456(3)", "", ""), "PartyIdentifierNotCanonical"),
        ((IND, 0, PC, COMMITMENT, "", ""), "PartyJurisdictionInvalid"),
        ((1, 1, 0, "91110108551385082Q", "甲", "A"), "PartyIdentifierInvalid"),
        ((1, 1, 1, "91110108551385082Q", "", ""), "PartyNameMissing"),
    ],
)
def test_personal_data_and_malformed_commitments_never_reach_the_chain(
    chain: Chain, profile: tuple, error: str
) -> None:
    with pytest.raises(ContractRevert) as err:
        chain.registrar_sender.send_call(chain.evidence.functions.admitParty(profile, [account("person").address]))
    assert err.value.name == error
    assert chain.evidence.functions.partyCount().call() == 0


def test_only_the_registrar_admits_an_individual_and_governance_only_kinds_stay_governance_only(chain: Chain) -> None:
    outsider = account("outsider")
    with pytest.raises(ContractRevert) as err:
        chain.as_(outsider).send_call(
            chain.evidence.functions.admitParty((IND, HK, PC, COMMITMENT, "", ""), [account("person").address])
        )
    assert err.value.name == "AccessControlUnauthorizedAccount"
    for kind in (PartyKind.ARBITRATION_INSTITUTION, PartyKind.FINANCIAL_INSTITUTION, PartyKind.ASSET_VERIFIER):
        with pytest.raises(ContractRevert) as err:
            chain.registrar_sender.send_call(
                chain.evidence.functions.admitParty((int(kind), HK, 3, "X-1", "", "X"), [account("inst").address])
            )
        assert err.value.name == "PartyKindNeedsGovernance"


def test_an_individual_registers_evidence_in_its_own_name(chain: Chain) -> None:
    person = account("designer")
    chain.registrar_sender.send_call(
        chain.evidence.functions.admitParty((IND, HK, PC, COMMITMENT, "", ""), [person.address])
    )
    pid = int(chain.evidence.functions.partyCount().call())
    chain.fund(person.address)
    sent = chain.register(person, b"\x11" * 32)
    (event,) = chain.evidence.events.EvidenceRegistered().process_receipt(sent.receipt)
    assert event["args"]["partyId"] == pid
