"""``ipledger compile``, ``node``, ``deploy``, ``up``, ``serve`` and ``worker``: build the contracts, run the chain,
deploy the suite and start the service (all of it with ``up``; as API replicas and workers with ``serve`` and
``worker``, docs/operations.md "Several processes"). Registered on the root app by cli/main.py (they are top-level commands, not a group).

Guarantees:
- ``node`` and ``up`` lock the data directory for their whole life: a second one on it exits at once, naming the
  holder; the embedded node is restarted with backoff if it dies; Ctrl-C (and SIGTERM for ``node``) stops
  everything they started, writing the chain state.
- ``up`` and ``serve`` are the only commands that import the API (``api.app``), inside their functions (``up`` after
  the lock is taken).
- ``deploy`` never overwrites a deployment manifest unless ``--force``; ``--dev`` is refused off the
  development chain (id 31337).
- ``worker`` sends only while it leads its relayer account (``ledger.storage.lease``), and stops sending at once
  when it loses the lead; ``serve`` sends no relayed registration.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import urlsplit

import typer
from pydantic import SecretStr

from cli.common import DataDirOpt, RpcUrlOpt, console, err_console, keystore_password, operator_token, settings_with
from ledger.config import LOOPBACK
from ledger.errors import ConfigurationError, KeystoreError, LedgerError

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

    from ledger.config import Settings
    from ledger.facade import Ledger


# --- compile ----------------------------------------------------------------------------------


def compile_cmd(
    check: Annotated[
        bool, typer.Option("--check", help="Compile and compare with the committed artifacts; exit 1 if they differ.")
    ] = False,
) -> None:
    """Compile the contracts (pinned solc via py-solc-x) into ledger/artifacts/."""
    from ledger.chain import compiler

    result = compiler.compile_contracts()
    if check:
        compiler.check_artifacts(result)
        console.print(
            f"artifacts up to date ({result.build_info['artifactVersion']}, solc {result.build_info['compiler']['version']})"
        )
        return
    written = compiler.write_artifacts(result)
    console.print(
        f"wrote {len(written)} artifacts ({result.build_info['artifactVersion']}) to {compiler.ARTIFACTS_DIR}"
    )


# --- node ---------------------------------------------------------------------------------------


def node_cmd(
    data_dir: DataDirOpt = None,
    port: Annotated[int | None, typer.Option("--port", help="Port to listen on. Env: IPLEDGER_NODE_PORT.")] = None,
    host: Annotated[
        str | None,
        typer.Option(
            "--host",
            help="Address to listen on (default 127.0.0.1). Use 0.0.0.0 "
            "only inside a container network: anvil's test methods (anvil_setBalance, evm_revert ...) "
            "answer anyone who reaches the port. Env: IPLEDGER_NODE_HOST.",
        ),
    ] = None,
) -> None:
    """Run the embedded chain (anvil, on loopback unless --host says otherwise) with its state persisted in
    DATA_DIR/chain until Ctrl-C or SIGTERM.

    The data directory is locked while it runs: a second `ipledger node` or `ipledger up` on it exits at once,
    naming this process. The node is restarted (with backoff) if it dies. The container layout's `node` service
    (docker-compose.yml) runs this command.
    """
    import ipaddress

    from ledger.chain.node import DataDirLock, EmbeddedNode, NodeSupervisor

    settings = settings_with(data_dir=data_dir, node_port=port, node_host=host)
    try:
        ipaddress.ip_address(settings.node_host)
    except ValueError:
        raise ConfigurationError(
            f"--host / IPLEDGER_NODE_HOST must be an IP address, not {settings.node_host!r}"
        ) from None
    # SIGTERM (what `docker compose stop` sends) is caught from here on, so one that arrives while the node is
    # still starting stops it cleanly once it has started, instead of killing this process half way.
    stop = _stop_on_sigterm()
    lock = DataDirLock.acquire(settings.data_dir, purpose="ipledger node")
    node = EmbeddedNode(
        settings.data_dir,
        port=settings.node_port,
        host=settings.node_host,
        state_interval=settings.node_state_interval,
        block_time=settings.node_block_time or None,
        lock=lock,
    )
    url = node.start()
    supervisor = NodeSupervisor(node, report=lambda message: err_console.print(message)).start()
    where = url if node.host == "127.0.0.1" else f"{url}, listening on {node.host}"
    console.print(f"embedded node on {where} (state in {node.state_file}); Ctrl-C stops it")
    try:
        _wait_for_signal(stop)
    finally:
        supervisor.stop()
        node.stop()
        lock.release()
        console.print("node stopped; state written")


def _stop_on_sigterm() -> threading.Event:
    """An event that SIGTERM sets (instead of ending the process at once)."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    return stop


