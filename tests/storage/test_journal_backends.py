"""The journal on both backends (ledger/storage/journal.py, ledger/storage/journal_pg.py): the same calls give the
same answers on SQLite and on PostgreSQL; PostgreSQL's layout is Alembic's head revision and has SQLite's tables
and columns; two journal instances on one PostgreSQL database claiming the same singles never both hold one; a
database at a revision this release does not know is refused untouched."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, inspect

from ledger.domain.evidence import ANCHORED, EXPIRED, FINAL, QUEUED, SENDING
from ledger.errors import DataDirError, StorageFull
from ledger.storage import journal_pg
from ledger.storage.journal import JOURNAL_FILE, SCHEMA_VERSION, Store


def open_store(tmp_path: Path, journal_url: str | None) -> Store:
    return Store.in_data_dir(tmp_path, journal_url)


def single(store: Store, n: int, *, owner: str | None = None) -> int:
    sub, existing = add_single(store, n, owner=owner)
    assert existing == []
    return sub.id


def add_single(store: Store, n: int, *, owner: str | None = None) -> tuple[Any, list[tuple[int, bytes, int]]]:
    return store.add_submission(
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


def test_singles_arriving_together_share_commits_and_each_gets_its_own_answer(
    tmp_path: Path, journal_url: str | None
) -> None:
    """Group commit (Store._grouped): 48 threads journal singles at once, 8 of them a hash another thread also
    sends; every thread gets its own receipt or the first one's, and there were fewer commits than writes."""
    store = open_store(tmp_path, journal_url)
    commits = 0
    real = store.transaction

    def counted(*args: Any, **kwargs: Any) -> Any:
        nonlocal commits
        commits += 1
        return real(*args, **kwargs)

    store.transaction = counted  # type: ignore[method-assign]
    try:
        numbers = list(range(1, 41)) + list(range(1, 9))  # 1..8 twice
        answers: dict[int, list[tuple[int, list[Any]]]] = {n: [] for n in range(1, 41)}
        start = threading.Barrier(len(numbers))

        def add(n: int) -> None:
            start.wait()
            sub, existing = add_single(store, n)
            answers[n].append((sub.id, existing))

        threads = [threading.Thread(target=add, args=(n,)) for n in numbers]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        for n, got in answers.items():
            assert len(got) == (2 if n <= 8 else 1)
            ids = {sub_id for sub_id, _ in got}
            assert len(ids) == 1  # the second of a pair is told the first one's receipt
            assert sorted(len(existing) for _, existing in got) == ([0, 1] if n <= 8 else [0])
            assert store.item(bytes([n]) * 32)[0].id in ids  # type: ignore[index]
        assert len({sub_id for got in answers.values() for sub_id, _ in got}) == 40
        assert store.counts() == {"queued": 40}
        assert commits < len(numbers)
    finally:
        store.close()


def test_a_failed_group_commit_records_none_of_its_writes(tmp_path: Path, journal_url: str | None) -> None:
    """A group's transaction fails whole: each of its writers gets an error of its own, nothing of any of them is
    journalled, and the next group commits normally."""
    store = open_store(tmp_path, journal_url)
    real = store.transaction

    @contextmanager
    def failing(*args: Any, **kwargs: Any) -> Iterator[Any]:
        with real(*args, **kwargs) as db:
            yield db
            raise StorageFull("the disk is full")  # after every write ran, before the commit: rolled back

    try:
        release = threading.Event()
        first = threading.Thread(target=store._grouped, args=(lambda db: release.wait(30),))  # noqa: SLF001
        first.start()  # a group that holds the gate while the next one gathers
        deadline = time.monotonic() + 30
        while not store._group_gate.locked():  # noqa: SLF001 - the first group is committing (and waits)
            assert time.monotonic() < deadline, "the first group did not start"
            time.sleep(0.01)
        outcomes: list[BaseException | int] = []

        def member(n: int) -> None:
            try:
                outcomes.append(single(store, n))
            except StorageFull as exc:
                outcomes.append(exc)

        members = [threading.Thread(target=member, args=(n,)) for n in (1, 2, 3)]
        for t in members:
            t.start()
        while len(getattr(store._open_group, "writes", ())) < 3:  # noqa: SLF001 - the three form the next group
            assert time.monotonic() < deadline, "the writers did not gather into one group"
            time.sleep(0.01)
        store.transaction = failing  # type: ignore[method-assign]
        release.set()
        for t in [first, *members]:
            t.join(timeout=60)
        assert len(outcomes) == 3 and all(isinstance(o, StorageFull) for o in outcomes)
        assert len({id(o) for o in outcomes}) == 3  # each thread raises an exception object of its own
        assert sum(store.counts().values()) == 0
        store.transaction = real  # type: ignore[method-assign]
        assert single(store, 9) > 0  # the journal goes on
    finally:
        store.close()


def test_many_singles_are_claimed_sent_and_settled_in_one_transaction_each(
    tmp_path: Path, journal_url: str | None
) -> None:
    store = open_store(tmp_path, journal_url)
    try:
        ids = [single(store, n) for n in range(1, 7)]
        held = single(store, 7, owner="other")
        assert store.claim(ids[0], "b", status=QUEUED, held_by=None) is not None  # claimed one by one before
        claimed = store.claim_queued([*ids, held], "a")
        assert [s.id for s in claimed] == ids[1:] and all(s.owner == "a" and s.status == SENDING for s in claimed)
        assert store.claim_queued(ids, "c") == []  # nothing queued is left to take
        store.release_many([ids[1]], "a")
        store.release_many([ids[2]], "someone else")  # not theirs: unchanged
        assert store.submission(ids[1]).status == QUEUED  # type: ignore[union-attr]
        assert store.submission(ids[2]).owner == "a"  # type: ignore[union-attr]
        store.mark_sent_many([(ids[2], "0x" + "aa" * 32), (ids[3], "0x" + "bb" * 32)])
        store.mark_anchored_many([(ids[2], 11, "0x" + "cc" * 32, 1_700_000_000)])
        store.mark_final_many([ids[3]])
        two, three = store.submission(ids[2]), store.submission(ids[3])
        assert two is not None and (two.status, two.tx_hash, two.owner) == (ANCHORED, "0x" + "aa" * 32, None)
        assert (two.block_number, two.block_hash, two.block_timestamp) == (11, "0x" + "cc" * 32, 1_700_000_000)
        assert three is not None and three.status == FINAL
    finally:
        store.close()


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
