"""The lean transaction path of ledger.tx: the same bytes as web3 and eth-account, fewer round trips, and
nonces that stay consecutive when several threads send at once."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from eth_account import Account
from hexbytes import HexBytes
from web3 import Web3

from ledger.chain.artifacts import load_artifact
from ledger.chain.head import ChainHead
from ledger.chain.rpc import FunctionCodec, PooledHTTPProvider, connect, rpc, rpc_batch
from ledger.chain.sender import ClaimLost, NotSent, SentTransaction, TxSender
from ledger.errors import EvidenceAlreadyRegistered, SignatureRejected
from ledger.services.evidence import ECDSA_REGISTRATION_GAS
from tests.api.conftest import CountingProvider
from tests.helpers import Chain, account, h

ADDRESS = "0x5FbDB2315678afecb367f032d93F642f64180aa3"


@pytest.mark.parametrize(
    "tx",
    [
        {
            "to": ADDRESS,
            "data": "0x" + "ab" * 420,
            "value": 0,
            "gas": 150_000,
            "nonce": 7,
            "chainId": 31337,
            "maxFeePerGas": 2_000_000_001,
            "maxPriorityFeePerGas": 1_000_000_000,
        },
        {
            "to": account("tx-sink").address,
            "data": "0x",
            "value": 10**18,
            "gas": 21_000,
            "nonce": 0,
            "chainId": 1,
            "maxFeePerGas": 0,
            "maxPriorityFeePerGas": 0,
        },
        {
            "data": "0x6080604052",
            "gas": 3_000_000,
            "nonce": 2**40,
            "chainId": 131277322940537,
            "maxFeePerGas": 10**12,
            "maxPriorityFeePerGas": 10**9,
        },  # contract creation
        {"to": ADDRESS, "data": "0x1234", "value": 0, "gas": 50_000, "nonce": 3, "chainId": 31337, "gasPrice": 10**9},
    ],
)
def test_a_transaction_signed_by_the_sender_is_byte_for_byte_what_eth_account_signs(tx: dict[str, Any]) -> None:
    acct = account("tx-signer")
    sender = TxSender(Web3(), acct)
    for i in range(5):
        t = {**tx, "nonce": tx["nonce"] + i, "from": acct.address}
        assert sender.sign(t) == bytes(
            Account.sign_transaction({k: v for k, v in t.items() if k != "from"}, acct.key).raw_transaction
        )


def test_a_function_codec_encodes_what_web3_encodes_and_decodes_what_it_decodes() -> None:
    evidence = Web3().eth.contract(address=ADDRESS, abi=load_artifact("EvidenceRegistry")["abi"])
    args = ((h("c"), 2, h("m"), b"\0" * 32), account("x").address, 5, 2**63, b"\x01" * 65)
    codec = FunctionCodec(evidence, "registerBySignature")
    assert codec.encode(args) == evidence.functions.registerBySignature(args)._encode_transaction_data()
    party_of = FunctionCodec(evidence, "partyOf")
    assert (
        party_of.encode(account("y").address)
        == evidence.functions.partyOf(account("y").address)._encode_transaction_data()
    )
    assert party_of.decode("0x" + (7).to_bytes(32, "big").hex() + (1).to_bytes(32, "big").hex()) == (7, True)
    with pytest.raises(ValueError, match="exactly one function"):
        FunctionCodec(evidence, "noSuchFunction")


def test_reverts_of_a_call_sent_past_web3_come_back_decoded(chain: Chain) -> None:
    firm = account("tx-firm")
    chain.admit([firm.address])
    chain.register(firm, h("taken"))
    codec = FunctionCodec(chain.evidence, "registerBySignature")
    data = codec.encode(chain.signed_request(firm, h("taken")))
    with pytest.raises(EvidenceAlreadyRegistered) as err:
        rpc(chain.w3, "eth_call", [{"from": chain.operator.address, "to": codec.address, "data": data}, "latest"])
    assert err.value.args_["partyId"] == 1
    data = codec.encode(chain.signed_request(firm, h("fresh"), signer=account("someone else")))
    with pytest.raises(SignatureRejected):
        rpc(chain.w3, "eth_call", [{"to": codec.address, "data": data}, "latest"])


def test_a_batch_of_calls_answers_each_in_order_with_its_revert_decoded_in_place(chain: Chain) -> None:
    """rpc_batch: one JSON-RPC batch over the pooled HTTP provider (anvil), one by one elsewhere (eth-tester, web3's
    own HTTP provider); the same answers either way."""
    firm = account("tx-batch-firm")
    chain.admit([firm.address])
    chain.register(firm, h("batch taken"))
    codec, party = FunctionCodec(chain.evidence, "registerBySignature"), FunctionCodec(chain.evidence, "partyOf")
    taken = {"to": codec.address, "data": codec.encode(chain.signed_request(firm, h("batch taken")))}
    fresh = {"from": firm.address, "to": codec.address, "data": codec.encode(chain.signed_request(firm, h("new")))}
    whose = {"to": party.address, "data": party.encode(firm.address)}
    providers = [chain.w3]
    if chain.name == "anvil":
        providers.append(connect(chain.w3.provider.endpoint_uri))  # type: ignore[attr-defined]
        assert isinstance(providers[-1].provider, PooledHTTPProvider)
    for w3 in providers:
        posts = []
        if isinstance(w3.provider, PooledHTTPProvider):
            session = w3.provider._request_session_manager  # noqa: SLF001 - count the HTTP round trips
            post = session.make_post_request
            session.make_post_request = lambda *a, **k: posts.append(1) or post(*a, **k)  # type: ignore[method-assign]
        party_of, refused, simulated = rpc_batch(
            w3, [("eth_call", [whose, "latest"]), ("eth_call", [taken, "latest"]), ("eth_call", [fresh, "latest"])]
        )
        if isinstance(w3.provider, PooledHTTPProvider):
            assert len(posts) == 1  # the three calls in one round trip
        party_id, active = party.decode(party_of)
        assert active and party_id > 0
        assert isinstance(refused, EvidenceAlreadyRegistered) and refused.args_["partyId"] == party_id
        assert simulated in ("0x", b"", HexBytes(b""))  # registerBySignature returns nothing


def test_the_worst_relayed_registration_by_an_ecdsa_signature_uses_under_half_its_gas_limit(chain: Chain) -> None:
    """ECDSA_REGISTRATION_GAS is given to relayed registrations without an estimate: keep a wide margin."""
    firm = account("gas-firm")
    chain.admit([firm.address])
    chain.register(firm, h("v1"))
    request = chain.signed_request(
        firm, b"\xff" * 32, algorithm=2, meta=b"\xff" * 32, supersedes=h("v1"), deadline=2**64 - 1
    )
    sent = chain.sender.send_call(chain.evidence.functions.registerBySignature(request), gas=ECDSA_REGISTRATION_GAS)
    assert isinstance(sent, SentTransaction) and sent.status == 1
    assert sent.gas_used * 2 <= ECDSA_REGISTRATION_GAS, sent.gas_used


def test_threads_sending_at_once_use_consecutive_nonces_and_every_transaction_is_mined(anvil: Chain) -> None:
    sender = TxSender(anvil.w3, account("tx-threads"))
    anvil.fund(sender.address)
    start = anvil.w3.eth.get_transaction_count(sender.address)
    hashes: list[str] = []
    lock = threading.Lock()

    def send(n: int) -> None:
        for _ in range(n):
            tx_hash = sender.send({"to": account("tx-sink").address, "value": 1}, gas=21_000, wait=False)
            with lock:
                hashes.append(str(tx_hash))

    threads = [threading.Thread(target=send, args=(6,)) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    receipts = [anvil.w3.eth.wait_for_transaction_receipt(x) for x in hashes]
    assert all(r["status"] == 1 for r in receipts)
    nonces = sorted(anvil.w3.eth.get_transaction(x)["nonce"] for x in hashes)
    assert nonces == list(range(start, start + 36))


def test_a_sender_whose_nonce_was_used_elsewhere_recovers_and_prices_from_a_shared_head(anvil: Chain) -> None:
    acct = account("tx-shared")
    anvil.fund(acct.address)
    head = ChainHead(anvil.w3)
    first, second = (TxSender(anvil.w3, acct, head=head, fee_max_age=3600) for _ in range(2))
    first.send({"to": acct.address, "value": 0}, gas=21_000)
    second.send({"to": acct.address, "value": 0}, gas=21_000)
    with CountingProvider(anvil.w3) as rpc_calls:
        sent = first.send({"to": acct.address, "value": 0}, gas=21_000, wait=False)  # its nonce was taken by `second`
    assert anvil.w3.eth.wait_for_transaction_receipt(sent)["status"] == 1
    # the refused send, the nonce read and the retry; the fees came from the shared head, no chain id asked
    assert rpc_calls.count("eth_sendRawTransaction") == 2 and rpc_calls.count("eth_getTransactionCount") == 1
    assert rpc_calls.count("eth_getBlockByNumber") == 0 and rpc_calls.count("eth_chainId") == 0


def test_a_send_whose_claim_is_refused_broadcasts_nothing_and_leaves_its_nonce_free(anvil: Chain) -> None:
    """``before_broadcast`` is asked with the hash of what is about to be broadcast, after every re-signing: the
    caller's record of its claim. Refused, nothing goes out and the next transaction takes the same nonce."""
    acct = account("tx-claim")
    anvil.fund(acct.address)
    sender, other = TxSender(anvil.w3, acct), TxSender(anvil.w3, acct)
    start = anvil.w3.eth.get_transaction_count(acct.address)
    asked: list[str] = []

    def claim(answer: bool) -> Any:
        return lambda tx_hash: asked.append(tx_hash) or answer

    with CountingProvider(anvil.w3) as rpc_calls, pytest.raises(ClaimLost):
        sender.send({"to": acct.address, "value": 0}, gas=21_000, before_broadcast=claim(False))
    assert len(asked) == 1 and rpc_calls.count("eth_sendRawTransaction") == 0
    assert anvil.w3.eth.get_transaction_count(acct.address, "pending") == start
    other.send({"to": acct.address, "value": 0}, gas=21_000)  # takes the nonce `sender` holds: it must sign again
    sent = sender.send({"to": acct.address, "value": 0}, gas=21_000, wait=False, before_broadcast=claim(True))
    assert asked[-1] == sent and len(asked) == 3, "asked again with the hash signed at the fresh nonce"
    assert anvil.w3.eth.wait_for_transaction_receipt(sent)["status"] == 1
    assert anvil.w3.eth.get_transaction(sent)["nonce"] == start + 1


