"""Governance of the embedded default, for real: `ipledger up` deploys a 2-of-3 council Safe and a timelock that
holds the governance roles; the service holds no council key (the API answers 403 naming the call to schedule);
the council admits an arbitration institution with `ipledger governance propose|approve|execute`, only with two
signatures and only after the delay; `ipledger powers` shows the timelock, its delay, the Safe, owners, threshold."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest
from eth_account import Account

from ledger.chain.governance import dev_council
from ledger.storage.keys import write_keystore
from tests.cli.conftest import UpProcess
from tests.helpers import make_uscc, run_cli

PASSWORD = "council password"
ARBITRATION_USCC = make_uscc("governance-cli-arbitration")


@pytest.mark.slow
def test_the_council_admits_an_arbitration_institution_through_the_timelock(up, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    p: UpProcess = up(
        env={"IPLEDGER_CONFIRMATIONS": "0", "IPLEDGER_FINAL_AFTER": "0", "IPLEDGER_GOVERNANCE_DELAY": "4"}
    )
    p.wait_healthy()
    env = p.cli_env(PASSWORD)
    members = dev_council()

    out = run_cli("powers", "--json", env=env)
    assert out.returncode == 0, out.stderr
    powers = json.loads(out.stdout)
    g = powers["governance"]
    assert g["kind"] == "TimelockController" and g["delaySeconds"] == 4 and g["anyoneExecutes"] is True
    [council] = g["proposers"]
    assert council["kind"] == "Safe" and council["threshold"] == 2
    assert sorted(council["owners"]) == sorted(m.address for m in members)
    roles = powers["contracts"]["EvidenceRegistry"]["roles"]
    assert roles["GOVERNANCE_ROLE"] == [g["address"]] and roles["DEFAULT_ADMIN_ROLE"] == [g["address"]]
    assert powers["service"]["governance"] is None
    assert g["address"] not in (powers["service"]["relayer"], powers["service"]["registrar"])
    words = run_cli("powers", env=env)
    assert words.returncode == 0, words.stderr
    assert f"governance: TimelockController {g['address']}, changes wait 4 s" in words.stdout
    assert f"proposer: Safe {council['address']}, 2 of 3 owners must sign" in words.stdout
    assert f"GOVERNANCE_ROLE: {g['address']} (admits arbitration institutions" in words.stdout
    assert "never a party's key" in words.stdout and "{" not in words.stdout

    arbitrators = ["0x" + "ab" * 20, "0x" + "ac" * 20]  # two arbitrators: the institution acts by both (README)
    body = {
        "kind": "arbitration_institution",
        "jurisdiction": "mainland",
        "identifierScheme": "uscc",
        "identifier": ARBITRATION_USCC,
        "nameZh": "深圳国际仲裁院",
        "nameEn": "SCIA",
        "accounts": arbitrators,
    }
    denied = httpx.post(f"{p.api}/v1/parties", json=body, headers={"Authorization": f"Bearer {p.token}"})
    assert denied.status_code == 403, denied.text
    message = denied.json()["error"]["message"]
    assert "needs governance" in message and "calldata 0x" in message
    prepared = denied.json()["error"]["details"]["governanceCall"]
    assert prepared["target"] == powers["contracts"]["EvidenceRegistry"]["address"]
    assert prepared["calldata"].startswith("0x") and prepared["calldata"][2:] in message
    assert httpx.get(f"{p.api}/v1/parties/1").status_code == 404

    proposal = tmp_path / "admit.json"
    out = run_cli(
        "governance",
        "propose",
        "admit",
        "--kind",
        "arbitration_institution",
        "--identifier",
        ARBITRATION_USCC,
        "--account",
        arbitrators[0],
        "--account",
        arbitrators[1],
        "--name-zh",
        "深圳国际仲裁院",
        "--name-en",
        "SCIA",
        "-o",
        str(proposal),
        "--dev-member",
        "1",
        "--json",
        env=env,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert json.loads(out.stdout)["state"] == "collecting"
    # one signature of two: the Safe cannot schedule
    out = run_cli("governance", "execute", str(proposal), "--dev-member", "1", env=env)
    assert out.returncode == 1 and "not enough" in out.stderr and "Traceback" not in out.stderr
    # the second member signs with its own keystore
    keystore = write_keystore(tmp_path / "member3.json", members[2], PASSWORD)
    out = run_cli("governance", "approve", str(proposal), "--keystore", str(keystore), "--json", env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    assert json.loads(out.stdout)["state"] == "ready-to-schedule"
    out = run_cli("governance", "execute", str(proposal), "--dev-member", "1", "--json", env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    assert json.loads(out.stdout)["step"] == "scheduled"
    assert httpx.get(f"{p.api}/v1/parties/1").status_code == 404  # not before the delay
    out = run_cli("governance", "execute", str(proposal), "--dev-member", "1", "--wait", "--json", env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    assert json.loads(out.stdout)["step"] == "executed"
    party = httpx.get(f"{p.api}/v1/parties/1").json()
    assert party["kind"] == "arbitration_institution" and sorted(a.lower() for a in party["accounts"]) == arbitrators
    out = run_cli("governance", "status", str(proposal), "--json", env=env)
    assert out.returncode == 0 and json.loads(out.stdout)["state"] == "done"
    out = run_cli("governance", "status", str(proposal), env=env)
    assert out.returncode == 0 and "state: done — executed" in out.stdout and "{" not in out.stdout, out.stdout

    # a scheduled act is cancelled by the council before it runs
    second = tmp_path / "reinstate.json"
    assert (
        run_cli("governance", "propose", "reinstate", "1", "-o", str(second), "--dev-member", "2", env=env).returncode
        == 0
    )
    assert run_cli("governance", "approve", str(second), "--dev-member", "3", env=env).returncode == 0
    out = run_cli("governance", "execute", str(second), "--dev-member", "1", env=env)
    assert out.returncode == 0 and out.stdout.startswith("scheduled (transaction 0x"), out.stdout + out.stderr
    assert re.search(
        r"^state: waiting — scheduled; the timelock runs it at \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} \S+ \(in ",
        out.stdout,
        re.M,
    ), out.stdout
    cancel = tmp_path / "cancel.json"
    out = run_cli("governance", "cancel", str(second), "-o", str(cancel), "--dev-member", "1", env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    assert run_cli("governance", "approve", str(cancel), "--dev-member", "3", env=env).returncode == 0
    out = run_cli("governance", "execute", str(cancel), "--dev-member", "1", "--json", env=env)
    assert out.returncode == 0 and json.loads(out.stdout)["step"] == "cancelled", out.stdout + out.stderr
    out = run_cli("governance", "status", str(second), "--json", env=env)
    assert json.loads(out.stdout)["state"] == "stale"

    # bad input: one line on stderr, exit 1, nothing signed
    outsider = write_keystore(tmp_path / "outsider.json", Account.create(), PASSWORD, kdf="pbkdf2")
    garbage = tmp_path / "garbage.json"
    garbage.write_text("{not json")
    for args, expected in (
        (("approve", str(tmp_path / "missing.json"), "--dev-member", "2"), "cannot read"),
        (("approve", str(garbage), "--dev-member", "2"), "not JSON"),
        (("approve", str(second), "--keystore", str(outsider)), "nonce"),
        (("propose", "reinstate", "1", "-o", str(second), "--dev-member", "1"), "never overwritten"),
    ):
        out = run_cli("governance", *args, env=env)
        assert out.returncode == 1 and expected in out.stderr and "Traceback" not in out.stderr, out.stderr
    fresh = tmp_path / "fresh.json"
    assert (
        run_cli("governance", "propose", "reinstate", "1", "-o", str(fresh), "--dev-member", "1", env=env).returncode
        == 0
    )
    out = run_cli("governance", "approve", str(fresh), "--keystore", str(outsider), env=env)
    assert out.returncode == 1 and "not an owner" in out.stderr and "Traceback" not in out.stderr
    p.interrupt()
