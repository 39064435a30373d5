"""Resource faults of the journal (ledger/storage/journal.py, ledger/services/pipeline.py, api/errors.py): a full disk answers 507
``storage_full``, a database locked by another process 503 ``storage_busy``; nothing accepted is lost, the pipeline
logs one line when a fault starts and one when it clears (no traceback loop), and everything recovers when the
resource returns. Disk full is tested both with SQLite's ``max_page_count`` (deterministic) and on a real 16 MB
tmpfs (skipped where mounting is not permitted)."""

from __future__ import annotations

import logging
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient

from api.app import create_app
from api.errors import status_for
from ledger.config import Settings
from ledger.domain.evidence import FINAL, sign_single
from ledger.errors import StorageBusy, StorageFull
from ledger.facade import Ledger
from ledger.storage.journal import BUSY_TIMEOUT, Store
from tests.api.conftest import OPERATOR_TOKEN, Api, firm  # noqa: F401 - the admitted party fixture
from tests.helpers import Chain, account, h


def _submission(store: Store, content: bytes) -> None:
    store.add_submission(
        kind="batch",
        registrant="0x" + "11" * 20,
        party_id=1,
        algorithm=1,
        hashes=[content],
        root=content,
        deadline=2**40,
        signature=b"\1" * 65,
        digest=content,
    )


def test_a_full_database_refuses_the_write_whole_with_storage_full_and_recovers(tmp_path: Path) -> None:
    store = Store(tmp_path / "journal.sqlite3")
    _submission(store, h("before"))
    db = store._conn()  # noqa: SLF001 - this thread's connection: the limit applies to it
    (pages,) = db.execute("PRAGMA page_count").fetchone()
    db.execute(f"PRAGMA max_page_count = {pages}")
    with pytest.raises(StorageFull) as full:
        for i in range(2000):  # fills the last free pages, then the database is full
            _submission(store, h(f"filling {i}"))
    assert full.value.code == "storage_full" and status_for(full.value) == 507
    counts = store.counts()
    db.execute("PRAGMA max_page_count = 1073741823")  # space is back
    _submission(store, h("after"))
    assert store.counts()["queued"] == counts["queued"] + 1  # the refused write left nothing behind
    assert store.item(h("before")) is not None and store.item(h("after")) is not None


def test_a_database_locked_by_another_process_answers_503_storage_busy(api: Api, firm: LocalAccount) -> None:
    assert api.ledger.store.counts() is not None  # the service's journal exists before another process locks it
    other = sqlite3.connect(Path(api.ledger.settings.data_dir) / "journal.sqlite3", isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        resp = api.client.post("/v1/evidence", json=api.single_body(firm, h("locked")))
        # what bounds the wait: every connection of the journal gives up after BUSY_TIMEOUT seconds
        busy_ms = api.ledger.store._conn().execute("PRAGMA busy_timeout").fetchone()[0]  # noqa: SLF001
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert resp.status_code == 503 and resp.json()["error"]["code"] == "storage_busy", resp.text
    assert busy_ms == int(BUSY_TIMEOUT * 1000)
    assert status_for(StorageBusy("x")) == 503
    resp = api.client.post("/v1/evidence", json=api.single_body(firm, h("locked")))
    assert resp.status_code == 202, resp.text


# --- a real full disk -----------------------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mnt)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"mounting a 16 MB tmpfs is not permitted here: {done.stderr.strip()[:200]}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def _fill(path: Path) -> Path:
    filler = path / "filler"
    try:
        with open(filler, "wb") as fh:
            while True:
                fh.write(b"\0" * 4096)
                fh.flush()
    except OSError:
        pass
    return filler


def test_a_full_disk_answers_507_keeps_what_was_accepted_logs_once_and_recovers(
    anvil: Chain, small_disk: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(data_dir=small_disk / "data", operator_token=OPERATOR_TOKEN, confirmations=0, final_after=0)
    ledger = Ledger(
        w3=anvil.w3,
        manifest=anvil.manifest,
        settings=settings,
        relayer=anvil.sender,
        registrar=anvil.registrar_sender,
        governance=anvil.governance_sender,
    )
    ledger.pipeline.tick = 0.05
    party = account("disk-full-firm")
    anvil.admit([party.address])
    deadline = anvil.now() + 3600

    def body(label: str) -> dict[str, object]:
        req = sign_single(party, anvil.domain(), binding=h(label), algorithm=1, nonce=0, deadline=deadline)
        return {
            "binding": "0x" + h(label).hex(),
            "partyId": 1,
            "algorithm": "sha256",
            "registrant": party.address,
            "nonce": 0,
            "deadline": deadline,
            "signature": "0x" + req.signature.hex(),
        }

    accepted: list[str] = []
    statuses: list[int] = []
    with (
        caplog.at_level(logging.INFO),
        TestClient(create_app(ledger, settings), raise_server_exceptions=False) as client,
    ):
        for i in range(5):
            resp = client.post("/v1/evidence", json=body(f"disk {i}"))
            assert resp.status_code == 202, resp.text
            accepted.append(f"disk {i}")
        filler = _fill(small_disk)
        for i in range(5, 200):
            resp = client.post("/v1/evidence", json=body(f"disk {i}"))
            statuses.append(resp.status_code)
            assert resp.status_code in (202, 507), resp.text
            if resp.status_code == 202:
                accepted.append(f"disk {i}")
            else:
                assert resp.json()["error"]["code"] == "storage_full"
                assert int(resp.headers["Retry-After"]) > 0
                if statuses.count(507) >= 5:
                    break
        assert statuses.count(507) >= 5, "the full disk was answered 507"
        time.sleep(1.5)  # the pipeline meets the full disk for a while
        filler.unlink()  # space is back
        resp = client.post("/v1/evidence", json=body("disk after"))
        assert resp.status_code == 202, resp.text
        accepted.append("disk after")
        deadline_at = time.monotonic() + 60
        while time.monotonic() < deadline_at:
            rows = [ledger.store.item(h(label)) for label in accepted]
            if all(r is not None and r[0].status == FINAL for r in rows):
                break
            time.sleep(0.2)
    for label in accepted:
        row = ledger.store.item(h(label))
        assert row is not None and row[0].status == FINAL, (label, row)
        assert ledger.evidence_service.chain_record(h(label), 1) is not None
    pipeline_lines = [r for r in caplog.records if r.name == "ipledger.pipeline"]
    assert not [r for r in caplog.records if r.exc_info], "no traceback"
    paused = [r for r in pipeline_lines if "paused" in r.getMessage()]
    assert len(paused) <= 2, [r.getMessage() for r in paused]  # once per fault (the disk, perhaps a lock after it)
    ledger.close()


def test_a_keystore_is_written_whole_or_not_at_all_on_a_full_disk(small_disk: Path) -> None:
    """A keystore that did not fit was left partly written, and then refused the next attempt ("already
    exists"); it is now written under a temporary name and linked into place only once synced."""
    from ledger.errors import KeystoreError
    from ledger.storage.keys import load_keystore, write_keystore
    from tests.helpers import account

    filler = _fill(small_disk)
    target = small_disk / "firm.json"
    with pytest.raises(KeystoreError, match="cannot write the keystore"):
        write_keystore(target, account("full-disk-keystore"), "pw", kdf="pbkdf2")
    assert sorted(p.name for p in small_disk.iterdir()) == ["filler"]  # neither the keystore nor a temporary file
    filler.unlink()
    write_keystore(target, account("full-disk-keystore"), "pw", kdf="pbkdf2")
    assert load_keystore(target, "pw").address == account("full-disk-keystore").address
