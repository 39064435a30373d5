"""Natural persons as parties, wired by hand on the session anvil (ledger/services/persons.py,
ledger/storage/personal.py): admission with the identity kept off chain, duplicate refusal by the keyed hash, crash
settlement, the person's signed access and erasure, and certificates that still verify after erasure."""

from __future__ import annotations

import dataclasses
import stat
import time
from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount

from ledger.certificates.verify import Rpc, verify
from ledger.config import Settings
from ledger.domain import eip712
from ledger.domain.codes import IdentifierScheme
from ledger.domain.consent import SignedConsent
from ledger.domain.evidence import sign_single
from ledger.domain.hashing import HashAlgorithm, public_binding
from ledger.domain.parties import PartyProfile, PersonIdentity, person_commitment
from ledger.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from ledger.services.evidence import CertificateBuilder, EvidenceService
from ledger.services.parties import PartyService
from ledger.services.persons import PersonService
from ledger.storage.journal import Store
from ledger.storage.personal import KEY_FILE, PersonalStore
from tests.helpers import Chain, account, h
from tests.services.test_collaborators import connection

NAME_EN, NAME_ZH, HKID = "Chan Siu Ming", "陳小明", "A123456(3)"


def identity(hkid: str = "a1234563", name_en: str = NAME_EN, name_zh: str = NAME_ZH) -> PersonIdentity:
    return PersonIdentity(
        "hkid", hkid, name_zh, name_en, "I consent to the processing described in docs/privacy.md", "1"
    )


def wire(chain: Chain, data: Path) -> tuple[PersonService, EvidenceService, Store]:
    conn = connection(chain, registrar=True)
    journal = Store(data / "journal.sqlite3")
    parties = PartyService(conn)
    evidence = EvidenceService(conn, journal, Settings(data_dir=data, confirmations=0, final_after=0), parties)
    return PersonService(conn, parties, PersonalStore(data), CertificateBuilder(evidence)), evidence, journal


def signed(svc: PersonService, who: LocalAccount, action: str, pid: int, chain: Chain, subject: bytes = bytes(32)):
    nonce, deadline = svc.nonce(pid), max(chain.now(), int(time.time())) + 600
    sig = eip712.sign(svc.request_message(action, pid, nonce, deadline, subject), who)
    return {"account": who.address, "nonce": nonce, "deadline": deadline, "signature": sig}


