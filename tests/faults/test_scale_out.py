"""The service as several processes under load and faults (issue 14, deliverable 3): two `ipledger serve` replicas
and two `ipledger worker` processes over a PostgreSQL journal, on an embedded node. While clients post relayed
singles and batches to both replicas: a replica is SIGKILLed and restarted, the leading worker is SIGKILLed (a
standby must lead within 10 s) and restarted, every PostgreSQL session is cut (as a database restart looks to its
clients), and the node is stalled (SIGSTOP) for a few seconds. Then the accounting of the fault suite reads the
chain: sent / acknowledged / on chain / lost / duplicated, with lost = duplicated = 0, every receipt final, sample
certificates verified, and no answer but 202 or a clear 4xx/503 (never a 500)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from eth_account.signers.local import LocalAccount
from sqlalchemy import create_engine, text

from ledger.chain.deployment import manifest_path
from ledger.chain.node import EmbeddedNode, free_port
from ledger.storage.keys import write_keystore
from tests.faults.harness import Load, Tally, account, wait_for
from tests.helpers import IPLEDGER, Chain, cli_env, make_anvil_chain

PASSWORD = "scale-out password"


class Role:
    """One `ipledger serve` or `ipledger worker` process, restartable, its output in a log file per start."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log_dir: Path) -> None:
        self.name, self.args, self.env, self.log_dir = name, args, env, log_dir
        self.starts = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.log: Path = log_dir / f"{name}-0.log"

    def start(self) -> Role:
        self.starts += 1
        self.log = self.log_dir / f"{self.name}-{self.starts}.log"
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [IPLEDGER, *self.args], env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        return self

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()

    @property
    def leading(self) -> bool:
        lines = [x for x in self.text().splitlines() if x.startswith("worker:")]
        return bool(lines) and "leading relayer" in lines[-1] and self.proc is not None and self.proc.poll() is None


class Replica:
    """What the fault suite's load and accounting need of a service, for one API replica of the layout."""

    def __init__(self, layout: Layout, role: Role, port: int) -> None:
        self.layout, self.role, self.port = layout, role, port

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def rpc_url(self) -> str:
        return self.layout.chain.node_url

    @property
    def evidence_address(self) -> str:
        return self.layout.chain.manifest.address("EvidenceRegistry")

    @property
    def journal_url(self) -> str:
        return self.layout.journal_url

    @property
    def relayer(self) -> str:
        return str(self.layout.chain.operator.address)

    @property
    def firm(self) -> LocalAccount:
        return self.layout.firm

    def admit_firm(self) -> LocalAccount:
        return self.layout.firm

    def healthy(self) -> bool:
        try:
            return httpx.get(self.api + "/v1/health", timeout=3).status_code == 200
        except httpx.HTTPError:
            return False


class Layout:
    def __init__(self, chain: Chain, node: EmbeddedNode, journal_url: str, root: Path) -> None:
        self.chain, self.node, self.journal_url = chain, node, journal_url
        data = root / "data"
        chain.manifest.save(manifest_path(data, chain.manifest.chain_id))
        keystore = write_keystore(root / "relayer.json", chain.operator, PASSWORD, kdf="pbkdf2")
        (root / "logs").mkdir()
        base = cli_env(
            IPLEDGER_RPC_URL=chain.node_url,
            IPLEDGER_DATA_DIR=str(data),
            IPLEDGER_JOURNAL_URL=journal_url,
            IPLEDGER_KEYSTORE_PASSWORD=PASSWORD,
            IPLEDGER_CONFIRMATIONS="1",
            IPLEDGER_FINAL_AFTER="0",
            IPLEDGER_BATCH_INTERVAL="0.5",
            IPLEDGER_RELAYER_LOCK_DIR=str(root / "locks"),
            IPLEDGER_OPERATOR_TOKEN="scale-out-token",
        )
        self.workers = [
            Role(f"worker{i}", ["worker"], {**base, "IPLEDGER_KEYSTORE": str(keystore)}, root / "logs")
            for i in range(2)
        ]
        self.replicas = []
        for i in range(2):
            port = free_port()
            self.replicas.append(
                Replica(self, Role(f"serve{i}", ["serve", "--port", str(port)], base, root / "logs"), port)
            )
        self.firm = _firm(chain)

    def leader(self) -> Role | None:
        leading = [w for w in self.workers if w.leading]
        assert len(leading) <= 1, "two workers lead one relayer account"
        return leading[0] if leading else None

    def stop(self) -> None:
        for role in [*(r.role for r in self.replicas), *self.workers]:
            role.kill()