def _posts(w3: Web3) -> list[int]:
    """Counts the HTTP round trips of a pooled provider from now on."""
    posts: list[int] = []
    session = w3.provider._request_session_manager  # type: ignore[attr-defined] # noqa: SLF001
    post = session.make_post_request
    session.make_post_request = lambda *a, **k: posts.append(1) or post(*a, **k)
    return posts


def _transfers(n: int, to: str) -> list[dict[str, Any]]:
    return [{"to": to, "value": i + 1} for i in range(n)]


def test_a_batch_of_transactions_goes_in_one_round_trip_with_consecutive_nonces_and_is_all_mined(anvil: Chain) -> None:
    w3 = connect(anvil.w3.provider.endpoint_uri)  # type: ignore[attr-defined]
    sender = TxSender(w3, account("tx-many"))
    anvil.fund(sender.address)
    start = w3.eth.get_transaction_count(sender.address)
    sender.send({"to": sender.address, "value": 0}, gas=21_000)  # nonce, chain id and fees known
    posts = _posts(w3)
    results = sender.send_many(_transfers(40, account("tx-sink").address), [21_000] * 40)
    assert len(posts) == 1
    assert all(isinstance(r, str) for r in results)
    receipts = [w3.eth.wait_for_transaction_receipt(r) for r in results]  # type: ignore[arg-type]
    assert all(r["status"] == 1 for r in receipts)
    assert [w3.eth.get_transaction(r)["nonce"] for r in results] == list(range(start + 1, start + 41))  # type: ignore[arg-type]
    # the next send goes on from the batch's last nonce without asking the node
    after = sender.send({"to": sender.address, "value": 0}, gas=21_000)
    assert isinstance(after, SentTransaction) and w3.eth.get_transaction(after.tx_hash)["nonce"] == start + 41


