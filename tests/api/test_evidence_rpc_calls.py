"""The JSON-RPC calls behind the evidence routes, counted below web3's middleware: a relayed registration
makes two calls and its transaction (it made 13), a lookup of a final record makes none within its time in memory (it made 5), and
following the journal costs one receipt per registration once it is due to become final."""

from __future__ import annotations

import threading
from typing import Any

from eth_abi import encode as abi_encode
from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from ledger.chain.artifacts import decode_revert
from ledger.domain import eip712
from ledger.domain.evidence import ANCHORED, FINAL, SENDING, sign_single
from ledger.errors import InvalidInput, SignatureRejected
from tests.api.conftest import Api, CountingProvider
from tests.helpers import FIRM_USCC, account, deploy_wallet, h

#: JSON-RPC methods the request paths no longer use: the chain id is remembered per connection, the fees and
#: the clock come from a head read at most once a second, a simulation replaces the estimates, and an ECDSA
#: signature of the registrant needs no look at its code.
NOT_PER_REQUEST = ("eth_chainId", "eth_estimateGas", "eth_getCode", "eth_blockNumber", "eth_getTransactionCount")


def post_single(api: Api, body: dict[str, Any]) -> dict[str, Any]:
    resp = api.client.post("/v1/evidence", json=body)
    assert resp.status_code == 202, resp.text
    return resp.json()  # type: ignore[no-any-return]


def mine(api: Api) -> None:
    api.chain.w3.provider.make_request("evm_mine", [])


def test_a_relayed_registration_makes_two_calls_and_sends_its_transaction(api: Api, firm: LocalAccount) -> None:
    post_single(api, api.single_body(firm, h("warm-up")))  # the first request reads the head and the chain id
    body = api.single_body(firm, h("counted"))
    with CountingProvider(api.ledger.w3) as calls:
        accepted = post_single(api, body)
    assert accepted["status"] == "pending" and accepted["partyId"] == 1
    assert calls.count("eth_call") == 2  # partyOf, and the simulation of registerBySignature
    assert calls.count("eth_sendRawTransaction") == 1
    assert calls.count("eth_getBlockByNumber") <= 1  # the shared head, re-read at most once a second
    assert not [m for m in calls.calls if m in NOT_PER_REQUEST], calls.calls
    assert len(calls.calls) <= 4
    assert api.ledger.pipeline.drain()
    assert api.client.get(f"/v1/receipts/{accepted['receiptId']}").json()["status"] == "registered"


def test_a_registration_by_a_contract_wallet_is_estimated_and_its_code_looked_at(api: Api) -> None:
    owner = account("rpc-wallet-owner")
    wallet = deploy_wallet(api.chain, owner)
    party = api.admit(account("rpc-wallet-party"), FIRM_USCC, accounts=[wallet.address])
    deadline = api.chain.now() + 3600
    message = eip712.evidence_message(
        api.domain(), binding=h("by-wallet"), algorithm=1, registrant=wallet.address, nonce=0, deadline=deadline
    )
    signature = eip712.sign_digest(eip712.digest(message), owner)  # the wallet's owner signs for it (ERC-1271)
    body = {
        "binding": "0x" + h("by-wallet").hex(),
        "partyId": party,
        "algorithm": "sha256",
        "registrant": wallet.address,
        "nonce": 0,
        "deadline": deadline,
        "signature": "0x" + signature.hex(),
    }
    with CountingProvider(api.ledger.w3) as calls:
        accepted = post_single(api, body)
    assert accepted["partyId"] == party
    assert calls.count("eth_getCode") == 1 and calls.count("eth_estimateGas") == 1 and calls.count("eth_call") == 1
    assert api.ledger.pipeline.drain()
    info = api.client.get(f"/v1/evidence/{h('by-wallet').hex()}").json()
    assert info["registrant"] == wallet.address and info["method"] == "direct"
    forged = {**body, "binding": "0x" + h("forged").hex()}  # the owner signed another hash
    resp = api.client.post("/v1/evidence", json=forged)
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "signature_rejected"


def test_the_simulation_refuses_what_the_contract_would_with_the_same_errors(api: Api, firm: LocalAccount) -> None:
    resp = api.client.post("/v1/evidence", json=api.single_body(firm, h("v2"), supersedes=h("no such v1")))
    assert resp.status_code == 400
    assert resp.json()["error"]["details"]["revert"] == "EvidenceSupersedesUnknown"
    resp = api.client.post("/v1/evidence", json=api.single_body(firm, h("n"), nonce=3))  # signed, for a future nonce
    err = resp.json()["error"]
    assert (
        resp.status_code == 400 and err["code"] == "signature_rejected" and err["details"]["revert"] == "NonceMismatch"
    )
    assert api.ledger.store.counts() == {}


