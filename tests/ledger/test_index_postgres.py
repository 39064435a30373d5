"""The index on PostgreSQL: a throwaway server (Debian's PostgreSQL 15 binaries) on loopback in a temp dir.
A scenario indexed there answers exactly as on SQLite, and again after a rebuild from an empty database."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ledger.index import Indexer, make_engine
from tests.api.conftest import Api
from tests.helpers import env_flag
from tests.ledger.test_index import answers, scenario
from tests.pg import PostgresUnavailable, temporary_postgres


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    try:
        with temporary_postgres() as url:
            yield url
    except PostgresUnavailable as exc:
        if env_flag("IPLEDGER_TEST_STRICT"):  # CI installs PostgreSQL: there, its absence is a failure
            pytest.fail(str(exc))
        pytest.skip(str(exc))


def test_postgresql_answers_as_sqlite_and_a_rebuild_answers_the_same(api: Api, postgres_url: str) -> None:
    scenario(api)
    sqlite = api.ledger.index
    sqlite.sync()
    engine = make_engine(postgres_url)
    try:
        pg = Indexer(api.ledger, engine)
        pg.rebuild()  # the database may hold a previous run's tables
        assert engine.dialect.name == "postgresql"
        on_sqlite = answers(sqlite)
        assert answers(pg) == on_sqlite
        assert pg.status()["counts"] == sqlite.status()["counts"]
        pg.rebuild()
        assert answers(pg) == on_sqlite
    finally:
        engine.dispose()
