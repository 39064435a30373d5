"""The party's side of a key recovery from the CLI, on `ipledger up`: the council proposes a recovery through
its timelock; `ipledger party recovery` shows it (new account, when it becomes executable, how to veto);
`ipledger party veto-recovery` signs the veto with the party's keystore (no operator token) and the recovery is
gone; `ipledger party execute-recovery` refuses before the delay and carries out a second recovery after it;
`ipledger party show` tells the party's history as the index read it."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import httpx
import pytest
from eth_account import Account

from ledger.storage.keys import write_keystore
from tests.cli.conftest import UpProcess
from tests.helpers import cli_env, run_cli

PASSWORD = "recovery password"
WEEK = 7 * 24 * 3600  # the embedded default's recovery delay


def _recover(env: dict[str, str], tmp_path: Path, name: str, new_account: str) -> None:
    """The council (members 1 and 3 of the embedded default) proposes a recovery through the timelock."""
    proposal = tmp_path / f"{name}.json"
    out = run_cli(
        "governance",
        "propose",
        "recovery",
        "1",
        "--new-account",
        new_account,
        "-o",
        str(proposal),
        "--dev-member",
        "1",
        env=env,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert run_cli("governance", "approve", str(proposal), "--dev-member", "3", env=env).returncode == 0
    assert run_cli("governance", "execute", str(proposal), "--dev-member", "1", env=env).returncode == 0
    out = run_cli("governance", "execute", str(proposal), "--dev-member", "1", "--wait", "--json", env=env)
    assert out.returncode == 0 and json.loads(out.stdout)["step"] == "executed", out.stdout + out.stderr


def _history(env: dict[str, str], event: str) -> list[dict]:
    """The party's history once the background indexer has read ``event``."""
    deadline = time.monotonic() + 60
    while True:
        out = run_cli("party", "show", "1", "--json", env=env)
        assert out.returncode == 0, out.stderr
        history = json.loads(out.stdout)["history"] or []
        if any(e["event"] == event for e in history) or time.monotonic() > deadline:
            return history
        time.sleep(1)


