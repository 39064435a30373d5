"""CLI fixtures: `ipledger up` as a real subprocess on free ports in a temporary data dir."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from ledger.chain.node import free_port
from tests.helpers import IPLEDGER, cli_env


class UpProcess:
    def __init__(
        self, data_dir: Path, *extra: str, env: dict[str, str] | None = None, port_by_env: bool = False
    ) -> None:
        self.data_dir = data_dir
        data_dir.parent.mkdir(parents=True, exist_ok=True)
        # a file, not a pipe: an undrained pipe would block the server once its buffer fills
        self.log_path = data_dir.parent / f"up-{time.monotonic_ns()}.log"
        self._log = open(self.log_path, "w")  # noqa: SIM115 - closed with the process
        self.port = free_port()
        self.node_port = free_port()
        self.proc = subprocess.Popen(
            [
                IPLEDGER,
                "up",
                "--data-dir",
                str(data_dir),
                *([] if port_by_env else ["--port", str(self.port)]),
                "--node-port",
                str(self.node_port),
                *extra,
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            text=True,
            env=cli_env(
                **{"IPLEDGER_NODE_BLOCK_TIME": "0", **(env or {})},
                **({"IPLEDGER_PORT": str(self.port)} if port_by_env else {}),
            ),
            start_new_session=True,
        )

    @property
    def token(self) -> str:
        return (self.data_dir / "operator.token").read_text().strip()

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cli_env(self, password: str) -> dict[str, str]:
        """The environment of a CLI command against this service: its API, data directory (the operator token) and
        node, and the keystores' password."""
        return cli_env(
            IPLEDGER_API_URL=self.api,
            IPLEDGER_DATA_DIR=str(self.data_dir),
            IPLEDGER_KEYSTORE_PASSWORD=password,
            IPLEDGER_RPC_URL=f"http://127.0.0.1:{self.node_port}",
        )

    def admit_firm(self, name_en: str) -> LocalAccount:
        """Admits a firm with a fresh account through the API, as the operator; returns the account."""
        firm = Account.create()
        resp = httpx.post(
            self.api + "/v1/parties",
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=30,
            json={
                "kind": "firm",
                "jurisdiction": "mainland",
                "identifierScheme": "uscc",
                "identifier": "91110108551385082Q",
                "nameEn": name_en,
                "accounts": [firm.address],
            },
        )
        assert resp.status_code == 201, resp.text
        return firm

    def wait_healthy(self, timeout: float = 60) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"ipledger up exited: {self.output()}")
            try:
                r = httpx.get(self.api + "/v1/health", timeout=1)
                if r.status_code == 200:
                    return r.json()
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError("the API did not become healthy")

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def anvil_pid(self) -> int:
        out = subprocess.run(["pgrep", "-f", f"anvil.*--port {self.node_port}"], capture_output=True, text=True)
        return int(out.stdout.split()[0])

    def interrupt(self) -> int:
        self.proc.send_signal(signal.SIGINT)
        return self.proc.wait(timeout=30)

    def kill_all(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=10)


@pytest.fixture
def up(tmp_path: Path) -> Iterator[UpProcess]:
    procs: list[UpProcess] = []

    def start(*extra: str, env: dict[str, str] | None = None, port_by_env: bool = False) -> UpProcess:
        p = UpProcess(tmp_path / "data", *extra, env=env, port_by_env=port_by_env)
        procs.append(p)
        return p

    yield start  # type: ignore[misc]
    for p in procs:
        if p.proc.poll() is None:
            p.kill_all()
