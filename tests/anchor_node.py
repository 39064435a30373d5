"""A second local anvil, the stand-in for a public chain that receives checkpoints of the ledger (chain id 31338),
started and stopped by the test or generator that uses it (its own process only)."""

from __future__ import annotations

import subprocess
import time

from web3 import Web3

from ledger.chain.node import find_anvil

PUBLIC_CHAIN_ID = 31338


class PublicNode:
    """A second anvil on a loopback port, started and stopped by the test (its own process only)."""

    def __init__(self, port: int, chain_id: int = PUBLIC_CHAIN_ID) -> None:
        self.port = port
        self.chain_id = chain_id
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> PublicNode:
        cmd = [str(find_anvil()), "--host", "127.0.0.1", "--port", str(self.port), "--chain-id", str(self.chain_id)]
        self.proc = subprocess.Popen([*cmd, "--silent"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        w3 = Web3(Web3.HTTPProvider(self.url, request_kwargs={"timeout": 2}))
        for _ in range(100):
            try:
                if w3.eth.chain_id == self.chain_id:
                    return self
            except Exception:  # noqa: BLE001 - not up yet
                pass
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("the public stand-in did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None

    @property
    def w3(self) -> Web3:
        return Web3(Web3.HTTPProvider(self.url, request_kwargs={"timeout": 2}))

    def mine(self, n: int = 1) -> None:
        for _ in range(n):
            self.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
