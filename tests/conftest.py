"""Shared fixtures: a session anvil on a free loopback port, an in-process eth-tester EVM, and the
``chain`` fixture that runs a test on both, isolated by snapshot/revert; and the fault suite's table, printed at
the end of every run from the rows its scenarios put on their reports (so it is whole under pytest-xdist, where
the scenarios run in a worker and this process only sees their reports)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.chain.node import EmbeddedNode, free_port
from tests.helpers import Chain, make_anvil_chain, make_eth_tester_chain

#: The fault suite's rows, in the order their scenarios ended (see tests/faults/conftest.py).
FAULT_ROWS: list[str] = []
FAULT_ROW_PROPERTY = "fault_suite_row"


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "teardown":
        FAULT_ROWS.extend(str(value) for key, value in report.user_properties if key == FAULT_ROW_PROPERTY)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not FAULT_ROWS:
        return
    from tests.faults.harness import HEADER

    terminalreporter.write_sep("=", "fault suite: content hashes per scenario")
    terminalreporter.write_line(HEADER)
    for row in FAULT_ROWS:
        terminalreporter.write_line(row)


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


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A throwaway PostgreSQL server for the session (tests/pg.py); skipped where its binaries are missing, unless
    IPLEDGER_TEST_STRICT is set (CI installs PostgreSQL: there, its absence is a failure)."""
    from tests.helpers import env_flag
    from tests.pg import PostgresUnavailable, temporary_postgres

    try:
        with temporary_postgres() as url:
            yield url
    except PostgresUnavailable as exc:
        if env_flag("IPLEDGER_TEST_STRICT"):
            pytest.fail(str(exc))
        pytest.skip(str(exc))


@pytest.fixture
def postgres_db(postgres_server: str) -> str:
    """The URL of a new, empty database on the session's PostgreSQL server."""
    from tests.pg import fresh_database

    return fresh_database(postgres_server)


@pytest.fixture(params=["sqlite", "postgresql"])
def journal_url(request: pytest.FixtureRequest) -> str | None:
    """The journal's backend: None (SQLite in the data directory) or a new PostgreSQL database. A test module
    marked ``usefixtures("journal_url")`` runs on both, and the ``api`` fixture opens its journal there."""
    if request.param == "sqlite":
        return None
    return str(request.getfixturevalue("postgres_db"))