def _wait_for_signal(stop: threading.Event) -> None:
    """Returns once SIGTERM has set ``stop`` (see :func:`_stop_on_sigterm`), or at Ctrl-C."""
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass


# --- deploy -------------------------------------------------------------------------------------


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
    registrar: Annotated[
        str | None,
        typer.Option(
            "--registrar",
            help="Registrar address (admits ordinary parties, "
            "suspends provisionally); not the deployer. Default on --dev: anvil account 8.",
        ),
    ] = None,
    governance: Annotated[
        str | None,
        typer.Option(
            "--governance",
            help="An existing governance timelock's address. "
            "Env: IPLEDGER_GOVERNANCE_ADDRESS. Or create one with --council.",
        ),
    ] = None,
    council: Annotated[
        str | None,
        typer.Option(
            "--council",
            help="Create the governance: a Safe of these owners "
            "(comma-separated addresses) proposing to a new timelock (delay IPLEDGER_GOVERNANCE_DELAY). "
            "Default on the development chain: a 2-of-3 Safe of anvil accounts 9, 10, 11.",
        ),
    ] = None,
    threshold: Annotated[
        int | None,
        typer.Option(
            "--threshold", min=1, max=64, help="Signatures the council Safe needs (default: a majority of --council)."
        ),
    ] = None,
    verify: Annotated[
        bool, typer.Option("--verify", help="Deploy nothing; check the runtime code on chain against the artifacts.")
    ] = False,
) -> None:
    """Deploy the contract suite to any EVM JSON-RPC chain and write the deployment manifest."""
    from ledger.chain.deployment import Manifest, deploy_suite, manifest_path, refuse_overwrite, verify_deployment
    from ledger.chain.node import DEV_CHAIN_ID, ensure_writable_dir
    from ledger.chain.rpc import connect
    from ledger.chain.sender import TxSender
    from ledger.facade import dev_operator
    from ledger.storage.keys import load_keystore

    settings = settings_with(rpc_url=rpc_url, data_dir=data_dir, keystore=keystore)
    if not settings.rpc_url:
        raise ConfigurationError("--rpc-url is required (or IPLEDGER_RPC_URL)", field="rpc_url")
    w3 = connect(settings.rpc_url)
    chain_id = int(w3.eth.chain_id)
    path = manifest_path(settings.data_dir, chain_id)
    if verify:
        manifest = Manifest.load(path)
        for name in verify_deployment(w3, manifest):
            console.print(
                f"[green]✓[/] {name} at {manifest.address(name)} matches artifact {manifest.artifact_version}"
            )
        return
    ensure_writable_dir(settings.data_dir)
    refuse_overwrite(path, force)
    if dev:
        if chain_id != DEV_CHAIN_ID:
            raise ConfigurationError(f"--dev is only for a development chain (id {DEV_CHAIN_ID}); this is {chain_id}")
        account = dev_operator()
    else:
        if settings.keystore is None:
            raise KeystoreError(
                "a deployer keystore is required: --keystore PATH (or IPLEDGER_KEYSTORE)", field="keystore"
            )
        account = load_keystore(settings.keystore, keystore_password(settings, settings.keystore))
    owners = [o.strip() for o in council.split(",") if o.strip()] if council else None
    if owners is not None:
        from ledger.domain.parties import parse_account

        owners = [str(parse_account(o, "council")) for o in owners[:65]]
    manifest = deploy_suite(
        TxSender(w3, account),
        registrar=registrar,
        governance=governance or settings.governance_address,
        council=owners,
        threshold=threshold,
        governance_delay=settings.governance_delay,
    )
    manifest.save(path)
    for name, c in manifest.contracts.items():
        console.print(f"{name} deployed at {c.address} (block {c.deploy_block})")
    if manifest.governance and "safe" in manifest.governance:
        g = manifest.governance
        console.print(
            f"governance: timelock {g['timelock']} (delay {g['delaySeconds']} s), proposed to by the council "
            f"Safe {g['safe']} ({g['threshold']} of {len(g['owners'])}: {', '.join(g['owners'])})"
        )
    elif manifest.governance:
        console.print(f"governance: {manifest.governance['timelock']}")
    console.print(f"manifest written to {path}")


