"""Transactions anvil holds in its pool and never mines (ledger/chain/pool.py, ledger/chain/node.py), on real anvil
nodes:

- a relayer's transactions filed in the pool's queue behind a nonce that was mined meanwhile (anvil's race
  between reading an account's nonce and filing its transaction) are sent again unchanged and mined;
- a true gap (the transaction of the next nonce is not in the pool at all) is left to the pipeline, which sends
  that transaction again;
- the embedded node mines a burst of thousands of concurrent transactions to the end (anvil's instant miner
  wedged on such a burst with its default limit of transactions per block);
- a sender keeps at most ``MAX_IN_FLIGHT`` transactions of its account unmined (below the thousand ready
  transactions that wedge anvil's miner again once mining was paused and resumed); the rest are not sent now.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from eth_utils import keccak
from web3 import Web3

from ledger.chain import pool
from ledger.chain import sender as sender_module
from ledger.chain.node import EmbeddedNode, free_port
from ledger.chain.rpc import as_int, connect, rpc
from ledger.chain.sender import NotMined, TxSender, WindowFull
from ledger.errors import ChainUnavailable, TransactionFailed
from tests.helpers import Chain, account


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Web3]:
    """An embedded node of this module's own (the session node's snapshots are left out of it: a reverted burst
    of thousands of transactions slowed the next test's transactions down for a minute and more)."""
    embedded = EmbeddedNode(tmp_path_factory.mktemp("pool-node"), port=free_port(), state_interval=3600)
    embedded.start()
    try:
        yield connect(f"http://{embedded.host}:{embedded.port}")
    finally:
        embedded.stop()


def funded(w3: Web3, label: str) -> TxSender:
    sender = TxSender(w3, account(label))
    rpc(w3, "anvil_setBalance", [sender.address, hex(10**21)])
    return sender


@pytest.fixture
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    """The watch looks every 50 ms and calls an account stuck after 0.3 s (1 s and 3 s in service)."""
    monkeypatch.setattr(pool, "STUCK_AFTER", 0.3)  # 3 s in service
    monkeypatch.setattr(pool, "CHECK_EVERY", 0.05)


def mined_nonce(w3: Web3, address: str) -> int:
    return as_int(rpc(w3, "eth_getTransactionCount", [address, "latest"]))


def transfer(sender: TxSender, nonce: int) -> bytes:
    """A signed transfer of 1 wei to the sender itself at ``nonce`` (priced as the sender prices)."""
    tx: dict[str, Any] = {"to": sender.address, "value": 1, "gas": 21_000, "chainId": sender.chain_id()}
    tx.update(sender._fees())  # noqa: SLF001 - the sender's own pricing
    return sender.sign({**tx, "nonce": nonce})


def receipt_of(w3: Web3, tx_hash: str) -> dict[str, Any] | None:
    answer = rpc(w3, "eth_getTransactionReceipt", [tx_hash])
    return answer if isinstance(answer, dict) else None


def stuck_behind_a_mined_nonce(w3: Web3, sender: TxSender) -> str:
    """anvil's race, made on purpose: a transaction filed in the queue as waiting for the nonce before it, and
    that nonce then used up without the pool hearing of it (here by ``anvil_setNonce``, in the race by a block
    mined and pruned between the two). Returns the stuck transaction's hash."""
    mined = mined_nonce(w3, sender.address)
    raw = transfer(sender, mined + 1)
    tx_hash = "0x" + keccak(raw).hex()
    rpc(w3, "eth_sendRawTransaction", ["0x" + raw.hex()])
    rpc(w3, "anvil_setNonce", [sender.address, hex(mined + 1)])
    sender._nonce = mined + 2  # noqa: SLF001 - as if the sender had sent both
    return tx_hash


