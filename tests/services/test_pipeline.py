"""The relay pipeline's guarantees (ledger/services/pipeline.py, ledger/storage/journal.py, ledger/services/evidence.py), on a real anvil:

- one owner per single: the request thread and the pipeline never both send one registration, and a single whose
  sender died is taken over once;
- a record that lands on chain through another transaction than the journal's settles to final with the
  transaction that carried it;
- no submission stays non-final forever: the age limit expires it, with one log line;
- an accepted registration that cannot be sent now is answered 202 and sent later by the pipeline;
- one anchoring transaction per batch: of two workers that both lead for a moment, one records its transaction
  before broadcasting it and the other sends nothing; a recorded transaction the node does not know is sent again
  only once it has stayed unknown for a while.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from typing import Any

import pytest
import rlp
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from web3 import Web3

from ledger.chain import sender as sender_module
from ledger.chain.rpc import FunctionCodec, PooledHTTPProvider, as_int, connect, rpc
from ledger.chain.sender import NotSent, SentTransaction
from ledger.domain import merkle
from ledger.domain.evidence import ANCHORED, EXPIRED, FINAL, QUEUED, SENDING, SENT, sign_single
from ledger.services import pipeline as pipeline_module
from ledger.services.evidence import ECDSA_REGISTRATION_GAS
from ledger.storage.journal import Batch, process_owner
from tests.api.conftest import Api, firm  # noqa: F401 - the admitted party fixture
from tests.helpers import h

# every test runs on each journal backend: SQLite in the data directory and PostgreSQL (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("journal_url")

LOG = "ipledger.pipeline"


class SendLog:
    """Records every raw transaction a Web3 sends (eth_sendRawTransaction), below web3's middleware."""

    def __init__(self, w3: Web3) -> None:
        self.w3 = w3
        self.raw: list[bytes] = []
        self.hashes: list[str] = []
        self.batches: list[int] = []  # the size of each JSON-RPC batch
        self._lock = threading.Lock()

    def __enter__(self) -> SendLog:
        provider = self.w3.provider
        self._original = provider.make_request

        def logged(method: Any, params: Any) -> Any:
            answer = self._original(method, params)
            if method == "eth_sendRawTransaction":
                with self._lock:
                    self.raw.append(bytes.fromhex(str(params[0]).removeprefix("0x")))
                    if answer.get("result"):
                        self.hashes.append(str(answer["result"]))
            return answer

        provider.make_request = logged  # type: ignore[method-assign]
        provider._request_func_cache = (None, None)  # noqa: SLF001 - rebuild web3's middleware over the wrapper
        if isinstance(provider, PooledHTTPProvider):  # JSON-RPC batches too (TxSender.send_many)
            self._original_batch = provider.make_batch_request

            def logged_batch(calls: Any) -> Any:
                answers = self._original_batch(calls)
                with self._lock:
                    self.batches.append(len(calls))
                    for (method, params), answer in zip(calls, answers, strict=True):
                        if method == "eth_sendRawTransaction":
                            self.raw.append(bytes.fromhex(str(params[0]).removeprefix("0x")))
                            if answer.get("result"):
                                self.hashes.append(str(answer["result"]))
                return answers

            provider.make_batch_request = logged_batch  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        self.w3.provider.make_request = self._original  # type: ignore[method-assign]
        self.w3.provider._request_func_cache = (None, None)  # noqa: SLF001
        if isinstance(self.w3.provider, PooledHTTPProvider):
            self.w3.provider.make_batch_request = self._original_batch  # type: ignore[method-assign]

    def registrations(self, api: Api, contents: list[bytes]) -> list[bytes]:
        """Which of ``contents`` every registerBySignature broadcast carried (accepted by the node or not)."""
        selector = FunctionCodec(api.ledger.evidence, "registerBySignature").selector
        out = []
        for raw in self.raw:
            assert raw[0] == 2, "a dynamic-fee transaction"
            data = bytes(rlp.decode(raw[1:])[7])
            if data[:4] == selector:
                carried = [c for c in contents if c in data]
                assert len(carried) == 1, "a registration of one of the hashes of the test"
                out.append(carried[0])
        return out