# --- up -----------------------------------------------------------------------------------------


def up_cmd(
    rpc_url: RpcUrlOpt = None,
    data_dir: DataDirOpt = None,
    host: Annotated[str | None, typer.Option("--host", help="API address. Env: IPLEDGER_HOST.")] = None,
    port: Annotated[
        int | None,
        typer.Option(
            "--port",
            help="API port; the printed links and certificate QR codes follow it unless IPLEDGER_PUBLIC_URL is "
            "set. Env: IPLEDGER_PORT (which the CLI's commands follow too).",
        ),
    ] = None,
    node_port: Annotated[
        int | None, typer.Option("--node-port", help="Embedded node port. Env: IPLEDGER_NODE_PORT.")
    ] = None,
) -> None:
    """Start everything: the embedded node (unless --rpc-url), deployment if none, the API and the
    event index behind /v1/index/* (kept current in the background).

    Running it again on the same data directory reuses the chain and the deployment. Ctrl-C stops
    everything it started. While it runs the data directory is locked: a second `up` (or `node`) on it
    exits at once, naming this process; the embedded node is restarted with backoff if it dies.
    """
    from ledger.chain.node import DataDirLock, EmbeddedNode, NodeSupervisor, port_is_free
    from ledger.chain.rpc import connect

    settings = settings_with(rpc_url=rpc_url, data_dir=data_dir, host=host, port=port, node_port=node_port)
    # One process per data directory, for this process's life (docs/operations.md "One instance per data directory").
    # Taken before the API's imports, so that a second start is refused at once.
    lock = DataDirLock.acquire(settings.data_dir, purpose="ipledger up")

    import uvicorn

    from api.app import create_app
    from ledger.chain.powers import dev_registrar
    from ledger.facade import Ledger, dev_operator, open_journal
    from ledger.storage.keys import load_keystore

    if not port_is_free(settings.host, settings.port):
        raise _port_in_use(settings)
    open_journal(settings).close()  # a wrong journal or index setting stops `up` here, before the node starts
    node: EmbeddedNode | None = None
    supervisor: NodeSupervisor | None = None
    relayer: LocalAccount | None
    registrar: LocalAccount | None
    governance: LocalAccount | None
    try:
        if settings.rpc_url is None:
            node = EmbeddedNode(
                settings.data_dir,
                port=settings.node_port,
                state_interval=settings.node_state_interval,
                block_time=settings.node_block_time or None,
                lock=lock,
            )
            w3 = connect(node.start())
            supervisor = NodeSupervisor(node, report=lambda message: err_console.print(message)).start()
            relayer = dev_operator()
            # three powers (docs/security.md): the relayer pays gas and anchors, nothing else; the registrar admits
            # ordinary parties; governance is the council Safe's timelock, whose keys the service never holds
            registrar, governance = dev_registrar(), None
            if "confirmations" not in settings.model_fields_set:
                # A single node without empty blocks: a record is final once its block is in a whole state dump on
                # disk, which IPLEDGER_FINAL_AFTER covers (docs/operations.md "What final means on the embedded node").
                settings = settings.model_copy(update={"confirmations": 0})
        else:
            w3 = connect(settings.rpc_url)
            relayer = (
                load_keystore(settings.keystore, keystore_password(settings, settings.keystore))
                if settings.keystore
                else None
            )
            registrar = (
                load_keystore(settings.registrar_keystore, keystore_password(settings, settings.registrar_keystore))
                if settings.registrar_keystore
                else None
            )
            governance = None  # on a real chain governance is a timelock; its key is never the service's
        if settings.operator_token is None:
            token = operator_token(settings, create=True)
            settings = settings.model_copy(update={"operator_token": SecretStr(token or "")})
            console.print(f"operator token in {Path(settings.data_dir) / 'operator.token'}")
        ledger = Ledger.open(
            w3,
            settings,
            relayer=relayer,
            deploy_if_missing=True,
            registrar=registrar,
            governance=governance,
            governance_address=settings.governance_address,
        )
        if settings.anchor_rpc_url:  # checkpoints on public chains, written in the background (docs/operations.md)
            ledger.anchor_account = _anchor_account(settings)
            if ledger.anchor_account.address in ledger.role_accounts():
                raise ConfigurationError(
                    "the anchor key (IPLEDGER_ANCHOR_KEYSTORE) must be its own key, not the relayer's, the "
                    "registrar's or governance's",
                    field="anchor_keystore",
                )
        if ledger.relayer is not None:  # one process per relayer account and chain: refused here, before serving
            from ledger.chain.sender import claim_relayer

            claim_relayer(ledger.relayer, settings.relayer_lock_dir)
        if supervisor is not None and node is not None:
            ledger.node_status, ledger.node_durable = supervisor.status, node.durable
        tsa = ledger.tsa  # the time-stamp authority's keys: made in DATA_DIR/tsa on first start (docs/tsa.md)
        health = ledger.health()
        console.print(
            f"chain {health['chainId']} at block {health['latestBlock']}; "
            f"EvidenceRegistry {health['contracts'].get('EvidenceRegistry')}"
        )
        if ledger.anchor_account is not None:
            from ledger.config import anchor_urls

            console.print(
                f"checkpoints every {settings.checkpoint_interval:g} s to {len(anchor_urls(settings))} public "
                f"chain(s), written by {ledger.anchor_account.address} (the contract is deployed on first use)"
            )
        console.print(f"API on http://{settings.host}:{settings.port} (OpenAPI at /docs); Ctrl-C stops")
        console.print(f"RFC 3161 time stamps at {settings.public_url}/v1/tsa (policy {tsa.policy}; docs/tsa.md)")
        console.print(
            f"CLI commands reach it at {settings.api_url}; links and certificate QR codes use {settings.public_url}"
        )
        given = urlsplit(settings.api_url)
        if given.hostname in LOOPBACK and given.port not in (None, settings.port):
            err_console.print(
                f"note: IPLEDGER_API_URL ({settings.api_url}) names port {given.port}, not this service's "
                f"{settings.port}: set one of them only (docs/configuration.md)"
            )
        app_ = create_app(ledger, settings, run_indexer=True)
        uvicorn.run(app_, host=settings.host, port=settings.port, log_level="warning", **app_.state.server_options)
    finally:
        if supervisor is not None:
            supervisor.stop()
        if node is not None:
            node.stop()
        lock.release()


