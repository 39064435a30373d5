"""Moving a journal to PostgreSQL (``ipledger journal migrate --to URL``, ledger/storage/journal_copy.py), through
the real CLI: a SQLite journal filled through the API (singles final, a single the relayer could not send yet, a batch
not yet anchored) is copied into an empty PostgreSQL database; the service started on PostgreSQL answers every
acknowledged receipt as before and drives each to final; the data directory refuses to open its stale SQLite
journal afterwards. A data directory in use, a non-empty target and a second migration are refused, changing
nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient
from sqlalchemy import create_engine

from api.app import create_app
from ledger.chain.node import DataDirLock
from ledger.chain.sender import NotSent
from ledger.config import Settings
from ledger.errors import DataDirError
from ledger.facade import Ledger
from ledger.storage.journal import JOURNAL_FILE, MOVED_FILE, Store
from tests.api.conftest import OPERATOR_TOKEN, Api, firm  # noqa: F401 - the admitted party fixture
from tests.helpers import h
from tests.services.test_pipeline import settle

IPLEDGER = str(Path(sys.executable).with_name("ipledger"))


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "IPLEDGER_JOURNAL_URL"}
    return subprocess.run([IPLEDGER, *args], capture_output=True, text=True, env=env, timeout=120, check=False)


def receipts(client: TestClient, ids: list[str]) -> dict[str, dict[str, Any]]:
    out = {}
    for rid in ids:
        resp = client.get(f"/v1/receipts/{rid}")
        assert resp.status_code == 200, resp.text
        out[rid] = resp.json()
    return out


def fill(api: Api, firm: LocalAccount) -> list[str]:  # noqa: F811
    """Acknowledged registrations in every state a stopped service can leave them in; their receipt ids."""
    acknowledged = []
    for n in range(3):
        resp = api.client.post("/v1/evidence", json=api.single_body(firm, h(f"moved single {n}")))
        assert resp.status_code in (201, 202), resp.text
        acknowledged.append(resp.json()["receiptId"])
    settle(api)  # these three are final
    relayer = api.ledger.relayer
    assert relayer is not None
    real_send = relayer.send
    relayer.send = lambda tx, **kw: (_ for _ in ()).throw(NotSent("not now"))  # type: ignore[method-assign]
    try:
        resp = api.client.post("/v1/evidence", json=api.single_body(firm, h("moved queued single")))
    finally:
        relayer.send = real_send  # type: ignore[method-assign]
    assert resp.status_code == 202 and resp.json()["status"] == "queued"
    acknowledged.append(resp.json()["receiptId"])
    resp = api.client.post("/v1/evidence/batch", json=api.batch_body(firm, [h(f"moved batch {n}") for n in range(5)]))
    assert resp.status_code == 202, resp.text
    acknowledged.append(resp.json()["receiptId"])
    api.ledger.store.add_proposal("0x" + "ab" * 32, "licence", 1, {"kind": 1}, {"note": "kept"})
    api.ledger.store.put_document_key(7, b"\x07" * 32, "0x" + "07" * 20)
    return acknowledged


def test_a_journal_filled_through_the_service_moves_to_postgresql_and_the_service_carries_on_there(
    api: Api,
    firm: LocalAccount,  # noqa: F811
    postgres_db: str,
    postgres_server: str,
) -> None:
    from tests.pg import fresh_database

    acknowledged = fill(api, firm)
    before = receipts(api.client, acknowledged)
    assert [r["status"] for r in before.values()] == ["final", "final", "final", "queued", "queued"]
    data_dir = Path(api.ledger.settings.data_dir)
    api.ledger.store.close()
    counts = Store(data_dir / JOURNAL_FILE).table_counts()

    # refused while the data directory is in use, and into a database that holds journal rows: nothing changes
    lock = DataDirLock.acquire(data_dir, purpose="a running service")
    try:
        busy = cli("journal", "migrate", "--to", postgres_db, "--data-dir", str(data_dir))
    finally:
        lock.release()
    assert busy.returncode != 0 and "in use" in busy.stdout + busy.stderr and "Traceback" not in busy.stderr
    occupied = fresh_database(postgres_server)
    other = Store(url=occupied)
    other.put_document_key(1, b"\x01" * 32, "0x01")
    other.close()
    full = cli("journal", "migrate", "--to", occupied, "--data-dir", str(data_dir))
    assert full.returncode != 0 and "not empty" in full.stdout + full.stderr and "Traceback" not in full.stderr
    other = Store(url=occupied)
    assert other.table_counts()["document_keys"] == 1 and other.table_counts()["submissions"] == 0
    other.close()
    assert not (data_dir / MOVED_FILE).exists()

    moved = cli("journal", "migrate", "--to", postgres_db, "--data-dir", str(data_dir), "--json")
    assert moved.returncode == 0, moved.stdout + moved.stderr
    report = json.loads(moved.stdout)
    assert {t["table"]: t["rows"] for t in report["tables"]} == counts
    assert counts["submissions"] == 5 and counts["items"] == 9 and all(len(t["digest"]) == 64 for t in report["tables"])
    again = cli("journal", "migrate", "--to", postgres_db, "--data-dir", str(data_dir))
    assert again.returncode != 0 and "already migrated" in again.stdout + again.stderr
    with pytest.raises(DataDirError):  # the stale SQLite journal is not opened again
        Store.in_data_dir(data_dir)
    status = cli("journal", "status", "--data-dir", str(data_dir), "--journal-url", postgres_db)
    assert status.returncode == 0 and "PostgreSQL" in status.stdout and "5 submissions" in status.stdout

    # the service on PostgreSQL: every acknowledged receipt as before, then each driven to final
    settings = Settings(
        data_dir=data_dir,
        journal_url=postgres_db,
        operator_token=OPERATOR_TOKEN,
        confirmations=1,
        final_after=0,
        public_url="http://127.0.0.1:8000",
    )
    chain = api.chain
    ledger = Ledger(
        w3=chain.w3,
        manifest=chain.manifest,
        settings=settings,
        relayer=chain.sender,
        registrar=chain.registrar_sender,
        governance=chain.governance_sender,
    )
    try:
        assert ledger.store.backend == "postgresql"
        with TestClient(create_app(ledger, settings, run_pipeline=False), raise_server_exceptions=False) as client:
            assert receipts(client, acknowledged) == before
            settle(Api(client, ledger, chain))
            after = receipts(client, acknowledged)
            assert all(r["status"] == "final" for r in after.values())
            proposal = ledger.store.proposal("0x" + "ab" * 32)
            assert proposal is not None and proposal.details == {"note": "kept"}
            # a new registration gets a receipt id after the copied ones
            resp = client.post("/v1/evidence", json=api.single_body(firm, h("after the move")))
            assert resp.status_code in (201, 202), resp.text
            assert resp.json()["receiptId"] not in acknowledged
    finally:
        ledger.close()
    engine = create_engine(postgres_db)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT COUNT(*) FROM submissions").scalar() == 6
    engine.dispose()