def test_a_relayers_transactions_stuck_in_the_nodes_queue_are_sent_again_unchanged_and_mined(
    node: Web3, quick: None
) -> None:
    sender = funded(node, "pool-stuck")
    stuck = stuck_behind_a_mined_nonce(node, sender)
    later = str(sender.send({"to": sender.address, "value": 2}, gas=21_000, wait=False))  # queued behind it
    time.sleep(1.0)
    assert receipt_of(node, stuck) is None and receipt_of(node, later) is None, "the node mines neither by itself"
    assert rpc(node, "eth_getTransactionByHash", [stuck]) is not None, "it holds both"

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and (receipt_of(node, stuck) is None or receipt_of(node, later) is None):
        sender.cure_stuck()
        time.sleep(0.05)
    for tx_hash in (stuck, later):  # the very transactions, by their hashes: the same signed bytes
        found = receipt_of(node, tx_hash)
        assert found is not None and as_int(found["status"]) == 1
    assert sender._pool_watch.resent == 2  # noqa: SLF001 - sent again once each, nothing else
    assert rpc(node, "txpool_content", [])["queued"] == {}


def test_a_sender_waiting_for_its_receipt_cures_its_own_stuck_transactions(node: Web3, quick: None) -> None:
    """A registrar's or the council's transaction waits for its receipt in the request: the wait cures."""
    sender = funded(node, "pool-waiting")
    sender.receipt_timeout = 30
    stuck = stuck_behind_a_mined_nonce(node, sender)
    sent = sender.send({"to": sender.address, "value": 3}, gas=21_000)  # queued behind it: waits, cures
    assert sent.status == 1  # type: ignore[union-attr]
    found = receipt_of(node, stuck)
    assert found is not None and as_int(found["status"]) == 1
    assert sender._pool_watch.resent == 2  # noqa: SLF001


def test_a_receipt_that_never_comes_is_a_clear_error_naming_the_transaction(node: Web3) -> None:
    """The chain is what is unavailable (an API request answers 503 naming the hash, never 500): the transaction
    may still be mined, so it is not reported as failed."""
    sender = funded(node, "pool-no-receipt")
    sender.receipt_timeout = 0.3
    tx_hash = "0x" + "ab" * 32  # a transaction no node knows
    with pytest.raises(NotMined, match=f"transaction {tx_hash} was sent but no receipt came within") as caught:
        sender.wait(tx_hash)
    assert isinstance(caught.value, ChainUnavailable) and not isinstance(caught.value, TransactionFailed)
    assert caught.value.tx_hash == tx_hash


def test_a_true_gap_in_the_nonces_is_left_for_the_pipeline_to_fill(node: Web3, quick: None) -> None:
    sender = funded(node, "pool-gap")
    mined = mined_nonce(node, sender.address)
    raw = transfer(sender, mined + 1)  # the transaction of nonce `mined` never reached the node
    waiting = "0x" + keccak(raw).hex()
    rpc(node, "eth_sendRawTransaction", ["0x" + raw.hex()])
    sender._nonce = mined + 2  # noqa: SLF001 - the sender believes both sent
    deadline = time.monotonic() + 1.5
    while time.monotonic() < deadline:
        assert sender.cure_stuck() is False
        time.sleep(0.05)
    assert sender._pool_watch.resent == 0  # noqa: SLF001
    assert rpc(node, "eth_getTransactionByHash", [waiting]) is not None, "left in the pool"
    rpc(node, "eth_sendRawTransaction", ["0x" + transfer(sender, mined).hex()])  # the gap filled
    node.eth.wait_for_transaction_receipt(waiting, timeout=30)


def test_a_node_other_than_anvil_is_left_alone(eth_tester_chain: Chain, node: Web3, quick: None) -> None:
    other = pool.PoolWatch(eth_tester_chain.w3, account("pool-other").address)
    assert other.check(10**6) is False and other._anvil is False  # noqa: SLF001 - nothing asked of its pool
    mine = pool.PoolWatch(node, account("pool-other").address)
    assert mine.check(10**6) is False and mine._anvil is True  # noqa: SLF001 - first look: the nonce noted