# --- serve and worker: the service as several processes -----------------------------------------


def _external_ledger(settings: Settings) -> Ledger:
    """A ledger on the chain of ``settings.rpc_url``, with the relayer of IPLEDGER_KEYSTORE when set; the
    deployment manifest must be in the data directory already (`ipledger deploy`)."""
    from ledger.chain.rpc import connect
    from ledger.facade import Ledger
    from ledger.storage.keys import load_keystore

    if settings.rpc_url is None:
        raise ConfigurationError(
            "serve and worker run against a chain: give --rpc-url or IPLEDGER_RPC_URL (`ipledger up` runs the "
            "embedded node and everything with it)",
            field="rpc_url",
        )
    relayer = (
        load_keystore(settings.keystore, keystore_password(settings, settings.keystore)) if settings.keystore else None
    )
    ledger = Ledger.open(connect(settings.rpc_url), settings, relayer=relayer, deploy_if_missing=False)
    try:
        ledger.open_storage()  # a wrong journal or index setting stops the process here, not each request
    except BaseException:
        ledger.close()
        raise
    return ledger


def serve_cmd(
    rpc_url: RpcUrlOpt = None,
    data_dir: DataDirOpt = None,
    host: Annotated[str | None, typer.Option("--host", help="API address. Env: IPLEDGER_HOST.")] = None,
    port: Annotated[int | None, typer.Option("--port", help="API port. Env: IPLEDGER_PORT.")] = None,
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            min=1,
            max=64,
            help="API processes on this host, sharing the port (1–64). A replica that dies is replaced. With more "
            "than one, IPLEDGER_KEYSTORE is not allowed (a relayer account belongs to one process).",
        ),
    ] = 1,
) -> None:
    """Run the API alone, as one of any number of replicas sharing a PostgreSQL journal (IPLEDGER_JOURNAL_URL).

    A replica checks every request and journals relayed registrations; it sends none of them: the `ipledger worker`
    that leads the relayer account does, so that an account's nonces are allocated in one place. With
    IPLEDGER_KEYSTORE it relays the other signed acts (assets, agreements, endorsements) from that account, which
    must be its own (one process per relayer account). `--workers N` runs N such processes on one port. Runs until
    Ctrl-C or SIGTERM."""
    import uvicorn

    from api.app import create_app
    from ledger.chain.node import port_is_free

    settings = settings_with(rpc_url=rpc_url, data_dir=data_dir, host=host, port=port).model_copy(
        update={"relay_from_api": False}
    )
    if workers > 1:
        if settings.keystore:
            raise ConfigurationError(
                "--workers N cannot share IPLEDGER_KEYSTORE: a relayer account belongs to one process (run a "
                "replica of its own for it, or none)",
                field="keystore",
            )
    if not port_is_free(settings.host, settings.port):
        raise _port_in_use(settings)
    if settings.operator_token is None:
        token = operator_token(settings)
        if token:
            settings = settings.model_copy(update={"operator_token": SecretStr(token)})
    if workers > 1:
        _serve_processes(settings, workers, create_app)
        return
    ledger = _external_ledger(settings)
    if ledger.relayer is not None:
        from ledger.chain.sender import claim_relayer

        claim_relayer(ledger.relayer, settings.relayer_lock_dir)
    console.print(f"API replica on http://{settings.host}:{settings.port}; registrations are sent by the worker")
    app_ = create_app(ledger, settings, run_pipeline=False)
    uvicorn.run(app_, host=settings.host, port=settings.port, log_level="warning", **app_.state.server_options)


