"""Moving a data directory's SQLite journal to PostgreSQL (``ipledger journal migrate --to URL``).

The copy is one transaction on the target, under the journal's write lock (:data:`journal_pg.WRITE_LOCK`): the
target's tables must be empty (a non-empty target is refused, unchanged), every row of every table is copied from
one read snapshot of the SQLite file, the sequences are set past the copied ids, and before the commit each table's
row count and content digest are read back from the target and compared with the source's. Any difference rolls the
whole copy back. The digest of a table is the sum, modulo 2**256, of the SHA-256 of each row's canonical encoding
(type-tagged values, floats exact), so it does not depend on the order rows come in (the two databases may collate
text differently).

After a successful copy the data directory gets a marker, :data:`MOVED_FILE`, naming where the journal went (without
a password): the SQLite journal stays as it was, as a backup, but the service no longer opens it — started without
``IPLEDGER_JOURNAL_URL`` it refuses, instead of carrying on from a stale copy.
"""

from __future__ import annotations

import hashlib
import sqlite3
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Float, LargeBinary, Table, Text

from ledger.errors import Conflict, DataDirError
from ledger.storage import journal_pg
from ledger.storage.journal import JOURNAL_FILE, MOVED_FILE, Store, moved_to, storage_errors

#: Rows copied per statement.
CHUNK = 2000


class TargetNotEmpty(Conflict):
    """The database named as the target already holds journal rows."""

    code = "journal_target_not_empty"


class CopyMismatch(DataDirError):
    """What was read back from the target differs from the source (the copy was rolled back)."""

    code = "journal_copy_mismatch"


@dataclass(frozen=True)
class TableCopy:
    table: str
    rows: int
    digest: str

    def to_json(self) -> dict[str, Any]:
        return {"table": self.table, "rows": self.rows, "digest": self.digest}


def _value(column: Any, value: Any) -> Any:
    if value is None:
        return None
    if isinstance(column.type, LargeBinary):
        return bytes(value)
    if isinstance(column.type, Float):
        return float(value)
    if isinstance(column.type, Text):
        return str(value)
    return int(value)


def _encode(value: Any) -> bytes:
    if value is None:
        return b"N"
    if isinstance(value, bytes):
        return b"B" + struct.pack(">Q", len(value)) + value
    if isinstance(value, float):
        return b"F" + value.hex().encode()
    if isinstance(value, int):
        return b"I" + str(value).encode() + b";"
    text = str(value).encode("utf-8")
    return b"S" + struct.pack(">Q", len(text)) + text


class Digest:
    """A table's content digest, independent of row order."""

    def __init__(self) -> None:
        self.rows = 0
        self._sum = 0

    def add(self, rows: Iterable[Sequence[Any]]) -> None:
        for row in rows:
            self._sum = (self._sum + int.from_bytes(hashlib.sha256(b"".join(map(_encode, row))).digest(), "big")) % (
                1 << 256
            )
            self.rows += 1

    @property
    def hex(self) -> str:
        return self._sum.to_bytes(32, "big").hex()


def copy_to_postgres(data_dir: Path, target_url: str) -> list[TableCopy]:
    """Copies ``DATA_DIR/journal.sqlite3`` into the empty PostgreSQL journal at ``target_url`` (see the module's
    header). The caller holds the data directory's lock: no process writes the source meanwhile."""
    path = Path(data_dir) / JOURNAL_FILE
    if not path.is_file():
        raise DataDirError(f"{path} does not exist: there is no SQLite journal to migrate", field="data_dir")
    if moved_to(data_dir) is not None:
        raise DataDirError(
            f"the journal of {data_dir} was already migrated to {moved_to(data_dir)} (see {MOVED_FILE})",
            field="data_dir",
        )
    source = Store(path)  # brings an older SQLite journal to the current layout first
    target = Store(url=target_url)  # creates (or checks) the layout at the head revision
    try:
        assert target._engine is not None  # noqa: SLF001 - this module is the journal's own
        with storage_errors():
            src = source._conn()  # noqa: SLF001
            src.execute("BEGIN")  # one read snapshot of the whole file
            try:
                with target._engine.begin() as conn:  # noqa: SLF001
                    journal_pg.begin_write(conn, durable=True, busy_timeout=60.0)
                    held = {
                        t.name: int(conn.exec_driver_sql(f"SELECT COUNT(*) FROM {t.name}").scalar() or 0)  # noqa: S608
                        for t in journal_pg.TABLES
                    }
                    if any(held.values()):
                        raise TargetNotEmpty(
                            f"the journal database {journal_pg.shown_url(target_url)} is not empty ("
                            + ", ".join(f"{n} {t}" for t, n in held.items() if n)
                            + "): nothing was copied; migrate into an empty database",
                            field="to",
                        )
                    report = [_copy_table(src, conn, table) for table in journal_pg.TABLES]
                    for name in journal_pg.SEQUENCED:
                        conn.exec_driver_sql(
                            f"SELECT setval(pg_get_serial_sequence('{name}', 'id'),"
                            f" COALESCE((SELECT MAX(id) FROM {name}), 0) + 1, false)"  # noqa: S608 - fixed names
                        )
            finally:
                src.execute("ROLLBACK")
        (Path(data_dir) / MOVED_FILE).write_text(journal_pg.shown_url(target_url) + "\n", encoding="utf-8")
        return report
    finally:
        source.close()
        target.close()


def _copy_table(src: sqlite3.Connection, conn: Any, table: Table) -> TableCopy:
    names = [c.name for c in table.columns]
    columns = list(table.columns)
    insert = f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({', '.join(['%s'] * len(names))})"
    copied = Digest()
    cursor = src.execute(f"SELECT {', '.join(names)} FROM {table.name}")  # noqa: S608 - fixed names
    while chunk := cursor.fetchmany(CHUNK):
        try:
            rows = [tuple(_value(c, v) for c, v in zip(columns, row, strict=True)) for row in chunk]
        except (TypeError, ValueError):
            raise CopyMismatch(
                f"the SQLite journal's table {table.name} holds a value its column's type cannot hold: nothing was"
                " copied",
                field="data_dir",
            ) from None
        conn.exec_driver_sql(insert, rows)
        copied.add(rows)
    back = Digest()
    result = conn.exec_driver_sql(f"SELECT {', '.join(names)} FROM {table.name}")  # noqa: S608 - fixed names
    while part := result.fetchmany(CHUNK):
        back.add(tuple(r) for r in part)
    if (back.rows, back.hex) != (copied.rows, copied.hex):
        raise CopyMismatch(
            f"table {table.name}: {copied.rows} rows read from SQLite, {back.rows} read back from PostgreSQL, digests"
            f" {copied.hex[:16]}… and {back.hex[:16]}…: the copy was rolled back, nothing changed",
            field="to",
        )
    return TableCopy(table.name, copied.rows, copied.hex)
