"""Resource faults of the journal on PostgreSQL, as tests/storage/test_storage_faults.py checks them on SQLite: a
journal whose write lock another process holds past the busy timeout answers 503 ``storage_busy`` and writes
nothing; a database that goes away answers 503 ``storage_unavailable`` (never a 500) and what was acknowledged
before stays in the database."""

from __future__ import annotations

from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient
from sqlalchemy import create_engine

from api.app import create_app
from ledger.config import Settings
from ledger.facade import Ledger
from ledger.storage import journal_pg
from tests.api.conftest import OPERATOR_TOKEN, Api, firm  # noqa: F401 - the admitted party fixture
from tests.helpers import Chain, env_flag, h
from tests.pg import PostgresUnavailable, temporary_postgres


@pytest.mark.parametrize("journal_url", ["postgresql"], indirect=True)
def test_a_journal_locked_by_another_process_answers_503_storage_busy(
    api: Api,
    firm: LocalAccount,  # noqa: F811
    journal_url: str,
) -> None:
    assert api.ledger.store.backend == "postgresql"
    other = create_engine(journal_url)
    with other.begin() as conn:  # another process's write transaction, held past the busy timeout
        conn.exec_driver_sql("SELECT pg_advisory_xact_lock(%s)", (journal_pg.WRITE_LOCK,))
        resp = api.client.post("/v1/evidence", json=api.single_body(firm, h("locked")))
    other.dispose()
    assert resp.status_code == 503 and resp.json()["error"]["code"] == "storage_busy", resp.text
    assert api.ledger.store.item(api.binding(firm, h("locked"))) is None  # nothing written
    resp = api.client.post("/v1/evidence", json=api.single_body(firm, h("locked")))
    assert resp.status_code in (201, 202), resp.text


def test_a_journal_database_that_goes_away_answers_503_never_500(anvil: Chain, tmp_path: Path) -> None:
    from tests.helpers import account

    acct = account("pg-gone-firm")
    try:
        server = temporary_postgres()
        url = server.__enter__()
    except PostgresUnavailable as exc:
        if env_flag("IPLEDGER_TEST_STRICT"):
            pytest.fail(str(exc))
        pytest.skip(str(exc))
    stopped = False
    settings = Settings(
        data_dir=tmp_path / "data",
        journal_url=url,
        operator_token=OPERATOR_TOKEN,
        confirmations=1,
        final_after=0,
        public_url="http://127.0.0.1:8000",
    )
    ledger = Ledger(
        w3=anvil.w3,
        manifest=anvil.manifest,
        settings=settings,
        relayer=anvil.sender,
        registrar=anvil.registrar_sender,
        governance=anvil.governance_sender,
    )
    try:
        with TestClient(create_app(ledger, settings, run_pipeline=False), raise_server_exceptions=False) as client:
            api = Api(client, ledger, anvil)
            api.admit(acct, "91110108551385082Q")
            first = client.post("/v1/evidence", json=api.single_body(acct, h("before the database went")))
            assert first.status_code in (201, 202), first.text
            server.__exit__(None, None, None)  # the database server stops
            stopped = True
            resp = client.post("/v1/evidence", json=api.single_body(acct, h("while it is gone")))
            assert resp.status_code == 503, resp.text
            assert resp.json()["error"]["code"].startswith("storage"), resp.text
            receipt = client.get(f"/v1/receipts/{first.json()['receiptId']}")
            assert receipt.status_code == 503 and "Traceback" not in receipt.text
    finally:
        ledger.close()
        if not stopped:
            server.__exit__(None, None, None)