def _serve_processes(settings: Settings, workers: int, create_app: Callable[..., Any]) -> None:
    """``serve --workers N``: the checks of one replica first (chain, deployment, journal; one error, once), then
    N forked replicas on one port (cli/replicas.py)."""
    import socket

    import uvicorn
    from rich.markup import escape

    from cli import replicas
    from cli.render import humane_times

    _external_ledger(settings).close()  # nothing of it is kept: each replica opens its own after the fork

    class Replica(uvicorn.Server):
        """uvicorn's server, telling the supervisor when it serves."""

        ready: Callable[[], None] = staticmethod(lambda: None)

        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets=sockets)
            if self.started:
                self.ready()

    def serve(sock: socket.socket, ready: Callable[[], None]) -> int:
        try:
            app_ = create_app(_external_ledger(settings), settings, run_pipeline=False)
        except LedgerError as exc:
            err_console.print(f"[red]error:[/] {escape(humane_times(exc.message))}", highlight=False)
            return 1
        server = Replica(uvicorn.Config(app_, log_level="warning", **app_.state.server_options))
        server.ready = ready
        server.run(sockets=[sock])
        return 0 if server.started else 3

    try:
        replicas.bind(settings.host, settings.port, listen=False).close()
    except OSError:
        raise _port_in_use(settings) from None
    console.print(
        f"{workers} API replicas on http://{settings.host}:{settings.port}; registrations are sent by the worker"
    )
    code = replicas.Supervisor(serve, settings.host, settings.port, workers).run()
    if code:
        raise typer.Exit(code)


def _port_in_use(settings: Settings) -> LedgerError:
    from ledger.errors import PortInUse

    return PortInUse(f"port {settings.port} on {settings.host} is already in use (choose another with --port)")


#: Seconds a worker that has just taken the lead waits before it sends: the leader it replaces (whose session was
#: cut, not ended by its death) notices within a second that its lock is gone and stops sending.
LEAD_GRACE = 3.0