def every_file(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def test_an_individual_is_admitted_with_its_identity_off_chain_and_once_only(anvil: Chain, tmp_path: Path) -> None:
    svc, _, _ = wire(anvil, tmp_path)
    person = account("svc-person")
    before = svc.parties.count()
    shown = svc.admit(identity(), "hksar", [person.address])
    pid = shown["partyId"]
    assert shown["kind"] == "individual" and shown["identifierScheme"] == "person_commitment"
    assert (shown["nameZh"], shown["nameEn"]) == ("", "")
    assert shown["naturalPerson"] == {"en": f"natural person, party {pid}", "zh": f"自然人，第 {pid} 号当事人"}
    record = svc.store.by_party(pid)
    assert record is not None and record.state == "admitted" and record.identifier == HKID
    assert shown["identifier"] == person_commitment("hkid", HKID, bytes(record.salt or b""))
    key = tmp_path / KEY_FILE
    assert stat.S_IMODE(key.stat().st_mode) == 0o600 and len(key.read_bytes()) == 32
    # the same card, written otherwise, is refused before anything is sent; the message names no personal data
    with pytest.raises(Conflict) as dup:
        svc.admit(identity(" A123456 (3) ", name_en="Someone Else"), "hksar", [account("svc-person-2").address])
    assert dup.value.details == {"partyId": pid} and HKID not in dup.value.message
    assert svc.parties.count() == before + 1


def test_the_party_service_alone_does_not_admit_an_individual(anvil: Chain, tmp_path: Path) -> None:
    svc, _, _ = wire(anvil, tmp_path)
    profile = PartyProfile("individual", "hksar", "person_commitment", "0x" + "ab" * 32, "", "")
    with pytest.raises(InvalidInput) as refused:
        svc.parties.admit(profile, [account("svc-person-direct").address])
    assert refused.value.field == "kind"


def test_a_failed_admission_leaves_no_personal_data(anvil: Chain, tmp_path: Path) -> None:
    svc, _, _ = wire(anvil, tmp_path)
    taken = account("svc-person-taken")
    anvil.admit([taken.address])
    with pytest.raises(Conflict, match="already belongs to party"):
        svc.admit(identity("G123456(A)"), "hksar", [taken.address])
    assert svc.store.rows() == []
    with pytest.raises(InvalidInput) as bad:
        svc.admit(identity("A123456(4)"), "hksar", [account("svc-person-x").address])
    assert bad.value.field == "identifier" and "A123456" not in bad.value.message


def test_a_crash_between_sending_and_recording_is_settled_on_restart(anvil: Chain, tmp_path: Path) -> None:
    svc, _, _ = wire(anvil, tmp_path)
    common = {"id_scheme": "hkid", "name_zh": "", "consent_text": "yes", "consent_version": "1"}
    mined = person_commitment("hkid", "AB987654(3)", bytes(32))
    lost = person_commitment("hkid", "G123456(A)", bytes(32))
    svc.store.add_pending(
        commitment=mined, keyed_hash="k1", identifier="AB987654(3)", name_en="Mined", salt=bytes(32), now=0, **common
    )
    svc.store.add_pending(
        commitment=lost, keyed_hash="k2", identifier="G123456(A)", name_en="Lost", salt=bytes(32), now=0, **common
    )
    # the admission of the first was mined before the crash; the second was never sent
    anvil.registrar_sender.send_call(
        anvil.evidence.functions.admitParty(
            (7, 2, int(IdentifierScheme.PERSON_COMMITMENT), mined, "", ""), [account("svc-crash").address]
        )
    )
    restarted, _, _ = wire(anvil, tmp_path)
    assert restarted.settle(min_age=0) == 2
    rows = {r["commitment"]: r for r in restarted.store.rows()}
    assert set(rows) == {mined} and rows[mined]["state"] == "admitted"
    assert rows[mined]["party_id"] == restarted.parties.count()
    assert b"Lost" not in (tmp_path / "personal.sqlite3").read_bytes()


def test_an_admission_still_in_the_nodes_pool_at_a_restart_keeps_its_personal_record(
    anvil: Chain, tmp_path: Path
) -> None:
    """A crash after the admission reached the node but before it was mined: the restart must not delete the
    personal record (the salt with it), or the party it becomes would have no person behind it."""
    svc, _, _ = wire(anvil, tmp_path)
    common = {"id_scheme": "hkid", "name_zh": "", "consent_text": "yes", "consent_version": "1"}
    commitment = person_commitment("hkid", "AB987654(3)", bytes(32))
    svc.store.add_pending(
        commitment=commitment, keyed_hash="k1", identifier="AB987654(3)", name_en="Pooled", salt=bytes(32), now=0,
        **common,
    )  # fmt: skip
    anvil.w3.provider.make_request("evm_setAutomine", [False])
    try:
        anvil.registrar_sender.send_call(
            anvil.evidence.functions.admitParty(
                (7, 2, int(IdentifierScheme.PERSON_COMMITMENT), commitment, "", ""), [account("svc-pooled").address]
            ),
            wait=False,
        )  # broadcast, not mined: then the process "crashes"
        restarted, _, _ = wire(anvil, tmp_path)
        assert restarted.settle(min_age=0) == 0
        assert [r["state"] for r in restarted.store.rows()] == ["pending"]
    finally:
        anvil.w3.provider.make_request("evm_setAutomine", [True])
    anvil.w3.provider.make_request("evm_mine", [])
    assert restarted.settle(min_age=0) == 1
    (row,) = restarted.store.rows()
    assert (row["state"], row["party_id"]) == ("admitted", restarted.parties.count())


def test_only_an_account_of_the_party_sees_its_personal_data_once_per_nonce(anvil: Chain, tmp_path: Path) -> None:
    svc, _, _ = wire(anvil, tmp_path)
    person, stranger = account("svc-person-see"), account("svc-person-stranger")
    pid = svc.admit(identity("G123456(A)"), "hksar", [person.address])["partyId"]
    req = signed(svc, person, "show", pid, anvil)
    seen = svc.show(pid, **req)
    assert (seen["identifier"], seen["nameEn"], seen["state"]) == ("G123456(A)", NAME_EN, "admitted")
    assert seen["commitment"] == person_commitment("hkid", "G123456(A)", bytes.fromhex(seen["salt"][2:]))
    with pytest.raises(Conflict) as replay:
        svc.show(pid, **req)
    assert replay.value.field == "nonce"
    forged = signed(svc, stranger, "show", pid, anvil)
    with pytest.raises(PermissionDenied):
        svc.show(pid, **forged)
    wrong_action = signed(svc, person, "show", pid, anvil)
    with pytest.raises(PermissionDenied, match="does not verify"):
        svc.erase(pid, **wrong_action)  # a "show" signature does not erase
    late = signed(svc, person, "show", pid, anvil)
    late["deadline"] = anvil.now() - 1
    with pytest.raises(InvalidInput):
        svc.show(pid, **late)


def test_after_erasure_nothing_personal_remains_and_the_certificate_still_verifies(
    anvil: Chain, tmp_path: Path
) -> None:
    svc, evidence, journal = wire(anvil, tmp_path)
    person = account("svc-person-erase")
    pid = svc.admit(identity("AB987654(3)"), "hksar", [person.address])["partyId"]
    content = h("a design draft of a lamp")
    binding = public_binding(content, pid, HashAlgorithm.SHA256)
    req = sign_single(
        person, evidence.domain(), binding=binding, algorithm=1, nonce=0, deadline=anvil.now() + 3600, party_id=pid
    )
    sub = evidence.submit_single(req)
    assert sub.tx_hash is not None
    anvil.w3.eth.wait_for_transaction_receipt(sub.tx_hash, timeout=30)
    own = svc.own_certificate(content, pid, **signed(svc, person, "certificate", pid, anvil, content))
    assert own["holder"]["nameEn"] == NAME_EN and own["holder"]["nameZh"] == NAME_ZH
    public = svc.certificates.build(content)
    assert NAME_EN not in str(public) and "natural person, party" in str(public["registrant"])
    from ledger.certificates.render.pdf import render_html

    public_html, own_html = render_html(public, verify_url="http://x"), render_html(own, verify_url="http://x")
    assert f"自然人，第 {pid} 号当事人" in public_html and NAME_EN not in public_html
    assert NAME_EN in own_html and NAME_ZH in own_html

    before = (tmp_path / "personal.sqlite3").read_bytes()
    assert NAME_EN.encode() in before and b"AB987654" in before  # what the search below must not find any more
    erased = svc.erase(pid, **signed(svc, person, "erase", pid, anvil))
    assert erased["state"] == "erased" and erased["identifier"] is None and erased["salt"] is None
    journal.close()
    needles = [NAME_EN.encode(), NAME_ZH.encode(), b"AB987654", NAME_EN.encode("utf-16-le")]
    files = every_file(tmp_path)
    assert any(f.name == "personal.sqlite3" for f in files)
    for f in files:
        data = f.read_bytes()
        for needle in needles:
            assert needle not in data, f"{needle!r} remains in {f.name}"
    # the public certificate still verifies: registered by natural person, party N
    report = verify(svc.certificates.build(content), Rpc.from_web3(anvil.w3))
    assert report.passed, report.to_json()
    party = next(c for c in report.checks if c.name == "party")
    assert f"natural person, party {pid}" in party.detail
    with pytest.raises(Conflict):
        svc.own_certificate(content, pid, **signed(svc, person, "certificate", pid, anvil, content))


def consent_for(
    svc: PersonService,
    who: LocalAccount,
    pid: int,
    bindings: list[bytes],
    chain: Chain,
    *,
    recipient: str = "Shenzhen Court of International Arbitration",
    recipient_party: int = 0,
    expires: int | None = None,
    purpose: str = "arbitration of case SCIA-2026-17",
) -> SignedConsent:
    now = max(chain.now(), int(time.time()))
    fields = {
        "party_id": pid,
        "recipient": recipient,
        "recipient_party": recipient_party,
        "bindings": tuple(bindings),
        "purpose": purpose,
        "expires": expires if expires is not None else now + 30 * 86400,
        "nonce": svc.nonce(pid),
        "deadline": now + 600,
    }
    unsigned = SignedConsent(**fields, account=who.address, signature=b"")  # type: ignore[arg-type]
    sig = eip712.sign(unsigned.message(svc.conn.evidence_domain), who)
    return SignedConsent(**fields, account=who.address, signature=sig)  # type: ignore[arg-type]


def register(
    svc: PersonService, evidence: EvidenceService, chain: Chain, who: LocalAccount, pid: int, text: str
) -> tuple[bytes, bytes]:
    content = h(text)
    binding = public_binding(content, pid, HashAlgorithm.SHA256)
    req = sign_single(
        who,
        evidence.domain(),
        binding=binding,
        algorithm=1,
        nonce=svc.parties.account(who.address)["nonce"],
        deadline=chain.now() + 3600,
        party_id=pid,
    )
    sub = evidence.submit_single(req)
    assert sub.tx_hash is not None
    chain.w3.eth.wait_for_transaction_receipt(sub.tx_hash, timeout=30)
    return content, binding


def test_a_recipient_obtains_the_named_copy_with_the_persons_signed_consent_and_nothing_else_does(
    anvil: Chain, tmp_path: Path
) -> None:
    svc, evidence, journal = wire(anvil, tmp_path)
    person, other = account("svc-consent-person"), account("svc-consent-other")
    pid = svc.admit(identity("AB987654(3)"), "hksar", [person.address])["partyId"]
    other_pid = svc.admit(identity("G123456(A)", name_en="Other Person"), "hksar", [other.address])["partyId"]
    content, binding = register(svc, evidence, anvil, person, pid, "a design draft of a chair")
    other_content, other_binding = register(svc, evidence, anvil, other, other_pid, "someone else's draft")
    content2, binding2 = register(svc, evidence, anvil, person, pid, "a second draft, not consented")

    # the operator's keys cannot consent for the person; nor can another person; nor for bindings not theirs
    with pytest.raises(PermissionDenied) as by_operator:
        svc.record_consent(consent_for(svc, anvil.registrar, pid, [binding], anvil))
    assert by_operator.value.field == "account"
    with pytest.raises(PermissionDenied):
        svc.record_consent(consent_for(svc, other, pid, [binding], anvil))
    with pytest.raises(NotFound) as not_theirs:
        svc.record_consent(consent_for(svc, person, pid, [other_binding], anvil))
    assert not_theirs.value.field == "bindings[0]"
    with pytest.raises(InvalidInput) as too_late:
        svc.record_consent(consent_for(svc, person, pid, [binding], anvil, expires=anvil.now() + 3 * 366 * 86400))
    assert too_late.value.field == "expires"

    signed_consent = consent_for(svc, person, pid, [binding], anvil, recipient_party=other_pid)
    recorded = svc.record_consent(signed_consent)
    assert recorded["recipient"].startswith("Shenzhen") and recorded["bindings"] == ["0x" + binding.hex()]
    with pytest.raises(Conflict) as replayed:
        svc.record_consent(signed_consent)
    assert replayed.value.field == "nonce"

    doc = svc.consented_certificate(pid, signed_consent, content)
    holder = doc["holder"]
    assert holder["nameEn"] == NAME_EN and holder["recipient"] == {
        "name": signed_consent.recipient,
        "partyId": other_pid,
    }
    assert holder["consent"]["digest"] == recorded["digest"] and holder["consent"]["signer"] == person.address
    assert "only in this copy" in holder["note"] and f"party {other_pid}" in holder["issuedTo"]
    assert verify(doc, Rpc.from_web3(anvil.w3)).passed
    from ledger.certificates.render.pdf import render_html

    html = render_html(doc, verify_url="http://x")
    assert "Issued to" in html and signed_consent.recipient in html and recorded["digest"] in html
    seen = svc.show(pid, **signed(svc, person, "show", pid, anvil))
    assert seen["consents"][0]["digest"] == recorded["digest"] and seen["consents"][0]["issued"] == 1

    # refusals: not covered, altered, another person's, another party's path, expired
    with pytest.raises(PermissionDenied) as uncovered:
        svc.consented_certificate(pid, signed_consent, content2)
    assert uncovered.value.field == "registration"
    altered = dataclasses.replace(signed_consent, recipient="Someone Else Ltd")
    with pytest.raises(PermissionDenied) as bad_sig:
        svc.consented_certificate(pid, altered, content)
    assert bad_sig.value.field == "consent.signature"
    widened = dataclasses.replace(signed_consent, bindings=(binding, binding2))
    with pytest.raises(PermissionDenied):
        svc.consented_certificate(pid, widened, content2)
    with pytest.raises(PermissionDenied) as elsewhere:
        svc.consented_certificate(other_pid, signed_consent, other_content)
    assert elsewhere.value.field == "consent.partyId"
    never_recorded = consent_for(svc, person, pid, [binding], anvil, recipient="Unrecorded Licensee")
    with pytest.raises(NotFound) as unrecorded:
        svc.consented_certificate(pid, never_recorded, content)
    assert unrecorded.value.field == "consent"
    short = consent_for(svc, person, pid, [binding2], anvil, expires=max(anvil.now(), int(time.time())) + 5)
    svc.record_consent(short)
    # past the expiry by the chain's clock (the service takes the later of the chain's and this machine's)
    anvil.w3.provider.make_request("evm_setNextBlockTimestamp", [max(short.expires, anvil.now()) + 10])  # type: ignore[arg-type]
    anvil.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    with pytest.raises(PermissionDenied) as expired:
        svc.consented_certificate(pid, short, content2)
    assert expired.value.field == "consent.expires"

    # the person revokes: refused afterwards; a stranger cannot revoke
    digest = bytes.fromhex(recorded["digest"][2:])
    with pytest.raises(PermissionDenied):
        svc.revoke_consent(pid, digest, **signed(svc, other, "revoke-consent", pid, anvil, digest))
    revoked = svc.revoke_consent(pid, digest, **signed(svc, person, "revoke-consent", pid, anvil, digest))
    assert revoked["revokedAt"] is not None
    with pytest.raises(Conflict) as refused:
        svc.consented_certificate(pid, signed_consent, content)
    assert refused.value.field == "consent"

    # erasure takes the consents with it: the recipient's name and the purpose are gone too
    again = consent_for(svc, person, pid, [binding], anvil, recipient="Kowloon Licensing Partner")
    svc.record_consent(again)
    assert b"Kowloon Licensing Partner" in (tmp_path / "personal.sqlite3").read_bytes()
    svc.erase(pid, **signed(svc, person, "erase", pid, anvil))
    assert svc.store.consents(pid) == []
    journal.close()
    for f in every_file(tmp_path):
        for needle in (b"Kowloon Licensing Partner", b"SCIA-2026-17", NAME_EN.encode()):
            assert needle not in f.read_bytes(), f"{needle!r} remains in {f.name}"
    with pytest.raises(Conflict) as erased:
        svc.consented_certificate(pid, again, content)
    assert erased.value.field == "party_id"
