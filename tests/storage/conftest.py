"""Fixtures of tests/storage: the API fixture (app, ledger and relayer over the session anvil) for the tests that
build a scenario through the API and then look at the library."""

from tests.api.conftest import api  # noqa: F401 - re-exported fixture
