"""Services built from their collaborators alone, without the facade and without HTTP, on the session anvil
(ledger/chain/connection.py, ledger/services/parties.py, ledger/services/evidence.py, ledger/services/pipeline.py).

Each test wires what it needs by hand: a :class:`Connection` over the test deployment, a journal in a temporary
directory, and the services it calls, as ``ledger.facade.Ledger`` does.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_utils import keccak

from ledger.chain.connection import Connection
from ledger.config import Settings
from ledger.domain.evidence import ANCHORED, SENT, sign_batch, sign_single
from ledger.domain.hashing import HashAlgorithm, public_binding
from ledger.domain.parties import as_actor, as_registrant, ensure_active
from ledger.errors import InvalidInput, PartyNotActive, PermissionDenied
from ledger.services.evidence import CertificateBuilder, EvidenceService
from ledger.services.parties import PartyService
from ledger.services.pipeline import Pipeline
from ledger.storage.journal import Store
from tests.helpers import Chain, account, h


def connection(chain: Chain, *, relayer: bool = True, registrar: bool = False, governance: bool = False) -> Connection:
    return Connection(
        w3=chain.w3,
        manifest=chain.manifest,
        relayer=chain.sender if relayer else None,
        registrar=chain.registrar_sender if registrar else None,
        governance=chain.governance_sender if governance else None,
    )


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Store]:
    store = Store(tmp_path / "journal.sqlite3")
    yield store
    store.close()


def suspend(chain: Chain, party_id: int) -> None:
    chain.registrar_sender.send_call(chain.evidence.functions.suspendParty(party_id, keccak(text="test")))


# --- the connection ---------------------------------------------------------------------------------


def test_a_connection_without_keys_refuses_each_power_naming_the_missing_key(anvil: Chain) -> None:
    conn = connection(anvil, relayer=False)
    with pytest.raises(PermissionDenied, match="without a relayer account"):
        conn.require_relayer()
    with pytest.raises(PermissionDenied, match="IPLEDGER_REGISTRAR_KEYSTORE"):
        conn.require_registrar()
    fn = conn.evidence.functions.confirmSuspension(1)
    with pytest.raises(PermissionDenied) as refused:
        conn.require_governance("confirming a suspension", fn)
    call = refused.value.details["governanceCall"]
    assert call["target"] == conn.manifest.address("EvidenceRegistry") and call["calldata"].startswith("0x")
    assert "confirming a suspension needs governance" in refused.value.message
    assert conn.role_accounts() == {}


def test_a_connection_names_its_keys_and_binds_the_deployment(anvil: Chain) -> None:
    conn = connection(anvil, registrar=True, governance=True)
    relayer = conn.require_relayer()
    assert relayer.address == anvil.operator.address
    assert conn.role_accounts() == {
        anvil.operator.address: "relayer",
        anvil.registrar.address: "registrar",
        anvil.governance.address: "governance",
    }
    assert conn.evidence.address == anvil.manifest.address("EvidenceRegistry")
    assert conn.assets.address == anvil.manifest.address("IPAssetRegistry")
    assert conn.disputes.address == anvil.manifest.address("DisputeRegistry")
    assert conn.evidence_domain == anvil.domain()
    assert conn.head is relayer.head  # the relayer's head: fees and deadlines read the same block
    assert conn.durable(10**9)  # no embedded node's dump to wait for
    conn.node_durable = lambda block: block < 5
    assert conn.durable(4) and not conn.durable(5)


# --- the one party check ----------------------------------------------------------------------------


def test_the_party_check_answers_the_party_of_an_active_account(anvil: Chain) -> None:
    member = account("svc-active")
    pid = anvil.admit([member.address])
    parties = PartyService(connection(anvil, relayer=False))
    assert parties.party_of(member.address) == (pid, True)
    assert parties.active_party(member.address) == pid
    assert parties.count() >= pid and parties.profile(pid)["partyId"] == pid


def test_the_party_check_refuses_an_account_of_no_party_in_each_callers_words(anvil: Chain) -> None:
    stranger = account("svc-stranger").address
    parties = PartyService(connection(anvil, relayer=False))
    with pytest.raises(PermissionDenied) as actor:
        parties.active_party(stranger, field="account", refuse=as_actor)
    assert (actor.value.field, actor.value.message) == ("account", f"{stranger} is not an account of an active party")
    with pytest.raises(PartyNotActive) as registrant:
        parties.active_party(stranger, field="registrant", refuse=as_registrant)
    assert registrant.value.name == "AccountNotAParty" and registrant.value.field == "registrant"
    assert registrant.value.message == f"account {stranger} is not an account of any admitted party"


def test_the_party_check_refuses_a_suspended_party_and_runs_the_callers_own_check_first(anvil: Chain) -> None:
    member = account("svc-suspended")
    pid = anvil.admit([member.address])
    suspend(anvil, pid)
    parties = PartyService(connection(anvil, relayer=False))
    assert parties.party_of(member.address) == (pid, False)
    with pytest.raises(PartyNotActive) as suspended:
        parties.active_party(member.address, field="registrant", refuse=as_registrant)
    assert suspended.value.name == "PartyNotActive" and suspended.value.message == f"party {pid} is suspended"

    def not_expected(party_id: int) -> None:
        raise InvalidInput(f"party {party_id} is not a party to this", field="signer")

    with pytest.raises(InvalidInput, match=f"party {pid} is not a party to this"):
        parties.active_party(member.address, field="signer", among=not_expected)


def test_the_decision_of_the_party_check_is_pure() -> None:
    assert ensure_active("0xabc", 7, True, field="account") == 7
    with pytest.raises(PermissionDenied):
        ensure_active("0xabc", 7, False, field="account")
    with pytest.raises(PartyNotActive, match="not an account of any admitted party"):
        ensure_active("0xabc", 0, False, field="registrant", refuse=as_registrant)


# --- evidence and its pipeline, wired by hand -------------------------------------------------------


def evidence_service(chain: Chain, journal: Store, tmp_path: Path) -> EvidenceService:
    conn = connection(chain)
    settings = Settings(data_dir=tmp_path / "data", confirmations=0, final_after=0)
    return EvidenceService(conn, journal, settings, PartyService(conn))


def test_the_evidence_service_relays_a_registration_and_certifies_it_without_the_facade(
    anvil: Chain, journal: Store, tmp_path: Path
) -> None:
    firm = account("svc-evidence-firm")
    pid = anvil.admit([firm.address])
    svc = evidence_service(anvil, journal, tmp_path)
    binding = public_binding(h("svc-evidence"), pid, HashAlgorithm.SHA256)
    req = sign_single(
        firm, svc.domain(), binding=binding, algorithm=1, nonce=0, deadline=anvil.now() + 3600, party_id=pid
    )
    sub = svc.submit_single(req)
    assert sub.status == SENT and sub.party_id == pid and sub.tx_hash is not None
    # SENT means handed to the node: anvil answers eth_sendRawTransaction before it has mined the block
    anvil.w3.eth.wait_for_transaction_receipt(sub.tx_hash, timeout=30)
    record = svc.chain_record(binding, pid)
    assert record is not None and record["registrant"] == firm.address
    found = svc.lookup(h("svc-evidence"))
    assert found["partyId"] == pid and found["status"] in ("registered", "final")
    certificate = CertificateBuilder(svc).build(h("svc-evidence"))
    assert certificate["anchor"]["blockNumber"] == record["blockNumber"]


def test_the_evidence_service_refuses_a_registrant_of_no_party_before_journalling(
    anvil: Chain, journal: Store, tmp_path: Path
) -> None:
    stranger = account("svc-evidence-stranger")
    svc = evidence_service(anvil, journal, tmp_path)
    req = sign_single(
        stranger, svc.domain(), binding=h("svc-stranger"), algorithm=1, nonce=0, deadline=anvil.now() + 3600
    )
    with pytest.raises(PartyNotActive) as refused:
        svc.submit_single(req)
    assert refused.value.name == "AccountNotAParty" and refused.value.field == "registrant"
    assert journal.counts() == {}


def test_the_pipeline_anchors_a_batch_over_the_evidence_service_and_the_journal_it_is_given(
    anvil: Chain, journal: Store, tmp_path: Path
) -> None:
    firm = account("svc-batch-firm")
    pid = anvil.admit([firm.address])
    svc = evidence_service(anvil, journal, tmp_path)
    bindings = [public_binding(h(f"svc-batch-{i}"), pid, HashAlgorithm.SHA256) for i in range(3)]
    req = sign_batch(firm, svc.domain(), bindings=bindings, algorithm=1, deadline=anvil.now() + 3600, party_id=pid)
    accepted = svc.submit_batch(req)
    assert accepted.duplicates == []
    pipeline = Pipeline(svc, journal, svc.conn)
    pipeline.step(force_batch=True)
    pipeline.step()
    sub = journal.submission(accepted.submission.id)
    assert sub is not None and sub.status in (ANCHORED, "final")


def test_the_facade_only_wires_one_connection_into_every_service(anvil: Chain, tmp_path: Path) -> None:
    from ledger.facade import Ledger

    ledger = Ledger(
        w3=anvil.w3,
        manifest=anvil.manifest,
        settings=Settings(data_dir=tmp_path / "data"),
        relayer=anvil.sender,
        governance=anvil.governance_sender,
    )
    try:
        conn = ledger.connection
        services = (
            ledger.parties,
            ledger.evidence_service,
            ledger.asset_service,
            ledger.agreement_service,
            ledger.dispute_service,
            ledger.documents,
            ledger.casefiles,
            ledger.pipeline,
        )
        assert all(s.conn is conn for s in services)
        assert ledger.evidence_service.parties is ledger.parties and ledger.asset_service.parties is ledger.parties
        assert (
            ledger.documents.evidence is ledger.evidence_service and ledger.pipeline.service is ledger.evidence_service
        )
        assert (
            ledger.dispute_service.assets is ledger.asset_service
            and ledger.casefiles.disputes is ledger.dispute_service
        )
        assert (
            ledger.agreement_service.assets is ledger.asset_service
            and ledger.agreement_service.parties is ledger.parties
        )
        assert (
            ledger.casefiles.assets is ledger.asset_service and ledger.casefiles.agreements is ledger.agreement_service
        )
        assert ledger.casefiles.parties is ledger.parties
        pid = anvil.admit([account("svc-wired").address])
        ledger.governance = None  # replaced on the facade: every service sees it (the API's tests rely on it)
        assert conn.governance is None
        with pytest.raises(PermissionDenied, match="holds no governance key"):
            ledger.parties.confirm_suspension(pid)
    finally:
        ledger.close()