def worker_cmd(
    rpc_url: RpcUrlOpt = None,
    data_dir: DataDirOpt = None,
    singles_only: Annotated[
        bool,
        typer.Option(
            "--singles-only",
            help="Share the load of sending single registrations from another relayer account (IPLEDGER_KEYSTORE, "
            "funded, without the anchor role): send only singles the replicas just accepted; batches, retries and "
            "confirmations stay with the workers of the anchoring relayer.",
        ),
    ] = False,
) -> None:
    """Run the relay and aggregation pipeline and the event index, without the API: the process that sends.

    Several workers may run (IPLEDGER_KEYSTORE the relayer that anchors batches, the same for all): exactly one
    leads the relayer account at a time, by a PostgreSQL session lock when the journal is shared
    (IPLEDGER_JOURNAL_URL), by a host-wide file lock otherwise. The others stand by and one of them takes over
    within seconds when the leader stops or dies. With --singles-only a worker of another relayer account sends
    single registrations beside them (one leads each such account too). Runs until Ctrl-C or SIGTERM."""
    from ledger.chain.sender import RelayerInUse, claim_relayer, release_relayer
    from ledger.storage.lease import RelayerLease, lease_key

    settings = settings_with(rpc_url=rpc_url, data_dir=data_dir)
    ledger = _external_ledger(settings)
    relayer = ledger.relayer
    if relayer is None:
        raise ConfigurationError("a worker sends: give the relayer's keystore (IPLEDGER_KEYSTORE)", field="keystore")
    ledger.pipeline.singles_only = singles_only
    role = "sending singles" if singles_only else "sending and anchoring"
    lease: RelayerLease | None = None
    if settings.journal_url:
        manifest = ledger.manifest
        lease = RelayerLease(settings.journal_url, lease_key(manifest.chain_id, manifest.genesis_hash, relayer.address))
        ledger.pipeline.may_send = lease.held
    stop = _stop_on_sigterm()
    leading = False
    announced = False
    try:
        while not stop.is_set():
            if not leading:
                try:
                    got = (
                        lease.try_acquire()
                        if lease is not None
                        else bool(claim_relayer(relayer, settings.relayer_lock_dir))
                    )
                except RelayerInUse:
                    got = False
                if got and lease is not None:
                    # the previous leader checks its session every second and then stops sending: let it
                    stop.wait(LEAD_GRACE)
                    got = lease.held()
                if got:
                    try:
                        ledger.pipeline.start()  # also takes the host-wide lock of the account
                    except RelayerInUse as exc:  # a leader of this host is still stopping: ask again later
                        if lease is not None:
                            lease.release()
                        err_console.print(f"worker: not leading yet: {exc.message}")
                        stop.wait(1.0)
                        continue
                    leading = True
                    if not singles_only:  # the index is kept by the workers of the anchoring relayer
                        ledger.index.start()
                    console.print(f"worker: leading relayer {relayer.address}: {role}")
                elif not announced:
                    console.print(f"worker: standing by: relayer {relayer.address} is led by another process")
                    announced = True
            elif lease is not None and not lease.held():
                ledger.pipeline.stop()
                ledger.index.stop()
                leading, announced = False, False
                err_console.print(f"worker: lost the lead of relayer {relayer.address}; standing by")
            try:
                stop.wait(1.0)
            except KeyboardInterrupt:
                break
    except KeyboardInterrupt:
        pass
    finally:
        ledger.close()
        if lease is not None:
            lease.close()
        else:
            release_relayer(relayer)
    console.print("worker stopped")


def _anchor_account(settings: Settings) -> LocalAccount:
    """The anchor key of IPLEDGER_ANCHOR_KEYSTORE (password IPLEDGER_ANCHOR_KEYSTORE_PASSWORD, else a prompt in a
    terminal): it pays for and alone writes the checkpoints on the public chains."""
    import sys

    from ledger.storage.keys import load_keystore

    if settings.anchor_keystore is None:
        raise KeystoreError(
            "IPLEDGER_ANCHOR_RPC_URL is set but IPLEDGER_ANCHOR_KEYSTORE is not: checkpoints need the anchor key",
            field="anchor_keystore",
        )
    if settings.anchor_keystore_password is not None:
        password = settings.anchor_keystore_password.get_secret_value()
    elif sys.stdin.isatty():
        password = str(typer.prompt(f"Password for {settings.anchor_keystore}", hide_input=True))
    else:
        raise KeystoreError(
            f"no password for the anchor keystore {settings.anchor_keystore}: set IPLEDGER_ANCHOR_KEYSTORE_PASSWORD",
            field="anchor_keystore_password",
        )
    return load_keystore(settings.anchor_keystore, password)