def test_a_refused_transaction_in_a_batch_leaves_no_gap_that_the_later_ones_wait_behind(anvil: Chain) -> None:
    """The third of five has a gas limit under the intrinsic 21,000: the node refuses it and takes the two after it
    at higher nonces. It is refused again on its own, so a transfer of nothing takes its nonce and the two after
    it are mined; the sender goes on from the node's next nonce."""
    w3 = connect(anvil.w3.provider.endpoint_uri)  # type: ignore[attr-defined]
    sender = TxSender(w3, account("tx-many-gap"))
    anvil.fund(sender.address)
    start = w3.eth.get_transaction_count(sender.address)
    results = sender.send_many(_transfers(5, account("tx-sink").address), [21_000, 21_000, 20_000, 21_000, 21_000])
    assert isinstance(results[2], NotSent) and "intrinsic" in results[2].message.lower()
    sent = [r for k, r in enumerate(results) if k != 2]
    assert all(isinstance(r, str) for r in sent)
    assert all(w3.eth.wait_for_transaction_receipt(r, timeout=10)["status"] == 1 for r in sent)  # type: ignore[arg-type]
    assert w3.eth.get_transaction_count(sender.address) == start + 5  # the filler took nonce start + 2
    mined = [
        tx
        for number in range(w3.eth.get_transaction(sent[0])["blockNumber"], w3.eth.block_number + 1)  # type: ignore[arg-type]
        for tx in w3.eth.get_block(number, full_transactions=True)["transactions"]
        if tx["from"] == sender.address  # type: ignore[index]
    ]
    filler = next(tx for tx in mined if tx["nonce"] == start + 2)  # type: ignore[index]
    assert filler["to"] == sender.address and filler["value"] == 0 and filler["gas"] == 21_000  # type: ignore[index]
    after = sender.send({"to": sender.address, "value": 0}, gas=21_000)
    assert isinstance(after, SentTransaction) and w3.eth.get_transaction(after.tx_hash)["nonce"] == start + 5


