"""The journal on both backends (ledger/storage/journal.py, ledger/storage/journal_pg.py): the same calls give the
same answers on SQLite and on PostgreSQL; PostgreSQL's layout is Alembic's head revision and has SQLite's tables
and columns; two journal instances on one PostgreSQL database claiming the same singles never both hold one; a
database at a revision this release does not know is refused untouched."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect

from ledger.domain.evidence import EXPIRED, QUEUED, SENDING
from ledger.errors import DataDirError
from ledger.storage import journal_pg
from ledger.storage.journal import JOURNAL_FILE, SCHEMA_VERSION, Store


def open_store(tmp_path: Path, journal_url: str | None) -> Store:
    return Store.in_data_dir(tmp_path, journal_url)


def single(store: Store, n: int, *, owner: str | None = None) -> int:
    sub, existing = store.add_submission(
        kind="single",
        registrant="0x" + "11" * 20,
        party_id=1,
        algorithm=1,
        hashes=[bytes([n]) * 32],
        root=None,
        deadline=2_000_000_000,
        signature=b"\x01" * 65,
        digest=b"\x02" * 32,
        payload=json.dumps({"n": n}),
        owner=owner,
    )
    assert existing == []
    return sub.id


def test_the_same_calls_give_the_same_answers(tmp_path: Path, journal_url: str | None) -> None:
    store = open_store(tmp_path, journal_url)
    try:
        assert store.backend == ("sqlite" if journal_url is None else "postgresql")
        assert store.layout() == (f"version {SCHEMA_VERSION}" if journal_url is None else f"revision v{SCHEMA_VERSION}")
        first = single(store, 1)
        again, existing = store.add_submission(
            kind="single",
            registrant="0x" + "22" * 20,
            party_id=2,
            algorithm=1,
            hashes=[b"\x01" * 32],
            root=None,
            deadline=2_000_000_000,
            signature=b"\x03" * 65,
            digest=None,
        )
        assert again.id == first and existing == [(0, b"\x01" * 32, first)]  # first accepted wins, nothing written
        batch, existing = store.add_submission(
            kind="batch",
            registrant="0x" + "11" * 20,
            party_id=1,
            algorithm=1,
            hashes=[b"\x01" * 32, b"\x05" * 32, b"\x06" * 32],
            root=b"\x07" * 32,
            deadline=2_000_000_000,
            signature=b"\x04" * 65,
            digest=None,
        )
        assert existing == [(0, b"\x01" * 32, first)] and batch.status == QUEUED
        found = store.items([b"\x01" * 32, b"\x05" * 32, b"\x09" * 32])
        assert {k: (s.id, i) for k, (s, i) in found.items()} == {b"\x01" * 32: (first, 0), b"\x05" * 32: (batch.id, 1)}
        assert store.submission_hashes(batch.id)[2] == b"\x06" * 32
        tree = store.create_batch(b"\x08" * 32, [batch.id], 2)
        assert store.batch_by_root(b"\x08" * 32) == tree == store.batch(tree.id)
        store.set_batch_state(tree.id, "anchored", tx_hash="0xaa", block_number=5, block_hash="0xbb", block_timestamp=7)
        assert [s.status for s in store.batch_submissions(tree.id)] == ["anchored"]
        assert store.open_batches()[0].block_number == 5
        assert store.has_in_flight()
        # a single expires and gives its hash up to a later one
        assert store.expire(first, "too late", status=QUEUED, held_by=None)
        assert store.submission(first).status == EXPIRED  # type: ignore[union-attr]
        later = single(store, 1)
        assert later != first and store.item(b"\x01" * 32)[0].id == later  # type: ignore[index]
        store.mark_submission(later, durable=False, error="x")
        assert store.counts() == {"anchored": 3, EXPIRED: 1, QUEUED: 1}
        # proposals, asset details and document keys
        assert store.add_proposal("0x01", "licence", 1, {"a": 1}, {"b": 2})
        assert not store.add_proposal("0x01", "pledge", 2, {}, {})
        assert store.add_proposal_signature("0x01", 3, "0xs", "0xsig")
        assert not store.add_proposal_signature("0x01", 3, "0xs", "0xsig")
        store.close_proposal("0x01", "executed", "0xcc")
        proposal = store.proposal("0x01")
        assert proposal is not None and proposal.signatures == {"3": {"signer": "0xs", "signature": "0xsig"}}
        assert (proposal.status, proposal.tx_hash, proposal.terms) == ("executed", "0xcc", {"a": 1})
        store.put_asset_details(4, {"title": "a"})
        store.put_asset_details(4, {"title": "b"})
        assert store.asset_details(4) == {"title": "b"} and store.asset_details(5) is None
        store.put_document_key(5, b"\x01" * 32, "0xabc")
        store.put_document_key(5, b"\x02" * 32, "0xdef")
        key = store.document_key(5)
        assert key is not None and (key.public_key, key.account) == (b"\x02" * 32, "0xdef")
        assert store.table_counts() == {
            "batches": 1,
            "submissions": 3,
            "items": 3,
            "proposals": 1,
            "asset_details": 1,
            "document_keys": 1,
        }
    finally:
        store.close()
    reopened = open_store(tmp_path, journal_url)  # opening again migrates nothing and keeps every row
    try:
        assert reopened.table_counts()["items"] == 3 and reopened.proposal("0x01") == proposal
    finally:
        reopened.close()


def test_two_journals_claiming_the_same_singles_never_both_hold_one(tmp_path: Path, journal_url: str | None) -> None:
    """Two Store instances (two processes' journals) on one database race to claim every queued single."""
    first, second = open_store(tmp_path, journal_url), open_store(tmp_path, journal_url)
    try:
        ids = [single(first, n) for n in range(1, 41)]
        claimed: dict[str, list[int]] = {"a": [], "b": []}
        start = threading.Barrier(2)

        def claim_all(store: Store, name: str) -> None:
            start.wait()
            for sub in store.claimable_singles(name, 0.0):
                if sub.status != QUEUED:  # held by the other, alive: the pipeline leaves it (owner_alive)
                    continue
                if store.claim(sub.id, name, status=sub.status, held_by=sub.owner) is not None:
                    claimed[name].append(sub.id)

        threads = [threading.Thread(target=claim_all, args=(s, n)) for s, n in ((first, "a"), (second, "b"))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert not set(claimed["a"]) & set(claimed["b"])  # no single claimed twice
        assert sorted(claimed["a"] + claimed["b"]) == ids  # and every one claimed once
        for name, mine in claimed.items():
            assert all(first.submission(i).owner == name and first.submission(i).status == SENDING for i in mine)  # type: ignore[union-attr]
    finally:
        first.close()
        second.close()


def test_postgresql_has_sqlite_s_tables_and_columns_at_the_head_revision(tmp_path: Path, postgres_db: str) -> None:
    Store(tmp_path / JOURNAL_FILE).close()
    Store(url=postgres_db).close()
    assert journal_pg.head_revision() == f"v{SCHEMA_VERSION}"
    on = {
        name: inspect(create_engine(url))
        for name, url in (("sqlite", f"sqlite:///{tmp_path / JOURNAL_FILE}"), ("pg", postgres_db))
    }
    for table in journal_pg.TABLES:
        assert (
            [c["name"] for c in on["sqlite"].get_columns(table.name)]
            == [c["name"] for c in on["pg"].get_columns(table.name)]
            == [c.name for c in table.columns]
        )
    assert set(on["pg"].get_table_names()) == {t.name for t in journal_pg.TABLES} | {journal_pg.VERSION_TABLE}


def test_a_database_at_an_unknown_revision_is_refused_untouched(postgres_db: str) -> None:
    Store(url=postgres_db).close()
    engine = create_engine(postgres_db)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"UPDATE {journal_pg.VERSION_TABLE} SET version_num = 'v99'")
    with pytest.raises(DataDirError) as refused:
        Store(url=postgres_db)
    assert "v99" in str(refused.value) and "later release" in str(refused.value)
    assert refused.value.field == "journal_url" and "password" not in str(refused.value)
    with engine.connect() as conn:
        assert conn.exec_driver_sql(f"SELECT version_num FROM {journal_pg.VERSION_TABLE}").scalar() == "v99"
    engine.dispose()


def test_a_url_that_is_not_postgresql_is_refused(tmp_path: Path) -> None:
    for url in ("sqlite:///x.db", "not a url"):
        with pytest.raises(DataDirError) as refused:
            Store(url=url)
        assert refused.value.field == "journal_url"


def test_a_data_directory_whose_sqlite_journal_holds_rows_does_not_open_on_postgresql_unmigrated(
    tmp_path: Path, postgres_db: str
) -> None:
    empty = Store.in_data_dir(tmp_path)  # a SQLite journal with no rows: nothing to lose
    empty.close()
    Store.in_data_dir(tmp_path, postgres_db).close()
    sqlite = Store.in_data_dir(tmp_path)
    single(sqlite, 9)
    sqlite.close()
    with pytest.raises(DataDirError) as refused:
        Store.in_data_dir(tmp_path, postgres_db)
    assert "2 rows" in str(refused.value) and "ipledger journal migrate" in str(refused.value)
    pg = Store(url=postgres_db)
    assert pg.table_counts()["submissions"] == 0
    pg.close()


def test_the_journal_and_the_index_cannot_share_one_database() -> None:
    from ledger.config import Settings

    with pytest.raises(ValueError, match="same database"):
        Settings(journal_url="postgresql+psycopg://a:pw@db:5432/ipledger", index_url="postgresql://b@db:5432/ipledger")
    assert Settings(journal_url="postgresql://a@db/journal", index_url="postgresql://a@db/index").journal_url


def test_an_owner_of_another_host_counts_as_alive_and_one_of_this_host_by_its_pid() -> None:
    from ledger.storage.journal import owner_alive, process_owner

    me = process_owner()
    pid, host = me.partition(":")[0], me.partition("@")[2]
    assert host and owner_alive(me)
    assert owner_alive(f"{pid}:other@{host}-replica")  # another host: its lease decides, not this host's PIDs
    assert not owner_alive(f"{pid}:previous@{host}")  # an earlier process of this host with this PID
    assert not owner_alive(f"{pid}:previous")  # a token written before hosts were recorded: this host
    assert not owner_alive(f"{2**22 + 1}:gone@{host}")  # no such PID here
