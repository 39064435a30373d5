"""`ipledger keys rotate` is the party's own act (signed with the old key, relayed, no operator token), and
`ipledger powers` shows three different holders of the three powers of the embedded default (governance:
the council's timelock)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest

from tests.cli.conftest import UpProcess
from tests.helpers import cli_env, run_cli

PASSWORD = "rotation password"


@pytest.mark.slow
def test_a_party_rotates_its_key_from_the_cli_and_powers_are_separated(up, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    p: UpProcess = up(env={"IPLEDGER_CONFIRMATIONS": "0", "IPLEDGER_FINAL_AFTER": "0"})
    p.wait_healthy()
    env = cli_env(IPLEDGER_API_URL=p.api, IPLEDGER_DATA_DIR=str(p.data_dir), IPLEDGER_KEYSTORE_PASSWORD=PASSWORD)
    old, new = tmp_path / "old.json", tmp_path / "new.json"
    assert run_cli("keys", "new", str(old), env=env).returncode == 0
    address = "0x" + json.loads(old.read_text())["address"]
    out = run_cli(
        "party",
        "admit",
        "--kind",
        "firm",
        "--identifier",
        "91110108551385082Q",
        "--account",
        address,
        "--name-en",
        "Qianhai Example Technology",
        env=env,
    )
    assert out.returncode == 0, out.stderr
    assert "party 1 admitted: Qianhai Example Technology" in out.stdout and "{" not in out.stdout, out.stdout
    # the rotation needs no operator token: run it without the data directory that holds it
    out = run_cli(
        "keys",
        "rotate",
        "--keystore",
        str(old),
        "--new",
        str(new),
        env=cli_env(IPLEDGER_API_URL=p.api, IPLEDGER_KEYSTORE_PASSWORD=PASSWORD),
    )
    assert out.returncode == 0, out.stdout + out.stderr
    fresh = "0x" + json.loads(new.read_text())["address"]
    assert f"replaced by {fresh}".lower() in out.stdout.lower() and "{" not in out.stdout, out.stdout
    party = httpx.get(f"{p.api}/v1/parties/1").json()
    assert [a.lower() for a in party["accounts"]] == [fresh.lower()] and party["accountNonce"] == 1
    again = run_cli("keys", "rotate", "--keystore", str(old), "--new", str(tmp_path / "third.json"), env=env)
    assert again.returncode == 1 and "not an account of any party" in again.stderr and "Traceback" not in again.stderr

    # the registrar suspends the party and lifts it: said in words with local times, or the JSON with --json
    out = run_cli("party", "suspend", "1", "--reason", "key reported stolen", env=env)
    assert out.returncode == 0 and "{" not in out.stdout, out.stdout + out.stderr
    assert re.search(
        r"^party 1 \(Qianhai Example Technology\): SUSPENDED provisionally by the registrar since "
        r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} \S+; lapses at ",
        out.stdout,
        re.M,
    ), out.stdout
    out = run_cli("party", "reinstate", "1", "--json", env=env)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["partyId"] == 1 and "party 1 (Qianhai Example Technology): active" in out.stderr

    out = run_cli("powers", "--json", env=env)
    assert out.returncode == 0, out.stderr
    powers = json.loads(out.stdout)
    service = powers["service"]
    # three powers: the service holds the relayer and registrar keys; governance is the council's timelock
    timelock = powers["governance"]["address"]
    assert service["governance"] is None and len({service["relayer"], service["registrar"], timelock}) == 3
    roles = powers["contracts"]["EvidenceRegistry"]["roles"]
    assert roles["ANCHOR_ROLE"] == [service["relayer"]] and roles["REGISTRAR_ROLE"] == [service["registrar"]]
    assert roles["GOVERNANCE_ROLE"] == [timelock]
    p.interrupt()