def test_a_deadline_passed_on_chain_since_the_head_was_read_is_refused_naming_the_deadline(
    api: Api, firm: LocalAccount
) -> None:
    service = api.ledger.evidence_service
    req = sign_single(firm, api.domain(), binding=h("late"), algorithm=1, nonce=0, deadline=1_000)
    expired = decode_revert(
        keccak(text="SignatureExpired(uint64,uint64)")[:4] + abi_encode(["uint64", "uint64"], [1_000, 2_000])
    )
    assert isinstance(expired, SignatureRejected)
    refusal = service._refusal(req, expired)  # noqa: SLF001
    assert isinstance(refusal, InvalidInput) and refusal.field == "deadline" and "has passed" in refusal.message


def test_relayed_registrations_from_many_threads_are_all_sent_with_consecutive_nonces(
    api: Api, firm: LocalAccount
) -> None:
    service = api.ledger.evidence_service
    deadline = api.chain.now() + 3600
    requests = [
        sign_single(firm, api.domain(), binding=h(f"thread {i}"), algorithm=1, nonce=0, deadline=deadline)
        for i in range(24)
    ]
    accepted: list[Any] = []
    lock = threading.Lock()

    def submit(chunk: list[Any]) -> None:
        for req in chunk:
            sub = service.submit_single(req)
            with lock:
                accepted.append(sub)

    threads = [threading.Thread(target=submit, args=(requests[i::6],)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(accepted) == 24 and len({s.tx_hash for s in accepted}) == 24
    nonces = sorted(api.chain.w3.eth.get_transaction(s.tx_hash)["nonce"] for s in accepted)
    assert nonces == list(range(nonces[0], nonces[0] + 24))
    assert api.ledger.pipeline.drain()
    counts = api.ledger.store.counts()
    assert set(counts) <= {ANCHORED, FINAL} and sum(counts.values()) == 24, counts


def test_a_final_record_is_answered_again_without_the_chain_and_unchanged(api: Api, firm: LocalAccount) -> None:
    content = h("looked up")
    post_single(api, api.single_body(firm, content))
    assert api.ledger.pipeline.drain()
    path = f"/v1/evidence/0x{content.hex()}"
    with CountingProvider(api.ledger.w3) as calls:
        pending = [api.client.get(path).json() for _ in range(2)]
    assert [p["status"] for p in pending] == ["registered", "registered"]
    # not final: read from the chain each time (the party count, every party's record of the content in one
    # batched call, the event, and the head when the one at hand is too low)
    assert calls.count("eth_call") == 4 and calls.count("eth_getLogs") == 2 and len(calls.calls) <= 8
    assert not [m for m in calls.calls if m in NOT_PER_REQUEST], calls.calls
    mine(api)
    first = api.client.get(path).json()
    assert first["status"] == "final"
    with CountingProvider(api.ledger.w3) as calls:
        again = [api.client.get(path).json() for _ in range(3)]
    assert calls.calls == [] and again == [first] * 3
    fresh, settled = api.ledger.evidence_service._lookup(content)  # noqa: SLF001 - the answer read from the chain now
    assert fresh == first and settled


def test_a_record_deep_enough_but_younger_than_final_after_is_not_final_and_is_read_from_the_chain(
    api: Api, firm: LocalAccount
) -> None:
    api.ledger.settings.final_after = 3600
    content = h("young")
    post_single(api, api.single_body(firm, content))
    assert api.ledger.pipeline.drain()
    mine(api)
    with CountingProvider(api.ledger.w3) as calls:
        answers = [api.client.get(f"/v1/evidence/{content.hex()}").json() for _ in range(2)]
    # the lookup decides "final" as the pipeline does: deep enough and old enough
    assert [a["status"] for a in answers] == ["registered", "registered"]
    receipt = api.client.get(f"/v1/receipts/{answers[0]['receiptId']}").json()
    assert receipt["status"] == "registered"
    assert calls.count("eth_call") == 4  # partyCount and records, per lookup


def test_a_final_batched_hash_is_answered_again_without_the_chain(api: Api, firm: LocalAccount) -> None:
    hashes = [h(f"batched {i}") for i in range(4)]
    assert api.client.post("/v1/evidence/batch", json=api.batch_body(firm, hashes)).status_code == 202
    assert api.ledger.pipeline.drain()
    anchored = api.chain.now()
    api.chain.w3.provider.make_request("evm_setNextBlockTimestamp", [anchored + 1])
    mine(api)
    api.ledger.pipeline.step()
    path = f"/v1/evidence/{hashes[2].hex()}"
    first = api.client.get(path).json()
    assert first["status"] == "final" and first["method"] == "batch" and first["submissionIndex"] == 2
    with CountingProvider(api.ledger.w3) as calls:
        again = [api.client.get(path).json() for _ in range(3)]
    assert calls.calls == [] and again == [first] * 3


def test_following_anchored_registrations_costs_one_read_of_each_block_once_they_are_due(
    api: Api, firm: LocalAccount
) -> None:
    """Finality is checked by the block's hash, read once a step for all the transactions of that block (its hash
    commits to them): no receipt per transaction."""
    pipeline = api.ledger.pipeline
    api.ledger.settings.final_after = 3600
    for i in range(5):
        post_single(api, api.single_body(firm, h(f"followed {i}")))
    assert pipeline.drain()
    assert api.ledger.store.counts() == {ANCHORED: 5}
    blocks = {api.ledger.store.item(api.binding(firm, h(f"followed {i}")))[0].block_number for i in range(5)}  # type: ignore[index]
    mine(api)
    mine(api)
    pipeline.step()
    with CountingProvider(api.ledger.w3) as calls:
        pipeline.step()
        pipeline.step()
    assert calls.count("eth_getTransactionReceipt") == 0 and len(calls.calls) <= 4  # the head, twice
    api.ledger.settings.final_after = 0
    with CountingProvider(api.ledger.w3) as calls:
        pipeline.step()
    assert calls.count("eth_getTransactionReceipt") == 0
    assert calls.count("eth_getBlockByNumber") == 1 + len(blocks)  # the head, and each block once
    assert api.ledger.store.counts() == {FINAL: 5}


def test_a_block_dropped_under_anchored_registrations_has_them_checked_and_sent_again(
    api: Api, firm: LocalAccount
) -> None:
    pipeline = api.ledger.pipeline
    snapshot = api.chain.snapshot()
    content = h("dropped")
    post_single(api, api.single_body(firm, content))
    assert pipeline.drain()
    api.ledger.settings.final_after = 3600
    pipeline.step()  # the pipeline has seen the head that holds the registration
    api.chain.revert(snapshot)  # the node loses that block, as a node restarted from an older state would
    mine(api)
    mine(api)
    pipeline.step()  # the head it saw is gone: every anchored registration is looked at, this one sent again
    assert pipeline.drain()
    assert api.ledger.evidence_service.chain_record(api.binding(firm, content), 1) is not None
    sent = api.ledger.store.item(api.binding(firm, content))
    assert sent is not None and sent[0].status == ANCHORED


def test_the_pipeline_leaves_a_single_to_the_request_that_is_sending_it(api: Api, firm: LocalAccount) -> None:
    relayer, pipeline = api.ledger.relayer, api.ledger.pipeline
    assert relayer is not None
    send, inside, release = relayer.send, threading.Event(), threading.Event()

    def slow_send(tx: dict[str, Any], **kw: Any) -> Any:
        inside.set()
        release.wait(30)
        return send(tx, **kw)

    relayer.send = slow_send  # type: ignore[method-assign]
    req = sign_single(firm, api.domain(), binding=h("in hand"), algorithm=1, nonce=0, deadline=api.chain.now() + 3600)
    request = threading.Thread(target=api.ledger.evidence_service.submit_single, args=(req,))
    request.start()
    try:
        assert inside.wait(30)  # journalled as sending, held by its request about to send it
        relayer.send = send  # type: ignore[method-assign]
        with CountingProvider(api.ledger.w3) as calls:
            pipeline.step()
        assert calls.count("eth_sendRawTransaction") == 0 and api.ledger.store.counts() == {SENDING: 1}
    finally:
        release.set()
        request.join(30)
    assert pipeline.drain()
    item = api.ledger.store.item(h("in hand"))
    assert sum(api.ledger.store.counts().values()) == 1 and item is not None and item[0].status in (ANCHORED, FINAL)
