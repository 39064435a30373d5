"""``ipledger index sync|status|rebuild``: the event index (ledger/index/) from the command line.

The chain is ``--rpc-url`` (or IPLEDGER_RPC_URL), else the embedded node of ``ipledger up`` on loopback at
IPLEDGER_NODE_PORT; the deployment is the manifest in the data directory; the database is IPLEDGER_INDEX_URL
(else SQLite at DATA_DIR/index.sqlite3). ``ipledger up`` keeps the index current by itself.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)

from cli.common import DataDirOpt, RpcUrlOpt, console, settings_with

app = typer.Typer(help="The event index behind /v1/index/*: catch up, inspect, rebuild.", no_args_is_help=True)

IndexUrlOpt = Annotated[
    str | None, typer.Option("--index-url", help="SQLAlchemy URL of the index database. Env: IPLEDGER_INDEX_URL.")
]
ToBlockOpt = Annotated[
    int | None, typer.Option("--to-block", help="Stop at this block (default: head minus confirmations).")
]


def _open(rpc_url: str | None, data_dir: Any, index_url: str | None) -> Any:
    from ledger.chain.rpc import connect
    from ledger.facade import Ledger

    settings = settings_with(rpc_url=rpc_url, data_dir=data_dir, index_url=index_url)
    w3 = connect(settings.rpc_url or f"http://127.0.0.1:{settings.node_port}")
    return Ledger.open(w3, settings)


def _run_with_progress(step: Any, label: str) -> int:
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("blocks"),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    ) as bar:
        task = bar.add_task(label, total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=max(total, 1) if total else 1)

        return int(step(progress))


def _catch_up(
    rpc_url: str | None, data_dir: Any, index_url: str | None, to_block: int | None, *, rebuild: bool
) -> None:
    ledger = _open(rpc_url, data_dir, index_url)
    try:
        step = ledger.index.rebuild if rebuild else ledger.index.sync
        last = _run_with_progress(
            lambda p: step(progress=p, to_block=to_block), "rebuilding" if rebuild else "indexing"
        )
        console.print(f"{'rebuilt' if rebuild else 'indexed'} to block {last}")
    finally:
        ledger.close()


@app.command("sync")
def index_sync(
    rpc_url: RpcUrlOpt = None, data_dir: DataDirOpt = None, index_url: IndexUrlOpt = None, to_block: ToBlockOpt = None
) -> None:
    """Catch up with the chain (to `confirmations` blocks behind the head), rolling back a reorganisation."""
    _catch_up(rpc_url, data_dir, index_url, to_block, rebuild=False)


@app.command("rebuild")
def index_rebuild(
    rpc_url: RpcUrlOpt = None, data_dir: DataDirOpt = None, index_url: IndexUrlOpt = None, to_block: ToBlockOpt = None
) -> None:
    """Drop the index and read every event again from the deployment block."""
    _catch_up(rpc_url, data_dir, index_url, to_block, rebuild=True)


@app.command("status")
def index_status(
    rpc_url: RpcUrlOpt = None,
    data_dir: DataDirOpt = None,
    index_url: IndexUrlOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the status as JSON instead of words.")] = False,
) -> None:
    """How far the index has read, how far behind the head it is, and its row counts, in words (--json: JSON)."""
    ledger = _open(rpc_url, data_dir, index_url)
    try:
        status = ledger.index.status()
    finally:
        ledger.close()
    if as_json:
        console.print_json(json.dumps(status))
        return
    for line in status_lines(status):
        console.print(line, highlight=False, markup=False)


def status_lines(status: Any) -> list[str]:
    """The index's status (``Indexer.status``) in words."""
    last, head, behind = status.get("lastBlock"), status.get("head"), status.get("behind")
    read = f"read to block {last}" if last is not None else "nothing read yet"
    lines = [f"index ({status.get('database')}): {read} of the chain since block {status.get('deployBlock')}"]
    if head is None:
        lines.append("the node does not answer: how far behind is not known")
    else:
        lag = "up to date" if behind == 0 else f"{behind} block{'s' if behind != 1 else ''} behind"
        lines.append(f"head {head}, {status.get('confirmations')} confirmations kept back: {lag}")
    counts = status.get("counts") or {}
    lines.append("rows: " + ", ".join(f"{n} {table}" for table, n in counts.items()))
    if status.get("running") is not None:
        lines.append("following the chain in the background" if status["running"] else "not following the chain")
    if status.get("lastError"):
        lines.append(f"last error: {status['lastError']}")
    return lines
