"""``ipledger journal status|migrate``: the durable journal (ledger/storage/journal.py) from the command line.

The journal is IPLEDGER_JOURNAL_URL (PostgreSQL) when set, else SQLite at DATA_DIR/journal.sqlite3.
``migrate --to URL`` moves a data directory's SQLite journal into an empty PostgreSQL database, in one transaction,
checked table by table (row counts and content digests); the service must be stopped (the data directory's lock).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from cli.common import DataDirOpt, console, settings_with

app = typer.Typer(
    help="The durable journal (accepted registrations, proposals, document keys): status, move to PostgreSQL.",
    no_args_is_help=True,
)

JournalUrlOpt = Annotated[
    str | None,
    typer.Option("--journal-url", help="SQLAlchemy URL of a PostgreSQL journal. Env: IPLEDGER_JOURNAL_URL."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of words.")]


@app.command("status")
def journal_status(data_dir: DataDirOpt = None, journal_url: JournalUrlOpt = None, as_json: JsonOpt = False) -> None:
    """Where the journal is (SQLite file or PostgreSQL database), its layout version, and its row counts."""
    from ledger.storage.journal import Store

    settings = settings_with(data_dir=data_dir, journal_url=journal_url)
    store = Store.in_data_dir(Path(settings.data_dir), settings.journal_url)
    try:
        status = {
            "backend": store.backend,
            "location": store.location,
            "layout": store.layout(),
            "rows": store.table_counts(),
            "submissions": store.counts(),
        }
    finally:
        store.close()
    if as_json:
        console.print_json(json.dumps(status))
        return
    for line in status_lines(status):
        console.print(line, highlight=False, markup=False)


def status_lines(status: dict[str, Any]) -> list[str]:
    """The journal's status in words."""
    kind = "PostgreSQL database" if status["backend"] == "postgresql" else "SQLite file"
    lines = [f"journal: {kind} {status['location']}, layout {status['layout']}"]
    lines.append("rows: " + ", ".join(f"{n} {table}" for table, n in status["rows"].items()))
    by_state = status.get("submissions") or {}
    if by_state:
        lines.append("registrations by state: " + ", ".join(f"{n} {state}" for state, n in sorted(by_state.items())))
    return lines


@app.command("migrate")
def journal_migrate(
    to: Annotated[
        str, typer.Option("--to", help="SQLAlchemy URL of the empty PostgreSQL database to move the journal into.")
    ],
    data_dir: DataDirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Move the data directory's SQLite journal into an empty PostgreSQL database.

    Stop the service first: the data directory must not be in use (its lock is taken for the copy). A target that
    holds journal rows is refused, unchanged. Every table is copied in one transaction and checked before it
    commits (row counts and a content digest per table); any difference rolls it back. Afterwards the SQLite
    journal stays as a backup, marked as moved (journal.moved): start the service with IPLEDGER_JOURNAL_URL set to
    the target.
    """
    from ledger.chain.node import DataDirLock
    from ledger.storage.journal_copy import copy_to_postgres
    from ledger.storage.journal_pg import shown_url

    settings = settings_with(data_dir=data_dir)
    lock = DataDirLock.acquire(Path(settings.data_dir), purpose="ipledger journal migrate")
    try:
        report = copy_to_postgres(Path(settings.data_dir), to)
    finally:
        lock.release()
    where = shown_url(to)
    if as_json:
        console.print_json(
            json.dumps({"from": str(Path(settings.data_dir)), "to": where, "tables": [t.to_json() for t in report]})
        )
        return
    total = sum(t.rows for t in report)
    console.print(f"moved the journal of {settings.data_dir} to {where}: {total} rows", highlight=False, markup=False)
    for t in report:
        console.print(
            f"  {t.table}: {t.rows} row{'s' if t.rows != 1 else ''}, digest {t.digest[:16]}… (same on both sides)",
            highlight=False,
            markup=False,
        )
    console.print(
        f"next: set IPLEDGER_JOURNAL_URL to {where} (with its password) and start the service; the SQLite journal"
        " stays in the data directory as a backup and is no longer opened",
        highlight=False,
        markup=False,
    )
