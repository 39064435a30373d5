"""The index on PostgreSQL: a throwaway server (Debian's PostgreSQL 15 binaries) on loopback in a temp dir.
A scenario indexed there answers exactly as on SQLite, and again after a rebuild from an empty database."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ledger.index.schema import make_engine
from ledger.index.sync import Indexer
from tests.api.conftest import Api
from tests.helpers import env_flag
from tests.index.test_index import answers, indexer_of, scenario
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
        pg = indexer_of(api.ledger, engine)
        pg.rebuild()  # the database may hold a previous run's tables
        assert engine.dialect.name == "postgresql"
        on_sqlite = answers(sqlite)
        assert answers(pg) == on_sqlite
        assert pg.status()["counts"] == sqlite.status()["counts"]
        pg.rebuild()
        assert answers(pg) == on_sqlite
    finally:
        engine.dispose()


def test_two_replicas_catching_up_at_once_write_every_range_once(api: Api, postgres_url: str) -> None:
    """API replicas share one PostgreSQL index: two indexers syncing at the same time end with the same
    answers as one, each range applied once (the cursor row is locked while a range is written)."""
    import threading

    scenario(api)
    sqlite = api.ledger.index
    sqlite.sync()
    engines = [make_engine(postgres_url), make_engine(postgres_url)]
    try:
        first = indexer_of(api.ledger, engines[0])
        first.rebuild(to_block=api.ledger.manifest.deploy_block)  # empty past the deployment block
        replicas = [first, indexer_of(api.ledger, engines[1])]
        errors: list[BaseException] = []

        def run(indexer: Indexer) -> None:
            try:
                indexer.sync()
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=run, args=(r,)) for r in replicas]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert answers(replicas[0]) == answers(sqlite) == answers(replicas[1])
        assert replicas[0].status()["counts"] == sqlite.status()["counts"]
        assert errors == []  # the one that waited saw the cursor moved and went on from there
    finally:
        for engine in engines:
            engine.dispose()