def test_a_batch_whose_nonces_another_sender_took_lands_after_them_once_each(anvil: Chain) -> None:
    w3 = connect(anvil.w3.provider.endpoint_uri)  # type: ignore[attr-defined]
    acct = account("tx-many-shared")
    anvil.fund(acct.address)
    head = ChainHead(w3)
    first, second = (TxSender(w3, acct, head=head, fee_max_age=3600) for _ in range(2))
    first.send({"to": acct.address, "value": 0}, gas=21_000)
    start = w3.eth.get_transaction_count(acct.address)
    for _ in range(3):
        second.send({"to": acct.address, "value": 0}, gas=21_000)  # nonces start .. start + 2, unknown to `first`
    results = first.send_many(_transfers(5, account("tx-sink").address), [21_000] * 5)
    assert all(isinstance(r, str) for r in results), results
    nonces = sorted(w3.eth.get_transaction(r)["nonce"] for r in results)  # type: ignore[arg-type]
    assert nonces == list(range(start + 3, start + 8))
    assert all(w3.eth.wait_for_transaction_receipt(r, timeout=10)["status"] == 1 for r in results)  # type: ignore[arg-type]
    assert w3.eth.get_transaction_count(acct.address) == start + 8  # no transfer of nothing was needed


def test_a_batch_priced_below_the_base_fee_is_sent_again_at_fresh_fees(anvil: Chain) -> None:
    """Fees cached from a head that the base fee has since outgrown (here: fees under any base fee) are refused
    for the whole batch; each is sent again at fees from a fresh head, at the nonces the batch had."""
    w3 = connect(anvil.w3.provider.endpoint_uri)  # type: ignore[attr-defined]
    sender = TxSender(w3, account("tx-many-fees"), fee_max_age=3600)
    anvil.fund(sender.address)
    sender.send({"to": sender.address, "value": 0}, gas=21_000)
    assert sender._fees_of is not None  # noqa: SLF001
    sender._fees_of = (sender._fees_of[0], {"maxFeePerGas": 1, "maxPriorityFeePerGas": 0})  # noqa: SLF001
    start = w3.eth.get_transaction_count(sender.address)
    results = sender.send_many(_transfers(3, account("tx-sink").address), [21_000] * 3)
    assert all(isinstance(r, str) for r in results), results
    assert [w3.eth.get_transaction(r)["nonce"] for r in results] == [start, start + 1, start + 2]  # type: ignore[arg-type]
    assert all(w3.eth.get_transaction(r)["maxFeePerGas"] > 1 for r in results)  # type: ignore[arg-type]
    assert all(w3.eth.wait_for_transaction_receipt(r, timeout=10)["status"] == 1 for r in results)  # type: ignore[arg-type]
