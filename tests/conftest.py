"""Shared fixtures: a session anvil on a free loopback port, an in-process eth-tester EVM, and the
``chain`` fixture that runs a test on both, isolated by snapshot/revert."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.chain import EmbeddedNode, free_port
from tests.helpers import Chain, make_anvil_chain, make_eth_tester_chain


@pytest.fixture(scope="session")
def anvil_node() -> Iterator[EmbeddedNode]:
    with tempfile.TemporaryDirectory(prefix="ipledger-anvil-") as tmp:
        node = EmbeddedNode(Path(tmp), port=free_port())
        node.start()
        try:
            yield node
        finally:
            node.stop()


@pytest.fixture(scope="session")
def anvil_chain(anvil_node: EmbeddedNode) -> Chain:
    return make_anvil_chain(anvil_node.rpc_url)


@pytest.fixture(scope="session")
def eth_tester_chain() -> Chain:
    return make_eth_tester_chain()


@pytest.fixture(params=["anvil", "eth-tester"])
def chain(request: pytest.FixtureRequest) -> Iterator[Chain]:
    """The deployed suite on one of two independent EVMs; state is reverted after each test."""
    c: Chain = request.getfixturevalue("anvil_chain" if request.param == "anvil" else "eth_tester_chain")
    snap = c.snapshot()
    try:
        yield c
    finally:
        c.revert(snap)


@pytest.fixture
def anvil(anvil_chain: Chain) -> Iterator[Chain]:
    """anvil only, for tests that need a real JSON-RPC node (HTTP, subprocesses)."""
    snap = anvil_chain.snapshot()
    try:
        yield anvil_chain
    finally:
        anvil_chain.revert(snap)