def _firm(chain: Chain) -> LocalAccount:
    from eth_account import Account

    firm: LocalAccount = Account.create()
    assert chain.admit([firm.address]) == 1  # the load binds to party 1
    return firm


@pytest.fixture
def layout(postgres_db: str, tmp_path: Path) -> Iterator[Layout]:
    node = EmbeddedNode(tmp_path / "node", port=free_port(), block_time=1)
    node.start()
    made: Layout | None = None
    try:
        made = Layout(make_anvil_chain(node.rpc_url), node, postgres_db, tmp_path)
        yield made
    finally:
        if made is not None:
            made.stop()
        node.stop()


def _cut_every_session(url: str) -> int:
    """Ends every other session of the journal's database, as a restart of PostgreSQL looks to its clients."""
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            return int(
                conn.execute(
                    text(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    )
                ).scalar()
                or 0
            )
    finally:
        engine.dispose()


@pytest.mark.slow
def test_replicas_and_workers_under_load_and_faults_lose_and_duplicate_nothing(
    layout: Layout, scenario: Callable[[str], Tally]
) -> None:
    tally = scenario("serve x2 + worker x2 (PostgreSQL)")
    for w in layout.workers:
        w.start()
    wait_for(lambda: layout.leader() is not None, 60, "a leading worker")
    for r in layout.replicas:
        r.role.start()
    for r in layout.replicas:
        wait_for(r.healthy, 60, f"{r.role.name} healthy")
    from_block = int(layout.chain.w3.eth.block_number)
    loads = [
        tally.track(Load(r, singles=1, batches=1, batch_size=50)).start()  # type: ignore[arg-type]
        for r in layout.replicas
    ]
    try:
        time.sleep(3)
        # 1. a replica is SIGKILLed, and restarted: its clients' connections fail meanwhile
        victim = layout.replicas[1]
        victim.role.kill()
        time.sleep(2)
        victim.role.start()
        wait_for(victim.healthy, 60, "the killed replica back")
        # 2. the leading worker is SIGKILLed: a standby leads within 10 s; the killed one comes back as a standby
        old = layout.leader()
        assert old is not None
        old.kill()
        wait_for(lambda: (layout.leader() or old) is not old, 10, "a new leader within 10 s")
        old.start()
        wait_for(lambda: "standing by" in old.text(), 30, "the old leader back as a standby")
        time.sleep(2)
        # 3. every PostgreSQL session is cut: the leader loses its lock with its session and a worker leads again
        assert _cut_every_session(layout.journal_url) > 0
        wait_for(lambda: layout.leader() is not None, 20, "a leader after the sessions were cut")
        time.sleep(2)
        # 4. the node stalls (SIGSTOP) for a while, then resumes
        pid = layout.node.process.pid if layout.node.process is not None else None
        assert pid is not None
        os.kill(pid, signal.SIGSTOP)
        try:
            time.sleep(3)
        finally:
            os.kill(pid, signal.SIGCONT)
        time.sleep(3)
    finally:
        for load in loads:
            load.stop()
    assert all(load.acked_requests > 0 for load in loads), "a replica acknowledged nothing"
    account(layout.replicas[0], tally, loads, from_block=from_block, drain_timeout=120)  # type: ignore[arg-type]
    # no 500: every answer is 202, a 4xx with the error envelope, or a 503 saying what the service waits for
    answers = [o for load in loads for o in load.outcomes if o.status is not None]
    assert not [o for o in answers if o.status >= 500 and o.status != 503], [
        (o.kind, o.status, o.code) for o in answers if o.status >= 500
    ][:5]
    assert all(o.code not in (None, "<no error envelope>") for o in answers if o.status != 202)
    # every process rode the faults out: none exited, none printed an error or a trace
    roles = [*layout.workers, *(r.role for r in layout.replicas)]
    assert all(role.proc is not None and role.proc.poll() is None for role in roles), [
        (role.name, role.text()[-300:]) for role in roles if role.proc is None or role.proc.poll() is not None
    ]
    logs = {p.name: p.read_text(errors="replace") for p in layout.replicas[0].role.log_dir.glob("*.log")}
    assert not [n for n, t in logs.items() if "error:" in t or "Traceback" in t], logs
    tally.check()
