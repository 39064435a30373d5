"""The index on PostgreSQL: a throwaway server (Debian's PostgreSQL 15 binaries) on loopback in a temp dir.
A scenario indexed there answers exactly as on SQLite, and again after a rebuild from an empty database."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.chain import free_port
from ledger.index import Indexer, make_engine
from tests.api.conftest import Api
from tests.ledger.test_index import answers, scenario

PG_BIN = Path(os.environ.get("IPLEDGER_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))


def _pg_tool(name: str) -> str | None:
    path = PG_BIN / name
    return str(path) if path.exists() else shutil.which(name)


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    initdb, pg_ctl = _pg_tool("initdb"), _pg_tool("pg_ctl")
    if not initdb or not pg_ctl:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    pytest.importorskip("psycopg")
    root = Path(tempfile.mkdtemp(prefix="ipledger-pg-"))
    prefix: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root: run the server as nobody
        runuser = shutil.which("runuser")
        if runuser is None:
            pytest.skip("running as root without runuser: cannot start PostgreSQL as an unprivileged user")
        os.chown(root, 65534, 65534)
        prefix = [runuser, "-u", "nobody", "--"]
    data, port = root / "data", free_port()
    env = {**os.environ, "LC_ALL": "C", "LANG": "C"}
    run = lambda *args: subprocess.run([*prefix, *args], check=True, capture_output=True, env=env, cwd=root, timeout=60)
    try:
        run(initdb, "-D", str(data), "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8")
        run(pg_ctl, "-D", str(data), "-l", str(root / "server.log"), "-w", "-t", "30", "-o",
            f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off", "start")  # fmt: skip
    except subprocess.CalledProcessError as exc:
        log = (root / "server.log").read_text(errors="replace") if (root / "server.log").exists() else ""
        shutil.rmtree(root, ignore_errors=True)
        pytest.fail(f"could not start PostgreSQL: {exc.stderr.decode(errors='replace')}\n{log}")
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*prefix, pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"], check=False, capture_output=True, env=env,
                       cwd=root, timeout=60)  # fmt: skip
        shutil.rmtree(root, ignore_errors=True)


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