def signed(api: Api, acct: LocalAccount, content: bytes) -> Any:
    return sign_single(acct, api.domain(), binding=content, algorithm=1, nonce=0, deadline=api.chain.now() + 3600)


def settle(api: Api, *, steps: int = 200) -> None:
    """Steps the pipeline (mining a block now and then) until nothing is queued, sending, sent or anchored."""
    for _ in range(steps):
        api.ledger.pipeline.step(force_batch=True)
        counts = api.ledger.store.counts()
        if not any(counts.get(s) for s in (QUEUED, SENDING, SENT, ANCHORED)):
            return
        rpc(api.ledger.w3, "evm_mine", [])
        time.sleep(0.02)
    raise AssertionError(f"the journal did not settle: {api.ledger.store.counts()}")


# --- one owner per single -----------------------------------------------------------------------------


def test_the_request_and_the_pipeline_never_both_send_one_registration(api: Api, firm: LocalAccount) -> None:
    ledger = api.ledger
    relayer, pipeline, svc = ledger.relayer, ledger.pipeline, ledger.evidence_service
    assert relayer is not None
    real_send = relayer.send

    def slow_send(tx: dict[str, Any], **kw: Any) -> Any:  # widens the moment between journalling and sending
        time.sleep(random.uniform(0.02, 0.08))
        return real_send(tx, **kw)

    relayer.send = slow_send  # type: ignore[method-assign]
    contents = [h(f"hammer {i}") for i in range(48)]
    errors: list[BaseException] = []

    def submit(chunk: list[bytes]) -> None:
        for content in chunk:
            try:
                svc.submit_single(signed(api, firm, content))
            except BaseException as exc:  # noqa: BLE001 - collected and asserted below
                errors.append(exc)

    pipeline.tick = 0.001  # the pipeline looks at the journal as often as it can meanwhile
    with SendLog(ledger.w3) as sends:
        pipeline.start()
        try:
            threads = [threading.Thread(target=submit, args=(contents[i::6],)) for i in range(6)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(120)
        finally:
            pipeline.stop()
        relayer.send = real_send  # type: ignore[method-assign]
        settle(api)
    assert errors == []
    sent = sends.registrations(api, contents)
    assert sorted(sent) == sorted(contents), "every registration sent exactly once"
    for tx_hash in sends.hashes:
        assert as_int(rpc(ledger.w3, "eth_getTransactionReceipt", [tx_hash])["status"]) == 1, "no reverted registration"
    for content in contents:
        item = ledger.store.item(content)
        assert item is not None and item[0].status == FINAL and item[0].tx_hash in sends.hashes
        assert api.client.get(f"/v1/receipts/{item[0].receipt_id}").json()["transactionHash"] == item[0].tx_hash


def test_singles_journalled_for_a_worker_go_out_together_on_their_simulation_and_a_late_refusal_settles(
    api: Api, firm: LocalAccount
) -> None:
    """A replica of `ipledger serve` (no relaying from the API) journals singles `queued` with the gas its
    simulation established; the pipeline claims them at once and sends them in one JSON-RPC batch without
    estimating them again. One that the chain refuses by the time it is sent (its party registered it itself
    meanwhile) fails on chain and is settled from the record, with the party's own transaction."""
    ledger = api.ledger
    svc, relayer = ledger.evidence_service, ledger.relayer
    assert relayer is not None
    estimates = 0
    real_estimate = relayer.estimate

    def counted(tx: dict[str, Any]) -> int:
        nonlocal estimates
        estimates += 1
        return real_estimate(tx)

    contents = [h(f"worker batch {i}") for i in range(5)]
    svc.settings.relay_from_api = False
    try:
        subs = [svc.submit_single(signed(api, firm, c)) for c in contents]
    finally:
        svc.settings.relay_from_api = True
    assert [(s.status, s.owner, s.tx_hash) for s in subs] == [(QUEUED, None, None)] * 5
    assert all(svc.simulated_gas(s) == ECDSA_REGISTRATION_GAS for s in subs)
    direct = api.chain.register(firm, contents[0])  # the party registers the first itself after acceptance
    relayer.estimate = counted  # type: ignore[method-assign]
    # the worker's connection, as `ipledger worker` makes it: one that sends JSON-RPC batches
    api_w3, relayer.w3 = relayer.w3, connect(api.chain.w3.provider.endpoint_uri)  # type: ignore[attr-defined]
    try:
        with SendLog(relayer.w3) as sends:
            settle(api, steps=60)
    finally:
        relayer.estimate, relayer.w3 = real_estimate, api_w3  # type: ignore[method-assign]
    assert estimates == 0
    assert sends.batches[0] == 5  # the five in one round trip
    assert sorted(sends.registrations(api, contents)) == sorted(contents)  # each sent once, the first too
    rows = [ledger.store.submission(s.id) for s in subs]
    assert all(r is not None and r.status == FINAL for r in rows)
    assert rows[0].tx_hash == direct.tx_hash  # type: ignore[union-attr]
    assert {r.tx_hash for r in rows[1:]} <= set(sends.hashes)  # type: ignore[union-attr]


def test_singles_beyond_the_relayers_window_are_answered_202_and_sent_as_it_opens_without_a_fault(
    api: Api, firm: LocalAccount, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The relayer keeps at most MAX_IN_FLIGHT transactions unmined (ledger/chain/sender.py). A registration
    beyond them is accepted and left queued; the pipeline holds it back as well, without counting a fault, and
    sends it once the window opens."""
    monkeypatch.setattr(sender_module, "MAX_IN_FLIGHT", 0)  # shut: nothing is sent
    bodies = [api.single_body(firm, h(f"window {i}")) for i in range(3)]
    answers = [api.client.post("/v1/evidence", json=body) for body in bodies]
    assert [(r.status_code, r.json()["status"]) for r in answers] == [(202, "queued")] * 3
    pipeline = api.ledger.pipeline
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            pipeline.step()  # a fault would raise here (the pipeline's thread logs it and backs off)
    assert pipeline.fault is None and caplog.records == [], "held back quietly"
    assert api.ledger.store.counts().get(QUEUED) == 3
    monkeypatch.setattr(sender_module, "MAX_IN_FLIGHT", 400)  # open
    with SendLog(api.ledger.w3) as sends:
        settle(api)
    contents = [bytes.fromhex(body["binding"][2:]) for body in bodies]
    assert sorted(sends.registrations(api, contents)) == sorted(contents)
    for r in answers:
        assert api.client.get(f"/v1/receipts/{r.json()['receiptId']}").json()["status"] == "final"


def test_a_single_held_by_a_live_sender_is_left_alone_and_one_whose_sender_died_is_taken_over_once(
    api: Api, firm: LocalAccount
) -> None:
    ledger, store = api.ledger, api.ledger.store
    relayer = ledger.relayer
    assert relayer is not None
    real_send, inside, release = relayer.send, threading.Event(), threading.Event()

    def stuck_send(tx: dict[str, Any], **kw: Any) -> Any:
        inside.set()
        release.wait(30)
        raise NotSent("the process died here")  # what a crash looks like to the journal: sent by nobody

    relayer.send = stuck_send  # type: ignore[method-assign]
    request = threading.Thread(target=lambda: ledger.evidence_service.submit_single(signed(api, firm, h("orphan"))))
    request.start()
    assert inside.wait(30)
    relayer.send = real_send  # type: ignore[method-assign]
    sub = store.item(h("orphan"))[0]  # type: ignore[index]
    assert sub.status == SENDING and sub.owner == process_owner()
    with SendLog(ledger.w3) as sends:
        ledger.pipeline.step()  # held by a live sender within its lease: not touched
        assert sends.raw == []
        # The same row as a process that died would leave it: another incarnation's owner token.
        store.mark_submission(sub.id, owner=f"{process_owner().split(':')[0]}:previous")
        ledger.pipeline.step()
        ledger.pipeline.step()
    assert sends.registrations(api, [h("orphan")]) == [h("orphan")]
    release.set()
    request.join(30)
    assert store.submission(sub.id).status in (SENT, ANCHORED)  # type: ignore[union-attr]
    settle(api)
    assert store.submission(sub.id).status == FINAL  # type: ignore[union-attr]


def test_a_sender_out_of_its_lease_loses_the_single_to_the_pipeline(api: Api, firm: LocalAccount) -> None:
    store = api.ledger.store
    sub, _ = store.add_submission(
        kind="single",
        registrant=firm.address,
        party_id=1,
        algorithm=1,
        hashes=[h("lease")],
        root=None,
        deadline=api.chain.now() + 3600,
        signature=b"\1" * 65,
        digest=None,
        payload=None,
        owner="1:alive-elsewhere",
    )
    # PID 1 is alive: only its lease protects its row
    assert store.claimable_singles(process_owner(), time.time())[0].id == sub.id
    api.ledger.pipeline._send_queued_singles()  # noqa: SLF001 - one pass of the sending step
    assert store.submission(sub.id).owner == "1:alive-elsewhere"  # type: ignore[union-attr]
    store.mark_submission(sub.id, lease_until=time.time() - 1)
    assert store.claim(sub.id, "me", status=SENDING, held_by="1:alive-elsewhere") is not None
    assert store.claim(sub.id, "someone else", status=SENDING, held_by="1:alive-elsewhere") is None  # one owner


# --- one anchoring transaction per batch ------------------------------------------------------------------


def queued_batch(api: Api, firm: LocalAccount, label: str) -> Batch:
    """A batch of two accepted hashes, formed in the journal as the pipeline forms one, not yet anchored."""
    resp = api.client.post("/v1/evidence/batch", json=api.batch_body(firm, [h(f"{label} 1"), h(f"{label} 2")]))
    assert resp.status_code == 202, resp.text
    waiting = api.ledger.store.queued("batch")
    tree = merkle.MerkleTree(merkle.leaf_hash(bytes(s.digest or b"")) for s in waiting)
    return api.ledger.store.create_batch(tree.root, [s.id for s in waiting], sum(s.count for s in waiting))


def anchor_sends(api: Api, sends: SendLog) -> list[str]:
    """The hashes of the anchorBatch transactions broadcast (taken by the node or not)."""
    selector = FunctionCodec(api.ledger.evidence, "anchorBatch").selector
    return ["0x" + keccak(raw).hex() for raw in sends.raw if bytes(rlp.decode(raw[1:])[7])[:4] == selector]


def test_of_two_workers_leading_at_once_one_anchors_the_batch_and_the_other_sends_nothing(
    api: Api, firm: LocalAccount
) -> None:
    ledger = api.ledger
    relayer, pipeline = ledger.relayer, ledger.pipeline
    assert relayer is not None
    batch = queued_batch(api, firm, "split lead")
    real_send_call = relayer.send_call
    others: list[str] = []

    def other_worker_first(fn: Any, **kw: Any) -> Any:
        # This worker has read the batch queued and is about to send; the other, which read it queued too,
        # anchors it first (a lease lost between a check and a send leaves two leaders for a moment).
        if not others:
            others.append("anchoring")
            pipeline._anchor(batch)  # noqa: SLF001 - the other leader's step on what it read
        return real_send_call(fn, **kw)

    relayer.send_call = other_worker_first  # type: ignore[method-assign]
    rpc(ledger.w3, "evm_setAutomine", [False])  # the other's transaction waits in the pool, as on a chain with blocks
    try:
        with SendLog(ledger.w3) as sends:
            pipeline._anchor(batch)  # noqa: SLF001 - this leader's step on the same read
    finally:
        relayer.send_call = real_send_call  # type: ignore[method-assign]
        rpc(ledger.w3, "evm_setAutomine", [True])
    anchors = anchor_sends(api, sends)
    assert len(anchors) == 1, "one anchoring transaction broadcast"
    recorded = ledger.store.batch(batch.id)
    assert recorded is not None and recorded.status == SENT and recorded.tx_hash == anchors[0]
    rpc(ledger.w3, "evm_mine", [])
    with SendLog(ledger.w3) as more:
        settle(api)
        post = api.client.post("/v1/evidence", json=api.single_body(firm, h("split lead after")))
        assert post.status_code == 202, post.text
        settle(api)  # the nonce the losing worker signed at was left free: the next transaction is mined
    assert anchor_sends(api, more) == []
    final = ledger.store.batch(batch.id)
    assert final is not None and final.status == FINAL and final.tx_hash == anchors[0]
    assert as_int(rpc(ledger.w3, "eth_getTransactionReceipt", [anchors[0]])["status"]) == 1


def test_a_recorded_anchor_the_node_does_not_know_is_sent_again_only_after_it_stayed_unknown(
    api: Api, firm: LocalAccount, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker that recorded its anchoring transaction and died before broadcasting it: the next leader waits
    ANCHOR_LOST_AFTER (the first may be broadcasting it this moment), then anchors the batch itself, once."""
    ledger = api.ledger
    batch = queued_batch(api, firm, "died before broadcast")
    never_sent = "0x" + keccak(text="an anchoring transaction never broadcast").hex()
    assert ledger.store.claim_batch_send(batch.id, never_sent, status=QUEUED, held_by=None)
    assert not ledger.store.claim_batch_send(batch.id, "0x" + "11" * 32, status=QUEUED, held_by=None)
    monkeypatch.setattr(pipeline_module, "ANCHOR_LOST_AFTER", 1.0)
    with SendLog(ledger.w3) as sends:
        ledger.pipeline.step()
        assert anchor_sends(api, sends) == [], "unknown for a moment only: not sent again yet"
        time.sleep(1.1)
        ledger.pipeline.step()
        ledger.pipeline.step()
    anchors = anchor_sends(api, sends)
    assert len(anchors) == 1
    settle(api)
    final = ledger.store.batch(batch.id)
    assert final is not None and final.status == FINAL and final.tx_hash == anchors[0]


# --- a record carried by another transaction ----------------------------------------------------------


def test_a_record_carried_by_another_transaction_settles_final_with_that_transaction(
    api: Api, firm: LocalAccount
) -> None:
    ledger, w3 = api.ledger, api.ledger.w3
    req = signed(api, firm, h("carried elsewhere"))
    rpc(w3, "evm_setAutomine", [False])
    try:
        sub = ledger.evidence_service.submit_single(req)  # the relayer's transaction waits in the pool
        assert sub.status == SENT and sub.tx_hash is not None
        rpc(w3, "anvil_dropTransaction", [sub.tx_hash])  # ... and the node loses it
    finally:
        rpc(w3, "evm_setAutomine", [True])
    # The party relays its own signature itself: the record lands through a transaction the journal never held.
    carrying = api.chain.as_(firm).send_call(api.chain.evidence.functions.registerBySignature(req.as_args()))
    assert isinstance(carrying, SentTransaction) and carrying.status == 1
    with SendLog(w3) as sends:
        settle(api, steps=60)
    assert sends.raw == [], "nothing sent again"
    row = ledger.store.submission(sub.id)
    assert row is not None and row.status == FINAL
    assert row.tx_hash == carrying.tx_hash and row.block_number == carrying.block_number
    body = api.client.get(f"/v1/receipts/{sub.receipt_id}").json()
    assert body["status"] == "final" and body["transactionHash"] == carrying.tx_hash


def test_a_journalled_transaction_that_reverts_behind_the_carrying_one_is_replaced_by_it(
    api: Api, firm: LocalAccount
) -> None:
    ledger, w3 = api.ledger, api.ledger.w3
    req = signed(api, firm, h("raced"))
    party = api.chain.as_(firm)  # funded while blocks are still mined
    rpc(w3, "evm_setAutomine", [False])
    try:
        sub = ledger.evidence_service.submit_single(req)
        fn = api.chain.evidence.functions.registerBySignature(req.as_args())
        tx = {"to": fn.address, "data": fn._encode_transaction_data(), "value": 0}
        fees = {"maxFeePerGas": 10**12, "maxPriorityFeePerGas": 10**11}  # ahead of the relayer's in the block
        carrying = party.sign(
            {
                **tx,
                **fees,
                "from": firm.address,
                "chainId": w3.eth.chain_id,
                "gas": 300_000,
                "nonce": w3.eth.get_transaction_count(firm.address),
            }
        )
        carrying_hash = Web3.to_hex(w3.eth.send_raw_transaction(carrying))
        rpc(w3, "evm_mine", [])
    finally:
        rpc(w3, "evm_setAutomine", [True])
    assert w3.eth.get_transaction_receipt(sub.tx_hash)["status"] == 0  # the journal's transaction reverted
    settle(api, steps=60)
    row = ledger.store.submission(sub.id)
    assert row is not None and row.status == FINAL and row.tx_hash == carrying_hash


# --- the age limit -----------------------------------------------------------------------------------------


def test_a_single_that_cannot_be_sent_expires_at_the_age_limit_with_one_log_line(
    api: Api, firm: LocalAccount, caplog: pytest.LogCaptureFixture
) -> None:
    ledger = api.ledger
    relayer = ledger.relayer
    assert relayer is not None
    real_send = relayer.send
    relayer.send = lambda tx, **kw: (_ for _ in ()).throw(NotSent("the chain node does not answer"))  # type: ignore[method-assign]
    try:
        sub = ledger.evidence_service.submit_single(signed(api, firm, h("too old")))
    finally:
        relayer.send = real_send  # type: ignore[method-assign]
    assert sub.status == QUEUED  # accepted, given back to the pipeline
    ledger.settings.submission_max_age = 1
    time.sleep(1.2)
    with caplog.at_level(logging.INFO, logger=LOG), SendLog(ledger.w3) as sends:
        for _ in range(3):
            ledger.pipeline.step()
            ledger.pipeline._expiry_at = 0  # noqa: SLF001 - look again at once
    assert sends.raw == []
    row = ledger.store.submission(sub.id)
    assert row is not None and row.status == EXPIRED and "after it was accepted" in (row.error or "")
    assert len([r for r in caplog.records if "expired" in r.getMessage()]) == 1
    body = api.client.get(f"/v1/receipts/{sub.receipt_id}").json()
    assert body["status"] == "expired" and body["error"]
    # the hash is free again for a new signed request
    ledger.settings.submission_max_age = 3600
    again = ledger.evidence_service.submit_single(signed(api, firm, h("too old")))
    assert again.id != sub.id and again.status == SENT


def test_a_sent_single_the_node_lost_expires_instead_of_being_sent_again_past_the_age_limit(
    api: Api, firm: LocalAccount
) -> None:
    ledger, w3 = api.ledger, api.ledger.w3
    rpc(w3, "evm_setAutomine", [False])
    try:
        sub = ledger.evidence_service.submit_single(signed(api, firm, h("lost and old")))
        rpc(w3, "anvil_dropTransaction", [sub.tx_hash])
    finally:
        rpc(w3, "evm_setAutomine", [True])
    ledger.relayer.resync()  # type: ignore[union-attr]
    ledger.settings.submission_max_age = 1
    time.sleep(1.2)
    with SendLog(w3) as sends:
        for _ in range(12):
            ledger.pipeline.step()
            rpc(w3, "evm_mine", [])
    assert sends.raw == []
    assert ledger.store.submission(sub.id).status == EXPIRED  # type: ignore[union-attr]


def test_a_queued_batch_submission_expires_at_the_age_limit(api: Api, firm: LocalAccount) -> None:
    body = api.batch_body(firm, [h("batch old 1"), h("batch old 2")])
    resp = api.client.post("/v1/evidence/batch", json=body)
    assert resp.status_code == 202, resp.text
    api.ledger.settings.submission_max_age = 1
    api.ledger.settings.batch_interval = 3600
    time.sleep(1.2)
    api.ledger.pipeline.step()
    assert api.client.get(f"/v1/receipts/{resp.json()['receiptId']}").json()["status"] == "expired"


# --- accepted means answered 202 -------------------------------------------------------------------------


def test_an_accepted_registration_the_relayer_cannot_send_now_is_answered_202_and_sent_later(
    api: Api, firm: LocalAccount
) -> None:
    relayer = api.ledger.relayer
    assert relayer is not None
    real_send = relayer.send
    relayer.send = lambda tx, **kw: (_ for _ in ()).throw(NotSent("the relayer's nonce kept being taken"))  # type: ignore[method-assign]
    try:
        body = api.single_body(firm, h("later"))
        resp = api.client.post("/v1/evidence", json=body)
    finally:
        relayer.send = real_send  # type: ignore[method-assign]
    assert resp.status_code == 202 and resp.json()["status"] == "queued"
    with SendLog(api.ledger.w3) as sends:
        settle(api)
    binding = bytes.fromhex(body["binding"][2:])
    assert sends.registrations(api, [binding]) == [binding]
    assert api.client.get(f"/v1/receipts/{resp.json()['receiptId']}").json()["status"] == "final"
