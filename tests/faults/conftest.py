"""Fixtures of the fault suite: one shared `ipledger up` that the scenarios fault and restart in turn, and the
rows of the table of sent / acknowledged / on chain / lost / duplicated that tests/conftest.py prints at the end of
every run. A row travels on the scenario's teardown report (``user_properties``), so the table is whole when the
suite runs in several pytest-xdist workers too."""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Iterator
from typing import Any

import pytest

from tests.faults.harness import Service, Tally

#: Key of a scenario's row in its teardown report's ``user_properties`` (tests/conftest.py FAULT_ROW_PROPERTY).
ROW_PROPERTY = "fault_suite_row"

#: The service's settings for the suite: batches anchored every half second; everything else the defaults
#: of `ipledger up` (1 s blocks, 2 confirmations, final after 5 s).
ENV = {"IPLEDGER_BATCH_INTERVAL": "0.5"}


@pytest.fixture(scope="package")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """One data directory and its `ipledger up`, shared by the scenarios (each starts from a healthy service)."""
    root = tmp_path_factory.mktemp("faults")
    svc = Service(root / "data", root / "logs", env=ENV)
    try:
        svc.start()
        svc.admit_firm()
        yield svc
    finally:
        svc.shutdown()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    """Keeps the call phase's report on the item, so that a scenario's row can say why it stopped."""
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if report.when == "call":
        item.stash[CALL_REPORT] = report


CALL_REPORT = pytest.StashKey[pytest.TestReport]()


@pytest.fixture
def scenario(request: pytest.FixtureRequest) -> Iterator[Callable[[str], Tally]]:
    """Makes the tally of a scenario (kept for the table even when the scenario fails half way)."""
    started = time.monotonic()
    made: list[Tally] = []

    def make(name: str) -> Tally:
        tally = Tally(name)
        made.append(tally)
        return tally

    yield make
    report = request.node.stash.get(CALL_REPORT, None)
    for tally in made:
        tally.seconds = time.monotonic() - started
        tally.failed = report is not None and report.failed
        if not tally.done and tally.failed:
            crash = getattr(report.longrepr, "reprcrash", None)
            message = crash.message if crash is not None else str(report.longrepr)
            tally.notes.append("stopped: " + message.splitlines()[-1][:300] if message else "stopped")
        request.node.user_properties.append((ROW_PROPERTY, tally.row()))
