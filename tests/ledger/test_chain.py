"""The embedded node: a state dump cut short by a crash is replaced by the last whole dump."""

from __future__ import annotations

from pathlib import Path

import pytest
from web3 import Web3

from ledger.chain import EmbeddedNode, free_port
from ledger.errors import ChainUnavailable


def test_a_state_dump_cut_short_is_replaced_by_the_last_whole_one(tmp_path: Path) -> None:
    node = EmbeddedNode(tmp_path, port=free_port())
    w3 = Web3(Web3.HTTPProvider(node.start()))
    tx = w3.eth.send_transaction({"from": w3.eth.accounts[0], "to": w3.eth.accounts[1], "value": 7})
    w3.eth.wait_for_transaction_receipt(tx)
    node.stop()  # writes the state and keeps a whole copy aside
    assert node.good_state_file.exists()
    node.state_file.write_bytes(node.state_file.read_bytes()[:100])  # a dump cut short by kill -9

    again = EmbeddedNode(tmp_path, port=free_port())
    w3 = Web3(Web3.HTTPProvider(again.start()))
    try:
        assert again.restored
        assert w3.eth.get_transaction_receipt(tx)["status"] == 1
    finally:
        again.stop()


def test_a_damaged_state_without_a_good_copy_is_reported(tmp_path: Path) -> None:
    (tmp_path / "chain").mkdir()
    (tmp_path / "chain" / "state.json").write_text("")
    with pytest.raises(ChainUnavailable) as err:
        EmbeddedNode(tmp_path, port=free_port()).start()
    assert "damaged" in err.value.message
