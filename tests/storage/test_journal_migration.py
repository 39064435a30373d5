"""The journal's layout version and its migrations (ledger/storage/journal.py): a data directory written before the
journal had one owner — ``journal.sqlite3`` opened by the evidence journal, the asset service and the document
service, each with its own schema and pragmas, as at commit 02d2678 — opens under the current code with every row
kept (submissions, items, batches, proposals, document keys; asset details moved out of the proposals into their own
table) at the current version; opening again changes nothing; a journal of a newer version is refused, untouched."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from ledger.errors import DataDirError, StorageUnavailable
from ledger.storage.journal import (
    JOURNAL_FILE,
    MIGRATIONS,
    SCHEMA_VERSION,
    Store,
    journal_version,
)

# --- the unversioned journal, exactly as commit 02d2678 wrote it ----------------------------------------------
# The three schemas are copied verbatim from that commit: ledger/storage/journal.py (Store), ledger/services/
# assets.py (AssetService) and ledger/services/documents.py (DocumentService); each is applied with the pragmas its
# class used, in the order the facade opened them (the journal first, then the services).

OLD_STORE_SCHEMA = """
CREATE TABLE IF NOT EXISTS submissions (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('single', 'batch')),
    registrant TEXT NOT NULL,
    party_id INTEGER NOT NULL,
    algorithm INTEGER NOT NULL,
    count INTEGER NOT NULL,
    root BLOB,
    hashes BLOB NOT NULL,
    deadline INTEGER NOT NULL,
    signature BLOB NOT NULL,
    digest BLOB,
    payload TEXT,
    created_at REAL NOT NULL,
    status TEXT NOT NULL,
    batch_id INTEGER REFERENCES batches(id),
    batch_index INTEGER,
    tx_hash TEXT,
    block_number INTEGER,
    block_hash TEXT,
    block_timestamp INTEGER,
    error TEXT,
    owner TEXT,
    lease_until REAL
);
CREATE INDEX IF NOT EXISTS submissions_status ON submissions(status, kind);
CREATE INDEX IF NOT EXISTS submissions_batch ON submissions(batch_id, batch_index);
CREATE TABLE IF NOT EXISTS items (
    content_hash BLOB PRIMARY KEY,
    submission_id INTEGER NOT NULL REFERENCES submissions(id),
    item_index INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS items_submission ON items(submission_id, item_index);
CREATE TABLE IF NOT EXISTS batches (
    id INTEGER PRIMARY KEY,
    root BLOB NOT NULL UNIQUE,
    size INTEGER NOT NULL,
    item_count INTEGER NOT NULL,
    created_at REAL NOT NULL,
    status TEXT NOT NULL,
    tx_hash TEXT,
    block_number INTEGER,
    block_hash TEXT,
    block_timestamp INTEGER
);
CREATE INDEX IF NOT EXISTS batches_status ON batches(status);
"""

OLD_ASSETS_SCHEMA = """
CREATE TABLE IF NOT EXISTS proposals (
    agreement_id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    asset_id INTEGER NOT NULL,
    terms TEXT NOT NULL,
    details TEXT NOT NULL,
    signatures TEXT NOT NULL DEFAULT '{}',
    status TEXT NOT NULL DEFAULT 'proposed',
    tx_hash TEXT,
    created_at REAL NOT NULL
);
"""

OLD_DOCUMENTS_SCHEMA = """
CREATE TABLE IF NOT EXISTS document_keys (
    party_id INTEGER PRIMARY KEY,
    public_key BLOB NOT NULL,
    account TEXT NOT NULL,
    updated_at REAL NOT NULL
);
"""

# The submissions layout before its ``owner`` and ``lease_until`` columns (the oldest journals).
OLDEST_SUBMISSIONS = OLD_STORE_SCHEMA.replace(",\n    owner TEXT,\n    lease_until REAL\n", "\n")

ASSET_DETAILS = {
    1: {
        "number": "CN201710601862.3",
        "title": "A method",
        "filingDate": "2017-07-21",
        "grantDate": None,
        "evidence": [],
    },
    7: {
        "number": "HK1234567",
        "title": "Another",
        "filingDate": None,
        "grantDate": None,
        "evidence": ["0x" + "ab" * 32],
    },
}
AGREEMENT_ID = "0x" + "cd" * 32
SIGNATURES = {"1": {"signer": "0x" + "11" * 20, "signature": "0x" + "22" * 65}}


def old_store(path: Path, *, oldest: bool = False) -> None:
    """``Store.__init__`` and ``add_submission`` / ``create_batch`` of commit 02d2678."""
    db = sqlite3.connect(path, timeout=5.0, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("PRAGMA foreign_keys=ON")
    db.executescript(OLDEST_SUBMISSIONS if oldest else OLD_STORE_SCHEMA)
    if not oldest:
        db.execute("CREATE INDEX IF NOT EXISTS submissions_open ON submissions(status, created_at)")
    owner_cols, owner_vals = ("", ()) if oldest else (", owner, lease_until", ("4242:abcdef", 1e9))
    marks = ",?" * len(owner_vals)
    db.execute(
        "INSERT INTO submissions (kind, registrant, party_id, algorithm, count, root, hashes, deadline, signature, digest,"
        f" payload, created_at, status{owner_cols}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?{marks})",
        (
            "single",
            "0x" + "33" * 20,
            1,
            1,
            1,
            None,
            b"\x01" * 32,
            2**40,
            b"\x02" * 65,
            b"\x03" * 32,
            '{"a": 1}',
            1.5,
            "sending" if not oldest else "queued",
            *owner_vals,
        ),
    )
    db.execute("INSERT INTO items (content_hash, submission_id, item_index) VALUES (?,?,0)", (b"\x01" * 32, 1))
    db.execute(
        "INSERT INTO batches (root, size, item_count, created_at, status, tx_hash) VALUES (?,?,?,?,?,?)",
        (b"\x04" * 32, 1, 2, 2.5, "anchored", "0x" + "55" * 32),
    )
    db.execute(
        "INSERT INTO submissions (kind, registrant, party_id, algorithm, count, root, hashes, deadline, signature, digest,"
        " payload, created_at, status, batch_id, batch_index) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (
            "batch",
            "0x" + "33" * 20,
            2,
            1,
            2,
            b"\x04" * 32,
            b"\x05" * 32 + b"\x06" * 32,
            2**40,
            b"\x07" * 65,
            None,
            None,
            3.5,
            "anchored",
            1,
            0,
        ),
    )
    db.executemany(
        "INSERT INTO items (content_hash, submission_id, item_index) VALUES (?,?,?)",
        [(b"\x05" * 32, 2, 0), (b"\x06" * 32, 2, 1)],
    )
    db.close()


def old_assets(path: Path) -> None:
    """``AssetService.__init__``, ``_store_details`` ("asset:N" rows), ``propose`` and ``add_signature`` of 02d2678."""
    db = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.executescript(OLD_ASSETS_SCHEMA)
    for asset_id, details in ASSET_DETAILS.items():
        db.execute(
            "INSERT OR REPLACE INTO proposals (agreement_id, kind, asset_id, terms, details, status, created_at) VALUES (?,?,?,?,?,?,?)",
            (f"asset:{asset_id}", "asset", 0, "{}", json.dumps(details), "registered", 10.0 + asset_id),
        )
    db.execute(
        "INSERT INTO proposals (agreement_id, kind, asset_id, terms, details, created_at) VALUES (?,?,?,?,?,?)",
        (AGREEMENT_ID, "licence", 1, json.dumps({"kind": 2, "assetId": 1}), json.dumps({"royalty": None}), 20.0),
    )
    db.execute("UPDATE proposals SET signatures = ? WHERE agreement_id = ?", (json.dumps(SIGNATURES), AGREEMENT_ID))
    db.execute(
        "INSERT INTO proposals (agreement_id, kind, asset_id, terms, details, created_at) VALUES (?,?,?,?,?,?)",
        ("0x" + "ef" * 32, "assignment", 7, json.dumps({"kind": 1, "assetId": 7}), json.dumps({}), 21.0),
    )
    db.execute(
        "UPDATE proposals SET status = 'executed', tx_hash = ? WHERE agreement_id = ?",
        ("0x" + "66" * 32, "0x" + "ef" * 32),
    )
    db.close()


def old_documents(path: Path) -> None:
    """``DocumentService.__init__`` and ``publish_key`` of 02d2678."""
    db = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.executescript(OLD_DOCUMENTS_SCHEMA)
    db.execute("INSERT OR REPLACE INTO document_keys VALUES (?,?,?,?)", (3, b"\x09" * 32, "0x" + "44" * 20, 30.0))
    db.close()


def old_journal(data_dir: Path, *, oldest: bool = False) -> Path:
    path = data_dir / JOURNAL_FILE
    old_store(path, oldest=oldest)
    old_assets(path)
    old_documents(path)
    return path


def dump(path: Path) -> dict[str, list[Any]]:
    """Every row of every table, read with a plain connection."""
    db = sqlite3.connect(path)
    try:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        return {t: db.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall() for t in tables}  # noqa: S608 - names from the file
    finally:
        db.close()


def version_of(path: Path) -> int:
    db = sqlite3.connect(path)
    try:
        return journal_version(db)
    finally:
        db.close()


# --- the tests --------------------------------------------------------------------------------------------------


def test_the_migrations_are_numbered_one_by_one_up_to_the_current_version() -> None:
    assert [m.version for m in MIGRATIONS] == list(range(1, SCHEMA_VERSION + 1))
    assert SCHEMA_VERSION >= 2  # asset details have a table of their own


@pytest.mark.parametrize("oldest", [False, True], ids=["02d2678", "before-owner-columns"])
def test_an_unversioned_journal_of_three_schemas_migrates_on_first_open_without_losing_a_row(
    tmp_path: Path, oldest: bool
) -> None:
    path = old_journal(tmp_path, oldest=oldest)
    before = dump(path)
    assert version_of(path) == 0
    assert len(before["proposals"]) == 4 and len(before["submissions"]) == 2 and len(before["document_keys"]) == 1

    store = Store(path)
    try:
        # the version is current, and the file keeps its connection policy
        assert journal_version(store._conn()) == SCHEMA_VERSION  # noqa: SLF001 - the file's header
        assert store._conn().execute("PRAGMA journal_mode").fetchone()[0] == "wal"  # noqa: SLF001
        # submissions, items and batches: every row, every column as written (new columns empty where they were absent)
        after = dump(path)
        width = len(before["submissions"][0])
        assert [row[:width] for row in after["submissions"]] == before["submissions"]
        assert after["items"] == before["items"] and after["batches"] == before["batches"]
        single = store.submission(1)
        assert single is not None and single.payload == '{"a": 1}' and single.hashes == b"\x01" * 32
        assert (single.owner, single.lease_until) == ((None, None) if oldest else ("4242:abcdef", 1e9))
        found = store.item(b"\x06" * 32)
        assert found is not None and found[0].id == 2 and found[1] == 1
        batch = store.batch_by_root(b"\x04" * 32)
        assert (
            batch is not None
            and batch.status == "anchored"
            and [s.id for s in store.batch_submissions(batch.id)] == [2]
        )
        assert store.counts() == {"anchored": 2, "queued" if oldest else "sending": 1}
        # asset details: out of the proposals, in their own table, the JSON unchanged
        for asset_id, details in ASSET_DETAILS.items():
            assert store.asset_details(asset_id) == details
        assert store.asset_details(2) is None
        assert after["asset_details"] == [
            (1, json.dumps(ASSET_DETAILS[1]), 11.0),
            (7, json.dumps(ASSET_DETAILS[7]), 17.0),
        ]
        # proposals: the agreements only, every column as written
        assert after["proposals"] == [r for r in before["proposals"] if not str(r[0]).startswith("asset:")]
        assert [p.agreement_id for p in store.proposals()] == [AGREEMENT_ID, "0x" + "ef" * 32]
        proposal = store.proposal(AGREEMENT_ID)
        assert proposal is not None and proposal.signatures == SIGNATURES and proposal.status == "proposed"
        assert proposal.terms == {"kind": 2, "assetId": 1} and proposal.asset_id == 1 and proposal.kind == "licence"
        executed = store.proposal("0x" + "ef" * 32)
        assert executed is not None and (executed.status, executed.tx_hash) == ("executed", "0x" + "66" * 32)
        # document keys
        key = store.document_key(3)
        assert key is not None and (key.public_key, key.account, key.updated_at) == (
            b"\x09" * 32,
            "0x" + "44" * 20,
            30.0,
        )
        assert after["document_keys"] == before["document_keys"]
        # and the migrated journal takes writes through the new methods
        assert store.add_proposal_signature(AGREEMENT_ID, 2, "0x" + "77" * 20, "0x" + "88" * 65)
        assert not store.add_proposal_signature(AGREEMENT_ID, 2, "0x" + "77" * 20, "0x" + "88" * 65)  # once per party
        store.put_asset_details(9, {"title": "new"})
        assert store.asset_details(9) == {"title": "new"}
    finally:
        store.close()


def test_opening_a_current_journal_again_changes_nothing(tmp_path: Path) -> None:
    path = old_journal(tmp_path)
    Store(path).close()
    first = dump(path)
    for _ in range(2):
        store = Store(path)
        assert journal_version(store._conn()) == SCHEMA_VERSION  # noqa: SLF001
        store.close()
    assert dump(path) == first


def test_a_new_journal_is_created_at_the_current_version_with_every_table(tmp_path: Path) -> None:
    store = Store.in_data_dir(tmp_path)
    try:
        assert store.path == tmp_path / JOURNAL_FILE
        assert journal_version(store._conn()) == SCHEMA_VERSION  # noqa: SLF001
        assert set(dump(store.path)) == {
            "submissions",
            "items",
            "batches",
            "proposals",
            "asset_details",
            "document_keys",
        }
        assert store.add_proposal("0x01", "licence", 1, {"a": 1}, {})
        assert not store.add_proposal("0x01", "pledge", 2, {}, {})  # the id is taken: nothing written
        assert store.proposal("0x01") == store.proposals()[0] and store.proposals()[0].kind == "licence"
        store.close_proposal("0x01", "withdrawn", "0xaa")
        closed = store.proposal("0x01")
        assert closed is not None and (closed.status, closed.tx_hash) == ("withdrawn", "0xaa")
        store.put_document_key(5, b"\x01" * 32, "0xabc")
        store.put_document_key(5, b"\x02" * 32, "0xdef")  # a party publishes a new key: it replaces the old
        key = store.document_key(5)
        assert key is not None and (key.public_key, key.account) == (b"\x02" * 32, "0xdef")
        assert store.document_key(6) is None and store.proposal("0x02") is None
    finally:
        store.close()


def test_a_journal_of_a_newer_version_is_refused_with_a_clear_error_and_left_untouched(tmp_path: Path) -> None:
    path = old_journal(tmp_path)
    Store(path).close()
    db = sqlite3.connect(path, isolation_level=None)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    before = dump(path)
    with pytest.raises(DataDirError) as refused:
        Store(path)
    message = str(refused.value)
    assert (
        f"version {SCHEMA_VERSION + 1}" in message and f"({SCHEMA_VERSION})" in message and "later release" in message
    )
    assert refused.value.field == "data_dir"
    assert dump(path) == before
    assert version_of(path) == SCHEMA_VERSION + 1


def test_a_file_that_is_not_a_journal_is_refused_with_a_clear_error_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    path.write_bytes(b"notes.txt saved over the journal\n" * 64)
    before = path.read_bytes()
    with pytest.raises(DataDirError) as refused:
        Store(path)
    assert str(path) in str(refused.value) and "restore the copy you keep" in str(refused.value)
    assert refused.value.field == "data_dir"
    assert path.read_bytes() == before


def test_a_journal_damaged_while_in_use_answers_storage_unavailable_not_a_raw_sqlite_error(tmp_path: Path) -> None:
    """Damage found on a read (a page overwritten under a running service) is a 503 `storage_unavailable` that
    says the file is damaged, never an unexplained sqlite3.DatabaseError (a 500)."""
    path = tmp_path / "journal.sqlite3"
    Store(path).close()
    data = bytearray(path.read_bytes())
    data[4096:] = b"\xa5" * (len(data) - 4096)  # every page after the header's
    path.write_bytes(bytes(data))
    store = Store(path)  # opening reads the header only, which is whole
    try:
        with pytest.raises(StorageUnavailable, match="damaged"):
            store.counts()
    finally:
        store.close()


def test_a_migration_that_fails_midway_leaves_the_old_journal_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = old_journal(tmp_path)
    before = dump(path)

    def broken(db: sqlite3.Connection) -> None:
        db.execute("CREATE TABLE half_done (x INTEGER)")
        raise sqlite3.OperationalError("the disk went away")

    import ledger.storage.journal as journal

    monkeypatch.setattr(journal, "MIGRATIONS", (*MIGRATIONS, journal.Migration(SCHEMA_VERSION + 1, "broken", broken)))
    monkeypatch.setattr(journal, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    with pytest.raises(sqlite3.OperationalError):
        Store(path)
    assert dump(path) == before and version_of(path) == 0
    monkeypatch.undo()
    Store(path).close()  # the next open migrates
    assert version_of(path) == SCHEMA_VERSION
