"""CheckpointRegistry: only its writer (the anchor key) records; ranges start at the registry's deployment block and
follow each other without a gap, an overlap or a step back; each record is announced by CheckpointRecorded and read
back by checkpoint(i); ownership moves in two steps. Both EVMs (the public stand-in is any EVM)."""

from __future__ import annotations

from typing import Any

import pytest
from eth_utils import keccak

from ledger.chain.codec import call
from ledger.chain.deployment import deploy_checkpoint_registry
from ledger.errors import ContractRevert
from tests.helpers import Chain, account

H = keccak(text="consortium block")
R = keccak(text="root")


@pytest.fixture
def registry(chain: Chain) -> tuple[Any, Any]:
    writer = chain.as_(account("checkpoint-writer"))
    record = deploy_checkpoint_registry(writer, chain.manifest)
    contract = chain.w3.eth.contract(address=record["address"], abi=_abi())
    return contract, writer


def _abi() -> Any:
    from ledger.chain.artifacts import load_artifact

    return load_artifact("CheckpointRegistry")["abi"]


def _reverts(fn: Any, sender: Any) -> ContractRevert:
    with pytest.raises(ContractRevert) as err:
        sender.send_call(fn)
    return err.value


def test_the_contract_names_its_consortium_and_starts_at_the_registrys_deployment_block(
    chain: Chain, registry: tuple[Any, Any]
) -> None:
    c, writer = registry
    first = chain.manifest.contracts["EvidenceRegistry"].deploy_block
    assert c.functions.consortiumChainId().call() == chain.manifest.chain_id
    assert c.functions.registry().call() == chain.manifest.address("EvidenceRegistry")
    assert c.functions.nextBlock().call() == first and c.functions.count().call() == 0
    assert c.functions.owner().call() == writer.address


def test_checkpoints_follow_each_other_and_are_announced(chain: Chain, registry: tuple[Any, Any]) -> None:
    c, writer = registry
    first = c.functions.nextBlock().call()
    sent = writer.send_call(c.functions.record(first, first + 9, H, R))
    (event,) = c.events.CheckpointRecorded().process_receipt(sent.receipt)
    assert dict(event["args"]) == {
        "index": 0,
        "fromBlock": first,
        "toBlock": first + 9,
        "consortiumBlockHash": H,
        "root": R,
    }
    writer.send_call(c.functions.record(first + 10, first + 10, H, R))  # a range of one block
    assert c.functions.count().call() == 2 and c.functions.nextBlock().call() == first + 11
    held = c.functions.checkpoint(1).call()
    assert (held[0], held[1], held[3], held[4]) == (first + 10, first + 10, H, R)
    assert held[2] == chain.now()


@pytest.mark.parametrize(
    ("start", "end", "error"),
    [
        (1, 20, "CheckpointRegistryNotContiguous"),  # a gap
        (-1, 20, "CheckpointRegistryNotContiguous"),  # an overlap
        (-10, 5, "CheckpointRegistryNotContiguous"),  # a step back
        (0, -1, "CheckpointRegistryEmptyRange"),  # ends before it starts
    ],
)
def test_gaps_overlaps_regressions_and_empty_ranges_are_refused(
    registry: tuple[Any, Any], start: int, end: int, error: str
) -> None:
    c, writer = registry
    first = c.functions.nextBlock().call()
    writer.send_call(c.functions.record(first, first + 9, H, R))
    nxt = first + 10
    err = _reverts(c.functions.record(nxt + start, nxt + end, H, R), writer)
    assert err.name == error
    assert c.functions.count().call() == 1


def test_a_zero_commitment_is_refused(registry: tuple[Any, Any]) -> None:
    c, writer = registry
    first = c.functions.nextBlock().call()
    assert _reverts(c.functions.record(first, first, b"\0" * 32, R), writer).name == "CheckpointRegistryZeroCommitment"
    assert _reverts(c.functions.record(first, first, H, b"\0" * 32), writer).name == "CheckpointRegistryZeroCommitment"


def test_only_the_writer_records_and_ownership_moves_in_two_steps(chain: Chain, registry: tuple[Any, Any]) -> None:
    c, writer = registry
    first = c.functions.nextBlock().call()
    intruder = chain.as_(account("checkpoint-intruder"))
    assert _reverts(c.functions.record(first, first, H, R), intruder).name == "OwnableUnauthorizedAccount"
    assert _reverts(c.functions.record(first, first, H, R), chain.sender).name == "OwnableUnauthorizedAccount"
    successor = chain.as_(account("checkpoint-successor"))
    writer.send_call(c.functions.transferOwnership(successor.address))
    assert c.functions.owner().call() == writer.address  # not until the successor accepts
    assert _reverts(c.functions.record(first, first, H, R), successor).name == "OwnableUnauthorizedAccount"
    successor.send_call(c.functions.acceptOwnership())
    successor.send_call(c.functions.record(first, first, H, R))
    assert _reverts(c.functions.record(first + 1, first + 1, H, R), writer).name == "OwnableUnauthorizedAccount"


def test_an_unknown_index_is_refused(registry: tuple[Any, Any]) -> None:
    c, _ = registry
    with pytest.raises(ContractRevert) as err:
        call(c.functions.checkpoint(0))
    assert err.value.name == "CheckpointRegistryUnknown"