def test_the_embedded_node_mines_a_burst_of_thousands_of_concurrent_transactions_to_the_end(
    node: Web3, quick: None
) -> None:
    """With anvil's default of 1,000 transactions per block, such a burst left thousands of ready transactions
    unmined for good in nearly every run, the node spinning and growing (measured: 6,000 transfers from 8
    threads, 2,000-2,900 mined), and sending them again did not help. With the embedded node's limit, what anvil
    still leaves (queued behind a mined nonce, or ready beyond a block) the watch cures."""
    w3 = node
    sender = funded(w3, "pool-burst")
    start = as_int(rpc(w3, "eth_getTransactionCount", [sender.address, "latest"]))
    count = 6_000
    raws = ["0x" + transfer(sender, start + i).hex() for i in range(count)]
    order = itertools.count()
    lock = threading.Lock()
    errors: list[str] = []

    def send() -> None:
        while True:
            with lock:
                i = next(order)
            if i >= count:
                return
            try:
                rpc(w3, "eth_sendRawTransaction", [raws[i]])
            except Exception as exc:  # noqa: BLE001 - collected and asserted below
                errors.append(str(exc))

    threads = [threading.Thread(target=send) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    watch = pool.PoolWatch(w3, sender.address)
    deadline = time.monotonic() + 60
    mined = start
    while time.monotonic() < deadline:
        mined = as_int(rpc(w3, "eth_getTransactionCount", [sender.address, "latest"]))
        if mined == start + count:
            break
        watch.check(start + count)
        time.sleep(0.05)
    assert mined == start + count, f"{start + count - mined} transactions left unmined"


def test_a_sender_keeps_at_most_its_window_of_transactions_unmined_and_sends_the_rest_later(
    node: Web3, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sender_module, "MAX_IN_FLIGHT", 3)
    sender = funded(node, "pool-window")
    txs = [{"to": sender.address, "value": k} for k in range(5)]
    first = sender.send_many(txs, [21_000] * 5)
    assert [type(r) for r in first[3:]] == [WindowFull, WindowFull], "the two beyond the window are held back"
    assert all(isinstance(r, str) for r in first[:3])
    for tx_hash in first[:3]:
        node.eth.wait_for_transaction_receipt(str(tx_hash), timeout=30)
    assert mined_nonce(node, sender.address) == 3, "nothing else was broadcast"
    rest = sender.send_many(txs[3:], [21_000] * 2)  # the three are mined: the window is open again
    assert all(isinstance(r, str) for r in rest)
    for tx_hash in rest:
        node.eth.wait_for_transaction_receipt(str(tx_hash), timeout=30)

    monkeypatch.setattr(sender_module, "MAX_IN_FLIGHT", 0)  # a window that never opens
    with pytest.raises(WindowFull):
        sender.send({"to": sender.address, "value": 9}, gas=21_000, wait=False)
    assert as_int(rpc(node, "eth_getTransactionCount", [sender.address, "pending"])) == 5, "nothing broadcast"
    anchor = sender.send({"to": sender.address, "value": 9}, gas=21_000, windowed=False)  # a batch's anchor
    assert anchor.status == 1  # type: ignore[union-attr]


def test_a_node_set_to_mine_by_hand_is_left_to_do_so(node: Web3, quick: None) -> None:
    """Last in the module: re-enabling automine gives anvil's miner back its limit of 1,000 per block."""
    sender = funded(node, "pool-by-hand")
    start = mined_nonce(node, sender.address)
    rpc(node, "evm_setAutomine", [False])
    try:
        for k in range(3):
            sender.send({"to": sender.address, "value": k}, gas=21_000, wait=False)
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            assert sender.cure_stuck() is False
            time.sleep(0.05)
        assert mined_nonce(node, sender.address) == start, "neither mined nor taken out of the pool"
        ready = {a.lower(): txs for a, txs in rpc(node, "txpool_content", [])["pending"].items()}
        assert len(ready[sender.address.lower()]) == 3
        watch = sender._pool_watch  # noqa: SLF001
        assert watch._mine(ready=False) >= 1 and mined_nonce(node, sender.address) == start + 3  # noqa: SLF001 - what a cure asks
        assert watch.resent == 0
    finally:
        rpc(node, "evm_setAutomine", [True])