@pytest.mark.slow
def test_a_party_sees_vetoes_and_after_the_delay_anyone_executes_a_recovery(up, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    p: UpProcess = up(
        env={"IPLEDGER_CONFIRMATIONS": "0", "IPLEDGER_FINAL_AFTER": "0", "IPLEDGER_GOVERNANCE_DELAY": "4"}
    )
    p.wait_healthy()
    node = f"http://127.0.0.1:{p.node_port}"
    env = cli_env(
        IPLEDGER_API_URL=p.api,
        IPLEDGER_DATA_DIR=str(p.data_dir),
        IPLEDGER_KEYSTORE_PASSWORD=PASSWORD,
        IPLEDGER_RPC_URL=node,
    )
    # the party's own commands run without the operator's data directory (and its token)
    party_env = cli_env(IPLEDGER_API_URL=p.api, IPLEDGER_KEYSTORE_PASSWORD=PASSWORD)
    key = tmp_path / "party.json"
    assert run_cli("keys", "new", str(key), env=env).returncode == 0
    own = Account.from_key(Account.decrypt(json.loads(key.read_text()), PASSWORD)).address
    out = run_cli(
        "party",
        "admit",
        "--kind",
        "firm",
        "--identifier",
        "91110108551385082Q",
        "--account",
        own,
        "--name-en",
        "Qianhai Example Technology",
        env=env,
    )
    assert out.returncode == 0, out.stderr

    out = run_cli("party", "recovery", "1", env=party_env)
    assert out.returncode == 0 and "Party 1 has no pending key recovery." in out.stdout, out.stdout + out.stderr
    for args in (("veto-recovery", "1", "--keystore", str(key)), ("execute-recovery", "1")):
        out = run_cli("party", *args, env=party_env)
        assert out.returncode == 1 and "no pending key recovery" in out.stderr and "Traceback" not in out.stderr, (
            out.stderr
        )

    # governance proposes to replace the party's key; the party sees it, with the time it becomes executable
    stranger = Account.create().address
    _recover(env, tmp_path, "first", stranger)
    out = run_cli("party", "recovery", "1", env=party_env)
    assert out.returncode == 0, out.stderr
    assert (
        stranger in out.stdout
        and "executable by anyone from" in out.stdout
        and re.search(r"\(in (7 days|6 days 23 h), by chain time\)", out.stdout)
    ), out.stdout
    assert "ipledger party veto-recovery 1 --keystore" in out.stdout
    shown = json.loads(run_cli("party", "recovery", "1", "--json", env=party_env).stdout)
    assert shown["pendingRecovery"]["newAccount"] == stranger and shown["executable"] is False
    assert shown["pendingRecovery"]["executableAt"] - shown["chainTime"] > WEEK - 120

    # nobody executes it early; an outsider's key cannot veto it; bad input is one line, nothing sent
    out = run_cli("party", "execute-recovery", "1", env=party_env)
    assert (
        out.returncode == 1
        and "can be executed from" in out.stderr
        and re.search(r"in (7 days|6 days 23 h)", out.stderr)
    ), out.stderr
    outsider = write_keystore(tmp_path / "outsider.json", Account.create(), PASSWORD, kdf="pbkdf2")
    out = run_cli("party", "veto-recovery", "1", "--keystore", str(outsider), env=party_env)
    assert out.returncode == 1 and "is not an account of party 1" in out.stderr and "Traceback" not in out.stderr
    for args, expected in (
        (("veto-recovery", "1"), "keystore is required"),
        (("veto-recovery", "1", "--keystore", str(tmp_path / "missing.json")), "missing.json"),
        (("veto-recovery", "0", "--keystore", str(key)), "party_id"),
        (("recovery", "2"), "no party 2"),
    ):
        out = run_cli("party", *args, env=party_env)
        assert out.returncode in (1, 2) and expected in out.stderr and "Traceback" not in out.stderr, (args, out.stderr)
    assert httpx.get(f"{p.api}/v1/parties/1").json()["pendingRecovery"]["newAccount"] == stranger

    # the party vetoes with its own key: the recovery is gone, its account stays
    out = run_cli("party", "veto-recovery", "1", "--keystore", str(key), env=party_env)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Vetoed" in out.stdout and stranger in out.stdout
    party = httpx.get(f"{p.api}/v1/parties/1").json()
    assert party["pendingRecovery"] is None and party["accounts"] == [own]
    history = _history(party_env, "recovery_vetoed")
    assert [e["event"] for e in history][:2] == ["recovery_vetoed", "recovery_proposed"]
    assert history[0]["account"] == own
    out = run_cli("party", "show", "1", env=party_env)
    assert out.returncode == 0 and f"key recovery vetoed by {own}" in out.stdout and f"to {stranger}" in out.stdout

    # a second recovery: after the public delay (the node's clock moved a week on) anyone executes it
    replacement = Account.create().address
    _recover(env, tmp_path, "second", replacement)
    httpx.post(node, json={"jsonrpc": "2.0", "id": 1, "method": "evm_increaseTime", "params": [WEEK + 1]})
    httpx.post(node, json={"jsonrpc": "2.0", "id": 2, "method": "evm_mine", "params": []})
    out = run_cli("party", "recovery", "1", env=party_env)
    assert "executable now" in out.stdout and "ipledger party execute-recovery 1" in out.stdout, out.stdout
    out = run_cli("party", "execute-recovery", "1", env=party_env)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Executed" in out.stdout and replacement in out.stdout
    assert httpx.get(f"{p.api}/v1/parties/1").json()["accounts"] == [replacement]
    assert _history(party_env, "recovery_executed")[0]["newAccount"] == replacement
    out = run_cli("party", "show", "1", env=party_env)
    assert f"key recovery executed: the party's account is now {replacement}" in out.stdout, out.stdout
    out = run_cli("party", "execute-recovery", "1", env=party_env)
    assert out.returncode == 1 and "no pending key recovery" in out.stderr
    p.interrupt()
