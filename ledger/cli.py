"""``ipledger``: the command line of Qianhai IP Ledger.

Every command reads its defaults from ``IPLEDGER_*`` environment variables (see ``docs/configuration.md``);
options override them. Errors print one line to stderr and exit non-zero, never a traceback.
"""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path
from typing import Annotated, Any

import click
import typer
from rich.console import Console

from ledger.config import Settings
from ledger.errors import ConfigurationError, KeystoreError, LedgerError

app = typer.Typer(
    name="ipledger",
    help="Qianhai IP Ledger — evidence of IP creation and IP agreements on an EVM chain.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)

DataDirOpt = Annotated[
    Path | None, typer.Option("--data-dir", help="Data directory (chain state, manifest, queue). Env: IPLEDGER_DATA_DIR.")
]
RpcUrlOpt = Annotated[
    str | None, typer.Option("--rpc-url", help="JSON-RPC URL of the chain. Env: IPLEDGER_RPC_URL.")
]


def settings_with(**overrides: Any) -> Settings:
    """Settings from the environment, with the CLI's non-None options on top."""
    try:
        base = Settings()
    except Exception as exc:  # pydantic's ValidationError names the variable
        raise ConfigurationError(f"invalid IPLEDGER_* environment: {str(exc).splitlines()[0]}") from None
    values = {k: v for k, v in overrides.items() if v is not None}
    return base.model_copy(update=values)


def keystore_password(settings: Settings, keystore: Path) -> str:
    if settings.keystore_password is not None:
        return settings.keystore_password.get_secret_value()
    if not sys.stdin.isatty():
        raise KeystoreError(f"no password for keystore {keystore}: set IPLEDGER_KEYSTORE_PASSWORD or run in a terminal")
    return str(typer.prompt(f"Password for {keystore}", hide_input=True))


# --- compile ----------------------------------------------------------------------------------


@app.command("compile")
def compile_cmd(
    check: Annotated[
        bool, typer.Option("--check", help="Compile and compare with the committed artifacts; exit 1 if they differ.")
    ] = False,
) -> None:
    """Compile the contracts (pinned solc via py-solc-x) into ledger/artifacts/."""
    from ledger.toolchain import compiler

    result = compiler.compile_contracts()
    if check:
        compiler.check_artifacts(result)
        console.print(f"artifacts up to date ({result.build_info['artifactVersion']}, solc {result.build_info['compiler']['version']})")
        return
    written = compiler.write_artifacts(result)
    console.print(f"wrote {len(written)} artifacts ({result.build_info['artifactVersion']}) to {compiler.ARTIFACTS_DIR}")


# --- node ---------------------------------------------------------------------------------------


@app.command("node")
def node_cmd(
    data_dir: DataDirOpt = None,
    port: Annotated[int | None, typer.Option("--port", help="Port on 127.0.0.1. Env: IPLEDGER_NODE_PORT.")] = None,
) -> None:
    """Run the embedded chain (anvil on loopback) with its state persisted in DATA_DIR/chain until Ctrl-C."""
    from ledger.chain import EmbeddedNode, ensure_writable_dir

    settings = settings_with(data_dir=data_dir, node_port=port)
    ensure_writable_dir(settings.data_dir)
    node = EmbeddedNode(
        settings.data_dir,
        port=settings.node_port,
        state_interval=settings.node_state_interval,
        block_time=settings.node_block_time or None,
    )
    url = node.start()
    console.print(f"embedded node on {url} (state in {node.state_file}); Ctrl-C stops it")
    try:
        _wait_for_signal()
    finally:
        node.stop()
        console.print("node stopped; state written")


def _wait_for_signal() -> None:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass


# --- deploy -------------------------------------------------------------------------------------


@app.command("deploy")
def deploy_cmd(
    rpc_url: RpcUrlOpt = None,
    data_dir: DataDirOpt = None,
    keystore: Annotated[
        Path | None, typer.Option("--keystore", help="Deployer keystore (v3 JSON). Env: IPLEDGER_KEYSTORE.")
    ] = None,
    dev: Annotated[
        bool, typer.Option("--dev", help="Use the well-known development account (only on a dev chain, id 31337).")
    ] = False,
    force: Annotated[bool, typer.Option("--force", help="Deploy even if a manifest for this chain exists.")] = False,
    verify: Annotated[
        bool, typer.Option("--verify", help="Deploy nothing; check the runtime code on chain against the artifacts.")
    ] = False,
) -> None:
    """Deploy the contract suite to any EVM JSON-RPC chain and write the deployment manifest."""
    from ledger.chain import DEV_CHAIN_ID, connect, ensure_writable_dir
    from ledger.deployment import Manifest, deploy_suite, manifest_path, refuse_overwrite, verify_deployment
    from ledger.keys import load_keystore
    from ledger.service import dev_operator
    from ledger.tx import TxSender

    settings = settings_with(rpc_url=rpc_url, data_dir=data_dir, keystore=keystore)
    if not settings.rpc_url:
        raise ConfigurationError("--rpc-url is required (or IPLEDGER_RPC_URL)", field="rpc_url")
    w3 = connect(settings.rpc_url)
    chain_id = int(w3.eth.chain_id)
    path = manifest_path(settings.data_dir, chain_id)
    if verify:
        manifest = Manifest.load(path)
        for name in verify_deployment(w3, manifest):
            console.print(f"[green]✓[/] {name} at {manifest.address(name)} matches artifact {manifest.artifact_version}")
        return
    ensure_writable_dir(settings.data_dir)
    refuse_overwrite(path, force)
    if dev:
        if chain_id != DEV_CHAIN_ID:
            raise ConfigurationError(f"--dev is only for a development chain (id {DEV_CHAIN_ID}); this is {chain_id}")
        account = dev_operator()
    else:
        if settings.keystore is None:
            raise KeystoreError("a deployer keystore is required: --keystore PATH (or IPLEDGER_KEYSTORE)", field="keystore")
        account = load_keystore(settings.keystore, keystore_password(settings, settings.keystore))
    manifest = deploy_suite(TxSender(w3, account))
    manifest.save(path)
    for name, c in manifest.contracts.items():
        console.print(f"{name} deployed at {c.address} (block {c.deploy_block})")
    console.print(f"manifest written to {path}")


# --- up -----------------------------------------------------------------------------------------


@app.command("up")
def up_cmd(
    rpc_url: RpcUrlOpt = None,
    data_dir: DataDirOpt = None,
    host: Annotated[str | None, typer.Option("--host", help="API address. Env: IPLEDGER_HOST.")] = None,
    port: Annotated[int | None, typer.Option("--port", help="API port. Env: IPLEDGER_PORT.")] = None,
    node_port: Annotated[
        int | None, typer.Option("--node-port", help="Embedded node port. Env: IPLEDGER_NODE_PORT.")
    ] = None,
) -> None:
    """Start everything: the embedded node (unless --rpc-url), deployment if none, and the API.

    Running it again on the same data directory reuses the chain and the deployment. Ctrl-C stops
    everything it started.
    """
    import uvicorn

    from api.app import create_app
    from ledger.chain import EmbeddedNode, connect, ensure_writable_dir, port_is_free
    from ledger.errors import PortInUse
    from ledger.keys import load_keystore
    from ledger.service import Ledger, dev_operator

    settings = settings_with(rpc_url=rpc_url, data_dir=data_dir, host=host, port=port, node_port=node_port)
    ensure_writable_dir(settings.data_dir)
    if not port_is_free(settings.host, settings.port):
        raise PortInUse(f"port {settings.port} on {settings.host} is already in use (choose another with --port)")
    node: EmbeddedNode | None = None
    try:
        if settings.rpc_url is None:
            node = EmbeddedNode(
        settings.data_dir,
        port=settings.node_port,
        state_interval=settings.node_state_interval,
        block_time=settings.node_block_time or None,
    )
            w3 = connect(node.start())
            relayer = dev_operator()
        else:
            w3 = connect(settings.rpc_url)
            relayer = (
                load_keystore(settings.keystore, keystore_password(settings, settings.keystore))
                if settings.keystore
                else None
            )
        ledger = Ledger.open(w3, settings, relayer=relayer, deploy_if_missing=True)
        health = ledger.health()
        console.print(
            f"chain {health['chainId']} at block {health['latestBlock']}; "
            f"EvidenceRegistry {health['contracts'].get('EvidenceRegistry')}"
        )
        console.print(f"API on http://{settings.host}:{settings.port} (OpenAPI at /docs); Ctrl-C stops")
        app_ = create_app(ledger, settings)
        uvicorn.run(app_, host=settings.host, port=settings.port, log_level="warning")
    finally:
        if node is not None:
            node.stop()


def main() -> None:
    """Console-script entry point: runs the CLI and turns every error into one line and an exit code."""
    command = typer.main.get_command(app)
    try:
        command.main(prog_name="ipledger", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except (click.exceptions.Abort, KeyboardInterrupt):
        err_console.print("interrupted")
        sys.exit(130)
    except LedgerError as exc:
        err_console.print(f"[red]error:[/] {exc.message}", highlight=False)
        sys.exit(1)
    except OSError as exc:
        err_console.print(f"[red]error:[/] {exc.strerror or exc}", highlight=False)
        sys.exit(1)


if __name__ == "__main__":
    main()
